//! Attribution: credit per touch and per channel for each conversion's path.
//!
//! Paths come from raw journeys (`WindowedJourneys`) or ready-made weighted paths
//! (`WeightedPaths`); both go through `Attribution::run`: shape each path (exclusions, path
//! transform, max_channels), let a data-driven model learn from all of them, then credit
//! each converting path.

pub mod markov;
pub mod rules;
pub mod shapley;

use rustc_hash::FxHashMap;

use crate::core::error::{Error, Result};
use crate::core::journey::{
    shape_path, ChannelId, Conversion, Journeys, PathTouch, PathTransform, WindowOptions,
};
use markov::{Chain, ChainBuilder, MarkovOptions, RemovalEffects};
use rules::RuleModel;
use shapley::Shapley;

#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    Rule(RuleModel),
    Markov(MarkovOptions),
    /// `seed` drives the permutation sampling of channel sets beyond shapley::EXACT_MAX_CHANNELS.
    Shapley {
        seed: u64,
    },
}

impl Model {
    /// `half_life` in microseconds; `weights` are {first, middle, last} for 'custom'.
    pub fn parse(
        name: &str,
        half_life: i64,
        weights: Option<&[f64]>,
        markov: MarkovOptions,
        seed: u64,
    ) -> Result<Self> {
        let rule = RuleModel::parse(name, half_life, weights)?;
        match (name, rule) {
            (_, Some(rule)) => Ok(Model::Rule(rule)),
            ("markov", None) => Ok(Model::Markov(markov)),
            ("shapley", None) => Ok(Model::Shapley { seed }),
            (other, None) => Err(Error::invalid_parameter(format!(
                "unknown model '{other}'; valid: {}, markov, shapley",
                RuleModel::NAMES
            ))),
        }
    }

    /// Data-driven models learn from every path, converting or not, before crediting.
    pub fn learns(&self) -> bool {
        !matches!(self, Model::Rule(_))
    }

    /// Models that look at touch times cannot run on paths given as channel lists.
    pub fn needs_timestamps(&self) -> bool {
        matches!(self, Model::Rule(rule) if rule.needs_timestamps())
    }

    /// exclude_channels' default: '{direct}' for last_non_direct, nothing otherwise.
    pub fn default_exclusions(&self) -> Vec<String> {
        match self {
            Model::Rule(RuleModel::LastNonDirect) => vec!["direct".to_string()],
            _ => Vec::new(),
        }
    }
}

/// How paths are shaped and credited, for raw tables and for given paths alike.
#[derive(Debug, Clone)]
pub struct Attribution {
    pub model: Model,
    /// excluded[channel id]: removed from paths, or skipped by last_non_direct.
    pub excluded: Vec<bool>,
    pub transform: PathTransform,
    /// Keep this many channels (those in most conversions) and map the rest to 'other'.
    pub max_channels: Option<usize>,
}

/// What one path weighs: raw conversions weigh (1, their value, 0), the touches after a
/// key's last conversion (0, 0, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathWeights {
    pub conversions: f64,
    pub value: f64,
    pub nulls: f64,
}

/// What `Paths::for_each_path` calls: (the raw conversion if any, the path, its weights).
pub type PathVisitor<'v> = dyn FnMut(Option<&Conversion>, &[PathTouch], PathWeights) + 'v;

/// A source of weighted paths.
pub trait Paths {
    fn channels(&self) -> &[String];
    /// Every path with its weights and, for raw data, its conversion.
    fn for_each_path(&self, visit: &mut PathVisitor);
}

/// The paths of raw journeys: one per conversion, in id order, then (if `unconverted`) one
/// per key of its touches after its last conversion.
pub struct WindowedJourneys<'a> {
    pub journeys: &'a Journeys,
    pub window: WindowOptions,
    pub unconverted: bool,
}

impl Paths for WindowedJourneys<'_> {
    fn channels(&self) -> &[String] {
        self.journeys.channels()
    }

    fn for_each_path(&self, visit: &mut PathVisitor) {
        self.journeys.for_each_path(&self.window, |conversion, path| {
            visit(
                Some(conversion),
                path,
                PathWeights { conversions: 1.0, value: conversion.value, nulls: 0.0 },
            )
        });
        if self.unconverted {
            self.journeys.for_each_unconverted_path(&self.window, |path| {
                visit(None, path, PathWeights { conversions: 0.0, value: 0.0, nulls: 1.0 })
            });
        }
    }
}

/// Paths given as channel lists with their weights (attribute_paths).
pub struct WeightedPaths {
    pub channels: Vec<String>,
    pub paths: Vec<(Vec<PathTouch>, PathWeights)>,
}

impl Paths for WeightedPaths {
    fn channels(&self) -> &[String] {
        &self.channels
    }

    fn for_each_path(&self, visit: &mut PathVisitor) {
        for (path, weights) in &self.paths {
            visit(None, path, *weights);
        }
    }
}

/// The outcome of `Attribution::run`: channel names after max_channels, and for Markov
/// the removal effects (per channel id in `channels`).
pub struct Run {
    pub channels: Vec<String>,
    pub removal_effects: Option<RemovalEffects>,
}

impl Attribution {
    /// `excluded` by name, resolved against the channel names (ids are positions in `channels`).
    pub fn excluded_ids(channels: &[String], excluded: &[String]) -> Vec<bool> {
        channels.iter().map(|c| excluded.contains(c)).collect()
    }

    fn shape(&self, path: &mut Vec<PathTouch>, merge: Option<&[ChannelId]>) {
        let removed: &[bool] =
            if matches!(self.model, Model::Rule(RuleModel::LastNonDirect)) { &[] } else { &self.excluded };
        shape_path(path, removed, self.transform);
        if let Some(merge) = merge {
            for touch in path.iter_mut() {
                touch.channel = merge[touch.channel as usize];
            }
        }
    }

    /// Shapes every path, lets a data-driven model learn from all of them, then calls
    /// `visit(conversion, shaped path, credits, weights)` for every path that carries a
    /// conversion or value; empty credits mean unattributed (an empty path, or same_touch
    /// with no touch at the conversion). `interrupt` is called between steps of long work.
    pub fn run(
        &self,
        paths: &dyn Paths,
        interrupt: &mut dyn FnMut(),
        mut visit: impl FnMut(Option<&Conversion>, &[PathTouch], &[f64], PathWeights),
    ) -> Result<Run> {
        let (channels, merge) = self.merged_channels(paths, interrupt);
        let merge = merge.as_deref();
        let mut crediter = match &self.model {
            Model::Rule(rule) => Crediter::Rule(rule),
            Model::Markov(options) => Crediter::Markov(
                self.learn_chain(paths, merge, *options, interrupt)?
                    .removal_effects(channels.len(), interrupt),
            ),
            Model::Shapley { seed } => {
                let mut shapley = Shapley::new(*seed);
                self.for_each_shaped_path(paths, merge, interrupt, |path, weights| {
                    shapley.add_journey(path.iter().map(|t| t.channel), weights.conversions, weights.nulls)
                });
                Crediter::Shapley(shapley)
            }
        };
        // last_non_direct reads exclusions by the ids after merging: a merged channel is
        // excluded when every channel in it is
        let excluded = match merge {
            None => self.excluded.clone(),
            Some(merge) => {
                let mut excluded = vec![true; channels.len()];
                for (old, &new) in merge.iter().enumerate() {
                    if !self.excluded.get(old).copied().unwrap_or(false) {
                        excluded[new as usize] = false;
                    }
                }
                excluded
            }
        };
        let mut shaped = Vec::new();
        paths.for_each_path(&mut |conversion, path, weights| {
            if conversion.is_none() && weights.conversions == 0.0 && weights.value == 0.0 {
                return;
            }
            // per path: a Shapley set of many channels takes milliseconds
            interrupt();
            shaped.clear();
            shaped.extend_from_slice(path);
            self.shape(&mut shaped, merge);
            let credits = crediter.credit(&shaped, conversion.map_or(0, |c| c.ts), &excluded);
            visit(conversion, &shaped, &credits, weights);
        });
        let removal_effects = match crediter {
            Crediter::Markov(effects) => Some(effects),
            _ => None,
        };
        Ok(Run { channels, removal_effects })
    }

    /// The Markov chain of every shaped path (markov_transition_matrix), with the channel
    /// names after max_channels.
    pub fn markov_chain(
        &self,
        paths: &dyn Paths,
        options: MarkovOptions,
        interrupt: &mut dyn FnMut(),
    ) -> Result<(Vec<String>, Chain)> {
        let (channels, merge) = self.merged_channels(paths, interrupt);
        Ok((channels, self.learn_chain(paths, merge.as_deref(), options, interrupt)?))
    }

    fn learn_chain(
        &self,
        paths: &dyn Paths,
        merge: Option<&[ChannelId]>,
        options: MarkovOptions,
        interrupt: &mut dyn FnMut(),
    ) -> Result<Chain> {
        let mut chain = ChainBuilder::new(options);
        let mut failure = Ok(());
        self.for_each_shaped_path(paths, merge, interrupt, |path, weights| {
            if failure.is_ok() {
                failure = chain.add_path(path.iter().map(|t| t.channel), weights.conversions, weights.nulls);
            }
        });
        failure.map(|_| chain.build())
    }

    fn for_each_shaped_path(
        &self,
        paths: &dyn Paths,
        merge: Option<&[ChannelId]>,
        interrupt: &mut dyn FnMut(),
        mut visit: impl FnMut(&[PathTouch], PathWeights),
    ) {
        let mut shaped = Vec::new();
        paths.for_each_path(&mut |_, path, weights| {
            interrupt();
            shaped.clear();
            shaped.extend_from_slice(path);
            self.shape(&mut shaped, merge);
            visit(&shaped, weights);
        });
    }

    /// With max_channels, the channels in most (weighted) conversions, ties by name, keep
    /// their names and the others become 'other'. Returns the names (sorted) and, if any
    /// changed, old id -> new id.
    fn merged_channels(
        &self,
        paths: &dyn Paths,
        interrupt: &mut dyn FnMut(),
    ) -> (Vec<String>, Option<Vec<ChannelId>>) {
        let names = paths.channels();
        let Some(keep) = self.max_channels else { return (names.to_vec(), None) };
        let mut conversions = vec![0.0; names.len()];
        let mut seen = Vec::new();
        self.for_each_shaped_path(paths, None, interrupt, |path, weights| {
            for &c in shapley::distinct_sorted(&mut seen, path.iter().map(|t| t.channel)) {
                conversions[c as usize] += weights.conversions;
            }
        });
        let mut by_conversions: Vec<usize> = (0..names.len()).collect();
        by_conversions.sort_by(|&a, &b| conversions[b].total_cmp(&conversions[a]).then(a.cmp(&b)));
        let kept: Vec<bool> = {
            let mut kept = vec![false; names.len()];
            by_conversions.iter().take(keep).for_each(|&c| kept[c] = true);
            kept
        };
        let merged_name = |c: usize| if kept[c] { names[c].as_str() } else { "other" };
        let mut new_names: Vec<String> = (0..names.len()).map(|c| merged_name(c).to_string()).collect();
        new_names.sort_unstable();
        new_names.dedup();
        let position: FxHashMap<&str, ChannelId> =
            new_names.iter().enumerate().map(|(i, n)| (n.as_str(), i as ChannelId)).collect();
        let map = (0..names.len()).map(|c| position[merged_name(c)]).collect();
        (new_names, Some(map))
    }
}

/// Credits one shaped path.
enum Crediter<'a> {
    Rule(&'a RuleModel),
    Markov(RemovalEffects),
    Shapley(Shapley),
}

impl Crediter<'_> {
    fn credit(&mut self, path: &[PathTouch], conversion_ts: i64, excluded: &[bool]) -> Vec<f64> {
        let credits = match self {
            Crediter::Rule(rule) => rule.credits(path, conversion_ts, excluded),
            Crediter::Markov(effects) => {
                split_by_channel(path, |c| effects.effects[c as usize].unwrap_or(0.0))
            }
            Crediter::Shapley(shapley) => {
                let mut set = Vec::new();
                shapley::distinct_sorted(&mut set, path.iter().map(|t| t.channel));
                let values = shapley.values(&set);
                split_by_channel(path, |c| values[set.binary_search(&c).expect("on the path")].max(0.0))
            }
        };
        if credits.iter().all(|&c| c == 0.0) {
            Vec::new()
        } else {
            credits
        }
    }
}

/// Splits a path's credit 1 over its distinct channels in proportion to `weight` (equally
/// when every weight is 0), and each channel's share equally over its touches.
fn split_by_channel(path: &[PathTouch], weight: impl Fn(ChannelId) -> f64) -> Vec<f64> {
    let mut channels: Vec<(ChannelId, usize)> = Vec::new();
    for touch in path {
        match channels.binary_search_by_key(&touch.channel, |c| c.0) {
            Ok(i) => channels[i].1 += 1,
            Err(i) => channels.insert(i, (touch.channel, 1)),
        }
    }
    let weights: Vec<f64> = channels.iter().map(|&(c, _)| weight(c)).collect();
    let total: f64 = weights.iter().sum();
    path.iter()
        .map(|touch| {
            let i = channels.binary_search_by_key(&touch.channel, |c| c.0).expect("counted above");
            let share = if total > 0.0 { weights[i] / total } else { 1.0 / channels.len() as f64 };
            share / channels[i].1 as f64
        })
        .collect()
}

/// One channel's totals; channel None collects unattributed conversions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelTotal {
    pub channel: Option<ChannelId>,
    pub conversions: f64,
    pub value: f64,
    pub touches: u64,
    pub removal_effect: Option<f64>,
}

/// Sums credits per channel id. `add` takes one path with its conversion weight and value;
/// a channel's row appears when a path credits it or when `into_rows` is told how many
/// channels there are.
#[derive(Default)]
pub struct ChannelTotals {
    totals: Vec<ChannelTotal>,
    unattributed: ChannelTotal,
}

impl ChannelTotals {
    fn cover(&mut self, channel_count: usize) {
        while self.totals.len() < channel_count {
            let channel = self.totals.len() as ChannelId;
            self.totals.push(ChannelTotal { channel: Some(channel), ..ChannelTotal::default() });
        }
    }

    pub fn add(&mut self, path: &[PathTouch], credits: &[f64], conversions: f64, value: f64) {
        if credits.is_empty() {
            self.unattributed.conversions += conversions;
            self.unattributed.value += value;
            return;
        }
        for (touch, credit) in path.iter().zip(credits) {
            self.cover(touch.channel as usize + 1);
            let total = &mut self.totals[touch.channel as usize];
            total.conversions += credit * conversions;
            total.value += credit * value;
            total.touches += 1;
        }
    }

    /// Markov channel totals: the attributed conversions and value shared by removal
    /// effect (conversions_c = total x RE_c / sum of RE), rather than summed path by path.
    pub fn share_by_removal_effects(&mut self, effects: &RemovalEffects) {
        self.cover(effects.effects.len());
        let conversions: f64 = self.totals.iter().map(|t| t.conversions).sum();
        let value: f64 = self.totals.iter().map(|t| t.value).sum();
        let sum: f64 = effects.effects.iter().flatten().sum();
        for (total, effect) in self.totals.iter_mut().zip(&effects.effects) {
            let share = match effect {
                Some(e) if sum > 0.0 => e / sum,
                _ => 0.0,
            };
            total.conversions = conversions * share;
            total.value = value * share;
            total.removal_effect = *effect;
        }
    }

    /// Every channel of `0..channel_count` in id (name) order, then the unattributed row if
    /// any conversion was.
    pub fn into_rows(mut self, channel_count: usize) -> Vec<ChannelTotal> {
        self.cover(channel_count);
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

    fn model(name: &str) -> Model {
        Model::parse(name, 7 * DAY, None, MarkovOptions::new(1, false).unwrap(), 0).unwrap()
    }

    fn attribution(name: &str, excluded: Vec<bool>) -> Attribution {
        Attribution { model: model(name), excluded, transform: PathTransform::None, max_channels: None }
    }

    fn given(channels: &[&str], paths: &[(&[ChannelId], f64, f64, f64)]) -> WeightedPaths {
        WeightedPaths {
            channels: channels.iter().map(|c| c.to_string()).collect(),
            paths: paths
                .iter()
                .map(|&(path, conversions, value, nulls)| {
                    let touches = path.iter().map(|&channel| PathTouch { ts: 0, channel }).collect();
                    (touches, PathWeights { conversions, value, nulls })
                })
                .collect(),
        }
    }

    /// (channel names after the run, removal effects, each credited path's channels and credits)
    type Credited = (Vec<String>, Option<RemovalEffects>, Vec<(Vec<ChannelId>, Vec<f64>)>);

    fn credited(a: &Attribution, paths: &dyn Paths) -> Credited {
        let mut out = Vec::new();
        let run = a
            .run(paths, &mut || {}, |_, path, credits, _| {
                out.push((path.iter().map(|t| t.channel).collect(), credits.to_vec()))
            })
            .unwrap();
        (run.channels, run.removal_effects, out)
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}");
        }
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
        let journeys = b.into_journeys(&mut || ());
        let window = WindowOptions { lookback: 30 * DAY, max_touches: None, reset_on_conversion: true };
        let paths = WindowedJourneys { journeys: &journeys, window, unconverted: false };
        let mut totals = ChannelTotals::default();
        attribution("linear", vec![])
            .run(&paths, &mut || {}, |_, path, credits, w| totals.add(path, credits, w.conversions, w.value))
            .unwrap();
        let rows = totals.into_rows(journeys.channels().len());
        assert_eq!(journeys.channels(), ["email", "search"]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(rows[0].conversions, 4.0 / 3.0) && close(rows[0].value, 20.0) && rows[0].touches == 2);
        assert!(close(rows[1].conversions, 2.0 / 3.0) && close(rows[1].value, 20.0) && rows[1].touches == 2);
        let unattributed =
            ChannelTotal { channel: None, conversions: 1.0, value: 5.0, touches: 0, removal_effect: None };
        assert_eq!(rows[2], unattributed);
    }

    #[test]
    fn last_non_direct_sees_the_excluded_channels_that_other_models_drop() {
        let paths = given(&["a", "direct"], &[(&[0, 1], 1.0, 1.0, 0.0)]);
        let direct = vec![false, true];
        let (_, _, out) = credited(&attribution("last_non_direct", direct.clone()), &paths);
        assert_eq!(out, [(vec![0, 1], vec![1.0, 0.0])]);
        let (_, _, out) = credited(&attribution("last_touch", direct), &paths);
        assert_eq!(out, [(vec![0], vec![1.0])]);
    }

    #[test]
    fn unknown_models_list_every_valid_name() {
        let e = Model::parse("shapely", DAY, None, MarkovOptions::new(1, false).unwrap(), 0).unwrap_err();
        assert!(e.message.starts_with("unknown model 'shapely'; valid: first_touch"), "{}", e.message);
        assert!(e.message.ends_with("participation, markov, shapley"), "{}", e.message);
    }

    #[test]
    fn markov_splits_each_path_by_removal_effect_then_by_touch() {
        // The chain is markov.rs's three_channels_by_hand (RE A 1/2, B 1, C 0). The last path has
        // neither conversions nor nulls, so the chain ignores it, but its value gets credited;
        // so does A>C's. (C alone carries nothing to credit and is not visited.)
        let paths = given(
            &["a", "b", "c"],
            &[
                (&[0, 1], 1.0, 0.0, 0.0),
                (&[0, 2], 0.0, 5.0, 1.0),
                (&[1], 1.0, 0.0, 0.0),
                (&[2], 0.0, 0.0, 1.0),
                (&[1, 0, 1], 0.0, 10.0, 0.0),
            ],
        );
        let (_, effects, out) = credited(&attribution("markov", vec![]), &paths);
        assert_close(
            &effects.unwrap().effects.iter().map(|e| e.unwrap()).collect::<Vec<_>>(),
            &[0.5, 1.0, 0.0],
        );
        // B>A>B: A gets 0.5 / 1.5 = 1/3, B 2/3 split over its two touches
        assert_eq!(out.len(), 4);
        assert_close(&out[3].1, &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        // A>C: C's effect is 0, so A takes everything
        assert_close(&out[1].1, &[1.0, 0.0]);
    }

    #[test]
    fn channel_totals_of_markov_share_total_conversions_by_removal_effect() {
        // RE A 1/2, B 1, C 0 as above; 2 conversions of value 30: A 2/3 (10), B 4/3 (20), C 0.
        let paths = given(
            &["a", "b", "c"],
            &[
                (&[0, 1], 1.0, 20.0, 0.0),
                (&[0, 2], 0.0, 0.0, 1.0),
                (&[1], 1.0, 10.0, 0.0),
                (&[2], 0.0, 0.0, 1.0),
            ],
        );
        let mut totals = ChannelTotals::default();
        let run = attribution("markov", vec![])
            .run(&paths, &mut || {}, |_, path, credits, w| totals.add(path, credits, w.conversions, w.value))
            .unwrap();
        totals.share_by_removal_effects(&run.removal_effects.unwrap());
        let rows = totals.into_rows(3);
        assert_close(&rows.iter().map(|r| r.conversions).collect::<Vec<_>>(), &[2.0 / 3.0, 4.0 / 3.0, 0.0]);
        assert_close(&rows.iter().map(|r| r.value).collect::<Vec<_>>(), &[10.0, 20.0, 0.0]);
        assert_eq!(
            rows.iter().map(|r| r.removal_effect).collect::<Vec<_>>(),
            [Some(0.5), Some(1.0), Some(0.0)]
        );
    }

    #[test]
    fn shapley_credits_positive_values_and_sums_to_each_conversion() {
        // Sets {a} 1 of 4 convert (v = 1/4), {a,b} 1 of 2 (v = 1/2), {b} never seen (v = 0).
        // On a>b>b: phi_a = 1/2 (1/4) + 1/2 (1/2 - 0) = 3/8, phi_b = 1/2 (0) + 1/2 (1/2 - 1/4) = 1/8;
        // shares 3/4 and 1/4, b's split over its two touches.
        let paths = given(&["a", "b"], &[(&[0], 1.0, 1.0, 3.0), (&[0, 1, 1], 1.0, 1.0, 1.0)]);
        let (_, effects, out) = credited(&attribution("shapley", vec![]), &paths);
        assert!(effects.is_none());
        assert_close(&out[1].1, &[0.75, 0.125, 0.125]);
    }

    #[test]
    fn max_channels_keeps_the_most_converting_and_merges_the_rest() {
        // conversions per channel: a 3, b 1, c 2, d 0; keeping 2 keeps a and c.
        let paths = given(
            &["a", "b", "c", "d"],
            &[(&[0, 1], 1.0, 0.0, 0.0), (&[0, 2], 2.0, 0.0, 0.0), (&[3], 0.0, 0.0, 5.0)],
        );
        let mut a = attribution("first_touch", vec![]);
        a.max_channels = Some(2);
        let (names, _, out) = credited(&a, &paths);
        assert_eq!(names, ["a", "c", "other"]);
        assert_eq!(out.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), [vec![0, 2], vec![0, 1]]);
        // last_non_direct skipping b (merged into 'other' with d, which is not skipped) and a
        // (kept): on a>other the last non-excluded touch is 'other'; with d skipped too, 'other'
        // is all-excluded and the last touch that is not is a
        let mut a = attribution("last_non_direct", vec![true, true, false, false]);
        a.max_channels = Some(2);
        assert_eq!(credited(&a, &paths).2[0], (vec![0, 2], vec![0.0, 1.0]));
        let mut a = attribution("last_non_direct", vec![false, true, false, true]);
        a.max_channels = Some(2);
        assert_eq!(credited(&a, &paths).2[0], (vec![0, 2], vec![1.0, 0.0]));
    }
}
