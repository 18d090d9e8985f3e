//! Sync planning: what to read of each source object, given what the table already holds.

use std::collections::HashMap;
use std::ops::Range;

use sdds_feeds::{Catalog, Feed};
use sdds_source::{ObjectInfo, Source, SourceError};

use crate::state::{ObjectState, TableState, TAIL_BYTES};

/// What a sync does with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAction {
    /// Never seen: read it all.
    New,
    /// Larger than what was consumed: verify the consumed prefix, then read only the new bytes.
    Grown,
    /// Shrunk or rewritten: re-read it all and replace its rows.
    Rewritten,
    /// Nothing new.
    Unchanged,
}

/// One object of a feed and what to do with it.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    /// The object as listed.
    pub info: ObjectInfo,
    /// What to do.
    pub action: ObjectAction,
}

/// The plan for one table.
#[derive(Debug, Clone, Default)]
pub struct TablePlan {
    /// Listed objects, in key order.
    pub objects: Vec<PlannedObject>,
    /// Objects the table holds rows of that are no longer listed (rows are kept).
    pub vanished: Vec<String>,
}

impl TablePlan {
    /// Plans one table from its listed objects and its stored state.
    pub fn new(listed: Vec<ObjectInfo>, state: Option<&TableState>) -> TablePlan {
        let known = |key: &str| state.and_then(|s| s.objects.get(key));
        let objects = listed
            .into_iter()
            .map(|info| {
                let action =
                    known(&info.key).map_or(ObjectAction::New, |old| action_for(&info, old));
                PlannedObject { info, action }
            })
            .collect::<Vec<_>>();
        let vanished = state
            .map(|s| {
                s.objects
                    .iter()
                    .filter(|(key, old)| {
                        !old.vanished && !objects.iter().any(|o| &o.info.key == *key)
                    })
                    .map(|(key, _)| key.clone())
                    .collect()
            })
            .unwrap_or_default();
        TablePlan { objects, vanished }
    }

    /// True when the sync has nothing to do for this table.
    pub fn is_noop(&self) -> bool {
        self.vanished.is_empty()
            && self
                .objects
                .iter()
                .all(|o| o.action == ObjectAction::Unchanged)
    }

    /// How many objects get `action`.
    pub fn count(&self, action: ObjectAction) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }
}

fn action_for(info: &ObjectInfo, old: &ObjectState) -> ObjectAction {
    let etag_changed = info.etag.is_some() && old.etag.is_some() && info.etag != old.etag;
    if info.size > old.consumed {
        ObjectAction::Grown
    } else if info.size < old.consumed || old.vanished || etag_changed {
        ObjectAction::Rewritten
    } else {
        ObjectAction::Unchanged
    }
}

/// The consumed tail of each grown object, read back from the source: [`TablePlan::reads`]
/// compares it with the checksum stored when it was consumed.
pub async fn read_tails(
    source: &dyn Source,
    plan: &TablePlan,
    state: Option<&TableState>,
) -> Result<HashMap<String, Vec<u8>>, SourceError> {
    let mut tails = HashMap::new();
    for planned in plan
        .objects
        .iter()
        .filter(|o| o.action == ObjectAction::Grown)
    {
        let Some(old) = state.and_then(|s| s.objects.get(&planned.info.key)) else {
            continue;
        };
        let tail = source
            .read_all(
                &planned.info,
                old.consumed.saturating_sub(TAIL_BYTES)..old.consumed,
            )
            .await?;
        tails.insert(planned.info.key.clone(), tail);
    }
    Ok(tails)
}

/// What to read of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRead {
    /// The object as listed.
    pub object: ObjectInfo,
    /// What is done with it: a grown object whose consumed tail changed is rewritten.
    pub action: ObjectAction,
    /// The bytes to read.
    pub range: Range<u64>,
    /// The header to decode with, when reading from the middle of the object.
    pub header: Option<Vec<String>>,
    /// The line `range` starts at.
    pub first_line: u64,
    /// The verified bytes just before `range` (part of the new tail checksum).
    pub tail_prefix: Vec<u8>,
    /// The object's stored rows are replaced.
    pub replace: bool,
    /// Bytes read to verify the consumed tail.
    pub verified_bytes: u64,
}

impl TablePlan {
    /// The reads of every object with something new, given the tails [`read_tails`] read back:
    /// a grown object whose tail still matches is read from where the last sync stopped;
    /// one whose tail changed (rewritten in place), or that lost its header, is read whole.
    pub fn reads(
        &self,
        state: Option<&TableState>,
        tails: &HashMap<String, Vec<u8>>,
    ) -> Vec<PlannedRead> {
        self.objects
            .iter()
            .filter(|o| o.action != ObjectAction::Unchanged)
            .map(|planned| {
                let old = state.and_then(|s| s.objects.get(&planned.info.key));
                plan_read(planned, old, tails.get(&planned.info.key))
            })
            .collect()
    }
}

fn plan_read(
    planned: &PlannedObject,
    old: Option<&ObjectState>,
    tail: Option<&Vec<u8>>,
) -> PlannedRead {
    let verified_bytes = tail.map_or(0, |t| t.len() as u64);
    let whole = |action| PlannedRead {
        object: planned.info.clone(),
        action,
        range: 0..planned.info.size,
        header: None,
        first_line: 1,
        tail_prefix: Vec::new(),
        replace: old.is_some(),
        verified_bytes,
    };
    let (ObjectAction::Grown, Some(old), Some(tail)) = (planned.action, old, tail) else {
        return whole(planned.action);
    };
    if crc32fast::hash(tail) != old.tail_crc || old.header.is_empty() {
        return whole(ObjectAction::Rewritten);
    }
    PlannedRead {
        object: planned.info.clone(),
        action: ObjectAction::Grown,
        range: old.consumed..planned.info.size,
        header: Some(old.header.clone()),
        first_line: old.next_line(),
        tail_prefix: tail.clone(),
        replace: false,
        verified_bytes,
    }
}

/// Source objects grouped by the feed they belong to; keys matching no feed are returned apart.
pub fn group_by_feed(
    catalog: &Catalog,
    objects: Vec<ObjectInfo>,
) -> (Vec<(&Feed, Vec<ObjectInfo>)>, Vec<String>) {
    let mut groups: Vec<(&Feed, Vec<ObjectInfo>)> =
        catalog.feeds().iter().map(|f| (f, Vec::new())).collect();
    let mut ignored = Vec::new();
    for object in objects {
        match feed_of_key(catalog, &object.key) {
            // `groups` has every feed of the catalog, so the feed's group is always found.
            Some(feed) => {
                if let Some(group) = groups.iter_mut().find(|(f, _)| f.name == feed.name) {
                    group.1.push(object);
                }
            }
            None => ignored.push(object.key),
        }
    }
    (groups, ignored)
}

/// The feed of a key laid out as `<feed>_<version>/year=YYYY/month=MM/<file>.csv`.
pub fn feed_of_key<'c>(catalog: &'c Catalog, key: &str) -> Option<&'c Feed> {
    let parts: Vec<&str> = key.split('/').collect();
    let [prefix, year, month, file] = parts.as_slice() else {
        return None;
    };
    let is_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let year_ok = year.strip_prefix("year=").is_some_and(|y| is_digits(y, 4));
    let month_ok = month
        .strip_prefix("month=")
        .is_some_and(|m| is_digits(m, 2));
    let csv = file.to_ascii_lowercase().ends_with(".csv");
    if !(year_ok && month_ok && csv) {
        return None;
    }
    catalog.feed_for_prefix(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, size: u64, etag: &str) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            etag: Some(etag.into()),
        }
    }

    #[test]
    fn plans_each_kind_of_change() {
        let mut state = TableState::default();
        for (key, consumed) in [("a", 100), ("b", 100), ("c", 100), ("d", 100), ("gone", 10)] {
            state.objects.insert(
                key.into(),
                ObjectState {
                    consumed,
                    etag: Some("e1".into()),
                    ..Default::default()
                },
            );
        }
        let listed = vec![
            object("a", 100, "e1"),
            object("b", 150, "e2"),
            object("c", 90, "e2"),
            object("d", 100, "e2"),
            object("new", 5, "e1"),
        ];
        let plan = TablePlan::new(listed, Some(&state));
        let actions: Vec<_> = plan
            .objects
            .iter()
            .map(|o| (o.info.key.as_str(), o.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("a", ObjectAction::Unchanged),
                ("b", ObjectAction::Grown),
                ("c", ObjectAction::Rewritten),
                ("d", ObjectAction::Rewritten),
                ("new", ObjectAction::New),
            ]
        );
        assert_eq!(plan.vanished, vec!["gone".to_string()]);
        assert!(!plan.is_noop());
    }

    #[test]
    fn a_grown_object_is_read_from_where_it_stopped_only_while_its_tail_is_unchanged() {
        let mut state = TableState::default();
        for key in ["same", "changed", "headerless"] {
            state.objects.insert(
                key.into(),
                ObjectState {
                    consumed: 10,
                    tail_crc: crc32fast::hash(b"0123456789"),
                    header: if key == "headerless" {
                        vec![]
                    } else {
                        vec!["id".into()]
                    },
                    lines: 3,
                    ..Default::default()
                },
            );
        }
        let listed = ["same", "changed", "headerless", "new"]
            .map(|k| object(k, 25, "e"))
            .to_vec();
        let plan = TablePlan::new(listed, Some(&state));
        let tails: HashMap<String, Vec<u8>> = [
            ("same", b"0123456789"),
            ("changed", b"0123456780"),
            ("headerless", b"0123456789"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
        let reads = plan.reads(Some(&state), &tails);
        let summary: Vec<_> = reads
            .iter()
            .map(|r| {
                (
                    r.object.key.as_str(),
                    r.action,
                    r.range.clone(),
                    r.first_line,
                    r.replace,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("same", ObjectAction::Grown, 10..25, 4, false),
                ("changed", ObjectAction::Rewritten, 0..25, 1, true),
                ("headerless", ObjectAction::Rewritten, 0..25, 1, true),
                ("new", ObjectAction::New, 0..25, 1, false),
            ]
        );
        assert_eq!(reads[0].tail_prefix, b"0123456789");
        assert_eq!(reads[0].header.as_deref(), Some(&["id".to_string()][..]));
        assert_eq!(reads.iter().map(|r| r.verified_bytes).sum::<u64>(), 30);
    }

    #[test]
    fn keys_map_to_feeds_by_layout() {
        let catalog = Catalog::builtin();
        let feed = |k: &str| feed_of_key(&catalog, k).map(|f| f.name.clone());
        assert_eq!(
            feed("billingeventfeed_v1/year=2010/month=01/data.csv").as_deref(),
            Some("billingeventfeed_v1")
        );
        assert_eq!(
            feed("BillingEventFeed_V1/year=2026/month=10/data.csv").as_deref(),
            Some("billingeventfeed_v1")
        );
        assert_eq!(feed("billingeventfeed_v1/year=2026/month=1/data.csv"), None);
        assert_eq!(feed("billingeventfeed_v1/data.csv"), None);
        assert_eq!(feed("README.md"), None);
        assert_eq!(feed("mysteryfeed_v1/year=2026/month=10/data.csv"), None);
    }
}
