//! Codecs for the extended attributes spacefs reads and writes.
//!
//! `user.xdg.tags` is KDE Dolphin's format: tag names joined by `,`; readers trim the spaces around each name.
//! Finder keeps tags in `com.apple.metadata:_kMDItemUserTags`: a binary plist array of strings, each a tag name
//! optionally followed by a newline and a colour digit 0–7.
//!
//! Every parser validates the whole value before anything is applied: a bad value changes nothing.

use crate::error::{Error, Result};
use crate::names::{LabelPath, TagName};

/// KDE's tag attribute.
pub const XDG_TAGS: &str = "user.xdg.tags";
/// The freedesktop comment attribute, kept as the entry's notes.
pub const XDG_COMMENT: &str = "user.xdg.comment";
pub const LABELS: &str = "user.spacefs.labels";
pub const FAVORITE: &str = "user.spacefs.favorite";
pub const HIDDEN: &str = "user.spacefs.hidden";
/// KDE's rating (Dolphin's stars): 1 to 10, half stars; 0 or removing it clears it.
pub const RATING: &str = "user.baloo.rating";
pub const CAS_ID: &str = "user.spacefs.cas_id";
pub const UUID: &str = "user.spacefs.uuid";
pub const FINDER_TAGS: &str = "com.apple.metadata:_kMDItemUserTags";
/// On a tag's folder: the tag's colour.
pub const COLOR: &str = "user.spacefs.color";
/// The largest value accepted (E2BIG above).
pub const MAX_VALUE: usize = 64 * 1024;

/// Finder's colours by digit.
pub const FINDER_COLORS: [&str; 8] = ["none", "gray", "green", "purple", "blue", "yellow", "red", "orange"];

/// A colour name (or Finder digit) as stored: one of `FINDER_COLORS`, `None` for "none" or empty.
pub fn parse_color(value: &str) -> Result<Option<String>> {
    let value = value.trim().to_lowercase();
    let by_digit = value.parse::<usize>().ok().and_then(|d| FINDER_COLORS.get(d).copied());
    match by_digit.or_else(|| FINDER_COLORS.iter().copied().find(|c| *c == value || (*c == "gray" && value == "grey")))
    {
        Some("none") => Ok(None),
        Some(color) => Ok(Some(color.to_owned())),
        None if value.is_empty() => Ok(None),
        None => Err(Error::Invalid(format!(
            "unknown colour {value:?} (use one of {} or a digit 0-7)",
            FINDER_COLORS.join(", ")
        ))),
    }
}

fn text(value: &[u8]) -> Result<&str> {
    std::str::from_utf8(value).map_err(|_| Error::Invalid("the value is not UTF-8 text".into()))
}

/// `1`/`true`/`yes` or `0`/`false`/`no` (case and surrounding spaces ignored).
pub fn parse_bool(value: &[u8]) -> Result<bool> {
    match text(value)?.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err(Error::Invalid(format!("{other:?} is not 1/true/yes or 0/false/no"))),
    }
}

/// A `user.baloo.rating` value: 0 (none) to 10, as KDE writes it.
pub fn parse_rating(value: &[u8]) -> Result<Option<u8>> {
    let text = text(value)?.trim();
    match text.parse::<u8>() {
        Ok(0) => Ok(None),
        Ok(n @ 1..=10) => Ok(Some(n)),
        _ => Err(Error::Invalid(format!("{text:?} is not a rating from 0 to 10"))),
    }
}

/// A `user.xdg.tags` value to set: every name must be valid, or nothing is applied.
pub fn parse_tag_list(value: &[u8]) -> Result<Vec<TagName>> {
    let mut tags: Vec<TagName> = Vec::new();
    for part in text(value)?.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let tag = TagName::parse(part)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// A `user.spacefs.labels` value: label paths joined by `,`.
pub fn parse_label_list(value: &[u8]) -> Result<Vec<LabelPath>> {
    let mut labels: Vec<LabelPath> = Vec::new();
    for part in text(value)?.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let label = LabelPath::parse(part)?;
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    Ok(labels)
}

/// Finder's binary plist for tags with their colours.
pub fn encode_finder_tags(tags: &[(String, Option<String>)]) -> Vec<u8> {
    let items = tags
        .iter()
        .map(|(name, color)| {
            let digit = color.as_deref().and_then(|c| FINDER_COLORS.iter().position(|k| *k == c)).unwrap_or(0);
            plist::Value::String(if digit == 0 { name.clone() } else { format!("{name}\n{digit}") })
        })
        .collect();
    let mut out = Vec::new();
    // Writing a plist of strings to memory cannot fail.
    let _ = plist::Value::Array(items).to_writer_binary(&mut out);
    out
}

/// The tags (and colour digits) in a Finder tags plist; anything but an array of strings is an error.
pub fn decode_finder_tags(value: &[u8]) -> Result<Vec<(TagName, Option<String>)>> {
    let parsed = plist::Value::from_reader(std::io::Cursor::new(value))
        .map_err(|e| Error::Invalid(format!("not a valid Finder tags plist: {e}")))?;
    let items = parsed.into_array().ok_or_else(|| Error::Invalid("a Finder tags plist must be an array".into()))?;
    let mut tags: Vec<(TagName, Option<String>)> = Vec::new();
    for item in items {
        let text = item.into_string().ok_or_else(|| Error::Invalid("Finder tags must be strings".into()))?;
        let (name, color) = match text.rsplit_once('\n') {
            Some((name, digit)) if digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit() => {
                (name, parse_color(digit)?)
            }
            _ => (text.as_str(), None),
        };
        let tag = TagName::parse(name)?;
        if !tags.iter().any(|(t, _)| *t == tag) {
            tags.push((tag, color));
        }
    }
    Ok(tags)
}

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
    fn setting_tags_is_all_or_nothing() {
        let names: Vec<String> = parse_tag_list(b" a , b,,a").unwrap().iter().map(|t| t.to_string()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(parse_tag_list(b"a,b/c").is_err());
        assert!(parse_tag_list(b"a,\x01").is_err());
        assert!(parse_tag_list(b"\xff").is_err());
        assert!(parse_tag_list(b"").unwrap().is_empty());
    }

    #[test]
    fn labels_and_booleans() {
        let labels: Vec<String> = parse_label_list(b"work/2026, home").unwrap().iter().map(|l| l.to_string()).collect();
        assert_eq!(labels, ["work/2026", "home"]);
        assert!(parse_label_list(b"work//x").is_err());
        for (v, b) in
            [(&b"1"[..], true), (b"TRUE", true), (b" yes\n", true), (b"0", false), (b"false", false), (b"No", false)]
        {
            assert_eq!(parse_bool(v).unwrap(), b, "{v:?}");
        }
        assert!(parse_bool(b"2").is_err());
    }

    #[test]
    fn finder_tags_round_trip_with_colours_and_unicode() {
        let tags = vec![
            ("Rot".to_owned(), Some("red".to_owned())),
            ("日本".to_owned(), None),
            ("Ünï".to_owned(), Some("blue".to_owned())),
        ];
        let bytes = encode_finder_tags(&tags);
        assert!(bytes.starts_with(b"bplist00"));
        let back: Vec<(String, Option<String>)> =
            decode_finder_tags(&bytes).unwrap().into_iter().map(|(t, c)| (t.to_string(), c)).collect();
        assert_eq!(back, tags);
        assert!(decode_finder_tags(b"not a plist").is_err());
        let mut dict = Vec::new();
        plist::Value::Dictionary(plist::Dictionary::new()).to_writer_binary(&mut dict).unwrap();
        assert!(decode_finder_tags(&dict).is_err());
    }

    #[test]
    fn colours_by_name_or_digit() {
        assert_eq!(parse_color("6").unwrap().as_deref(), Some("red"));
        assert_eq!(parse_color("Red").unwrap().as_deref(), Some("red"));
        assert_eq!(parse_color("grey").unwrap().as_deref(), Some("gray"));
        assert_eq!(parse_color("none").unwrap(), None);
        assert!(parse_color("mauve").is_err());
    }

    #[test]
    fn empty_values_have_no_tags() {
        assert!(parse_xdg_tags(b"").0.is_empty());
        assert!(parse_xdg_tags(b" , ,").0.is_empty());
    }
}
