//! Codecs for the extended attributes spacefs reads and writes.
//!
//! `user.xdg.tags` is KDE Dolphin's format: tag names joined by `,`; readers trim the spaces around each name.

use crate::names::TagName;

/// KDE's tag attribute.
pub const XDG_TAGS: &str = "user.xdg.tags";
/// The freedesktop comment attribute, kept as the entry's notes.
pub const XDG_COMMENT: &str = "user.xdg.comment";

/// The tags in a `user.xdg.tags` value, in order, without repeats; names spacefs cannot store are returned apart.
pub fn parse_xdg_tags(value: &[u8]) -> (Vec<TagName>, Vec<String>) {
    let text = String::from_utf8_lossy(value);
    let mut tags: Vec<TagName> = Vec::new();
    let mut rejected = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match TagName::parse(part) {
            Ok(tag) if !tags.contains(&tag) => tags.push(tag),
            Ok(_) => {}
            Err(_) => rejected.push(part.to_owned()),
        }
    }
    (tags, rejected)
}

/// The `user.xdg.tags` value for a set of tags.
pub fn format_xdg_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> String {
    tags.into_iter().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_tags_are_split_trimmed_and_deduplicated() {
        let (tags, rejected) = parse_xdg_tags(b" work ,home,,work, to do ,bad\x01name");
        let names: Vec<&str> = tags.iter().map(TagName::as_str).collect();
        assert_eq!(names, ["work", "home", "to do"]);
        assert_eq!(rejected, ["bad\u{1}name"]);
        assert_eq!(format_xdg_tags(names), "work,home,to do");
    }

    #[test]
    fn empty_values_have_no_tags() {
        assert!(parse_xdg_tags(b"").0.is_empty());
        assert!(parse_xdg_tags(b" , ,").0.is_empty());
    }
}
