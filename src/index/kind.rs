//! The coarse kind of a file's content (image, video, …), from its extension.

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
}
