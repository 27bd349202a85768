//! What `stat` shows: attributes of real files (from `lstat` at the time of the call, under our inode number, with
//! the number a hard-linked file shares with its other names) and of virtual folders (owned by the mounting user,
//! dated at mount time).

use super::SpaceFs;
use crate::error::{Error, Result};
use crate::library::{EntryKind, Reader};
use crate::longpath;
use crate::view::{Node, NodeKind};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl SpaceFs {
    /// The inode number `locations/` shows for a real entry: a file with several hard links shows one number for
    /// all its names (its first entry's), as a disk does, so the kernel knows they are one file.
    pub(super) fn shown_ino(
        &self,
        reader: &Reader,
        ino: u64,
        kind: NodeKind,
        nlink: u64,
        device: u64,
        inode: u64,
    ) -> u64 {
        if nlink < 2 || kind == NodeKind::Dir || !crate::inode::is_entry(ino) {
            return ino;
        }
        match reader.first_link(device, inode) {
            // A name removed before may have given the file the number the kernel knows it by: keep that one.
            Ok(Some(first)) => self.inodes.ino_of(Node::Entry(self.inodes.aliased_as(first).unwrap_or(first))),
            _ => ino,
        }
    }

    pub(super) fn attr_of(&self, reader: &Reader, node: Node) -> Result<Attr> {
        let ino = self.inodes.ino_of(node);
        if let Node::Foreign(..) = node {
            // Another device's file: as its snapshot says, whether or not it can be read here.
            let foreign = crate::view::of(node).foreign(&self.ctx(reader), node)?;
            return Ok(self.foreign_attr(ino, &foreign));
        }
        match self.real_path_of(reader, node)? {
            Some(path) => {
                let meta = longpath::with(&path, |p| std::fs::symlink_metadata(p)).map_err(|e| Error::io(&path, e))?;
                let mut attr = self.real_attr(ino, &meta);
                attr.ino = self.shown_ino(reader, ino, attr.kind, meta.nlink(), meta.dev(), meta.ino());
                Ok(attr)
            }
            None => Ok(self.virtual_dir_attr(ino, node)),
        }
    }

    pub(super) fn real_attr(&self, ino: u64, meta: &Metadata) -> Attr {
        let kind = NodeKind::of_entry(EntryKind::from_file_type(meta.file_type()));
        let time = system_time;
        Attr {
            ino,
            kind,
            size: meta.size(),
            blocks: meta.blocks(),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            perm: (meta.mode() & 0o7777) as u16,
            nlink: shown_nlink(ino, kind, meta.nlink()),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: meta.rdev() as u32,
            blksize: meta.blksize() as u32,
            format: meta.mode() & libc::S_IFMT,
            short_ttl: false,
        }
    }

    pub(super) fn stat_attr(&self, ino: u64, st: &libc::stat) -> Attr {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => NodeKind::Dir,
            libc::S_IFREG => NodeKind::File,
            libc::S_IFLNK => NodeKind::Symlink,
            _ => NodeKind::Other,
        };
        Attr {
            ino,
            kind,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: system_time(st.st_atime, st.st_atime_nsec),
            mtime: system_time(st.st_mtime, st.st_mtime_nsec),
            ctime: system_time(st.st_ctime, st.st_ctime_nsec),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: shown_nlink(ino, kind, st.st_nlink),
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            format: st.st_mode & libc::S_IFMT,
            short_ttl: false,
        }
    }

    fn foreign_attr(&self, ino: u64, f: &crate::view::Foreign) -> Attr {
        let time = |ns: i64| system_time(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
        if let Some(target) = &f.link {
            let size = target.len() as u64;
            let (mtime, ctime) = (time(f.mtime_ns), time(f.ctime_ns));
            let (uid, gid) = (self.uid, self.gid);
            return Attr {
                ino,
                kind: NodeKind::Symlink,
                size,
                blocks: 0,
                atime: mtime,
                mtime,
                ctime,
                perm: 0o777,
                nlink: 1,
                uid,
                gid,
                rdev: 0,
                blksize: 4096,
                format: libc::S_IFLNK,
                short_ttl: false,
            };
        }
        Attr {
            ino,
            kind: NodeKind::File,
            size: f.size,
            blocks: f.size.div_ceil(512),
            atime: time(f.mtime_ns),
            mtime: time(f.mtime_ns),
            ctime: time(f.ctime_ns),
            // Read-only, whatever it is there: a view of another device changes nothing.
            perm: (f.mode & 0o555) as u16,
            nlink: 1,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            format: libc::S_IFREG,
            short_ttl: false,
        }
    }

    pub(super) fn virtual_dir_attr(&self, ino: u64, node: Node) -> Attr {
        let writable = !self.options.read_only && node != Node::Root && !crate::view::of(node).read_only();
        Attr {
            ino,
            kind: NodeKind::Dir,
            size: 0,
            blocks: 0,
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            perm: if writable { 0o755 } else { 0o555 },
            nlink: 2,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            format: 0,
            short_ttl: false,
        }
    }
}

/// What `stat` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: NodeKind,
    pub size: u64,
    pub blocks: u64,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub blksize: u32,
    /// The file type bits of a real file's mode (`S_IFMT`), which tell the kinds of `NodeKind::Other` apart; 0 for
    /// virtual folders.
    pub format: u32,
    /// The kernel may cache this entry only briefly: it is a view entry the dentry record had no room for, so a
    /// library change could not tell the kernel to drop it.
    pub short_ttl: bool,
}

/// A file's link count as the mount shows it. In `locations/`, the disk's. A file seen through a view counts one
/// more link, for its place in the library: the kernel takes one off for every `rm` in a view and would consider a
/// file with none left gone (a later `ln` of it would fail with ENOENT), though on disk it is untouched.
pub(super) fn shown_nlink(ino: u64, kind: NodeKind, on_disk: u64) -> u32 {
    let extra = u64::from(kind == NodeKind::File && !crate::inode::is_entry(ino));
    (on_disk + extra).min(u64::from(u32::MAX)) as u32
}

pub(super) fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}
