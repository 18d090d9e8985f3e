//! Sync planning: what to read of each source object, given what the table already holds.

use sdds_feeds::{Catalog, Feed};
use sdds_source::ObjectInfo;

use crate::state::{ObjectState, TableState};

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

    /// Source bytes the plan reads, if every grown object passes its check.
    pub fn bytes_to_read(&self, state: Option<&TableState>) -> u64 {
        self.objects
            .iter()
            .map(|o| match o.action {
                ObjectAction::Unchanged => 0,
                ObjectAction::Grown => {
                    let consumed = state
                        .and_then(|s| s.objects.get(&o.info.key))
                        .map_or(0, |old| old.consumed);
                    o.info.size - consumed
                }
                ObjectAction::New | ObjectAction::Rewritten => o.info.size,
            })
            .sum()
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
