//! purchase_features: one row per customer of what their transactions before a cutoff say,
//! and whether they bought in the horizon after it: the training set of a repurchase
//! (label) or churn (NOT label) model, free of leakage because no feature reads a
//! transaction at or after the cutoff. Conventions as RFM's (docs/rfm.md).

use crate::core::rfm::{money, Merge, Summary};
use crate::core::MICROS_PER_DAY;

/// The days before the cutoff that purchases_last_90d and amount_last_90d count.
pub const RECENT_DAYS: i64 = 90;

/// Where a transaction falls: history before `as_of` (the last RECENT_DAYS of it also
/// recent), the label's horizon in [as_of, label_until), or past both (ignored). Times in
/// microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cutoff {
    pub as_of: i64,
    /// The end of the horizon; None: no label.
    pub label_until: Option<i64>,
}

/// One customer's transactions, summarised against a Cutoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Purchases {
    /// The transactions before as_of; None when all of them fall in the horizon.
    history: Option<Summary>,
    recent: u64,
    recent_amount: f64,
    bought_in_horizon: bool,
}

impl Merge for Purchases {
    fn merge(&mut self, other: &Purchases) {
        match (&mut self.history, other.history) {
            (Some(mine), Some(theirs)) => mine.merge(&theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
        self.recent += other.recent;
        self.recent_amount += other.recent_amount;
        self.bought_in_horizon |= other.bought_in_horizon;
    }
}

/// A customer's row of purchase_features; days are 86,400-second days.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub recency_days: f64,
    pub frequency: u64,
    pub monetary_mean: f64,
    pub monetary_total: f64,
    pub tenure_days: f64,
    /// (last - first) / (frequency - 1) days; None for a single transaction.
    pub mean_days_between: Option<f64>,
    pub purchases_last_90d: u64,
    pub amount_last_90d: f64,
    /// Whether the customer bought in the horizon; None without a horizon.
    pub label: Option<bool>,
}

impl Cutoff {
    /// The transaction as a summary; None when it falls past the horizon (or at or after
    /// as_of without one), where it says nothing.
    pub fn place(&self, ts: i64, amount: f64) -> Option<Purchases> {
        if ts < self.as_of {
            let recent = ts >= self.as_of.saturating_sub(RECENT_DAYS * MICROS_PER_DAY);
            Some(Purchases {
                history: Some(Summary::new(ts, amount)),
                recent: u64::from(recent),
                recent_amount: if recent { amount } else { 0.0 },
                bought_in_horizon: false,
            })
        } else if self.label_until.is_some_and(|until| ts < until) {
            Some(Purchases { history: None, recent: 0, recent_amount: 0.0, bought_in_horizon: true })
        } else {
            None
        }
    }

    /// The customer's features; None without a transaction before as_of (such a customer
    /// has no row).
    pub fn features(&self, purchases: &Purchases) -> Option<Features> {
        let history = purchases.history?;
        let days = |micros: i128| micros as f64 / MICROS_PER_DAY as f64;
        let span = i128::from(history.last_ts) - i128::from(history.first_ts);
        Some(Features {
            recency_days: history.recency_days(self.as_of),
            frequency: history.frequency,
            monetary_mean: history.mean(),
            monetary_total: history.total(),
            tenure_days: days(i128::from(self.as_of) - i128::from(history.first_ts)),
            mean_days_between: (history.frequency > 1).then(|| days(span) / (history.frequency - 1) as f64),
            purchases_last_90d: purchases.recent,
            amount_last_90d: money(purchases.recent_amount),
            label: self.label_until.map(|_| purchases.bought_in_horizon),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MICROS_PER_DAY;

    fn summarise(cutoff: &Cutoff, transactions: &[(i64, f64)]) -> Option<Features> {
        let mut all: Option<Purchases> = None;
        for &(day, amount) in transactions {
            if let Some(placed) = cutoff.place(day * DAY, amount) {
                match &mut all {
                    Some(all) => all.merge(&placed),
                    none => *none = Some(placed),
                }
            }
        }
        all.and_then(|all| cutoff.features(&all))
    }

    /// Worked by hand: purchases on days 0, 10 and 100 of 20, 30 and 50, cutoff day 120,
    /// horizon to day 150; one purchase in the horizon (day 130) and one after (day 200).
    #[test]
    fn a_hand_worked_customer() {
        let cutoff = Cutoff { as_of: 120 * DAY, label_until: Some(150 * DAY) };
        let features =
            summarise(&cutoff, &[(100, 50.0), (0, 20.0), (130, 999.0), (10, 30.0), (200, 7.0)]).unwrap();
        assert_eq!(
            features,
            Features {
                recency_days: 20.0,
                frequency: 3,
                // 100 / 3 to 12 significant digits, as RFM rounds amounts
                monetary_mean: 33.3333333333,
                monetary_total: 100.0,
                tenure_days: 120.0,
                mean_days_between: Some(50.0),
                // days 100 (within 90 days of day 120) only; day 10 is 110 days before
                purchases_last_90d: 1,
                amount_last_90d: 50.0,
                label: Some(true),
            }
        );
    }

    #[test]
    fn the_edges_of_the_windows() {
        // a purchase exactly 90 days before the cutoff is recent; one at the cutoff is in the
        // horizon, not history; one at the horizon's end is past it
        let cutoff = Cutoff { as_of: 100 * DAY, label_until: Some(130 * DAY) };
        let features = summarise(&cutoff, &[(10, 5.0), (100, 1.0)]).unwrap();
        assert_eq!((features.frequency, features.purchases_last_90d, features.label), (1, 1, Some(true)));
        assert_eq!(features.mean_days_between, None);
        let features = summarise(&cutoff, &[(9, 5.0), (130, 1.0)]).unwrap();
        assert_eq!(
            (features.purchases_last_90d, features.amount_last_90d, features.label),
            (0, 0.0, Some(false))
        );
        // no horizon: no label, and what follows the cutoff is ignored
        let unlabelled = Cutoff { as_of: 100 * DAY, label_until: None };
        assert_eq!(summarise(&unlabelled, &[(9, 5.0), (100, 1.0)]).unwrap().label, None);
        // bought only in the horizon: no row
        assert_eq!(summarise(&cutoff, &[(110, 5.0)]), None);
    }

    #[test]
    fn merging_in_any_order_gives_the_same_features() {
        let cutoff = Cutoff { as_of: 400 * DAY, label_until: Some(500 * DAY) };
        let transactions: Vec<(i64, f64)> = (0..50).map(|i| (i * 37 % 480, (i % 7) as f64 * 3.3)).collect();
        let forward = summarise(&cutoff, &transactions);
        let mut reversed = transactions.clone();
        reversed.reverse();
        assert_eq!(forward, summarise(&cutoff, &reversed));
        assert!(forward.is_some());
    }

    #[test]
    fn the_ends_of_the_timestamp_range_do_not_wrap() {
        let cutoff = Cutoff { as_of: i64::MIN + 5, label_until: None };
        assert_eq!(summarise(&cutoff, &[]), None);
        let first = Cutoff { as_of: i64::MAX, label_until: None };
        let features = first.features(&first.place(i64::MIN, 1.0).unwrap()).unwrap();
        assert!(features.tenure_days > 2e8 && features.recency_days == features.tenure_days);
    }
}
