//! The coarse kind of a file's content (image, video, …), from its extension.

/// The kind recorded in `content_identity.kind` for a file with this (lowercase) extension.
pub fn kind_of_extension(extension: Option<&str>) -> &'static str {
    let Some(ext) = extension else { return "other" };
    match ext {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "heic" | "heif" | "svg" | "ico" | "raw"
        | "cr2" | "nef" | "arw" | "dng" | "avif" => "image",
        "mp4" | "mkv" | "mov" | "avi" | "webm" | "m4v" | "wmv" | "flv" | "mpg" | "mpeg" | "3gp" => "video",
        "mp3" | "flac" | "wav" | "ogg" | "opus" | "m4a" | "aac" | "wma" | "aiff" | "mid" | "midi" => "audio",
        "pdf" | "doc" | "docx" | "odt" | "rtf" | "xls" | "xlsx" | "ods" | "ppt" | "pptx" | "odp" | "epub" | "pages"
        | "numbers" | "key" => "document",
        "zip" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" | "7z" | "rar" | "iso" | "dmg" | "deb" | "rpm" => "archive",
        "rs" | "c" | "h" | "cpp" | "hpp" | "cc" | "py" | "js" | "ts" | "tsx" | "jsx" | "go" | "java" | "kt"
        | "swift" | "rb" | "php" | "sh" | "bash" | "zsh" | "pl" | "lua" | "sql" | "html" | "css" | "scss" | "cs"
        | "hs" | "ml" | "scala" | "zig" => "code",
        "txt" | "md" | "markdown" | "rst" | "csv" | "tsv" | "json" | "yaml" | "yml" | "toml" | "xml" | "ini"
        | "cfg" | "conf" | "log" | "tex" | "org" => "text",
        _ => "other",
    }
}

/// Every kind, for turning a stored kind back into a `&'static str`.
const KINDS: [&str; 8] = ["image", "video", "audio", "document", "archive", "code", "text", "other"];

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
