//! The coarse kind of a file (image, video, …): from its extension, else from its first bytes (magic numbers, read
//! with the content id anyway, so free).

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

/// The kind of a file's content from its first bytes alone (stored in `content_identity.kind`, which copies with
/// other names share): a magic number (the `infer` crate's table), text when they are UTF-8 without NUL bytes, else
/// "other". A file's kind is its extension's when that is known, else its content's (see `query`).
pub fn kind_of_content(head: &[u8]) -> &'static str {
    if head.is_empty() {
        return "other";
    }
    if let Some(found) = infer::get(head) {
        use infer::MatcherType;
        if found.mime_type() == "application/pdf" {
            return "document"; // `infer` files PDF under archives
        }
        return match found.matcher_type() {
            MatcherType::Image => "image",
            MatcherType::Video => "video",
            MatcherType::Audio => "audio",
            MatcherType::Archive => "archive",
            MatcherType::Doc | MatcherType::Book => "document",
            MatcherType::Text => "text",
            MatcherType::App | MatcherType::Font | MatcherType::Custom => "other",
        };
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // The head may end inside a character: only an error before its last 3 bytes means binary.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    if text && !head.contains(&0) { "text" } else { "other" }
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
    fn kinds_by_first_bytes() {
        assert_eq!(kind_of_content(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image");
        assert_eq!(kind_of_content(b"%PDF-1.7\n"), "document");
        assert_eq!(kind_of_content(b"PK\x03\x04\x14\0\0\0\x08\0"), "archive");
        assert_eq!(kind_of_content(b"ID3\x04\0\0\0\0\0\0"), "audio");
        assert_eq!(kind_of_content("Read me: caf\u{e9}\n".as_bytes()), "text");
        assert_eq!(kind_of_content(&"\u{e9}".as_bytes()[..1]), "text", "cut inside a character");
        assert_eq!(kind_of_content(b"\x7fELF\x02\x01\x01\0"), "other", "a program is not a kind");
        assert_eq!(kind_of_content(b"\0\x01\x02\xff\xfe"), "other");
        assert_eq!(kind_of_content(b""), "other");
    }
}
