//! The Win32-shaped surface: `CreateMutex`, `SetEvent`, `ReadFile`, …
//!
//! Every call is a thin layer over the generic paths of [`Process`]: a type's payload,
//! its creation parameters and its checks. Argument checks that NT makes before it
//! looks at a handle or a name come first here too.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::object;
use crate::objects::{Event, File, FileMapping, Job, Semaphore, WaitableTimer};
use crate::process::{inherit_flag, Created, Process};
use crate::reference::ObjectRef;
use crate::security::SecurityAttributes;
use crate::sync::{epoch, lock, Mutex as Lock};
use crate::time::{Due, Routine, TimerCore, TimerInfo};
use crate::wait::{self, Kind, Waitable};

/// How `create_file` treats an existing or missing file (`dwCreationDisposition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreationDisposition {
    /// CREATE_NEW: fails with FILE_EXISTS if the file exists.
    CreateNew,
    /// CREATE_ALWAYS: creates, or truncates an existing file.
    CreateAlways,
    /// OPEN_EXISTING: fails with FILE_NOT_FOUND if the file is missing.
    OpenExisting,
    /// OPEN_ALWAYS: opens, or creates a missing file.
    OpenAlways,
    /// TRUNCATE_EXISTING: opens and truncates; needs GENERIC_WRITE.
    TruncateExisting,
}

/// The page protections `create_file_mapping` accepts (low byte of `flProtect`).
const PAGE_PROTECTIONS: [u32; 6] = [0x02, 0x04, 0x08, 0x20, 0x40, 0x80];
/// The SEC_* attributes that may accompany them.
const SEC_FLAGS: u32 = 0x1000_0000 | 0x0800_0000 | 0x0100_0000 | 0x0200_0000 | 0x0400_0000 | 0x8000_0000;

impl Process {
    /// `CreateMutex` as the process's main thread (SPEC §7.2): `initial_owner` makes
    /// that thread the owner.
    pub fn create_mutex(
        &self,
        sa: Option<&SecurityAttributes>,
        initial_owner: bool,
        name: Option<&str>,
    ) -> Result<Created> {
        self.main_thread().create_mutex(sa, initial_owner, name)
    }

    /// `CreateEvent`.
    pub fn create_event(
        &self,
        sa: Option<&SecurityAttributes>,
        manual_reset: bool,
        initial_state: bool,
        name: Option<&str>,
    ) -> Result<Created> {
        let ty = &self.kernel().builtin.event;
        self.create_with(ty, sa, name, || {
            Ok(Event { w: Waitable::new(Kind::Event { manual: manual_reset, signaled: initial_state }) })
        })
    }

    /// `CreateSemaphore`: `maximum <= 0`, `initial < 0` or `initial > maximum` is
    /// INVALID_PARAMETER, before the name is looked at.
    pub fn create_semaphore(
        &self,
        sa: Option<&SecurityAttributes>,
        initial: i32,
        maximum: i32,
        name: Option<&str>,
    ) -> Result<Created> {
        if maximum <= 0 || initial < 0 || initial > maximum {
            return Err(Error::InvalidParameter);
        }
        let ty = &self.kernel().builtin.semaphore;
        self.create_with(ty, sa, name, || {
            Ok(Semaphore { w: Waitable::new(Kind::Semaphore { count: initial, maximum }) })
        })
    }

    /// `CreateWaitableTimer`.
    pub fn create_waitable_timer(
        &self,
        sa: Option<&SecurityAttributes>,
        manual_reset: bool,
        name: Option<&str>,
    ) -> Result<Created> {
        let ty = &self.kernel().builtin.timer;
        self.create_with(ty, sa, name, || {
            Ok(WaitableTimer {
                manual_reset,
                core: TimerCore::new(Waitable::new(Kind::Event { manual: manual_reset, signaled: false })),
            })
        })
    }

    /// `CreateFileMapping`. `protect` must be one PAGE_* protection (with SEC_* flags);
    /// a mapping of the paging file (`file = None`) needs a non-zero size. A file handle
    /// must be a file opened with FILE_READ_DATA.
    pub fn create_file_mapping(
        &self,
        file: Option<Handle>,
        sa: Option<&SecurityAttributes>,
        protect: u32,
        maximum_size: u64,
        name: Option<&str>,
    ) -> Result<Created> {
        self.alive()?;
        if !PAGE_PROTECTIONS.contains(&(protect & 0xFF)) || protect & !(0xFF | SEC_FLAGS) != 0 {
            return Err(Error::InvalidParameter);
        }
        let file = match file {
            None => {
                if maximum_size == 0 {
                    return Err(Error::InvalidParameter);
                }
                None
            }
            Some(h) => {
                let ty = &self.kernel().builtin.file;
                let f = self.reference_object(ty, h, Access::FILE_READ_DATA)?;
                Some(f)
            }
        };
        let ty = &self.kernel().builtin.mapping;
        self.create_with(ty, sa, name, || {
            let size = match &file {
                Some(f) if maximum_size == 0 => {
                    let len = lock(&f.host).metadata().map_err(|e| Error::from_io(&e))?.len();
                    if len == 0 {
                        // ERROR_FILE_INVALID: an empty file cannot be mapped at its own size.
                        return Err(Error::Os(1006));
                    }
                    len
                }
                _ => maximum_size,
            };
            Ok(FileMapping {
                protect,
                maximum_size: size,
                file_backed: file.is_some(),
                file: Lock::new(file.map(ObjectRef::into_counted)),
            })
        })
    }

    /// `CreateJobObject`.
    pub fn create_job_object(&self, sa: Option<&SecurityAttributes>, name: Option<&str>) -> Result<Created> {
        let ty = &self.kernel().builtin.job;
        self.create_with(ty, sa, name, || Ok(Job { w: Waitable::new(Kind::Once { signaled: false }) }))
    }

    /// `OpenMutex`.
    pub fn open_mutex(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.mutex.clone(), access, inherit, name)
    }

    /// `OpenEvent`.
    pub fn open_event(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.event.clone(), access, inherit, name)
    }

    /// `OpenSemaphore`.
    pub fn open_semaphore(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.semaphore.clone(), access, inherit, name)
    }

    /// `OpenWaitableTimer`.
    pub fn open_waitable_timer(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.timer.clone(), access, inherit, name)
    }

    /// `SetWaitableTimer`: resets the timer (it becomes unsignalled) and arms it; at
    /// `due` it is signalled (a manual-reset timer releases every waiter, a
    /// synchronization timer one, or stays set until a wait takes it), and then every
    /// `period` after that (zero: once). A due time already past fires before this
    /// returns. Needs TIMER_MODIFY_STATE.
    pub fn set_waitable_timer(&self, h: Handle, due: Due, period: Duration) -> Result<()> {
        self.set_timer(h, due, period, None)
    }

    /// `set_waitable_timer` with an optional completion routine (see
    /// `Thread::set_waitable_timer_apc`).
    pub(crate) fn set_timer(
        &self,
        h: Handle,
        due: Due,
        period: Duration,
        routine: Option<Routine>,
    ) -> Result<()> {
        let ty = &self.kernel().builtin.timer;
        let guard = epoch::pin();
        let obj = self.lookup(h, ty.info_ptr(), Access::TIMER_MODIFY_STATE, &guard)?;
        let t = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        t.core.set(&self.kernel().time, obj, due, period, routine)
    }

    /// `CancelWaitableTimer`: disarms the timer; its signal state stays as it is. Needs
    /// TIMER_MODIFY_STATE.
    pub fn cancel_waitable_timer(&self, h: Handle) -> Result<()> {
        let time = &self.kernel().time;
        self.with_object(&self.kernel().builtin.timer, h, Access::TIMER_MODIFY_STATE, |t: &WaitableTimer| {
            t.core.cancel(time);
        })
    }

    /// `NtQueryTimer`: the timer's kind, state and time to its next expiry. Needs
    /// TIMER_QUERY_STATE.
    pub fn query_waitable_timer(&self, h: Handle) -> Result<TimerInfo> {
        let time = &self.kernel().time;
        self.with_object(&self.kernel().builtin.timer, h, Access::TIMER_QUERY_STATE, |t: &WaitableTimer| {
            TimerInfo {
                manual_reset: t.manual_reset,
                signaled: t.core.waitable().event_is_set(),
                remaining: t.core.remaining(time),
            }
        })
    }

    /// `OpenFileMapping`.
    pub fn open_file_mapping(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.mapping.clone(), access, inherit, name)
    }

    /// `OpenJobObject`.
    pub fn open_job_object(&self, access: Access, inherit: bool, name: &str) -> Result<Handle> {
        self.open_object(&self.kernel().builtin.job.clone(), access, inherit, name)
    }

    /// `SetEvent`: needs EVENT_MODIFY_STATE. Hands the event to its waiters (one for
    /// auto-reset, all for manual-reset); a set event is left alone without a write.
    pub fn set_event(&self, h: Handle) -> Result<()> {
        let ty = &self.kernel().builtin.event;
        let guard = epoch::pin();
        let obj = self.lookup(h, ty.info_ptr(), Access::EVENT_MODIFY_STATE, &guard)?;
        let e = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        wait::set_event(obj, &e.w);
        Ok(())
    }

    /// `ResetEvent`: needs EVENT_MODIFY_STATE (a reset event is left alone, no write).
    pub fn reset_event(&self, h: Handle) -> Result<()> {
        self.with_object(&self.kernel().builtin.event, h, Access::EVENT_MODIFY_STATE, |e| {
            wait::reset_event(&e.w)
        })
    }

    /// Whether an event is signalled (`WaitForSingleObject(h, 0)` without the wait's
    /// side effect): needs EVENT_QUERY_STATE.
    pub fn event_state(&self, h: Handle) -> Result<bool> {
        self.with_object(&self.kernel().builtin.event, h, Access::EVENT_QUERY_STATE, |e| e.w.event_is_set())
    }

    /// `ReleaseSemaphore`: returns the previous count. `count <= 0` is INVALID_PARAMETER
    /// before the handle is looked at (as NT does); a release past the maximum is
    /// TOO_MANY_POSTS and leaves the count unchanged. Up to `count` waiters are
    /// satisfied, first come first served.
    pub fn release_semaphore(&self, h: Handle, count: i32) -> Result<i32> {
        if count <= 0 {
            return Err(Error::InvalidParameter);
        }
        let ty = &self.kernel().builtin.semaphore;
        let guard = epoch::pin();
        let obj = self.lookup(h, ty.info_ptr(), Access::SEMAPHORE_MODIFY_STATE, &guard)?;
        let s = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        wait::release_semaphore(obj, &s.w, count)
    }

    /// A semaphore's current count: needs SEMAPHORE_QUERY_STATE.
    pub fn semaphore_count(&self, h: Handle) -> Result<i32> {
        self.with_object(&self.kernel().builtin.semaphore, h, Access::SEMAPHORE_QUERY_STATE, Semaphore::count)
    }

    /// `CreateFile` over a real file. Each call makes a new file object with its own
    /// file pointer; handles made from it by duplication or inheritance share it.
    /// `access` is generic-mapped with the file type's mapping; FILE_READ_DATA allows
    /// reads, FILE_WRITE_DATA or FILE_APPEND_DATA writes.
    pub fn create_file(
        &self,
        path: &Path,
        access: Access,
        sa: Option<&SecurityAttributes>,
        disposition: CreationDisposition,
    ) -> Result<Handle> {
        self.alive()?;
        let ty = self.kernel().builtin.file.clone();
        if access.contains(Access::ACCESS_SYSTEM_SECURITY) {
            return Err(Error::PrivilegeNotHeld);
        }
        let granted = ty.mapping().map(access) & ty.valid_access();
        let read = granted.contains(Access::FILE_READ_DATA);
        let write = granted.intersects(Access::FILE_WRITE_DATA | Access::FILE_APPEND_DATA);
        let mut options = std::fs::OpenOptions::new();
        // The host needs some access to open at all; the engine enforces the handle's.
        options.read(read || !write).write(write);
        match disposition {
            CreationDisposition::CreateNew => options.write(true).create_new(true),
            CreationDisposition::CreateAlways => options.write(true).create(true).truncate(true),
            CreationDisposition::OpenExisting => &mut options,
            CreationDisposition::OpenAlways => options.write(true).create(true),
            CreationDisposition::TruncateExisting => {
                if !access.contains(Access::GENERIC_WRITE) && !granted.contains(Access::FILE_WRITE_DATA) {
                    return Err(Error::InvalidParameter);
                }
                options.write(true).truncate(true)
            }
        };
        let host = options.open(path).map_err(|e| match (e.kind(), path.parent()) {
            (std::io::ErrorKind::NotFound, Some(parent))
                if !parent.as_os_str().is_empty() && !parent.exists() =>
            {
                Error::PathNotFound
            }
            _ => Error::from_io(&e),
        })?;
        let file = File { host: Lock::new(host), path: path.to_path_buf() };
        // Files are never named here, and the creator holds what it asked for, not the
        // type's ALL_ACCESS.
        let me = self.alive()?;
        let security = me.security_for_new(sa);
        let reference = object::allocate(self.kernel().domain(), &ty, security, None, file);
        me.table.insert(reference, granted, inherit_flag(sa.is_some_and(|sa| sa.inherit_handle)))
    }

    /// `ReadFile`: reads at the file object's pointer and moves it. Needs FILE_READ_DATA.
    pub fn read_file(&self, h: Handle, buf: &mut [u8]) -> Result<usize> {
        let f = self.reference_object(&self.kernel().builtin.file, h, Access::FILE_READ_DATA)?;
        let mut host = lock(&f.host);
        read_full(&mut *host, buf)
    }

    /// `WriteFile`: writes at the file object's pointer and moves it. Needs
    /// FILE_WRITE_DATA (or FILE_APPEND_DATA).
    pub fn write_file(&self, h: Handle, buf: &[u8]) -> Result<usize> {
        let ty = &self.kernel().builtin.file;
        let object = {
            let guard = epoch::pin();
            let s = self.resolve(h, &guard)?;
            if !s.object.is_type(ty.info_ptr()) {
                return Err(Error::InvalidHandle);
            }
            if !s.access.intersects(Access::FILE_WRITE_DATA | Access::FILE_APPEND_DATA) {
                return Err(Error::AccessDenied);
            }
            s.object.try_ref().ok_or(Error::InvalidHandle)?
        };
        let f = object.body::<File>().ok_or(Error::InvalidHandle)?;
        let mut host = lock(&f.host);
        host.write_all(buf).map_err(|e| Error::from_io(&e))?;
        Ok(buf.len())
    }

    /// `SetFilePointerEx`: moves the file object's pointer; a position before the start
    /// is NEGATIVE_SEEK.
    pub fn set_file_pointer(&self, h: Handle, pos: SeekFrom) -> Result<u64> {
        let f = self.reference_object(&self.kernel().builtin.file, h, Access::empty())?;
        let mut host = lock(&f.host);
        let current = host.stream_position().map_err(|e| Error::from_io(&e))?;
        let end = || host.metadata().map(|m| m.len()).map_err(|e| Error::from_io(&e));
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => current.checked_add_signed(d),
            SeekFrom::End(d) => end()?.checked_add_signed(d),
        };
        let target = target.ok_or(Error::NegativeSeek)?;
        host.seek(SeekFrom::Start(target)).map_err(|e| Error::from_io(&e))
    }
}

/// Reads until `buf` is full or the file ends: `ReadFile` on a disk file returns fewer
/// bytes than asked only at end of file, while a host `read` may stop short anywhere.
fn read_full(host: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match host.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(&e)),
        }
    }
    Ok(filled)
}
