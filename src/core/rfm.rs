//! RFM: per-customer recency, frequency and monetary summaries, tie-safe scores and
//! named segments. Definitions: docs/rfm.md.

use std::cmp::Ordering;

use super::interner::{Interner, Key};
use super::MICROS_PER_DAY;
use crate::core::error::Error;

/// Significant digits kept of monetary values (see `money`).
const MONEY_DIGITS: i32 = 12;

/// The highest number of bins: scores print as text and must stay readable.
pub const MAX_BINS: u32 = 20;

/// One customer's transactions so far. It is also the state of the rfm_summary
/// aggregate, which merges partial summaries from parallel workers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub frequency: u64,
    pub total: f64,
    pub first_ts: i64,
    pub last_ts: i64,
}

impl Summary {
    pub fn new(ts: i64, amount: f64) -> Summary {
        Summary { frequency: 1, total: amount, first_ts: ts, last_ts: ts }
    }

    pub fn add(&mut self, ts: i64, amount: f64) {
        self.merge(&Summary::new(ts, amount));
    }

    pub fn merge(&mut self, other: &Summary) {
        self.frequency += other.frequency;
        self.total += other.total;
        self.first_ts = self.first_ts.min(other.first_ts);
        self.last_ts = self.last_ts.max(other.last_ts);
    }

    /// The total amount, rounded as `money` explains.
    pub fn total(&self) -> f64 {
        money(self.total)
    }

    pub fn mean(&self) -> f64 {
        money(self.total / self.frequency as f64)
    }

    /// Days from the last transaction to `as_of` (timestamps in microseconds).
    pub fn recency_days(&self, as_of: i64) -> f64 {
        // in 128 bits: timestamps at the two ends of the range are 9.4e18 us apart
        (i128::from(as_of) - i128::from(self.last_ts)) as f64 / MICROS_PER_DAY as f64
    }
}

/// A sum of decimal amounts in binary floating point carries noise in its last bits
/// (22.43 + 22.44 and 20.00 + 24.87 differ there, and the order of summation matters), which
/// would split customers whose amounts tie in decimal, and make parallel and serial sums
/// differ. Monetary values are therefore rounded to MONEY_DIGITS significant digits.
pub fn money(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(MONEY_DIGITS - 1 - x.abs().log10().floor() as i32);
    if !scale.is_finite() || scale == 0.0 {
        return x;
    }
    (x * scale).round() / scale
}

/// A summary of one customer's transactions that merges with another of the same
/// customer, in any order, to the summary of both.
pub trait Merge: Copy {
    fn merge(&mut self, other: &Self);
}

/// What a per-customer summary of transactions does besides merging: start from one
/// transaction, tell its latest transaction. RFM's Summary and the lifecycle stages'
/// purchase history (src/core/states.rs) are two of them.
pub trait CustomerSummary: Merge {
    fn new(ts: i64, amount: f64) -> Self;
    fn last_ts(&self) -> i64;
}

impl Merge for Summary {
    fn merge(&mut self, other: &Summary) {
        Summary::merge(self, other)
    }
}

impl CustomerSummary for Summary {
    fn new(ts: i64, amount: f64) -> Summary {
        Summary::new(ts, amount)
    }
    fn last_ts(&self) -> i64 {
        self.last_ts
    }
}

/// Summaries per customer key, built from transaction rows.
pub struct CustomerSummaries<S = Summary> {
    /// Transactions after this instant are ignored by `add`.
    cutoff: Option<i64>,
    keys: Interner,
    summaries: Vec<Option<S>>,
}

impl<S: CustomerSummary> CustomerSummaries<S> {
    pub fn add<'k>(&mut self, key: impl Into<Key<'k>>, ts: i64, amount: f64) {
        if self.cutoff.is_some_and(|cutoff| ts > cutoff) {
            return;
        }
        self.merge(key, S::new(ts, amount));
    }

    /// The latest transaction counted, None without any.
    pub fn latest_ts(&self) -> Option<i64> {
        self.summaries.iter().flatten().map(|s| s.last_ts()).max()
    }
}

impl<S: Merge> CustomerSummaries<S> {
    pub fn new(cutoff: Option<i64>) -> CustomerSummaries<S> {
        CustomerSummaries { cutoff, keys: Interner::default(), summaries: Vec::new() }
    }

    /// Merges `summary` into the key's.
    pub fn merge<'k>(&mut self, key: impl Into<Key<'k>>, summary: S) {
        let id = self.keys.key_id(key.into()) as usize;
        if id == self.summaries.len() {
            self.summaries.push(None);
        }
        match &mut self.summaries[id] {
            Some(existing) => existing.merge(&summary),
            empty => *empty = Some(summary),
        }
    }

    /// Keys and summaries in the byte order of the keys, so output order never
    /// depends on input order.
    pub fn into_sorted(self, interrupt: &mut dyn FnMut()) -> (Vec<String>, Vec<S>) {
        let (keys, new_id) = self.keys.into_sorted(interrupt);
        let mut sorted: Vec<Option<S>> = vec![None; keys.len()];
        for (old, summary) in self.summaries.into_iter().enumerate() {
            let (slot, summary) =
                (&mut sorted[new_id[old] as usize], summary.expect("every key has a summary"));
            match slot {
                Some(existing) => existing.merge(&summary),
                empty => *empty = Some(summary),
            }
        }
        (keys, sorted.into_iter().flatten().collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monetary {
    Mean,
    Total,
}

impl Monetary {
    pub fn parse(name: &str) -> Result<Monetary, Error> {
        match name {
            "mean" => Ok(Monetary::Mean),
            "total" => Ok(Monetary::Total),
            _ => Err(Error::invalid_parameter(format!(
                "unknown monetary \"{name}\": use 'mean' (average amount per transaction) or 'total'"
            ))),
        }
    }

    pub fn of(self, summary: &Summary) -> f64 {
        match self {
            Monetary::Mean => summary.mean(),
            Monetary::Total => summary.total(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Recency,
    Frequency,
    Monetary,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Recency, Dimension::Frequency, Dimension::Monetary];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Recency => "recency",
            Dimension::Frequency => "frequency",
            Dimension::Monetary => "monetary",
        }
    }

    /// Recency is measured in days since the last purchase: fewer is better.
    fn smaller_is_better(self) -> bool {
        self == Dimension::Recency
    }
}

/// How one dimension's values become scores 1..=bins.
#[derive(Debug, Clone, PartialEq)]
pub enum Cuts {
    /// score = 1 + floor(bins x below(v) / N), below(v) = customers with a worse value.
    Ranks,
    /// Ascending edges, bins - 1 of them: score = 1 + edges at or below v
    /// (recency: 1 + edges at or above v).
    Edges(Vec<f64>),
}

impl Cuts {
    /// Checks user-given edges: bins - 1 finite values, strictly ascending.
    pub fn edges(dimension: Dimension, edges: Vec<f64>, bins: u32) -> Result<Cuts, Error> {
        let argument = format!("{}_edges", &dimension.name()[..1]);
        if edges.len() != bins as usize - 1 {
            return Err(Error::invalid_parameter(format!(
                "{argument} has {} values, but bins = {bins} needs {} (the upper bounds of scores 1..{})",
                edges.len(),
                bins - 1,
                bins - 1
            )));
        }
        if edges.iter().any(|e| !e.is_finite()) {
            return Err(Error::invalid_parameter(format!("{argument} must hold finite numbers")));
        }
        if edges.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(Error::invalid_parameter(format!("{argument} must be strictly ascending")));
        }
        Ok(Cuts::Edges(edges))
    }
}

pub fn check_bins(bins: i32) -> Result<u32, Error> {
    match u32::try_from(bins) {
        Ok(b) if (2..=MAX_BINS).contains(&b) => Ok(b),
        _ => Err(Error::invalid_parameter(format!("bins must be between 2 and {MAX_BINS}, not {bins}"))),
    }
}

/// How to score: bins, the monetary measure and each dimension's cuts (recency,
/// frequency, monetary, in the order of Dimension::ALL).
#[derive(Debug, Clone)]
pub struct Scoring {
    pub bins: u32,
    pub monetary: Monetary,
    pub cuts: [Cuts; 3],
}

/// Each dimension's values and scores, one entry per customer.
#[derive(Debug, Clone)]
pub struct Scored {
    pub values: [Vec<f64>; 3],
    pub scores: [Vec<u32>; 3],
}

impl Scoring {
    pub fn score(&self, summaries: &[Summary], as_of: i64) -> Scored {
        let values = Dimension::ALL.map(|dimension| {
            summaries
                .iter()
                .map(|s| match dimension {
                    Dimension::Recency => s.recency_days(as_of),
                    Dimension::Frequency => s.frequency as f64,
                    Dimension::Monetary => self.monetary.of(s),
                })
                .collect::<Vec<f64>>()
        });
        let scores = [0, 1, 2].map(|d| scores(&values[d], Dimension::ALL[d], self.bins, &self.cuts[d]));
        Scored { values, scores }
    }
}

/// Scores of `values` (one per customer) on one dimension.
pub fn scores(values: &[f64], dimension: Dimension, bins: u32, cuts: &Cuts) -> Vec<u32> {
    match cuts {
        Cuts::Edges(edges) => values
            .iter()
            .map(|&v| {
                let passed = if dimension.smaller_is_better() {
                    edges.iter().filter(|&&e| e >= v).count()
                } else {
                    edges.iter().filter(|&&e| e <= v).count()
                };
                1 + passed as u32
            })
            .collect(),
        Cuts::Ranks => rank_scores(values, dimension.smaller_is_better(), bins),
    }
}

/// Rank scores: sort from worst to best; the customers with a worse value than v are the
/// position of v's first occurrence, so ties share a score.
fn rank_scores(values: &[f64], smaller_is_better: bool, bins: u32) -> Vec<u32> {
    let worse_first = |a: &f64, b: &f64| {
        let order = a.partial_cmp(b).unwrap_or(Ordering::Equal);
        if smaller_is_better {
            order.reverse()
        } else {
            order
        }
    };
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&i, &j| worse_first(&values[i], &values[j]));
    let n = values.len() as u64;
    let mut scores = vec![0; values.len()];
    let mut below = 0;
    for (position, &i) in order.iter().enumerate() {
        if position > 0 && worse_first(&values[order[position - 1]], &values[i]) != Ordering::Equal {
            below = position as u64;
        }
        scores[i] = 1 + (bins as u64 * below / n) as u32;
    }
    scores
}

/// "545", or "10-3-12" when scores can have two digits.
pub fn rfm_code(r: u32, f: u32, m: u32, bins: u32) -> String {
    if bins > 9 {
        format!("{r}-{f}-{m}")
    } else {
        format!("{r}{f}{m}")
    }
}

/// One line of a segment map: inclusive score ranges per dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRule {
    pub segment: String,
    pub r: (u32, u32),
    pub f: (u32, u32),
    pub m: (u32, u32),
}

impl SegmentRule {
    fn matches(&self, r: u32, f: u32, m: u32) -> bool {
        let within = |(low, high): (u32, u32), score: u32| low <= score && score <= high;
        within(self.r, r) && within(self.f, f) && within(self.m, m)
    }
}

/// The segment of a score triple: the first matching rule, else "Others".
pub fn segment_of(rules: &[SegmentRule], r: u32, f: u32, m: u32) -> &str {
    rules.iter().find(|rule| rule.matches(r, f, m)).map_or("Others", |rule| rule.segment.as_str())
}

/// The maps that come with the extension, for 5 bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedMap {
    /// The example map of the R package rfm.
    Standard,
    /// The recency x frequency grid.
    RfGrid,
}

impl NamedMap {
    pub fn parse(name: &str) -> Option<NamedMap> {
        match name {
            "standard" => Some(NamedMap::Standard),
            "rf_grid" => Some(NamedMap::RfGrid),
            _ => None,
        }
    }

    pub fn rules(self, bins: u32) -> Result<Vec<SegmentRule>, Error> {
        if bins != 5 {
            return Err(Error::invalid_parameter(format!(
                "segment_map '{}' is defined for bins = 5, not {bins}",
                self.name()
            ))
            .with_hint("Use bins => 5, segment_map => 'none', or a table of rules of your own."));
        }
        let rule = |segment: &str, r, f, m| SegmentRule { segment: segment.to_string(), r, f, m };
        let any = (1, 5);
        Ok(match self {
            NamedMap::Standard => vec![
                rule("Champions", (4, 5), (4, 5), (4, 5)),
                rule("Loyal Customers", (2, 5), (3, 5), (3, 5)),
                rule("Potential Loyalist", (3, 5), (1, 3), (1, 3)),
                rule("New Customers", (4, 5), (1, 1), (1, 1)),
                rule("Promising", (3, 4), (1, 1), (1, 1)),
                rule("Need Attention", (2, 3), (2, 3), (2, 3)),
                rule("About To Sleep", (2, 3), (1, 2), (1, 2)),
                rule("At Risk", (1, 2), (2, 5), (2, 5)),
                rule("Can't Lose Them", (1, 1), (4, 5), (4, 5)),
                rule("Lost", (1, 2), (1, 2), (1, 2)),
            ],
            NamedMap::RfGrid => vec![
                rule("Hibernating", (1, 2), (1, 2), any),
                rule("At Risk", (1, 2), (3, 4), any),
                rule("Can't Lose", (1, 2), (5, 5), any),
                rule("About to Sleep", (3, 3), (1, 2), any),
                rule("Need Attention", (3, 3), (3, 3), any),
                rule("Loyal Customers", (3, 4), (4, 5), any),
                rule("Promising", (4, 4), (1, 1), any),
                rule("New Customers", (5, 5), (1, 1), any),
                rule("Potential Loyalists", (4, 5), (2, 3), any),
                rule("Champions", (5, 5), (4, 5), any),
            ],
        })
    }

    fn name(self) -> &'static str {
        match self {
            NamedMap::Standard => "standard",
            NamedMap::RfGrid => "rf_grid",
        }
    }
}

/// A rule read from a user's table: bounds must be whole scores within 1..=bins and
/// min <= max. A missing (NULL) bound leaves that side open.
pub fn user_rule(segment: String, bounds: [Option<f64>; 6], bins: u32) -> Result<SegmentRule, Error> {
    let names = ["r_min", "r_max", "f_min", "f_max", "m_min", "m_max"];
    let mut scores = [0u32; 6];
    for (index, bound) in bounds.iter().enumerate() {
        let default = if index % 2 == 0 { 1 } else { bins };
        scores[index] = match *bound {
            None => default,
            Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= bins as f64 => v as u32,
            Some(v) => {
                return Err(Error::invalid_parameter(format!(
                    "segment \"{segment}\": {} = {v} is not a score between 1 and {bins}",
                    names[index]
                )))
            }
        };
    }
    for pair in 0..3 {
        if scores[2 * pair] > scores[2 * pair + 1] {
            return Err(Error::invalid_parameter(format!(
                "segment \"{segment}\": {} = {} is greater than {} = {}",
                names[2 * pair],
                scores[2 * pair],
                names[2 * pair + 1],
                scores[2 * pair + 1]
            )));
        }
    }
    Ok(SegmentRule {
        segment,
        r: (scores[0], scores[1]),
        f: (scores[2], scores[3]),
        m: (scores[4], scores[5]),
    })
}

/// The range and count of one score on one dimension (rfm_thresholds).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub dimension: Dimension,
    pub score: u32,
    /// None when no customer has this score.
    pub range: Option<(f64, f64)>,
    pub customers: u64,
}

/// Every score 1..=bins of one dimension, including the empty ones that ties skip.
pub fn thresholds(values: &[f64], scores: &[u32], dimension: Dimension, bins: u32) -> Vec<Threshold> {
    let mut rows: Vec<Threshold> =
        (1..=bins).map(|score| Threshold { dimension, score, range: None, customers: 0 }).collect();
    for (&value, &score) in values.iter().zip(scores) {
        let row = &mut rows[score as usize - 1];
        row.customers += 1;
        row.range = Some(match row.range {
            None => (value, value),
            Some((low, high)) => (low.min(value), high.max(value)),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn summary_counts_sums_and_spans() {
        let mut s = Summary::new(10 * DAY, 5.0);
        s.add(2 * DAY, 7.0);
        s.add(4 * DAY, -2.0);
        assert_eq!(s, Summary { frequency: 3, total: 10.0, first_ts: 2 * DAY, last_ts: 10 * DAY });
        assert_eq!(s.mean(), 3.33333333333); // 10 / 3 to 12 significant digits
        assert_eq!(s.recency_days(12 * DAY + DAY / 2), 2.5);
    }

    #[test]
    fn decimal_ties_stay_ties() {
        // In binary, 0.1 + 0.2 = 0.30000000000000004 while 0.3 is 0.29999999999999999.
        assert_eq!(money(0.1 + 0.2), money(0.3));
        let mut a = Summary::new(0, 22.43);
        a.add(DAY, 22.44);
        let mut b = Summary::new(0, 20.0);
        b.add(DAY, 24.87);
        assert_eq!(a.mean(), b.mean());
        assert_eq!(a.mean(), 22.435);
        assert_eq!(money(1234.5678901234567), 1234.56789012);
        assert_eq!(money(-0.000123456789012345), -0.000123456789012);
    }

    #[test]
    fn merge_is_the_same_as_adding_in_any_order() {
        let rows = [(3 * DAY, 1.0), (DAY, 2.0), (7 * DAY, 4.0), (5 * DAY, 8.0)];
        let mut all = Summary::new(rows[0].0, rows[0].1);
        rows[1..].iter().for_each(|&(ts, a)| all.add(ts, a));
        let mut left = Summary::new(rows[2].0, rows[2].1);
        left.add(rows[0].0, rows[0].1);
        let mut right = Summary::new(rows[3].0, rows[3].1);
        right.add(rows[1].0, rows[1].1);
        right.merge(&left);
        assert_eq!(right, all);
    }

    #[test]
    fn summaries_ignore_late_transactions_and_sort_keys() {
        let mut customers = CustomerSummaries::<Summary>::new(Some(10 * DAY));
        customers.add("b", 3 * DAY, 1.0);
        customers.add("a", 4 * DAY, 2.0);
        customers.add("b", 11 * DAY, 100.0);
        customers.add("c", 12 * DAY, 5.0);
        customers.add("b", 5 * DAY, 3.0);
        assert_eq!(customers.latest_ts(), Some(5 * DAY));
        let (keys, summaries) = customers.into_sorted(&mut || ());
        assert_eq!(keys, vec!["a", "b"]);
        assert_eq!(summaries[1], Summary { frequency: 2, total: 4.0, first_ts: 3 * DAY, last_ts: 5 * DAY });
    }

    #[test]
    fn rank_scores_follow_the_formula() {
        // N = 10 distinct values 1..10, bins 5: below(v) = v - 1, score = 1 + 5(v-1)/10.
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let got = scores(&values, Dimension::Frequency, 5, &Cuts::Ranks);
        assert_eq!(got, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Recency: smaller is better, so the order flips.
        let got = scores(&values, Dimension::Recency, 5, &Cuts::Ranks);
        assert_eq!(got, vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn ties_share_a_score_and_scores_can_skip() {
        // Frequencies 1,1,1,1,1,1,2,2,3,9 (N = 10, bins 5):
        // below: 1 -> 0, 2 -> 6, 3 -> 8, 9 -> 9; scores 1, 1 + 30/10 = 4, 1 + 40/10 = 5, 1 + 45/10 = 5.
        let values = [1.0, 2.0, 1.0, 9.0, 1.0, 1.0, 3.0, 1.0, 2.0, 1.0];
        let got = scores(&values, Dimension::Frequency, 5, &Cuts::Ranks);
        assert_eq!(got, vec![1, 4, 1, 5, 1, 1, 5, 1, 4, 1]);
        let rows = thresholds(&values, &got, Dimension::Frequency, 5);
        let counts: Vec<u64> = rows.iter().map(|t| t.customers).collect();
        assert_eq!(counts, vec![6, 0, 0, 2, 2]);
        assert_eq!(rows[1].range, None);
        assert_eq!(rows[4].range, Some((3.0, 9.0)));
    }

    #[test]
    fn everyone_bought_once_scores_one() {
        let values = vec![1.0; 7];
        assert_eq!(scores(&values, Dimension::Frequency, 5, &Cuts::Ranks), vec![1; 7]);
        assert_eq!(scores(&values, Dimension::Recency, 3, &Cuts::Ranks), vec![1; 7]);
    }

    #[test]
    fn scores_do_not_depend_on_row_order() {
        let values = [4.0, 0.5, 4.0, 2.0, 8.0, 0.5, 3.0];
        let got = scores(&values, Dimension::Monetary, 3, &Cuts::Ranks);
        let mut reversed = values;
        reversed.reverse();
        let mut got_reversed = scores(&reversed, Dimension::Monetary, 3, &Cuts::Ranks);
        got_reversed.reverse();
        assert_eq!(got, got_reversed);
        // Sorted 0.5,0.5,2,3,4,4,8: below = 0,0,2,3,4,4,6; score = 1 + 3*below/7.
        assert_eq!(got, vec![2, 1, 2, 1, 3, 1, 2]);
    }

    #[test]
    fn edges_count_the_bounds_passed() {
        let cuts = Cuts::edges(Dimension::Frequency, vec![2.0, 5.0], 3).unwrap();
        assert_eq!(scores(&[1.0, 2.0, 4.9, 5.0, 100.0], Dimension::Frequency, 3, &cuts), vec![1, 2, 2, 3, 3]);
        // Recency: 1 + edges >= days, so 10 days with edges {30, 90} scores 3.
        let cuts = Cuts::edges(Dimension::Recency, vec![30.0, 90.0], 3).unwrap();
        assert_eq!(
            scores(&[10.0, 30.0, 60.0, 90.0, 400.0], Dimension::Recency, 3, &cuts),
            vec![3, 3, 2, 2, 1]
        );
    }

    #[test]
    fn bad_edges_and_bins_are_refused() {
        assert!(Cuts::edges(Dimension::Monetary, vec![1.0], 3).is_err());
        assert!(Cuts::edges(Dimension::Monetary, vec![2.0, 2.0], 3).is_err());
        assert!(Cuts::edges(Dimension::Monetary, vec![3.0, 2.0], 3).is_err());
        assert!(Cuts::edges(Dimension::Monetary, vec![1.0, f64::INFINITY], 3).is_err());
        assert!(check_bins(1).is_err());
        assert!(check_bins(21).is_err());
        assert_eq!(check_bins(20).unwrap(), 20);
    }

    #[test]
    fn standard_map_first_match_wins() {
        let rules = NamedMap::Standard.rules(5).unwrap();
        assert_eq!(segment_of(&rules, 5, 5, 5), "Champions");
        assert_eq!(segment_of(&rules, 4, 3, 3), "Loyal Customers");
        // 5-1-1 matches Potential Loyalist (3-5, 1-3, 1-3) before New Customers.
        assert_eq!(segment_of(&rules, 5, 1, 1), "Potential Loyalist");
        assert_eq!(segment_of(&rules, 2, 2, 2), "Need Attention");
        assert_eq!(segment_of(&rules, 1, 5, 5), "At Risk");
        assert_eq!(segment_of(&rules, 1, 1, 1), "Lost");
        // 3-1-4: no rule (Potential Loyalist needs M <= 3, About To Sleep M <= 2).
        assert_eq!(segment_of(&rules, 3, 1, 4), "Others");
    }

    #[test]
    fn rf_grid_covers_every_cell() {
        let rules = NamedMap::RfGrid.rules(5).unwrap();
        let expected = [
            // F = 1..5 for R = 1..5
            ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose"],
            ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose"],
            ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
            ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"],
            ["New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
        ];
        for r in 1..=5 {
            for f in 1..=5 {
                assert_eq!(
                    segment_of(&rules, r, f, 3),
                    expected[r as usize - 1][f as usize - 1],
                    "R{r} F{f}"
                );
            }
        }
        assert!(NamedMap::RfGrid.rules(4).is_err());
    }

    #[test]
    fn user_rules_open_missing_bounds_and_check_ranges() {
        let rule = user_rule("Top".into(), [Some(4.0), None, None, None, Some(5.0), Some(5.0)], 5).unwrap();
        assert_eq!(rule.r, (4, 5));
        assert_eq!(rule.f, (1, 5));
        assert_eq!(rule.m, (5, 5));
        assert!(user_rule("x".into(), [Some(3.0), Some(2.0), None, None, None, None], 5).is_err());
        assert!(user_rule("x".into(), [Some(1.5), None, None, None, None, None], 5).is_err());
        assert!(user_rule("x".into(), [None, Some(6.0), None, None, None, None], 5).is_err());
    }

    #[test]
    fn codes_separate_two_digit_scores() {
        assert_eq!(rfm_code(5, 4, 5, 5), "545");
        assert_eq!(rfm_code(10, 3, 12, 12), "10-3-12");
    }
}
