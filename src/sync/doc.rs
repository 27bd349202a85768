//! The shared document: tags and what entries carry, as an Automerge document every device edits offline and
//! merges in any order.
//!
//! Layout: maps at the root, each created once by a skeleton change that every device builds identically (same
//! actor, time and operations, hence the same hash), so the roots of two devices merge instead of competing. Every
//! value is a scalar under a flat key, never an object made by a device: two devices creating the same object
//! concurrently would leave one of them unseen.
//!
//! | map          | key                   | value          |
//! |--------------|-----------------------|----------------|
//! | `tags`       | tag uuid              | its name       |
//! | `tag_colors` | tag uuid              | its colour     |
//! | `tagged`     | `entry uuid:tag uuid` | `true`         |
//! | `labels`     | label uuid            | its name       |
//! | `label_parents` | label uuid         | parent's uuid, or "" at the top |
//! | `labeled`    | `entry uuid:label uuid` | `true`       |
//! | `favorite`   | entry uuid            | `true`         |
//! | `hidden`     | entry uuid            | `true`         |
//! | `notes`      | entry uuid            | the note       |
//! | `rating`     | entry uuid            | 1–10           |
//!
//! How concurrent edits resolve (Automerge's map rules): a key put on one device and deleted on another stays put
//! (a delete removes only the values it has seen), so **tagging wins over a concurrent untag** of the same file, and
//! the same for favorite, hidden, notes and rating. Two puts of one key keep one value, the same on every device.
//! A deleted tag is gone everywhere; a file tagged with it concurrently keeps a membership of a tag that no longer
//! exists, which no device shows. Two tags that end with one name (a rename on one device, a creation on another)
//! are folded into the one with the smaller id (`fold_same_names`), by whichever device sees them first: every
//! device folds the same way, so the folds agree. Labels fold the same way when two have one name under one
//! parent (their children and entries go to the one kept). A label whose parent was deleted is read as a top-level
//! label; labels moved into each other concurrently (a cycle) are read with the one of smallest id at the top:
//! every device reads the same tree from the same document.
//!
//! What arrives from another device is untrusted: `read` skips keys and values that are malformed (and counts
//! them), and a tag name that is not a valid tag name.

use crate::library::shared::{Shared, SharedLabel, SharedTag};
use crate::names::{LabelPath, TagName};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The version of the layout above; a document of a newer one is refused.
pub const FORMAT: i64 = 1;
const MAPS: [&str; 10] =
    ["tags", "tag_colors", "tagged", "favorite", "hidden", "notes", "rating", "labels", "label_parents", "labeled"];

pub struct SharedDoc {
    doc: AutoCommit,
}

/// Why a document or change could not be used.
#[derive(Debug)]
pub struct Refused(pub String);

impl SharedDoc {
    /// The skeleton, then edits as `device`.
    pub fn new(device: Uuid) -> SharedDoc {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(b"spacefs-skeleton".as_slice()));
        doc.put(automerge::ROOT, "format", FORMAT).expect("a new document takes a put");
        for name in MAPS {
            doc.put_object(automerge::ROOT, name, ObjType::Map).expect("a new document takes a map");
        }
        doc.commit_with(CommitOptions::default().with_time(0));
        doc.set_actor(ActorId::from(device.as_bytes().as_slice()));
        SharedDoc { doc }
    }

    pub fn load(bytes: &[u8], device: Uuid) -> Result<SharedDoc, Refused> {
        let doc = AutoCommit::load(bytes).map_err(|e| Refused(format!("the shared document is damaged ({e})")))?;
        let mut doc = SharedDoc { doc };
        doc.doc.set_actor(ActorId::from(device.as_bytes().as_slice()));
        doc.check_format()?;
        Ok(doc)
    }

    fn check_format(&self) -> Result<(), Refused> {
        match self.doc.get(automerge::ROOT, "format") {
            Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                ScalarValue::Int(n) if *n <= FORMAT => Ok(()),
                ScalarValue::Int(n) => Err(Refused(format!(
                    "its format is {n}, newer than this spacefs knows ({FORMAT}): upgrade spacefs"
                ))),
                _ => Err(Refused("it is not a spacefs document".into())),
            },
            _ => Err(Refused("it is not a spacefs document".into())),
        }
    }

    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// This device's changes that `heads` do not cover, as one file's bytes (empty when there are none). Other
    /// devices' changes are theirs to publish.
    pub fn own_changes_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        let me = self.doc.get_actor().clone();
        let mut bytes = Vec::new();
        for mut change in self.doc.get_changes(heads) {
            if change.actor_id() == &me {
                bytes.extend_from_slice(&change.bytes());
            }
        }
        bytes
    }

    /// Whether merged changes wait for changes not merged yet (a file the file sync has not delivered).
    pub fn waits_for_changes(&mut self) -> bool {
        !self.doc.get_missing_deps(&[]).is_empty()
    }

    /// Merges a change file. It is read on its own first, so a damaged file changes nothing.
    pub fn merge(&mut self, bytes: &[u8]) -> Result<(), Refused> {
        let mut trial = AutoCommit::new();
        trial.load_incremental(bytes).map_err(|e| Refused(format!("damaged ({e})")))?;
        self.doc.load_incremental(bytes).map_err(|e| Refused(format!("damaged ({e})")))?;
        self.check_format()
    }

    fn map(&self, name: &str) -> Option<automerge::ObjId> {
        match self.doc.get(automerge::ROOT, name) {
            Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
            _ => None,
        }
    }

    /// The document's state, and how many keys or values were malformed (skipped).
    pub fn read(&self) -> (Shared, usize) {
        let mut shared = Shared::default();
        let mut skipped = 0;
        let mut each = |name: &str, f: &mut dyn FnMut(&str, &ScalarValueRef) -> bool| {
            let Some(map) = self.map(name) else { return };
            for item in self.doc.map_range(&map, ..) {
                let ok = match &item.value {
                    automerge::ValueRef::Scalar(v) => f(&item.key, v),
                    automerge::ValueRef::Object(_) => false,
                };
                if !ok {
                    skipped += 1;
                }
            }
        };
        each("tags", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(id), ScalarValueRef::Str(name)) if TagName::parse(name).is_ok() => {
                shared.tags.insert(id, SharedTag { name: name.to_string(), color: None });
                true
            }
            _ => false,
        });
        let mut colors = BTreeMap::new();
        each("tag_colors", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(id), ScalarValueRef::Str(color)) if color.len() <= 64 => {
                colors.insert(id, color.to_string());
                true
            }
            _ => false,
        });
        for (id, color) in colors {
            if let Some(tag) = shared.tags.get_mut(&id) {
                tag.color = Some(color);
            }
        }
        each("tagged", &mut |k, v| match (split_pair(k), v) {
            (Some((entry, tag)), ScalarValueRef::Boolean(true)) => {
                if shared.tags.contains_key(&tag) {
                    shared.tagged.insert((entry, tag));
                }
                true
            }
            _ => false,
        });
        let mut parents: BTreeMap<Uuid, Option<Uuid>> = BTreeMap::new();
        each("label_parents", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(id), ScalarValueRef::Str(p)) if p.is_empty() => {
                parents.insert(id, None);
                true
            }
            (Ok(id), ScalarValueRef::Str(p)) => match Uuid::try_parse(p) {
                Ok(parent) => {
                    parents.insert(id, Some(parent));
                    true
                }
                Err(_) => false,
            },
            _ => false,
        });
        each("labels", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(id), ScalarValueRef::Str(name)) if LabelPath::parse(name).is_ok_and(|p| p.parts().len() == 1) => {
                let parent = parents.get(&id).copied().flatten();
                shared.labels.insert(id, SharedLabel { name: name.to_string(), parent });
                true
            }
            _ => false,
        });
        make_forest(&mut shared.labels);
        each("labeled", &mut |k, v| match (split_pair(k), v) {
            (Some((entry, label)), ScalarValueRef::Boolean(true)) => {
                if shared.labels.contains_key(&label) {
                    shared.labeled.insert((entry, label));
                }
                true
            }
            _ => false,
        });
        for (name, set) in [("favorite", &mut shared.favorite), ("hidden", &mut shared.hidden)] {
            each(name, &mut |k, v| match (Uuid::try_parse(k), v) {
                (Ok(entry), ScalarValueRef::Boolean(true)) => {
                    set.insert(entry);
                    true
                }
                _ => false,
            });
        }
        each("notes", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(entry), ScalarValueRef::Str(note)) if !note.is_empty() => {
                shared.notes.insert(entry, note.to_string());
                true
            }
            _ => false,
        });
        each("rating", &mut |k, v| match (Uuid::try_parse(k), v) {
            (Ok(entry), ScalarValueRef::Int(r)) if (1..=10).contains(r) => {
                shared.rating.insert(entry, *r as u8);
                true
            }
            _ => false,
        });
        (shared, skipped)
    }

    /// Records, as this device's edits, what turns `before` into `after` (both as `read` gives them, for the
    /// entries of this library). Returns how many keys changed.
    pub fn record(&mut self, before: &Shared, after: &Shared) -> usize {
        let mut edits = Edits { doc: &mut self.doc, count: 0 };
        let maps: Vec<Option<automerge::ObjId>> = MAPS.iter().map(|m| self_map(edits.doc, m)).collect();
        let [
            Some(tags),
            Some(colors),
            Some(tagged),
            Some(favorite),
            Some(hidden),
            Some(notes),
            Some(rating),
            Some(labels),
            Some(label_parents),
            Some(labeled),
        ] = <[Option<automerge::ObjId>; 10]>::try_from(maps).expect("ten maps")
        else {
            return 0;
        };
        for (id, label) in &after.labels {
            let old = before.labels.get(id);
            if old.map(|l| &l.name) != Some(&label.name) {
                edits.put(&labels, id.simple().to_string(), label.name.as_str());
            }
            if old.map(|l| l.parent) != Some(label.parent) || old.is_none() {
                let parent = label.parent.map(|p| p.simple().to_string()).unwrap_or_default();
                edits.put(&label_parents, id.simple().to_string(), parent);
            }
        }
        let gone_labels: Vec<&Uuid> = before.labels.keys().filter(|id| !after.labels.contains_key(id)).collect();
        for id in &gone_labels {
            edits.delete(&labels, id.simple().to_string());
            edits.delete(&label_parents, id.simple().to_string());
        }
        edits.delete_members_of(&labeled, &gone_labels);
        edits.pairs(&labeled, &before.labeled, &after.labeled);
        for (id, tag) in &after.tags {
            let old = before.tags.get(id);
            if old.map(|t| &t.name) != Some(&tag.name) {
                edits.put(&tags, id.simple().to_string(), tag.name.as_str());
            }
            if old.and_then(|t| t.color.as_ref()) != tag.color.as_ref() {
                match &tag.color {
                    Some(c) => edits.put(&colors, id.simple().to_string(), c.as_str()),
                    None => edits.delete(&colors, id.simple().to_string()),
                }
            }
        }
        let deleted: Vec<&Uuid> = before.tags.keys().filter(|id| !after.tags.contains_key(id)).collect();
        for id in &deleted {
            edits.delete(&tags, id.simple().to_string());
            edits.delete(&colors, id.simple().to_string());
        }
        edits.delete_members_of(&tagged, &deleted);
        edits.pairs(&tagged, &before.tagged, &after.tagged);
        for (map, b, a) in [(&favorite, &before.favorite, &after.favorite), (&hidden, &before.hidden, &after.hidden)] {
            for e in a.difference(b) {
                edits.put(map, e.simple().to_string(), true);
            }
            for e in b.difference(a) {
                edits.delete(map, e.simple().to_string());
            }
        }
        for (e, note) in &after.notes {
            if before.notes.get(e) != Some(note) {
                edits.put(&notes, e.simple().to_string(), note.as_str());
            }
        }
        for e in before.notes.keys().filter(|e| !after.notes.contains_key(e)) {
            edits.delete(&notes, e.simple().to_string());
        }
        for (e, r) in &after.rating {
            if before.rating.get(e) != Some(r) {
                edits.put(&rating, e.simple().to_string(), i64::from(*r));
            }
        }
        for e in before.rating.keys().filter(|e| !after.rating.contains_key(e)) {
            edits.delete(&rating, e.simple().to_string());
        }
        let count = edits.count;
        self.doc.commit();
        count
    }

    /// Folds tags that have one name into the one with the smallest id: its memberships gain theirs, they are
    /// deleted. Returns how many tags were folded.
    pub fn fold_same_names(&mut self) -> usize {
        let (shared, _) = self.read();
        let mut by_name: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
        for (id, tag) in &shared.tags {
            by_name.entry(tag.name.as_str()).or_default().push(*id);
        }
        let mut after = shared.clone();
        let mut folded = 0;
        for ids in by_name.values().filter(|ids| ids.len() > 1) {
            let keep = ids[0];
            for gone in &ids[1..] {
                folded += 1;
                if let Some(tag) = after.tags.remove(gone)
                    && after.tags.get(&keep).is_some_and(|k| k.color.is_none())
                {
                    after.tags.get_mut(&keep).expect("kept").color = tag.color;
                }
                let moved: Vec<(Uuid, Uuid)> = after.tagged.iter().filter(|(_, t)| t == gone).copied().collect();
                for (entry, _) in moved {
                    after.tagged.remove(&(entry, *gone));
                    after.tagged.insert((entry, keep));
                }
            }
        }
        // Labels: one name under one parent, repeatedly (children moved into a kept label may meet there).
        loop {
            let mut by_place: BTreeMap<(Option<Uuid>, &str), Vec<Uuid>> = BTreeMap::new();
            for (id, label) in &after.labels {
                by_place.entry((label.parent, label.name.as_str())).or_default().push(*id);
            }
            let merges: Vec<(Uuid, Vec<Uuid>)> =
                by_place.into_values().filter(|ids| ids.len() > 1).map(|ids| (ids[0], ids[1..].to_vec())).collect();
            if merges.is_empty() {
                break;
            }
            for (keep, gone) in merges {
                for g in gone {
                    folded += 1;
                    after.labels.remove(&g);
                    for label in after.labels.values_mut().filter(|l| l.parent == Some(g)) {
                        label.parent = Some(keep);
                    }
                    let moved: Vec<(Uuid, Uuid)> = after.labeled.iter().filter(|(_, l)| *l == g).copied().collect();
                    for (entry, _) in moved {
                        after.labeled.remove(&(entry, g));
                        after.labeled.insert((entry, keep));
                    }
                }
            }
        }
        if folded > 0 {
            self.record(&shared, &after);
        }
        folded
    }
}

/// Makes the labels a forest: a parent that is not there means the top; in a cycle, the label of smallest id goes
/// to the top (cycles are broken in the order of their smallest ids, so every device breaks the same ones).
fn make_forest(labels: &mut BTreeMap<Uuid, SharedLabel>) {
    let ids: Vec<Uuid> = labels.keys().copied().collect();
    for id in &ids {
        if labels[id].parent.is_some_and(|p| !labels.contains_key(&p)) {
            labels.get_mut(id).expect("listed").parent = None;
        }
    }
    for start in &ids {
        // Walk up from `start`; meeting `start` again means a cycle through it.
        let mut seen = vec![*start];
        let mut at = labels[start].parent;
        while let Some(up) = at {
            if up == *start {
                let smallest = *seen.iter().min().expect("not empty");
                labels.get_mut(&smallest).expect("listed").parent = None;
                break;
            }
            if seen.contains(&up) {
                break;
            }
            seen.push(up);
            at = labels[&up].parent;
        }
    }
}

fn self_map(doc: &AutoCommit, name: &str) -> Option<automerge::ObjId> {
    match doc.get(automerge::ROOT, name) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

struct Edits<'a> {
    doc: &'a mut AutoCommit,
    count: usize,
}

impl Edits<'_> {
    fn put(&mut self, map: &automerge::ObjId, key: String, value: impl Into<automerge::ScalarValue>) {
        if self.doc.put(map, key, value).is_ok() {
            self.count += 1;
        }
    }
    /// A deleted tag or label leaves no `entry:id` key behind, on any device's entries.
    fn delete_members_of(&mut self, map: &automerge::ObjId, gone: &[&Uuid]) {
        if gone.is_empty() {
            return;
        }
        let keys: Vec<String> = self
            .doc
            .map_range(map, ..)
            .filter(|item| split_pair(&item.key).is_some_and(|(_, id)| gone.contains(&&id)))
            .map(|item| item.key.to_string())
            .collect();
        for key in keys {
            self.delete(map, key);
        }
    }

    /// Puts and deletes the `entry:id` keys that turn `before` into `after`.
    fn pairs(
        &mut self,
        map: &automerge::ObjId,
        before: &std::collections::BTreeSet<(Uuid, Uuid)>,
        after: &std::collections::BTreeSet<(Uuid, Uuid)>,
    ) {
        for pair in after.difference(before) {
            self.put(map, pair_key(pair), true);
        }
        for pair in before.difference(after) {
            self.delete(map, pair_key(pair));
        }
    }

    fn delete(&mut self, map: &automerge::ObjId, key: String) {
        if self.doc.get(map, key.as_str()).ok().flatten().is_some() && self.doc.delete(map, key).is_ok() {
            self.count += 1;
        }
    }
}

fn pair_key((entry, tag): &(Uuid, Uuid)) -> String {
    format!("{}:{}", entry.simple(), tag.simple())
}

fn split_pair(key: &str) -> Option<(Uuid, Uuid)> {
    let (entry, tag) = key.split_once(':')?;
    Some((Uuid::try_parse(entry).ok()?, Uuid::try_parse(tag).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_devices_build_the_same_skeleton_so_their_documents_merge() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut one = SharedDoc::new(a);
        let mut two = SharedDoc::new(b);
        assert_eq!(one.heads(), two.heads(), "one skeleton change, the same hash on both");
        let tag = Uuid::new_v4();
        let mut edited = Shared::default();
        edited.tags.insert(tag, SharedTag { name: "holiday".into(), color: None });
        one.record(&Shared::default(), &edited);
        let bytes = one.own_changes_after(&two.heads());
        two.merge(&bytes).unwrap();
        assert_eq!(two.read().0.tags, edited.tags);
    }

    fn exchange(docs: &mut [SharedDoc], from: usize, to: usize) {
        let bytes = docs[from].own_changes_after(&[]);
        docs[to].merge(&bytes).unwrap();
    }

    #[test]
    fn tagging_wins_over_a_concurrent_untag_on_every_device() {
        let (entry, tag) = (Uuid::new_v4(), Uuid::new_v4());
        let mut tagged = Shared::default();
        tagged.tags.insert(tag, SharedTag { name: "holiday".into(), color: None });
        tagged.tagged.insert((entry, tag));
        let mut docs = [SharedDoc::new(Uuid::new_v4()), SharedDoc::new(Uuid::new_v4())];
        docs[0].record(&Shared::default(), &tagged);
        exchange(&mut docs, 0, 1);
        // Offline: device 0 untags; device 1 untags and tags again (a new put, concurrent with the delete).
        let mut untagged = tagged.clone();
        untagged.tagged.clear();
        docs[0].record(&tagged, &untagged);
        docs[1].record(&tagged, &untagged);
        docs[1].record(&untagged, &tagged);
        exchange(&mut docs, 0, 1);
        exchange(&mut docs, 1, 0);
        assert_eq!(docs[0].read().0, tagged);
        assert_eq!(docs[1].read().0, tagged);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Tag(usize, usize),
        Untag(usize, usize),
        CreateTag(usize),
        RenameTag(usize, usize),
        DeleteTag(usize),
        Favorite(usize, bool),
        Note(usize, Option<u8>),
        Label(usize, usize),
        MoveLabel(usize, Option<usize>),
        DeleteLabel(usize),
        Deliver(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..4usize, 0..3usize).prop_map(|(e, t)| Op::Tag(e, t)),
            (0..4usize, 0..3usize).prop_map(|(e, t)| Op::Untag(e, t)),
            (0..3usize).prop_map(Op::CreateTag),
            (0..3usize, 0..3usize).prop_map(|(t, n)| Op::RenameTag(t, n)),
            (0..3usize).prop_map(Op::DeleteTag),
            (0..4usize, any::<bool>()).prop_map(|(e, on)| Op::Favorite(e, on)),
            (0..4usize, proptest::option::of(0..3u8)).prop_map(|(e, n)| Op::Note(e, n)),
            (0..4usize, 0..3usize).prop_map(|(e, l)| Op::Label(e, l)),
            (0..3usize, proptest::option::of(0..3usize)).prop_map(|(l, p)| Op::MoveLabel(l, p)),
            (0..3usize).prop_map(Op::DeleteLabel),
            (0..3usize).prop_map(Op::Deliver),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random edits on three devices, changes delivered between them in random order: once everyone has
        /// everyone's changes (and has folded same-named tags), all three read the same.
        #[test]
        fn random_edits_on_three_devices_delivered_in_any_order_converge(
            ops in proptest::collection::vec((0..3usize, op()), 1..40)
        ) {
            let entries: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
            let names = ["holiday", "work", "family"];
            let mut docs: Vec<SharedDoc> = (0..3).map(|_| SharedDoc::new(Uuid::new_v4())).collect();
            for (device, op) in ops {
                let (before, _) = docs[device].read();
                let mut after = before.clone();
                let tag_named = |s: &Shared, n: usize| s.tags.iter().find(|(_, t)| t.name == names[n]).map(|(id, _)| *id);
                let label_named = |s: &Shared, n: usize| s.labels.iter().find(|(_, l)| l.name == names[n]).map(|(id, _)| *id);
                match op {
                    Op::Tag(e, t) | Op::Untag(e, t) => {
                        let id = tag_named(&after, t).unwrap_or_else(|| crate::library::shared::tag_uuid(names[t]));
                        after.tags.entry(id).or_insert(SharedTag { name: names[t].into(), color: None });
                        if matches!(op, Op::Tag(..)) {
                            after.tagged.insert((entries[e], id));
                        } else {
                            after.tagged.remove(&(entries[e], id));
                        }
                    }
                    Op::CreateTag(t) => {
                        if tag_named(&after, t).is_none() {
                            after.tags.insert(Uuid::new_v4(), SharedTag { name: names[t].into(), color: None });
                        }
                    }
                    Op::RenameTag(t, n) => {
                        if let Some(id) = tag_named(&after, t) && tag_named(&after, n).is_none() {
                            after.tags.get_mut(&id).unwrap().name = names[n].into();
                        }
                    }
                    Op::DeleteTag(t) => {
                        if let Some(id) = tag_named(&after, t) {
                            after.tags.remove(&id);
                            after.tagged.retain(|(_, tag)| *tag != id);
                        }
                    }
                    Op::Favorite(e, on) => {
                        if on { after.favorite.insert(entries[e]); } else { after.favorite.remove(&entries[e]); }
                    }
                    Op::Note(e, n) => match n {
                        Some(n) => { after.notes.insert(entries[e], format!("note {n}")); }
                        None => { after.notes.remove(&entries[e]); }
                    },
                    Op::Label(e, l) => {
                        let id = label_named(&after, l)
                            .unwrap_or_else(|| crate::library::shared::label_uuid(names[l]));
                        after.labels.entry(id).or_insert(SharedLabel { name: names[l].into(), parent: None });
                        after.labeled.insert((entries[e], id));
                    }
                    Op::MoveLabel(l, p) => {
                        let parent = p.and_then(|p| label_named(&after, p));
                        if let Some(id) = label_named(&after, l) && parent != Some(id) {
                            let mut up = parent;
                            while let Some(u) = up {
                                if u == id { break; }
                                up = after.labels[&u].parent;
                            }
                            if up.is_none() {
                                after.labels.get_mut(&id).unwrap().parent = parent;
                            }
                        }
                    }
                    Op::DeleteLabel(l) => {
                        if let Some(id) = label_named(&after, l) && !after.labels.values().any(|x| x.parent == Some(id)) {
                            after.labels.remove(&id);
                            after.labeled.retain(|(_, label)| *label != id);
                        }
                    }
                    Op::Deliver(to) => {
                        exchange(&mut docs, device, to);
                        docs[to].fold_same_names();
                        continue;
                    }
                }
                docs[device].record(&before, &after);
            }
            for _ in 0..2 {
                for from in 0..3 {
                    for to in 0..3 {
                        if from != to {
                            exchange(&mut docs, from, to);
                        }
                    }
                }
                for doc in docs.iter_mut() {
                    doc.fold_same_names();
                }
            }
            let first = docs[0].read().0;
            for doc in &docs[1..] {
                proptest::prop_assert_eq!(&doc.read().0, &first);
            }
            let mut names_seen: Vec<&str> = first.tags.values().map(|t| t.name.as_str()).collect();
            names_seen.sort();
            names_seen.dedup();
            proptest::prop_assert_eq!(names_seen.len(), first.tags.len(), "one tag per name");
            let mut places: Vec<(Option<Uuid>, &str)> = first.labels.values().map(|l| (l.parent, l.name.as_str())).collect();
            places.sort();
            places.dedup();
            proptest::prop_assert_eq!(places.len(), first.labels.len(), "one label per name under one parent");
            for label in first.labels.values() {
                let (mut up, mut steps) = (label.parent, 0);
                while let Some(u) = up {
                    steps += 1;
                    proptest::prop_assert!(steps <= first.labels.len(), "no cycle");
                    up = first.labels.get(&u).and_then(|l| l.parent);
                }
            }
        }
    }

    #[test]
    fn a_damaged_change_file_is_refused_and_changes_nothing() {
        let mut doc = SharedDoc::new(Uuid::new_v4());
        let before = doc.save();
        assert!(doc.merge(b"\x85\x6f\x4a\x83 not automerge at all").is_err());
        assert_eq!(doc.save(), before);
    }
}
