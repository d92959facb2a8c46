//! Exponentially decayed activity: each event weighs 2^(-(as_of - ts) / half_life).
//! Definitions: docs/states.md.

use super::stats::ExactSum;
use crate::core::error::{Error, Result};

/// The weight of an event `age` microseconds before as_of, for a half-life in
/// microseconds: 1 at age 0, 1/2 at one half-life, never negative.
pub fn weight(age: i64, half_life: i64) -> f64 {
    (-(age as f64) / half_life as f64).exp2()
}

/// Microseconds from `earlier` to `later` (not before it), in 128 bits and capped at
/// i64::MAX: the two ends of the timestamp range are 9.4e18 us apart, and at that age every
/// weight is 0 anyway.
pub fn age(earlier: i64, later: i64) -> i64 {
    (i128::from(later) - i128::from(earlier)).min(i128::from(i64::MAX)) as i64
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
        let w = weight(age(ts, as_of), half_life);
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

/// The state of the decayed_activity aggregate: the group's half-life and as_of (the same
/// for every row of a group) and its activity so far.
#[derive(Debug, Clone, PartialEq)]
pub struct DecayState {
    pub half_life: i64,
    pub as_of: i64,
    pub activity: DecayedActivity,
}

/// The first byte of a serialized state; another value is refused.
const STATE_VERSION: u8 = 1;

impl DecayState {
    pub fn merge(&mut self, other: &DecayState) -> Result<()> {
        self.check_parameters(other.half_life, other.as_of)?;
        self.activity.merge(&other.activity);
        Ok(())
    }

    pub fn check_parameters(&self, half_life: i64, as_of: i64) -> Result<()> {
        if self.half_life != half_life || self.as_of != as_of {
            return Err(Error::invalid_parameter(
                "decayed_activity: half_life and as_of must be the same for every row of a group",
            ));
        }
        Ok(())
    }

    /// The version byte, then half_life, as_of, last_ts (i64::MIN for none), and each exact
    /// sum as its count of partials and the partials (little-endian, 8 bytes each).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![STATE_VERSION];
        for word in [self.half_life, self.as_of, self.activity.last_ts.unwrap_or(i64::MIN)] {
            bytes.extend(word.to_le_bytes());
        }
        for sum in [&self.activity.count, &self.activity.amount] {
            bytes.extend((sum.partials().len() as u64).to_le_bytes());
            sum.partials().iter().for_each(|p| bytes.extend(p.to_le_bytes()));
        }
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DecayState> {
        let refuse =
            |what: &str| Error::invalid_parameter(format!("decayed_activity: a serialized state {what}"));
        if bytes.first() != Some(&STATE_VERSION) {
            return Err(refuse("is of another format version"));
        }
        let mut words = bytes[1..].chunks(8);
        let mut word = || -> Result<[u8; 8]> {
            words.next().and_then(|w| w.try_into().ok()).ok_or_else(|| refuse("is truncated"))
        };
        let half_life = i64::from_le_bytes(word()?);
        let as_of = i64::from_le_bytes(word()?);
        let last_ts = Some(i64::from_le_bytes(word()?)).filter(|&ts| ts != i64::MIN);
        let mut sums = [ExactSum::default(), ExactSum::default()];
        for sum in &mut sums {
            for _ in 0..u64::from_le_bytes(word()?) {
                let partial = f64::from_le_bytes(word()?);
                if !partial.is_finite() {
                    return Err(refuse("holds a number that is not finite"));
                }
                // adding the partials again keeps the sum's invariants whatever the bytes hold
                sum.add(partial);
            }
        }
        if half_life <= 0 || word().is_ok() {
            return Err(refuse("is malformed"));
        }
        let [count, amount] = sums;
        Ok(DecayState { half_life, as_of, activity: DecayedActivity { count, amount, last_ts } })
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
        // 4713 BC to 294276 AD (the ends of timestamptz, in microseconds from 2000) does not fit in 64 bits
        assert_eq!(age(-211_813_488_000_000_000, 9_223_371_331_200_000_000), i64::MAX);
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

    #[test]
    fn states_round_trip_and_other_versions_are_refused() {
        let mut activity = DecayedActivity::default();
        for (day, amount) in [(1, 0.1), (2, 1e16), (3, -1e16), (5, 3.0)] {
            activity.add(day * DAY, amount, 10 * DAY, 7 * DAY).unwrap();
        }
        let state = DecayState { half_life: 7 * DAY, as_of: 10 * DAY, activity };
        let bytes = state.to_bytes();
        // the partials are added again, so they may be split otherwise; their exact sum is kept
        let read = |s: &DecayState| {
            (s.half_life, s.as_of, s.activity.count.value(), s.activity.amount.value(), s.activity.last_ts)
        };
        assert_eq!(read(&DecayState::from_bytes(&bytes).unwrap()), read(&state));
        let empty = DecayState { half_life: DAY, as_of: 0, activity: DecayedActivity::default() };
        assert_eq!(DecayState::from_bytes(&empty.to_bytes()).unwrap(), empty);
        let mut other_version = bytes.clone();
        other_version[0] = 2;
        let e = DecayState::from_bytes(&other_version).unwrap_err();
        assert!(e.message.contains("another format version"), "{}", e.message);
        assert!(DecayState::from_bytes(&bytes[..bytes.len() - 3]).is_err(), "truncated");
        assert!(DecayState::from_bytes(&[bytes.as_slice(), &[0; 8]].concat()).is_err(), "trailing bytes");
        assert!(DecayState::from_bytes(&[]).is_err());
        let mut a = state.clone();
        assert!(a.merge(&empty).is_err(), "another half-life in one group");
    }
}
