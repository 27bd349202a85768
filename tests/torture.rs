//! Crash safety: `scripts/torture crash` kills the daemon under load and checks nothing acknowledged was lost.
//! The test runs a few kills; the script's default of 50 is the benchmark-sized run.

#[test]
fn killing_the_daemon_under_load_loses_no_acknowledged_change() {
    let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/torture"))
        .args(["crash", "--kills", "5", "--bin", env!("CARGO_BIN_EXE_spacefs")])
        .output()
        .expect("python3 runs scripts/torture");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("crash: 5 kills,") && stdout.contains(", 0 of them lost"), "{stdout}{stderr}");
    let acknowledged: u64 = stdout.split(", ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(acknowledged > 100, "the clients made too few changes to prove anything: {stdout}");
}

/// `scripts/torture load`, shortened: taggers and readers at once, a backup halfway; no error, nothing lost.
#[test]
fn taggers_and_readers_at_once_see_no_error_and_the_backup_holds_every_earlier_change() {
    let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/torture"))
        .args(["load", "--seconds", "6", "--bin", env!("CARGO_BIN_EXE_spacefs")])
        .output()
        .expect("python3 runs scripts/torture");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(" 0 errors (target 0)"), "{stdout}{stderr}");
    assert!(stdout.contains("live library: 0 of 512 files differ"), "{stdout}{stderr}");
    assert!(stdout.contains("check passes;") && stdout.contains(", 0 files missing one"), "{stdout}{stderr}");
}
