//! Win32 error codes.

/// The result of every fallible kobj call.
pub type Result<T> = std::result::Result<T, Error>;

/// A Win32 error, as `GetLastError` would report it.
///
/// Each variant carries the code Windows uses for the same failure; [`Error::code`]
/// returns it. File-system failures that have no variant of their own arrive as
/// [`Error::Os`] with the Windows code the engine mapped them to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ERROR_FILE_NOT_FOUND (2): no object or file of that name.
    #[error("the system cannot find the file specified (2)")]
    FileNotFound,
    /// ERROR_PATH_NOT_FOUND (3): a path component names nothing.
    #[error("the system cannot find the path specified (3)")]
    PathNotFound,
    /// ERROR_ACCESS_DENIED (5).
    #[error("access is denied (5)")]
    AccessDenied,
    /// ERROR_INVALID_HANDLE (6): the handle names no live entry, or an object of another type.
    #[error("the handle is invalid (6)")]
    InvalidHandle,
    /// ERROR_NOT_ENOUGH_MEMORY (8).
    #[error("not enough memory resources are available (8)")]
    NotEnoughMemory,
    /// ERROR_FILE_EXISTS (80).
    #[error("the file exists (80)")]
    FileExists,
    /// ERROR_INVALID_PARAMETER (87).
    #[error("the parameter is incorrect (87)")]
    InvalidParameter,
    /// ERROR_INVALID_NAME (123).
    #[error("the filename, directory name, or volume label syntax is incorrect (123)")]
    InvalidName,
    /// ERROR_NEGATIVE_SEEK (131).
    #[error("an attempt was made to move the file pointer before the beginning of the file (131)")]
    NegativeSeek,
    /// ERROR_ALREADY_EXISTS (183).
    #[error("cannot create a file when that file already exists (183)")]
    AlreadyExists,
    /// ERROR_FILENAME_EXCED_RANGE (206).
    #[error("the filename or extension is too long (206)")]
    FilenameExcedRange,
    /// ERROR_GEN_FAILURE (31): an APC queued to a thread that has exited.
    #[error("a device attached to the system is not functioning (31)")]
    GenFailure,
    /// ERROR_NOT_OWNER (288): releasing a mutex the caller does not own.
    #[error("attempt to release mutex not owned by caller (288)")]
    NotOwner,
    /// ERROR_MUTANT_LIMIT_EXCEEDED (587): a mutex's recursion would pass its limit.
    #[error("the mutant limit has been exceeded (587)")]
    MutantLimitExceeded,
    /// ERROR_TOO_MANY_POSTS (298).
    #[error("too many posts were made to a semaphore (298)")]
    TooManyPosts,
    /// ERROR_PRIVILEGE_NOT_HELD (1314).
    #[error("a required privilege is not held by the client (1314)")]
    PrivilegeNotHeld,
    /// ERROR_NO_SYSTEM_RESOURCES (1450): the handle table is at its limit.
    #[error("insufficient system resources exist to complete the requested service (1450)")]
    NoSystemResources,
    /// Another Win32 code, from a file-system failure.
    #[error("win32 error {0}")]
    Os(u32),
}

impl Error {
    /// The Win32 error code.
    #[must_use]
    pub fn code(&self) -> u32 {
        match self {
            Error::FileNotFound => 2,
            Error::PathNotFound => 3,
            Error::AccessDenied => 5,
            Error::InvalidHandle => 6,
            Error::NotEnoughMemory => 8,
            Error::FileExists => 80,
            Error::InvalidParameter => 87,
            Error::InvalidName => 123,
            Error::NegativeSeek => 131,
            Error::AlreadyExists => 183,
            Error::FilenameExcedRange => 206,
            Error::GenFailure => 31,
            Error::NotOwner => 288,
            Error::MutantLimitExceeded => 587,
            Error::TooManyPosts => 298,
            Error::PrivilegeNotHeld => 1314,
            Error::NoSystemResources => 1450,
            Error::Os(code) => *code,
        }
    }

    /// Maps a host file-system error to the code Windows gives for the same failure.
    pub(crate) fn from_io(err: &std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        match err.kind() {
            K::NotFound => Error::FileNotFound,
            K::PermissionDenied => Error::AccessDenied,
            K::AlreadyExists => Error::FileExists,
            K::InvalidInput => Error::InvalidParameter,
            K::OutOfMemory => Error::NotEnoughMemory,
            K::NotADirectory => Error::PathNotFound,
            K::IsADirectory => Error::AccessDenied,
            K::InvalidFilename => Error::InvalidName,
            K::StorageFull => Error::Os(112),       // ERROR_DISK_FULL
            K::ReadOnlyFilesystem => Error::Os(19), // ERROR_WRITE_PROTECT
            K::Interrupted | K::WouldBlock => Error::Os(995), // ERROR_OPERATION_ABORTED
            _ => Error::Os(31),                     // ERROR_GEN_FAILURE
        }
    }
}
