//! Extended attributes: what spacefs serves from the library (tags, notes, labels, flags, content id, uuid, Finder
//! tags; a tag folder's colour) and what passes through to the real file (other `user.*` names). Codecs are in
//! `crate::xattr`.

use super::SpaceFs;
use crate::error::{Error, Result};
use crate::library::EntryId;
use crate::library::write::Flag;
use crate::longpath;
use crate::view::{self, Node};
use crate::xattr;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

impl SpaceFs {
    /// getxattr. A file deleted while open answers through its descriptor, as on a disk.
    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>> {
        // A file written through the mount is recorded at its release, which the kernel sends after close(2) has
        // returned: asked for its content id before that, it is recorded now.
        if name == xattr::CAS_ID && self.open_for_writing(ino) {
            self.record_change(ino)?;
        }
        self.or_open(ino, || self.getxattr_named(ino, name), |file| self.getxattr_open(file, name))
    }

    /// listxattr. `privileged`: the caller may see `trusted.*` names (root), as a disk shows them only to root.
    pub fn listxattr(&self, ino: u64, privileged: bool) -> Result<Vec<u8>> {
        self.or_open(ino, || self.listxattr_named(ino, privileged), |file| self.listxattr_open(file, privileged))
    }

    /// setxattr; `flags` are XATTR_CREATE / XATTR_REPLACE.
    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        match self.setxattr_named(ino, name, value, flags) {
            Err(err) if err.errno() == libc::ENOENT => match self.any_open_file(ino) {
                Some(file) => self.setxattr_open(ino, &file, name, value, flags).map_err(|_| err),
                None => Err(err),
            },
            done => done,
        }
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> Result<()> {
        self.or_open(ino, || self.removexattr_named(ino, name), |file| self.removexattr_open(ino, file, name))
    }

    /// getxattr of a real attribute on a file open through the mount (its name may be gone).
    fn getxattr_open(&self, file: &File, name: &OsStr) -> Result<Vec<u8>> {
        use ::xattr::FileExt;
        if is_owned(name.as_bytes()) {
            return Err(Error::NoAttribute);
        }
        let value = file.get_xattr(name).map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        value.ok_or(Error::NoAttribute)
    }

    /// listxattr of a file open through the mount: its own attributes.
    fn listxattr_open(&self, file: &File, privileged: bool) -> Result<Vec<u8>> {
        use ::xattr::FileExt;
        let names = file.list_xattr().map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        Ok(names
            .filter(|n| shows_through(n.as_bytes(), privileged))
            .flat_map(|n| {
                let mut n = n.into_vec();
                n.push(0);
                n
            })
            .collect())
    }

    /// removexattr of a real attribute on a file open through the mount (its name may be gone).
    fn removexattr_open(&self, ino: u64, file: &File, name: &OsStr) -> Result<()> {
        use ::xattr::FileExt;
        self.check_writable(self.node(ino)?)?;
        if is_owned(name.as_bytes()) {
            return Err(Error::NotFound(String::new()));
        }
        file.remove_xattr(name).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODATA) => Error::NoAttribute,
            _ => Error::io(std::path::Path::new("an open file"), e),
        })
    }

    /// setxattr of a real attribute (not one spacefs serves) on a file open through the mount.
    fn setxattr_open(&self, ino: u64, file: &File, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        self.check_writable(self.node(ino)?)?;
        if is_owned(name.as_bytes()) {
            return Err(Error::NotFound(String::new()));
        }
        let c_name = std::ffi::CString::new(name.as_bytes()).map_err(|_| Error::Invalid("NUL in a name".into()))?;
        // SAFETY: a descriptor we own, a NUL-terminated name and a buffer of the length given.
        let rc =
            unsafe { libc::fsetxattr(file.as_raw_fd(), c_name.as_ptr(), value.as_ptr().cast(), value.len(), flags) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::io(std::path::Path::new("an open file"), std::io::Error::last_os_error()))
        }
    }

    /// The entry behind a node, for the nodes that carry metadata (for a hard-linked file whose first name is
    /// gone, a name it lives on under).
    pub(super) fn entry_of(&self, node: Node) -> Option<EntryId> {
        match node {
            Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::Shown(_, id) | Node::ViewFile(id) => {
                Some(self.inodes.link_alias(id).unwrap_or(id))
            }
            _ => None,
        }
    }

    fn getxattr_named(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>> {
        // What spacefs serves (tags, content id, uuid) comes from the library, which must hold what is queued.
        if is_owned(name.as_bytes()) || name == xattr::FINDER_TAGS {
            self.settle();
        }
        self.settled(|| self.getxattr_now(ino, name))
    }

    pub(super) fn getxattr_now(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let name = name.as_bytes();
        // Other namespaces (POSIX ACLs, security.*, trusted.*) are the real file's in `locations/`, without reading
        // the library (the kernel asks for security.capability before a file's first write). Where the real file
        // has none, the answer is "not supported", not "absent": `ls -l` asks every file for its ACL and SELinux
        // label until a file system says it has none, and through the mount each question is a round trip.
        if !name.starts_with(b"user.") && name != xattr::FINDER_TAGS.as_bytes() {
            return match node {
                Node::Entry(_) => match self.real_xattr(node, name, |path, n| ::xattr::get(path, n)) {
                    Ok(Some(value)) => Ok(value),
                    Ok(None) | Err(Error::NoAttribute) => Err(not_supported(name)),
                    Err(err) => Err(err),
                },
                _ => Err(not_supported(name)),
            };
        }
        // Where a `user.*` name is not served, it is absent (ENODATA), as on any file system with user attributes:
        // KDE asks for `user.test` and takes ENOTSUP for "no attributes here" (Dolphin then shows no Tags, Rating
        // or Comment).
        let absent = |err: Error| match err {
            Error::NotSupported(_) if name.starts_with(b"user.") => Error::NoAttribute,
            err => err,
        };
        let Some(entry) = self.entry_of(node) else {
            return self.in_view(|cx| view::of(node).get_xattr(cx, node, name)).map_err(absent);
        };
        let meta = self.with_reader(|r| r.entry_meta(entry))?.ok_or_else(|| Error::NotFound(String::new()))?;
        let value = match std::str::from_utf8(name).unwrap_or("") {
            xattr::XDG_TAGS => non_empty(meta.tags.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(",")),
            xattr::XDG_COMMENT => meta.notes.filter(|n| !n.is_empty()).map(String::into_bytes),
            xattr::RATING => meta.rating.map(|r| r.to_string().into_bytes()),
            xattr::LABELS => non_empty(meta.labels.join(",")),
            xattr::FAVORITE => Some(if meta.favorite { b"1".to_vec() } else { b"0".to_vec() }),
            xattr::HIDDEN => Some(if meta.hidden { b"1".to_vec() } else { b"0".to_vec() }),
            xattr::CAS_ID => meta.cas_id.map(String::into_bytes),
            xattr::UUID => Some(meta.uuid.into_bytes()),
            xattr::FINDER_TAGS => (!meta.tags.is_empty()).then(|| xattr::encode_finder_tags(&meta.tags)),
            _ => {
                let value = self.real_xattr(node, name, |path, n| ::xattr::get(path, n)).map_err(absent)?;
                return value.ok_or(Error::NoAttribute);
            }
        };
        value.ok_or(Error::NoAttribute)
    }

    fn listxattr_named(&self, ino: u64, privileged: bool) -> Result<Vec<u8>> {
        self.settle();
        self.settled(|| self.listxattr_now(ino, privileged))
    }

    pub(super) fn listxattr_now(&self, ino: u64, privileged: bool) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        if let Some(entry) = self.entry_of(node) {
            let meta = self.with_reader(|r| r.entry_meta(entry))?.ok_or_else(|| Error::NotFound(String::new()))?;
            let has_tags = !meta.tags.is_empty();
            // Listed: what a user set. Not listed, though answered by name: the content id and uuid (read-only:
            // `rsync -X` would try to remove them from each file it copies in, and fail) and, on Linux, Finder's name
            // (outside the namespaces a Linux file system takes: copies out with attributes would fail on it).
            for (present, name) in [
                (has_tags, xattr::XDG_TAGS),
                (meta.notes.as_deref().is_some_and(|n| !n.is_empty()), xattr::XDG_COMMENT),
                (meta.rating.is_some(), xattr::RATING),
                (!meta.labels.is_empty(), xattr::LABELS),
                (meta.favorite, xattr::FAVORITE),
                (meta.hidden, xattr::HIDDEN),
                (has_tags && cfg!(target_os = "macos"), xattr::FINDER_TAGS),
            ] {
                if present {
                    names.push(name.into());
                }
            }
            if let (Node::Entry(_), Some(path)) = (node, self.real_path(ino)?) {
                for own in longpath::with(&path, |p| ::xattr::list(p)).map_err(|e| Error::io(&path, e))? {
                    let own = own.as_bytes().to_vec();
                    if shows_through(&own, privileged) && !names.contains(&own) {
                        names.push(own);
                    }
                }
            }
        } else {
            let own = self.in_view(|cx| view::of(node).list_xattr(cx, node))?;
            names.extend(own.into_iter().map(|n| n.as_bytes().to_vec()));
        }
        Ok(names
            .into_iter()
            .flat_map(|mut n| {
                n.push(0);
                n
            })
            .collect())
    }

    /// Sets an attribute. `flags` are setxattr's XATTR_CREATE / XATTR_REPLACE.
    fn setxattr_named(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        self.settled(|| self.setxattr_now(ino, name, value, flags))
    }

    pub(super) fn setxattr_now(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        if value.len() > xattr::MAX_VALUE {
            return Err(Error::TooBig(format!("values are limited to {} bytes", xattr::MAX_VALUE)));
        }
        if flags & (libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
            let exists = match self.getxattr_named(ino, name) {
                Ok(_) => true,
                // (A real file's missing attribute of another namespace reads as not supported: see getxattr_now.)
                Err(Error::NoAttribute) | Err(Error::NotSupported(_)) => false,
                Err(err) => return Err(err),
            };
            if exists && flags & libc::XATTR_CREATE != 0 {
                return Err(Error::AlreadyExists("the attribute exists".into()));
            }
            if !exists && flags & libc::XATTR_REPLACE != 0 {
                return Err(Error::NoAttribute);
            }
        }
        let bytes = name.as_bytes();
        let writer = self.library.writer();
        let Some(entry) = self.entry_of(node) else {
            return self.in_view(|cx| view::of(node).set_xattr(cx, node, bytes, Some(value)));
        };
        match std::str::from_utf8(bytes).unwrap_or("") {
            xattr::XDG_TAGS => writer.set_tags(entry, xattr::parse_tag_list(value)?, Vec::new()),
            xattr::XDG_COMMENT => {
                let text = std::str::from_utf8(value).map_err(|_| Error::Invalid("notes must be UTF-8 text".into()))?;
                writer.set_notes(entry, (!text.is_empty()).then(|| text.to_owned()))
            }
            xattr::RATING => writer.set_rating(entry, xattr::parse_rating(value)?),
            xattr::LABELS => writer.set_labels(entry, xattr::parse_label_list(value)?),
            xattr::FAVORITE => writer.set_flag(vec![entry], Flag::Favorite, xattr::parse_bool(value)?).map(drop),
            xattr::HIDDEN => writer.set_flag(vec![entry], Flag::Hidden, xattr::parse_bool(value)?).map(drop),
            xattr::CAS_ID | xattr::UUID => {
                Err(Error::NotPermitted(format!("{} is read-only", String::from_utf8_lossy(bytes))))
            }
            xattr::FINDER_TAGS => {
                let tagged = xattr::decode_finder_tags(value)?;
                let colors = tagged.iter().filter(|(_, c)| c.is_some()).cloned().collect();
                writer.set_tags(entry, tagged.into_iter().map(|(t, _)| t).collect(), colors)
            }
            _ => self.real_xattr(node, bytes, |path, n| ::xattr::set(path, n, value)),
        }
    }

    fn removexattr_named(&self, ino: u64, name: &OsStr) -> Result<()> {
        self.settled(|| self.removexattr_now(ino, name))
    }

    pub(super) fn removexattr_now(&self, ino: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        let bytes = name.as_bytes();
        let writer = self.library.writer();
        let Some(entry) = self.entry_of(node) else {
            return self.in_view(|cx| view::of(node).set_xattr(cx, node, bytes, None));
        };
        match std::str::from_utf8(bytes).unwrap_or("") {
            xattr::XDG_TAGS | xattr::FINDER_TAGS => writer.set_tags(entry, Vec::new(), Vec::new()),
            xattr::XDG_COMMENT => writer.set_notes(entry, None),
            xattr::RATING => writer.set_rating(entry, None),
            xattr::LABELS => writer.set_labels(entry, Vec::new()),
            xattr::FAVORITE => writer.set_flag(vec![entry], Flag::Favorite, false).map(drop),
            xattr::HIDDEN => writer.set_flag(vec![entry], Flag::Hidden, false).map(drop),
            xattr::CAS_ID | xattr::UUID => {
                Err(Error::NotPermitted(format!("{} is read-only", String::from_utf8_lossy(bytes))))
            }
            _ => self.real_xattr(node, bytes, |path, n| ::xattr::remove(path, n)),
        }
    }

    /// Attributes spacefs does not serve pass through to the real file in `locations/`; what views show has none.
    pub(super) fn real_xattr<T>(
        &self,
        node: Node,
        name: &[u8],
        op: impl FnOnce(&std::path::Path, &OsStr) -> std::io::Result<T>,
    ) -> Result<T> {
        if !matches!(node, Node::Entry(_)) {
            return Err(not_supported(name));
        }
        let path = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| Error::NotFound(String::new()))?;
        longpath::with(&path, |p| op(p, OsStr::from_bytes(name))).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODATA) => Error::NoAttribute,
            _ => Error::io(&path, e),
        })
    }
}

pub(super) fn not_supported(name: &[u8]) -> Error {
    Error::NotSupported(format!("{} is not supported here", String::from_utf8_lossy(name)))
}

pub(super) fn non_empty(text: String) -> Option<Vec<u8>> {
    (!text.is_empty()).then(|| text.into_bytes())
}

/// Whether a real file's attribute is listed through the mount: not one spacefs answers itself, and `trusted.*`
/// only to root, as the disk lists them.
fn shows_through(name: &[u8], privileged: bool) -> bool {
    !is_owned(name) && (privileged || !name.starts_with(b"trusted."))
}

/// Names spacefs answers itself, which a real file's own attributes of the same name do not show through.
pub(super) fn is_owned(name: &[u8]) -> bool {
    [
        xattr::XDG_TAGS,
        xattr::XDG_COMMENT,
        xattr::RATING,
        xattr::LABELS,
        xattr::FAVORITE,
        xattr::HIDDEN,
        xattr::CAS_ID,
        xattr::UUID,
    ]
    .iter()
    .any(|n| n.as_bytes() == name)
}
