//! Segment ROI: per segment, what its treated members bought and cost against what its
//! control members bought; and channel ROI: attributed conversions against spend.
//! Definitions: docs/roi.md.

use rustc_hash::FxHashMap;

use super::interner::{Interner, Key};
use super::stats::{ratio, risk_ratio_interval, two_proportion_p_value, Confidence, ExactSum, Proportion};
use crate::core::error::{Error, Result};

/// Orders count when period.start <= ts < period.end; None is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    start: Option<i64>,
    end: Option<i64>,
}

impl Period {
    pub fn new(start: Option<i64>, end: Option<i64>) -> Result<Self> {
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                return Err(Error::invalid_parameter("period_end must be after period_start")
                    .with_hint("orders count when period_start <= ts < period_end"));
            }
        }
        Ok(Period { start, end })
    }

    pub fn contains(&self, ts: i64) -> bool {
        self.start.is_none_or(|start| start <= ts) && self.end.is_none_or(|end| ts < end)
    }
}

/// What one group (the treated or the control members of a segment) did in the period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupTotals {
    pub customers: u64,
    /// Customers with at least one order.
    pub converters: u64,
    pub orders: u64,
    pub revenue: f64,
}

impl GroupTotals {
    fn add_customer(&mut self, bought: &Purchases) {
        self.customers += 1;
        self.converters += u64::from(bought.orders > 0);
        self.orders += bought.orders;
    }

    fn proportion(&self) -> Proportion {
        Proportion { successes: self.converters, trials: self.customers }
    }

    fn conversion_rate(&self) -> Option<f64> {
        self.proportion().rate()
    }

    fn revenue_per_customer(&self) -> Option<f64> {
        ratio(self.revenue, self.customers as f64)
    }
}

/// One row of segment_roi. Every ratio is None where its denominator is zero or missing.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRoi {
    pub segment: String,
    pub customers: u64,
    pub converters: u64,
    pub conversion_rate: Option<f64>,
    pub orders: u64,
    pub revenue: f64,
    pub avg_order_value: Option<f64>,
    pub revenue_per_customer: Option<f64>,
    pub cost: Option<f64>,
    pub cac: Option<f64>,
    pub roi: Option<f64>,
    pub roas: Option<f64>,
    pub control_customers: u64,
    pub control_conversion_rate: Option<f64>,
    pub control_revenue_per_customer: Option<f64>,
    pub lift: Option<f64>,
    pub lift_ci_low: Option<f64>,
    pub lift_ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub incremental_revenue: Option<f64>,
}

impl SegmentRoi {
    pub fn compute(
        segment: String,
        treated: GroupTotals,
        control: GroupTotals,
        cost: Option<f64>,
        confidence: Confidence,
    ) -> Self {
        let conversion_rate = treated.conversion_rate();
        let control_conversion_rate = control.conversion_rate();
        let revenue_per_customer = treated.revenue_per_customer();
        let control_revenue_per_customer = control.revenue_per_customer();
        let interval = risk_ratio_interval(treated.proportion(), control.proportion(), confidence);
        SegmentRoi {
            segment,
            customers: treated.customers,
            converters: treated.converters,
            conversion_rate,
            orders: treated.orders,
            revenue: treated.revenue,
            avg_order_value: ratio(treated.revenue, treated.orders as f64),
            revenue_per_customer,
            cost,
            cac: cost.and_then(|cost| ratio(cost, treated.converters as f64)),
            roi: cost.and_then(|cost| ratio(treated.revenue - cost, cost)),
            roas: cost.and_then(|cost| ratio(treated.revenue, cost)),
            control_customers: control.customers,
            control_conversion_rate,
            control_revenue_per_customer,
            lift: conversion_rate
                .zip(control_conversion_rate)
                .and_then(|(t, c)| ratio(t, c))
                .map(|r| r - 1.0),
            lift_ci_low: interval.map(|(low, _)| low - 1.0),
            lift_ci_high: interval.map(|(_, high)| high - 1.0),
            p_value: two_proportion_p_value(treated.proportion(), control.proportion()),
            incremental_revenue: revenue_per_customer
                .zip(control_revenue_per_customer)
                .map(|(t, c)| (t - c) * treated.customers as f64),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Purchases {
    orders: u64,
    revenue: ExactSum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Membership {
    customer: u32,
    segment: u32,
    control: bool,
}

/// Reads members first (`add_member`), then orders and costs (`Ledger`).
#[derive(Default)]
pub struct Members {
    customers: Interner,
    segments: Interner,
    /// Whether some segment was not an integer: segments then sort as text.
    text_segments: bool,
    memberships: Vec<Membership>,
}

impl Members {
    pub fn add_member(&mut self, customer: Key, segment: Key, is_control: bool) {
        self.text_segments |= matches!(segment, Key::Text(_));
        self.memberships.push(Membership {
            customer: self.customers.key_id(customer),
            segment: self.segments.key_id(segment),
            control: is_control,
        });
    }

    /// Drops repeated memberships; a customer both treated and control in one segment is
    /// an error, since it cannot be both.
    pub fn into_ledger(mut self, period: Period) -> Result<Ledger> {
        self.memberships.sort_unstable();
        self.memberships.dedup();
        if let Some(pair) = self
            .memberships
            .windows(2)
            .find(|w| (w[0].customer, w[0].segment) == (w[1].customer, w[1].segment))
        {
            let name = |interner: &Interner, id| interner.name_of(id).unwrap_or_default();
            return Err(Error::invalid_parameter(format!(
                "members: customer '{}' is both treated and control in segment '{}'",
                name(&self.customers, pair[0].customer),
                name(&self.segments, pair[0].segment)
            ))
            .with_hint("a customer is control (is_control true) or treated in a segment, not both"));
        }
        let segment_count = self.segments.len();
        Ok(Ledger {
            purchases: vec![Purchases::default(); self.customers.len()],
            members: self,
            period,
            costs: vec![None; segment_count],
            unknown_cost_segments: Vec::new(),
        })
    }
}

/// Members with their orders and their segments' costs, summed as they are read.
pub struct Ledger {
    members: Members,
    period: Period,
    purchases: Vec<Purchases>,
    costs: Vec<Option<ExactSum>>,
    unknown_cost_segments: Vec<String>,
}

impl Ledger {
    /// One order; those of customers who are not members, or outside the period, are ignored.
    pub fn add_order(&mut self, customer: Key, ts: i64, amount: f64) {
        if !self.period.contains(ts) {
            return;
        }
        if let Some(id) = self.members.customers.find(customer) {
            let bought = &mut self.purchases[id as usize];
            bought.orders += 1;
            bought.revenue.add(amount);
        }
    }

    /// One cost row of a segment. A segment no member has is remembered for a notice.
    pub fn add_cost(&mut self, segment: Key, cost: f64) -> Result<()> {
        let name = || match segment {
            Key::Integer(value) => value.to_string(),
            Key::Text(text) => text.to_string(),
        };
        if cost < 0.0 {
            return Err(Error::invalid_parameter(format!(
                "costs: segment '{}' has a negative cost ({cost})",
                name()
            ))
            .with_hint("costs are amounts spent, zero or more"));
        }
        match self.members.segments.find(segment) {
            Some(id) => self.costs[id as usize].get_or_insert_with(ExactSum::default).add(cost),
            None => {
                if !self.unknown_cost_segments.contains(&name()) {
                    self.unknown_cost_segments.push(name());
                }
            }
        }
        Ok(())
    }

    /// Segments named in costs that no member has, in the order first seen.
    pub fn unknown_cost_segments(&self) -> &[String] {
        &self.unknown_cost_segments
    }

    /// One row per segment, ordered numerically when every segment is an integer, by
    /// text (byte order) otherwise.
    pub fn finish(self, confidence: Confidence, interrupt: &mut dyn FnMut()) -> Vec<SegmentRoi> {
        let Ledger { members, purchases, costs, .. } = self;
        let segment_count = members.segments.len();
        let mut groups = vec![[GroupTotals::default(); 2]; segment_count];
        // revenue summed exactly: members come in the order their keys first arrived
        let mut revenue = vec![[ExactSum::default(), ExactSum::default()]; segment_count];
        for membership in &members.memberships {
            let (segment, group) = (membership.segment as usize, usize::from(membership.control));
            let bought = &purchases[membership.customer as usize];
            groups[segment][group].add_customer(bought);
            revenue[segment][group].add_sum(&bought.revenue);
        }
        for (totals, sums) in groups.iter_mut().zip(&revenue) {
            totals[0].revenue = sums[0].value();
            totals[1].revenue = sums[1].value();
        }
        let (names, new_ids) = members.segments.into_sorted(interrupt);
        let mut order: Vec<u32> = (0..segment_count as u32).collect();
        let numeric = !members.text_segments;
        order.sort_by(|&a, &b| {
            let (a, b) = (&names[new_ids[a as usize] as usize], &names[new_ids[b as usize] as usize]);
            match numeric {
                true => a.parse::<i64>().ok().cmp(&b.parse::<i64>().ok()),
                false => a.cmp(b),
            }
        });
        order
            .into_iter()
            .map(|id| {
                let [treated, control] = groups[id as usize];
                let name = names[new_ids[id as usize] as usize].clone();
                let cost = costs[id as usize].as_ref().map(ExactSum::value);
                SegmentRoi::compute(name, treated, control, cost, confidence)
            })
            .collect()
    }
}

/// Spend of each channel over a range of days [first, end), in timestamptz microseconds.
pub struct ChannelSpend {
    first: i64,
    end: i64,
    totals: FxHashMap<String, ExactSum>,
}

impl ChannelSpend {
    pub fn new(first: i64, end: i64) -> Self {
        ChannelSpend { first, end, totals: FxHashMap::default() }
    }

    /// One spend row; days outside the range are ignored.
    pub fn add(&mut self, channel: &str, day: i64, cost: f64) -> Result<()> {
        if cost < 0.0 {
            return Err(Error::invalid_parameter(format!(
                "spend: channel '{channel}' has a negative cost ({cost})"
            ))
            .with_hint("spend rows are amounts spent, zero or more"));
        }
        if self.first <= day && day < self.end {
            self.totals.entry(channel.to_string()).or_default().add(cost);
        } else {
            self.totals.entry(channel.to_string()).or_default();
        }
        Ok(())
    }
}

/// One channel's attributed conversions and value under one model; channel None holds the
/// unattributed conversions.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelCredit {
    pub channel: Option<String>,
    pub conversions: f64,
    pub value: f64,
}

/// One row of channel_roi.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRoi {
    pub model: String,
    pub channel: Option<String>,
    pub conversions: f64,
    pub value: f64,
    pub spend: Option<f64>,
    pub cpa: Option<f64>,
    pub roas: Option<f64>,
}

/// Joins one model's credits with the spend: every credited channel, then every channel
/// with spend rows but no credit (0 conversions), by name, and the unattributed row (no
/// spend) last. A channel without spend rows has spend 0.
pub fn channel_roi(model: &str, credits: Vec<ChannelCredit>, spend: &ChannelSpend) -> Vec<ChannelRoi> {
    let mut credits = credits;
    for channel in spend.totals.keys() {
        if !credits.iter().any(|c| c.channel.as_deref() == Some(channel)) {
            credits.push(ChannelCredit { channel: Some(channel.clone()), conversions: 0.0, value: 0.0 });
        }
    }
    // None sorts first in an Option: put the unattributed row last instead.
    credits.sort_by(|a, b| (a.channel.is_none(), &a.channel).cmp(&(b.channel.is_none(), &b.channel)));
    credits
        .into_iter()
        .map(|credit| {
            let spend =
                credit.channel.as_ref().map(|channel| spend.totals.get(channel).map_or(0.0, ExactSum::value));
            ChannelRoi {
                model: model.to_string(),
                cpa: spend.and_then(|s| ratio(s, credit.conversions)),
                roas: spend.and_then(|s| ratio(credit.value, s)),
                spend,
                channel: credit.channel,
                conversions: credit.conversions,
                value: credit.value,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn one_segment_by_hand() {
        // Treated: 100 customers, 30 converters, 45 orders, revenue 2,250; cost 900.
        // Control: 100 customers, 20 converters, revenue 1,000.
        //   conversion_rate 0.30, AOV 2250/45 = 50, revenue per customer 22.5,
        //   CAC 900/30 = 30, ROI (2250 - 900)/900 = 1.5, ROAS 2.5,
        //   lift 0.30/0.20 - 1 = 0.5, Katz bounds (stats.rs) 0.9159608 - 1 and 2.4564369 - 1,
        //   p 0.1024704 (stats.rs), incremental revenue (22.5 - 10) x 100 = 1,250.
        let row = SegmentRoi::compute(
            "vip".into(),
            GroupTotals { customers: 100, converters: 30, orders: 45, revenue: 2250.0 },
            GroupTotals { customers: 100, converters: 20, orders: 25, revenue: 1000.0 },
            Some(900.0),
            Confidence::new(0.95).unwrap(),
        );
        assert!(close(row.conversion_rate, 0.30));
        assert!(close(row.avg_order_value, 50.0));
        assert!(close(row.revenue_per_customer, 22.5));
        assert!(close(row.cac, 30.0));
        assert!(close(row.roi, 1.5));
        assert!(close(row.roas, 2.5));
        assert!(close(row.control_conversion_rate, 0.20));
        assert!(close(row.control_revenue_per_customer, 10.0));
        assert!(close(row.lift, 0.5));
        assert!((row.lift_ci_low.unwrap() - (0.9159608 - 1.0)).abs() < 1e-6);
        assert!((row.lift_ci_high.unwrap() - (2.4564369 - 1.0)).abs() < 1e-6);
        assert!((row.p_value.unwrap() - 0.1024704).abs() < 1e-6);
        assert!(close(row.incremental_revenue, 1250.0));
    }

    #[test]
    fn divisions_by_zero_are_none() {
        // no cost rows, no control, no orders
        let row = SegmentRoi::compute(
            "new".into(),
            GroupTotals { customers: 10, converters: 0, orders: 0, revenue: 0.0 },
            GroupTotals::default(),
            None,
            Confidence::new(0.95).unwrap(),
        );
        assert_eq!(row.conversion_rate, Some(0.0));
        for ratio in [
            row.avg_order_value,
            row.cost,
            row.cac,
            row.roi,
            row.roas,
            row.control_conversion_rate,
            row.control_revenue_per_customer,
            row.lift,
            row.lift_ci_low,
            row.lift_ci_high,
            row.p_value,
            row.incremental_revenue,
        ] {
            assert_eq!(ratio, None);
        }
        // a cost of 0 and control converters 0: roi, roas, lift have nothing to divide by
        let row = SegmentRoi::compute(
            "free".into(),
            GroupTotals { customers: 10, converters: 2, orders: 2, revenue: 50.0 },
            GroupTotals { customers: 5, converters: 0, orders: 0, revenue: 0.0 },
            Some(0.0),
            Confidence::new(0.95).unwrap(),
        );
        assert_eq!(
            (row.cac, row.roi, row.roas, row.lift, row.lift_ci_low),
            (Some(0.0), None, None, None, None)
        );
        // the z-test still runs: 2/10 vs 0/5, pooled 2/15
        assert!(row.p_value.is_some());
        assert!(close(row.incremental_revenue, 50.0));
    }

    fn ledger(members: &[(i64, &str, bool)], period: Period) -> Ledger {
        let mut builder = Members::default();
        for &(customer, segment, control) in members {
            builder.add_member(Key::Integer(customer), Key::Text(segment), control);
        }
        builder.into_ledger(period).unwrap()
    }

    #[test]
    fn members_orders_and_costs_add_up_by_hand() {
        // a: customers 1, 2 treated, 3 control; b: customer 2 treated (in both segments), 4 control.
        // Orders in the period [10 days, 20 days): 1 buys 10 + 20, 2 buys 5, 4 buys 7;
        // customer 9 is no member; the order at day 20 is outside.
        let mut ledger = ledger(
            &[
                (1, "a", false),
                (2, "a", false),
                (3, "a", true),
                (2, "b", false),
                (4, "b", true),
                (2, "b", false),
            ],
            Period::new(Some(10 * DAY), Some(20 * DAY)).unwrap(),
        );
        for (customer, day, amount) in
            [(1, 10, 10.0), (1, 19, 20.0), (2, 12, 5.0), (4, 15, 7.0), (9, 15, 100.0), (3, 20, 8.0)]
        {
            ledger.add_order(Key::Integer(customer), day * DAY, amount);
        }
        ledger.add_cost(Key::Text("a"), 6.0).unwrap();
        ledger.add_cost(Key::Text("a"), 4.0).unwrap();
        ledger.add_cost(Key::Text("zzz"), 1.0).unwrap();
        assert_eq!(ledger.unknown_cost_segments(), ["zzz"]);
        assert!(ledger.add_cost(Key::Text("a"), -1.0).is_err());
        let rows = ledger.finish(Confidence::new(0.95).unwrap(), &mut || ());
        assert_eq!(rows.iter().map(|r| r.segment.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        // a: treated 1 and 2 (2 converters, 3 orders, 35), control 3 (no order in the period)
        let a = &rows[0];
        assert_eq!((a.customers, a.converters, a.orders, a.revenue), (2, 2, 3, 35.0));
        assert_eq!((a.cost, a.cac, a.roas), (Some(10.0), Some(5.0), Some(3.5)));
        assert_eq!((a.control_customers, a.control_conversion_rate), (1, Some(0.0)));
        // b: the repeated membership of 2 counts once; control 4 bought 7
        let b = &rows[1];
        assert_eq!((b.customers, b.converters, b.orders, b.revenue, b.cost), (1, 1, 1, 5.0, None));
        assert_eq!((b.control_customers, b.control_revenue_per_customer), (1, Some(7.0)));
        assert_eq!(b.incremental_revenue, Some(-2.0));
    }

    #[test]
    fn treated_and_control_at_once_is_an_error() {
        let mut builder = Members::default();
        builder.add_member(Key::Integer(5), Key::Text("a"), false);
        builder.add_member(Key::Integer(5), Key::Text("a"), true);
        let error = builder.into_ledger(Period::new(None, None).unwrap()).err().unwrap();
        assert!(
            error.message.contains("customer '5' is both treated and control in segment 'a'"),
            "{}",
            error.message
        );
    }

    #[test]
    fn integer_segments_sort_numerically() {
        let mut builder = Members::default();
        for segment in [10, 2, 1] {
            builder.add_member(Key::Integer(segment), Key::Integer(segment), false);
        }
        let rows = builder
            .into_ledger(Period::new(None, None).unwrap())
            .unwrap()
            .finish(Confidence::new(0.9).unwrap(), &mut || ());
        assert_eq!(rows.iter().map(|r| r.segment.as_str()).collect::<Vec<_>>(), ["1", "2", "10"]);
    }

    #[test]
    fn periods_are_half_open_and_checked() {
        let period = Period::new(Some(0), Some(DAY)).unwrap();
        assert!(period.contains(0) && !period.contains(DAY) && !period.contains(-1));
        assert!(Period::new(None, Some(5)).unwrap().contains(i64::MIN + 1));
        assert!(Period::new(Some(DAY), Some(DAY)).is_err());
    }

    #[test]
    fn channel_roi_joins_spend_by_hand() {
        // Spend over days [1, 3): display 10 + 5 (day 3 is outside), search 20, tv 30 (no credit).
        let mut spend = ChannelSpend::new(DAY, 3 * DAY);
        for (channel, day, cost) in [
            ("display", 1, 10.0),
            ("display", 2, 5.0),
            ("display", 3, 99.0),
            ("search", 2, 20.0),
            ("tv", 1, 30.0),
        ] {
            spend.add(channel, day * DAY, cost).unwrap();
        }
        assert!(spend.add("display", DAY, -1.0).is_err());
        let credits = vec![
            ChannelCredit { channel: Some("search".into()), conversions: 4.0, value: 100.0 },
            ChannelCredit { channel: Some("display".into()), conversions: 1.5, value: 30.0 },
            ChannelCredit { channel: Some("email".into()), conversions: 2.0, value: 40.0 },
            ChannelCredit { channel: None, conversions: 1.0, value: 9.0 },
        ];
        let rows = channel_roi("linear", credits, &spend);
        let summary: Vec<_> = rows.iter().map(|r| (r.channel.as_deref(), r.spend, r.cpa, r.roas)).collect();
        assert_eq!(
            summary,
            [
                (Some("display"), Some(15.0), Some(10.0), Some(2.0)),
                (Some("email"), Some(0.0), Some(0.0), None),
                (Some("search"), Some(20.0), Some(5.0), Some(5.0)),
                (Some("tv"), Some(30.0), None, Some(0.0)),
                (None, None, None, None),
            ]
        );
        assert!(rows.iter().all(|r| r.model == "linear"));
    }
}
