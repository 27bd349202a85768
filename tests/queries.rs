//! Queries: the language against a straightforward in-memory evaluation, and query/ and untagged/ through a mount.

mod common;

use common::{Fixture, Rng};
use spacefs::index::{self, ScanOptions};
use spacefs::library::write::{Flag, NewLocation};
use spacefs::library::{IndexMode, Library};
use spacefs::names::{LabelPath, TagName};
use spacefs::query::{Expr, ModifiedAt, parse};
use std::collections::BTreeSet;

const LOCATIONS: [&str; 2] = ["one", "two"];
const TAGS: [&str; 4] = ["red", "green", "blue", "to do"];
const LABELS: [&str; 4] = ["a", "a/b", "a/b/c", "d"];
/// "" is a file without an extension: its kind comes from its bytes (letters: text; none: other).
const EXTS: [&str; 5] = ["txt", "pdf", "jpg", "PDF", ""];
const NOTES: [Option<&str>; 3] = [None, Some("Invoice for March"), Some("call back later")];
const DAY: i64 = 86_400;
/// Modification times: days before now (the relative forms), and two dates (the absolute forms).
const AGES_DAYS: [i64; 3] = [2, 45, 400];

/// What the model knows of a file.
#[derive(Debug, Clone)]
struct File {
    location: &'static str,
    name: String,
    ext: &'static str,
    /// The file holds `size` copies of this letter: equal (letter, size) means equal content.
    letter: u8,
    size: u64,
    tags: BTreeSet<&'static str>,
    labels: BTreeSet<&'static str>,
    favorite: bool,
    hidden: bool,
    notes: Option<&'static str>,
    modified: i64,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `*` any run, `?` one character: the two forms the generator makes.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

fn eval(expr: &Expr, f: &File, all: &[File]) -> bool {
    match expr {
        Expr::Tag(t) => f.tags.contains(t.as_str()),
        Expr::Label(l) => f.labels.iter().any(|x| x == l || x.starts_with(&format!("{l}/"))),
        Expr::Favorite => f.favorite,
        Expr::Hidden => f.hidden,
        Expr::Dupe => f.size > 0 && all.iter().filter(|o| o.letter == f.letter && o.size == f.size).count() >= 2,
        Expr::Kind(k) => {
            let kind = match f.ext.to_ascii_lowercase().as_str() {
                "txt" => "text",
                "pdf" => "document",
                "jpg" => "image",
                _ if f.size > 0 => "text",
                _ => "other",
            };
            kind == k
        }
        Expr::Ext(e) => !f.ext.is_empty() && f.ext.to_ascii_lowercase() == *e,
        Expr::Name(g) => glob(g.as_bytes(), f.name.as_bytes()),
        Expr::Location(l) => f.location == l,
        Expr::Notes(w) => f.notes.is_some_and(|n| n.to_lowercase().contains(&w.to_lowercase())),
        Expr::Size { greater: true, bytes } => f.size as i64 > *bytes,
        Expr::Size { greater: false, bytes } => (f.size as i64) < *bytes,
        Expr::Modified { after, at: ModifiedAt::Instant(ns) } => (f.modified * 1_000_000_000 > *ns) == *after,
        Expr::Modified { after, at: ModifiedAt::Date(d) } => {
            let at = match d.as_str() {
                "2026-01-01" => 1_767_225_600,
                other => panic!("the generator does not make {other}"),
            };
            (f.modified > at) == *after
        }
        Expr::Not(a) => !eval(a, f, all),
        Expr::And(a, b) => eval(a, f, all) && eval(b, f, all),
        Expr::Or(a, b) => eval(a, f, all) || eval(b, f, all),
    }
}

fn random_leaf(rng: &mut Rng) -> String {
    let quoted = |t: &str| if t.contains(' ') { format!("\"{t}\"") } else { t.to_owned() };
    match rng.below(14) {
        0 => "favorite".into(),
        1 => "hidden".into(),
        2 => "dupe".into(),
        3 => format!("ext:{}", rng.pick(&["txt", "pdf", "jpg"])),
        4 => format!("kind:{}", rng.pick(&["text", "document", "image", "other", "video"])),
        5 => format!("name:{}", rng.pick(&["f1*", "*.pdf", "f?2*", "*"])),
        6 => format!("location:{}", rng.pick(&LOCATIONS)),
        7 => format!("notes:{}", rng.pick(&["invoice", "LATER", "nothing"])),
        8 => format!("size{}{}", rng.pick(&[">", "<"]), rng.below(300)),
        9 => format!("modified{}{}", rng.pick(&[">", "<"]), rng.pick(&["30d", "2026-01-01", "1y"])),
        10 => format!("label:{}", rng.pick(&["a", "a/b", "d", "nosuch"])),
        11 => "nosuchtag".into(),
        _ => quoted(rng.pick(&TAGS)),
    }
}

fn random_expr(rng: &mut Rng, depth: u32) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return random_leaf(rng);
    }
    match rng.below(4) {
        0 => format!("not {}", random_expr(rng, depth - 1)),
        1 => format!("({} and {})", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        2 => format!("({} or {})", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        _ => format!("{} {}", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
    }
}

fn random_files(rng: &mut Rng, now: i64) -> Vec<File> {
    let mut files = Vec::new();
    for i in 0..60 {
        let ext = rng.pick(&EXTS);
        let stem = format!("f{i:02}");
        let name = if ext.is_empty() { stem } else { format!("{stem}.{ext}") };
        let age = if rng.below(4) == 0 { 0 } else { rng.pick(&AGES_DAYS) };
        let modified = if age == 0 { 1_767_225_600 - 10 * DAY } else { now - age * DAY };
        files.push(File {
            location: rng.pick(&LOCATIONS),
            name,
            ext,
            letter: rng.pick(b"xy"),
            size: rng.pick(&[0, 1, 7, 100, 250]),
            tags: TAGS.iter().copied().filter(|_| rng.below(3) == 0).collect(),
            labels: LABELS.iter().copied().filter(|_| rng.below(4) == 0).collect(),
            favorite: rng.below(4) == 0,
            hidden: rng.below(5) == 0,
            notes: rng.pick(&NOTES),
            modified,
        });
    }
    files
}

#[test]
fn sql_evaluation_agrees_with_an_in_memory_evaluation_on_random_libraries() {
    let now = now();
    for seed in [1u64, 7, 42, 1234] {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let fx = Fixture::new();
        let files = random_files(&mut rng, now);
        for f in &files {
            let path = fx.write(format!("{}/{}", f.location, f.name), &vec![f.letter; f.size as usize]);
            let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(f.modified as u64);
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        }
        let lib = Library::open(&fx.library()).unwrap();
        let mut ids = Vec::new();
        for name in LOCATIONS {
            let path = fx.file(name);
            std::fs::create_dir_all(&path).unwrap();
            let new = NewLocation {
                name: name.into(),
                path: path.canonicalize().unwrap(),
                index_mode: IndexMode::Content,
                device_id: lib.device_id(),
            };
            lib.writer().add_location(new).unwrap();
            let location = lib.reader().unwrap().location_named(name).unwrap();
            index::scan(&lib, &location, ScanOptions::default()).unwrap();
            ids.push(location.id);
        }
        let reader = lib.reader().unwrap();
        for f in &files {
            let location = ids[LOCATIONS.iter().position(|l| *l == f.location).unwrap()];
            let id = reader.entry_by_path(location, b"", f.name.as_bytes()).unwrap().unwrap();
            let tags: Vec<TagName> = f.tags.iter().map(|t| TagName::parse(t).unwrap()).collect();
            if !tags.is_empty() {
                lib.writer().tag(vec![id], tags).unwrap();
            }
            for label in &f.labels {
                lib.writer().label(vec![id], LabelPath::parse(label).unwrap()).unwrap();
            }
            lib.writer().set_flag(vec![id], Flag::Favorite, f.favorite).unwrap();
            lib.writer().set_flag(vec![id], Flag::Hidden, f.hidden).unwrap();
            lib.writer().set_notes(id, f.notes.map(str::to_owned)).unwrap();
        }
        let mut matched_some = 0;
        for _ in 0..150 {
            let text = random_expr(&mut rng, 3);
            let expr = parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let mut expected: Vec<String> =
                files.iter().filter(|f| eval(&expr, f, &files)).map(|f| format!("{}/{}", f.location, f.name)).collect();
            expected.sort();
            let mut got: Vec<String> = reader
                .query_paths(&expr)
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(fx.files().canonicalize().unwrap()).unwrap().to_string_lossy().into_owned())
                .collect();
            got.sort();
            assert_eq!(got, expected, "seed {seed}, query {text:?}");
            matched_some += usize::from(!got.is_empty() && got.len() < files.len());
        }
        assert!(matched_some > 50, "seed {seed}: only {matched_some} queries told files apart");
    }
}

#[test]
fn query_and_untagged_folders_through_the_mount() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.write("b.pdf", b"b");
    fx.write("pics/c.jpg", b"c");
    fx.write("pics/scan", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"); // no extension: its first bytes say image
    fx.write("loose.txt", b"loose");
    let run = fx.run(["add".as_ref(), fx.files().as_os_str(), "--quiet".as_ref()]);
    assert_eq!(run.code, 0, "{run:?}");
    fx.run(["tag".as_ref(), "work".as_ref(), fx.file("a.txt").as_os_str(), fx.file("b.pdf").as_os_str()]).ok();
    fx.run(["tag".as_ref(), "old".as_ref(), fx.file("b.pdf").as_os_str()]).ok();
    let (jpg, scan) = (fx.file("pics/c.jpg"), fx.file("pics/scan"));
    fx.run(["label".as_ref(), "pics/2026".as_ref(), jpg.as_os_str(), scan.as_os_str()]).ok();
    let mnt = fx.mount();
    assert_eq!(mnt.ls("query/work and not old"), ["a.txt"]);
    assert_eq!(mnt.ls("query/kind:image"), ["c.jpg", "scan"]);
    assert_eq!(mnt.ls("query/label:pics or old"), ["b.pdf", "c.jpg", "scan"]);
    assert_eq!(std::fs::read(mnt.join("query/work and not old/a.txt")).unwrap(), b"a");
    assert_eq!(mnt.ls("untagged"), ["loose.txt"]);
    // An expression that does not parse is simply not there.
    assert_eq!(std::fs::metadata(mnt.join("query/(work")).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    // Saved queries are listed, resolve by name, and can be forgotten.
    assert!(mnt.ls("query").is_empty());
    let long = "ext:txt or ext:pdf or ext:jpg or ext:png or ext:gif or ext:doc or ext:md or ext:rs or ext:c or ext:h";
    fx.run(["query", "save", "documents", long]).ok();
    assert_eq!(mnt.ls("query"), ["documents"]);
    assert_eq!(mnt.ls("query/documents"), ["a.txt", "b.pdf", "c.jpg", "loose.txt"]);
    assert_eq!(fx.run(["query", "list"]).ok(), format!("documents\t{long}\n"));
    std::fs::remove_dir(mnt.join("query/documents")).unwrap();
    assert!(mnt.ls("query").is_empty());
    // mkdir saves an expression, even one just listed; a second mkdir finds it there; rmdir forgets it.
    std::fs::create_dir(mnt.join("query/work and not old")).unwrap();
    std::fs::create_dir(mnt.join("query/kind:image")).unwrap();
    assert_eq!(mnt.ls("query"), ["kind:image", "work and not old"]);
    assert_eq!(mnt.ls("query/work and not old"), ["a.txt"]);
    assert!(fx.run(["query", "list"]).ok().contains("work and not old\twork and not old\n"));
    let again = std::fs::create_dir(mnt.join("query/kind:image")).unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(std::fs::create_dir(mnt.join("query/(work")).unwrap_err().raw_os_error(), Some(libc::EINVAL));
    std::fs::remove_dir(mnt.join("query/kind:image")).unwrap();
    assert_eq!(mnt.ls("query"), ["work and not old"]);
    assert_eq!(mnt.ls("tags/work"), ["a.txt", "b.pdf"], "forgetting a query touches no entry");
    std::fs::remove_dir(mnt.join("query/work and not old")).unwrap();
    assert!(mnt.ls("query").is_empty());
    assert_eq!(mnt.ls("query/work and not old"), ["a.txt"], "a forgotten expression still works unsaved");
    // Changes in a query folder are refused: their meaning would be ambiguous.
    let in_query = mnt.join("query/work/a.txt");
    assert_eq!(std::fs::remove_file(&in_query).unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(
        std::fs::hard_link(mnt.join("locations/files/loose.txt"), mnt.join("query/work/loose.txt"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EPERM)
    );
    assert_eq!(std::fs::rename(&in_query, mnt.join("query/old/a.txt")).unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(mnt.ls("tags/work"), ["a.txt", "b.pdf"]);
    // Extended attributes inside query/ and untagged/ work as in tags/: they tag the real entry.
    let tags_of = |p: &str| String::from_utf8(xattr::get(mnt.join(p), "user.xdg.tags").unwrap().unwrap()).unwrap();
    assert_eq!(tags_of("query/work and not old/a.txt"), "work");
    xattr::set(mnt.join("query/work and not old/a.txt"), "user.xdg.tags", b"work,urgent").unwrap();
    assert_eq!(mnt.ls("tags/urgent"), ["a.txt"]);
    xattr::set(mnt.join("untagged/loose.txt"), "user.xdg.tags", b"later").unwrap();
    assert!(mnt.ls("untagged").is_empty(), "a tagged file leaves untagged/");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("loose.txt").as_os_str()]).ok(), "later\n");
    // The CLI says where an expression goes wrong.
    fx.run(["find", "--query", "work and (old"]).fails_with("at character 14: expected ')'");
    fx.run(["query", "save", "x", "size>big"]).fails_with("expected a size like 10M");
}
