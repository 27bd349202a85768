//! Validated names: tags and label paths.
//!
//! A `TagName` is never empty, at most 255 bytes, has no `/` (it becomes a folder name under tags/), no `,` (the
//! separator of `user.xdg.tags`), no control characters and no leading or trailing white space (KDE trims it, so
//! such a name would not survive a round trip). A `LabelPath` is one or more label names joined by `/`, each
//! obeying the same rules.

use crate::error::{Error, Result};
use std::fmt;

/// The most bytes a tag or label name may have: the longest file name Linux allows.
pub const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagName(String);

impl TagName {
    pub fn parse(name: &str) -> Result<TagName> {
        check_name("tag", name, true)?;
        Ok(TagName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A label and its ancestors, root first: `work/2026` is `["work", "2026"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelPath(Vec<String>);

impl LabelPath {
    pub fn parse(path: &str) -> Result<LabelPath> {
        if path.is_empty() {
            return Err(Error::InvalidName("a label path cannot be empty".into()));
        }
        let parts: Vec<String> = path.split('/').map(str::to_owned).collect();
        for part in &parts {
            check_name("label", part, false)?;
        }
        Ok(LabelPath(parts))
    }

    pub fn parts(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for LabelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

fn check_name(what: &str, name: &str, slash_is_error: bool) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("invalid {what} name {name:?}: {why}")));
    if name.is_empty() {
        return if slash_is_error {
            bad("it is empty")
        } else {
            bad("a label path has an empty part (two '/' in a row, or one at an end)")
        };
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(&format!("it is {} bytes long, the most is {MAX_NAME_BYTES}", name.len()));
    }
    if slash_is_error && name.contains('/') {
        return bad("'/' is not allowed (use labels for hierarchies)");
    }
    if name.contains(',') {
        return bad("',' is not allowed (it separates tags in user.xdg.tags)");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    if name.trim() != name {
        return bad("it cannot start or end with white space");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are reserved folder names");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_names() {
        for ok in ["work", "to do", "Über-wichtig", "日本語", "a.b", &"x".repeat(255)] {
            assert_eq!(TagName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_bad_tag_names() {
        for (bad, why) in [
            ("", "empty"),
            ("a/b", "'/'"),
            ("a,b", "','"),
            ("a\nb", "control"),
            ("a\tb", "control"),
            (" a", "white space"),
            ("a ", "white space"),
            ("..", "reserved"),
        ] {
            let err = TagName::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let long = "é".repeat(128); // 256 bytes
        assert!(TagName::parse(&long).unwrap_err().to_string().contains("256 bytes"));
    }

    #[test]
    fn label_paths_split_on_slash() {
        let path = LabelPath::parse("work/2026/q1").unwrap();
        assert_eq!(path.parts(), ["work", "2026", "q1"]);
        assert_eq!(path.to_string(), "work/2026/q1");
        for bad in ["", "/a", "a/", "a//b", "a/,b"] {
            assert!(LabelPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
