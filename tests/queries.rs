//! Queries: the language against a straightforward in-memory evaluation, and query/ and untagged/ through a mount.

mod common;

use common::Fixture;
use spacefs::index::{self, ScanOptions};
use spacefs::library::write::{Flag, NewLocation};
use spacefs::library::{IndexMode, Library};
use spacefs::names::TagName;
use spacefs::query::{Expr, parse};
use std::collections::BTreeSet;

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TAGS: [&str; 4] = ["red", "green", "blue", "to do"];
const EXTS: [&str; 3] = ["txt", "pdf", "jpg"];

/// What the model knows of a file.
#[derive(Debug, Clone)]
struct File {
    name: String,
    tags: BTreeSet<&'static str>,
    favorite: bool,
    size: u64,
}

fn eval(expr: &Expr, f: &File) -> bool {
    match expr {
        Expr::Tag(t) => f.tags.contains(t.as_str()),
        Expr::Favorite => f.favorite,
        Expr::Ext(e) => f.name.ends_with(&format!(".{e}")),
        Expr::Size { greater, bytes } => {
            if *greater {
                f.size as i64 > *bytes
            } else {
                (f.size as i64) < *bytes
            }
        }
        Expr::Not(a) => !eval(a, f),
        Expr::And(a, b) => eval(a, f) && eval(b, f),
        Expr::Or(a, b) => eval(a, f) || eval(b, f),
        other => panic!("the generator does not make {other:?}"),
    }
}

fn random_expr(rng: &mut Rng, depth: u32) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return match rng.below(5) {
            0 => "favorite".into(),
            1 => format!("ext:{}", EXTS[rng.below(3) as usize]),
            2 => format!("size{}{}", if rng.below(2) == 0 { ">" } else { "<" }, rng.below(300)),
            _ => {
                let t = TAGS[rng.below(4) as usize];
                if t.contains(' ') { format!("\"{t}\"") } else { t.into() }
            }
        };
    }
    match rng.below(4) {
        0 => format!("not {}", random_expr(rng, depth - 1)),
        1 => format!("({} and {})", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        2 => format!("({} or {})", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        _ => format!("{} {}", random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
    }
}

#[test]
fn sql_evaluation_agrees_with_an_in_memory_evaluation_on_random_libraries() {
    for seed in [1u64, 7, 42, 1234] {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let fx = Fixture::new();
        let mut files = Vec::new();
        for i in 0..40 {
            let name = format!("f{i:02}.{}", EXTS[rng.below(3) as usize]);
            let size = rng.below(300);
            fx.write(&name, &vec![b'x'; size as usize]);
            let tags: BTreeSet<&str> = TAGS.iter().copied().filter(|_| rng.below(3) == 0).collect();
            files.push(File { name, tags, favorite: rng.below(4) == 0, size });
        }
        let lib = Library::open(&fx.library()).unwrap();
        let path = fx.files().canonicalize().unwrap();
        lib.writer()
            .add_location(NewLocation {
                name: "files".into(),
                path: path.clone(),
                index_mode: IndexMode::Metadata,
                device_id: lib.device_id(),
            })
            .unwrap();
        let location = lib.reader().unwrap().location_named("files").unwrap();
        index::scan(&lib, &location, ScanOptions::default()).unwrap();
        let reader = lib.reader().unwrap();
        for f in &files {
            let id = reader.entry_by_path(location.id, b"", f.name.as_bytes()).unwrap().unwrap();
            let tags: Vec<TagName> = f.tags.iter().map(|t| TagName::parse(t).unwrap()).collect();
            if !tags.is_empty() {
                lib.writer().tag(vec![id], tags).unwrap();
            }
            if f.favorite {
                lib.writer().set_flag(vec![id], Flag::Favorite, true).unwrap();
            }
        }
        for _ in 0..60 {
            let text = random_expr(&mut rng, 3);
            let expr = parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let mut expected: Vec<String> = files.iter().filter(|f| eval(&expr, f)).map(|f| f.name.clone()).collect();
            expected.sort();
            let got: Vec<String> = reader
                .query_paths(&expr)
                .unwrap()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(got, expected, "seed {seed}, query {text:?}");
        }
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
    // The CLI says where an expression goes wrong.
    fx.run(["find", "--query", "work and (old"]).fails_with("at character 14: expected ')'");
    fx.run(["query", "save", "x", "size>big"]).fails_with("expected a size like 10M");
}
