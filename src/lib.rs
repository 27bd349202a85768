//! spacefs: a library of tagged, labelled, deduplicated files, browsable as a filesystem.
//!
//! Layout: `library` owns the database and all SQL; `writer` is the one thread that writes it; `index` fills it
//! from the disk; `app` implements the commands that `cli` defines; `main` only maps results to exit codes.

pub mod app;
pub mod cache;
pub mod cli;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod index;
pub mod inode;
pub mod library;
pub mod longpath;
pub mod mount;
pub mod names;
pub mod query;
pub mod view;
pub mod watch;
pub mod writer;
pub mod xattr;

pub use error::{Error, Result};
