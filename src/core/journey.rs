//! Touchpoints and conversions become one path per conversion.
//!
//! A conversion's path is the touches of its journey key with
//! `conversion_ts - lookback < touch_ts <= conversion_ts`, ordered by time, ties by channel
//! name; with `reset_on_conversion` only touches after the key's previous conversion; then,
//! with `max_touches`, the most recent ones. Exclusions and path transforms (`shape_path`)
//! apply after that.

use super::interner::sort_interruptibly;
pub use super::interner::{Interner, Key};
use crate::core::error::{Error, Result};

/// Microseconds since 2000-01-01 00:00 UTC, as Postgres stores timestamptz.
pub type Timestamp = i64;

pub type ChannelId = u32;

#[derive(Debug, Clone, Copy, PartialEq)]
struct KeyedTouch {
    key: u32,
    ts: Timestamp,
    channel: ChannelId,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// 1..n in (journey key, ts, value) order.
    pub id: u64,
    pub key: u32,
    pub ts: Timestamp,
    pub value: f64,
}

/// One touch of a path. Paths given as channel lists (attribute_paths) have ts 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathTouch {
    pub ts: Timestamp,
    pub channel: ChannelId,
}

/// Collects raw rows; `into_journeys` sorts and indexes them.
#[derive(Default)]
pub struct JourneyBuilder {
    keys: Interner,
    channels: Interner,
    touches: Vec<KeyedTouch>,
    conversions: Vec<(u32, Timestamp, f64)>,
    /// Set by `keep_touches_near_conversions`.
    touch_filter: Option<TouchFilter>,
}

/// A key's id in a `JourneyBuilder`, from `touch_journey`.
#[derive(Debug, Clone, Copy)]
pub struct JourneyId(u32);

/// Per key id, the span in which its touches can be in a conversion's window:
/// (earliest conversion - lookback, latest conversion].
struct TouchFilter {
    spans: Vec<Option<(Timestamp, Timestamp)>>,
    /// When every key so far is an integer and they fill a compact range: id + 1 at
    /// (key - offset), 0 for none. Spares a hash lookup per touch, most of reading's cost
    /// when touches far outnumber converting keys.
    dense: Option<(i64, Vec<u32>)>,
}

impl TouchFilter {
    fn dense_ids(keys: &Interner) -> Option<(i64, Vec<u32>)> {
        if keys.has_text_keys() || keys.is_empty() {
            return None;
        }
        let (low, high) =
            keys.integer_ids().fold((i64::MAX, i64::MIN), |(l, h), (v, _)| (l.min(v), h.max(v)));
        let range = usize::try_from(high.checked_sub(low)?).ok()?.checked_add(1)?;
        if range > 8 * keys.len() + 1024 {
            return None;
        }
        let mut ids = vec![0; range];
        for (value, id) in keys.integer_ids() {
            ids[(value - low) as usize] = id + 1;
        }
        Some((low, ids))
    }

    /// The key's id if it may have touches in a window, with the span they must fall in.
    fn span(&self, keys: &Interner, key: Key) -> Option<(u32, (Timestamp, Timestamp))> {
        let id = match (key, &self.dense) {
            (Key::Integer(value), Some((low, ids))) => {
                let slot = *ids.get(usize::try_from(value.checked_sub(*low)?).ok()?)?;
                slot.checked_sub(1)?
            }
            _ => keys.find(key)?,
        };
        Some((id, self.spans[id as usize]?))
    }
}

impl JourneyBuilder {
    #[cfg(test)]
    pub fn add_touch<'k>(&mut self, key: impl Into<Key<'k>>, ts: Timestamp, channel: &str) {
        if let Some(journey) = self.touch_journey(key.into(), ts) {
            self.add_touch_to(journey, ts, channel);
        }
    }

    /// The journey a touch of `key` at `ts` joins, or None when it can be dropped (see
    /// `keep_touches_near_conversions`): a reader can then skip the touch's other columns.
    pub fn touch_journey(&mut self, key: Key, ts: Timestamp) -> Option<JourneyId> {
        let id = match &self.touch_filter {
            None => self.keys.key_id(key),
            Some(filter) => match filter.span(&self.keys, key) {
                Some((id, (after, until))) if after < ts && ts <= until => id,
                _ => return None,
            },
        };
        Some(JourneyId(id))
    }

    pub fn add_touch_to(&mut self, journey: JourneyId, ts: Timestamp, channel: &str) {
        self.touches.push(KeyedTouch { key: journey.0, ts, channel: self.channels.id(channel) });
    }

    /// From here on, drop touches that no conversion's window can hold: those of keys
    /// without a conversion, and those outside (earliest conversion - lookback, latest
    /// conversion] of their key. The rule models never look at them, and most touches of
    /// a large table are such. Call after every conversion has been added.
    pub fn keep_touches_near_conversions(&mut self, lookback: i64) {
        let mut spans: Vec<Option<(Timestamp, Timestamp)>> = vec![None; self.keys.len()];
        for &(key, ts, _) in &self.conversions {
            let span = spans[key as usize].get_or_insert((ts.saturating_sub(lookback), ts));
            span.0 = span.0.min(ts.saturating_sub(lookback));
            span.1 = span.1.max(ts);
        }
        self.touch_filter = Some(TouchFilter { spans, dense: TouchFilter::dense_ids(&self.keys) });
    }

    pub fn add_conversion<'k>(&mut self, key: impl Into<Key<'k>>, ts: Timestamp, value: f64) {
        let key = self.keys.key_id(key.into());
        self.conversions.push((key, ts, value));
    }

    pub fn into_journeys(self, interrupt: &mut dyn FnMut()) -> Journeys {
        let (keys, key_ids) = self.keys.into_sorted(interrupt);
        let (channels, channel_ids) = self.channels.into_sorted(interrupt);
        // touch_start[k]..touch_start[k + 1] are key k's touches: a counting sort by key,
        // then each key's few touches sorted by (ts, channel).
        let mut touch_start = vec![0usize; keys.len() + 1];
        for touch in &self.touches {
            touch_start[key_ids[touch.key as usize] as usize + 1] += 1;
        }
        for k in 0..keys.len() {
            touch_start[k + 1] += touch_start[k];
        }
        let mut next = touch_start.clone();
        let mut touches = vec![KeyedTouch { key: 0, ts: 0, channel: 0 }; self.touches.len()];
        for touch in self.touches {
            let key = key_ids[touch.key as usize];
            let slot = &mut next[key as usize];
            touches[*slot] = KeyedTouch { key, ts: touch.ts, channel: channel_ids[touch.channel as usize] };
            *slot += 1;
        }
        for k in 0..keys.len() {
            touches[touch_start[k]..touch_start[k + 1]].sort_unstable_by_key(|t| (t.ts, t.channel));
        }
        let mut conversions: Vec<(u32, Timestamp, f64)> =
            self.conversions.into_iter().map(|(key, ts, value)| (key_ids[key as usize], ts, value)).collect();
        sort_interruptibly(
            &mut conversions,
            |a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)),
            interrupt,
        );
        let conversions = conversions
            .into_iter()
            .enumerate()
            .map(|(i, (key, ts, value))| Conversion { id: i as u64 + 1, key, ts, value })
            .collect();
        Journeys { keys, channels, touches, touch_start, conversions }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowOptions {
    /// In microseconds; positive.
    pub lookback: i64,
    pub max_touches: Option<usize>,
    pub reset_on_conversion: bool,
}

pub struct Journeys {
    keys: Vec<String>,
    channels: Vec<String>,
    touches: Vec<KeyedTouch>,
    touch_start: Vec<usize>,
    conversions: Vec<Conversion>,
}

impl Journeys {
    pub fn key_name(&self, key: u32) -> &str {
        &self.keys[key as usize]
    }

    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    pub fn conversions(&self) -> &[Conversion] {
        &self.conversions
    }

    /// Calls `visit` with each conversion, in id order, and its windowed path.
    pub fn for_each_path(&self, window: &WindowOptions, mut visit: impl FnMut(&Conversion, &[PathTouch])) {
        let mut path = Vec::new();
        for (i, conversion) in self.conversions.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &self.conversions[p]).filter(|p| p.key == conversion.key);
            let mut after = conversion.ts.saturating_sub(window.lookback);
            if let (true, Some(previous)) = (window.reset_on_conversion, previous) {
                after = after.max(previous.ts);
            }
            let touches = &self.touches
                [self.touch_start[conversion.key as usize]..self.touch_start[conversion.key as usize + 1]];
            // touches are sorted by ts: the window is a contiguous run
            let first = touches.partition_point(|t| t.ts <= after);
            let end = touches.partition_point(|t| t.ts <= conversion.ts);
            let first = match window.max_touches {
                Some(n) if end.saturating_sub(first) > n => end - n,
                _ => first,
            };
            path.clear();
            path.extend(
                touches[first.min(end)..end].iter().map(|t| PathTouch { ts: t.ts, channel: t.channel }),
            );
            visit(conversion, &path);
        }
    }

    /// Calls `visit` with each key's non-converting path: its touches after its last
    /// conversion (all of them if it never converted), cut to the lookback counted back from
    /// the last of them, and to max_touches. Keys with no such touch are skipped.
    pub fn for_each_unconverted_path(&self, window: &WindowOptions, mut visit: impl FnMut(&[PathTouch])) {
        let mut path = Vec::new();
        let mut next_conversion = 0;
        for key in 0..self.keys.len() {
            let mut last_conversion = None;
            while let Some(c) = self.conversions.get(next_conversion).filter(|c| c.key as usize == key) {
                last_conversion = Some(c.ts);
                next_conversion += 1;
            }
            let touches = &self.touches[self.touch_start[key]..self.touch_start[key + 1]];
            let after = last_conversion.map_or(0, |ts| touches.partition_point(|t| t.ts <= ts));
            let tail = &touches[after..];
            let Some(latest) = tail.last() else { continue };
            let mut first = tail.partition_point(|t| t.ts <= latest.ts.saturating_sub(window.lookback));
            if let Some(n) = window.max_touches {
                first = first.max(tail.len().saturating_sub(n));
            }
            path.clear();
            path.extend(tail[first..].iter().map(|t| PathTouch { ts: t.ts, channel: t.channel }));
            visit(&path);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathTransform {
    None,
    /// Consecutive touches of one channel collapse into the first of the run.
    Exposure,
    /// Only the first touch of each channel is kept.
    Unique,
}

impl PathTransform {
    pub const NAMES: &'static str = "none, exposure, unique";

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(PathTransform::None),
            "exposure" => Ok(PathTransform::Exposure),
            "unique" => Ok(PathTransform::Unique),
            other => Err(Error::invalid_parameter(format!(
                "unknown path_transform '{other}'; valid: {}",
                Self::NAMES
            ))),
        }
    }
}

/// Removes the excluded channels (unless that would empty the path), then applies the transform.
pub fn shape_path(path: &mut Vec<PathTouch>, excluded: &[bool], transform: PathTransform) {
    let is_excluded = |t: &PathTouch| excluded.get(t.channel as usize).copied().unwrap_or(false);
    if path.iter().any(|t| !is_excluded(t)) {
        path.retain(|t| !is_excluded(t));
    }
    match transform {
        PathTransform::None => {}
        PathTransform::Exposure => path.dedup_by_key(|t| t.channel),
        PathTransform::Unique => {
            let mut seen = std::collections::HashSet::new();
            path.retain(|t| seen.insert(t.channel));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;

    fn window(days: i64, max_touches: Option<usize>, reset: bool) -> WindowOptions {
        WindowOptions { lookback: days * DAY, max_touches, reset_on_conversion: reset }
    }

    /// A conversion's id, key and path as (ts, channel name).
    type NamedPath = (u64, String, Vec<(i64, String)>);

    /// Every conversion's path.
    fn paths(journeys: &Journeys, window: &WindowOptions) -> Vec<NamedPath> {
        let mut out = Vec::new();
        journeys.for_each_path(window, |c, path| {
            let path = path.iter().map(|t| (t.ts, journeys.channels()[t.channel as usize].clone())).collect();
            out.push((c.id, journeys.key_name(c.key).to_string(), path));
        });
        out
    }

    fn two_conversions() -> Journeys {
        let mut b = JourneyBuilder::default();
        // key "b" is added first but sorts after "a"
        b.add_touch("b", 10 * DAY, "social");
        b.add_touch("a", DAY, "search");
        b.add_touch("a", 2 * DAY, "email");
        b.add_touch("a", 2 * DAY, "display"); // same instant: ordered by channel name
        b.add_touch("a", 5 * DAY, "direct");
        b.add_touch("a", 6 * DAY, "email");
        b.add_touch("a", 40 * DAY, "email");
        b.add_conversion("a", 5 * DAY, 10.0); // a touch at the same instant counts
        b.add_conversion("a", 7 * DAY, 20.0);
        b.add_conversion("b", 11 * DAY, 5.0);
        b.add_conversion("c", DAY, 1.0); // no touches at all
        b.into_journeys(&mut || ())
    }

    #[test]
    fn dropping_touches_outside_every_window_changes_no_path() {
        // Pseudo-random touches and conversions of 40 integer keys; touches of keys 30..40
        // never convert, and many touches are far from any conversion.
        let mut state = 12345u64;
        let mut next = |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let touches: Vec<(i64, i64, &str)> = (0..2000)
            .map(|_| (next(40) as i64, next(200) as i64 * DAY / 2, ["a", "b", "c", "d"][next(4) as usize]))
            .collect();
        let conversions: Vec<(i64, i64, f64)> =
            (0..60).map(|_| (next(30) as i64, next(200) as i64 * DAY / 2, next(100) as f64)).collect();
        for (window, text_keys) in [(window(30, None, true), true), (window(7, Some(3), false), false)] {
            let build = |filter: bool| {
                let mut b = JourneyBuilder::default();
                for &(key, ts, value) in &conversions {
                    b.add_conversion(Key::Integer(key), ts, value);
                }
                if filter {
                    b.keep_touches_near_conversions(window.lookback);
                }
                for (i, &(key, ts, channel)) in touches.iter().enumerate() {
                    // Every other touch comes with a text key in one round (the filter must
                    // find it too); all keys are integers in the other (the dense lookup).
                    let text = key.to_string();
                    let key = if i % 2 == 0 || !text_keys { Key::Integer(key) } else { Key::Text(&text) };
                    b.add_touch(key, ts, channel);
                }
                b.into_journeys(&mut || ())
            };
            let (all, kept) = (build(false), build(true));
            assert_eq!(paths(&all, &window), paths(&kept, &window));
            assert!(
                kept.touches.len() < all.touches.len() / 2,
                "{} of {}",
                kept.touches.len(),
                all.touches.len()
            );
        }
    }

    #[test]
    fn paths_follow_the_window_and_reset_rules() {
        let j = two_conversions();
        let s = |v: &[(i64, &str)]| v.iter().map(|(t, c)| (*t, c.to_string())).collect::<Vec<_>>();
        assert_eq!(
            paths(&j, &window(30, None, true)),
            vec![
                (
                    1,
                    "a".into(),
                    s(&[(DAY, "search"), (2 * DAY, "display"), (2 * DAY, "email"), (5 * DAY, "direct")])
                ),
                (2, "a".into(), s(&[(6 * DAY, "email")])),
                (3, "b".into(), s(&[(10 * DAY, "social")])),
                (4, "c".into(), vec![]),
            ]
        );
        // without reset the second conversion sees the first one's touches too
        assert_eq!(paths(&j, &window(30, None, false))[1].2.len(), 5);
        // lookback 5 days: 7d - 5d = 2d excludes touches at exactly 2d (the bound is strict)
        assert_eq!(paths(&j, &window(5, None, false))[1].2, s(&[(5 * DAY, "direct"), (6 * DAY, "email")]));
        // max_touches keeps the most recent
        assert_eq!(paths(&j, &window(30, Some(2), true))[0].2, s(&[(2 * DAY, "email"), (5 * DAY, "direct")]));
    }

    #[test]
    fn unconverted_paths_are_the_touches_after_the_last_conversion() {
        let j = two_conversions();
        let mut tails: Vec<Vec<(i64, String)>> = Vec::new();
        let mut collect = |window: &WindowOptions| {
            tails.clear();
            j.for_each_unconverted_path(window, |path| {
                tails.push(
                    path.iter().map(|t| (t.ts / DAY, j.channels()[t.channel as usize].clone())).collect(),
                )
            });
            tails.clone()
        };
        // "a" converted last at day 7: only its day-40 email is left; "b" and "c" have none after
        assert_eq!(collect(&window(30, None, true)), vec![vec![(40, "email".to_string())]]);
        let mut b = JourneyBuilder::default();
        for (day, channel) in [(1, "x"), (20, "y"), (25, "z"), (26, "x")] {
            b.add_touch("never", day * DAY, channel);
        }
        let j = b.into_journeys(&mut || ());
        let tails = |window: &WindowOptions| {
            let mut out = Vec::new();
            j.for_each_unconverted_path(window, |path| {
                out.push(path.iter().map(|t| t.ts / DAY).collect::<Vec<_>>())
            });
            out
        };
        // lookback counted back from the last touch (day 26): day 1 is 25 days before it
        assert_eq!(tails(&window(30, None, true)), vec![vec![1, 20, 25, 26]]);
        assert_eq!(tails(&window(10, None, true)), vec![vec![20, 25, 26]]);
        assert_eq!(tails(&window(30, Some(2), true)), vec![vec![25, 26]]);
    }

    #[test]
    fn shaping_excludes_then_transforms() {
        let t = |c: ChannelId| PathTouch { ts: 0, channel: c };
        let run = |channels: &[ChannelId], excluded: &[bool], transform| {
            let mut path: Vec<PathTouch> = channels.iter().map(|&c| t(c)).collect();
            shape_path(&mut path, excluded, transform);
            path.iter().map(|t| t.channel).collect::<Vec<_>>()
        };
        assert_eq!(run(&[0, 0, 1, 0, 1, 1], &[], PathTransform::None), [0, 0, 1, 0, 1, 1]);
        assert_eq!(run(&[0, 0, 1, 0, 1, 1], &[], PathTransform::Exposure), [0, 1, 0, 1]);
        assert_eq!(run(&[0, 0, 1, 0, 1, 1], &[], PathTransform::Unique), [0, 1]);
        assert_eq!(run(&[2, 0, 2, 1], &[false, false, true], PathTransform::None), [0, 1]);
        // excluding every touch would empty the path: it is kept as is
        assert_eq!(run(&[2, 2], &[false, false, true], PathTransform::Exposure), [2]);
    }

    #[test]
    fn unknown_transform_lists_the_valid_ones() {
        let e = PathTransform::parse("dedupe").unwrap_err();
        assert_eq!(e.message, "unknown path_transform 'dedupe'; valid: none, exposure, unique");
    }

    #[test]
    fn input_order_does_not_matter() {
        let rows = [("k2", 3, "x"), ("k1", 1, "y"), ("k1", 1, "x"), ("k2", 2, "y"), ("k1", 2, "z")];
        let build = |order: &[usize]| {
            let mut b = JourneyBuilder::default();
            for &i in order {
                let (k, ts, c) = rows[i];
                b.add_touch(k, ts * DAY, c);
            }
            b.add_conversion("k2", 4 * DAY, 1.0);
            b.add_conversion("k1", 3 * DAY, 2.0);
            paths(&b.into_journeys(&mut || ()), &window(30, None, true))
        };
        assert_eq!(build(&[0, 1, 2, 3, 4]), build(&[4, 3, 2, 1, 0]));
        assert_eq!(build(&[0, 1, 2, 3, 4]), build(&[2, 0, 4, 1, 3]));
    }
}
