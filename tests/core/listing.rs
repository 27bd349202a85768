//! Listings and lookups through the core: paging, restarting, resolving views.

use crate::common::Fixture;
use crate::{errno, no_backing};
use spacefs::fs::{Attr, DirSink, FsOptions, SpaceFs};
use spacefs::inode::ROOT;
use spacefs::library::{IndexMode, Library};
use spacefs::names::TagName;
use spacefs::view::NodeKind;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Takes at most `room` entries per call, like a small kernel buffer.
struct Collect {
    room: usize,
    taken: Vec<(u64, Vec<u8>, bool)>,
}

impl DirSink for Collect {
    fn add(&mut self, _ino: u64, offset: u64, _kind: NodeKind, name: &OsStr, attr: Option<&Attr>) -> bool {
        if self.room == 0 {
            return true;
        }
        self.room -= 1;
        self.taken.push((offset, name.as_bytes().to_vec(), attr.is_some()));
        false
    }
}

fn setup(files: usize) -> (Fixture, SpaceFs) {
    let fx = Fixture::new();
    for i in 0..files {
        fx.write(format!("f{i:05}.txt"), format!("{i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let location = crate::common::add_indexed(&lib, &fx.files(), "files", IndexMode::Metadata);
    let ids: Vec<_> = lib.reader().unwrap().folder_children(location.id, b"", 0, usize::MAX >> 1).unwrap();
    lib.writer().tag(ids.iter().map(|c| c.id).collect(), vec![TagName::parse("all").unwrap()]).unwrap();
    (fx, SpaceFs::new(lib, FsOptions::default()))
}

/// Lists a folder to the end, `room` entries per call, resuming from the last offset each time.
fn list_all(fs: &SpaceFs, ino: u64, room: usize, plus: bool) -> Vec<(u64, Vec<u8>, bool)> {
    let (fh, _) = fs.opendir(ino).unwrap();
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let mut sink = Collect { room, taken: Vec::new() };
        fs.readdir(ino, fh, offset, plus, &mut sink).unwrap();
        let Some(last) = sink.taken.last() else { break };
        offset = last.0;
        all.extend(sink.taken);
    }
    fs.releasedir(fh);
    all
}

#[test]
fn listings_page_through_large_folders_without_loss_or_repeats() {
    let (_fx, fs) = setup(1300);
    let tags = fs.lookup(ROOT, OsStr::new("tags")).unwrap().ino;
    let all = fs.lookup(tags, OsStr::new("all")).unwrap().ino;
    for (room, plus) in [(7, true), (100, false), (5000, true)] {
        let listed = list_all(&fs, all, room, plus);
        let names: Vec<Vec<u8>> = listed.iter().map(|(_, n, _)| n.clone()).collect();
        let mut expected: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
        expected.extend((0..1300).map(|i| format!("f{i:05}.txt").into_bytes()));
        let mut sorted = names.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "room {room}");
        assert!(listed.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase (room {room})");
        assert!(listed.iter().all(|(_, _, has_attr)| *has_attr == plus));
    }
}

#[test]
fn a_listing_can_restart_from_any_offset_it_returned() {
    let (_fx, fs) = setup(600);
    let location = fs.lookup(fs.lookup(ROOT, OsStr::new("locations")).unwrap().ino, OsStr::new("files")).unwrap().ino;
    let full = list_all(&fs, location, 10_000, true);
    let (fh, _) = fs.opendir(location).unwrap();
    // Read a little, then seek back to an earlier offset (telldir/seekdir): the rest must follow it exactly.
    let mut sink = Collect { room: 50, taken: Vec::new() };
    fs.readdir(location, fh, 0, true, &mut sink).unwrap();
    let resume_at = full[20].0;
    let mut rest = Collect { room: 10_000, taken: Vec::new() };
    fs.readdir(location, fh, resume_at, true, &mut rest).unwrap();
    assert_eq!(rest.taken, full[21..].to_vec());
    fs.releasedir(fh);
}

#[test]
fn lookups_resolve_views_and_refuse_what_is_not_there() {
    let (_fx, fs) = setup(3);
    let tags = fs.lookup(ROOT, OsStr::new("tags")).unwrap();
    assert_eq!(tags.kind, NodeKind::Dir);
    let all = fs.lookup(tags.ino, OsStr::new("all")).unwrap();
    let file = fs.lookup(all.ino, OsStr::new("f00001.txt")).unwrap();
    assert_eq!((file.kind, file.size), (NodeKind::File, 1));
    let same = fs.lookup(
        fs.lookup(fs.lookup(ROOT, OsStr::new("locations")).unwrap().ino, OsStr::new("files")).unwrap().ino,
        OsStr::new("f00001.txt"),
    );
    assert_ne!(same.unwrap().ino, file.ino, "views and locations/ show a file under different inodes");
    assert_eq!(fs.lookup(all.ino, OsStr::new("nope")).unwrap_err().errno(), libc::ENOENT);
    assert_eq!(fs.lookup(tags.ino, OsStr::from_bytes(&[b'x'; 256])).unwrap_err().errno(), libc::ENAMETOOLONG);
    let (fh, _) = fs.open(file.ino, libc::O_WRONLY, no_backing).unwrap();
    assert!(fs.handle_file(fh, true).is_ok(), "files open for writing (to the real file)");
    fs.release(file.ino, fh).unwrap();
    assert_eq!(errno(fs.handle_file(fh, false)), libc::EBADF, "a released handle is gone");
    assert_eq!(errno(fs.open(all.ino, libc::O_WRONLY, no_backing)), libc::EPERM, "a virtual folder is no file");
    let (fh, _) = fs.open(file.ino, libc::O_RDONLY, no_backing).unwrap();
    assert_eq!(errno(fs.handle_file(fh, true)), libc::EBADF, "not open for writing");
    let mut body = String::new();
    std::io::Read::read_to_string(&mut fs.handle_file(fh, false).unwrap(), &mut body).unwrap();
    assert_eq!(body, "1");
    fs.release(file.ino, fh).unwrap();
}
