//! A named object's name, as its header keeps it: one allocation behind one pointer.
//!
//! The header holds `Option<NameKey>`, 8 bytes (a `DirId` beside a `Box<str>` would be
//! 24, a third of the header). The allocation is the directory id, the name's length and
//! its bytes: `[DirId: 8][len: u32][UTF-8 bytes]`, 12 bytes more than the name. This is
//! the one copy of the name: the name table finds the object by it (`names.rs`), and the
//! last close removes the name with it.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use kobj_namespace::DirId;

/// Bytes before the name: the directory id, then the length.
const BYTES_AT: usize = 12;
/// Where the length is.
const LEN_AT: usize = 8;

/// Where a named object's name lives: the directory and the final component (see the
/// module documentation for the layout).
pub(crate) struct NameKey(NonNull<u8>);

// SAFETY: a `NameKey` owns its allocation, which is written once in `new` and only read
// after; nothing in it is tied to a thread.
unsafe impl Send for NameKey {}
// SAFETY: shared access only reads the immutable bytes.
unsafe impl Sync for NameKey {}

impl NameKey {
    /// The layout of a key whose name is `len` bytes.
    fn layout(len: usize) -> Layout {
        // Never fails: a name reaching here passed `resolve`'s bound of 32,767 UTF-16
        // units (at most 98,301 bytes), far from `isize::MAX`.
        Layout::from_size_align(BYTES_AT + len, std::mem::align_of::<DirId>()).expect("a name's layout")
    }

    /// The key of `name` in `dir`.
    pub(crate) fn new(dir: DirId, name: &str) -> NameKey {
        // Names are bounded long before `u32::MAX` bytes (see `layout`).
        let len = u32::try_from(name.len()).expect("a name's length fits in 32 bits");
        let layout = NameKey::layout(name.len());
        // SAFETY: the layout is at least 12 bytes, so not zero-sized.
        let block = unsafe { alloc::alloc(layout) };
        let Some(block) = NonNull::new(block) else { alloc::handle_alloc_error(layout) };
        // SAFETY: `block` is a fresh allocation of `BYTES_AT + name.len()` bytes, aligned
        // for `DirId` (8); the id goes at 0, the `u32` length at 8 (4-aligned), the bytes
        // at 12, all inside it, and `name` cannot overlap a fresh allocation.
        unsafe {
            block.as_ptr().cast::<DirId>().write(dir);
            block.as_ptr().add(LEN_AT).cast::<u32>().write(len);
            std::ptr::copy_nonoverlapping(name.as_ptr(), block.as_ptr().add(BYTES_AT), name.len());
        }
        NameKey(block)
    }

    /// The directory the object is named in.
    pub(crate) fn dir(&self) -> DirId {
        // SAFETY: `new` wrote a `DirId` at the start of the allocation, which lives as
        // long as `self`.
        unsafe { self.0.as_ptr().cast::<DirId>().read() }
    }

    /// The object's name in that directory.
    pub(crate) fn name(&self) -> &str {
        // SAFETY: `new` wrote the length at `LEN_AT` and that many bytes of a `str` at
        // `BYTES_AT`, never changed after; the allocation lives as long as `self`.
        unsafe {
            let len = self.0.as_ptr().add(LEN_AT).cast::<u32>().read() as usize;
            let bytes = std::slice::from_raw_parts(self.0.as_ptr().add(BYTES_AT), len);
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl Drop for NameKey {
    fn drop(&mut self) {
        let layout = NameKey::layout(self.name().len());
        // SAFETY: allocated in `new` with this same layout (the length it stores), and
        // freed only here, once.
        unsafe { alloc::dealloc(self.0.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gives_back_its_directory_and_name() {
        for (dir, name) in [
            (DirId::GLOBAL, "Test"),
            (DirId::session(7), ""),
            (DirId::GLOBAL, "a\0b"),
            (DirId::session(u32::MAX), "名前\\x"),
        ] {
            let key = NameKey::new(dir, name);
            assert_eq!((key.dir(), key.name()), (dir, name));
        }
        let long = "n".repeat(98_301);
        assert_eq!(NameKey::new(DirId::GLOBAL, &long).name(), long);
        assert_eq!(std::mem::size_of::<Option<NameKey>>(), 8);
    }
}
