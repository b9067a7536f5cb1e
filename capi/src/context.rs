//! Which guest thread a host thread calls as, the last error, and the entry guard.
//!
//! A host thread enters one guest thread at a time ([`kobj_thread_enter`]); the binding
//! is a thread-local holding a counted reference to the guest thread, so freeing the
//! `kobj_thread *` it was entered through never leaves the binding dangling. A guest
//! thread is entered on at most one host thread at a time (its `entered` flag, taken
//! with a compare-and-swap and given back when the binding goes, host-thread exit
//! included): its last error and its waits belong to one caller at a time, as a real
//! thread's do.
//!
//! The last error lives with the entered guest thread, as Win32's lives in the TEB, so
//! a guest thread carries it from one host thread to the next; with no thread entered it
//! lives in a slot of the host thread, so a call that fails for want of a thread still
//! reports ERROR_INVALID_PARAMETER to `GetLastError`.
//!
//! Every exported function runs its body inside [`guard`]: a panic is caught there and
//! reported as ERROR_INTERNAL_ERROR with the function's failure value, never unwound into
//! C (which is undefined behaviour).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use kobj::{Process, Thread};

use crate::{code, kobj_thread, win_bool, BOOL, DWORD, FALSE};

/// One guest thread as the C side sees it: the engine's thread and its last error.
/// Every `kobj_thread *` for the same guest thread shares one (a process keeps its main
/// thread's, so `kobj_process_main_thread` hands out the same one each time).
pub(crate) struct GuestThread {
    pub(crate) thread: Thread,
    /// `GetLastError` while this thread is entered.
    last_error: AtomicU32,
    /// True while some host thread has it entered.
    entered: AtomicBool,
}

impl GuestThread {
    pub(crate) fn new(thread: Thread) -> Arc<GuestThread> {
        Arc::new(GuestThread { thread, last_error: AtomicU32::new(0), entered: AtomicBool::new(false) })
    }

    /// The process the thread belongs to: Win32 calls act as it.
    pub(crate) fn process(&self) -> &Process {
        self.thread.process()
    }
}

/// A host thread's binding to a guest thread; dropping it (leaving, switching, or the
/// host thread's exit) lets another host thread enter the guest thread.
struct Binding(Arc<GuestThread>);

impl Drop for Binding {
    fn drop(&mut self) {
        // Release: what this host thread did as the guest thread happens before the
        // next host thread's Acquire in `kobj_thread_enter`.
        self.0.entered.store(false, Ordering::Release);
    }
}

thread_local! {
    /// The guest thread this host thread calls as.
    static CURRENT: RefCell<Option<Binding>> = const { RefCell::new(None) };
    /// The last error while no guest thread is entered.
    static HOST_LAST_ERROR: Cell<u32> = const { Cell::new(0) };
}

/// The guest thread entered on this host thread (a counted reference, so nothing is
/// borrowed while the call runs: an APC may call back into the library).
pub(crate) fn current() -> Option<Arc<GuestThread>> {
    CURRENT
        .try_with(|c| c.try_borrow().ok().and_then(|b| b.as_ref().map(|b| Arc::clone(&b.0))))
        .ok()
        .flatten()
}

/// Sets the calling thread's last error.
pub(crate) fn set_last_error(code: u32) {
    match current() {
        Some(g) => g.last_error.store(code, Ordering::Relaxed),
        None => {
            let _ = HOST_LAST_ERROR.try_with(|e| e.set(code));
        }
    }
}

/// The calling thread's last error.
fn last_error() -> u32 {
    match current() {
        Some(g) => g.last_error.load(Ordering::Relaxed),
        None => HOST_LAST_ERROR.try_with(Cell::get).unwrap_or(0),
    }
}

/// Runs an exported function's body: a panic becomes `fail` with ERROR_INTERNAL_ERROR.
pub(crate) fn guard<R: Copy>(fail: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => {
            // The payload is dropped here; a panicking drop would abort, which is no
            // worse than unwinding into C, and no payload of ours panics on drop.
            set_last_error(code::INTERNAL_ERROR);
            fail
        }
    }
}

/// Runs a body that returns a `Result`: an error becomes `fail` with the error's Win32
/// code as the last error; success leaves the last error alone.
pub(crate) fn call<R: Copy>(fail: R, body: impl FnOnce() -> kobj::Result<R>) -> R {
    guard(fail, || match body() {
        Ok(r) => r,
        Err(e) => {
            set_last_error(e.code());
            fail
        }
    })
}

/// Runs a body as the entered guest thread: with none entered, `fail` and
/// ERROR_INVALID_PARAMETER; as a thread that has exited, `fail` and ERROR_ACCESS_DENIED
/// (SPEC §7.2: calls made as an exited thread fail so, the process-wide ones included,
/// which the engine's `Process` cannot know were made by this thread).
pub(crate) fn as_thread<R: Copy>(fail: R, body: impl FnOnce(&GuestThread) -> kobj::Result<R>) -> R {
    call(fail, || {
        let g = current().ok_or(crate::os(code::INVALID_PARAMETER))?;
        if g.thread.has_exited() {
            return Err(kobj::Error::AccessDenied);
        }
        body(&g)
    })
}

/// Binds the calling host thread to a guest thread: every Win32-shaped call it makes
/// from now on acts as that thread and its process, and `GetLastError` reads that
/// thread's last error. NULL leaves (unbinds). Entering another thread leaves the one
/// entered before; entering the one already entered does nothing.
///
/// A guest thread may be entered on one host thread at a time: entering a thread that
/// another host thread has entered fails with ERROR_BUSY (170) and changes nothing.
/// The binding holds its own reference: `kobj_thread_free` on the pointer it was made
/// through does not end it. It ends when the host thread leaves, enters another thread
/// or exits. Returns TRUE on success.
///
/// # Safety
/// `thread` is NULL or a `kobj_thread *` from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kobj_thread_enter(thread: *mut kobj_thread) -> BOOL {
    // SAFETY: the caller guarantees `thread` is NULL or a live `kobj_thread`.
    let guest = unsafe { thread.as_ref() }.map(|t| Arc::clone(&t.guest));
    guard(FALSE, || {
        let entered = CURRENT.try_with(|c| {
            let Ok(mut slot) = c.try_borrow_mut() else {
                return Err(code::INTERNAL_ERROR);
            };
            match guest {
                None => {
                    *slot = None;
                    Ok(())
                }
                Some(g) => {
                    if slot.as_ref().is_some_and(|b| Arc::ptr_eq(&b.0, &g)) {
                        return Ok(());
                    }
                    // Acquire: pairs with the Release of the binding that let it go.
                    if g.entered.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err()
                    {
                        return Err(code::BUSY);
                    }
                    // The old binding (if any) drops after the new one is in place.
                    let old = slot.replace(Binding(g));
                    drop(slot);
                    drop(old);
                    Ok(())
                }
            }
        });
        match entered {
            Ok(Ok(())) => win_bool(true),
            Ok(Err(code)) => {
                set_last_error(code);
                FALSE
            }
            // The host thread is exiting: its thread-locals are gone.
            Err(_) => FALSE,
        }
    })
}

/// `GetLastError`: the calling thread's last error (the entered guest thread's, else the
/// host thread's slot).
#[no_mangle]
pub extern "C" fn kobj_GetLastError() -> DWORD {
    guard(code::INTERNAL_ERROR, last_error)
}

/// `SetLastError`: sets the calling thread's last error.
#[no_mangle]
pub extern "C" fn kobj_SetLastError(dwErrCode: DWORD) {
    guard((), || set_last_error(dwErrCode));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_as_internal_error_and_the_failure_value() {
        set_last_error(0);
        let r = guard(0xFFFF_FFFFu32, || panic!("boom"));
        assert_eq!(r, 0xFFFF_FFFF);
        assert_eq!(kobj_GetLastError(), code::INTERNAL_ERROR);
        let r = call(crate::FALSE, || -> kobj::Result<BOOL> { panic!("boom") });
        assert_eq!(r, crate::FALSE);
        assert_eq!(kobj_GetLastError(), code::INTERNAL_ERROR);
    }

    #[test]
    fn with_no_thread_entered_a_call_fails_with_invalid_parameter() {
        set_last_error(0);
        assert_eq!(as_thread(7u32, |_| Ok(1u32)), 7);
        assert_eq!(kobj_GetLastError(), code::INVALID_PARAMETER);
    }
}
