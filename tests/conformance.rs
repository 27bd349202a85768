//! pjdfstest through `locations/`, side by side with a real folder (`scripts/conformance`): a subset of its groups
//! that runs in well under two minutes must show no subtest failing only through the mount. The whole suite is
//! `scripts/conformance` with no arguments (docs/conformance.md).
//!
//! The suite's source is not part of this repository (its licence and size): it is taken from `PJDFSTEST_SRC`, or
//! `../shared/pjdfstest` beside the checkout. Where neither exists the test says so on stderr and passes.

use std::path::PathBuf;
use std::process::Command;

fn source() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PJDFSTEST_SRC").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pjdfstest")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("pjdfstest.c").is_file())
}

#[test]
fn no_pjdfstest_subtest_fails_only_through_the_mount() {
    let Some(src) = source() else {
        eprintln!("skipped: no pjdfstest source (set PJDFSTEST_SRC to run it)");
        return;
    };
    // The groups that cover what the mount adds to the disk (links, special files, long paths, opens), in about 90 s;
    // chmod, chown, rename, unlink and the rest run with `scripts/conformance`.
    let groups = ["ftruncate", "link", "mkdir", "mkfifo", "mknod", "open", "rmdir", "symlink"];
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/conformance");
    let build = std::env::temp_dir().join("spacefs-pjdfstest-suite");
    let out = Command::new(script)
        .args(groups)
        .env("PJDFSTEST_SRC", &src)
        .env("PJDFSTEST_BUILD", &build)
        .env("SPACEFS", env!("CARGO_BIN_EXE_spacefs"))
        .output()
        .expect("run scripts/conformance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "subtests fail only through the mount:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every group ran and was compared.
    for group in groups {
        assert!(stdout.lines().any(|l| l.starts_with(group)), "{group} missing from:\n{stdout}");
    }
    assert!(stdout.contains("none fail only through the mount"), "{stdout}");
}
