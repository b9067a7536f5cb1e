//! The errors of name resolution and name operations.

use std::fmt;

/// Why a name operation failed.
///
/// Each variant is one Win32 error; [`NameError::win32_code`] gives its code, so an engine
/// whose error type absorbs a `NameError` (`E: From<NameError>`) can report it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameError {
    /// A non-final component names nothing, or names an object rather than a directory
    /// or link (`ERROR_PATH_NOT_FOUND`, 3).
    PathNotFound,
    /// The name has an empty component (a leading or trailing `\`, or `\\`), or is longer
    /// than [`MAX_NAME_UNITS`](crate::MAX_NAME_UNITS) UTF-16 code units
    /// (`ERROR_INVALID_NAME`, 123).
    InvalidName,
    /// The final component names nothing, or an object that is already dying
    /// (`ERROR_FILE_NOT_FOUND`, 2).
    NotFound,
    /// The final component names a directory or a link (or the name is empty and so
    /// names the directory itself): not an object of any type (`ERROR_INVALID_HANDLE`, 6).
    NotAnObject,
    /// A private namespace with this boundary already exists (`ERROR_ALREADY_EXISTS`, 183).
    AlreadyExists,
    /// A new object would be created in a directory of the tree's skeleton (such as
    /// `\Sessions\BNOLINKS`, reached by `Session\<n>` for a session that does not exist),
    /// which holds only directories and links (`ERROR_ACCESS_DENIED`, 5).
    AccessDenied,
}

impl NameError {
    /// The Win32 error code of this error.
    ///
    /// ```
    /// use kobj_namespace::NameError;
    /// assert_eq!(NameError::PathNotFound.win32_code(), 3);
    /// assert_eq!(NameError::NotAnObject.win32_code(), 6);
    /// ```
    #[must_use]
    pub const fn win32_code(self) -> u32 {
        match self {
            Self::NotFound => 2,
            Self::PathNotFound => 3,
            Self::AccessDenied => 5,
            Self::NotAnObject => 6,
            Self::InvalidName => 123,
            Self::AlreadyExists => 183,
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::PathNotFound => "a path component names no directory or link",
            Self::InvalidName => "the name is malformed or too long",
            Self::NotFound => "no object has this name",
            Self::NotAnObject => "the name names a directory or link, not an object",
            Self::AlreadyExists => "the private namespace already exists",
            Self::AccessDenied => "objects cannot be created in this directory",
        };
        write!(f, "{text} (Win32 error {})", self.win32_code())
    }
}

impl std::error::Error for NameError {}
