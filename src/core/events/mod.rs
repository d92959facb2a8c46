//! Event tables (key, ts, event name): funnels, sessions, paths, retention and lifecycle.
//! Definitions: docs/journeys.md.

pub mod funnel;
pub mod paths;
pub mod retention;
pub mod sessions;

use super::by_key;
use super::interner::{Interner, Key};

/// The name id of an event whose name is NULL: after every name, as NULLS LAST sorts.
pub const NO_NAME: u32 = u32::MAX;

/// One event: key and name as ids (in byte order of their text once sorted), time in
/// microseconds since 2000-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub ts: i64,
    pub key: u32,
    pub name: u32,
}

/// Events as read, in any order.
#[derive(Default)]
pub struct EventLog {
    keys: Interner,
    names: Interner,
    events: Vec<Event>,
}

impl EventLog {
    pub fn add(&mut self, key: Key, ts: i64, name: Option<&str>) {
        let key = self.keys.key_id(key);
        let name = name.map_or(NO_NAME, |name| self.names.id(name));
        self.events.push(Event { ts, key, name });
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events as read, keys and names as ids in the order first seen: for what needs
    /// no order (retention counts), without the sort.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many distinct keys, the bound of the events' key ids.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The id of an event name as read, None when no event has it.
    pub fn name_id(&self, name: &str) -> Option<u32> {
        self.names.find(Key::Text(name))
    }

    /// Events grouped by key in key order, each key's by (ts, name), so that every result
    /// is the same for the same rows in any order.
    pub fn into_sorted(self, interrupt: &mut dyn FnMut()) -> SortedLog {
        let (keys, key_id) = self.keys.into_sorted(interrupt);
        let (names, name_id) = self.names.into_sorted(interrupt);
        // renamed in place: at ten million events a copy is 160 MB more to write
        let mut renamed = self.events;
        for e in &mut renamed {
            e.key = key_id[e.key as usize];
            if e.name != NO_NAME {
                e.name = name_id[e.name as usize];
            }
        }
        let events = by_key(&renamed, |e| e.key, |a, b| (a.ts, a.name).cmp(&(b.ts, b.name)), interrupt);
        drop(renamed);
        let mut starts = Vec::with_capacity(keys.len() + 1);
        starts.push(0);
        for (i, pair) in events.windows(2).enumerate() {
            if pair[0].key != pair[1].key {
                starts.push(i + 1);
            }
        }
        if !events.is_empty() {
            starts.push(events.len());
        }
        SortedLog { keys, names, events, starts }
    }
}

/// Events by key, then time, then name.
pub struct SortedLog {
    pub keys: Vec<String>,
    pub names: Vec<String>,
    pub events: Vec<Event>,
    /// starts[i]..starts[i + 1] are the i-th key's events (every key has one at least).
    starts: Vec<usize>,
}

impl SortedLog {
    /// Each key's events, in key order.
    pub fn by_key(&self) -> impl Iterator<Item = &[Event]> + '_ {
        self.starts.windows(2).map(|w| &self.events[w[0]..w[1]])
    }

    /// The name of an event, None for a NULL name.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    /// The id of the event name `name`, None when no event has it.
    pub fn name_id(&self, name: &str) -> Option<u32> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok().map(|i| i as u32)
    }

    pub fn key(&self, id: u32) -> &str {
        &self.keys[id as usize]
    }
}

/// The index of the period holding `ts`, given sorted period starts with the first at or
/// before every ts asked about.
pub fn period_index(starts: &[i64], ts: i64) -> usize {
    starts.partition_point(|&start| start <= ts).saturating_sub(1)
}

/// An event log of rows (key, ts, name), for the tests of the submodules.
#[cfg(test)]
pub(crate) fn unsorted_log_of(rows: &[(&str, i64, Option<&str>)]) -> EventLog {
    let mut log = EventLog::default();
    for &(key, ts, name) in rows {
        log.add(Key::Text(key), ts, name);
    }
    log
}

/// The same, sorted.
#[cfg(test)]
pub(crate) fn log_of(rows: &[(&str, i64, Option<&str>)]) -> SortedLog {
    unsorted_log_of(rows).into_sorted(&mut || ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_by_key_then_time_then_name_with_null_names_last() {
        let log = log_of(&[
            ("b", 5, Some("view")),
            ("a", 7, None),
            ("b", 5, Some("cart")),
            ("a", 7, Some("view")),
            ("a", 1, Some("view")),
        ]);
        assert_eq!(log.keys, ["a", "b"]);
        let seen: Vec<Vec<(i64, Option<&str>)>> =
            log.by_key().map(|events| events.iter().map(|e| (e.ts, log.name(e.name))).collect()).collect();
        assert_eq!(
            seen,
            [
                vec![(1, Some("view")), (7, Some("view")), (7, None)],
                vec![(5, Some("cart")), (5, Some("view"))]
            ]
        );
        assert_eq!(log.name_id("view"), Some(1));
        assert_eq!(log.name_id("buy"), None);
    }

    #[test]
    fn timestamps_fall_in_the_period_that_starts_at_or_before_them() {
        let starts = [0, 10, 20];
        assert_eq!(period_index(&starts, 0), 0);
        assert_eq!(period_index(&starts, 9), 0);
        assert_eq!(period_index(&starts, 10), 1);
        assert_eq!(period_index(&starts, 25), 2);
    }
}
