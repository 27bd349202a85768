//! The command line as a user meets it: exit codes, one-line errors, nothing changed by bad input.

mod common;

use common::{Fixture, spacefs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

const NOBODY: u32 = 65534;

/// Tag counts as `spacefs tags` prints them.
fn tags(fx: &Fixture) -> String {
    fx.run(["tags"]).ok().to_owned()
}

#[test]
fn add_tag_find_untag_round_trip() {
    let fx = Fixture::new();
    let photo = fx.write("2026/beach.jpg", b"sand");
    fx.write("2026/city.jpg", b"streets");
    let out = fx.run(["add".as_ref(), fx.files().as_os_str(), "--name".as_ref(), "pics".as_ref()]);
    assert!(out.ok().contains("added location 'pics'"), "{out:?}");
    assert!(out.stdout.contains("2 files, 1 folders"), "{out:?}");
    assert!(fx.run(["tag".as_ref(), "holiday".as_ref(), photo.as_os_str()]).ok().contains("tagged 1 of 1 files"));
    let found = fx.run(["find", "--tag", "holiday"]);
    assert_eq!(found.ok(), format!("{}\n", photo.canonicalize().unwrap().display()));
    assert_eq!(fx.run(["tags".as_ref(), photo.as_os_str()]).ok(), "holiday\n");
    assert_eq!(tags(&fx), "       1  holiday\n");
    // Relative paths work from inside the location.
    let mut cmd = spacefs();
    cmd.current_dir(fx.file("2026")).arg("--library").arg(fx.library()).args(["untag", "holiday", "./beach.jpg"]);
    let out = common::Run::from(cmd.output().unwrap());
    assert!(out.ok().contains("untagged 1 of 1 files"), "{out:?}");
    assert_eq!(fx.run(["find", "--tag", "holiday"]).ok(), "");
    let locations = fx.run(["locations"]);
    assert!(locations.ok().contains("pics") && locations.stdout.contains("content"), "{locations:?}");
    assert!(fx.run(["status"]).ok().contains("2 files, 1 folders"));
    assert!(fx.run(["check"]).ok().starts_with("ok:"));
}

#[test]
fn bad_add_arguments() {
    let fx = Fixture::new();
    let file = fx.write("file.txt", b"x");
    fx.run(["add", "/no/such/folder"]).fails_with("/no/such/folder does not exist");
    fx.run(["add".as_ref(), file.as_os_str()]).fails_with("is not a folder");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).fails_with("is already the location 'files'");
    let other = fx.dir.path().join("other/files");
    std::fs::create_dir_all(&other).unwrap();
    fx.run(["add".as_ref(), other.as_os_str()]).fails_with("a location named 'files' already exists");
    fx.run(["add".as_ref(), fx.file("sub").as_os_str()]).fails_with("does not exist");
    std::fs::create_dir(fx.file("sub")).unwrap();
    fx.run(["add".as_ref(), fx.file("sub").as_os_str(), "--name".as_ref(), "sub".as_ref()])
        .fails_with("is inside the location 'files'");
    fx.run(["add".as_ref(), fx.dir.path().as_os_str(), "--name".as_ref(), "all".as_ref()])
        .fails_with("contains the location 'files'");
    fx.run(["add".as_ref(), other.as_os_str(), "--name".as_ref(), "a/b".as_ref()]).fails_with("'/' is not allowed");
    let listed = fx.run(["locations"]);
    assert_eq!(listed.ok().lines().count(), 2, "only the one location: {listed:?}");
}

#[test]
fn unknown_locations_and_files_outside_them() {
    let fx = Fixture::new();
    let inside = fx.write("in.txt", b"in");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["rescan", "nope"]).fails_with("no location named 'nope' (see 'spacefs locations')");
    fx.run(["remove", "nope"]).fails_with("no location named 'nope'");
    let outside = fx.dir.path().join("outside.txt");
    std::fs::write(&outside, b"out").unwrap();
    fx.run(["tag".as_ref(), "t".as_ref(), outside.as_os_str()]).fails_with("is not inside any location");
    fx.run(["tag", "t", "/no/such/file"]).fails_with("/no/such/file does not exist");
    // All or nothing: one bad file in the list tags none.
    fx.run(["tag".as_ref(), "t".as_ref(), inside.as_os_str(), outside.as_os_str()])
        .fails_with("not inside any location");
    assert_eq!(tags(&fx), "");
    fx.run(["find", "--tag", "t"]).fails_with("no tag named 't'");
    // A file made since the last scan (in a folder made since, too) is indexed, then tagged.
    let late = fx.write("new/late.txt", b"late");
    fx.run(["tag".as_ref(), "t".as_ref(), late.as_os_str()]).ok();
    let listed = fx.run(["find", "--tag", "t"]).ok().to_owned();
    assert!(listed.contains("new/late.txt"), "{listed}");
    fx.run(["check"]).ok();
}

#[test]
fn bad_tag_names_change_nothing() {
    let fx = Fixture::new();
    let file = fx.write("a.txt", b"a");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["tag".as_ref(), "good".as_ref(), file.as_os_str()]).ok();
    for (name, fragment) in [
        ("", "it is empty"),
        ("a/b", "'/' is not allowed"),
        ("a,b", "',' is not allowed"),
        ("bell\u{7}", "control characters"),
        ("line\nbreak", "control characters"),
    ] {
        fx.run(["tag".as_ref(), name.as_ref(), file.as_os_str()]).fails_with(fragment);
    }
    fx.run(["tag".as_ref(), "x".repeat(256).as_ref(), file.as_os_str()]).fails_with("256 bytes long");
    assert_eq!(fx.run(["tags".as_ref(), file.as_os_str()]).ok(), "good\n");
}

#[test]
fn library_paths_that_cannot_work() {
    let fx = Fixture::new();
    let missing = fx.dir.path().join("no/such/dir/lib.db");
    let run = common::Run::from(spacefs().arg("--library").arg(&missing).arg("init").output().unwrap());
    run.fails_with("folder");
    run.fails_with("does not exist (create it first");
    assert!(!missing.parent().unwrap().exists());

    // Not SQLite at all.
    let text = fx.dir.path().join("notes.txt");
    std::fs::write(&text, "just some notes, not a database, long enough to fill a header......................")
        .unwrap();
    let run = common::Run::from(spacefs().arg("--library").arg(&text).arg("status").output().unwrap());
    run.fails_with("is not a spacefs library: it is not an SQLite database");
    assert!(std::fs::read_to_string(&text).unwrap().starts_with("just some notes"));

    // Another program's SQLite database.
    let foreign = fx.dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let run = common::Run::from(spacefs().arg("--library").arg(&foreign).arg("status").output().unwrap());
    run.fails_with("is an SQLite database of another program");

    // A library made by a newer spacefs.
    fx.run(["init"]).ok();
    rusqlite::Connection::open(fx.library()).unwrap().pragma_update(None, "user_version", 99).unwrap();
    fx.run(["status"]).fails_with("was made by a newer spacefs (schema version 99");
}

#[test]
fn a_corrupt_library_is_reported_not_panicked_on() {
    let fx = Fixture::new();
    for i in 0..300 {
        fx.write(format!("d{}/file-with-a-long-name-{i}.txt", i % 10), b"x");
    }
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["optimize"]).ok();
    // Scribble over every page but the first (which holds the header and the schema's root).
    let mut bytes = std::fs::read(fx.library()).unwrap();
    assert!(bytes.len() > 8192);
    for b in &mut bytes[4096..] {
        *b = 0xa5;
    }
    std::fs::write(fx.library(), &bytes).unwrap();
    let run = fx.run(["status"]);
    run.fails_with("is corrupt");
    run.fails_with("spacefs backup");
}

#[test]
fn a_folder_the_user_cannot_write_is_reported() {
    let fx = Fixture::new();
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = fx.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = spacefs();
    cmd.uid(NOBODY).gid(NOBODY).env("HOME", "/nonexistent").arg("--library").arg(locked.join("lib.db")).arg("init");
    let run = common::Run::from(cmd.output().unwrap());
    run.fails_with("its folder is not writable (choose a writable folder with --library)");
}

#[test]
fn unreadable_folders_are_counted_and_skipped() {
    let fx = Fixture::new();
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    fx.write("open/a.txt", b"a");
    fx.write("closed/b.txt", b"b");
    fx.write("secret.txt", b"s");
    std::fs::set_permissions(fx.file("closed"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(fx.file("secret.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = spacefs();
    cmd.uid(NOBODY).gid(NOBODY).arg("--library").arg(fx.library()).arg("add").arg(fx.files());
    let run = common::Run::from(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("2 files or folders in 'files' could not be read"), "{run:?}");
    assert!(run.stderr.contains("permission denied"), "{run:?}");
    assert!(run.stdout.contains("2 files, 2 folders"), "the unreadable file is still listed: {run:?}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "init",
        "add",
        "rescan",
        "locations",
        "remove",
        "status",
        "tag",
        "untag",
        "tags",
        "find",
        "dupes",
        "check",
        "backup",
        "optimize",
        "demo",
        "mount",
        "unmount",
        "completions",
        "man",
        "export-xattrs",
    ] {
        let run = common::Run::from(spacefs().args([command, "--help"]).output().unwrap());
        assert!(run.ok().contains("Example"), "{command}: {run:?}");
    }
    let run = common::Run::from(spacefs().arg("--help").output().unwrap());
    assert!(run.ok().contains("--library"));
}

#[test]
fn dupes_backup_and_optimize() {
    let fx = Fixture::new();
    fx.write("one/a.bin", &[7u8; 150_000]);
    fx.write("two/b.bin", &[7u8; 150_000]);
    fx.write("two/c.bin", b"unique");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let dupes = fx.run(["dupes"]);
    let root = fx.files().canonicalize().unwrap();
    let expected_hash = &blake3::hash(&[7u8; 150_000]).to_hex()[..16];
    assert_eq!(
        dupes.ok(),
        format!(
            "2 copies of 146.48 KiB each, blake3 {expected_hash}\n  {}\n  {}\n1 groups; removing the extra copies would free 146.48 KiB\n",
            root.join("one/a.bin").display(),
            root.join("two/b.bin").display()
        )
    );
    let copy = fx.dir.path().join("copy.db");
    fx.run(["backup".as_ref(), copy.as_os_str()]).ok();
    assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    let from_copy = common::Run::from(spacefs().arg("--library").arg(&copy).arg("status").output().unwrap());
    assert!(from_copy.ok().contains("3 files, 2 folders"), "{from_copy:?}");
    fx.run(["backup".as_ref(), copy.as_os_str()]).fails_with("exists already");
    fx.run(["optimize", "--vacuum"]).ok();
    assert!(fx.run(["status"]).ok().contains("(WAL 0 B)"));
}

#[test]
fn remove_forgets_a_location_and_touches_no_file() {
    let fx = Fixture::new();
    let file = fx.write("a.txt", b"a");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["tag".as_ref(), "t".as_ref(), file.as_os_str()]).ok();
    assert_eq!(
        fx.run(["remove", "files"]).ok(),
        "removed location 'files': 1 entries forgotten (1 with tags, labels or notes); no file was touched\n"
    );
    let status = fx.run(["status"]);
    assert!(status.ok().contains("locations  0"), "{status:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"a");
}

#[test]
fn version_completions_and_man_pages() {
    let fx = Fixture::new();
    for flag in ["--version", "-V"] {
        assert_eq!(fx.run([flag]).ok(), format!("spacefs {}\n", env!("CARGO_PKG_VERSION")));
    }
    for (shell, marker) in [
        ("bash", "_spacefs()"),
        ("zsh", "#compdef spacefs"),
        ("fish", "complete -c spacefs"),
        ("elvish", "spacefs"),
        ("powershell", "spacefs"),
    ] {
        let script = fx.run(["completions", shell]);
        assert!(script.ok().contains(marker), "{shell}: {script:?}");
        assert!(script.stdout.contains("rescan"), "{shell} completes the commands");
    }
    let tcsh = fx.run(["completions", "tcsh"]);
    assert_eq!(tcsh.code, 2, "a usage error, as clap reports them: {tcsh:?}");
    assert!(tcsh.stderr.contains("invalid value 'tcsh'") && tcsh.stderr.contains("bash, elvish, fish"), "{tcsh:?}");

    let dir = fx.dir.path().join("man/man1");
    assert!(fx.run(["man".as_ref(), dir.as_os_str()]).ok().contains("man pages"));
    for page in ["spacefs.1", "spacefs-mount.1", "spacefs-tag.1", "spacefs-query-save.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page} is a man page");
    }
    let mount = std::fs::read_to_string(dir.join("spacefs-mount.1")).unwrap();
    assert!(mount.contains("read\\-only") && mount.contains("foreground"), "every flag is documented");
    // A folder that cannot be made: one line, nothing written.
    let run = fx.run(["man", "/proc/spacefs-man"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.starts_with("spacefs: /proc/spacefs-man"), "{run:?}");
}

#[test]
fn export_xattrs_writes_tags_and_notes_that_a_new_library_reads_back() {
    let fx = Fixture::new();
    let photo = fx.write("2026/beach.jpg", b"sand");
    let doc = fx.write("docs/plan.txt", b"plan");
    let plain = fx.write("plain.txt", b"nothing");
    fx.add();
    fx.run(["tag".as_ref(), "holiday".as_ref(), photo.as_os_str()]).ok();
    fx.run(["tag".as_ref(), "beach".as_ref(), photo.as_os_str()]).ok();
    fx.run(["tag".as_ref(), "work".as_ref(), fx.file("docs").as_os_str()]).ok();
    fx.run(["note".as_ref(), doc.as_os_str(), "due friday".as_ref()]).ok();

    // A dry run lists what would change and writes nothing.
    let dry = fx.run(["export-xattrs", "--dry-run"]);
    let listed = dry.ok();
    assert!(
        listed
            .contains(&format!("would set user.xdg.tags=beach,holiday on {}", photo.canonicalize().unwrap().display())),
        "{listed}"
    );
    assert!(listed.contains("user.xdg.comment=due friday"), "{listed}");
    assert!(listed.contains("would write the tags and notes of 3 files (0 already up to date)"), "{listed}");
    assert_eq!(xattr::get(&photo, "user.xdg.tags").unwrap(), None);

    assert!(fx.run(["export-xattrs"]).ok().contains("wrote the tags and notes of 3 files"));
    assert_eq!(xattr::get(&photo, "user.xdg.tags").unwrap().unwrap(), b"beach,holiday");
    assert_eq!(xattr::get(fx.file("docs"), "user.xdg.tags").unwrap().unwrap(), b"work");
    assert_eq!(xattr::get(&doc, "user.xdg.comment").unwrap().unwrap(), b"due friday");
    assert_eq!(xattr::get(&plain, "user.xdg.tags").unwrap(), None, "files without tags are not touched");
    assert!(fx.run(["export-xattrs"]).ok().contains("of 0 files (3 already up to date)"), "nothing left to do");

    // The round trip: a copy with its attributes (cp -a), indexed by a new library, has the same tags and notes.
    let copy = fx.dir.path().join("copy");
    let cp = std::process::Command::new("cp").arg("-a").arg(fx.files()).arg(&copy).status().unwrap();
    assert!(cp.success());
    let other = Fixture::new();
    other.run(["add".as_ref(), copy.as_os_str(), "--quiet".as_ref()]).ok();
    assert_eq!(other.run(["tags".as_ref(), copy.join("2026/beach.jpg").as_os_str()]).ok(), "beach\nholiday\n");
    assert_eq!(other.run(["tags".as_ref(), copy.join("docs").as_os_str()]).ok(), "work\n");
    assert_eq!(tags(&other), tags(&fx));
    let found = other.run(["find", "--query", "notes:friday"]);
    assert_eq!(found.ok(), format!("{}\n", copy.join("docs/plan.txt").canonicalize().unwrap().display()));

    // Bad input: an unknown location is one line and writes nothing.
    fx.run(["export-xattrs", "nope"]).fails_with("no location named 'nope'");

    // A location on a file system without user extended attributes (ramfs): counted and reported, not fatal.
    let bare = fx.dir.path().join("ramfs");
    std::fs::create_dir(&bare).unwrap();
    assert!(std::process::Command::new("mount").args(["-t", "ramfs", "ramfs"]).arg(&bare).status().unwrap().success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(bare.clone());
    std::fs::write(bare.join("x.txt"), b"x").unwrap();
    fx.run(["add".as_ref(), bare.as_os_str(), "--quiet".as_ref()]).ok();
    fx.run(["tag".as_ref(), "t".as_ref(), bare.join("x.txt").as_os_str()]).ok();
    let run = fx.run(["export-xattrs"]);
    assert!(
        run.ok().contains(
            "of 0 files (3 already up to date); 1 files are on file systems without user extended attributes"
        ),
        "{run:?}"
    );
}

#[test]
fn empty_files_have_no_content_id() {
    let fx = Fixture::new();
    let empty = fx.write("empty.txt", b"");
    fx.write("other-empty.txt", b"");
    fx.write("full.txt", b"data");
    fx.add();
    let lib = spacefs::library::Library::open(&fx.library()).unwrap();
    let reader = lib.reader().unwrap();
    let location = reader.location_named("files").unwrap();
    let id = |name: &str| reader.entry_by_path(location.id, b"", name.as_bytes()).unwrap().unwrap();
    assert_eq!(reader.entry_meta(id("empty.txt")).unwrap().unwrap().cas_id, None);
    assert!(reader.entry_meta(id("full.txt")).unwrap().unwrap().cas_id.is_some());
    assert!(fx.run(["status"]).ok().contains("contents   1 distinct content ids"), "only full.txt has one");
    // A rescan with nothing changed reads nothing again (an empty file lacks nothing).
    let rescan = fx.run(["rescan"]);
    assert!(rescan.ok().contains("0 new or changed, 0 removed, 0 hashed"), "{rescan:?}");
    // Written to, it gets one.
    std::fs::write(&empty, b"now full").unwrap();
    fx.run(["rescan", "--quiet"]).ok();
    assert!(reader.entry_meta(id("empty.txt")).unwrap().unwrap().cas_id.is_some());
}

/// Runs `spacefs --library LIB ARGS…` as user nobody.
fn as_nobody(library: &std::path::Path, args: &[&str]) -> common::Run {
    let mut cmd = spacefs();
    cmd.uid(NOBODY).gid(NOBODY).env("HOME", "/nonexistent").arg("--library").arg(library).args(args);
    common::Run::from(cmd.output().unwrap())
}

#[test]
fn a_library_that_cannot_be_written_is_read_and_mounted_read_only() {
    let fx = Fixture::new();
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let photo = fx.write("beach.jpg", b"sand");
    fx.write("copy.jpg", b"sand");
    std::fs::set_permissions(fx.files(), std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.add();
    fx.run(["tag".as_ref(), "holiday".as_ref(), photo.as_os_str()]).ok();
    fx.run(["optimize"]).ok();
    // A file its reader may not write (owned by root, readable by all).
    std::fs::set_permissions(fx.library(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(fx.library()).unwrap();
    let photo_arg = photo.to_str().unwrap();
    assert!(as_nobody(&fx.library(), &["status"]).ok().contains("1 (1 entries tagged)"));
    assert_eq!(as_nobody(&fx.library(), &["tags"]).ok(), "       1  holiday\n");
    assert_eq!(as_nobody(&fx.library(), &["tags", photo_arg]).ok(), "holiday\n");
    assert_eq!(as_nobody(&fx.library(), &["find", "--tag", "holiday"]).ok(), format!("{photo_arg}\n"));
    assert!(as_nobody(&fx.library(), &["dupes"]).ok().contains("copy.jpg"));
    assert!(as_nobody(&fx.library(), &["check"]).ok().contains("equals its folder on disk"));
    for change in [vec!["tag", "x", photo_arg], vec!["untag", "holiday", photo_arg], vec!["rescan"]] {
        as_nobody(&fx.library(), &change).fails_with("is read-only: nothing can be changed in it");
    }
    assert_eq!(std::fs::read(fx.library()).unwrap(), before, "not a byte written");

    // A read-only file system (a read-only bind mount of the library's folder): read, and mounted --read-only.
    let ro = fx.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let lib_dir = fx.dir.path().join("lib");
    std::fs::create_dir(&lib_dir).unwrap();
    std::fs::copy(fx.library(), lib_dir.join("library.db")).unwrap();
    let bind = |args: &[&str]| assert!(std::process::Command::new("mount").args(args).status().unwrap().success());
    bind(&["--bind", lib_dir.to_str().unwrap(), ro.to_str().unwrap()]);
    struct Unbind(std::path::PathBuf);
    impl Drop for Unbind {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unbind = Unbind(ro.clone());
    bind(&["-o", "remount,bind,ro", ro.to_str().unwrap()]);
    let library = ro.join("library.db");
    let run = |args: &[&str]| common::Run::from(spacefs().arg("--library").arg(&library).args(args).output().unwrap());
    assert_eq!(run(&["tags", photo_arg]).ok(), "holiday\n");
    run(&["tag", "x", photo_arg]).fails_with("is read-only");
    let mnt = fx.dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run(&["mount", mnt.to_str().unwrap()]).fails_with("can only be mounted read-only (add --read-only)");
    let mounted = common::Mounted { path: mnt.clone() };
    run(&["mount", mnt.to_str().unwrap(), "--read-only"]).ok();
    assert_eq!(mounted.ls("tags/holiday"), ["beach.jpg"]);
    assert_eq!(std::fs::read(mnt.join("tags/holiday/beach.jpg")).unwrap(), b"sand");
    let refused = std::fs::create_dir(mnt.join("tags/new")).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EROFS));
    mounted.unmount();
}
