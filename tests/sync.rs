//! One library across devices: libraries in one process exchanging through a temporary sync folder.
mod common;

use common::Fixture;
use spacefs::library::shared::Shared;
use spacefs::library::write::Flag;
use spacefs::library::{EntryId, IndexMode, Library};
use spacefs::names::TagName;
use std::collections::BTreeMap;
use std::path::Path;

/// A device: its own library and folder of files.
struct Device {
    fx: Fixture,
    lib: Library,
}

impl Device {
    fn new(files: &[&str]) -> Device {
        let fx = Fixture::new();
        for name in files {
            fx.write(name, name.as_bytes());
        }
        let lib = Library::open(&fx.library()).unwrap();
        common::add_indexed(&lib, &fx.files(), "files", IndexMode::Metadata);
        Device { fx, lib }
    }

    fn entry(&self, name: &str) -> EntryId {
        let location = self.lib.reader().unwrap().location_named("files").unwrap();
        self.lib.reader().unwrap().entry_by_path(location.id, b"", name.as_bytes()).unwrap().unwrap()
    }

    fn tag(&self, name: &str, tag: &str) {
        self.lib.writer().tag(vec![self.entry(name)], vec![TagName::parse(tag).unwrap()]).unwrap();
    }

    fn tags_of(&self, name: &str) -> Vec<String> {
        self.lib.reader().unwrap().tags_of(self.entry(name)).unwrap()
    }

    /// Tag names with their colours, as this library's tables hold them.
    fn tag_table(&self) -> BTreeMap<String, Option<String>> {
        let conn = rusqlite::Connection::open(self.fx.library()).unwrap();
        let mut stmt = conn.prepare("SELECT name, color FROM tags").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
    }

    fn join(&self, folder: &Path, name: &str) {
        spacefs::sync::join(&self.lib, folder, Some(name)).unwrap();
    }

    fn sync(&self) -> spacefs::sync::Synced {
        spacefs::sync::sync(&self.lib).unwrap()
    }

    fn shared(&self) -> Shared {
        spacefs::sync::shared_state(&self.lib).unwrap()
    }
}

/// `spacefs devices join DIR --name NAME` on a fixture's library, as a user runs it.
fn join_with_the_cli(fx: &Fixture, dir: &Path, name: &str) {
    fx.run(["devices".as_ref(), "join".as_ref(), dir.as_os_str(), "--name".as_ref(), name.as_ref()]).ok();
}

/// A device with its files (name, content) added as location `files`, joined to the sync folder `dir` with the
/// CLI as "laptop".
fn joined_laptop(dir: &Path, files: &[(&str, &[u8])]) -> Fixture {
    let laptop = Fixture::new();
    for (name, content) in files {
        laptop.write(name, content);
    }
    laptop.add();
    join_with_the_cli(&laptop, dir, "laptop");
    laptop
}

fn folder() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("spacefs-sync").tempdir().unwrap()
}

#[test]
fn offline_edits_on_two_devices_meet_in_either_order_and_a_late_joiner_gets_them_all() {
    let dir = folder();
    let laptop = Device::new(&["beach.jpg", "notes.txt"]);
    let desktop = Device::new(&["report.pdf"]);
    laptop.tag("beach.jpg", "holiday");
    desktop.tag("report.pdf", "work");
    laptop.join(dir.path(), "laptop");
    desktop.join(dir.path(), "desktop");
    laptop.sync();
    assert_eq!(laptop.shared(), desktop.shared());
    assert_eq!(laptop.tag_table().keys().collect::<Vec<_>>(), ["holiday", "work"]);
    assert_eq!(desktop.tag_table().keys().collect::<Vec<_>>(), ["holiday", "work"]);

    // Offline on both: the laptop renames a tag, colours one, favorites and notes a file; the desktop tags and
    // rates its file, hides it, and makes a tag of its own.
    laptop.lib.writer().rename_tag(TagName::parse("work").unwrap(), TagName::parse("job").unwrap()).unwrap();
    laptop.lib.writer().set_tag_color(TagName::parse("holiday").unwrap(), Some("#ff0000".into())).unwrap();
    laptop.lib.writer().set_flag(vec![laptop.entry("beach.jpg")], Flag::Favorite, true).unwrap();
    laptop.lib.writer().set_notes(laptop.entry("notes.txt"), Some("to read".into())).unwrap();
    desktop.tag("report.pdf", "holiday");
    desktop.tag("report.pdf", "urgent");
    desktop.lib.writer().set_rating(desktop.entry("report.pdf"), Some(8)).unwrap();
    desktop.lib.writer().set_flag(vec![desktop.entry("report.pdf")], Flag::Hidden, true).unwrap();

    // Desktop first, then laptop, then desktop again; then once more each (nothing changes any more).
    desktop.sync();
    laptop.sync();
    desktop.sync();
    let settled = laptop.shared();
    assert_eq!(desktop.shared(), settled);
    assert_eq!(laptop.sync().published, 0);
    assert_eq!(desktop.sync().merged, 0);

    let tags = BTreeMap::from([
        ("holiday".to_owned(), Some("#ff0000".to_owned())),
        ("job".to_owned(), None),
        ("urgent".to_owned(), None),
    ]);
    assert_eq!(laptop.tag_table(), tags);
    assert_eq!(desktop.tag_table(), tags);
    assert_eq!(desktop.tags_of("report.pdf"), ["holiday", "job", "urgent"], "the rename reached the desktop's file");
    assert_eq!(laptop.tags_of("beach.jpg"), ["holiday"]);
    assert_eq!(settled.favorite.len(), 1);
    assert_eq!(settled.hidden.len(), 1);
    assert_eq!(settled.notes.values().collect::<Vec<_>>(), ["to read"]);
    assert_eq!(settled.rating.values().collect::<Vec<_>>(), [&8]);

    // A device that joins late, with an empty library, is built from the folder alone.
    let late = Device::new(&[]);
    late.join(dir.path(), "nas");
    assert_eq!(late.shared(), settled);
    assert_eq!(late.tag_table(), tags);

    // The same exchanges in the other order give the same library.
    let dir2 = folder();
    let (one, two) = (Device::new(&["a"]), Device::new(&["b"]));
    one.tag("a", "x");
    two.tag("b", "y");
    two.join(dir2.path(), "two");
    one.join(dir2.path(), "one");
    two.sync();
    two.sync();
    one.sync();
    assert_eq!(one.shared(), two.shared());
    assert_eq!(one.tag_table(), two.tag_table());
}

#[test]
fn a_tag_created_under_one_name_on_two_devices_is_one_tag() {
    let dir = folder();
    let (a, b) = (Device::new(&["a.jpg"]), Device::new(&["b.jpg"]));
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    // Created offline on both, after joining.
    a.tag("a.jpg", "holiday");
    b.tag("b.jpg", "holiday");
    a.sync();
    b.sync();
    a.sync();
    let shared = a.shared();
    assert_eq!(shared.tags.len(), 1, "{shared:?}");
    assert_eq!(shared.tagged.len(), 2, "both files carry the one tag");
    assert_eq!(b.shared(), shared);
    assert_eq!(a.tag_table().len(), 1);
    assert_eq!(b.tags_of("b.jpg"), ["holiday"]);
}

#[test]
fn a_tag_renamed_on_one_device_to_a_name_created_on_another_is_folded_into_one() {
    let dir = folder();
    let (a, b) = (Device::new(&["a"]), Device::new(&["b"]));
    a.tag("a", "trip");
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    a.lib.writer().rename_tag(TagName::parse("trip").unwrap(), TagName::parse("holiday").unwrap()).unwrap();
    b.tag("b", "holiday");
    b.sync();
    a.sync();
    b.sync();
    assert_eq!(a.shared(), b.shared());
    assert_eq!(a.shared().tags.len(), 1);
    assert_eq!(a.tags_of("a"), ["holiday"]);
    assert_eq!(b.tags_of("b"), ["holiday"]);
}

#[test]
fn a_tag_deleted_on_one_device_is_gone_on_every_device() {
    let dir = folder();
    let (a, b) = (Device::new(&["a"]), Device::new(&["b"]));
    a.tag("a", "old");
    b.tag("b", "old");
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    a.sync();
    // On a, tags/old lists b's file too: the folder is not empty.
    let old = TagName::parse("old").unwrap();
    a.lib.writer().untag(vec![a.entry("a")], vec![old.clone()]).unwrap();
    assert!(matches!(a.lib.writer().delete_tag(old.clone()), Err(spacefs::error::Error::NotEmpty(_))));
    // b's file taken out too (rm tags/old/b), the tag is deleted (rmdir tags/old).
    let conn = rusqlite::Connection::open(a.fx.library()).unwrap();
    let (tag, device, entry): (i64, i64, i64) = conn
        .query_row("SELECT folder, device, entry FROM foreign_members", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    let uuid: Vec<u8> = rusqlite::Connection::open(b.fx.library())
        .unwrap()
        .query_row("SELECT uuid FROM entries WHERE name = CAST('b' AS BLOB)", [], |r| r.get(0))
        .unwrap();
    let file = spacefs::library::write::ForeignFile {
        device,
        entry,
        uuid: uuid::Uuid::from_slice(&uuid).unwrap(),
        name: b"b".to_vec(),
        is_dir: false,
    };
    let membership = spacefs::library::write::Membership::Tag(spacefs::library::TagId(tag));
    a.lib.writer().change_foreign_membership(file, Some(membership), None).unwrap();
    a.lib.writer().delete_tag(old).unwrap();
    a.sync();
    b.sync();
    assert!(b.tag_table().is_empty(), "{:?}", b.tag_table());
    assert!(b.tags_of("b").is_empty());
    assert_eq!(a.shared(), b.shared());
}

#[test]
fn a_damaged_or_half_written_change_file_is_never_read_and_spoils_nothing_else() {
    let dir = folder();
    let (a, b, c) = (Device::new(&["a"]), Device::new(&["b"]), Device::new(&["c"]));
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    c.join(dir.path(), "c");
    let devices = dir.path().join("devices");
    let changes_of = |d: &Device| {
        let id = spacefs::sync::devices(&d.lib).unwrap().1[0].device.simple().to_string();
        devices.join(id).join("changes")
    };
    let newest = |dir: &Path| {
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.pop().unwrap()
    };
    b.tag("b", "from-b");
    b.sync();
    // b's file arrives damaged (the file sync has not finished repairing it).
    let damaged = newest(&changes_of(&b));
    let good = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, b"\x85\x6f\x4a\x83 damaged").unwrap();
    // c was killed while writing its next file: a temporary name is all there is.
    c.tag("c", "from-c");
    c.sync();
    std::fs::write(changes_of(&c).join(".tmp-000000000009.automerge-1"), b"\x85\x6f\x4a").unwrap();

    let synced = a.sync();
    assert_eq!(synced.refused.len(), 1, "{synced:?}");
    assert!(synced.refused[0].contains("of device 'b'"), "{synced:?}");
    assert_eq!(a.tag_table().into_keys().collect::<Vec<_>>(), ["from-c"], "c's changes are applied");
    let listed = spacefs::sync::devices(&a.lib).unwrap().1;
    let b_row = listed.iter().find(|d| d.name == "b").unwrap();
    assert!(b_row.refused.as_deref().is_some_and(|r| r.contains("damaged")), "{listed:?}");
    // Repaired, it is read at the next exchange.
    std::fs::write(&damaged, good).unwrap();
    let synced = a.sync();
    assert!(synced.refused.is_empty(), "{synced:?}");
    assert_eq!(a.tag_table().into_keys().collect::<Vec<_>>(), ["from-b", "from-c"]);
    assert_eq!(a.shared(), {
        b.sync();
        c.sync();
        b.shared()
    });
}

#[test]
fn a_copy_of_a_library_that_writes_as_the_same_device_is_refused_with_what_to_do() {
    let dir = folder();
    let a = Device::new(&["a"]);
    a.join(dir.path(), "a");
    let copy_fx = Fixture::new();
    a.lib.reader().unwrap().backup(&copy_fx.library(), |_, _| {}).unwrap();
    let copy = Library::open(&copy_fx.library()).unwrap();
    a.tag("a", "one");
    a.sync();
    // The copy edits and syncs as the same device: its change file's number is taken.
    copy.writer().create_tag(TagName::parse("two").unwrap()).unwrap();
    let err = spacefs::sync::sync(&copy).unwrap_err().to_string();
    assert!(err.contains("another library writes as this device") && err.contains("devices join"), "{err}");
    // Joining again gives the copy an id of its own; then both are devices of the folder.
    spacefs::sync::join(&copy, dir.path(), Some("copy")).unwrap();
    a.sync();
    assert!(a.tag_table().contains_key("two"));
}

#[test]
fn bad_folders_get_one_clear_line() {
    let fx = Fixture::new();
    fx.write("a", b"a");
    fx.add();
    let not_sync = tempfile::tempdir().unwrap();
    std::fs::write(not_sync.path().join("photo.jpg"), b"x").unwrap();
    let dir = not_sync.path().to_str().unwrap();
    fx.run(["devices", "join", dir]).fails_with("is not a spacefs sync folder and not empty");
    fx.run(["sync"]).fails_with("has not joined a sync folder (run 'spacefs devices join DIR' first)");
    fx.run(["devices"]).fails_with("has not joined a sync folder");
    fx.run(["devices", "join", "/nonexistent/sync"]).fails_with("/nonexistent/sync");
    let newer = tempfile::tempdir().unwrap();
    std::fs::write(newer.path().join("spacefs-sync"), "spacefs sync folder\nformat 2\n").unwrap();
    fx.run(["devices", "join", newer.path().to_str().unwrap()]).fails_with("upgrade spacefs");
    // A good folder, then the folder goes away (an unmounted share).
    let good = tempfile::tempdir().unwrap();
    let joined = fx.run(["devices", "join", good.path().to_str().unwrap(), "--name", "laptop"]);
    assert!(joined.ok().contains("joined"), "{joined:?}");
    let listed = fx.run(["devices"]);
    assert!(listed.ok().contains("laptop (this)"), "{listed:?}");
    let path = good.path().to_owned();
    drop(good);
    fx.run(["sync"]).fails_with(&format!("sync folder {} is not there", path.display()));
}

/// Label paths ('a/b') with the names of the files they hold, as this library's tables hold them.
fn label_table(d: &Device) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(d.fx.library()).unwrap();
    let mut stmt = conn
        .prepare(
            "WITH RECURSIVE path(id, p) AS (SELECT id, name FROM labels WHERE parent_id IS NULL \
             UNION ALL SELECT l.id, path.p || '/' || l.name FROM labels l JOIN path ON l.parent_id = path.id) \
             SELECT path.p, (SELECT group_concat(CAST(e.name AS TEXT), ',') FROM metadata_label ml JOIN entries e \
             ON e.metadata_id = ml.metadata_id WHERE ml.label_id = path.id) FROM path",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let files: Option<String> = r.get(1)?;
        let mut files: Vec<String> = files.map(|f| f.split(',').map(str::to_owned).collect()).unwrap_or_default();
        files.sort();
        Ok((r.get(0)?, files))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

fn label_path(path: &str) -> spacefs::names::LabelPath {
    spacefs::names::LabelPath::parse(path).unwrap()
}

#[test]
fn labels_their_moves_and_the_files_under_them_reach_every_device() {
    let dir = folder();
    let (a, b) = (Device::new(&["a.jpg"]), Device::new(&["b.pdf"]));
    a.lib.writer().label(vec![a.entry("a.jpg")], label_path("work/2026")).unwrap();
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    // b files its document under the same label, created there independently: one label.
    b.lib.writer().label(vec![b.entry("b.pdf")], label_path("work/2026")).unwrap();
    b.sync();
    a.sync();
    assert_eq!(a.shared(), b.shared());
    assert_eq!(a.shared().labels.len(), 2, "work and work/2026, once each: {:?}", a.shared().labels);
    assert_eq!(
        label_table(&b),
        BTreeMap::from([("work".to_owned(), vec![]), ("work/2026".to_owned(), vec!["b.pdf".to_owned()])])
    );

    // Offline: a moves work/2026 to the top as 'archive-2026'; b adds a label under it.
    let reader = a.lib.reader().unwrap();
    let year = reader.label_by_path(&label_path("work/2026")).unwrap().unwrap();
    a.lib.writer().move_label(year, None, "archive-2026".into()).unwrap();
    b.lib.writer().label(vec![b.entry("b.pdf")], label_path("work/2026/q4")).unwrap();
    a.sync();
    b.sync();
    a.sync();
    assert_eq!(a.shared(), b.shared());
    let expected = BTreeMap::from([
        ("work".to_owned(), vec![]),
        ("archive-2026".to_owned(), vec!["b.pdf".to_owned()]),
        ("archive-2026/q4".to_owned(), vec!["b.pdf".to_owned()]),
    ]);
    assert_eq!(label_table(&b), expected, "the move reached b, with what b put under the label meanwhile");
    let on_a: BTreeMap<String, usize> = label_table(&a).into_iter().map(|(p, f)| (p, f.len())).collect();
    assert_eq!(on_a, BTreeMap::from([("work".into(), 0), ("archive-2026".into(), 1), ("archive-2026/q4".into(), 0)]));
}

#[test]
fn labels_moved_into_each_other_on_two_devices_make_the_same_tree_everywhere() {
    let dir = folder();
    let (a, b) = (Device::new(&["a"]), Device::new(&["b"]));
    a.lib.writer().label(vec![a.entry("a")], label_path("x")).unwrap();
    a.lib.writer().label(vec![a.entry("a")], label_path("y")).unwrap();
    a.join(dir.path(), "a");
    b.join(dir.path(), "b");
    let id = |d: &Device, p: &str| d.lib.reader().unwrap().label_by_path(&label_path(p)).unwrap().unwrap();
    // a puts x under y; b puts y under x.
    a.lib.writer().move_label(id(&a, "x"), Some(id(&a, "y")), "x".into()).unwrap();
    b.lib.writer().move_label(id(&b, "y"), Some(id(&b, "x")), "y".into()).unwrap();
    a.sync();
    b.sync();
    a.sync();
    assert_eq!(a.shared(), b.shared());
    let tree_a: Vec<String> = label_table(&a).into_keys().collect();
    let tree_b: Vec<String> = label_table(&b).into_keys().collect();
    assert_eq!(tree_a, tree_b);
    assert_eq!(tree_a.len(), 2, "both labels kept, one under the other: {tree_a:?}");
    assert!(tree_a.iter().any(|p| p.contains('/')), "{tree_a:?}");
}

#[test]
fn a_mounted_library_exchanges_by_itself_with_the_sync_folder() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[("beach.jpg", b"sand")]);
    let mnt = laptop.mount();
    let desktop = Device::new(&["report.pdf"]);
    desktop.join(dir.path(), "desktop");

    // A tag made on the desktop shows in the laptop's mount without anyone running 'spacefs sync' there.
    desktop.tag("report.pdf", "from-desktop");
    desktop.sync();
    common::eventually("the desktop's tag shows in the laptop's tags/", || {
        mnt.ls("tags").contains(&"from-desktop".to_owned())
    });
    // A tag made through the laptop's mount reaches the desktop: the daemon publishes it.
    std::fs::create_dir(mnt.join("tags/from-laptop")).unwrap();
    common::eventually("the laptop's tag reaches the desktop", || {
        desktop.sync();
        desktop.tag_table().contains_key("from-laptop")
    });
    mnt.unmount();
}

#[test]
fn an_idle_mounted_library_does_not_exchange_again_and_again() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[("beach.jpg", b"sand")]);
    let mnt = laptop.mount();
    let device_file = || {
        let devices = std::fs::read_dir(dir.path().join("devices")).unwrap();
        let own = devices.flatten().next().expect("the laptop's folder").path().join("device");
        std::fs::read_to_string(own).unwrap()
    };
    // Each exchange writes the time of this device's last exchange. The daemon's own writes in the folder are not
    // news from other devices: with nothing done anywhere, it exchanges once a minute, not every moment (it did,
    // holding the writer for a second each time with 100,000 memberships).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let settled = device_file();
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert_eq!(device_file(), settled, "the daemon exchanged with nothing changed");
    mnt.unmount();
}

#[test]
fn the_tables_rebuilt_from_the_shared_document_alone_are_the_same_library() {
    use spacefs::library::shared;
    let dir = folder();
    let a = Device::new(&["a.jpg", "b.txt"]);
    a.tag("a.jpg", "holiday");
    a.tag("b.txt", "work");
    a.lib.writer().label(vec![a.entry("a.jpg")], label_path("trips/2026")).unwrap();
    a.lib.writer().set_flag(vec![a.entry("b.txt")], Flag::Hidden, true).unwrap();
    a.lib.writer().set_notes(a.entry("a.jpg"), Some("sunset".into())).unwrap();
    a.lib.writer().set_rating(a.entry("a.jpg"), Some(6)).unwrap();
    a.join(dir.path(), "a");
    let copy = a.fx.dir.path().join("copy.db");
    a.lib.reader().unwrap().backup(&copy, |_, _| {}).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let before = shared::read(&conn).unwrap();
    // Everything shared is wiped from the copy's tables; the document alone brings it back.
    conn.execute_batch(
        "DELETE FROM tags; DELETE FROM labels; \
         UPDATE user_metadata SET favorite = 0, hidden = 0, notes = NULL, rating = NULL;",
    )
    .unwrap();
    assert_ne!(shared::read(&conn).unwrap(), before);
    let doc = a.shared();
    let local = shared::local_entries(&conn, &doc.entries()).unwrap();
    shared::write(&conn, &doc.restricted(&local)).unwrap();
    assert_eq!(shared::read(&conn).unwrap(), before);
}

#[test]
fn another_devices_files_show_under_devices_and_stay_listed_when_they_cannot_be_read() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[("mine.txt", b"mine")]);
    let mnt = laptop.mount();
    let nas = Device::new(&["report.pdf", "photos/beach.jpg"]);
    nas.join(dir.path(), "nas");
    common::eventually("the nas shows in devices/", || mnt.ls("devices") == ["nas"]);
    assert_eq!(mnt.ls("devices/nas"), ["files"]);
    assert_eq!(mnt.ls("devices/nas/files"), ["photos", "report.pdf"]);
    assert_eq!(mnt.ls("devices/nas/files/photos"), ["beach.jpg"]);
    let shown = mnt.join("devices/nas/files/photos/beach.jpg");
    assert_eq!(std::fs::metadata(&shown).unwrap().len(), "photos/beach.jpg".len() as u64);
    // The nas's folder is at the same path here (a share mounted on both): the file reads from it.
    assert_eq!(std::fs::read(&shown).unwrap(), b"photos/beach.jpg");
    // A file renamed on the nas (nothing else changed) shows under its new name once the nas has synced.
    let report = nas.entry("report.pdf");
    std::fs::rename(nas.fx.file("report.pdf"), nas.fx.file("final.pdf")).unwrap();
    nas.lib.writer().rename_entry(report, Vec::new(), b"final.pdf".to_vec()).unwrap();
    nas.sync();
    common::eventually("the rename shows in devices/", || mnt.ls("devices/nas/files") == ["final.pdf", "photos"]);
    // The nas goes away: still listed and stated from its snapshot; reading says the host is down.
    std::fs::rename(nas.fx.files(), nas.fx.dir.path().join("away")).unwrap();
    assert_eq!(std::fs::metadata(&shown).unwrap().len(), "photos/beach.jpg".len() as u64);
    assert_eq!(common::errno_of(std::fs::read(&shown)), libc::EHOSTDOWN);
    // Nothing can be changed there.
    assert_eq!(common::errno_of(std::fs::write(mnt.join("devices/nas/files/new.txt"), b"x")), libc::EROFS);
    assert_eq!(common::errno_of(std::fs::remove_file(&shown)), libc::EROFS);
    mnt.unmount();
}

#[test]
fn a_snapshot_that_names_paths_outside_its_locations_shows_nothing_of_them() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[]);
    let mnt = laptop.mount();
    let nas = Device::new(&["ok.txt"]);
    nas.join(dir.path(), "nas");
    common::eventually("the nas shows in devices/", || mnt.ls("devices") == ["nas"]);
    // The nas's snapshot is tampered with: names and paths that climb out, a symlink to a secret, a special file.
    let id = spacefs::sync::devices(&nas.lib).unwrap().1[0].device.simple().to_string();
    let snapshot = dir.path().join("devices").join(id).join("entries.db");
    let conn = rusqlite::Connection::open(&snapshot).unwrap();
    let location: i64 = conn.query_row("SELECT id FROM locations", [], |r| r.get(0)).unwrap();
    for (rel, name, kind) in [
        (&b""[..], &b".."[..], 1),
        (b"", b"a/b", 0),
        (b"../..", b"passwd", 0),
        (b"", b"secret-link", 2),
        (b"", b"fifo", 3),
    ] {
        conn.execute(
            "INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, indexed_at, symlink_target) \
             VALUES (randomblob(16), ?1, ?2, ?3, ?4, 5, 0, '/etc/passwd')",
            rusqlite::params![location, rel, name, kind],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO locations (uuid, device_id, name, path, created_at) SELECT randomblob(16), device_id, \
                  'relative', 'etc', 0 FROM locations",
        [],
    )
    .unwrap();
    drop(conn);
    // (The tampered location's path is text, not the bytes spacefs writes: a row of the wrong type.)
    assert_eq!(mnt.ls("devices/nas/files"), ["ok.txt"]);
    for name in ["..", "secret-link", "fifo", "passwd"] {
        let path = mnt.join("devices/nas/files").join(name);
        assert!(std::fs::symlink_metadata(&path).is_err() || name == "..", "{name} is shown");
    }
    mnt.unmount();
}

#[test]
fn a_tag_folder_lists_the_files_of_every_device_even_while_one_is_off() {
    let dir = folder();
    let laptop = Fixture::new();
    laptop.write("beach.jpg", b"laptop's beach");
    laptop.add();
    laptop.run(["tag", "holiday", laptop.file("beach.jpg").to_str().unwrap()]).ok();
    join_with_the_cli(&laptop, dir.path(), "laptop");
    let mnt = laptop.mount();
    let nas = Device::new(&["beach.jpg", "report.pdf"]);
    nas.tag("beach.jpg", "holiday");
    nas.tag("report.pdf", "work");
    nas.join(dir.path(), "nas");
    common::eventually("the nas's tagged files show in tags/", || {
        mnt.ls("tags").contains(&"work".to_owned()) && mnt.ls("tags/work") == ["report.pdf"]
    });
    // Two files named beach.jpg carry 'holiday': this device's keeps its name, the nas's gets its device and id.
    common::eventually("both beach.jpg show in tags/holiday", || mnt.ls("tags/holiday").len() == 2);
    let holiday = mnt.ls("tags/holiday");
    assert_eq!(holiday.len(), 2, "{holiday:?}");
    assert_eq!(holiday[0], "beach.jpg");
    assert!(holiday[1].starts_with("beach~D") && holiday[1].ends_with(".jpg"), "{holiday:?}");
    assert_eq!(std::fs::read(mnt.join("tags/holiday/beach.jpg")).unwrap(), b"laptop's beach");
    assert_eq!(std::fs::read(mnt.join("tags/holiday").join(&holiday[1])).unwrap(), b"beach.jpg");
    // The nas goes off: its files stay listed and stated; reading them says the host is down.
    std::fs::rename(nas.fx.files(), nas.fx.dir.path().join("away")).unwrap();
    let report = mnt.join("tags/work/report.pdf");
    assert_eq!(std::fs::metadata(&report).unwrap().len(), "report.pdf".len() as u64);
    assert_eq!(common::errno_of(std::fs::read(&report)), libc::EHOSTDOWN);
    mnt.unmount();
    // Reading the nas's snapshot left nothing beside it (a file sync would carry it to every device).
    let odd: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.ends_with("-shm") || p.ends_with("-wal")).collect();
    assert!(odd.is_empty(), "{odd:?}");
}

#[test]
fn another_devices_files_are_untagged_moved_and_favorited_through_the_mount_and_every_device_follows() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[]);
    let nas = Device::new(&["beach.jpg", "report.pdf"]);
    nas.tag("beach.jpg", "holiday");
    nas.tag("report.pdf", "work");
    nas.join(dir.path(), "nas");
    let mnt = laptop.mount();
    common::eventually("the nas's files show in tags/", || {
        let tags = mnt.ls("tags");
        tags.contains(&"work".to_owned())
            && tags.contains(&"holiday".to_owned())
            && mnt.ls("tags/work") == ["report.pdf"]
            && mnt.ls("tags/holiday") == ["beach.jpg"]
    });
    // A tag folder that lists only another device's files is not empty.
    assert_eq!(common::errno_of(std::fs::remove_dir(mnt.join("tags/work"))), libc::ENOTEMPTY);
    // mv to another tag, ln into favorites, rm from a tag: as for this device's files, at once in the mount.
    std::fs::create_dir(mnt.join("tags/done")).unwrap();
    std::fs::rename(mnt.join("tags/work/report.pdf"), mnt.join("tags/done/report.pdf")).unwrap();
    std::fs::hard_link(mnt.join("tags/holiday/beach.jpg"), mnt.join("favorites/beach.jpg")).unwrap();
    std::fs::remove_file(mnt.join("tags/holiday/beach.jpg")).unwrap();
    assert!(mnt.ls("tags/work").is_empty());
    assert_eq!(mnt.ls("tags/done"), ["report.pdf"]);
    assert!(mnt.ls("tags/holiday").is_empty());
    assert_eq!(mnt.ls("favorites"), ["beach.jpg"]);
    // Not a member there: ENOENT, as for this device's files.
    assert_eq!(common::errno_of(std::fs::remove_file(mnt.join("tags/work/report.pdf"))), libc::ENOENT);
    // The daemon publishes the edits: the nas's own tables follow, and its files are untouched.
    common::eventually("the nas has the laptop's edits of its files", || {
        nas.sync();
        nas.tags_of("report.pdf") == ["done"] && nas.tags_of("beach.jpg").is_empty() && nas.shared().favorite.len() == 1
    });
    assert_eq!(std::fs::read(nas.fx.file("beach.jpg")).unwrap(), b"beach.jpg");
    // They hold in the laptop's library too, across a remount (rebuilt from the shared document).
    mnt.unmount();
    let mnt = laptop.mount();
    assert_eq!(mnt.ls("tags/done"), ["report.pdf"]);
    assert!(mnt.ls("tags/holiday").is_empty());
    assert_eq!(mnt.ls("favorites"), ["beach.jpg"]);
    mnt.unmount();
}

#[test]
fn another_devices_folder_in_a_tag_is_a_link_to_it_under_devices() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[]);
    let nas = Device::new(&["photos/beach.jpg", "photos/2026/sea.jpg"]);
    nas.tag("photos", "holiday");
    nas.join(dir.path(), "nas");
    let mnt = laptop.mount();
    common::eventually("the nas's folder shows in tags/holiday", || {
        mnt.ls("tags").contains(&"holiday".to_owned()) && mnt.ls("tags/holiday") == ["photos"]
    });
    let link = mnt.join("tags/holiday/photos");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), mnt.join("devices/nas/files/photos"));
    // Followed, it is the folder: its contents as the nas's snapshot has them.
    assert!(std::fs::metadata(&link).unwrap().is_dir());
    assert_eq!(mnt.ls("tags/holiday/photos"), ["2026", "beach.jpg"]);
    assert_eq!(mnt.ls("tags/holiday/photos/2026"), ["sea.jpg"]);
    // Linked into favorites, taken out of the tag: the folder's memberships change, everywhere.
    std::fs::hard_link(&link, mnt.join("favorites/photos")).unwrap();
    std::fs::remove_file(&link).unwrap();
    assert!(mnt.ls("tags/holiday").is_empty());
    assert_eq!(mnt.ls("favorites"), ["photos"]);
    common::eventually("the nas has the laptop's edits of its folder", || {
        nas.sync();
        nas.tags_of("photos").is_empty() && nas.shared().favorite.len() == 1
    });
    assert_eq!(std::fs::read(nas.fx.file("photos/beach.jpg")).unwrap(), b"photos/beach.jpg");
    mnt.unmount();
}

#[test]
fn labels_and_favorites_list_other_devices_files_and_their_hidden_ones_only_when_hidden_files_are_shown() {
    let dir = folder();
    let laptop = joined_laptop(dir.path(), &[("notes.txt", b"laptop's notes")]);
    let mnt = laptop.mount();
    let nas = Device::new(&["scan.pdf", "plan.odt", "secret.txt"]);
    nas.lib.writer().label(vec![nas.entry("scan.pdf")], label_path("work/2026")).unwrap();
    nas.lib.writer().set_flag(vec![nas.entry("plan.odt"), nas.entry("secret.txt")], Flag::Favorite, true).unwrap();
    nas.lib.writer().set_flag(vec![nas.entry("secret.txt")], Flag::Hidden, true).unwrap();
    nas.join(dir.path(), "nas");
    common::eventually("the nas's label reaches the laptop's labels/", || {
        mnt.join("labels/work/2026").is_dir() && mnt.ls("labels/work/2026") == ["scan.pdf"]
    });
    assert_eq!(std::fs::read(mnt.join("labels/work/2026/scan.pdf")).unwrap(), b"scan.pdf");
    // A hidden file is not listed, nor found by name, like this device's hidden files.
    assert_eq!(mnt.ls("favorites"), ["plan.odt"]);
    assert!(!mnt.join("favorites/secret.txt").exists());
    assert_eq!(std::fs::metadata(mnt.join("favorites/plan.odt")).unwrap().len(), "plan.odt".len() as u64);
    // Another device's file is not this device's to write (its membership is shared: see the test above).
    let write = std::fs::OpenOptions::new().append(true).open(mnt.join("favorites/plan.odt"));
    assert_eq!(common::errno_of(write), libc::EROFS);
    assert_eq!(mnt.ls("favorites"), ["plan.odt"]);
    mnt.unmount();
    let shown = laptop.mount_at("shown", &["--show-hidden"]);
    assert_eq!(shown.ls("favorites"), ["plan.odt", "secret.txt"]);
    assert_eq!(std::fs::read(shown.join("favorites/secret.txt")).unwrap(), b"secret.txt");
    shown.unmount();
}

#[test]
fn a_full_sync_folder_is_one_clear_line_and_the_edit_is_published_once_there_is_room() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    // A sync folder on a small file system of its own: room for two snapshots of this library (about 400 KiB
    // each), as a snapshot is written beside the one it replaces.
    let dir = fx.dir.path().join("small");
    std::fs::create_dir(&dir).unwrap();
    let mounted =
        std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&dir).status().unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(dir.clone());
    join_with_the_cli(&fx, &dir, "a");
    // The file system fills up (another program's file).
    let filler = dir.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 1 << 20]);
    fx.run(["tag", "kept", fx.file("a.txt").to_str().unwrap()]).ok();
    fx.run(["sync"]).fails_with("no space left on device");
    fx.run(["sync"]).fails_with("changes are kept in the library and go out at the next sync");
    // Room again: the edit goes out, and nothing is left half-written.
    std::fs::remove_file(&filler).unwrap();
    let synced = fx.run(["sync"]);
    assert!(synced.ok().contains("change"), "{synced:?}");
    let late = Fixture::new();
    join_with_the_cli(&late, &dir, "b");
    assert!(late.run(["tags"]).ok().contains("kept"));
    let leftovers: Vec<_> = walk(&dir).into_iter().filter(|p| p.contains(".tmp-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        found.push(path.display().to_string());
        if path.is_dir() {
            found.extend(walk(&path));
        }
    }
    found
}
