//! Questions asked, and orders given, through a process or thread handle:
//! `GetProcessId`, `GetExitCodeProcess`, `GetProcessHandleCount`, `TerminateProcess`,
//! `GetThreadId` and `GetExitCodeThread`. An embedder (the C ABI) needs them to answer a
//! guest that holds only a handle; they check the handle as every other call does
//! (valid, then type, then access: SPEC §3).

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::process::{Process, ProcessObject};
use crate::sync::{epoch, Ordering};
use crate::thread::ThreadObject;
use crate::wait::{self, Kind};

/// PROCESS_QUERY_LIMITED_INFORMATION: what `GetProcessId` and `GetExitCodeProcess` need
/// at least (PROCESS_QUERY_INFORMATION also does).
const PROCESS_QUERY_LIMITED_INFORMATION: Access = Access::from_bits_retain(0x1000);
/// THREAD_QUERY_LIMITED_INFORMATION: likewise for threads.
const THREAD_QUERY_LIMITED_INFORMATION: Access = Access::from_bits_retain(0x0800);

/// [`Process::query_process`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process id (`GetProcessId`).
    pub id: u32,
    /// The exit code once the process is terminated; `None` while it runs
    /// (`GetExitCodeProcess` then reports STILL_ACTIVE).
    pub exit_code: Option<u32>,
    /// The number of handles in its table (`GetProcessHandleCount`).
    pub handle_count: usize,
}

/// [`Process::query_thread`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    /// The thread id (`GetThreadId`).
    pub id: u32,
    /// The id of its process.
    pub process_id: u32,
    /// The exit code once the thread has exited; `None` while it runs.
    pub exit_code: Option<u32>,
}

impl Process {
    /// The id, exit code and handle count of the process `h` names (-1: this one). The
    /// handle must name a process (INVALID_HANDLE) and hold PROCESS_QUERY_INFORMATION or
    /// PROCESS_QUERY_LIMITED_INFORMATION (ACCESS_DENIED).
    pub fn query_process(&self, h: Handle) -> Result<ProcessInfo> {
        let target =
            self.process_by_handle(h, Access::PROCESS_QUERY_INFORMATION | PROCESS_QUERY_LIMITED_INFORMATION)?;
        // Ended once its object is signalled, the last step of `terminate` (as Windows
        // reports STILL_ACTIVE until then): the signal state is read under the object's
        // lock, which the terminating thread took after storing the exit code, so a
        // terminated process never shows the code 0 it had before.
        let ended = wait::query(&target.inner().signal, |k| matches!(k, Kind::Once { signaled: true }));
        let exit_code = ended.then(|| target.exit_code());
        Ok(ProcessInfo { id: target.id(), exit_code, handle_count: target.handle_count() })
    }

    /// `TerminateProcess`: terminates the process `h` names (-1: this one) with
    /// `exit_code`. Needs PROCESS_TERMINATE; a process already terminated is
    /// ACCESS_DENIED (as NT's STATUS_PROCESS_IS_TERMINATING).
    pub fn terminate_process(&self, h: Handle, exit_code: u32) -> Result<()> {
        self.process_by_handle(h, Access::PROCESS_TERMINATE)?.terminate(exit_code)
    }

    /// The id, process id and exit code of the thread `h` names (-2: this process's
    /// main thread). The handle must name a thread (INVALID_HANDLE) and hold
    /// THREAD_QUERY_INFORMATION or THREAD_QUERY_LIMITED_INFORMATION (ACCESS_DENIED).
    pub fn query_thread(&self, h: Handle) -> Result<ThreadInfo> {
        if h == Handle::CURRENT_THREAD {
            self.alive()?;
            let main = self.main_thread();
            let exit_code = main.has_exited().then(|| main.exit_code());
            return Ok(ThreadInfo { id: main.id(), process_id: self.id(), exit_code });
        }
        let ty = self.kernel().builtin.thread.info_ptr();
        let guard = epoch::pin();
        let any_of = Access::THREAD_QUERY_INFORMATION | THREAD_QUERY_LIMITED_INFORMATION;
        let object = self.resolve_any_of(h, ty, any_of, &guard)?;
        let t = object.body::<ThreadObject>().ok_or(Error::InvalidHandle)?;
        // `is_exited` is Acquire, pairing with the exit that stored the code before it.
        let exit_code = t.ctx.owner.is_exited().then(|| t.exit_code.load(Ordering::Relaxed));
        Ok(ThreadInfo { id: t.tid, process_id: t.pid, exit_code })
    }

    /// The process a handle names, held with at least one right of `any_of`.
    fn process_by_handle(&self, h: Handle, any_of: Access) -> Result<Process> {
        if h == Handle::CURRENT_PROCESS {
            self.alive()?;
            return Ok(self.clone());
        }
        let ty = self.kernel().builtin.process.info_ptr();
        let guard = epoch::pin();
        let object = self.resolve_any_of(h, ty, any_of, &guard)?;
        if object.body::<ProcessObject>().is_none() {
            return Err(Error::InvalidHandle);
        }
        // The entry holds a handle, so the count is not zero unless it is being closed
        // right now: then the handle is no longer valid.
        let reference = object.try_handle_ref().ok_or(Error::InvalidHandle)?;
        Process::from_handle_ref(reference).ok_or(Error::InvalidHandle)
    }

    /// The object `h` names if it is of type `ty` (else INVALID_HANDLE) and the handle
    /// holds at least one right of `any_of` (else ACCESS_DENIED): these queries take
    /// either the full or the limited query right, where `lookup` wants all it is given.
    fn resolve_any_of<'g>(
        &'g self,
        h: Handle,
        ty: *const crate::object::types::TypeInfo,
        any_of: Access,
        guard: &'g epoch::Guard,
    ) -> Result<&'g crate::object::ObjectHeader> {
        let s = self.resolve(h, guard)?;
        if !s.object.is_type(ty) {
            return Err(Error::InvalidHandle);
        }
        if !s.access.intersects(any_of) {
            return Err(Error::AccessDenied);
        }
        Ok(s.object)
    }
}
