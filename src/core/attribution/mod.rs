//! Attribution: credit per touch and per channel for each conversion's path.

pub mod rules;

use crate::core::journey::{
    shape_path, ChannelId, Conversion, Journeys, PathTouch, PathTransform, WindowOptions,
};
use rules::RuleModel;

/// How paths are shaped and credited, for raw tables and for given paths alike.
#[derive(Debug, Clone)]
pub struct Attribution {
    pub model: RuleModel,
    /// excluded[channel id]: removed from paths, or skipped by last_non_direct.
    pub excluded: Vec<bool>,
    pub transform: PathTransform,
}

impl Attribution {
    /// `excluded` by name, resolved against the channel names (ids are positions in `channels`).
    pub fn excluded_ids(channels: &[String], excluded: &[String]) -> Vec<bool> {
        channels.iter().map(|c| excluded.contains(c)).collect()
    }

    /// Shapes `path` in place and returns each remaining touch's credit. No credit at all
    /// (an empty path, or same_touch with no touch at the conversion) returns an empty vector:
    /// the conversion is unattributed.
    pub fn credit(&self, path: &mut Vec<PathTouch>, conversion_ts: i64) -> Vec<f64> {
        let removed: &[bool] = if self.model.excludes_by_itself() { &[] } else { &self.excluded };
        shape_path(path, removed, self.transform);
        let credits = self.model.credits(path, conversion_ts, &self.excluded);
        if credits.iter().all(|&c| c == 0.0) {
            Vec::new()
        } else {
            credits
        }
    }

    /// Calls `visit(conversion, shaped path, credits)` for every conversion, in id order;
    /// empty credits mean unattributed.
    pub fn for_each_conversion(
        &self,
        journeys: &Journeys,
        window: &WindowOptions,
        mut visit: impl FnMut(&Conversion, &[PathTouch], &[f64]),
    ) {
        let mut shaped = Vec::new();
        journeys.for_each_path(window, |conversion, path| {
            shaped.clear();
            shaped.extend_from_slice(path);
            let credits = self.credit(&mut shaped, conversion.ts);
            visit(conversion, &shaped, &credits);
        });
    }
}

/// One channel's totals; channel None collects unattributed conversions.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelTotal {
    pub channel: Option<ChannelId>,
    pub conversions: f64,
    pub value: f64,
    pub touches: u64,
}

/// Sums credits per channel. `add` takes one path with its conversion weight and value.
pub struct ChannelTotals {
    totals: Vec<ChannelTotal>,
    unattributed: ChannelTotal,
}

impl ChannelTotals {
    pub fn new(channel_count: usize) -> Self {
        let zero = |channel| ChannelTotal { channel, conversions: 0.0, value: 0.0, touches: 0 };
        ChannelTotals {
            totals: (0..channel_count as ChannelId).map(|c| zero(Some(c))).collect(),
            unattributed: zero(None),
        }
    }

    pub fn add(&mut self, path: &[PathTouch], credits: &[f64], conversions: f64, value: f64) {
        if credits.is_empty() {
            self.unattributed.conversions += conversions;
            self.unattributed.value += value;
            return;
        }
        for (touch, credit) in path.iter().zip(credits) {
            let total = &mut self.totals[touch.channel as usize];
            total.conversions += credit * conversions;
            total.value += credit * value;
            total.touches += 1;
        }
    }

    /// Channels in id (name) order, then the unattributed row if any conversion was.
    pub fn into_rows(self) -> Vec<ChannelTotal> {
        let mut rows = self.totals;
        if self.unattributed.conversions != 0.0 || self.unattributed.value != 0.0 {
            rows.push(self.unattributed);
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journey::JourneyBuilder;

    const DAY: i64 = 86_400_000_000;

    fn attribution(model: &str, excluded: Vec<bool>, transform: PathTransform) -> Attribution {
        Attribution { model: RuleModel::parse(model, 7 * DAY, None).unwrap(), excluded, transform }
    }

    #[test]
    fn totals_add_up_to_conversions_and_value() {
        // Worked by hand, linear: conversion 1 (value 30) path search, email, search -> search 2/3,
        // email 1/3; conversion 2 (value 10) path email -> email 1; conversion 3 (value 5) has no
        // path -> unattributed. Totals: email 4/3 conv, 10 + 10 = 20 value; search 2/3, 20.
        let mut b = JourneyBuilder::default();
        b.add_touch("a", DAY, "search");
        b.add_touch("a", 2 * DAY, "email");
        b.add_touch("a", 3 * DAY, "search");
        b.add_conversion("a", 4 * DAY, 30.0);
        b.add_touch("b", DAY, "email");
        b.add_conversion("b", 2 * DAY, 10.0);
        b.add_conversion("c", 2 * DAY, 5.0);
        let journeys = b.into_journeys();
        let window = WindowOptions { lookback: 30 * DAY, max_touches: None, reset_on_conversion: true };
        let a = attribution("linear", vec![], PathTransform::None);
        let mut totals = ChannelTotals::new(journeys.channels().len());
        a.for_each_conversion(&journeys, &window, |c, path, credits| totals.add(path, credits, 1.0, c.value));
        let rows = totals.into_rows();
        assert_eq!(journeys.channels(), ["email", "search"]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(rows[0].conversions, 4.0 / 3.0) && close(rows[0].value, 20.0) && rows[0].touches == 2);
        assert!(close(rows[1].conversions, 2.0 / 3.0) && close(rows[1].value, 20.0) && rows[1].touches == 2);
        assert_eq!(rows[2], ChannelTotal { channel: None, conversions: 1.0, value: 5.0, touches: 0 });
    }

    #[test]
    fn last_non_direct_sees_the_excluded_channels_that_other_models_drop() {
        let path = || vec![PathTouch { ts: 0, channel: 0 }, PathTouch { ts: 1, channel: 1 }];
        let direct = vec![false, true];
        let mut p = path();
        assert_eq!(
            attribution("last_non_direct", direct.clone(), PathTransform::None).credit(&mut p, 1),
            [1.0, 0.0]
        );
        assert_eq!(p.len(), 2);
        let mut p = path();
        assert_eq!(attribution("last_touch", direct, PathTransform::None).credit(&mut p, 1), [1.0]);
        assert_eq!(p, [PathTouch { ts: 0, channel: 0 }]);
    }

    #[test]
    fn same_touch_without_a_touch_at_the_conversion_is_unattributed() {
        let mut p = vec![PathTouch { ts: 0, channel: 0 }];
        assert!(attribution("same_touch", vec![], PathTransform::None).credit(&mut p, 5).is_empty());
    }
}
