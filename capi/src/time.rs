//! Waitable timers and the kernel's clock (SPEC §7.5): `kobj_kernel_new_with` (handle
//! limit, manual clock), `kobj_kernel_advance_clock`, `SetWaitableTimer`,
//! `CancelWaitableTimer`.
//!
//! Win32 times: a due time is a `LARGE_INTEGER` of 100-ns units, negative for "this long
//! from now" (the monotonic clock) and positive for an absolute FILETIME (since
//! 1601-01-01, the wall clock; on a manual clock, wall time starts at the Unix epoch); a
//! period is in milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kobj::{Clock, Due, Kernel};

use crate::bootstrap::kobj_kernel;
use crate::context::{call, guard, set_last_error};
use crate::objects::bool_call;
use crate::{code, from_c, os, win_bool, BOOL, FALSE, HANDLE, LARGE_INTEGER, LONG, LPVOID, PTIMERAPCROUTINE};

/// FILETIME of the Unix epoch: 100-ns units from 1601-01-01 to 1970-01-01.
const UNIX_EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

/// A duration of `units` 100-ns units.
fn hundred_ns(units: u64) -> Duration {
    Duration::new(units / 10_000_000, (units % 10_000_000) as u32 * 100)
}

/// A wall time as a FILETIME (100-ns units since 1601-01-01).
fn filetime(t: SystemTime) -> u64 {
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let units = u64::try_from(since_epoch.as_nanos() / 100).unwrap_or(u64::MAX);
    UNIX_EPOCH_FILETIME.saturating_add(units)
}

/// The engine's due time for Win32's `lpDueTime`.
fn due(due: i64) -> Due {
    if due < 0 {
        return Due::After(hundred_ns(due.unsigned_abs()));
    }
    let due = due as u64;
    let at = if due >= UNIX_EPOCH_FILETIME {
        UNIX_EPOCH.checked_add(hundred_ns(due - UNIX_EPOCH_FILETIME))
    } else {
        UNIX_EPOCH.checked_sub(hundred_ns(UNIX_EPOCH_FILETIME - due))
    };
    // Every i64 FILETIME is within the host's range (±292 billion years of seconds); a
    // time it could not hold would be long past, so fire at once.
    Due::At(at.unwrap_or(UNIX_EPOCH))
}

/// A new kernel with a per-process handle limit (`limit`; 0: the default 2^30; else
/// clamped to 1..=2^30; `1 << 24` is the NT kernel's own limit) and, with `manual_clock`,
/// a clock that moves only by `kobj_kernel_advance_clock` (deterministic timeouts and
/// timers for replay and tests; its wall time starts at the Unix epoch). Free it with
/// `kobj_kernel_free`.
#[no_mangle]
pub extern "C" fn kobj_kernel_new_with(limit: usize, manual_clock: BOOL) -> *mut kobj_kernel {
    guard(std::ptr::null_mut(), || {
        let mut builder = Kernel::builder();
        if limit != 0 {
            builder = builder.handle_limit(limit);
        }
        if manual_clock != FALSE {
            builder = builder.clock(Clock::Manual);
        }
        Box::into_raw(Box::new(kobj_kernel::from(builder.build())))
    })
}

/// Moves a manual clock forward by `milliseconds`, firing the timers and timing out the
/// waits that fall due, in due order, on the calling thread. FALSE with
/// ERROR_INVALID_PARAMETER for a kernel on the system clock (or NULL).
///
/// # Safety
/// `kernel` is NULL or a live `kobj_kernel *`.
#[no_mangle]
pub unsafe extern "C" fn kobj_kernel_advance_clock(kernel: *const kobj_kernel, milliseconds: u64) -> BOOL {
    // SAFETY: the caller guarantees NULL or live.
    let kernel = unsafe { kernel.as_ref() };
    call(FALSE, || {
        let k = kernel.ok_or(os(code::INVALID_PARAMETER))?;
        k.kernel().advance_clock(Duration::from_millis(milliseconds))?;
        Ok(win_bool(true))
    })
}

/// `SetWaitableTimer`: resets the timer and arms it for `*lpDueTime` (100-ns units;
/// negative: relative, positive: an absolute FILETIME; a time already past fires at
/// once), then every `lPeriod` milliseconds (0: once; negative: ERROR_INVALID_PARAMETER).
/// Needs TIMER_MODIFY_STATE. A NULL `lpDueTime` is ERROR_NOACCESS.
///
/// `fResume` asks to wake a suspended machine, which kobj has none of: as Windows on a
/// system without that support, the call succeeds and sets ERROR_NOT_SUPPORTED.
///
/// A completion routine (`pfnCompletionRoutine` non-NULL) is queued as an APC to the
/// calling thread at each expiry and runs when that thread next waits alertably
/// (`SleepEx(.., TRUE)`, `Wait…Ex(.., TRUE)`), as
/// `pfnCompletionRoutine(lpArgToCompletionRoutine, low, high)` with the FILETIME (UTC;
/// on a manual clock, the Unix epoch plus the time advanced) of the expiry.
///
/// # Safety
/// `lpDueTime` is NULL or points to a readable `LARGE_INTEGER`; a completion routine
/// may be called with `lpArgToCompletionRoutine` on the calling guest thread's host
/// thread for as long as the timer stays set with it.
#[no_mangle]
pub unsafe extern "C" fn kobj_SetWaitableTimer(
    hTimer: HANDLE,
    lpDueTime: *const LARGE_INTEGER,
    lPeriod: LONG,
    pfnCompletionRoutine: PTIMERAPCROUTINE,
    lpArgToCompletionRoutine: LPVOID,
    fResume: BOOL,
) -> BOOL {
    // Carried to the routine's host thread as a number (the caller vouches for it).
    let arg = lpArgToCompletionRoutine as usize;
    let ok = bool_call(|g| {
        // SAFETY: the caller guarantees NULL or readable.
        let due_time = unsafe { lpDueTime.as_ref() }.ok_or(os(code::NOACCESS))?.QuadPart;
        let period = u64::try_from(lPeriod).map_err(|_| os(code::INVALID_PARAMETER))?;
        let (h, due, period) = (from_c(hTimer), due(due_time), Duration::from_millis(period));
        let Some(routine) = pfnCompletionRoutine else {
            return g.process().set_waitable_timer(h, due, period);
        };
        g.thread.set_waitable_timer_apc(h, due, period, move |at| {
            let now = filetime(at);
            // SAFETY: the caller of SetWaitableTimer guarantees the routine may be called
            // with its argument on this thread while the timer is set with it.
            unsafe { routine(arg as LPVOID, now as u32, (now >> 32) as u32) }
        })
    });
    if ok != FALSE && fResume != FALSE {
        set_last_error(code::NOT_SUPPORTED);
    }
    ok
}

/// `CancelWaitableTimer`: disarms the timer; its signal state stays as it is. Needs
/// TIMER_MODIFY_STATE.
#[no_mangle]
pub extern "C" fn kobj_CancelWaitableTimer(hTimer: HANDLE) -> BOOL {
    bool_call(|g| g.process().cancel_waitable_timer(from_c(hTimer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_are_read_as_win32_writes_them() {
        assert_eq!(due(-10_000_000), Due::After(Duration::from_secs(1)));
        assert_eq!(due(-1), Due::After(Duration::from_nanos(100)));
        assert_eq!(due(i64::MIN), Due::After(hundred_ns(1 << 63)));
        assert_eq!(
            due(UNIX_EPOCH_FILETIME as i64 + 20_000_000),
            Due::At(UNIX_EPOCH + Duration::from_secs(2))
        );
        assert_eq!(due(0), Due::At(UNIX_EPOCH - hundred_ns(UNIX_EPOCH_FILETIME)));
    }
}
