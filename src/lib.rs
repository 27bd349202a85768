//! spacefs: a library of tagged, labelled, deduplicated files, browsable as a filesystem.
//!
//! Layout, from the bottom up (each module uses only those before it): `error`, `names`, `clock`, `kind`,
//! `longpath`, `xattr` (codecs), `query` (the expression language); `library` owns the database and all SQL, with
//! its one writer thread (`library::writer`); `index` fills it from the disk; `cache`, `view` (one file per view),
//! `inode` and `fs` (the core) make the file system; `fuse` translates it for the kernel; `watch` follows the disk;
//! `mount` runs a mount; `app` implements the commands that `cli` defines; `main` only maps results to exit codes.

pub mod app;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod index;
pub mod inode;
pub mod kind;
pub mod library;
pub mod longpath;
pub mod mount;
pub mod names;
pub mod query;
pub mod sync;
pub mod view;
pub mod watch;
pub mod xattr;

pub use error::{Error, Result};

/// Raises this process's soft limit of open files to its hard limit, as a program that needs many should (the soft
/// limit of 1,024 exists for programs that still use `select`). A scan reads small files a batch at a time, each
/// hasher holding a batch open, while a mount holds the files its users opened: neither may run out.
pub fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit on a valid struct; a refusal leaves the limit as it was.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
