//! The indexer and the library, used through the crate's API against a real SQLite file and real folders.

mod common;

use common::Fixture;
use spacefs::index::{self, ScanOptions, ScanReport};
use spacefs::library::{EntryId, EntryKind, IndexMode, Library, Location};
use spacefs::names::{LabelPath, TagName};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn add(lib: &Library, dir: &Path, name: &str, mode: IndexMode) -> (Location, ScanReport) {
    let location = common::add_location(lib, dir, name, mode);
    let report = index::scan(lib, &location, ScanOptions::default()).unwrap();
    (location, report)
}

fn rescan(lib: &Library, location: &Location) -> ScanReport {
    index::scan(lib, location, ScanOptions::default()).unwrap()
}

fn entry(lib: &Library, location: &Location, rel_parent: &[u8], name: &[u8]) -> EntryId {
    lib.reader().unwrap().entry_by_path(location.id, rel_parent, name).unwrap().expect("entry indexed")
}

fn tag(names: &[&str]) -> Vec<TagName> {
    names.iter().map(|n| TagName::parse(n).unwrap()).collect()
}

/// (cas_id, full_hash) of an entry's content, read straight from the database.
fn content_of(lib: &Library, id: EntryId) -> Option<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(lib.path()).unwrap();
    conn.query_row(
        "SELECT ci.cas_id, ci.full_hash FROM entries e JOIN content_identity ci ON ci.id = e.content_id WHERE e.id = ?1",
        [id.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

#[test]
fn non_utf8_and_255_byte_names_round_trip() {
    let fx = Fixture::new();
    let latin1 = b"caf\xe9 \xff.txt".to_vec();
    let long = [vec![b'n'; 251], b".txt".to_vec()].concat();
    assert_eq!(long.len(), 255);
    std::fs::write(fx.files().join(OsStr::from_bytes(&latin1)), b"one").unwrap();
    std::fs::write(fx.files().join(OsStr::from_bytes(&long)), b"two").unwrap();
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);

    let mut names: Vec<Vec<u8>> =
        lib.reader().unwrap().children_stamps(loc.id, b"").unwrap().into_iter().map(|s| s.name).collect();
    names.sort();
    let mut expected = vec![latin1.clone(), long.clone()];
    expected.sort();
    assert_eq!(names, expected);

    // And back out through the CLI, byte for byte.
    let ids = vec![entry(&lib, &loc, b"", &latin1), entry(&lib, &loc, b"", &long)];
    lib.writer().tag(ids, tag(&["odd"])).unwrap();
    drop(lib);
    let run = fx.run(["find", "--tag", "odd"]);
    run.ok();
    let root = fx.files().canonicalize().unwrap();
    let mut lines: Vec<&[u8]> = run.stdout_bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    lines.sort();
    let mut want = [root.join(OsStr::from_bytes(&latin1)), root.join(OsStr::from_bytes(&long))];
    want.sort();
    let want: Vec<&[u8]> = want.iter().map(|p| p.as_os_str().as_bytes()).collect();
    assert_eq!(lines, want);
}

#[test]
fn rescan_rehashes_only_what_changed() {
    let fx = Fixture::new();
    for i in 0..50 {
        fx.write(format!("dir{}/file{i}.txt", i % 5), format!("content {i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, first) = add(&lib, &fx.files(), "files", IndexMode::Content);
    assert_eq!((first.hashed, first.totals.files, first.totals.dirs), (50, 50, 5));

    let unchanged = rescan(&lib, &loc);
    assert_eq!((unchanged.hashed, unchanged.upserted, unchanged.removed), (0, 0, 0));

    fx.write("dir0/file0.txt", b"changed content, longer");
    fx.write("dir1/new.txt", b"new file");
    std::fs::remove_file(fx.file("dir2/file2.txt")).unwrap();
    let changed = rescan(&lib, &loc);
    assert_eq!(changed.hashed, 2, "the modified and the new file only: {changed:?}");
    assert_eq!(changed.removed, 1);
    assert_eq!(changed.totals.files, 50);
    let id = entry(&lib, &loc, b"dir0", b"file0.txt");
    assert!(content_of(&lib, id).is_some());
}

#[test]
fn vanished_files_keep_their_tags_as_orphans() {
    let fx = Fixture::new();
    fx.write("keep.txt", b"keep");
    fx.write("gone.txt", b"gone");
    fx.write("folder/inner.txt", b"inner");
    fx.write("folder/plain.txt", b"plain");
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let gone = entry(&lib, &loc, b"", b"gone.txt");
    let inner = entry(&lib, &loc, b"folder", b"inner.txt");
    lib.writer().tag(vec![gone, inner], tag(&["important"])).unwrap();
    lib.writer().set_notes(gone, Some("remember me".into())).unwrap();

    std::fs::remove_file(fx.file("gone.txt")).unwrap();
    std::fs::remove_dir_all(fx.file("folder")).unwrap();
    let report = rescan(&lib, &loc);
    assert_eq!(report.removed, 4, "gone.txt, folder and its two files");
    assert_eq!(report.orphaned, 2, "only the entries that carried metadata");

    let reader = lib.reader().unwrap();
    assert_eq!(reader.status().unwrap().orphans, 2);
    assert!(reader.find(&tag(&["important"]), None, false).unwrap().is_empty());
    // The tag itself and its links survive, waiting to be re-linked.
    let conn = rusqlite::Connection::open(lib.path()).unwrap();
    let (links, paths): (i64, String) = conn
        .query_row(
            "SELECT count(*), group_concat(CAST(m.orphan_path AS TEXT), ' ') FROM metadata_tag mt \
             JOIN user_metadata m ON m.id = mt.metadata_id WHERE m.orphaned_at IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(links, 2);
    assert!(paths.contains("gone.txt") && paths.contains("folder/inner.txt"), "{paths}");
    let notes: String =
        conn.query_row("SELECT notes FROM user_metadata WHERE notes IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(notes, "remember me");
}

#[test]
fn xdg_tags_and_comment_are_imported() {
    let fx = Fixture::new();
    let file = fx.write("photo.jpg", b"jpeg");
    xattr::set(&file, "user.xdg.tags", b" holiday , family,holiday,").unwrap();
    xattr::set(&file, "user.xdg.comment", b"Grandma's birthday").unwrap();
    std::fs::create_dir(fx.file("album")).unwrap();
    xattr::set(fx.file("album"), "user.xdg.tags", b"albums").unwrap();
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, report) = add(&lib, &fx.files(), "files", IndexMode::Content);
    assert_eq!(report.tags_imported, 3);

    let reader = lib.reader().unwrap();
    let photo = entry(&lib, &loc, b"", b"photo.jpg");
    assert_eq!(reader.tags_of(photo).unwrap(), ["family", "holiday"]);
    assert_eq!(reader.metadata_of(photo).unwrap().0.as_deref(), Some("Grandma's birthday"));
    assert_eq!(reader.tags_of(entry(&lib, &loc, b"", b"album")).unwrap(), ["albums"]);
    // The real file is not changed by indexing.
    assert_eq!(xattr::get(&file, "user.xdg.tags").unwrap().unwrap(), b" holiday , family,holiday,");
}

#[test]
fn symlinks_are_recorded_and_never_followed() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"outside").unwrap();
    fx.write("real.txt", b"real");
    std::os::unix::fs::symlink(&outside, fx.file("link-out")).unwrap();
    std::os::unix::fs::symlink("..", fx.file("loop")).unwrap();
    std::os::unix::fs::symlink("missing", fx.file("dangling")).unwrap();
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, report) = add(&lib, &fx.files(), "files", IndexMode::Content);
    assert_eq!(report.seen, 4);
    let stamps = lib.reader().unwrap().children_stamps(loc.id, b"").unwrap();
    let links = stamps.iter().filter(|s| s.kind == EntryKind::Symlink).count();
    assert_eq!(links, 3);
    assert!(lib.reader().unwrap().children_stamps(loc.id, b"link-out").unwrap().is_empty());
}

#[test]
fn duplicates_need_identical_content_not_just_a_cas_id() {
    let fx = Fixture::new();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    fx.write("a/copy1.bin", &big);
    fx.write("b/copy2.bin", &big);
    // Same size, same sampled bytes, different in between: same cas_id, not duplicates.
    let base: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let mut twin = base.clone();
    twin[30_000] ^= 0xff;
    fx.write("c/sampled1.bin", &base);
    fx.write("c/sampled2.bin", &twin);
    // Hard links are one file; empty files are not duplicates.
    let linked = fx.write("d/linked.bin", b"hard linked content");
    std::fs::hard_link(&linked, fx.file("d/linked-too.bin")).unwrap();
    fx.write("e/empty1", b"");
    fx.write("e/empty2", b"");
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, report) = add(&lib, &fx.files(), "files", IndexMode::Content);
    assert_eq!(report.verified, 4, "the true copies and the cas_id twins get full hashes: {report:?}");

    let s1 = entry(&lib, &loc, b"c", b"sampled1.bin");
    let s2 = entry(&lib, &loc, b"c", b"sampled2.bin");
    let (c1, f1) = content_of(&lib, s1).unwrap();
    let (c2, f2) = content_of(&lib, s2).unwrap();
    assert_eq!(c1, c2, "the test needs a cas_id collision");
    assert_ne!(f1, f2);

    let groups = lib.reader().unwrap().dupe_groups().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let root = fx.files().canonicalize().unwrap();
    let paths: Vec<_> = groups[0].copies.iter().map(|c| c.path.clone()).collect();
    assert_eq!(paths, [root.join("a/copy1.bin"), root.join("b/copy2.bin")]);
    assert_eq!(groups[0].size, 200_000);
    assert_eq!(groups[0].full_hash, blake3::hash(&big).to_hex().to_string());

    // A third copy arriving later joins the verified group.
    fx.write("f/copy3.bin", &big);
    let later = rescan(&lib, &loc);
    assert_eq!(later.verified, 1);
    let groups = lib.reader().unwrap().dupe_groups().unwrap();
    assert_eq!(groups[0].copies.len(), 3);
}

#[test]
fn index_modes_hash_as_much_as_asked() {
    let fx = Fixture::new();
    fx.write("one.txt", b"one");
    fx.write("two.txt", b"two");
    let lib = Library::open(&fx.library()).unwrap();
    let (deep, report) = add(&lib, &fx.files(), "deep", IndexMode::Deep);
    assert_eq!(report.hashed, 2);
    let (_, full) = content_of(&lib, entry(&lib, &deep, b"", b"one.txt")).unwrap();
    assert_eq!(full.as_deref(), Some(blake3::hash(b"one").to_hex().as_str()));

    let other = Fixture::new();
    other.write("three.txt", b"three");
    let (meta, report) = add(&lib, &other.files(), "meta", IndexMode::Metadata);
    assert_eq!((report.hashed, report.totals.files), (0, 1));
    assert_eq!(content_of(&lib, entry(&lib, &meta, b"", b"three.txt")), None);
}

#[test]
fn a_folder_replaced_by_a_file_loses_its_old_children() {
    let fx = Fixture::new();
    fx.write("thing/a.txt", b"a");
    fx.write("thing/sub/b.txt", b"b");
    fx.write("thingy.txt", b"neighbour");
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    std::fs::remove_dir_all(fx.file("thing")).unwrap();
    fx.write("thing", b"now a file");
    let report = rescan(&lib, &loc);
    assert_eq!(report.removed, 3, "a.txt, sub and b.txt");
    assert_eq!((report.totals.files, report.totals.dirs), (2, 0));
    let stamps = lib.reader().unwrap().children_stamps(loc.id, b"").unwrap();
    let thing = stamps.iter().find(|s| s.name == b"thing").unwrap();
    assert_eq!(thing.kind, EntryKind::File);
}

#[test]
fn a_missing_location_folder_changes_nothing() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let id = entry(&lib, &loc, b"", b"a.txt");
    lib.writer().tag(vec![id], tag(&["kept"])).unwrap();
    std::fs::rename(fx.files(), fx.dir.path().join("unplugged")).unwrap();
    let err = index::scan(&lib, &loc, ScanOptions::default()).unwrap_err().to_string();
    assert!(err.contains("is its drive mounted?") && err.contains("nothing was changed"), "{err}");
    assert_eq!(lib.reader().unwrap().tags_of(id).unwrap(), ["kept"]);
}

#[test]
fn find_combines_tags_labels_and_favorites() {
    let fx = Fixture::new();
    for name in ["a", "b", "c", "d"] {
        fx.write(name, name.as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| entry(&lib, &loc, b"", n.as_bytes()));
    lib.writer().tag(vec![a, b, c], tag(&["x"])).unwrap();
    lib.writer().tag(vec![a, b], tag(&["y"])).unwrap();
    lib.writer().label(vec![a], LabelPath::parse("work/2026/q1").unwrap()).unwrap();
    lib.writer().label(vec![b, d], LabelPath::parse("work").unwrap()).unwrap();
    lib.writer().set_flag(vec![b, c], spacefs::library::write::Flag::Favorite, true).unwrap();
    let reader = lib.reader().unwrap();
    let names = |paths: Vec<std::path::PathBuf>| -> Vec<String> {
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    };
    let work = LabelPath::parse("work").unwrap();
    let q1 = LabelPath::parse("work/2026").unwrap();
    assert_eq!(names(reader.find(&tag(&["x"]), None, false).unwrap()), ["a", "b", "c"]);
    assert_eq!(names(reader.find(&tag(&["x", "y"]), None, false).unwrap()), ["a", "b"]);
    assert_eq!(names(reader.find(&[], Some(&work), false).unwrap()), ["a", "b", "d"]);
    assert_eq!(names(reader.find(&[], Some(&q1), false).unwrap()), ["a"]);
    assert_eq!(names(reader.find(&tag(&["x"]), Some(&work), true).unwrap()), ["b"]);
    assert!(reader.find(&tag(&["nope"]), None, false).unwrap_err().to_string().contains("no tag named 'nope'"));
}

#[test]
fn eight_taggers_and_four_readers_at_once() {
    let fx = Fixture::new();
    for i in 0..80 {
        fx.write(format!("f{i:02}"), format!("{i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let ids: Vec<EntryId> = (0..80).map(|i| entry(&lib, &loc, b"", format!("f{i:02}").as_bytes())).collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let reader = lib.reader().unwrap();
                    let mut reads = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        reader.tags_with_counts().unwrap();
                        reader.status().unwrap();
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let writers: Vec<_> = (0..8)
            .map(|t| {
                let ids = &ids;
                let lib = &lib;
                s.spawn(move || {
                    for (i, id) in ids.iter().enumerate() {
                        lib.writer().tag(vec![*id], tag(&[&format!("t{t}"), &format!("n{}", i % 7)])).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    });
    let counts = lib.reader().unwrap().tags_with_counts().unwrap();
    for t in 0..8 {
        let count = counts.iter().find(|(n, _, _)| n == &format!("t{t}")).map(|c| c.2);
        assert_eq!(count, Some(80), "tag t{t}");
    }
    assert_eq!(lib.reader().unwrap().tags_of(ids[0]).unwrap().len(), 9);
}

#[test]
fn a_failing_command_spoils_no_other_in_its_batch() {
    let fx = Fixture::new();
    for i in 0..40 {
        fx.write(format!("f{i:02}"), format!("{i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let ids: Vec<EntryId> = (0..40).map(|i| entry(&lib, &loc, b"", format!("f{i:02}").as_bytes())).collect();
    let missing = EntryId(i64::MAX);
    // Many threads at once so that commands share transactions; every fourth names an entry that does not exist.
    let results: Vec<(usize, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let lib = &lib;
                let ids = &ids;
                s.spawn(move || {
                    let target = if i % 4 == 0 { vec![ids[i], missing] } else { vec![ids[i]] };
                    (i, lib.writer().tag(target, tag(&["batch"])).is_ok())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let reader = lib.reader().unwrap();
    for (i, ok) in results {
        assert_eq!(ok, i % 4 != 0, "command {i}");
        let tags = reader.tags_of(ids[i]).unwrap();
        if i % 4 == 0 {
            assert!(tags.is_empty(), "a failed command must change nothing, entry {i} has {tags:?}");
        } else {
            assert_eq!(tags, ["batch"], "entry {i}");
        }
    }
}

#[test]
fn orphaned_tags_come_back_with_their_file_and_never_by_guess() {
    use spacefs::library::write::{ContentUpdate, ScanItem, ScannedEntry};
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    let lib = Library::open(&fx.library()).unwrap();
    let (loc, _) = add(&lib, &fx.files(), "files", IndexMode::Content);
    let a = entry(&lib, &loc, b"", b"a.txt");
    lib.writer().tag(vec![a], tag(&["kept"])).unwrap();
    let stamp = lib.reader().unwrap().children_stamps(loc.id, b"").unwrap().remove(0);
    // The file vanishes (its tags become an orphan) and comes back under the same inode and name: moved out of the
    // location and back (a rename keeps the inode). The writer checks items against the disk when it applies them.
    let outside = fx.dir.path().join("outside");
    std::fs::rename(fx.file("a.txt"), &outside).unwrap();
    lib.writer().apply_scan(loc.id, vec![ScanItem::Remove { id: a, dir_path: None }]).unwrap();
    std::fs::rename(&outside, fx.file("a.txt")).unwrap();
    assert_eq!(lib.reader().unwrap().status().unwrap().orphans, 1);
    let device = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(fx.file("a.txt")).unwrap()) as i64;
    let back = ScannedEntry {
        id: None,
        relative_path: Vec::new(),
        name: b"a.txt".to_vec(),
        kind: EntryKind::File,
        size: 1,
        mode: 0o100644,
        created_at: None,
        modified_at: stamp.modified_at,
        changed_at: stamp.changed_at,
        accessed_at: None,
        inode: stamp.inode,
        device,
        symlink_target: None,
        content: ContentUpdate::Clear,
        xdg_tags: Vec::new(),
        xdg_comment: None,
    };
    lib.writer().apply_scan(loc.id, vec![ScanItem::Upsert(Box::new(back.clone()))]).unwrap();
    assert_eq!(lib.writer().relink_orphans(loc.id).unwrap(), 1);
    let again = entry(&lib, &loc, b"", b"a.txt");
    assert_ne!(again, a, "a new entry");
    assert_eq!(lib.reader().unwrap().tags_of(again).unwrap(), ["kept"]);
    assert_eq!(lib.reader().unwrap().status().unwrap().orphans, 0);
    // An unrelated file that happens to get the freed inode number (other name, other content) is not a match.
    std::fs::rename(fx.file("a.txt"), &outside).unwrap();
    lib.writer().apply_scan(loc.id, vec![ScanItem::Remove { id: again, dir_path: None }]).unwrap();
    std::fs::rename(&outside, fx.file("stranger.bin")).unwrap();
    let stranger = ScannedEntry { name: b"stranger.bin".to_vec(), ..back };
    lib.writer().apply_scan(loc.id, vec![ScanItem::Upsert(Box::new(stranger))]).unwrap();
    assert_eq!(lib.writer().relink_orphans(loc.id).unwrap(), 0);
    assert_eq!(lib.reader().unwrap().status().unwrap().orphans, 1);
}

#[test]
fn rescan_relinks_by_verified_content_only_when_unambiguous() {
    let fx = Fixture::new();
    fx.write("old/report.txt", b"the report, verified by its full hash");
    let add_run = fx.run(["add".as_ref(), fx.files().as_os_str(), "--index-mode".as_ref(), "deep".as_ref()]);
    add_run.ok();
    fx.run(["tag".as_ref(), "kept".as_ref(), fx.file("old/report.txt").as_os_str()]).ok();
    // Deleted, then re-created elsewhere with the same content by another program (a new inode).
    std::fs::remove_file(fx.file("old/report.txt")).unwrap();
    fx.run(["rescan"]).ok();
    fx.write("new/report-copy.txt", b"the report, verified by its full hash");
    let run = fx.run(["rescan"]);
    assert!(run.ok().contains("re-linked the tags, labels and notes of 1 files"), "{run:?}");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("new/report-copy.txt").as_os_str()]).ok(), "kept\n");
    // Two candidates: no guess.
    fx.write("x/one.txt", b"same bytes");
    fx.write("x/two.txt", b"other");
    fx.run(["rescan"]).ok();
    fx.run(["tag".as_ref(), "solo".as_ref(), fx.file("x/one.txt").as_os_str()]).ok();
    // Keep the old inode in use (a link outside the location), so no new file can be matched by inode.
    std::fs::hard_link(fx.file("x/one.txt"), fx.dir.path().join("keepalive")).unwrap();
    std::fs::remove_file(fx.file("x/one.txt")).unwrap();
    fx.run(["rescan"]).ok();
    fx.write("y/a.txt", b"same bytes");
    fx.write("y/b.txt", b"same bytes");
    let run = fx.run(["rescan"]);
    assert!(!run.ok().contains("re-linked"), "{run:?}");
    assert!(fx.run(["find", "--tag", "solo"]).ok().is_empty());
    assert!(fx.run(["status"]).ok().contains("orphaned   1"));
}

#[test]
fn the_first_scan_of_a_location_inserts_only_what_the_disk_still_holds_and_keeps_what_another_writer_recorded() {
    use spacefs::library::write::{ContentUpdate, ScanItem, ScannedEntry};
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new();
    fx.write("kept.txt", b"kept");
    fx.write("gone.txt", b"gone");
    let lib = Library::open(&fx.library()).unwrap();
    let loc = common::add_location(&lib, &fx.files(), "files", IndexMode::Metadata);
    let scanned = |name: &str| {
        let meta = std::fs::symlink_metadata(fx.file(name)).unwrap();
        ScannedEntry {
            id: None,
            relative_path: Vec::new(),
            name: name.as_bytes().to_vec(),
            kind: EntryKind::File,
            size: meta.size() as i64,
            mode: meta.mode(),
            created_at: None,
            modified_at: meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
            changed_at: meta.ctime_nsec() + meta.ctime() * 1_000_000_000,
            accessed_at: None,
            inode: meta.ino() as i64,
            device: meta.dev() as i64,
            symlink_target: None,
            content: ContentUpdate::Clear,
            xdg_tags: tag(&["from-disk"]),
            xdg_comment: None,
        }
    };
    // Another writer (a mount writing in the new location) recorded kept.txt and tagged it before the scan's batch.
    let kept = scanned("kept.txt");
    lib.writer()
        .apply_scan(loc.id, vec![ScanItem::Upsert(Box::new(ScannedEntry { xdg_tags: Vec::new(), ..kept.clone() }))])
        .unwrap();
    let kept_id = entry(&lib, &loc, b"", b"kept.txt");
    lib.writer().tag(vec![kept_id], tag(&["mine"])).unwrap();
    // gone.txt was read by the walk, then deleted before its batch was applied.
    let gone = scanned("gone.txt");
    std::fs::remove_file(fx.file("gone.txt")).unwrap();

    let applied = lib
        .writer()
        .apply_first_scan(loc.id, vec![ScanItem::Upsert(Box::new(kept)), ScanItem::Upsert(Box::new(gone))])
        .unwrap();
    assert_eq!(applied.stale, 1, "the deleted file is not recorded");
    let reader = lib.reader().unwrap();
    assert_eq!(reader.entry_by_path(loc.id, b"", b"gone.txt").unwrap(), None);
    assert_eq!(entry(&lib, &loc, b"", b"kept.txt"), kept_id, "the recorded entry is kept, not duplicated");
    let mut tags = reader.tags_of(kept_id).unwrap();
    tags.sort();
    assert_eq!(tags, ["from-disk", "mine"], "the tag given before the scan is kept");
}

#[test]
fn the_first_scan_inserts_many_files_together_and_each_ends_as_if_inserted_alone() {
    use spacefs::library::write::ScanItem;
    let fx = Fixture::new();
    let name = |i: usize| format!("f{i:03}");
    for i in 0..150 {
        let body = match i % 10 {
            0 => b"the same bytes".to_vec(),
            1 => Vec::new(),
            _ => format!("file {i}").into_bytes(),
        };
        fx.write(name(i), &body);
    }
    let lib = Library::open(&fx.library()).unwrap();
    let loc = common::add_location(&lib, &fx.files(), "files", IndexMode::Content);
    // Another writer recorded the first twenty before the scan's batch, and one was tagged; five of them changed
    // after that, before the scan read them.
    let first: Vec<ScanItem> =
        (0..20).map(|i| index::entry_now(&loc, b"", name(i).as_bytes()).unwrap().unwrap()).collect();
    lib.writer().apply_scan(loc.id, first).unwrap();
    for i in 12..17 {
        fx.write(name(i), format!("file {i}, longer now").as_bytes());
    }
    let items: Vec<ScanItem> =
        (0..150).map(|i| index::entry_now(&loc, b"", name(i).as_bytes()).unwrap().expect("on disk")).collect();
    let tagged = entry(&lib, &loc, b"", b"f005");
    lib.writer().tag(vec![tagged], tag(&["mine"])).unwrap();
    // The last ten were read, then deleted before the batch was applied.
    for i in 140..150 {
        std::fs::remove_file(fx.file(name(i))).unwrap();
    }

    let applied = lib.writer().apply_first_scan(loc.id, items).unwrap();
    assert_eq!(applied.stale, 10, "deleted files are not recorded");
    let reader = lib.reader().unwrap();
    assert_eq!(reader.children_stamps(loc.id, b"").unwrap().len(), 140);
    assert_eq!(entry(&lib, &loc, b"", b"f005"), tagged, "an entry recorded before is kept, not duplicated");
    assert_eq!(reader.tags_of(tagged).unwrap(), ["mine"]);
    let contents: Vec<Option<(String, Option<String>)>> =
        (0..140).map(|i| content_of(&lib, entry(&lib, &loc, b"", name(i).as_bytes()))).collect();
    let same = contents[0].clone().expect("identical files have a content");
    for (i, content) in contents.iter().enumerate() {
        match i % 10 {
            0 => assert_eq!(content.as_ref(), Some(&same), "f{i:03} shares the content of f000"),
            1 => assert_eq!(content, &None, "an empty file has no content"),
            _ => assert!(content.is_some() && content.as_ref() != Some(&same), "f{i:03} has a content of its own"),
        }
    }
    let distinct: std::collections::HashSet<_> = contents.iter().flatten().collect();
    assert_eq!(distinct.len(), 1 + 140 - 28, "one content per distinct non-empty body");
    assert!(index::compare(&lib, &loc).unwrap().is_empty(), "the library equals the disk");
}

#[test]
fn a_first_scan_batch_records_no_file_the_disk_replaced_after_the_walk_read_it() {
    // Many files of one folder in a batch: the writer checks them against one listing of the folder.
    let fx = Fixture::new();
    let name = |i: usize| format!("f{i:03}");
    for i in 0..60 {
        fx.write(name(i), format!("file {i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let loc = common::add_location(&lib, &fx.files(), "files", IndexMode::Content);
    let items: Vec<_> = (0..60).map(|i| index::entry_now(&loc, b"", name(i).as_bytes()).unwrap().unwrap()).collect();
    // After the walk read them: f010 replaced by another file (saved by rename), f020 by a folder, f030 deleted.
    fx.write("new", b"another file");
    std::fs::rename(fx.file("new"), fx.file(name(10))).unwrap();
    std::fs::remove_file(fx.file(name(20))).unwrap();
    std::fs::create_dir(fx.file(name(20))).unwrap();
    std::fs::remove_file(fx.file(name(30))).unwrap();

    let applied = lib.writer().apply_first_scan(loc.id, items).unwrap();
    assert_eq!(applied.stale, 3, "the replaced and deleted files are not recorded");
    let reader = lib.reader().unwrap();
    for gone in [10, 20, 30] {
        assert_eq!(reader.entry_by_path(loc.id, b"", name(gone).as_bytes()).unwrap(), None, "{}", name(gone));
    }
    assert_eq!(reader.children_stamps(loc.id, b"").unwrap().len(), 57);
}

#[test]
fn a_scan_short_of_file_descriptors_still_reads_every_file() {
    // Each hasher opens the files of its chunk together: with few descriptors to spare, some opens fail with
    // EMFILE. Those files are opened again once descriptors are free, not reported unreadable.
    let fx = Fixture::new();
    for i in 0..1500 {
        fx.write(format!("f{i:04}"), format!("file {i}").as_bytes());
    }
    let lib = Library::open(&fx.library()).unwrap();
    let loc = common::add_location(&lib, &fx.files(), "files", IndexMode::Content);
    let reader = lib.reader().unwrap();
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit on a valid struct, in this test's own process (nextest runs each test alone).
    unsafe { assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0) };
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let scarce = libc::rlimit { rlim_cur: open_now + 48, rlim_max: limit.rlim_max };
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &scarce), 0) };
    let report = index::scan(&lib, &loc, ScanOptions::default());
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    let report = report.unwrap();
    assert_eq!(report.unreadable, 0, "{:?}", report.unreadable_examples);
    assert_eq!(report.hashed, 1500);
    let stamps = reader.children_stamps(loc.id, b"").unwrap();
    assert_eq!(stamps.len(), 1500);
    assert!(stamps.iter().all(|s| s.has_content), "every file has its content id");
}

/// The first scan of a new location while a daemon has the library mounted: a file the walk read and a program then
/// removed is not recorded. This process is not told of what the daemon does or is told (its watcher), so with
/// another process holding the library open the writer looks at the disk again (`write::apply_scan`).
#[test]
fn a_first_scan_records_no_file_removed_after_the_walk_read_it_while_a_daemon_has_the_library_open() {
    use spacefs::library::write;
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let more = fx.dir.path().join("more");
    std::fs::create_dir(&more).unwrap();
    let name = |i: usize| format!("f{i:02}");
    for i in 0..40 {
        std::fs::write(more.join(name(i)), format!("file {i}")).unwrap();
    }
    let mnt = fx.mount();
    let lib = Library::open(&fx.library()).unwrap();
    let location = common::add_location(&lib, &more, "more", IndexMode::Content);
    let walked_at = write::disk_changes();
    let items: Vec<_> =
        (0..40).map(|i| index::entry_now(&location, b"", name(i).as_bytes()).unwrap().unwrap()).collect();
    std::fs::remove_file(more.join("f07")).unwrap();

    let (done, answer) = crossbeam_channel::bounded(1);
    lib.writer().apply_scan_pipelined(location.id, items, (true, Some(walked_at)), &done).unwrap();
    let applied = answer.recv().unwrap().unwrap();
    assert_eq!(write::disk_changes(), walked_at, "nothing in this process told of the removal");
    assert_eq!(applied.stale, 1, "the removed file is not recorded");
    assert_eq!(lib.reader().unwrap().entry_by_path(location.id, b"", b"f07").unwrap(), None);
    assert!(index::compare(&lib, &location).unwrap().is_empty(), "the library equals the disk");
    mnt.unmount();
}
