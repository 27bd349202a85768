//! The one error type of spacefs.
//!
//! Every message is written for the user: it says what is wrong and, where there is something to do, what to do,
//! on one line. `errno()` is the single place that decides what a FUSE caller sees for each kind of failure.

use std::io;
use std::path::Path;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something named by the user does not exist (a path, a location, a tag).
    #[error("{0}")]
    NotFound(String),
    /// A folder was expected.
    #[error("{0}")]
    NotADirectory(String),
    /// The thing to create is there already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A tag, label or location name that spacefs cannot store.
    #[error("{0}")]
    InvalidName(String),
    /// A name longer than a file name may be.
    #[error("{0}")]
    NameTooLong(String),
    /// The extended attribute has no value.
    #[error("no such attribute")]
    NoAttribute,
    /// The operation is not supported there.
    #[error("{0}")]
    NotSupported(String),
    /// The operation is not allowed on that thing (as opposed to a permission the user lacks).
    #[error("{0}")]
    NotPermitted(String),
    /// A folder (tag, label) that still holds something.
    #[error("{0}")]
    NotEmpty(String),
    /// A value larger than spacefs accepts.
    #[error("{0}")]
    TooBig(String),
    /// Any other argument or value that does not make sense.
    #[error("{0}")]
    Invalid(String),
    /// A path that is outside every location.
    #[error("{0}")]
    OutsideLocations(String),
    /// A path inside a location that the library has not indexed (yet).
    #[error("{0}")]
    NotIndexed(String),
    /// The library file (or its folder) cannot be used.
    #[error("{0}")]
    Library(String),
    /// A write was asked of something read-only.
    #[error("{0}")]
    ReadOnly(String),
    /// A file system call failed; `context` says on what.
    #[error("{context}: {}", io_reason(.source))]
    Io { context: String, source: io::Error },
    /// SQLite failed in a way the user cannot fix by changing their input.
    #[error("library database error: {0}")]
    Db(rusqlite::Error),
    /// Another program held the library's write lock for longer than the busy timeout.
    #[error(
        "the library is locked by another program writing to it, for over 10 seconds (wait for it to finish, or \
         stop it, then try again)"
    )]
    Busy,
    /// The writer thread stopped (it only does when the program is shutting down or it hit a fatal error).
    #[error("the library writer has stopped; the change was not saved")]
    WriterGone,
}

impl Error {
    /// The errno a FUSE caller gets for this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound(_) | Error::NotIndexed(_) => libc::ENOENT,
            Error::NotADirectory(_) => libc::ENOTDIR,
            Error::AlreadyExists(_) => libc::EEXIST,
            Error::InvalidName(_) | Error::Invalid(_) => libc::EINVAL,
            Error::NameTooLong(_) => libc::ENAMETOOLONG,
            Error::NoAttribute => libc::ENODATA,
            Error::NotSupported(_) => libc::EOPNOTSUPP,
            Error::NotPermitted(_) => libc::EPERM,
            Error::TooBig(_) => libc::E2BIG,
            Error::NotEmpty(_) => libc::ENOTEMPTY,
            Error::OutsideLocations(_) => libc::EXDEV,
            Error::ReadOnly(_) => libc::EROFS,
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::Busy => libc::EAGAIN,
            Error::Library(_) | Error::Db(_) | Error::WriterGone => libc::EIO,
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { context: path.display().to_string(), source }
    }

    /// Wraps an I/O error with a free-form context.
    pub fn io_ctx(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}

impl From<rusqlite::Error> for Error {
    /// Damage found in the middle of a command gets the same advice as damage found when opening.
    fn from(err: rusqlite::Error) -> Error {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase) => Error::Library(
                "the library database is corrupt (run 'spacefs check'; restore a copy made with 'spacefs backup')"
                    .into(),
            ),
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => Error::Busy,
            _ => Error::Db(err),
        }
    }
}

/// The lowercase reason of an I/O error without Rust's "(os error N)" suffix.
fn io_reason(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Displays a path for messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
