//! Handle values.

use std::fmt;

/// A process-relative handle value.
///
/// A real handle is a non-zero multiple of 4; the low two bits are ignored on every
/// lookup (`h | 1`, `h | 2` and `h | 3` act on `h`), as on Windows. The six values just
/// below `usize::MAX` are pseudo-handles that never live in a table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Handle(usize);

impl Handle {
    /// The calling process (`GetCurrentProcess()`, the -1 pseudo-handle).
    pub const CURRENT_PROCESS: Handle = Handle(usize::MAX);
    /// The calling thread (`GetCurrentThread()`, -2).
    pub const CURRENT_THREAD: Handle = Handle(usize::MAX - 1);
    /// The null handle value, which is never valid.
    pub const NULL: Handle = Handle(0);

    /// The lowest pseudo-handle value (-6).
    const LOWEST_PSEUDO: usize = usize::MAX - 5;

    /// A handle from its raw value. Any value is accepted; lookups decide validity.
    #[must_use]
    pub const fn from_raw(raw: usize) -> Handle {
        Handle(raw)
    }

    /// The raw value.
    #[must_use]
    pub const fn raw(self) -> usize {
        self.0
    }

    /// True for the pseudo-handles -1 to -6 (current process, current thread and the
    /// token pseudo-handles), which are never stored in a table.
    #[must_use]
    pub const fn is_pseudo(self) -> bool {
        self.0 >= Self::LOWEST_PSEUDO
    }

    /// The table index this value names, if it can name one: pseudo-handles are
    /// checked before the low bits are masked (-1 masked would be -4).
    #[inline]
    pub(crate) const fn index(self) -> Option<usize> {
        if self.is_pseudo() {
            return None;
        }
        let value = self.0 & !3;
        if value == 0 {
            None
        } else {
            Some(value / 4 - 1)
        }
    }

    /// The handle value of a table index.
    pub(crate) const fn from_index(index: usize) -> Handle {
        Handle((index + 1) * 4)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_pseudo() {
            let n = usize::MAX - self.0 + 1;
            write!(f, "Handle(-{n})")
        } else {
            write!(f, "Handle({:#x})", self.0)
        }
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
