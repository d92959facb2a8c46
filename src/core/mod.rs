//! The maths, free of Postgres: every module here is plain Rust, tested with `#[test]`.

pub mod attribution;
pub mod clustering;
pub mod clv;
pub mod decay;
pub mod error;
pub mod events;
pub mod hash;
pub mod interner;
pub mod journey;
pub mod mixture;
pub mod model_json;
pub mod options;
pub mod parallel;
#[cfg(test)]
mod parser_properties;
pub mod propensity;
pub mod rfm;
pub mod roi;
pub mod states;
pub mod stats;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// An interval as a duration in microseconds, the way EXTRACT(EPOCH FROM interval) reads it:
/// a year is 365.25 days, a remaining month 30 days, a day 24 hours. None when that does not
/// fit in 64 bits (about 292,000 years), which no timestamp difference can reach either.
pub fn interval_micros(months: i32, days: i32, micros: i64) -> Option<i64> {
    let years = i64::from(months / 12);
    let months = i64::from(months % 12);
    years
        .checked_mul(MICROS_PER_DAY * 1461 / 4)?
        .checked_add(months * 30 * MICROS_PER_DAY)?
        .checked_add(i64::from(days).checked_mul(MICROS_PER_DAY)?)?
        .checked_add(micros)
}

/// A duration argument (thresholds, half-lives) that must be positive; 22023 naming it.
pub fn positive_duration(micros: i64, argument: &str) -> crate::core::error::Result<i64> {
    if micros <= 0 {
        return Err(crate::core::error::Error::invalid_parameter(format!(
            "{argument} must be a positive interval"
        )));
    }
    Ok(micros)
}

/// `items` in key id order, each key's in `order`: a counting sort by key (linear, and
/// checking for interrupts, where one comparison sort of millions of rows would run for a
/// second without a check), then a sort of each key's few items.
pub fn by_key<T: Copy>(
    items: &[T],
    key: impl Fn(&T) -> u32,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
    interrupt: &mut dyn FnMut(),
) -> Vec<T> {
    let keys = items.iter().map(|item| key(item) as usize + 1).max().unwrap_or(0);
    let mut starts = vec![0usize; keys + 1];
    for item in items {
        starts[key(item) as usize + 1] += 1;
    }
    for c in 0..keys {
        starts[c + 1] += starts[c];
    }
    interrupt();
    let mut next = starts.clone();
    // every slot is written exactly once below; the copy only gives the vector its length
    let mut grouped = items.to_vec();
    for (i, item) in items.iter().enumerate() {
        if i % 65_536 == 0 {
            interrupt();
        }
        let slot = &mut next[key(item) as usize];
        grouped[*slot] = *item;
        *slot += 1;
    }
    let mut sorted = 0usize;
    for c in 0..keys {
        let run = &mut grouped[starts[c]..starts[c + 1]];
        // one key can hold most rows (a bot in an event table), so this sort checks too
        interner::sort_interruptibly(run, &order, interrupt);
        sorted += run.len();
        if sorted >= 65_536 {
            interrupt();
            sorted = 0;
        }
    }
    grouped
}

/// "a > b > c" -> ["a", "b", "c"]: split on `separator`, trim blanks, drop empty parts.
pub fn split_path<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    text.split(separator).map(str::trim).filter(|part| !part.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_extract_epoch_does() {
        // SELECT EXTRACT(EPOCH FROM interval '1 year 1 month 1 day 1 second') = 31557600 + 2592000 + 86400 + 1
        assert_eq!(
            interval_micros(13, 1, 1_000_000),
            Some((31_557_600 + 2_592_000 + 86_400 + 1) * 1_000_000)
        );
        assert_eq!(interval_micros(0, 30, 0), Some(30 * MICROS_PER_DAY));
        assert_eq!(interval_micros(-12, 0, 0), Some(-MICROS_PER_DAY * 1461 / 4));
    }

    #[test]
    fn intervals_beyond_64_bits_are_none() {
        // '178000000 years' = 2,136,000,000 months; 107,000,000 days * 86,400e6 us > 9.22e18
        assert_eq!(interval_micros(2_136_000_000, 0, 0), None);
        assert_eq!(interval_micros(0, 107_000_000, 0), None);
        assert_eq!(interval_micros(0, 0, i64::MAX), Some(i64::MAX));
        assert_eq!(interval_micros(0, 1, i64::MAX), None);
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(positive_duration(1, "half_life"), Ok(1));
        assert!(positive_duration(0, "half_life")
            .unwrap_err()
            .message
            .contains("half_life must be a positive"));
        assert!(positive_duration(-MICROS_PER_DAY, "x").is_err());
    }

    #[test]
    fn items_come_grouped_by_key_in_their_order() {
        let items = [(2u32, 5), (0, 9), (2, 1), (0, 3), (5, 7), (2, 3)];
        let grouped = by_key(&items, |i| i.0, |a, b| a.1.cmp(&b.1), &mut || {});
        assert_eq!(grouped, [(0, 3), (0, 9), (2, 1), (2, 3), (2, 5), (5, 7)]);
        assert!(by_key(&[] as &[(u32, i32)], |i| i.0, |a, b| a.1.cmp(&b.1), &mut || {}).is_empty());
    }

    #[test]
    fn paths_split_and_trim() {
        assert_eq!(split_path(" email > paid search>direct ", ">"), ["email", "paid search", "direct"]);
        assert_eq!(split_path("a >> b", ">"), ["a", "b"]);
        assert!(split_path("  ", ">").is_empty());
    }
}
