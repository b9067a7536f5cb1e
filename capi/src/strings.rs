//! Names from C: NUL-terminated UTF-16 (`W` functions) or UTF-8 (`A` functions), copied
//! into Rust strings and never retained.
//!
//! Reads are bounded: a `W` name is read up to the longest name the engine accepts
//! (32,767 UTF-16 units, SPEC §3) plus one unit, an `A` name up to the bytes 260
//! characters can take plus one, so a missing terminator costs a bounded read and an
//! error, not a walk through memory.

use crate::{code, os, LPCSTR, LPCWSTR};

/// The longest name in UTF-16 units (a `UNICODE_STRING`'s 16-bit byte length).
const MAX_NAME_UNITS: usize = 32_767;
/// The longest `A` name, in UTF-16 units: Windows' ANSI functions convert a name into
/// the thread's static buffer of MAX_PATH (260) characters and refuse a longer one with
/// ERROR_FILENAME_EXCED_RANGE (kernel32's `Basep8BitStringToStaticUnicodeString`).
const MAX_ANSI_NAME: usize = 260;
/// A UTF-8 character takes at most four bytes: a name with no NUL in this many bytes
/// has more than MAX_ANSI_NAME characters.
const MAX_ANSI_BYTES: usize = (MAX_ANSI_NAME + 1) * 4;

/// A `W` name: NULL is `None`. Longer than 32,767 units is ERROR_INVALID_NAME, and so is
/// a name that is not UTF-16 (an unpaired surrogate), which the engine's names (Rust
/// strings) cannot hold.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated array of UTF-16 units (or to at least
/// 32,768 readable units).
pub(crate) unsafe fn name_w(p: LPCWSTR) -> kobj::Result<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    let mut len = 0;
    // SAFETY: the caller guarantees the units up to the terminator (or the bound) are
    // readable; the loop stops at the first NUL or at the bound.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
        if len > MAX_NAME_UNITS {
            return Err(os(code::INVALID_NAME));
        }
    }
    // SAFETY: the `len` units before the terminator were just read.
    let units = unsafe { std::slice::from_raw_parts(p, len) };
    String::from_utf16(units).map(Some).map_err(|_| os(code::INVALID_NAME))
}

/// An `A` name: NULL is `None`. Not UTF-8 is ERROR_NO_UNICODE_TRANSLATION (what
/// `MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS)` reports); longer than 260
/// UTF-16 units is ERROR_FILENAME_EXCED_RANGE, as Windows' ANSI functions.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated byte string (or to at least 1,044 readable
/// bytes).
pub(crate) unsafe fn name_a(p: LPCSTR) -> kobj::Result<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    let p = p.cast::<u8>();
    let mut len = 0;
    // SAFETY: as in `name_w`, bounded by MAX_ANSI_BYTES.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
        if len > MAX_ANSI_BYTES {
            return Err(os(code::FILENAME_EXCED_RANGE));
        }
    }
    // SAFETY: the `len` bytes before the terminator were just read.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    let name = std::str::from_utf8(bytes).map_err(|_| os(code::NO_UNICODE_TRANSLATION))?;
    if name.encode_utf16().count() > MAX_ANSI_NAME {
        return Err(os(code::FILENAME_EXCED_RANGE));
    }
    Ok(Some(name.to_owned()))
}

/// A name an `Open` function requires: NULL is ERROR_INVALID_PARAMETER (kernelbase's
/// `get_open_object_attributes` in Wine, Windows' own `OpenMutexW(.., NULL)`).
pub(crate) fn required(name: Option<String>) -> kobj::Result<String> {
    name.ok_or(os(code::INVALID_PARAMETER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().chain([0]).collect()
    }

    #[test]
    fn names_are_copied_and_checked() {
        // SAFETY: every pointer below is NULL or a NUL-terminated buffer that outlives the call.
        unsafe {
            assert_eq!(name_w(std::ptr::null()), Ok(None));
            assert_eq!(name_w(w("Jeff").as_ptr()), Ok(Some("Jeff".into())));
            let lone = [0xD800u16, 0x41, 0];
            assert_eq!(name_w(lone.as_ptr()), Err(os(code::INVALID_NAME)));
            let long = vec![0x41u16; MAX_NAME_UNITS + 5];
            let mut long = long;
            *long.last_mut().unwrap() = 0;
            assert_eq!(name_w(long.as_ptr()), Err(os(code::INVALID_NAME)));
            let ok = w(&"a".repeat(MAX_NAME_UNITS));
            assert_eq!(name_w(ok.as_ptr()).unwrap().unwrap().len(), MAX_NAME_UNITS);

            assert_eq!(name_a(c"Jeff".as_ptr()), Ok(Some("Jeff".into())));
            let a260 = std::ffi::CString::new("é".repeat(260)).unwrap();
            assert_eq!(name_a(a260.as_ptr()).unwrap().unwrap().chars().count(), 260);
            let a261 = std::ffi::CString::new("a".repeat(261)).unwrap();
            assert_eq!(name_a(a261.as_ptr()), Err(os(code::FILENAME_EXCED_RANGE)));
            let huge = std::ffi::CString::new("a".repeat(5000)).unwrap();
            assert_eq!(name_a(huge.as_ptr()), Err(os(code::FILENAME_EXCED_RANGE)));
            let bad = [0xFFu8, 0x41, 0];
            assert_eq!(name_a(bad.as_ptr().cast()), Err(os(code::NO_UNICODE_TRANSLATION)));
        }
    }
}
