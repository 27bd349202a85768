//! The coarse kind of a file's content (image, video, …): from its extension, else from its first bytes (magic
//! numbers, read with the content id anyway, so free).

/// Every kind with the extensions that make it; anything else is "other".
pub const KIND_EXTENSIONS: &[(&str, &[&str])] = &[
    (
        "image",
        &[
            "jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "svg", "ico", "raw", "cr2",
            "nef", "arw", "dng", "avif",
        ],
    ),
    ("video", &["mp4", "mkv", "mov", "avi", "webm", "m4v", "wmv", "flv", "mpg", "mpeg", "3gp"]),
    ("audio", &["mp3", "flac", "wav", "ogg", "opus", "m4a", "aac", "wma", "aiff", "mid", "midi"]),
    (
        "document",
        &[
            "pdf", "doc", "docx", "odt", "rtf", "xls", "xlsx", "ods", "ppt", "pptx", "odp", "epub", "pages", "numbers",
            "key",
        ],
    ),
    ("archive", &["zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "iso", "dmg", "deb", "rpm"]),
    (
        "code",
        &[
            "rs", "c", "h", "cpp", "hpp", "cc", "py", "js", "ts", "tsx", "jsx", "go", "java", "kt", "swift", "rb",
            "php", "sh", "bash", "zsh", "pl", "lua", "sql", "html", "css", "scss", "cs", "hs", "ml", "scala", "zig",
        ],
    ),
    (
        "text",
        &[
            "txt", "md", "markdown", "rst", "csv", "tsv", "json", "yaml", "yml", "toml", "xml", "ini", "cfg", "conf",
            "log", "tex", "org",
        ],
    ),
];

/// Every kind, "other" last.
pub const KINDS: [&str; 8] = ["image", "video", "audio", "document", "archive", "code", "text", "other"];

/// The kind recorded in `content_identity.kind` for a file with this (lowercase) extension.
pub fn kind_of_extension(extension: Option<&str>) -> &'static str {
    let Some(ext) = extension else { return "other" };
    KIND_EXTENSIONS.iter().find(|(_, exts)| exts.contains(&ext)).map(|(kind, _)| *kind).unwrap_or("other")
}

/// The kind of a file: its extension's when that is known, else what its first bytes say: a magic number (the
/// `infer` crate's table), or text when they are UTF-8 without NUL bytes.
pub fn kind_of(extension: Option<&str>, head: &[u8]) -> &'static str {
    match kind_of_extension(extension) {
        "other" => kind_of_content(head).unwrap_or("other"),
        kind => kind,
    }
}

fn kind_of_content(head: &[u8]) -> Option<&'static str> {
    if head.is_empty() {
        return None;
    }
    if let Some(found) = infer::get(head) {
        use infer::MatcherType;
        if found.mime_type() == "application/pdf" {
            return Some("document"); // `infer` files PDF under archives
        }
        return match found.matcher_type() {
            MatcherType::Image => Some("image"),
            MatcherType::Video => Some("video"),
            MatcherType::Audio => Some("audio"),
            MatcherType::Archive => Some("archive"),
            MatcherType::Doc | MatcherType::Book => Some("document"),
            MatcherType::Text => Some("text"),
            MatcherType::App | MatcherType::Font | MatcherType::Custom => None,
        };
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // The head may end inside a character: only an error before its last 3 bytes means binary.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    (text && !head.contains(&0)).then_some("text")
}

/// The static form of a stored kind; unknown values become "other".
pub fn known_kind(kind: &str) -> &'static str {
    KINDS.iter().find(|k| **k == kind).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of_extension(Some("jpg")), "image");
        assert_eq!(kind_of_extension(Some("pdf")), "document");
        assert_eq!(kind_of_extension(Some("rs")), "code");
        assert_eq!(kind_of_extension(Some("md")), "text");
        assert_eq!(kind_of_extension(Some("zst")), "archive");
        assert_eq!(kind_of_extension(Some("qqq")), "other");
        assert_eq!(kind_of_extension(None), "other");
    }

    #[test]
    fn kinds_by_first_bytes_when_the_extension_says_nothing() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(kind_of(None, png), "image");
        assert_eq!(kind_of(Some("bin"), b"%PDF-1.7\n"), "document");
        assert_eq!(kind_of(None, b"PK\x03\x04\x14\0\0\0\x08\0"), "archive");
        assert_eq!(kind_of(None, b"ID3\x04\0\0\0\0\0\0"), "audio");
        assert_eq!(kind_of(None, "Read me: caf\u{e9}\n".as_bytes()), "text");
        assert_eq!(kind_of(None, &"\u{e9}".as_bytes()[..1]), "text", "cut inside a character");
        assert_eq!(kind_of(None, b"\x7fELF\x02\x01\x01\0"), "other", "a program is not a kind");
        assert_eq!(kind_of(None, b"\0\x01\x02\xff\xfe"), "other");
        assert_eq!(kind_of(None, b""), "other");
        // A known extension wins: a .txt that starts like a PNG is still text.
        assert_eq!(kind_of(Some("txt"), png), "text");
    }
}
