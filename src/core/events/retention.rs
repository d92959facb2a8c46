//! Cohort retention and PostHog's lifecycle, over periods given by their starts (the api
//! layer computes them with date_trunc in the session's time zone).

use std::collections::BTreeMap;

use super::{period_index, EventLog, SortedLog};
use crate::core::error::{Error, Result};
use crate::core::interner::sort_interruptibly;

/// The most periods a retention row reaches after its cohort's.
pub const MAX_RETENTION_PERIODS: i32 = 1000;

pub fn check_periods(periods: i32) -> Result<usize> {
    if !(1..=MAX_RETENTION_PERIODS).contains(&periods) {
        return Err(Error::invalid_parameter(format!(
            "periods must be from 1 to {MAX_RETENTION_PERIODS}, not {periods}"
        )));
    }
    Ok(periods as usize)
}

/// Which events count: any (None), those of one name id (Some(Some)), or none at all
/// (Some(None): a name that no event has).
pub type EventFilter = Option<Option<u32>>;

fn matches(filter: EventFilter, name: u32) -> bool {
    filter.is_none_or(|only| only == Some(name))
}

/// One cell of the retention matrix, periods as indexes into the starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionCell {
    pub cohort: usize,
    pub cohort_size: u64,
    pub period: usize,
    pub retained: u64,
}

/// Keys by the period of their first cohort event; retained(p) counts those with a
/// return event in the p-th period after (0 = the cohort's own). Cells past the period of
/// `last_ts`, the data's last event (the log may hold only the events named), are left out.
/// Counts need no order, so the events are read as they came, without the per-key sort.
pub fn retention(
    log: &EventLog,
    cohort_event: EventFilter,
    return_event: EventFilter,
    starts: &[i64],
    last_ts: i64,
    periods: usize,
    interrupt: &mut dyn FnMut(),
) -> Vec<RetentionCell> {
    let last = period_index(starts, last_ts);
    // each key's cohort: the period of its first cohort event
    let mut first: Vec<Option<i64>> = vec![None; log.key_count()];
    for (i, event) in log.events().iter().enumerate() {
        if i % 65_536 == 0 {
            interrupt();
        }
        if matches(cohort_event, event.name) {
            let slot = &mut first[event.key as usize];
            *slot = Some(slot.map_or(event.ts, |ts| ts.min(event.ts)));
        }
    }
    let cohort_of: Vec<Option<usize>> =
        first.iter().map(|ts| ts.map(|ts| period_index(starts, ts))).collect();
    let mut cohorts: BTreeMap<usize, (u64, Vec<u64>)> = BTreeMap::new();
    for &cohort in cohort_of.iter().flatten() {
        cohorts.entry(cohort).or_insert_with(|| (0, vec![0; periods + 1])).0 += 1;
    }
    interrupt();
    // (key, periods after its cohort) of every return, then each pair once
    let mut returns: Vec<(u32, u32)> = Vec::new();
    for (i, event) in log.events().iter().enumerate() {
        if i % 65_536 == 0 {
            interrupt();
        }
        let Some(cohort) = cohort_of[event.key as usize] else { continue };
        if !matches(return_event, event.name) {
            continue;
        }
        match period_index(starts, event.ts).checked_sub(cohort) {
            Some(after) if after <= periods => returns.push((event.key, after as u32)),
            _ => {}
        }
    }
    sort_interruptibly(&mut returns, Ord::cmp, interrupt);
    returns.dedup();
    for (key, after) in returns {
        let cohort = cohort_of[key as usize].expect("a return is counted for a key with a cohort");
        cohorts.get_mut(&cohort).expect("every cohort is counted").1[after as usize] += 1;
    }
    cohorts
        .into_iter()
        .flat_map(|(cohort, (cohort_size, retained))| {
            (0..=periods).take_while(move |p| cohort + p <= last).map(move |period| RetentionCell {
                cohort,
                cohort_size,
                period,
                retained: retained[period],
            })
        })
        .collect()
}

/// PostHog's lifecycle statuses, in the order reported.
pub const STATUSES: [&str; 4] = ["new", "returning", "resurrecting", "dormant"];

/// For each period index in `first..=last`, the keys of each status (STATUSES' order):
/// active ones are new (first activity ever), returning (active the period before) or
/// resurrecting; dormant ones were active the period before and not in this one.
pub fn lifecycle(
    log: &SortedLog,
    starts: &[i64],
    first: usize,
    last: usize,
    interrupt: &mut dyn FnMut(),
) -> Vec<[u64; 4]> {
    let mut counts = vec![[0u64; 4]; last + 1 - first];
    let mut count = |period: usize, status: usize| {
        if (first..=last).contains(&period) {
            counts[period - first][status] += 1;
        }
    };
    let mut active: Vec<usize> = Vec::new();
    for (done, events) in log.by_key().enumerate() {
        if done % 4096 == 0 {
            interrupt();
        }
        active.clear();
        active.extend(events.iter().map(|e| period_index(starts, e.ts)));
        active.dedup();
        for (j, &period) in active.iter().enumerate() {
            let status = match j.checked_sub(1).map(|i| active[i]) {
                None => 0,
                Some(previous) if previous + 1 == period => 1,
                Some(_) => 2,
            };
            count(period, status);
            if active.get(j + 1) != Some(&(period + 1)) {
                count(period + 1, 3);
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::{log_of, unsorted_log_of};

    /// Periods of 10 microseconds starting at 0.
    fn starts() -> Vec<i64> {
        (0..10).map(|i| i * 10).collect()
    }

    #[test]
    fn cohorts_by_first_cohort_event_and_returns_by_period() {
        let log = unsorted_log_of(&[
            ("a", 1, Some("signup")),
            ("a", 12, Some("buy")),
            ("a", 15, Some("buy")),
            ("a", 35, Some("buy")),
            ("b", 3, Some("signup")),
            ("c", 14, Some("visit")),
            ("c", 15, Some("signup")),
            ("c", 22, Some("buy")),
            // the last event of all is in period 4: nothing reported past it
            ("d", 41, Some("visit")),
        ]);
        let (signup, buy) = (log.name_id("signup"), log.name_id("buy"));
        let cells = retention(&log, Some(signup), Some(buy), &starts(), 41, 3, &mut || ());
        let seen: Vec<(usize, u64, usize, u64)> =
            cells.iter().map(|c| (c.cohort, c.cohort_size, c.period, c.retained)).collect();
        assert_eq!(
            seen,
            [
                (0, 2, 0, 0),
                (0, 2, 1, 1),
                (0, 2, 2, 0),
                (0, 2, 3, 1),
                (1, 1, 0, 0),
                (1, 1, 1, 1),
                (1, 1, 2, 0),
                (1, 1, 3, 0)
            ]
        );
        // any event starts a cohort and counts as a return: period 0 holds the whole cohort
        let cells = retention(&log, None, None, &starts(), 41, 2, &mut || ());
        assert!(cells.iter().filter(|c| c.period == 0).all(|c| c.retained == c.cohort_size));
        let d = cells.iter().find(|c| c.cohort == 4).unwrap();
        assert_eq!((d.cohort_size, d.period, d.retained), (1, 0, 1));
        assert_eq!(cells.iter().filter(|c| c.cohort == 4).count(), 1);
        // a cohort event no row has: no cohorts
        assert!(retention(&log, Some(None), None, &starts(), 41, 2, &mut || ()).is_empty());
    }

    #[test]
    fn lifecycle_labels_each_active_period_and_the_one_after() {
        let log =
            log_of(&[("a", 1, None), ("a", 12, None), ("a", 35, None), ("b", 25, None), ("b", 26, None)]);
        // a: new 0, returning 1, dormant 2, resurrecting 3, dormant 4; b: new 2, dormant 3
        let counts = lifecycle(&log, &starts(), 0, 4, &mut || ());
        assert_eq!(counts, [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1], [0, 0, 0, 1]]);
        // a range that starts later still knows the first activity before it
        assert_eq!(lifecycle(&log, &starts(), 3, 3, &mut || ()), [[0, 0, 1, 1]]);
    }

    #[test]
    fn periods_are_checked() {
        assert!(check_periods(0).is_err());
        assert!(check_periods(1001).is_err());
        assert_eq!(check_periods(12).unwrap(), 12);
    }
}
