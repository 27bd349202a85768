//! Property tests (proptest) over everything that decodes what a user or a program hands the mount: the xattr
//! codecs, the query parser and the path resolver. Nothing may panic; what decodes must round-trip; a resolver walk
//! over arbitrary names answers only the errnos a filesystem answers for a path, and every listed name resolves to
//! the inode its listing showed. `PROPTEST_CASES=N` runs more cases (the README reports a long run).

mod common;

use common::Fixture;
use proptest::prelude::*;
use spacefs::fs::{Attr, DirSink, FsOptions, SpaceFs};
use spacefs::inode::ROOT;
use spacefs::library::{IndexMode, Library};
use spacefs::names::{LabelPath, TagName};
use spacefs::view::NodeKind;
use spacefs::{query, xattr};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Bytes that favour the characters the codecs treat specially.
fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let special = prop::sample::select(vec![b',', b' ', b'/', b'\n', b'\t', b'\0', b'.', b'~', 0xff, 0xc3, b'a', b'1']);
    prop::collection::vec(prop_oneof![special, any::<u8>()], 0..max)
}

/// A storable tag name: arbitrary text with the characters a tag name may not hold replaced.
fn tag_name() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| {
        let cleaned: String = s.chars().map(|c| if c == ',' || c == '/' || c.is_control() { '_' } else { c }).collect();
        match TagName::parse(cleaned.trim()) {
            Ok(tag) => tag.as_str().to_owned(),
            Err(_) => "fallback".to_owned(),
        }
    })
}

proptest! {
    #[test]
    fn xdg_tag_lists_never_panic_and_round_trip(value in tricky_bytes(200)) {
        if let Ok(tags) = xattr::parse_tag_list(&value) {
            let again = xattr::parse_tag_list(xattr::format_xdg_tags(tags.iter().map(|t| t.as_str())).as_bytes());
            prop_assert_eq!(again.unwrap(), tags);
        }
        let (tags, _rejected) = xattr::parse_xdg_tags(&value);
        for tag in tags {
            prop_assert!(!tag.as_str().contains(',') && !tag.as_str().contains('/') && !tag.as_str().is_empty());
        }
    }

    #[test]
    fn storable_tag_names_survive_the_xdg_codec(names in prop::collection::vec(tag_name(), 0..8)) {
        let mut unique: Vec<String> = Vec::new();
        for n in names.into_iter().map(|n| n.trim().to_owned()) {
            if !n.is_empty() && !unique.contains(&n) && TagName::parse(&n).is_ok() {
                unique.push(n);
            }
        }
        let parsed = xattr::parse_tag_list(xattr::format_xdg_tags(unique.iter().map(String::as_str)).as_bytes()).unwrap();
        prop_assert_eq!(parsed.into_iter().map(|t| t.as_str().to_owned()).collect::<Vec<_>>(), unique);
    }

    #[test]
    fn finder_plists_never_panic(value in tricky_bytes(300)) {
        let _ = xattr::decode_finder_tags(&value);
        let mut bplist = b"bplist00".to_vec();
        bplist.extend(&value);
        let _ = xattr::decode_finder_tags(&bplist);
    }

    #[test]
    fn finder_tags_round_trip(tags in prop::collection::vec((tag_name(), 0usize..8), 0..6)) {
        let mut unique: Vec<(String, Option<String>)> = Vec::new();
        for (name, digit) in tags {
            let color = (digit > 0).then(|| xattr::FINDER_COLORS[digit].to_owned());
            if !unique.iter().any(|(n, _)| *n == name) {
                unique.push((name, color));
            }
        }
        let decoded = xattr::decode_finder_tags(&xattr::encode_finder_tags(&unique)).unwrap();
        let decoded: Vec<(String, Option<String>)> = decoded.into_iter().map(|(t, c)| (t.as_str().to_owned(), c)).collect();
        prop_assert_eq!(decoded, unique);
    }

    #[test]
    fn other_attribute_values_never_panic(value in tricky_bytes(100), text in any::<String>()) {
        let _ = xattr::parse_label_list(&value);
        let _ = xattr::parse_bool(&value);
        let _ = xattr::parse_color(&text);
        let _ = LabelPath::parse(&text);
        let _ = TagName::parse(&text);
    }

    #[test]
    fn the_query_parser_never_panics(text in any::<String>(), words in prop::collection::vec(
        prop::sample::select(vec!["and", "or", "not", "(", ")", "\"", "tag:", "label:", "kind:", "size>", "modified<",
            "name:*", "ext:", "favorite", "x", "1d", "10k", ":", " "]), 0..12)) {
        let _ = query::parse(&text);
        let _ = query::parse(&words.concat());
        let _ = query::parse(&words.join(" "));
    }
}

/// A library with odd names, collisions, tags and labels, for the resolver walks (its folder goes with the
/// fixture).
fn resolver() -> (Fixture, SpaceFs) {
    let fx = Fixture::new();
    fx.write("a/report.pdf", b"1");
    fx.write("b/report.pdf", b"2");
    fx.write("b/report.pdf~1", b"3");
    fx.write("a/same", b"dup");
    fx.write("b/same", b"dup");
    fx.write(std::path::Path::new(OsStr::from_bytes(b"a/caf\xe9")), b"latin-1");
    fx.write("a/".to_owned() + &"n".repeat(255), b"long");
    fx.write("a/deep/er/est/file", b"deep");
    let lib = Library::open(&fx.library()).unwrap();
    let location = common::add_indexed(&lib, &fx.files(), "files", IndexMode::Deep);
    let ids: Vec<_> = [("a", "report.pdf"), ("b", "report.pdf"), ("a", "same"), ("", "a")]
        .iter()
        .map(|(dir, name)| {
            lib.reader().unwrap().entry_by_path(location.id, dir.as_bytes(), name.as_bytes()).unwrap().unwrap()
        })
        .collect();
    lib.writer().tag(ids.clone(), vec![TagName::parse("t").unwrap(), TagName::parse("u v").unwrap()]).unwrap();
    lib.writer().set_labels(ids[0], vec![LabelPath::parse("x/y/z").unwrap()]).unwrap();
    let fs = SpaceFs::new(lib, FsOptions::default());
    (fx, fs)
}

struct Names(Vec<(Vec<u8>, u64)>);

impl DirSink for Names {
    fn add(&mut self, ino: u64, _offset: u64, _kind: NodeKind, name: &OsStr, _attr: Option<&Attr>) -> bool {
        self.0.push((name.as_bytes().to_vec(), ino));
        false
    }
}

fn listing(fs: &SpaceFs, ino: u64) -> Vec<(Vec<u8>, u64)> {
    let Ok((fh, _)) = fs.opendir(ino) else { return Vec::new() };
    let mut names = Names(Vec::new());
    fs.readdir(ino, fh, 0, true, &mut names).unwrap();
    fs.releasedir(fh);
    names.0.into_iter().filter(|(n, _)| n != b"." && n != b"..").collect()
}

/// One step of a walk: a listed name (by index), or an arbitrary one.
fn step() -> impl Strategy<Value = (usize, Option<Vec<u8>>)> {
    let odd = prop_oneof![
        tricky_bytes(20),
        Just(b"report~1.pdf".to_vec()),
        Just(b"report~999999999999999999999.pdf".to_vec()),
        Just(vec![b'n'; 256]),
        Just(b"t and not u v".to_vec()),
        Just(b"(((".to_vec()),
    ];
    (any::<usize>(), prop::option::weighted(0.4, odd))
}

/// Built once for all cases, and dropped (with its temporary folder) when they are done: hence a runner rather than
/// `proptest!`, whose cases could only share a library kept in a static, never removed.
#[test]
fn walks_over_arbitrary_names_answer_filesystem_errnos() {
    let (_fx, fs) = resolver();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::default());
    let walks = prop::collection::vec(step(), 1..7);
    runner.run(&walks, |steps| walk(&fs, steps)).unwrap();
}

fn walk(fs: &SpaceFs, steps: Vec<(usize, Option<Vec<u8>>)>) -> Result<(), TestCaseError> {
    let mut ino = ROOT;
    for (pick, odd) in steps {
        let listed = listing(fs, ino);
        let (name, expected) = match odd {
            Some(name) => (name, None),
            None if listed.is_empty() => break,
            None => {
                let (name, child) = &listed[pick % listed.len()];
                (name.clone(), Some(*child))
            }
        };
        match fs.lookup(ino, OsStr::from_bytes(&name)) {
            Ok(attr) => {
                if let Some(child) = expected {
                    prop_assert_eq!(attr.ino, child, "{:?} resolved to another inode than listed", name);
                }
                ino = attr.ino;
            }
            Err(err) => {
                prop_assert!(expected.is_none(), "listed name {:?} did not resolve: {}", name, err);
                let errno = err.errno();
                prop_assert!(
                    [libc::ENOENT, libc::ENOTDIR, libc::ENAMETOOLONG, libc::EINVAL].contains(&errno),
                    "{:?}: errno {} ({})",
                    name,
                    errno,
                    err
                );
                break;
            }
        }
    }
    Ok(())
}
