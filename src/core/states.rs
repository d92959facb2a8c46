//! Customer states over time: lifecycle stages, growth accounting, segment migration and
//! channel preference. Definitions: docs/states.md.

use std::cmp::Reverse;

use rustc_hash::FxHashMap;

use super::decay::{age, weight};
use super::interner::{Interner, Key};
use super::rfm::{CustomerSummary, Merge};
use super::stats::{ratio, ExactSum};
use super::{by_key, positive_duration, MICROS_PER_DAY};
use crate::core::error::{Error, ErrorKind, Result};

/// Days between two instants in microseconds, in 128 bits: the two ends of the timestamp
/// range are 9.4e18 us apart.
fn days_between(earlier: i64, later: i64) -> f64 {
    (i128::from(later) - i128::from(earlier)) as f64 / MICROS_PER_DAY as f64
}

/// `ts` is within `duration` of `as_of`: as_of - ts <= duration.
fn within(ts: i64, as_of: i64, duration: i64) -> bool {
    i128::from(as_of) - i128::from(ts) <= i128::from(duration)
}

// ---- Lifecycle stages --------------------------------------------------------------

/// The intervals that separate the stages, in microseconds, checked to be positive and
/// ordered (a new customer is also an active one, an active one is not yet lapsed).
#[derive(Debug, Clone, Copy)]
pub struct StageThresholds {
    new_within: i64,
    active_within: i64,
    churned_after: i64,
}

impl StageThresholds {
    pub fn new(new_within: i64, active_within: i64, churned_after: i64) -> Result<StageThresholds> {
        positive_duration(new_within, "new_within")?;
        positive_duration(active_within, "active_within")?;
        positive_duration(churned_after, "churned_after")?;
        if new_within > active_within {
            return Err(Error::invalid_parameter(
                "new_within must not be longer than active_within: shorten new_within or lengthen active_within",
            ));
        }
        if active_within > churned_after {
            return Err(Error::invalid_parameter(
                "active_within must not be longer than churned_after: shorten active_within or lengthen churned_after",
            ));
        }
        Ok(StageThresholds { new_within, active_within, churned_after })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    New,
    Reactivated,
    Active,
    Lapsed,
    Churned,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Reactivated => "reactivated",
            Stage::Active => "active",
            Stage::Lapsed => "lapsed",
            Stage::Churned => "churned",
        }
    }
}

/// One customer's purchase times up to as_of: what a stage needs. Merging two histories
/// gives the history of all their purchases, so rows may come in any order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseHistory {
    pub first_ts: i64,
    pub last_ts: i64,
    /// The latest purchase strictly before last_ts.
    pub previous_ts: Option<i64>,
    pub purchases: u64,
}

impl CustomerSummary for PurchaseHistory {
    fn new(ts: i64, _amount: f64) -> PurchaseHistory {
        PurchaseHistory { first_ts: ts, last_ts: ts, previous_ts: None, purchases: 1 }
    }

    fn last_ts(&self) -> i64 {
        self.last_ts
    }
}

impl Merge for PurchaseHistory {
    fn merge(&mut self, other: &PurchaseHistory) {
        let last_ts = self.last_ts.max(other.last_ts);
        self.previous_ts = [Some(self.last_ts), self.previous_ts, Some(other.last_ts), other.previous_ts]
            .into_iter()
            .flatten()
            .filter(|&ts| ts < last_ts)
            .max();
        self.last_ts = last_ts;
        self.first_ts = self.first_ts.min(other.first_ts);
        self.purchases += other.purchases;
    }
}

impl PurchaseHistory {
    /// The first rule that matches, in the order of docs/states.md.
    pub fn stage(&self, as_of: i64, thresholds: &StageThresholds) -> Stage {
        let recent = within(self.last_ts, as_of, thresholds.active_within);
        if within(self.first_ts, as_of, thresholds.new_within) {
            Stage::New
        } else if recent
            && self.previous_ts.is_some_and(|p| !within(p, self.last_ts, thresholds.active_within))
        {
            Stage::Reactivated
        } else if recent {
            Stage::Active
        } else if within(self.last_ts, as_of, thresholds.churned_after) {
            Stage::Lapsed
        } else {
            Stage::Churned
        }
    }

    pub fn days_since_last(&self, as_of: i64) -> f64 {
        days_between(self.last_ts, as_of)
    }

    pub fn previous_gap_days(&self) -> Option<f64> {
        self.previous_ts.map(|p| days_between(p, self.last_ts))
    }
}

// ---- Growth accounting -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn parse(name: &str) -> Result<Period> {
        match name {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            "quarter" => Ok(Period::Quarter),
            "year" => Ok(Period::Year),
            _ => Err(Error::invalid_parameter(format!(
                "period \"{name}\" is not one of 'day', 'week', 'month', 'quarter', 'year'"
            ))),
        }
    }

    /// The field of date_trunc that starts a period.
    pub fn field(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// The interval from one period's start to the next one's.
    pub fn step(self) -> &'static str {
        match self {
            Period::Day => "1 day",
            Period::Week => "7 days",
            Period::Month => "1 month",
            Period::Quarter => "3 months",
            Period::Year => "1 year",
        }
    }
}

/// The most periods growth_accounting reports in one call (54000 beyond).
pub const MAX_PERIODS: usize = 1_000_000;

/// One customer's transaction: customer id (ids compare as keys do), time, amount.
#[derive(Debug, Clone, Copy)]
pub struct Transaction {
    pub customer: u32,
    pub ts: i64,
    pub amount: f64,
}

/// One reported period of growth accounting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrowthPeriod {
    pub active: u64,
    pub new: u64,
    pub retained: u64,
    pub resurrected: u64,
    pub churned: u64,
    pub revenue: f64,
    pub new_revenue: f64,
    pub retained_revenue: f64,
    pub expansion: f64,
    pub contraction: f64,
    pub resurrected_revenue: f64,
    pub churned_revenue: f64,
    pub quick_ratio: Option<f64>,
}

/// Counts and revenue sums of one period; the sums are exact until read, so that the
/// order of customers and transactions does not change a bit of the result.
#[derive(Default)]
struct PeriodSums {
    active: u64,
    new: u64,
    retained: u64,
    resurrected: u64,
    churned: u64,
    revenue: ExactSum,
    new_revenue: ExactSum,
    retained_revenue: ExactSum,
    expansion: ExactSum,
    contraction: ExactSum,
    resurrected_revenue: ExactSum,
    churned_revenue: ExactSum,
}

impl PeriodSums {
    fn read(self) -> Result<GrowthPeriod> {
        let period = GrowthPeriod {
            active: self.active,
            new: self.new,
            retained: self.retained,
            resurrected: self.resurrected,
            churned: self.churned,
            revenue: self.revenue.value(),
            new_revenue: self.new_revenue.value(),
            retained_revenue: self.retained_revenue.value(),
            expansion: self.expansion.value(),
            contraction: self.contraction.value(),
            resurrected_revenue: self.resurrected_revenue.value(),
            churned_revenue: self.churned_revenue.value(),
            quick_ratio: ratio((self.new + self.resurrected) as f64, self.churned as f64),
        };
        let sums = [
            period.revenue,
            period.new_revenue,
            period.retained_revenue,
            period.expansion,
            period.contraction,
            period.resurrected_revenue,
            period.churned_revenue,
        ];
        if sums.iter().any(|sum| !sum.is_finite()) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                "growth_accounting: a period's revenue is beyond the range of float8",
            ));
        }
        Ok(period)
    }
}

/// Growth accounting over periods [starts[j], starts[j + 1]). Period 0 is the one before
/// the first reported period; periods 1 to starts.len() - 2 are reported. Transactions
/// before starts[0] only count as "active before"; those from the last start on are
/// ignored. Definitions: docs/states.md.
pub fn growth_accounting(
    transactions: &[Transaction],
    starts: &[i64],
    interrupt: &mut dyn FnMut(),
) -> Result<Vec<GrowthPeriod>> {
    let reported = starts.len().saturating_sub(2);
    // (customer, period or -1 for "before the first period", amount), sorted so that each
    // customer's periods come in order and the sum of a cell is taken in one order
    let mut cells: Vec<(u32, i64, f64)> = Vec::with_capacity(transactions.len());
    for (i, t) in transactions.iter().enumerate() {
        if i % 65_536 == 0 {
            interrupt();
        }
        let period = starts.partition_point(|&start| start <= t.ts) as i64 - 1;
        if period < reported as i64 + 1 {
            cells.push((t.customer, period, t.amount));
        }
    }
    let cells = by_key(&cells, |c| c.0, |a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)), interrupt);

    let mut sums: Vec<PeriodSums> = (0..=reported).map(|_| PeriodSums::default()).collect();
    let churn = |sums: &mut [PeriodSums], period: usize, revenue: f64| {
        if (1..=reported).contains(&period) {
            sums[period].churned += 1;
            sums[period].churned_revenue.add(revenue);
        }
    };
    let mut visited = 0usize;
    for customer in cells.chunk_by(|a, b| a.0 == b.0) {
        visited += customer.len();
        if visited >= 65_536 {
            interrupt();
            visited = 0;
        }
        let mut seen_before = false;
        let mut previous: Option<(i64, f64)> = None;
        for cell in customer.chunk_by(|a, b| a.1 == b.1) {
            let period = cell[0].1;
            let revenue: f64 = cell.iter().map(|c| c.2).sum();
            if period < 0 {
                seen_before = true;
                continue;
            }
            if let Some((p, r)) = previous {
                if p + 1 < period {
                    churn(&mut sums, (p + 1) as usize, r);
                }
            }
            if period >= 1 {
                let s = &mut sums[period as usize];
                s.active += 1;
                s.revenue.add(revenue);
                match previous {
                    Some((p, r)) if p + 1 == period => {
                        s.retained += 1;
                        s.retained_revenue.add(revenue.min(r));
                        s.expansion.add((revenue - r).max(0.0));
                        s.contraction.add((r - revenue).max(0.0));
                    }
                    None if !seen_before => {
                        s.new += 1;
                        s.new_revenue.add(revenue);
                    }
                    _ => {
                        s.resurrected += 1;
                        s.resurrected_revenue.add(revenue);
                    }
                }
            }
            previous = Some((period, revenue));
        }
        if let Some((p, r)) = previous {
            churn(&mut sums, (p + 1) as usize, r);
        }
    }
    sums.into_iter().skip(1).map(PeriodSums::read).collect()
}

// ---- Segment migration -------------------------------------------------------------

/// Which snapshot a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    Before,
    After,
}

impl Snapshot {
    fn name(self) -> &'static str {
        match self {
            Snapshot::Before => "before",
            Snapshot::After => "after",
        }
    }
}

/// One row of the migration table; None is "not in that snapshot".
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub from_segment: Option<String>,
    pub to_segment: Option<String>,
    pub customers: u64,
    pub share_of_from: Option<f64>,
}

/// Two snapshots of (customer, segment), compared customer by customer.
#[derive(Default)]
pub struct Migration {
    keys: Interner,
    segment_names: Interner,
    /// segment id per key id, per snapshot
    segments: [Vec<Option<u32>>; 2],
}

impl Migration {
    pub fn add(&mut self, snapshot: Snapshot, key: Key, segment: &str) -> Result<()> {
        // find: 42 in one snapshot and '42' in the other are one customer
        let id = self.keys.find(key).unwrap_or_else(|| self.keys.key_id(key)) as usize;
        let segment = self.segment_names.id(segment);
        for column in &mut self.segments {
            column.resize(self.keys.len(), None);
        }
        let slot = &mut self.segments[snapshot as usize][id];
        if slot.is_some() {
            let name = self.keys.name_of(id as u32).unwrap_or_default();
            return Err(Error::invalid_parameter(format!(
                "{}: customer \"{name}\" is listed twice; a snapshot has one segment per customer",
                snapshot.name()
            )));
        }
        *slot = Some(segment);
        Ok(())
    }

    /// Rows ordered by from_segment, then to_segment, "not in the snapshot" last.
    pub fn table(self, interrupt: &mut dyn FnMut()) -> Vec<Move> {
        let (names, new_segment_id) = self.segment_names.into_sorted(interrupt);
        let sorted = |segment: Option<u32>| segment.map(|s| new_segment_id[s as usize]);
        let mut pairs: FxHashMap<(Option<u32>, Option<u32>), u64> = FxHashMap::default();
        let mut from_totals: FxHashMap<u32, u64> = FxHashMap::default();
        let [before, after] = &self.segments;
        for (&from, &to) in before.iter().zip(after) {
            let (from, to) = (sorted(from), sorted(to));
            *pairs.entry((from, to)).or_default() += 1;
            if let Some(from) = from {
                *from_totals.entry(from).or_default() += 1;
            }
        }
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        // None after every segment: (is_none, id) orders so
        pairs.sort_unstable_by_key(|&((from, to), _)| ((from.is_none(), from), (to.is_none(), to)));
        let name = |segment: Option<u32>| segment.map(|s| names[s as usize].clone());
        pairs
            .into_iter()
            .map(|((from, to), customers)| Move {
                from_segment: name(from),
                to_segment: name(to),
                customers,
                share_of_from: from.and_then(|f| ratio(customers as f64, from_totals[&f] as f64)),
            })
            .collect()
    }
}

// ---- Channel preference ------------------------------------------------------------

/// A touch or a conversion of a customer; ids compare as names do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    pub customer: u32,
    pub ts: i64,
    pub channel: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    pub customer: u32,
    pub ts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Preference {
    pub customer: u32,
    pub preferred_channel: u32,
    pub share: f64,
    pub second_channel: Option<u32>,
    pub touches: u64,
    pub converting_channel: Option<u32>,
}

/// Each customer's preferred channels by decayed touches, and with conversions the channel
/// that most often came last before one. Touches and conversions after as_of are not
/// counted; customers without a touch up to as_of have no row. Definitions: docs/states.md.
pub fn channel_preference(
    mut touches: Vec<Touch>,
    mut conversions: Vec<Conversion>,
    as_of: i64,
    half_life: i64,
    interrupt: &mut dyn FnMut(),
) -> Vec<Preference> {
    touches.retain(|t| t.ts <= as_of);
    conversions.retain(|c| c.ts <= as_of);
    // by customer, then time, ties by channel (the order attribution's models read touches in)
    let touches =
        by_key(&touches, |t| t.customer, |a, b| (a.ts, a.channel).cmp(&(b.ts, b.channel)), interrupt);
    let conversions = by_key(&conversions, |c| c.customer, |a, b| a.ts.cmp(&b.ts), interrupt);
    let mut conversions = conversions.as_slice();
    let mut preferences = Vec::new();
    let mut weights: Vec<(u32, f64)> = Vec::new();
    for (i, customer_touches) in touches.chunk_by(|a, b| a.customer == b.customer).enumerate() {
        if i % 4096 == 0 {
            interrupt();
        }
        let customer = customer_touches[0].customer;
        let last_ts = customer_touches[customer_touches.len() - 1].ts;
        // Weights relative to the customer's last touch: shares and ranks are those of
        // 2^(-(as_of - ts) / half_life), without underflow for touches long before as_of.
        weights.clear();
        weights.extend(customer_touches.iter().map(|t| (t.channel, weight(age(t.ts, last_ts), half_life))));
        // a stable sort keeps each channel's weights in time order, so sums are reproducible
        weights.sort_by_key(|&(channel, _)| channel);
        let mut per_channel: Vec<(u32, f64)> = weights
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| (run[0].0, run.iter().map(|w| w.1).sum()))
            .collect();
        let total: f64 = per_channel.iter().map(|c| c.1).sum();
        per_channel.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

        let start = conversions.partition_point(|c| c.customer < customer);
        let end = conversions.partition_point(|c| c.customer <= customer);
        let converting_channel = converting_channel(customer_touches, &conversions[start..end]);
        conversions = &conversions[end..];

        preferences.push(Preference {
            customer,
            preferred_channel: per_channel[0].0,
            share: per_channel[0].1 / total,
            second_channel: per_channel.get(1).map(|c| c.0),
            touches: customer_touches.len() as u64,
            converting_channel,
        });
    }
    preferences
}

/// The channel of the touch last before (or at) each conversion, most frequent over the
/// conversions, ties by the most recent such conversion, then by channel name. Touches at
/// one instant are ordered by channel, as the last-touch model reads them.
fn converting_channel(touches: &[Touch], conversions: &[Conversion]) -> Option<u32> {
    let mut counts: FxHashMap<u32, (u64, i64)> = FxHashMap::default();
    for conversion in conversions {
        let before = touches.partition_point(|t| t.ts <= conversion.ts);
        if let Some(last) = before.checked_sub(1).map(|i| touches[i]) {
            let entry = counts.entry(last.channel).or_insert((0, conversion.ts));
            entry.0 += 1;
            entry.1 = entry.1.max(conversion.ts);
        }
    }
    counts
        .into_iter()
        .min_by_key(|&(channel, (n, latest))| (Reverse(n), Reverse(latest), channel))
        .map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MICROS_PER_DAY;

    fn history(days: &[i64]) -> PurchaseHistory {
        let mut h = <PurchaseHistory as CustomerSummary>::new(days[0] * DAY, 0.0);
        for &d in &days[1..] {
            h.merge(&<PurchaseHistory as CustomerSummary>::new(d * DAY, 0.0));
        }
        h
    }

    #[test]
    fn histories_keep_the_purchase_before_the_last_in_any_order() {
        let h = history(&[10, 50, 30, 50, 20]);
        assert_eq!(
            h,
            PurchaseHistory {
                first_ts: 10 * DAY,
                last_ts: 50 * DAY,
                previous_ts: Some(30 * DAY),
                purchases: 5
            }
        );
        assert_eq!(history(&[50, 20, 10, 50, 30]), h);
        // two purchases at one instant: no purchase strictly before it
        assert_eq!(history(&[7, 7]).previous_ts, None);
        let mut left = history(&[10, 30]);
        left.merge(&history(&[50, 20, 50]));
        assert_eq!(left, h);
    }

    #[test]
    fn every_stage_boundary_exactly_at_its_threshold() {
        // new 30 days, active 90, churned after 365; as_of = day 1000
        let t = StageThresholds::new(30 * DAY, 90 * DAY, 365 * DAY).unwrap();
        let as_of = 1000 * DAY;
        let stage = |days: &[i64]| history(days).stage(as_of, &t);
        assert_eq!(stage(&[970]), Stage::New, "first purchase exactly 30 days ago is within new_within");
        assert_eq!(stage(&[969]), Stage::Active, "31 days ago: not new, last within 90 days");
        assert_eq!(stage(&[860, 910]), Stage::Active, "exactly 90 days ago is active (gap 50 days)");
        assert_eq!(stage(&[500, 910]), Stage::Reactivated, "the same, after a gap of 410 days");
        assert_eq!(stage(&[500, 909]), Stage::Lapsed);
        assert_eq!(stage(&[100, 635]), Stage::Lapsed, "exactly 365 days ago is still lapsed");
        assert_eq!(stage(&[100, 634]), Stage::Churned);
        // reactivated: last within 90 days, and the gap before it more than 90 days
        assert_eq!(stage(&[800, 991]), Stage::Reactivated, "a gap of 191 days");
        assert_eq!(stage(&[900, 990]), Stage::Active, "a gap of exactly 90 days is not more than 90");
        assert_eq!(stage(&[899, 990]), Stage::Reactivated, "a gap of 91 days");
        assert_eq!(stage(&[975, 999]), Stage::New, "new wins over everything after it");
        let h = history(&[899, 990]);
        assert_eq!(h.days_since_last(as_of), 10.0);
        assert_eq!(h.previous_gap_days(), Some(91.0));
        assert_eq!(history(&[990]).previous_gap_days(), None);
    }

    #[test]
    fn thresholds_must_be_positive_and_ordered() {
        assert!(StageThresholds::new(0, DAY, DAY).is_err());
        assert!(StageThresholds::new(DAY, -DAY, DAY).is_err());
        let e = StageThresholds::new(2 * DAY, DAY, 3 * DAY).unwrap_err();
        assert!(e.message.contains("new_within"), "{}", e.message);
        let e = StageThresholds::new(DAY, 3 * DAY, 2 * DAY).unwrap_err();
        assert!(e.message.contains("churned_after"), "{}", e.message);
        assert!(StageThresholds::new(DAY, DAY, DAY).is_ok(), "equal thresholds are allowed");
        assert!(Period::parse("fortnight").is_err());
        assert_eq!(Period::parse("quarter").unwrap().step(), "3 months");
    }

    fn tx(customer: u32, day: i64, amount: f64) -> Transaction {
        Transaction { customer, ts: day * DAY, amount }
    }

    /// Periods of 10 days starting at day 0: period 0 = [0, 10) is the one before the
    /// reported periods 1 to 4 = [10, 20) .. [40, 50).
    fn ten_day_periods() -> Vec<i64> {
        (0..=5).map(|p| p * 10 * DAY).collect()
    }

    #[test]
    fn growth_accounting_by_hand() {
        // customer 0: active in periods 1 (5 + 5) and 2 (4): new, then retained with contraction 6
        // customer 1: before day 0, then period 2 (7): resurrected; churned in 3
        // customer 2: period 0 (3) and 1 (8): retained in 1 with expansion 5; churned in 2
        // customer 3: period 1 (2), none in 2, period 3 (9): new, churned, resurrected
        // customer 4: day 50 is after the last period: not counted at all
        let rows = [
            tx(0, 11, 5.0),
            tx(0, 15, 5.0),
            tx(0, 22, 4.0),
            tx(1, -3, 1.0),
            tx(1, 25, 7.0),
            tx(2, 1, 3.0),
            tx(2, 19, 8.0),
            tx(3, 12, 2.0),
            tx(3, 33, 9.0),
            tx(4, 50, 100.0),
        ];
        let periods = growth_accounting(&rows, &ten_day_periods(), &mut || {}).unwrap();
        assert_eq!(periods.len(), 4);
        let p1 = &periods[0];
        assert_eq!((p1.active, p1.new, p1.retained, p1.resurrected, p1.churned), (3, 2, 1, 0, 0));
        assert_eq!((p1.revenue, p1.new_revenue, p1.retained_revenue, p1.expansion), (20.0, 12.0, 3.0, 5.0));
        assert_eq!(p1.quick_ratio, None, "nobody churned");
        let p2 = &periods[1];
        assert_eq!((p2.active, p2.new, p2.retained, p2.resurrected, p2.churned), (2, 0, 1, 1, 2));
        assert_eq!((p2.retained_revenue, p2.contraction, p2.resurrected_revenue), (4.0, 6.0, 7.0));
        assert_eq!(p2.churned_revenue, 8.0 + 2.0);
        assert_eq!(p2.quick_ratio, Some(0.5));
        let p3 = &periods[2];
        assert_eq!((p3.active, p3.resurrected, p3.churned, p3.churned_revenue), (1, 1, 2, 11.0));
        let p4 = &periods[3];
        assert_eq!((p4.active, p4.churned, p4.churned_revenue, p4.quick_ratio), (0, 1, 9.0, Some(0.0)));
    }

    #[test]
    fn growth_accounting_identities_hold_on_random_data() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let rows: Vec<Transaction> = (0..5000)
            .map(|_| {
                tx((next() % 300) as u32, (next() % 70) as i64 - 10, (next() % 1000) as f64 / 7.0 - 20.0)
            })
            .collect();
        let starts: Vec<i64> = (0..=7).map(|p| p * 10 * DAY).collect();
        let periods = growth_accounting(&rows, &starts, &mut || {}).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
        for (j, p) in periods.iter().enumerate() {
            assert_eq!(p.active, p.new + p.retained + p.resurrected, "period {j}");
            assert!(close(
                p.revenue,
                p.new_revenue + p.retained_revenue + p.expansion + p.resurrected_revenue
            ));
            if j > 0 {
                let previous = &periods[j - 1];
                assert_eq!(previous.active, p.retained + p.churned, "period {j}");
                assert!(close(previous.revenue, p.retained_revenue + p.contraction + p.churned_revenue));
            }
        }
        // the rows in another order give the same periods, to the bit
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(growth_accounting(&reversed, &starts, &mut || {}).unwrap(), periods);
        let huge = [tx(0, 11, 1e308), tx(1, 12, 1e308)];
        assert_eq!(
            growth_accounting(&huge, &ten_day_periods(), &mut || {}).unwrap_err().kind,
            ErrorKind::OutOfRange
        );
    }

    #[test]
    fn migration_counts_moves_entries_and_exits() {
        let mut m = Migration::default();
        for (key, segment) in [(1, "a"), (2, "a"), (3, "b"), (4, "a")] {
            m.add(Snapshot::Before, Key::Integer(key), segment).unwrap();
        }
        // key 2 arrives as text in the later snapshot: the same customer
        for (key, segment) in [("1", "a"), ("2", "b"), ("3", "b"), ("5", "b")] {
            m.add(Snapshot::After, Key::Text(key), segment).unwrap();
        }
        let table = m.table(&mut || ());
        let row = |from: Option<&str>, to: Option<&str>, n: u64, share: Option<f64>| Move {
            from_segment: from.map(String::from),
            to_segment: to.map(String::from),
            customers: n,
            share_of_from: share,
        };
        assert_eq!(
            table,
            [
                row(Some("a"), Some("a"), 1, Some(1.0 / 3.0)),
                row(Some("a"), Some("b"), 1, Some(1.0 / 3.0)),
                row(Some("a"), None, 1, Some(1.0 / 3.0)),
                row(Some("b"), Some("b"), 1, Some(1.0)),
                row(None, Some("b"), 1, None),
            ]
        );
        let total: u64 = table.iter().map(|r| r.customers).sum();
        assert_eq!(total, 5, "every customer of either snapshot once");
        let mut twice = Migration::default();
        twice.add(Snapshot::After, Key::Text("x"), "a").unwrap();
        let e = twice.add(Snapshot::After, Key::Text("x"), "a").unwrap_err();
        assert!(e.message.contains("\"x\" is listed twice"), "{}", e.message);
    }

    #[test]
    fn channel_preference_by_hand() {
        // half-life 10 days, as_of day 100. Customer 0: channel 1 at days 100 and 90
        // (1 + 1/2), channel 0 at day 100 (1), channel 2 at day 120 (after as_of):
        // preferred 1 with share 1.5 / 2.5, second 0. Customer 1: channels 0 and 1 tie at
        // day 80: the smaller id (name) first.
        let touch = |customer, day, channel| Touch { customer, ts: day * DAY, channel };
        let touches = vec![
            touch(0, 100, 1),
            touch(0, 90, 1),
            touch(0, 100, 0),
            touch(0, 120, 2),
            touch(1, 80, 1),
            touch(1, 80, 0),
        ];
        // customer 0 converts at day 95 (last touch before: channel 1 at day 90) and at day
        // 100 (touches at day 100 on channels 0 and 1: the last by channel order is 1); customer 1 at
        // day 80 (channels 0 and 1 at day 80: channel 1) and at day 79 (no touch before: ignored)
        let conversion = |customer, day| Conversion { customer, ts: day * DAY };
        let conversions = vec![conversion(0, 95), conversion(0, 100), conversion(1, 80), conversion(1, 79)];
        let p = channel_preference(touches, conversions, 100 * DAY, 10 * DAY, &mut || {});
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].preferred_channel, p[0].second_channel, p[0].touches), (1, Some(0), 3));
        assert!((p[0].share - 0.6).abs() < 1e-15, "{}", p[0].share);
        assert_eq!(p[0].converting_channel, Some(1));
        assert_eq!((p[1].preferred_channel, p[1].share, p[1].second_channel), (0, 0.5, Some(1)));
        assert_eq!(p[1].converting_channel, Some(1));
    }

    #[test]
    fn converting_channel_ties_go_to_the_most_recent_conversion() {
        let touch = |day, channel| Touch { customer: 0, ts: day * DAY, channel };
        let touches = [touch(1, 5), touch(3, 2), touch(5, 5)];
        let conversion = |day| Conversion { customer: 0, ts: day * DAY };
        // day 2 -> 5, day 4 -> 2: one each, channel 2 converted last
        assert_eq!(converting_channel(&touches, &[conversion(2), conversion(4)]), Some(2));
        // day 6 -> 5 as well: channel 5 twice
        assert_eq!(converting_channel(&touches, &[conversion(2), conversion(4), conversion(6)]), Some(5));
        assert_eq!(converting_channel(&touches, &[conversion(0)]), None);
    }
}
