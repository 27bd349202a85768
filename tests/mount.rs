//! The library mounted for real, used through std::fs, ls and find as a user would.

mod common;

use common::{Fixture, Mounted, errno_of, eventually, mounted, spacefs};
use spacefs::library::write::Flag;
use spacefs::library::{EntryId, Library};
use spacefs::names::{LabelPath, TagName};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// The entry id of a real file, for setting up metadata through the library API.
fn id(lib: &Library, path: &Path) -> EntryId {
    spacefs::library::resolve::resolve_entries(&lib.reader().unwrap(), &[path.to_path_buf()]).unwrap()[0]
}

fn tag(lib: &Library, t: &str, paths: &[&Path]) {
    let ids = paths.iter().map(|p| id(lib, p)).collect();
    lib.writer().tag(ids, vec![TagName::parse(t).unwrap()]).unwrap();
}

#[test]
fn every_view_lists_and_reads_the_real_files() {
    let fx = Fixture::new();
    let report = fx.write("docs/report.txt", b"the report");
    let photo = fx.write("pics/2026/beach.jpg", &[0xffu8; 5000]);
    let song = fx.write("music/song.ogg", b"la la la");
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        tag(&lib, "work", &[&report, &fx.file("pics")]);
        lib.writer().label(vec![id(&lib, &photo)], LabelPath::parse("trips/2026/summer").unwrap()).unwrap();
        lib.writer().label(vec![id(&lib, &report)], LabelPath::parse("trips").unwrap()).unwrap();
        lib.writer().set_flag(vec![id(&lib, &song)], Flag::Favorite, true).unwrap();
    }
    let mnt = fx.mount();
    assert_eq!(mnt.ls(""), ["devices", "duplicates", "favorites", "labels", "locations", "query", "tags", "untagged"]);
    assert_eq!(mnt.ls("locations"), ["files"]);
    assert_eq!(mnt.ls("locations/files"), ["docs", "music", "pics"]);
    assert_eq!(std::fs::read(mnt.join("locations/files/pics/2026/beach.jpg")).unwrap(), [0xffu8; 5000]);
    assert_eq!(mnt.ls("tags"), ["work"]);
    assert_eq!(mnt.ls("tags/work"), ["pics", "report.txt"]);
    assert_eq!(std::fs::read(mnt.join("tags/work/report.txt")).unwrap(), b"the report");
    // A tagged folder is a folder with its real contents below.
    assert!(mnt.join("tags/work/pics").is_dir());
    assert_eq!(std::fs::read(mnt.join("tags/work/pics/2026/beach.jpg")).unwrap(), [0xffu8; 5000]);
    // Labels nest three deep; each holds its child labels and its own entries.
    assert_eq!(mnt.ls("labels"), ["trips"]);
    assert_eq!(mnt.ls("labels/trips"), ["2026", "report.txt"]);
    assert_eq!(mnt.ls("labels/trips/2026"), ["summer"]);
    assert_eq!(mnt.ls("labels/trips/2026/summer"), ["beach.jpg"]);
    assert_eq!(std::fs::read(mnt.join("labels/trips/2026/summer/beach.jpg")).unwrap(), [0xffu8; 5000]);
    assert_eq!(mnt.ls("favorites"), ["song.ogg"]);
    assert_eq!(std::fs::read(mnt.join("favorites/song.ogg")).unwrap(), b"la la la");

    // Real files, not links: stat shows the real size, mode and mtime.
    let through = std::fs::symlink_metadata(mnt.join("tags/work/report.txt")).unwrap();
    let real = std::fs::metadata(&report).unwrap();
    assert!(through.file_type().is_file());
    assert_eq!((through.len(), through.mode(), through.mtime()), (real.len(), real.mode(), real.mtime()));
    // A file has one inode in every view (another in locations/, so views can be told apart); a folder never has
    // one inode under two parents.
    let ino = |p: &str| std::fs::metadata(mnt.join(p)).unwrap().ino();
    assert_eq!(ino("tags/work/report.txt"), ino("labels/trips/report.txt"));
    assert_ne!(ino("tags/work/report.txt"), ino("locations/files/docs/report.txt"));
    assert_ne!(ino("tags/work/pics"), ino("locations/files/pics"));
    assert_ne!(ino("tags/work/pics/2026"), ino("locations/files/pics/2026"));
}

#[test]
fn duplicates_are_verified_groups_of_distinct_files() {
    let fx = Fixture::new();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    fx.write("a/copy.bin", &big);
    fx.write("b/copy.bin", &big);
    let base: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let mut twin = base.clone();
    twin[30_000] ^= 0xff; // outside every sample: same cas_id, different content
    fx.write("c/sampled1.bin", &base);
    fx.write("c/sampled2.bin", &twin);
    let linked = fx.write("d/linked.bin", b"hard linked");
    std::fs::hard_link(&linked, fx.file("d/linked2.bin")).unwrap();
    fx.write("e/empty1", b"");
    fx.write("e/empty2", b"");
    fx.add();
    let mnt = fx.mount();
    let hash = blake3::hash(&big).to_hex();
    let group = format!("195.31KiB-{}", &hash[..16]);
    assert_eq!(mnt.ls("duplicates"), std::slice::from_ref(&group));
    assert_eq!(mnt.ls(format!("duplicates/{group}")), ["files∕a∕copy.bin", "files∕b∕copy.bin"]);
    assert_eq!(std::fs::read(mnt.join(format!("duplicates/{group}/files∕b∕copy.bin"))).unwrap(), big);
    // Read-only: nothing in duplicates/ can be changed, not even the copies' bytes.
    let copy = mnt.join(format!("duplicates/{group}/files∕a∕copy.bin"));
    assert_eq!(errno_of(std::fs::OpenOptions::new().write(true).open(&copy)), libc::EROFS);
    assert_eq!(errno_of(xattr::set(&copy, "user.xdg.tags", b"x")), libc::EROFS);
    assert_eq!(errno_of(std::fs::remove_file(mnt.join(format!("duplicates/{group}/files∕a∕copy.bin")))), libc::EROFS);
    assert_eq!(errno_of(std::fs::create_dir(mnt.join("duplicates/new"))), libc::EROFS);
    assert!(fx.file("a/copy.bin").exists());
}

#[test]
fn colliding_names_get_stable_suffixes_and_odd_names_survive() {
    let fx = Fixture::new();
    let one = fx.write("one/report.pdf", b"one");
    let two = fx.write("two/report.pdf", b"two");
    let latin1 = fx.files().join(OsStr::from_bytes(b"caf\xe9.txt"));
    std::fs::write(&latin1, b"latin-1 name").unwrap();
    let long_name = format!("{}.txt", "n".repeat(251));
    let long = fx.write(&long_name, b"long name");
    fx.add();
    let (id_one, id_two) = {
        let lib = Library::open(&fx.library()).unwrap();
        tag(&lib, "t", &[&one, &two, &latin1, &long]);
        (id(&lib, &one), id(&lib, &two))
    };
    let mnt = fx.mount();
    let first = format!("report~{}.pdf", id_one.0);
    let second = format!("report~{}.pdf", id_two.0);
    let mut names: Vec<Vec<u8>> =
        std::fs::read_dir(mnt.join("tags/t")).unwrap().map(|e| e.unwrap().file_name().as_bytes().to_vec()).collect();
    names.sort();
    let mut expected = vec![
        b"caf\xe9.txt".to_vec(),
        long_name.clone().into_bytes(),
        first.clone().into_bytes(),
        second.clone().into_bytes(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(std::fs::read(mnt.join(format!("tags/t/{first}"))).unwrap(), b"one");
    assert_eq!(std::fs::read(mnt.join(format!("tags/t/{second}"))).unwrap(), b"two");
    assert!(!mnt.join("tags/t/report.pdf").exists(), "an ambiguous plain name resolves to nothing");
    assert_eq!(std::fs::read(mnt.join("tags/t").join(OsStr::from_bytes(b"caf\xe9.txt"))).unwrap(), b"latin-1 name");
    assert_eq!(std::fs::read(mnt.join("tags/t").join(&long_name)).unwrap(), b"long name");
    assert_eq!(std::fs::read(mnt.join("locations/files").join(&long_name)).unwrap(), b"long name");
    assert_eq!(errno_of(std::fs::metadata(mnt.join(format!("tags/t/{}", "x".repeat(256))))), libc::ENAMETOOLONG);
    // The suffix is stable across remounts, and the suffixed lookup works even where a name is unique.
    drop(mnt);
    let mnt = fx.mount_at("mnt2", &[]);
    assert!(mnt.join(format!("tags/t/{first}")).exists());
    let unique = format!("{}~{}.txt", "n".repeat(251), 0);
    assert!(!mnt.join(format!("tags/t/{unique}")).exists());
}

#[test]
fn hidden_entries_show_only_with_show_hidden() {
    let fx = Fixture::new();
    let shown = fx.write("shown.txt", b"s");
    let hidden = fx.write("hidden.txt", b"h");
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        tag(&lib, "t", &[&shown, &hidden]);
        lib.writer().set_flag(vec![id(&lib, &hidden)], Flag::Hidden, true).unwrap();
    }
    let mnt = fx.mount();
    assert_eq!(mnt.ls("tags/t"), ["shown.txt"]);
    assert!(!mnt.join("tags/t/hidden.txt").exists());
    assert_eq!(mnt.ls("locations/files"), ["hidden.txt", "shown.txt"], "locations/ mirrors the disk");
    let all = fx.mount_at("all", &["--show-hidden"]);
    assert_eq!(all.ls("tags/t"), ["hidden.txt", "shown.txt"]);
}

#[test]
fn find_walks_the_whole_mount_and_stops() {
    let fx = Fixture::new();
    let mut paths = Vec::new();
    for i in 0..30 {
        paths.push(fx.write(format!("d{}/sub/f{i}.txt", i % 3), format!("distinct {i}").as_bytes()));
    }
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        tag(&lib, "all", &refs);
        tag(&lib, "dirs", &[&fx.file("d0")]);
        lib.writer().set_flag(vec![id(&lib, &paths[0])], Flag::Favorite, true).unwrap();
    }
    let mnt = fx.mount();
    let out = std::process::Command::new("find").arg(&mnt.path).arg("-type").arg("f").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let files = String::from_utf8(out.stdout).unwrap().lines().count();
    // 30 in locations/, 30 in tags/all, 10 below the tagged folder d0, 1 favorite.
    assert_eq!(files, 30 + 30 + 10 + 1);
}

#[test]
fn remount_keeps_inode_numbers() {
    let fx = Fixture::new();
    let file = fx.write("a/b.txt", b"b");
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        tag(&lib, "t", &[&file, &fx.file("a")]);
    }
    let inos = |m: &Mounted| -> Vec<u64> {
        ["locations/files/a/b.txt", "locations/files/a", "tags/t", "tags/t/a", "tags/t/a/b.txt", "locations/files"]
            .iter()
            .map(|p| std::fs::metadata(m.join(p)).unwrap().ino())
            .collect()
    };
    let first = fx.mount();
    let before = inos(&first);
    first.unmount();
    let second = fx.mount();
    assert_eq!(inos(&second), before);
}

#[test]
fn cli_changes_show_in_the_mount_at_once() {
    let fx = Fixture::new();
    let file = fx.write("a.txt", b"a");
    fx.add();
    let mnt = fx.mount();
    assert!(mnt.ls("tags").is_empty());
    fx.run(["tag".as_ref(), "fresh".as_ref(), file.as_os_str()]).ok();
    assert_eq!(mnt.ls("tags"), ["fresh"]);
    assert_eq!(mnt.ls("tags/fresh"), ["a.txt"]);
    assert!(mnt.join("tags/fresh/a.txt").exists());
    fx.run(["untag".as_ref(), "fresh".as_ref(), file.as_os_str()]).ok();
    assert!(mnt.ls("tags/fresh").is_empty());
    // The kernel's cached entry is invalidated within the poll interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while mnt.join("tags/fresh/a.txt").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!mnt.join("tags/fresh/a.txt").exists());
}

#[test]
fn changes_through_views_are_refused_and_real_files_stay() {
    let fx = Fixture::new();
    let file = fx.write("a.txt", b"keep me");
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        tag(&lib, "t", &[&file]);
    }
    let mnt = fx.mount();
    assert_eq!(errno_of(std::fs::write(mnt.join("tags/t/new.txt"), b"x")), libc::EPERM);
    assert_eq!(errno_of(std::fs::read_dir(mnt.join("tags/t/a.txt"))), libc::ENOTDIR);
    assert_eq!(errno_of(std::fs::metadata(mnt.join("tags/nope"))), libc::ENOENT);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let ro = fx.mount_at("ro", &["--read-only"]);
    assert_eq!(errno_of(std::fs::remove_file(ro.join("tags/t/a.txt"))), libc::EROFS);
    assert_eq!(ro.ls("tags/t"), ["a.txt"]);
    // In a writable mount, rm in a tag folder untags; the real file stays.
    std::fs::remove_file(mnt.join("tags/t/a.txt")).unwrap();
    assert!(mnt.ls("tags/t").is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    // A real file deleted behind the library's back: ENOENT, not a crash.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(errno_of(std::fs::File::open(mnt.join("locations/files/a.txt"))), libc::ENOENT);
    assert!(mnt.ls("tags").contains(&"t".to_string()), "the mount still serves");
}

#[test]
fn bad_mount_requests_are_refused_with_one_line() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    let missing_lib = fx.dir.path().join("none.db");
    let mnt_dir = fx.dir.path().join("mnt");
    std::fs::create_dir(&mnt_dir).unwrap();
    let run =
        common::Run::from(spacefs().arg("--library").arg(&missing_lib).arg("mount").arg(&mnt_dir).output().unwrap());
    run.fails_with("no library at");
    assert!(!missing_lib.exists(), "mount must not create a library");
    fx.add();
    fx.run(["mount", "/no/such/dir"]).fails_with("does not exist (create it with 'mkdir -p /no/such/dir')");
    fx.run(["mount".as_ref(), fx.file("a.txt").as_os_str()]).fails_with("is not a folder");
    let full = fx.dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    fx.run(["mount".as_ref(), full.as_os_str()]).fails_with("is not empty");
    let inside = fx.file("sub");
    std::fs::create_dir(&inside).unwrap();
    fx.run(["mount".as_ref(), inside.as_os_str()]).fails_with("is inside the location 'files'");
    let mounted = fx.mount();
    fx.run(["mount".as_ref(), mounted.path.as_os_str()]).fails_with("is already mounted");
    fx.run(["unmount".as_ref(), full.as_os_str()]).fails_with("is not mounted");
    mounted.unmount();
}

#[test]
fn eight_threads_read_and_list_at_once() {
    let fx = Fixture::new();
    let mut files = Vec::new();
    for i in 0..64 {
        files.push(fx.write(format!("d{}/f{i}.txt", i % 4), format!("content {i}").as_bytes()));
    }
    fx.add();
    {
        let lib = Library::open(&fx.library()).unwrap();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        tag(&lib, "all", &refs);
    }
    let mnt = fx.mount();
    std::thread::scope(|s| {
        for t in 0..8 {
            let mnt = &mnt;
            s.spawn(move || {
                for round in 0..20 {
                    assert_eq!(mnt.ls("tags/all").len(), 64);
                    let i = (t * 8 + round) % 64;
                    let body = std::fs::read(mnt.join(format!("tags/all/f{i}.txt"))).unwrap();
                    assert_eq!(body, format!("content {i}").as_bytes());
                    assert_eq!(mnt.ls(format!("locations/files/d{}", i % 4)).len(), 16);
                }
            });
        }
    });
}

#[test]
fn the_demo_mounts_a_sample_library() {
    let fx = Fixture::new();
    let mnt = Mounted { path: fx.dir.path().join("demo-mnt") };
    let run =
        common::Run::from(spacefs().env("XDG_DATA_HOME", fx.dir.path()).arg("demo").arg(&mnt.path).output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("When done: "), "{run:?}");
    // The hints work as printed, before spacefs is installed anywhere on the PATH (as after `cargo run -- demo`).
    let hint = run.stdout.lines().find(|l| l.contains(" find --label projects --favorite")).expect("a find hint");
    let found = Command::new("sh").arg("-c").arg(hint.trim()).env("PATH", "/usr/bin:/bin").output().unwrap();
    assert!(found.status.success(), "{hint}: {found:?}");
    assert!(String::from_utf8_lossy(&found.stdout).contains("README.md"), "{hint}: {found:?}");
    assert_eq!(mnt.ls("tags"), ["favorite-places", "holiday", "important", "work"]);
    assert_eq!(mnt.ls("favorites"), ["README.md"]);
    assert_eq!(mnt.ls("labels/projects/open-source"), ["README.md"]);
    assert_eq!(mnt.ls("duplicates").len(), 3);
    assert_eq!(
        std::fs::read_to_string(mnt.join("tags/work/report-2026.txt")).unwrap(),
        "Quarterly report: all good.\n"
    );
}

#[test]
fn foreground_mount_unmounts_cleanly_on_sigterm() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let guard = Mounted { path: fx.dir.path().join("fg") };
    std::fs::create_dir(&guard.path).unwrap();
    let mut child =
        spacefs().arg("--library").arg(fx.library()).arg("mount").arg(&guard.path).arg("--foreground").spawn().unwrap();
    eventually("mounted", || mounted(&guard.path));
    assert_eq!(guard.ls("locations/files"), ["a.txt"]);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!mounted(&guard.path));
    let wal = fx.dir.path().join("library.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "the WAL is checkpointed on exit");
}

#[test]
fn fusermount3_unmount_ends_the_daemon() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let mnt = fx.mount();
    let pids = || {
        let out = std::process::Command::new("pgrep").arg("-f").arg(format!("mount {}", mnt.path.display())).output();
        String::from_utf8_lossy(&out.unwrap().stdout).lines().count()
    };
    assert_eq!(pids(), 1, "one daemon serves the mount");
    let out = std::process::Command::new("fusermount3").arg("-u").arg(&mnt.path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    eventually("the daemon exited", || pids() == 0);
    assert!(!mounted(&mnt.path));
}

#[test]
fn a_daemon_unmounted_from_outside_leaves_a_new_mount_at_the_same_path_alone() {
    // A restart as scripts and service managers do it: unmount, then mount the same path again at once.
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let first = fx.mount();
    let out = std::process::Command::new("pgrep").arg("-f").arg(format!("mount {}", first.path.display())).output();
    let old: i32 = String::from_utf8_lossy(&out.unwrap().stdout).lines().next().unwrap().parse().unwrap();
    let out = std::process::Command::new("fusermount3").arg("-u").arg(&first.path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    std::mem::forget(first);
    let second = fx.mount();
    // SAFETY: signal 0 only asks whether the process exists.
    eventually("the first daemon exited", || unsafe { libc::kill(old, 0) } != 0);
    assert!(mounted(&second.path), "the first daemon took the new mount away as it exited");
    assert_eq!(second.ls("locations/files"), ["a.txt"]);
}

#[test]
fn a_killed_daemon_leaves_nothing_lost_and_the_next_mount_cleans_up_and_catches_up() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.write("b.txt", b"b");
    fx.add();
    let mnt = fx.mount();
    xattr::set(mnt.join("locations/files/a.txt"), "user.xdg.tags", b"keep").unwrap();
    std::fs::write(mnt.join("locations/files/new.txt"), b"made through the mount").unwrap();
    let daemon = || {
        let out = std::process::Command::new("pgrep").arg("-f").arg(format!("mount {}", mnt.path.display())).output();
        String::from_utf8_lossy(&out.unwrap().stdout).lines().next().map(|p| p.parse::<i32>().unwrap())
    };
    let pid = daemon().expect("a daemon serves the mount");
    // SAFETY: killing the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    eventually("the daemon died", || daemon().is_none());
    let dead = std::fs::metadata(&mnt.path).unwrap_err().raw_os_error();
    assert!(matches!(dead, Some(libc::ENOTCONN | libc::ECONNABORTED)), "{dead:?}");
    // While nothing serves the library: a tagged file renamed, another deleted, one added.
    std::fs::rename(fx.file("a.txt"), fx.file("renamed.txt")).unwrap();
    std::fs::remove_file(fx.file("b.txt")).unwrap();
    fx.write("offline.txt", b"added while unmounted");
    let run = fx.run([OsStr::new("mount"), mnt.path.as_os_str()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("left mounted by a daemon that stopped; cleaned it up"), "{run:?}");
    assert_eq!(mnt.ls("locations/files"), ["new.txt", "offline.txt", "renamed.txt"]);
    assert_eq!(mnt.ls("tags/keep"), ["renamed.txt"], "the tag followed the file renamed while unmounted");
    assert_eq!(std::fs::read(fx.file("new.txt")).unwrap(), b"made through the mount");
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "{check:?}");
}
