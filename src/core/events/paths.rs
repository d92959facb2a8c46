//! Paths: the sequences of event names keys take, counted per path and per transition.

use rustc_hash::FxHashMap;

use super::{sessions, SortedLog, NO_NAME};
use crate::core::error::{Error, Result};

/// How a key's events become paths.
#[derive(Debug, Clone, Copy)]
pub struct PathRules {
    pub max_steps: usize,
    /// Name id where each path starts (at its first occurrence); paths without it are
    /// dropped. `Some(None)` names an event no row has: then there are no paths.
    pub start: Option<Option<u32>>,
    /// With a gap, each session is a path; without, each key's events are one.
    pub session_gap: Option<i64>,
    pub collapse_repeats: bool,
}

/// The largest max_steps: a path is a row's text, and a very long one helps nobody.
pub const MAX_PATH_STEPS: i32 = 1000;

pub fn check_max_steps(max_steps: i32) -> Result<usize> {
    if !(1..=MAX_PATH_STEPS).contains(&max_steps) {
        return Err(Error::invalid_parameter(format!(
            "max_steps must be from 1 to {MAX_PATH_STEPS}, not {max_steps}"
        )));
    }
    Ok(max_steps as usize)
}

/// Every key's paths, as name ids: calls `each(key, path)` per path, keys in order.
pub fn for_each_path(
    log: &SortedLog,
    rules: &PathRules,
    interrupt: &mut dyn FnMut(),
    mut each: impl FnMut(u32, &[u32]),
) {
    if rules.start == Some(None) {
        return;
    }
    let mut path = Vec::with_capacity(rules.max_steps);
    for (done, events) in log.by_key().enumerate() {
        if done % 4096 == 0 {
            interrupt();
        }
        let units: Box<dyn Iterator<Item = _>> = match rules.session_gap {
            Some(gap) => Box::new(sessions::split(events, gap)),
            None => Box::new(std::iter::once(events)),
        };
        for unit in units {
            let mut names = unit.iter().map(|e| e.name).filter(|&name| name != NO_NAME).peekable();
            if let Some(Some(start)) = rules.start {
                while names.next_if(|&name| name != start).is_some() {}
            }
            path.clear();
            for name in names {
                if rules.collapse_repeats && path.last() == Some(&name) {
                    continue;
                }
                if path.len() == rules.max_steps {
                    break;
                }
                path.push(name);
            }
            if !path.is_empty() {
                each(unit[0].key, &path);
            }
        }
    }
}

/// A path and the number of distinct keys that took it.
#[derive(Debug, Clone, PartialEq)]
pub struct PathCount {
    pub path: String,
    pub users: u64,
    pub share: f64,
}

/// A path's text: its names joined by " > ".
fn path_text(log: &SortedLog, path: &[u32]) -> String {
    path.iter().map(|&name| log.name(name).unwrap_or_default()).collect::<Vec<_>>().join(" > ")
}

/// The `top` paths by keys that took them (more first, then by path text); share is of
/// the keys with any path.
pub fn path_summary(
    log: &SortedLog,
    rules: &PathRules,
    top: usize,
    interrupt: &mut dyn FnMut(),
) -> Vec<PathCount> {
    // per path: the keys that took it, counted once per key (a key's paths come together)
    let mut counts: FxHashMap<Vec<u32>, (u64, u32)> = FxHashMap::default();
    let (mut keys_with_paths, mut last_key) = (0u64, None);
    for_each_path(log, rules, interrupt, |key, path| {
        if last_key != Some(key) {
            keys_with_paths += 1;
            last_key = Some(key);
        }
        let count = counts.entry(path.to_vec()).or_insert((0, u32::MAX));
        if count.1 != key {
            *count = (count.0 + 1, key);
        }
    });
    interrupt();
    let mut rows: Vec<(u64, String)> =
        counts.into_iter().map(|(path, (users, _))| (users, path_text(log, &path))).collect();
    rows.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    rows.truncate(top);
    rows.into_iter()
        .map(|(users, path)| PathCount { path, users, share: users as f64 / keys_with_paths as f64 })
        .collect()
}

/// One edge of the paths' Sankey diagram: keys going from one event to the next at a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub step: usize,
    pub from: String,
    /// None: the path ends here ('(exit)').
    pub to: Option<String>,
    pub users: u64,
}

/// Keys per (step, from, to), each key once per edge; ordered by step, then keys (more
/// first), then names, the exit last.
pub fn path_transitions(log: &SortedLog, rules: &PathRules, interrupt: &mut dyn FnMut()) -> Vec<Transition> {
    let mut counts: FxHashMap<(usize, u32, u32), (u64, u32)> = FxHashMap::default();
    for_each_path(log, rules, interrupt, |key, path| {
        for (index, &from) in path.iter().enumerate() {
            let to = path.get(index + 1).copied().unwrap_or(NO_NAME);
            let count = counts.entry((index + 1, from, to)).or_insert((0, u32::MAX));
            if count.1 != key {
                *count = (count.0 + 1, key);
            }
        }
    });
    interrupt();
    let mut edges: Vec<((usize, u32, u32), u64)> =
        counts.into_iter().map(|(edge, (users, _))| (edge, users)).collect();
    // name ids are in name order and NO_NAME (the exit) is the largest
    edges.sort_unstable_by(|a, b| a.0 .0.cmp(&b.0 .0).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    edges
        .into_iter()
        .map(|((step, from, to), users)| Transition {
            step,
            from: log.name(from).unwrap_or_default().to_string(),
            to: log.name(to).map(str::to_string),
            users,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::log_of;

    fn rules(
        max_steps: usize,
        start: Option<Option<u32>>,
        session_gap: Option<i64>,
        collapse: bool,
    ) -> PathRules {
        PathRules { max_steps, start, session_gap, collapse_repeats: collapse }
    }

    fn sample() -> SortedLog {
        log_of(&[
            ("a", 1, Some("home")),
            ("a", 2, Some("home")),
            ("a", 3, Some("product")),
            ("a", 4, Some("cart")),
            ("b", 1, Some("home")),
            ("b", 2, Some("product")),
            ("b", 3, None),
            ("b", 4, Some("cart")),
            ("c", 1, Some("search")),
            ("c", 2, Some("product")),
            // a second session of c after a gap of 100
            ("c", 102, Some("home")),
            ("c", 103, Some("product")),
            ("c", 104, Some("cart")),
        ])
    }

    #[test]
    fn paths_are_counted_per_key_with_repeats_collapsed() {
        let log = sample();
        let rows = path_summary(&log, &rules(5, None, None, true), 20, &mut || ());
        let seen: Vec<(&str, u64)> = rows.iter().map(|r| (r.path.as_str(), r.users)).collect();
        assert_eq!(seen, [("home > product > cart", 2), ("search > product > home > product > cart", 1)]);
        assert_eq!(rows[0].share, 2.0 / 3.0);
        // without collapsing, a's repeated home is its own path; max_steps cuts
        let rows = path_summary(&log, &rules(2, None, None, false), 20, &mut || ());
        let seen: Vec<(&str, u64)> = rows.iter().map(|r| (r.path.as_str(), r.users)).collect();
        assert_eq!(seen, [("home > home", 1), ("home > product", 1), ("search > product", 1)]);
        assert_eq!(path_summary(&log, &rules(2, None, None, false), 1, &mut || ()).len(), 1);
    }

    #[test]
    fn sessions_and_a_start_event_make_the_paths() {
        let log = sample();
        let product = log.name_id("product");
        let rows = path_summary(&log, &rules(5, Some(product), Some(50), true), 20, &mut || ());
        let seen: Vec<(&str, u64)> = rows.iter().map(|r| (r.path.as_str(), r.users)).collect();
        // c's sessions: search > product (starts at product: "product"), home > product > cart
        assert_eq!(seen, [("product > cart", 3), ("product", 1)]);
        assert_eq!(path_summary(&log, &rules(5, Some(None), None, true), 20, &mut || ()), []);
    }

    #[test]
    fn transitions_count_keys_per_step_and_end_in_an_exit() {
        let log = sample();
        let edges = path_transitions(&log, &rules(3, None, None, true), &mut || ());
        let seen: Vec<(usize, &str, Option<&str>, u64)> =
            edges.iter().map(|t| (t.step, t.from.as_str(), t.to.as_deref(), t.users)).collect();
        assert_eq!(
            seen,
            [
                (1, "home", Some("product"), 2),
                (1, "search", Some("product"), 1),
                (2, "product", Some("cart"), 2),
                (2, "product", Some("home"), 1),
                (3, "cart", None, 2),
                (3, "home", None, 1),
            ]
        );
    }

    #[test]
    fn max_steps_is_checked() {
        assert!(check_max_steps(0).is_err());
        assert!(check_max_steps(1001).is_err());
        assert_eq!(check_max_steps(5).unwrap(), 5);
    }
}
