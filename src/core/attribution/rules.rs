//! Rule-based attribution: how one conversion's credit is split over its path.

use crate::core::error::{Error, Result};
use crate::core::journey::{PathTouch, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub enum RuleModel {
    FirstTouch,
    LastTouch,
    /// The last touch whose channel is not excluded; all excluded: the last touch.
    LastNonDirect,
    /// Equal split among the touches at exactly the conversion's instant.
    SameTouch,
    Linear,
    /// Weight 2^(-(conversion_ts - touch_ts) / half_life), normalised.
    TimeDecay {
        half_life: i64,
    },
    /// first / middle / last weights: position_based 0.4/0.2/0.4, j_curve 0.2/0.2/0.6,
    /// inverse_j 0.6/0.2/0.2, custom as given.
    Positional {
        first: f64,
        middle: f64,
        last: f64,
    },
    /// Every distinct channel on the path gets 1.
    Participation,
}

impl RuleModel {
    pub const NAMES: &'static str = "first_touch, last_touch, last_non_direct, same_touch, linear, \
         time_decay, position_based (u_shaped), j_curve, inverse_j, custom, participation";

    /// `half_life` in microseconds; `weights` are {first, middle, last} for 'custom'.
    /// None: not a rule model's name.
    pub fn parse(name: &str, half_life: i64, weights: Option<&[f64]>) -> Result<Option<Self>> {
        if let Some(weights) = weights {
            check_weights(weights)?;
        }
        if half_life <= 0 {
            return Err(Error::invalid_parameter("half_life must be a positive interval"));
        }
        let positional = |first, middle, last| RuleModel::Positional { first, middle, last };
        let model = match name {
            "first_touch" => RuleModel::FirstTouch,
            "last_touch" => RuleModel::LastTouch,
            "last_non_direct" => RuleModel::LastNonDirect,
            "same_touch" => RuleModel::SameTouch,
            "linear" => RuleModel::Linear,
            "time_decay" => RuleModel::TimeDecay { half_life },
            "position_based" | "u_shaped" => positional(0.4, 0.2, 0.4),
            "j_curve" => positional(0.2, 0.2, 0.6),
            "inverse_j" => positional(0.6, 0.2, 0.2),
            "custom" => {
                let w = weights.ok_or_else(|| {
                    Error::invalid_parameter("model 'custom' needs weights => '{first, middle, last}'")
                })?;
                positional(w[0], w[1], w[2])
            }
            "participation" => RuleModel::Participation,
            _ => return Ok(None),
        };
        Ok(Some(model))
    }

    /// Models that look at touch times cannot run on paths given as channel lists.
    pub fn needs_timestamps(&self) -> bool {
        matches!(self, RuleModel::SameTouch | RuleModel::TimeDecay { .. })
    }

    /// Each touch's credit. Sums to 1 for a non-empty path, except: participation (1 per
    /// distinct channel) and same_touch without a touch at `conversion_ts` (all 0).
    /// `excluded[channel]` is read by last_non_direct only.
    pub fn credits(&self, path: &[PathTouch], conversion_ts: Timestamp, excluded: &[bool]) -> Vec<f64> {
        let n = path.len();
        let mut credit = vec![0.0; n];
        if n == 0 {
            return credit;
        }
        match *self {
            RuleModel::FirstTouch => credit[0] = 1.0,
            RuleModel::LastTouch => credit[n - 1] = 1.0,
            RuleModel::LastNonDirect => {
                let is_excluded = |t: &PathTouch| excluded.get(t.channel as usize).copied().unwrap_or(false);
                let last = path.iter().rposition(|t| !is_excluded(t)).unwrap_or(n - 1);
                credit[last] = 1.0;
            }
            RuleModel::SameTouch => {
                let at_conversion = path.iter().filter(|t| t.ts == conversion_ts).count();
                for (c, t) in credit.iter_mut().zip(path) {
                    if t.ts == conversion_ts {
                        *c = 1.0 / at_conversion as f64;
                    }
                }
            }
            RuleModel::Linear => credit.fill(1.0 / n as f64),
            RuleModel::TimeDecay { half_life } => {
                // relative to the latest touch, so the largest weight is 1 and nothing underflows to all-zero
                let latest = path.iter().map(|t| t.ts).max().unwrap_or(conversion_ts);
                for (c, t) in credit.iter_mut().zip(path) {
                    *c = (-((i128::from(latest) - i128::from(t.ts)) as f64) / half_life as f64).exp2();
                }
                let total: f64 = credit.iter().sum();
                credit.iter_mut().for_each(|c| *c /= total);
            }
            RuleModel::Positional { first, middle, last } => match n {
                1 => credit[0] = 1.0,
                2 if first + last == 0.0 => credit.fill(0.5),
                2 => {
                    credit[0] = first / (first + last);
                    credit[1] = last / (first + last);
                }
                _ => {
                    let total = first + middle + last;
                    credit[0] = first / total;
                    credit[n - 1] = last / total;
                    credit[1..n - 1].fill(middle / total / (n - 2) as f64);
                }
            },
            RuleModel::Participation => {
                // 1 per distinct channel, split equally over that channel's touches
                let mut touches_of = std::collections::HashMap::new();
                for t in path {
                    *touches_of.entry(t.channel).or_insert(0usize) += 1;
                }
                for (c, t) in credit.iter_mut().zip(path) {
                    *c = 1.0 / touches_of[&t.channel] as f64;
                }
            }
        }
        credit
    }
}

fn check_weights(weights: &[f64]) -> Result<()> {
    if weights.len() != 3 {
        return Err(Error::invalid_parameter(format!(
            "weights must have 3 elements {{first, middle, last}}, not {}",
            weights.len()
        )));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(Error::invalid_parameter("weights must be finite and not negative"));
    }
    if weights.iter().all(|w| *w == 0.0) {
        return Err(Error::invalid_parameter("weights must not all be zero"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;

    fn path(channels: &[u32]) -> Vec<PathTouch> {
        channels.iter().enumerate().map(|(i, &c)| PathTouch { ts: i as i64 * DAY, channel: c }).collect()
    }

    fn model(name: &str) -> RuleModel {
        RuleModel::parse(name, 7 * DAY, None).unwrap().unwrap()
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}");
        }
    }

    // Expected values below are the definitions in docs/attribution.md worked by hand.

    #[test]
    fn single_position_models() {
        let p = path(&[0, 1, 2]);
        assert_close(&model("first_touch").credits(&p, 2 * DAY, &[]), &[1.0, 0.0, 0.0]);
        assert_close(&model("last_touch").credits(&p, 2 * DAY, &[]), &[0.0, 0.0, 1.0]);
        assert_close(&model("linear").credits(&p, 2 * DAY, &[]), &[1.0 / 3.0; 3]);
    }

    #[test]
    fn last_non_direct_skips_excluded_channels() {
        let direct = [false, false, true];
        let m = model("last_non_direct");
        assert_close(&m.credits(&path(&[0, 1, 2]), 0, &direct), &[0.0, 1.0, 0.0]);
        assert_close(&m.credits(&path(&[2, 2]), 0, &direct), &[0.0, 1.0]);
    }

    #[test]
    fn same_touch_splits_among_touches_at_the_conversion_instant() {
        let p = vec![
            PathTouch { ts: DAY, channel: 0 },
            PathTouch { ts: 2 * DAY, channel: 1 },
            PathTouch { ts: 2 * DAY, channel: 2 },
        ];
        assert_close(&model("same_touch").credits(&p, 2 * DAY, &[]), &[0.0, 0.5, 0.5]);
        assert_close(&model("same_touch").credits(&p, 3 * DAY, &[]), &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn time_decay_halves_per_half_life() {
        // touches 14, 7 and 0 days before the conversion with a 7-day half-life:
        // weights 1/4, 1/2, 1 -> divided by 7/4: 1/7, 2/7, 4/7
        let p = vec![
            PathTouch { ts: 0, channel: 0 },
            PathTouch { ts: 7 * DAY, channel: 1 },
            PathTouch { ts: 14 * DAY, channel: 2 },
        ];
        assert_close(&model("time_decay").credits(&p, 14 * DAY, &[]), &[1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]);
        // a touch 1000 half-lives old does not underflow the others away
        let old = vec![PathTouch { ts: 0, channel: 0 }, PathTouch { ts: 7000 * DAY, channel: 1 }];
        assert_close(&model("time_decay").credits(&old, 7000 * DAY, &[]), &[0.0, 1.0]);
    }

    #[test]
    fn positional_models_for_one_two_and_more_touches() {
        for (name, two, four) in [
            ("position_based", [0.5, 0.5], [0.4, 0.1, 0.1, 0.4]),
            ("u_shaped", [0.5, 0.5], [0.4, 0.1, 0.1, 0.4]),
            ("j_curve", [0.25, 0.75], [0.2, 0.1, 0.1, 0.6]),
            ("inverse_j", [0.75, 0.25], [0.6, 0.1, 0.1, 0.2]),
        ] {
            let m = model(name);
            assert_close(&m.credits(&path(&[0]), 0, &[]), &[1.0]);
            assert_close(&m.credits(&path(&[0, 1]), 0, &[]), &two);
            assert_close(&m.credits(&path(&[0, 1, 2, 3]), 0, &[]), &four);
        }
        assert_close(&model("position_based").credits(&path(&[0, 1, 2]), 0, &[]), &[0.4, 0.2, 0.4]);
    }

    #[test]
    fn custom_weights_are_normalised() {
        let m = RuleModel::parse("custom", DAY, Some(&[2.0, 1.0, 1.0])).unwrap().unwrap();
        // n = 3: 2/4, 1/4, 1/4; n = 2: 2/3, 1/3; n = 5: 0.5, 0.25/3 x 3, 0.25
        assert_close(&m.credits(&path(&[0, 1, 2]), 0, &[]), &[0.5, 0.25, 0.25]);
        assert_close(&m.credits(&path(&[0, 1]), 0, &[]), &[2.0 / 3.0, 1.0 / 3.0]);
        assert_close(
            &m.credits(&path(&[0, 1, 2, 3, 4]), 0, &[]),
            &[0.5, 0.25 / 3.0, 0.25 / 3.0, 0.25 / 3.0, 0.25],
        );
        let middle_only = RuleModel::parse("custom", DAY, Some(&[0.0, 1.0, 0.0])).unwrap().unwrap();
        assert_close(&middle_only.credits(&path(&[0, 1]), 0, &[]), &[0.5, 0.5]);
    }

    #[test]
    fn participation_gives_each_distinct_channel_one() {
        let credits = model("participation").credits(&path(&[0, 1, 0, 2]), 0, &[]);
        assert_close(&credits, &[0.5, 1.0, 0.5, 1.0]);
    }

    #[test]
    fn credits_sum_to_one_for_every_model_and_length() {
        let excluded = [false, true];
        for name in [
            "first_touch",
            "last_touch",
            "last_non_direct",
            "linear",
            "time_decay",
            "position_based",
            "j_curve",
            "inverse_j",
        ] {
            for n in 1..=12 {
                let channels: Vec<u32> = (0..n).map(|i| (i * 7 % 3) as u32).collect();
                let sum: f64 =
                    model(name).credits(&path(&channels), (n as i64) * DAY, &excluded).iter().sum();
                assert!((sum - 1.0).abs() < 1e-12, "{name} n={n}: {sum}");
            }
        }
    }

    #[test]
    fn bad_parameters_are_rejected_with_reasons() {
        let message = |name: &str, half_life: i64, weights: Option<&[f64]>| {
            RuleModel::parse(name, half_life, weights).unwrap_err().message
        };
        assert_eq!(RuleModel::parse("markov", DAY, None), Ok(None));
        assert_eq!(message("linear", 0, None), "half_life must be a positive interval");
        assert_eq!(message("custom", DAY, None), "model 'custom' needs weights => '{first, middle, last}'");
        assert_eq!(
            message("custom", DAY, Some(&[1.0, 2.0])),
            "weights must have 3 elements {first, middle, last}, not 2"
        );
        assert_eq!(
            message("custom", DAY, Some(&[1.0, -2.0, 1.0])),
            "weights must be finite and not negative"
        );
        assert_eq!(message("custom", DAY, Some(&[0.0, 0.0, 0.0])), "weights must not all be zero");
    }
}
