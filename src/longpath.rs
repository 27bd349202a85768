//! Paths longer than the kernel takes in one system call (PATH_MAX, 4,096 bytes with its NUL).
//!
//! A name deep in a location can be reached through the mount with a path shorter than PATH_MAX (relative to a
//! working directory inside the mount) while its real path, the location's folder put in front, is longer. The disk
//! takes such names through a directory descriptor or a working directory; so does spacefs: `with` runs an
//! operation on a real path as given when it is short, and otherwise from inside a directory on the way to it, with
//! the rest of the path relative to that. The working directory is the calling thread's own (its file system
//! attributes are unshared first, `unshare(CLONE_FS)`), is entered only for the operation, and is restored
//! afterwards, so nothing else sees it.
//!
//! Invariant: a short path costs nothing more than the operation itself.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The longest path given to one system call (PATH_MAX less its NUL).
const MAX: usize = libc::PATH_MAX as usize - 1;

/// Gives the calling thread file system attributes (working directory, umask) of its own, once. False when the
/// kernel refuses.
pub fn own_fs_attributes() -> bool {
    thread_local! {
        static OWN: bool = {
            // SAFETY: unshare(CLONE_FS) changes only this thread's attributes.
            let ok = unsafe { libc::unshare(libc::CLONE_FS) } == 0;
            if !ok {
                log::warn!("unshare(CLONE_FS): {}", io::Error::last_os_error());
            }
            ok
        };
    }
    OWN.with(|ok| *ok)
}

/// Runs `op` on `path`, which may be longer than PATH_MAX.
pub fn with<T>(path: &Path, op: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() <= MAX || !bytes.starts_with(b"/") || !own_fs_attributes() {
        return op(path);
    }
    let split = split_point(bytes, bytes.len())?;
    let _inside = Inside::enter(&bytes[..split])?;
    op(Path::new(OsStr::from_bytes(&bytes[split + 1..])))
}

/// Runs `op` on two paths (rename, link), from their deepest common folder when either is too long.
pub fn with2<T>(a: &Path, b: &Path, op: impl FnOnce(&Path, &Path) -> io::Result<T>) -> io::Result<T> {
    let (x, y) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    if (x.len() <= MAX && y.len() <= MAX) || !x.starts_with(b"/") || !y.starts_with(b"/") || !own_fs_attributes() {
        return op(a, b);
    }
    let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let Some(folder) = x[..common].iter().rposition(|&c| c == b'/') else { return op(a, b) };
    if folder == 0 || y.get(folder) != Some(&b'/') {
        return op(a, b);
    }
    let _inside = Inside::enter(&x[..folder])?;
    op(Path::new(OsStr::from_bytes(&x[folder + 1..])), Path::new(OsStr::from_bytes(&y[folder + 1..])))
}

/// Where to cut `bytes[..end]` so the rest after the cut ('/' at the returned index) fits in one call.
fn split_point(bytes: &[u8], end: usize) -> io::Result<usize> {
    let earliest = end.saturating_sub(MAX + 1);
    bytes[earliest..end]
        .iter()
        .position(|&c| c == b'/')
        .map(|at| earliest + at)
        .filter(|&at| at > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENAMETOOLONG))
}

/// The thread's working directory set to a folder for the duration; back where it was when dropped.
struct Inside {
    before: std::fs::File,
}

impl Inside {
    fn enter(folder: &[u8]) -> io::Result<Inside> {
        use std::os::unix::fs::OpenOptionsExt;
        let before = std::fs::File::options().read(true).custom_flags(libc::O_PATH | libc::O_DIRECTORY).open(".")?;
        // The folder's own path may be too long for one call as well: enter it piece by piece.
        let mut pieces = Vec::new();
        let mut end = folder.len();
        while end > MAX {
            let cut = split_point(folder, end)?;
            pieces.push(&folder[cut + 1..end]);
            end = cut;
        }
        pieces.push(&folder[..end]);
        let inside = Inside { before };
        for piece in pieces.into_iter().rev() {
            let c = CString::new(piece).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: a valid NUL-terminated path; chdir affects this thread only (its attributes are unshared).
            if unsafe { libc::chdir(c.as_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(inside)
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        // SAFETY: fchdir to a directory descriptor we own.
        unsafe { libc::fchdir(std::os::fd::AsRawFd::as_raw_fd(&self.before)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_longer_than_path_max_is_reached_from_inside_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let before = std::env::current_dir().unwrap();
        let mut deep = dir.path().to_path_buf();
        // 20 folders of 250 bytes: about 5,000 bytes, more than one system call takes.
        for i in 0..20 {
            deep.push(format!("{i:0>250}"));
            with(&deep, |p| std::fs::create_dir(p)).unwrap();
        }
        let file = deep.join("file");
        assert!(file.as_os_str().len() > MAX);
        assert_eq!(
            std::fs::write(&file, b"x").unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG),
            "as one call, the path is too long"
        );
        with(&file, |p| std::fs::write(p, b"deep")).unwrap();
        assert_eq!(with(&file, |p| std::fs::read(p)).unwrap(), b"deep");
        let renamed = deep.join("renamed");
        with2(&file, &renamed, |a, b| std::fs::rename(a, b)).unwrap();
        assert_eq!(with(&renamed, |p| std::fs::metadata(p)).unwrap().len(), 4);
        assert!(with(&file, |p| std::fs::metadata(p)).is_err());
        // The thread is back where it was between calls.
        assert_eq!(std::env::current_dir().unwrap(), before);
        // A short path is used as given.
        assert!(with(dir.path(), |p| Ok(p == dir.path())).unwrap());
    }
}
