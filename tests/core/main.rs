//! The filesystem core driven directly, without FUSE and without root: every change a program can ask of a view
//! or of `locations/`, with the exact result in the library and on disk. Mount tests (tests/mount.rs and others)
//! are for what only a kernel shows.

#[path = "../common/mod.rs"]
mod common;

mod listing;
mod locations;
mod views;

use common::Fixture;
use spacefs::fs::{Attr, Caller, DirSink, FsOptions, SpaceFs};
use spacefs::inode::ROOT;
use spacefs::library::{EntryId, EntryMeta, Library};
use spacefs::view::NodeKind;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A library indexing `files/` (as location `files`, with content ids and verified duplicates), and the core over it.
pub struct Core {
    pub fx: Fixture,
    pub fs: SpaceFs,
}

impl Core {
    pub fn new(files: &[(&str, &str)]) -> Core {
        Core::with(files, FsOptions::default())
    }

    pub fn with(files: &[(&str, &str)], options: FsOptions) -> Core {
        let fx = Fixture::new();
        for (path, body) in files {
            fx.write(path, body.as_bytes());
        }
        fx.add();
        let fs = SpaceFs::new(Library::open(&fx.library()).unwrap(), options);
        Core { fx, fs }
    }

    /// The inode of a path of the mount (`tags/t/a.txt`), looked up name by name as the kernel does.
    pub fn ino(&self, path: &str) -> u64 {
        self.try_ino(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub fn try_ino(&self, path: &str) -> spacefs::Result<u64> {
        let mut ino = ROOT;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            ino = self.fs.lookup(ino, OsStr::new(name))?.ino;
        }
        Ok(ino)
    }

    pub fn attr(&self, path: &str) -> Attr {
        self.fs.getattr(self.ino(path), None).unwrap()
    }

    /// The folder and last name of a path of the mount, as the kernel sends them to the core.
    pub fn split<'a>(&self, path: &'a str) -> (u64, &'a OsStr) {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        (self.ino(dir), OsStr::new(name))
    }

    /// The sorted names a folder of the mount lists.
    pub fn ls(&self, path: &str) -> Vec<String> {
        struct Names(Vec<String>);
        impl DirSink for Names {
            fn add(&mut self, _: u64, _: u64, _: NodeKind, name: &OsStr, _: Option<&Attr>) -> bool {
                if name != "." && name != ".." {
                    self.0.push(String::from_utf8_lossy(name.as_bytes()).into_owned());
                }
                false
            }
        }
        let ino = self.ino(path);
        let (fh, _) = self.fs.opendir(ino).unwrap();
        let mut names = Names(Vec::new());
        self.fs.readdir(ino, fh, 0, false, &mut names).unwrap();
        self.fs.releasedir(fh);
        names.0.sort();
        names.0
    }

    /// The entry of a real file below `files/`, as the library holds it now (changes queued by the core committed).
    pub fn entry(&self, rel: &str) -> Option<EntryId> {
        self.fs.settle();
        let reader = self.fs.library().reader().unwrap();
        let location = reader.location_named("files").unwrap();
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        reader.entry_by_path(location.id, dir.as_bytes(), name.as_bytes()).unwrap()
    }

    /// The metadata of a real file below `files/`.
    pub fn meta(&self, rel: &str) -> EntryMeta {
        let id = self.entry(rel).unwrap_or_else(|| panic!("{rel} is not in the library"));
        self.fs.library().reader().unwrap().entry_meta(id).unwrap().unwrap()
    }

    pub fn tags(&self, rel: &str) -> Vec<String> {
        self.meta(rel).tags.into_iter().map(|(name, _)| name).collect()
    }

    /// The tags the library knows, with how many entries carry each.
    pub fn all_tags(&self) -> Vec<(String, i64)> {
        let reader = self.fs.library().reader().unwrap();
        reader.tags_with_counts().unwrap().into_iter().map(|(name, _, count)| (name, count)).collect()
    }

    pub fn real(&self, rel: &str) -> std::path::PathBuf {
        self.fx.file(rel)
    }

    /// What `spacefs check` reports: the library must equal the disk (nothing missing, no ghost).
    pub fn assert_library_equals_disk(&self) {
        self.fs.settle();
        let run = self.fx.run(["check"]);
        assert_eq!(run.code, 0, "{run:?}");
    }
}

/// The caller as the kernel would name them: whoever runs the test (root is not needed).
pub fn me() -> Caller {
    let meta = std::fs::metadata("/proc/self").unwrap();
    Caller { uid: std::os::unix::fs::MetadataExt::uid(&meta), gid: std::os::unix::fs::MetadataExt::gid(&meta) }
}

/// What the glue passes for a passthrough backing; unused here (the core gets no kernel to register one with).
pub fn no_backing(_: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The errno an operation of the core answered (0 for success).
pub fn errno<T>(result: spacefs::Result<T>) -> i32 {
    result.err().map_or(0, |e| e.errno())
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}
