//! `query/`: any valid expression is a folder of the entries it matches (a flat view, like a tag's folder); saved
//! queries are listed. A name is first looked up among the saved queries, then parsed as an expression; one that
//! does not parse is simply not there (ENOENT). The mount remembers the expressions it handed out by key.
//!
//! Changes: `mkdir query/EXPR` saves the expression under its own text, `rmdir query/NAME` forgets a saved query;
//! nothing else changes here (a query's entries are what matches it).

use super::flat::{node_in_view, shown_name};
use super::{Ctx, FlatView, Listed, Node, NodeKind, PAGE, View, ViewId, listed_entry, suffixed_name, text};
use crate::error::{Error, Result};
use crate::library::Reader;
use crate::query::{Expr, parse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const ID: ViewId = ViewId(5);
const TOP: Node = Node::Top(ID);

/// The expressions of the query folders the kernel knows, by folder.
#[derive(Default)]
pub struct QueryTable {
    by_key: Mutex<HashMap<Node, Arc<Expr>>>,
}

impl QueryTable {
    pub fn get(&self, folder: Node) -> Option<Arc<Expr>> {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner()).get(&folder).cloned()
    }

    /// Forgets what was kept for a folder the kernel no longer holds (a lookup remembers it again).
    pub fn forget(&self, folder: Node) {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner()).remove(&folder);
    }

    pub fn len(&self) -> usize {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remember(&self, folder: Node, expr: Expr) {
        // A saved query may have been saved again with another expression: the latest wins.
        self.by_key.lock().unwrap_or_else(|p| p.into_inner()).insert(folder, Arc::new(expr));
    }
}

/// The folder of a query, by the key of its name.
fn folder(key: u64) -> Node {
    Node::Folder(ID, key as i64)
}

pub struct Queries;

impl View for Queries {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "query"
    }

    fn keeps_folders(&self) -> bool {
        true
    }

    fn shown_until_made(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<bool> {
        let Ok(text) = std::str::from_utf8(name) else { return Ok(false) };
        Ok(dir == TOP && cx.reader.saved_query(text)?.is_none())
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match dir {
            Node::Folder(_, key) => lookup(cx, key, name),
            _ => lookup_query(cx, name),
        }
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match dir {
            Node::Folder(_, key) => list(cx, key, cookie),
            _ => list_saved(cx, cookie),
        }
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        Ok(match node {
            Node::Folder(_, _) => cx.queries.get(node).is_some(),
            _ => true,
        })
    }

    fn mkdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
        if dir != TOP {
            return Err(self.refusal());
        }
        let text = text(name)?;
        crate::query::parse(text).map_err(|e| Error::Invalid(format!("not a valid query: {e}")))?;
        cx.writer.save_query(text.to_owned(), text.to_owned())?;
        cx.child(dir, name)
    }

    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        if dir != TOP {
            return Err(self.refusal());
        }
        cx.writer.forget_query(text(name)?.to_owned())
    }

    fn unlink(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<Option<Node>> {
        Err(self.refusal())
    }
}

/// The key of a query folder's name: stable across remounts, 56 bits.
pub fn query_key(name: &[u8]) -> u64 {
    let hash = blake3::hash(name);
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first) & ((1 << 56) - 1)
}

/// The expression a name under query/ stands for: a saved query's, or the name itself parsed.
pub fn expression_of(reader: &Reader, name: &str) -> Result<Option<Expr>> {
    let text = reader.saved_query(name)?.unwrap_or_else(|| name.to_owned());
    Ok(parse(&text).ok())
}

fn lookup_query(r: &Ctx<'_>, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Ok(text) = std::str::from_utf8(name) else { return Ok(None) };
    let Some(expr) = expression_of(r.reader, text)? else { return Ok(None) };
    let folder = folder(query_key(name));
    r.queries.remember(folder, expr);
    Ok(Some((folder, NodeKind::Dir)))
}

fn list_saved(r: &Ctx<'_>, cookie: u64) -> Result<Vec<Listed>> {
    let mut listed = Vec::new();
    for (id, name, expression) in r.reader.saved_queries()? {
        if id as u64 <= cookie {
            continue;
        }
        // The kernel learns these folders from the listing, without a lookup: remember their expressions now.
        let Ok(expr) = parse(&expression) else { continue };
        let folder = folder(query_key(name.as_bytes()));
        r.queries.remember(folder, expr);
        listed.push(Listed::folder(name, folder, id as u64));
    }
    Ok(listed)
}

fn lookup(r: &Ctx<'_>, key: i64, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Some(expr) = r.queries.get(Node::Folder(ID, key)) else { return Ok(None) };
    let view = FlatView { view: ID, id: key };
    let named = r.reader.query_named(&expr, r.show_hidden, name)?;
    if let [only] = named.as_slice() {
        return Ok(Some((node_in_view(view, only), NodeKind::of_entry(only.kind))));
    }
    if let Some(id) = super::flat::suffix_id(name)
        && let Some(c) = r.reader.query_member(&expr, r.show_hidden, id)?
        && suffixed_name(&c.name, c.id) == name
    {
        return Ok(Some((node_in_view(view, &c), NodeKind::of_entry(c.kind))));
    }
    Ok(None)
}

fn list(r: &Ctx<'_>, key: i64, cookie: u64) -> Result<Vec<Listed>> {
    let Some(expr) = r.queries.get(Node::Folder(ID, key)) else { return Ok(Vec::new()) };
    let view = FlatView { view: ID, id: key };
    Ok(r.reader
        .query_page(&expr, r.show_hidden, cookie as i64, PAGE)?
        .into_iter()
        .map(|c| {
            let (name, node) = (shown_name(&c), node_in_view(view, &c));
            listed_entry(c, name, node)
        })
        .collect())
}
