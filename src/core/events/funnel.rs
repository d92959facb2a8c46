//! window_funnel (ClickHouse's windowFunnel, ported to give its results) and the funnel
//! report with times between steps. Definitions: docs/journeys.md.

use super::SortedLog;
use crate::core::error::{Error, Result};
use crate::core::interner::sort_interruptibly;
use crate::core::positive_duration;
use crate::core::stats::ratio;

/// The most steps a funnel has, as in ClickHouse.
pub const MAX_STEPS: usize = 32;

/// ClickHouse's windowFunnel options; 'default' is none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// A step's event must be strictly later than the previous step's.
    pub strict_increase: bool,
    /// An event of no step, or of a step whose previous step is not reached, ends the scan.
    pub strict_order: bool,
    /// An event of a step already reached ends the scan.
    pub strict_deduplication: bool,
}

impl Mode {
    /// 'default', or one or more of 'strict_increase', 'strict_order' and
    /// 'strict_deduplication' separated by commas.
    pub fn parse(text: &str) -> Result<Mode> {
        let mut mode = Mode::default();
        if text.trim() == "default" {
            return Ok(mode);
        }
        for option in text.split(',').map(str::trim) {
            match option {
                "strict_increase" => mode.strict_increase = true,
                "strict_order" => mode.strict_order = true,
                "strict_deduplication" => mode.strict_deduplication = true,
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "mode \"{text}\" is not 'default' or a comma-separated list of 'strict_increase', \
                         'strict_order', 'strict_deduplication'"
                    )))
                }
            }
        }
        Ok(mode)
    }

    fn to_bits(self) -> u8 {
        u8::from(self.strict_increase)
            | u8::from(self.strict_order) << 1
            | u8::from(self.strict_deduplication) << 2
    }

    fn from_bits(bits: u8) -> Option<Mode> {
        (bits < 8).then_some(Mode {
            strict_increase: bits & 1 != 0,
            strict_order: bits & 2 != 0,
            strict_deduplication: bits & 4 != 0,
        })
    }
}

/// What every row of one funnel shares: the number of steps, the window in microseconds
/// and the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelSpec {
    steps: u8,
    window: i64,
    mode: Mode,
}

impl FunnelSpec {
    pub fn new(steps: usize, window: i64, mode: Mode) -> Result<FunnelSpec> {
        if steps == 0 || steps > MAX_STEPS {
            return Err(Error::invalid_parameter(format!(
                "a funnel has 1 to {MAX_STEPS} steps, not {steps}"
            )));
        }
        Ok(FunnelSpec { steps: steps as u8, window: positive_duration(window, "window")?, mode })
    }

    pub fn steps(&self) -> usize {
        usize::from(self.steps)
    }

    fn within_window(&self, first: i64, ts: i64) -> bool {
        i128::from(ts) <= i128::from(first) + i128::from(self.window)
    }
}

/// One (row, step it satisfies) pair; step 0 is a row that satisfies no step, kept only
/// for strict_order. Sorted by time, then step, as ClickHouse sorts its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub ts: i64,
    pub step: u8,
}

/// The funnel level of one group's entries, sorted: ClickHouse's windowFunnel scan. For
/// each step it keeps the start and the last time of the latest chain that reached it.
/// Without strict options that is the longest chain whose last event is within `window`
/// of its first; strict_increase keeps only the latest chain per step too, so it can miss
/// a longer chain from an earlier start, as ClickHouse does (docs/journeys.md).
pub fn level(entries: &[Entry], spec: &FunnelSpec) -> usize {
    let steps = spec.steps();
    if entries.is_empty() {
        return 0;
    }
    if steps == 1 && !spec.mode.strict_order {
        return 1;
    }
    let mut reached: [Option<(i64, i64)>; MAX_STEPS] = [None; MAX_STEPS];
    let highest =
        |reached: &[Option<(i64, i64)>]| reached.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let mut started = false;
    for entry in entries {
        if entry.step == 0 {
            if started {
                break;
            }
            continue;
        }
        let index = usize::from(entry.step) - 1;
        if index == 0 {
            reached[0] = Some((entry.ts, entry.ts));
            started = true;
        } else if spec.mode.strict_deduplication && reached[index].is_some() {
            return highest(&reached);
        } else if spec.mode.strict_order && started && reached[index - 1].is_none() {
            return reached.iter().position(Option::is_none).unwrap_or(steps);
        } else if let Some((first, last)) = reached[index - 1] {
            let in_time =
                spec.within_window(first, entry.ts) && (!spec.mode.strict_increase || last < entry.ts);
            if in_time {
                reached[index] = Some((first, entry.ts));
                if index + 1 == steps {
                    return steps;
                }
            }
        }
    }
    highest(&reached)
}

/// The microseconds between consecutive steps of the first chain (earliest first step)
/// that reaches `level`, each later step taking the earliest event that may follow
/// (at or after the previous one, strictly after under strict_increase) within the
/// window. None when no chain reaches `level`.
pub fn chain_gaps(entries: &[Entry], level: usize, spec: &FunnelSpec) -> Option<Vec<i64>> {
    if level < 2 {
        return Some(Vec::new());
    }
    let mut times: Vec<Vec<i64>> = vec![Vec::new(); level];
    for entry in entries {
        if (1..=level).contains(&usize::from(entry.step)) {
            times[usize::from(entry.step) - 1].push(entry.ts);
        }
    }
    let mut chain = Vec::with_capacity(level);
    for &first in &times[0] {
        chain.clear();
        chain.push(first);
        for step_times in &times[1..] {
            let previous = *chain.last().expect("the chain has its first step");
            let next = match spec.mode.strict_increase {
                true => step_times.partition_point(|&ts| ts <= previous),
                false => step_times.partition_point(|&ts| ts < previous),
            };
            match step_times.get(next) {
                Some(&ts) if spec.within_window(first, ts) => chain.push(ts),
                _ => break,
            }
        }
        if chain.len() == level {
            return Some(chain.windows(2).map(|pair| pair[1] - pair[0]).collect());
        }
    }
    None
}

/// The state of the window_funnel aggregate: the spec and every (row, step) entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelState {
    spec: FunnelSpec,
    entries: Vec<Entry>,
}

const STATE_VERSION: u8 = 1;

impl FunnelState {
    pub fn new(spec: FunnelSpec) -> FunnelState {
        FunnelState { spec, entries: Vec::new() }
    }

    /// Every row of a group must ask for the same funnel.
    pub fn check_spec(&self, spec: &FunnelSpec) -> Result<()> {
        if *spec != self.spec {
            return Err(Error::invalid_parameter(
                "window_funnel: window, mode and the number of steps must be the same in every row of a group",
            ));
        }
        Ok(())
    }

    /// One row: the steps it satisfies (NULL counts as false).
    pub fn add_row(&mut self, ts: i64, satisfied: impl Iterator<Item = bool>) {
        let before = self.entries.len();
        for (index, yes) in satisfied.enumerate() {
            if yes {
                self.entries.push(Entry { ts, step: index as u8 + 1 });
            }
        }
        if self.entries.len() == before && self.spec.mode.strict_order {
            self.entries.push(Entry { ts, step: 0 });
        }
    }

    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    pub fn merge(&mut self, other: &FunnelState) -> Result<()> {
        self.check_spec(&other.spec)?;
        self.entries.extend_from_slice(&other.entries);
        Ok(())
    }

    /// The group's level; the entries are sorted first, so any row order gives it.
    pub fn level(&mut self, interrupt: &mut dyn FnMut()) -> usize {
        sort_interruptibly(&mut self.entries, Ord::cmp, interrupt);
        level(&self.entries, &self.spec)
    }

    /// Version, steps, mode bits, window (i64), entry count (u64), then each entry's ts
    /// (i64) and step (u8); little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(19 + self.entries.len() * 9);
        bytes.extend([STATE_VERSION, self.spec.steps, self.spec.mode.to_bits()]);
        bytes.extend(self.spec.window.to_le_bytes());
        bytes.extend((self.entries.len() as u64).to_le_bytes());
        for entry in &self.entries {
            bytes.extend(entry.ts.to_le_bytes());
            bytes.push(entry.step);
        }
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<FunnelState> {
        let damaged = || Error::invalid_parameter("window_funnel: the serialized state is damaged");
        match bytes.first() {
            Some(&STATE_VERSION) => {}
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "window_funnel: a serialized state of format {other} cannot be read by this version (format {STATE_VERSION})"
                )))
            }
            None => return Err(damaged()),
        }
        let header = bytes.get(..19).ok_or_else(damaged)?;
        let mode = Mode::from_bits(header[2]).ok_or_else(damaged)?;
        let window = i64::from_le_bytes(header[3..11].try_into().expect("8 bytes"));
        let count = u64::from_le_bytes(header[11..19].try_into().expect("8 bytes"));
        let spec = FunnelSpec::new(usize::from(header[1]), window, mode).map_err(|_| damaged())?;
        let body = &bytes[19..];
        if count.checked_mul(9) != Some(body.len() as u64) {
            return Err(damaged());
        }
        let entries = body
            .chunks_exact(9)
            .map(|chunk| {
                let entry =
                    Entry { ts: i64::from_le_bytes(chunk[..8].try_into().expect("8 bytes")), step: chunk[8] };
                let valid = entry.step <= spec.steps && (entry.step > 0 || mode.strict_order);
                valid.then_some(entry).ok_or_else(damaged)
            })
            .collect::<Result<Vec<Entry>>>()?;
        Ok(FunnelState { spec, entries })
    }
}

/// Step names for funnel(): 1 to 32, none NULL, no name twice.
pub fn check_step_names(names: &[Option<&str>]) -> Result<Vec<String>> {
    if names.is_empty() || names.len() > MAX_STEPS {
        return Err(Error::invalid_parameter(format!(
            "steps must list 1 to {MAX_STEPS} event names, not {}",
            names.len()
        )));
    }
    let mut checked: Vec<String> = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let name = name.ok_or_else(|| Error::invalid_parameter(format!("steps[{}] is NULL", index + 1)))?;
        if checked.iter().any(|seen| seen == name) {
            return Err(Error::invalid_parameter(format!(
                "steps lists \"{name}\" twice: each step is a different event"
            )));
        }
        checked.push(name.to_string());
    }
    Ok(checked)
}

/// One row of the funnel report.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub step: usize,
    pub event: String,
    pub users: u64,
    pub conversion_from_previous: Option<f64>,
    pub conversion_from_first: Option<f64>,
    pub median_seconds_from_previous: Option<f64>,
    pub p90_seconds_from_previous: Option<f64>,
}

/// The nearest-rank quantile of sorted values: the ceil(q * n)-th smallest.
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank - 1).copied()
}

/// Users reaching each step (their level at least that step), conversion rates, and the
/// seconds from the previous step along each user's first chain that reaches their level.
pub fn funnel(
    log: &SortedLog,
    steps: &[String],
    spec: &FunnelSpec,
    interrupt: &mut dyn FnMut(),
) -> Vec<FunnelStep> {
    // the step of each event name id, 0 for names of no step and for NULL names
    let mut step_of_name = vec![0u8; log.names.len()];
    for (index, name) in steps.iter().enumerate() {
        if let Some(id) = log.name_id(name) {
            step_of_name[id as usize] = index as u8 + 1;
        }
    }
    let mut users = vec![0u64; steps.len() + 1];
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    let mut entries = Vec::new();
    for (done, events) in log.by_key().enumerate() {
        if done % 4096 == 0 {
            interrupt();
        }
        entries.clear();
        for event in events {
            let step = step_of_name.get(event.name as usize).copied().unwrap_or(0);
            if step > 0 || spec.mode.strict_order {
                entries.push(Entry { ts: event.ts, step });
            }
        }
        sort_interruptibly(&mut entries, Ord::cmp, interrupt);
        let reached = level(&entries, spec);
        users[reached] += 1;
        if let Some(gaps) = chain_gaps(&entries, reached, spec) {
            for (index, gap) in gaps.into_iter().enumerate() {
                seconds[index + 1].push(gap as f64 / 1e6);
            }
        }
    }
    // users at step k: level k or more
    for k in (1..steps.len()).rev() {
        users[k] += users[k + 1];
    }
    (1..=steps.len())
        .map(|k| {
            let times = &mut seconds[k - 1];
            sort_interruptibly(times, f64::total_cmp, interrupt);
            FunnelStep {
                step: k,
                event: steps[k - 1].clone(),
                users: users[k],
                conversion_from_previous: if k == 1 {
                    (users[1] > 0).then_some(1.0)
                } else {
                    ratio(users[k] as f64, users[k - 1] as f64)
                },
                conversion_from_first: ratio(users[k] as f64, users[1] as f64),
                median_seconds_from_previous: nearest_rank(times, 0.5),
                p90_seconds_from_previous: nearest_rank(times, 0.9),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::log_of;

    const NO_OPTION: &str = "default";

    /// Rows (ts, name), steps, window, mode, and the level expected.
    type Case<'a> = (&'a [(i64, &'a str)], &'a [&'a str], i64, &'a str, usize);

    /// The level of events (ts, name) for steps named by letters, through window_funnel's state.
    fn level_of(rows: &[(i64, &str)], steps: &[&str], window: i64, mode: &str) -> usize {
        let spec = FunnelSpec::new(steps.len(), window, Mode::parse(mode).unwrap()).unwrap();
        let mut state = FunnelState::new(spec);
        for &(ts, name) in rows.iter().rev() {
            state.add_row(ts, steps.iter().map(|step| *step == name));
        }
        state.level(&mut || ())
    }

    #[test]
    fn levels_are_clickhouse_s() {
        // Expected: the output of windowFunnel in chDB 4.4.0 (ClickHouse 26.9) for the same
        // rows, steps, window and options (bench/requirements-nodeps.txt pins it).
        let cases: &[Case] = &[
            (&[(1, "A"), (2, "A"), (2, "B")], &["A", "B"], 10, "strict_increase", 1),
            (&[(1, "A"), (2, "A"), (2, "B")], &["A", "B"], 10, NO_OPTION, 2),
            (
                &[(1, "A"), (2, "B"), (3, "C"), (4, "B"), (5, "D")],
                &["A", "B", "C", "D"],
                10,
                "strict_deduplication",
                3,
            ),
            (&[(1, "A"), (2, "B"), (3, "D"), (4, "C")], &["A", "B", "C"], 10, "strict_order", 2),
            (&[(1, "A"), (2, "B"), (3, "D"), (4, "C")], &["A", "B", "C"], 10, NO_OPTION, 3),
            (
                &[(1, "A"), (5, "B"), (12, "C"), (13, "A"), (14, "B"), (30, "C")],
                &["A", "B", "C"],
                10,
                NO_OPTION,
                2,
            ),
            (&[(0, "A"), (10, "B")], &["A", "B"], 10, NO_OPTION, 2),
            (&[(5, "A"), (5, "B"), (5, "C")], &["A", "B", "C"], 1, NO_OPTION, 3),
            (&[(5, "A"), (5, "B"), (5, "C")], &["A", "B", "C"], 1, "strict_increase", 1),
            (&[(1, "A"), (2, "C"), (3, "B"), (4, "C")], &["A", "B", "C"], 10, "strict_order", 1),
            (&[(1, "X"), (2, "A"), (3, "B")], &["A", "B"], 10, "strict_order", 2),
            (&[(1, "A"), (2, "A"), (3, "B")], &["A", "B"], 10, "strict_deduplication", 2),
            (&[(1, "B"), (2, "A")], &["A"], 10, NO_OPTION, 1),
            (&[(1, "B")], &["A"], 10, NO_OPTION, 0),
            (&[(1, "B")], &["A"], 10, "strict_order", 0),
        ];
        for &(rows, steps, window, mode, expected) in cases {
            assert_eq!(level_of(rows, steps, window, mode), expected, "{rows:?} {steps:?} {mode}");
        }
    }

    #[test]
    fn one_row_can_satisfy_two_steps_as_in_clickhouse() {
        // ClickHouse adds an entry per condition a row satisfies, so one row reaches both
        let spec = FunnelSpec::new(2, 10, Mode::default()).unwrap();
        let mut state = FunnelState::new(spec);
        state.add_row(3, [true, true].into_iter());
        assert_eq!(state.level(&mut || ()), 2);
    }

    /// The definition, computed another way: for every start, a forward scan that marks each
    /// step reachable (with the earliest last time, under strict_increase); the longest.
    fn longest_chain(entries: &[Entry], steps: usize, window: i64, strictly_later: bool) -> usize {
        let mut best = 0;
        for (start, first) in entries.iter().enumerate().filter(|(_, e)| e.step == 1) {
            let mut earliest_last: Vec<Option<i64>> = vec![None; steps + 1];
            earliest_last[1] = Some(first.ts);
            for entry in &entries[start + 1..] {
                let j = usize::from(entry.step);
                if j < 2 || entry.ts - first.ts > window {
                    continue;
                }
                if let Some(previous) = earliest_last[j - 1] {
                    if !strictly_later || previous < entry.ts {
                        earliest_last[j] = Some(earliest_last[j].map_or(entry.ts, |t: i64| t.min(entry.ts)));
                    }
                }
            }
            best = best.max(earliest_last.iter().rposition(Option::is_some).unwrap_or(0));
        }
        best
    }

    fn random_entries(seed: &mut u64, steps: u8) -> Vec<Entry> {
        let mut next = || {
            *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *seed >> 33
        };
        let count = next() % 14;
        let mut entries: Vec<Entry> = (0..count)
            .map(|_| Entry { ts: (next() % 20) as i64, step: (next() % u64::from(steps + 1)) as u8 })
            .collect();
        entries.retain(|e| e.step > 0);
        entries.sort_unstable();
        entries
    }

    #[test]
    fn without_options_the_level_is_the_longest_chain_in_the_window() {
        let mut seed = 11;
        for round in 0..20_000 {
            let steps = 1 + (round % 5) as u8;
            let window = (round % 7) as i64;
            let entries = random_entries(&mut seed, steps);
            let spec = FunnelSpec::new(usize::from(steps), window.max(1), Mode::default()).unwrap();
            let expected = longest_chain(&entries, usize::from(steps), window.max(1), false);
            assert_eq!(level(&entries, &spec), expected, "{entries:?} window {window}");
        }
    }

    #[test]
    fn under_strict_increase_the_level_is_a_real_chain_and_never_longer_than_the_longest() {
        let mut seed = 12;
        let spec_of = |steps: u8| {
            FunnelSpec::new(usize::from(steps), 5, Mode::parse("strict_increase").unwrap()).unwrap()
        };
        let mut shorter = 0;
        for round in 0..20_000 {
            let steps = 1 + (round % 5) as u8;
            let entries = random_entries(&mut seed, steps);
            let reached = level(&entries, &spec_of(steps));
            let longest = longest_chain(&entries, usize::from(steps), 5, true);
            assert!(reached <= longest, "{entries:?}");
            shorter += usize::from(reached < longest);
            let gaps = chain_gaps(&entries, reached, &spec_of(steps)).expect("a chain reaches the level");
            assert!(gaps.iter().all(|&gap| gap > 0), "strictly later steps: {gaps:?}");
        }
        assert!(shorter > 0, "the random cases include ClickHouse's latest-start-only misses");
    }

    #[test]
    fn times_follow_the_first_chain_that_reaches_the_level() {
        let spec = FunnelSpec::new(3, 10, Mode::default()).unwrap();
        let entries =
            |list: &[(i64, u8)]| list.iter().map(|&(ts, step)| Entry { ts, step }).collect::<Vec<_>>();
        // the start at 0 reaches step 2 only (step 3 at 20 is out of its window); the
        // start at 12 reaches 3: B at 15 is the earliest B after it, C at 20
        let e = entries(&[(0, 1), (4, 2), (12, 1), (13, 2), (15, 2), (20, 3)]);
        assert_eq!(level(&e, &spec), 3);
        assert_eq!(chain_gaps(&e, 3, &spec), Some(vec![1, 7]));
        // level 2 is timed from the earliest start
        assert_eq!(chain_gaps(&e, 2, &spec), Some(vec![4]));
        assert_eq!(chain_gaps(&e, 1, &spec), Some(vec![]));
        assert_eq!(chain_gaps(&entries(&[(0, 1)]), 2, &spec), None);
    }

    #[test]
    fn the_funnel_report_counts_users_per_step_and_times_each_step() {
        let day = 86_400_000_000i64;
        let log = log_of(&[
            // u1: view, cart after 60 s, buy after 120 s more
            ("u1", 0, Some("view")),
            ("u1", 60_000_000, Some("cart")),
            ("u1", 180_000_000, Some("buy")),
            // u2: view, cart after 30 s, never buys
            ("u2", 0, Some("view")),
            ("u2", 30_000_000, Some("cart")),
            // u3: view, cart two days later: out of a one-day window
            ("u3", 0, Some("view")),
            ("u3", 2 * day, Some("cart")),
            // u4: only a cart, and an event of no step
            ("u4", 0, Some("cart")),
            ("u4", 5, None),
        ]);
        let steps = vec!["view".to_string(), "cart".to_string(), "buy".to_string()];
        let spec = FunnelSpec::new(3, day, Mode::default()).unwrap();
        let report = funnel(&log, &steps, &spec, &mut || ());
        let users: Vec<u64> = report.iter().map(|s| s.users).collect();
        assert_eq!(users, [3, 2, 1]);
        assert_eq!(report[0].conversion_from_previous, Some(1.0));
        assert_eq!(report[1].conversion_from_previous, Some(2.0 / 3.0));
        assert_eq!(report[2].conversion_from_first, Some(1.0 / 3.0));
        assert_eq!(report[0].median_seconds_from_previous, None);
        // cart times 60 and 30: the nearest-rank median is the lower one, the p90 the upper
        assert_eq!(report[1].median_seconds_from_previous, Some(30.0));
        assert_eq!(report[1].p90_seconds_from_previous, Some(60.0));
        assert_eq!(report[2].median_seconds_from_previous, Some(120.0));
        // nobody reaches a fourth step of another funnel: NULL rates and times
        let steps = vec!["buy".to_string(), "refund".to_string()];
        let report = funnel(&log, &steps, &FunnelSpec::new(2, day, Mode::default()).unwrap(), &mut || ());
        assert_eq!((report[1].users, report[1].conversion_from_previous), (0, Some(0.0)));
        assert_eq!(report[1].median_seconds_from_previous, None);
    }

    #[test]
    fn states_round_trip_and_merge_in_any_order() {
        let spec = FunnelSpec::new(3, 100, Mode::parse("strict_order, strict_increase").unwrap()).unwrap();
        let rows = [
            (5, [true, false, false]),
            (9, [false, false, false]),
            (7, [false, true, false]),
            (8, [false, false, true]),
        ];
        let mut whole = FunnelState::new(spec);
        let (mut left, mut right) = (FunnelState::new(spec), FunnelState::new(spec));
        for (i, (ts, steps)) in rows.iter().enumerate() {
            whole.add_row(*ts, steps.iter().copied());
            [&mut left, &mut right][i % 2].add_row(*ts, steps.iter().copied());
        }
        let mut merged = FunnelState::from_bytes(&right.to_bytes()).unwrap();
        assert_eq!(merged, right);
        merged.merge(&left).unwrap();
        assert_eq!(merged.level(&mut || ()), 3);
        assert_eq!(whole.level(&mut || ()), 3);
        let other = FunnelState::new(FunnelSpec::new(3, 50, spec.mode).unwrap());
        assert!(merged.merge(&other).is_err());
        let mut bytes = whole.to_bytes();
        bytes[0] = 9;
        assert!(FunnelState::from_bytes(&bytes).unwrap_err().message.contains("format 9"));
        assert!(FunnelState::from_bytes(&whole.to_bytes()[..20]).is_err());
        let mut bad_step = whole.to_bytes();
        bad_step[19 + 8] = 7;
        assert!(FunnelState::from_bytes(&bad_step).is_err());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(Mode::parse("strict").is_err());
        assert!(Mode::parse("").is_err());
        assert_eq!(Mode::parse(" strict_order ,strict_deduplication").unwrap().to_bits(), 6);
        assert!(FunnelSpec::new(0, 1, Mode::default()).is_err());
        assert!(FunnelSpec::new(33, 1, Mode::default()).is_err());
        assert!(FunnelSpec::new(2, 0, Mode::default()).is_err());
        assert!(check_step_names(&[]).is_err());
        assert!(check_step_names(&[Some("a"), None]).unwrap_err().message.contains("steps[2] is NULL"));
        assert!(check_step_names(&[Some("a"), Some("a")]).unwrap_err().message.contains("twice"));
        assert_eq!(check_step_names(&[Some("a"), Some("b")]).unwrap(), ["a", "b"]);
    }
}
