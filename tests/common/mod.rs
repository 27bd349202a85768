//! Test fixtures: a temporary library and folder tree, and a way to run the real `spacefs` binary.
#![allow(dead_code)]

use spacefs::library::write::NewLocation;
use spacefs::library::{IndexMode, Library, Location};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory holding a library file and a `files/` tree to index.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Drop for Fixture {
    /// Before the folder goes: a daemon unmounted some other way than by its guard (fusermount3 in a test, a
    /// remount) or a command a test left running may still be closing the library, and its last checkpoint would
    /// make library.db-wal again in the folder as it is removed (an empty folder left in /tmp).
    fn drop(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while others_holding(self.dir.path()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Whether a process other than this one has a file below `dir` open.
fn others_holding(dir: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return false };
    let me = std::process::id().to_string();
    // Only numbered entries: /proc/self and /proc/thread-self are this process.
    let numbered =
        |p: &std::fs::DirEntry| p.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    procs.filter_map(|p| p.ok()).filter(|p| numbered(p) && p.file_name() != me.as_str()).any(|p| {
        std::fs::read_dir(p.path().join("fd"))
            .map(|fds| fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok()).any(|to| to.starts_with(dir)))
            .unwrap_or(false)
    })
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new().prefix("spacefs-test").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("files")).expect("files dir");
        Fixture { dir }
    }

    pub fn library(&self) -> PathBuf {
        self.dir.path().join("library.db")
    }

    /// A path inside the `files/` tree.
    pub fn file(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join("files").join(rel)
    }

    pub fn files(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    /// Writes a file below `files/`, creating its folders.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: &[u8]) -> PathBuf {
        let path = self.file(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `spacefs add files/ --quiet`: makes the `files/` tree a location and indexes it.
    pub fn add(&self) {
        let run = self.run(["add".as_ref(), self.files().as_os_str(), "--quiet".as_ref()]);
        assert_eq!(run.code, 0, "{run:?}");
    }

    /// Runs `spacefs --library <library> ARGS…`.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = spacefs();
        cmd.arg("--library").arg(self.library()).args(args);
        Run::from(cmd.output().expect("run spacefs"))
    }
}

/// The `spacefs` binary under test, with no library variables inherited from the environment.
pub fn spacefs() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spacefs"));
    cmd.env_remove("SPACEFS_LIBRARY").env("RUST_LOG", "warn");
    cmd
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stdout_bytes: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:?}");
        &self.stdout
    }

    /// Asserts a failure with exit code 1 and exactly one line on stderr containing `fragment`.
    pub fn fails_with(&self, fragment: &str) {
        assert_eq!(self.code, 1, "expected exit code 1, got {self:?}");
        assert!(self.stderr.contains(fragment), "stderr should contain {fragment:?}: {self:?}");
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "one line of error: {self:?}");
        assert!(self.stderr.starts_with("spacefs: "), "{self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
    }
}

/// A real mount of a fixture's library; unmounted when dropped, even if the test failed.
pub struct Mounted {
    pub path: PathBuf,
}

impl Fixture {
    /// Mounts the library on `<fixture>/<name>` with `spacefs mount` (which returns once the mount is ready).
    pub fn mount_at(&self, name: &str, extra: &[&str]) -> Mounted {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        let run = self.run([OsStr::new("mount"), path.as_os_str()].into_iter().chain(extra.iter().map(OsStr::new)));
        let mounted = Mounted { path };
        assert_eq!(run.code, 0, "mount failed: {run:?}");
        mounted
    }

    pub fn mount(&self) -> Mounted {
        self.mount_at("mnt", &[])
    }
}

impl Mounted {
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// The sorted names in a folder of the mount.
    pub fn ls(&self, rel: impl AsRef<Path>) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn unmount(self) {
        let run = Run::from(spacefs().arg("unmount").arg(&self.path).output().unwrap());
        assert_eq!(run.code, 0, "unmount failed: {run:?}");
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let target = format!(" {} ", self.path.display());
        if mountinfo.lines().any(|l| l.contains(&target)) {
            let _ = spacefs().arg("unmount").arg(&self.path).output();
            let _ = Command::new("fusermount3").arg("-uz").arg(&self.path).output();
        }
    }
}

/// A tiny deterministic generator (xorshift), so a failing random test replays exactly from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// The errno a failed call answered (0 when it succeeded).
pub fn errno_of<T>(result: std::io::Result<T>) -> i32 {
    result.err().and_then(|e| e.raw_os_error()).unwrap_or(0)
}

/// Waits (up to 20 s) until `check` holds, polling: for what the daemon or the watcher does in the background.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether `path` is a mount point now.
pub fn mounted(path: &Path) -> bool {
    let target = format!(" {} ", path.display());
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| l.contains(&target))
}

/// Makes `dir` a location of `lib` named `name`, not indexed yet.
pub fn add_location(lib: &Library, dir: &Path, name: &str, index_mode: IndexMode) -> Location {
    let path = dir.canonicalize().unwrap();
    let device_id = lib.device_id();
    lib.writer().add_location(NewLocation { name: name.into(), path, index_mode, device_id }).unwrap();
    lib.reader().unwrap().location_named(name).unwrap()
}

/// `add_location`, then a scan of it.
pub fn add_indexed(lib: &Library, dir: &Path, name: &str, index_mode: IndexMode) -> Location {
    let location = add_location(lib, dir, name, index_mode);
    spacefs::index::scan(lib, &location, spacefs::index::ScanOptions::default()).unwrap();
    location
}
