//! The library ends equal to the disk: after several processes churn a location through the mount (creates, renames
//! of files and folders, links, deletes, in an order drawn from a seed), `spacefs check` finds no difference, before
//! and after a remount. And a name renamed back and forth stays where the disk has it.

mod common;

use common::{Fixture, Rng};
use std::fs;
use std::path::{Path, PathBuf};

/// One worker's random operations inside `root` (its own folder and a shared one, so workers also race).
fn churn(root: &Path, worker: u64, seed: u64, steps: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let own = root.join(format!("w{worker}"));
    fs::create_dir_all(&own).unwrap();
    let shared = root.join("shared");
    fs::create_dir_all(&shared).ok();
    let name = |rng: &mut Rng, dir: &Path| -> PathBuf {
        let sub = if rng.below(3) == 0 { format!("d{}/", rng.below(3)) } else { String::new() };
        dir.join(format!("{sub}f{}", rng.below(12)))
    };
    for _ in 0..steps {
        let dir = if rng.below(4) == 0 { &shared } else { &own };
        let a = name(&mut rng, dir);
        let b = name(&mut rng, dir);
        // Failures are expected where another worker got there first (ENOENT, EEXIST, ENOTEMPTY…): what is
        // checked is that the library follows whatever the disk ends up holding.
        let _ = match rng.below(9) {
            0 | 1 => fs::write(&a, vec![b'x'; rng.below(3000) as usize]),
            2 => fs::rename(&a, &b),
            3 => fs::hard_link(&a, &b),
            4 => fs::remove_file(&a),
            5 => fs::create_dir(dir.join(format!("d{}", rng.below(3)))),
            6 => fs::rename(dir.join(format!("d{}", rng.below(3))), dir.join(format!("d{}", rng.below(3)))),
            7 => fs::remove_dir_all(dir.join(format!("d{}", rng.below(3)))),
            _ => fs::OpenOptions::new().append(true).open(&a).and_then(|mut f| {
                use std::io::Write;
                f.write_all(b"more")
            }),
        };
    }
}

#[test]
fn the_library_equals_the_disk_after_concurrent_churn_and_after_a_remount() {
    let fx = Fixture::new();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let mnt = fx.mount();
    let root = mnt.join("locations/files");
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let root = root.clone();
            scope.spawn(move || churn(&root, worker, 20261202 + worker, 400));
        }
    });
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "the library differs from the disk after the churn: {check:?}");
    assert!(check.stdout.contains("equals its folder on disk"), "{check:?}");
    mnt.unmount();
    let _again = fx.mount();
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "after a remount: {check:?}");
}

#[test]
fn check_reports_ghosts_and_missing_files_and_rescan_repairs_them() {
    let fx = Fixture::new();
    fx.write("keep.txt", b"keep");
    fx.write("a/b/c/deep.txt", b"deep");
    fx.write("gone.txt", b"gone");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["tag".as_ref(), "kept".as_ref(), fx.file("a/b/c/deep.txt").as_os_str()]).ok();
    assert_eq!(fx.run(["check"]).code, 0);
    // Behind the library's back: a file removed, one added, a whole folder gone.
    fs::remove_file(fx.file("gone.txt")).unwrap();
    fx.write("new.txt", b"new");
    fs::remove_dir_all(fx.file("a")).unwrap();
    let check = fx.run(["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    let shown = |rel: &str| fx.file(rel).display().to_string();
    for line in [
        format!("ghost: {} (in the library, not on disk)", shown("gone.txt")),
        format!("ghost: {} (in the library, not on disk)", shown("a")),
        format!("missing: {} (on disk, not in the library)", shown("new.txt")),
    ] {
        assert!(check.stdout.lines().any(|l| l == line), "expected {line:?} in {check:?}");
    }
    assert!(check.stderr.contains("repair with 'spacefs rescan'"), "{check:?}");
    fx.run(["rescan"]).ok();
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "rescan repaired every difference: {check:?}");
    // The vanished file's tag was kept as an orphan, not lost.
    assert!(fx.run(["status"]).ok().contains("orphaned   1 "), "status counts the kept metadata");
}

#[test]
fn rows_whose_folder_row_is_gone_are_found_and_removed() {
    let fx = Fixture::new();
    fx.write("x/y/z.txt", b"z");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fs::remove_dir_all(fx.file("x")).unwrap();
    // The library loses the folder rows but keeps the file below them (what concurrent churn left behind).
    let conn = rusqlite_free_delete(&fx.library(), "DELETE FROM entries WHERE kind = 1");
    assert!(conn, "sqlite3 edited the library");
    let check = fx.run(["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(check.stdout.contains(&format!("ghost: {}", fx.file("x/y/z.txt").display())), "{check:?}");
    fx.run(["rescan"]).ok();
    assert_eq!(fx.run(["check"]).code, 0);
}

/// Edits the library with Python's sqlite3 (the tests do not link SQLite themselves).
fn rusqlite_free_delete(library: &Path, sql: &str) -> bool {
    let script = format!("import sqlite3; c = sqlite3.connect({:?}); c.execute({sql:?}); c.commit()", library);
    std::process::Command::new("python3").arg("-c").arg(script).status().is_ok_and(|s| s.success())
}

#[test]
fn a_name_renamed_back_and_forth_stays_where_the_disk_has_it() {
    let fx = Fixture::new();
    fx.write("f", b"content");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files");
    // Long enough for the watcher's late view of the renames to overlap new ones (scripts/metaops.py's 1,500 rounds
    // made a duplicate entry, then EIO, before the writer followed moves).
    for i in 0..1000 {
        fs::rename(dir.join("f"), dir.join("g")).unwrap_or_else(|e| panic!("rename f g, round {i}: {e}"));
        fs::rename(dir.join("g"), dir.join("f")).unwrap_or_else(|e| panic!("rename g f, round {i}: {e}"));
    }
    fs::hard_link(dir.join("f"), dir.join("l")).expect("link f l");
    fs::OpenOptions::new().create(true).append(true).open(dir.join("f")).expect("open f O_CREAT");
    assert_eq!(fs::read(dir.join("l")).unwrap(), b"content");
    // The watcher's view of those renames arrives late; the library must still end where the disk is.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(mnt.ls("locations/files"), ["f", "l"]);
}

#[test]
fn a_file_linked_then_unlinked_under_its_first_name_links_again_at_once() {
    // pjdfstest link/02.t: each step a new process, nothing waited for in between. The kernel knows the file by
    // its first name's inode number; once that name is unlinked (its removal perhaps not yet recorded), linking
    // the file again must reach it under the name it still has.
    let fx = Fixture::new();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files");
    for i in 0..30 {
        let (first, second) = (dir.join(format!("x{i}")), dir.join(format!("n{i}")));
        fs::write(&first, b"x").unwrap();
        fs::hard_link(&first, &second).unwrap_or_else(|e| panic!("link x n, round {i}: {e}"));
        fs::remove_file(&first).unwrap_or_else(|e| panic!("unlink x, round {i}: {e}"));
        fs::hard_link(&second, &first).unwrap_or_else(|e| panic!("link n x again, round {i}: {e}"));
        fs::remove_file(&second).unwrap();
        fs::remove_file(&first).unwrap();
    }
    assert!(mnt.ls("locations/files").is_empty());
    common::eventually("the library ends equal to the disk", || fx.run(["check"]).code == 0);
}
