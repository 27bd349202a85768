//! The query language of `query/` and `spacefs find --query`: parsing, and compiling to one SQL condition.
//!
//! ```text
//! expr      := or
//! or        := and ("or" and)*
//! and       := unary (["and"] unary)*          adjacent terms are joined by "and"
//! unary     := "not" unary | "(" expr ")" | term
//! term      := TAG | "quoted tag" | favorite | hidden | dupe
//!            | label:a/b | kind:image | ext:pdf | name:GLOB | location:NAME | notes:WORD
//!            | size>10M | size<4k | modified>2026-01-01 | modified<30d
//! ```
//! Tag names match exactly (case-sensitive); an unknown tag or label matches nothing. Keywords and predicate names
//! are reserved: quote a tag with such a name (`"to do"`, `"favorite"`). Sizes take k, M, G, T (powers of 1024);
//! ages take h, d, w, y. `modified<30d` means "changed in the last 30 days".

use crate::clock::now_ns;
use crate::kind::{KIND_EXTENSIONS, KINDS};
use rusqlite::types::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Tag(String),
    Label(String),
    Favorite,
    Hidden,
    Dupe,
    Kind(String),
    Ext(String),
    Name(String),
    Location(String),
    Notes(String),
    /// Size in bytes: `greater` for `>`.
    Size {
        greater: bool,
        bytes: i64,
    },
    /// Modification time: after (`>`) or before (`<`) an instant, in ns since the epoch. `modified<30d` is an
    /// instant too: modified after now - 30 days.
    Modified {
        after: bool,
        at: ModifiedAt,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModifiedAt {
    /// A calendar date `YYYY-MM-DD` (midnight UTC), converted by SQLite.
    Date(String),
    /// Nanoseconds since the epoch.
    Instant(i64),
}

/// Where an expression stops making sense, and what would have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character position.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            tokens.push((i + 1, if c == '(' { Token::Open } else { Token::Close }));
            i += 1;
        } else if c == '"' {
            let start = i;
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .map(|p| i + 1 + p)
                .ok_or(ParseError { position: start + 1, message: "unclosed quote: expected '\"'".into() })?;
            tokens.push((start + 1, Token::Quoted(chars[i + 1..end].iter().collect())));
            i = end + 1;
        } else {
            let start = i;
            let mut word = String::new();
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '(' && chars[i] != ')' {
                // A quoted value after a predicate: name:"two words".
                if chars[i] == '"' && word.ends_with(':') {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '"')
                        .map(|p| i + 1 + p)
                        .ok_or(ParseError { position: i + 1, message: "unclosed quote: expected '\"'".into() })?;
                    word.extend(&chars[i + 1..end]);
                    i = end + 1;
                    break;
                }
                word.push(chars[i]);
                i += 1;
            }
            tokens.push((start + 1, Token::Word(word)));
        }
    }
    Ok(tokens)
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0, end: text.chars().count() + 1 };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some((pos, Token::Close)) => Err(ParseError { position: *pos, message: "unmatched ')'".into() }),
        Some((pos, _)) => Err(ParseError { position: *pos, message: "expected 'and', 'or' or the end".into() }),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
}

fn keyword(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&(usize, Token)> {
        self.tokens.get(self.at)
    }

    fn position(&self) -> usize {
        self.peek().map(|t| t.0).unwrap_or(self.end)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek().is_some_and(|(_, t)| keyword(t, "or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some((_, t)) if keyword(t, "and") => self.at += 1,
                Some((_, t)) if keyword(t, "or") || *t == Token::Close => return Ok(left),
                Some(_) => {}
                None => return Ok(left),
            }
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let position = self.position();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(ParseError { position, message: "expected a tag, a predicate, 'not' or '('".into() });
        };
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                match self.peek() {
                    Some((_, Token::Close)) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(ParseError { position: self.position(), message: "expected ')'".into() }),
                }
            }
            Token::Close => Err(ParseError { position, message: "expected a tag, a predicate, 'not' or '('".into() }),
            Token::Quoted(tag) => Ok(Expr::Tag(tag)),
            Token::Word(w) if w.eq_ignore_ascii_case("not") => Ok(Expr::Not(Box::new(self.unary()?))),
            Token::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => Err(ParseError {
                position,
                message: format!("expected a tag, a predicate, 'not' or '(' before '{w}' (quote a tag named so)"),
            }),
            Token::Word(w) => term(&w, position),
        }
    }
}

fn term(word: &str, position: usize) -> Result<Expr, ParseError> {
    let err = |message: String| ParseError { position, message };
    match word {
        "favorite" => return Ok(Expr::Favorite),
        "hidden" => return Ok(Expr::Hidden),
        "dupe" => return Ok(Expr::Dupe),
        _ => {}
    }
    if let Some((key, value)) = word.split_once(':') {
        if value.is_empty() {
            return Err(err(format!("expected a value after '{key}:'")));
        }
        return match key {
            "label" => Ok(Expr::Label(value.to_owned())),
            "kind" if KINDS.contains(&value) => Ok(Expr::Kind(value.to_owned())),
            "kind" => Err(err(format!("unknown kind '{value}' (expected one of {})", KINDS.join(", ")))),
            "ext" => Ok(Expr::Ext(value.trim_start_matches('.').to_lowercase())),
            "name" => Ok(Expr::Name(value.to_owned())),
            "location" => Ok(Expr::Location(value.to_owned())),
            "notes" => Ok(Expr::Notes(value.to_owned())),
            _ => Err(err(format!(
                "unknown predicate '{key}:' (expected label:, kind:, ext:, name:, location: or notes:; quote a tag \
                 with ':' in its name)"
            ))),
        };
    }
    for (key, greater, at) in
        [("size", true, '>'), ("size", false, '<'), ("modified", true, '>'), ("modified", false, '<')]
    {
        if let Some(value) = word.strip_prefix(key).and_then(|rest| rest.strip_prefix(at)) {
            return if key == "size" {
                size(value)
                    .map(|bytes| Expr::Size { greater, bytes })
                    .ok_or_else(|| err(format!("expected a size like 10M or 4k after '{key}{at}', not '{value}'")))
            } else {
                modified(value, greater).ok_or_else(|| {
                    err(format!("expected a date like 2026-01-01 or an age like 30d after '{key}{at}', not '{value}'"))
                })
            };
        }
    }
    if word.contains('<') || word.contains('>') {
        return Err(err(format!("unknown comparison '{word}' (expected size> size< modified> modified<)")));
    }
    Ok(Expr::Tag(word.to_owned()))
}

fn size(value: &str) -> Option<i64> {
    let split = value.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit {
        "" | "b" | "B" => 1.0,
        "k" | "K" | "kB" | "KiB" => 1024.0,
        "M" | "MB" | "MiB" | "m" => 1024.0 * 1024.0,
        "G" | "GB" | "GiB" | "g" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TiB" | "t" => 1024f64.powi(4),
        _ => return None,
    };
    Some((number * factor) as i64)
}

/// `>` on a date means after it; on an age (`>30d`) it means older, so before now - age.
fn modified(value: &str, greater: bool) -> Option<Expr> {
    let bytes = value.as_bytes();
    let is_date = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if is_date {
        return Some(Expr::Modified { after: greater, at: ModifiedAt::Date(value.to_owned()) });
    }
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_ns: i64 = match unit {
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    } * 1_000_000_000;
    let at = now_ns().saturating_sub(number.saturating_mul(unit_ns));
    Some(Expr::Modified { after: !greater, at: ModifiedAt::Instant(at) })
}

/// Looks up what an expression names in the library: a label path's id.
pub trait Names {
    fn label(&self, path: &str) -> Option<i64>;
}

impl Expr {
    /// One SQL condition over `entries AS {e}` left-joined with `user_metadata AS {m}`, with its parameters in order.
    pub fn to_sql(&self, e: &str, m: &str, names: &dyn Names, params: &mut Vec<Value>) -> String {
        let mut text = |v: &str| {
            params.push(Value::Text(v.to_owned()));
        };
        match self {
            Expr::Tag(tag) => {
                text(tag);
                format!(
                    "EXISTS (SELECT 1 FROM metadata_tag qt JOIN tags t ON t.id = qt.tag_id \
                     WHERE qt.metadata_id = {e}.metadata_id AND t.name = ?)"
                )
            }
            Expr::Label(path) => match names.label(path) {
                Some(id) => {
                    params.push(Value::Integer(id));
                    format!(
                        "EXISTS (SELECT 1 FROM metadata_label ql WHERE ql.metadata_id = {e}.metadata_id AND ql.label_id IN \
                         (WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT l.id FROM labels l JOIN sub ON l.parent_id = sub.id) \
                          SELECT id FROM sub))"
                    )
                }
                None => "0".into(),
            },
            Expr::Favorite => format!("coalesce({m}.favorite, 0) = 1"),
            Expr::Hidden => format!("coalesce({m}.hidden, 0) = 1"),
            Expr::Dupe => format!(
                "({e}.size > 0 AND EXISTS (SELECT 1 FROM content_identity qd WHERE qd.id = {e}.content_id \
                 AND qd.full_hash IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM entries qe WHERE qe.content_id = qd.id AND (qe.device, qe.inode) != \
                             ({e}.device, {e}.inode))))"
            ),
            Expr::Kind(kind) => {
                // The extension's kind when it has one, else the content's (the first bytes, when hashed).
                let quoted = |exts: &[&str]| exts.iter().map(|x| format!("'{x}'")).collect::<Vec<_>>().join(",");
                let mine: Vec<&str> =
                    KIND_EXTENSIONS.iter().find(|(k, _)| k == kind).map(|(_, exts)| exts.to_vec()).unwrap_or_default();
                let all: Vec<&str> = KIND_EXTENSIONS.iter().flat_map(|(_, exts)| exts.iter().copied()).collect();
                text(kind);
                let by_content = format!(
                    "coalesce((SELECT qk.kind FROM content_identity qk WHERE qk.id = {e}.content_id), 'other') = ?"
                );
                format!(
                    "({e}.kind = 0 AND (coalesce({e}.extension, '') IN ({}) OR (coalesce({e}.extension, '') NOT IN ({}) \
                     AND {by_content})))",
                    quoted(&mine),
                    quoted(&all)
                )
            }
            Expr::Ext(ext) => {
                text(ext);
                format!("{e}.extension = ?")
            }
            Expr::Name(glob) => {
                text(glob);
                format!("CAST({e}.name AS TEXT) GLOB ?")
            }
            Expr::Location(name) => {
                text(name);
                format!("{e}.location_id IN (SELECT id FROM locations WHERE name = ?)")
            }
            Expr::Notes(word) => {
                text(word);
                format!("instr(lower(coalesce({m}.notes, '')), lower(?)) > 0")
            }
            Expr::Size { greater, bytes } => {
                params.push(Value::Integer(*bytes));
                format!("({e}.kind = 0 AND {e}.size {} ?)", if *greater { ">" } else { "<" })
            }
            Expr::Modified { after, at } => {
                let op = if *after { ">" } else { "<" };
                match at {
                    ModifiedAt::Date(date) => {
                        text(date);
                        format!("{e}.modified_at {op} CAST(strftime('%s', ?) AS INTEGER) * 1000000000")
                    }
                    ModifiedAt::Instant(ns) => {
                        params.push(Value::Integer(*ns));
                        format!("{e}.modified_at {op} ?")
                    }
                }
            }
            // A leaf over a NULL column is NULL, and NOT NULL is NULL too: count unknown as false before negating.
            Expr::Not(inner) => format!("NOT coalesce(({}), 0)", inner.to_sql(e, m, names, params)),
            Expr::And(a, b) => {
                let a = a.to_sql(e, m, names, params);
                let b = b.to_sql(e, m, names, params);
                format!("({a} AND {b})")
            }
            Expr::Or(a, b) => {
                let a = a.to_sql(e, m, names, params);
                let b = b.to_sql(e, m, names, params);
                format!("({a} OR {b})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(t: &str) -> Expr {
        Expr::Tag(t.into())
    }

    #[test]
    fn precedence_not_binds_tightest_then_and_then_or() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Expr::Or(
                Box::new(tag("a")),
                Box::new(Expr::And(Box::new(tag("b")), Box::new(Expr::Not(Box::new(tag("c"))))))
            )
        );
        assert_eq!(
            parse("(a or b) c").unwrap(),
            Expr::And(Box::new(Expr::Or(Box::new(tag("a")), Box::new(tag("b")))), Box::new(tag("c")))
        );
        assert_eq!(parse("work and not old").unwrap(), parse("work not old").unwrap());
    }

    #[test]
    fn quoting_and_every_predicate() {
        assert_eq!(parse("\"to do\"").unwrap(), tag("to do"));
        assert_eq!(parse("\"favorite\"").unwrap(), tag("favorite"));
        assert_eq!(parse("Work").unwrap(), tag("Work"));
        assert_eq!(parse("favorite").unwrap(), Expr::Favorite);
        assert_eq!(parse("hidden").unwrap(), Expr::Hidden);
        assert_eq!(parse("dupe").unwrap(), Expr::Dupe);
        assert_eq!(parse("label:work/2026").unwrap(), Expr::Label("work/2026".into()));
        assert_eq!(parse("label:\"my work/q 1\"").unwrap(), Expr::Label("my work/q 1".into()));
        assert_eq!(parse("kind:image").unwrap(), Expr::Kind("image".into()));
        assert_eq!(parse("ext:.PDF").unwrap(), Expr::Ext("pdf".into()));
        assert_eq!(parse("name:*.txt").unwrap(), Expr::Name("*.txt".into()));
        assert_eq!(parse("location:photos").unwrap(), Expr::Location("photos".into()));
        assert_eq!(parse("notes:invoice").unwrap(), Expr::Notes("invoice".into()));
        assert_eq!(parse("size>10M").unwrap(), Expr::Size { greater: true, bytes: 10 * 1024 * 1024 });
        assert_eq!(parse("size<4k").unwrap(), Expr::Size { greater: false, bytes: 4096 });
        assert_eq!(
            parse("modified>2026-01-01").unwrap(),
            Expr::Modified { after: true, at: ModifiedAt::Date("2026-01-01".into()) }
        );
        let Expr::Modified { after: true, at: ModifiedAt::Instant(at) } = parse("modified<30d").unwrap() else {
            panic!("modified<30d is 'after 30 days ago'")
        };
        let expected = now_ns() - 30 * 86_400 * 1_000_000_000;
        assert!((at - expected).abs() < 5_000_000_000);
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        for (text, position, fragment) in [
            ("", 1, "expected a tag"),
            ("a and", 6, "expected a tag"),
            ("(a or b", 8, "expected ')'"),
            ("a)", 2, "unmatched ')'"),
            ("kind:smell", 1, "unknown kind 'smell'"),
            ("size>big", 1, "expected a size like 10M"),
            ("modified>yesterday", 1, "expected a date like 2026-01-01"),
            ("a \"open", 3, "unclosed quote"),
            ("a or or b", 6, "before 'or'"),
            ("colour:red", 1, "unknown predicate 'colour:'"),
            ("not", 4, "expected a tag"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.position, position, "{text:?}: {err}");
            assert!(err.message.contains(fragment), "{text:?}: {err}");
        }
        assert_eq!(parse("a)").unwrap_err().to_string(), "at character 2: unmatched ')'");
    }
}
