//! Exponentially decayed activity: each event weighs 2^(-(as_of - ts) / half_life).
//! Definitions: docs/states.md.

use super::stats::ExactSum;
use crate::error::{Error, Result};

/// The weight of an event `age` microseconds before as_of, for a half-life in
/// microseconds: 1 at age 0, 1/2 at one half-life, never negative.
pub fn weight(age: i64, half_life: i64) -> f64 {
    (-(age as f64) / half_life as f64).exp2()
}

/// A half-life must be a positive duration.
pub fn check_half_life(half_life: i64, argument: &str) -> Result<i64> {
    if half_life <= 0 {
        return Err(Error::invalid_parameter(format!("{argument} must be a positive interval")));
    }
    Ok(half_life)
}

/// Decayed count and amount of one group's events up to as_of, and its latest event. The
/// sums are exact until read, so partial states combine to the same result in any order,
/// which parallel query and distributed plans need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecayedActivity {
    pub count: ExactSum,
    pub amount: ExactSum,
    pub last_ts: Option<i64>,
}

impl DecayedActivity {
    /// Counts an event at `ts` with `amount` (NULL counts 0, so the caller passes 0); events
    /// after `as_of` are not counted.
    pub fn add(&mut self, ts: i64, amount: f64, as_of: i64, half_life: i64) -> Result<()> {
        if ts > as_of {
            return Ok(());
        }
        if !amount.is_finite() {
            return Err(Error::invalid_parameter(format!(
                "decayed_activity: amount must be a finite number, not {amount}"
            )));
        }
        // in 128 bits: the two ends of the timestamp range are 9.4e18 us apart
        let age = (i128::from(as_of) - i128::from(ts)).min(i128::from(i64::MAX)) as i64;
        let w = weight(age, half_life);
        self.count.add(w);
        self.amount.add(w * amount);
        self.last_ts = self.last_ts.max(Some(ts));
        Ok(())
    }

    pub fn merge(&mut self, other: &DecayedActivity) {
        self.count.add_sum(&other.count);
        self.amount.add_sum(&other.amount);
        self.last_ts = self.last_ts.max(other.last_ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn weights_halve_every_half_life() {
        assert_eq!(weight(0, 30 * DAY), 1.0);
        assert_eq!(weight(30 * DAY, 30 * DAY), 0.5);
        assert_eq!(weight(90 * DAY, 30 * DAY), 0.125);
        assert_eq!(weight(i64::MAX, 1), 0.0, "underflows to 0, never NaN");
        assert!(check_half_life(0, "half_life").is_err());
        assert!(check_half_life(-DAY, "half_life").is_err());
    }

    #[test]
    fn activity_by_hand_and_in_any_split() {
        // as_of day 100, half-life 10 days: events at days 100, 90, 80 and 110 (after as_of)
        // with amounts 8, 4, NULL (0) and 1000: count 1 + 1/2 + 1/4 = 1.75, amount 8 + 2 = 10.
        let as_of = 100 * DAY;
        let events = [(100 * DAY, 8.0), (90 * DAY, 4.0), (80 * DAY, 0.0), (110 * DAY, 1000.0)];
        let mut whole = DecayedActivity::default();
        for &(ts, amount) in &events {
            whole.add(ts, amount, as_of, 10 * DAY).unwrap();
        }
        assert_eq!(whole.count.value(), 1.75);
        assert_eq!(whole.amount.value(), 10.0);
        assert_eq!(whole.last_ts, Some(100 * DAY), "the event after as_of is not counted");
        // two partial states, merged either way, give the same state's values
        let (mut a, mut b) = (DecayedActivity::default(), DecayedActivity::default());
        for (i, &(ts, amount)) in events.iter().enumerate() {
            let part = if i % 2 == 0 { &mut b } else { &mut a };
            part.add(ts, amount, as_of, 10 * DAY).unwrap();
        }
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        assert_eq!((ab.count.value(), ab.amount.value(), ab.last_ts), (1.75, 10.0, Some(100 * DAY)));
        assert_eq!((b.count.value(), b.amount.value(), b.last_ts), (1.75, 10.0, Some(100 * DAY)));
        assert!(whole.add(as_of, f64::NAN, as_of, DAY).is_err());
    }
}
