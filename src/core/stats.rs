//! Comparing a treated group's conversion rate with its control group's: the risk ratio's
//! confidence interval (Katz) and the pooled two-proportion z-test. The normal quantile and
//! erfc come from statrs.

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::erf::erfc;

use crate::core::error::{Error, Result};

/// `numerator / denominator`, or None where that is not a finite number (a zero or NULL
/// denominator): ratios reported to SQL are NULL there, never Infinity or NaN.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    let value = numerator / denominator;
    value.is_finite().then_some(value)
}

/// A two-sided confidence level in (0, 1), with its normal quantile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    pub level: f64,
    /// z at 1 - (1 - level) / 2: 1.959964 for 0.95.
    pub z: f64,
}

impl Confidence {
    pub fn new(level: f64) -> Result<Self> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::invalid_parameter(format!(
                "confidence must be between 0 and 1 (exclusive), not {level}"
            ))
            .with_hint("e.g. 0.95 for a 95% interval"));
        }
        let z = Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0);
        // a level within a rounding of 1 has no finite quantile in float8
        if !z.is_finite() {
            return Err(Error::invalid_parameter(format!("confidence {level} is too close to 1"))
                .with_hint("use at most 0.999999999"));
        }
        Ok(Confidence { level, z })
    }
}

/// Converters out of customers in one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    pub fn rate(self) -> Option<f64> {
        ratio(self.successes as f64, self.trials as f64)
    }
}

/// The Katz log interval of the risk ratio rate(treated) / rate(control):
/// exp(ln RR -+ z SE) with SE = sqrt(1/x_t - 1/n_t + 1/x_c - 1/n_c). None when either
/// group has no success (the log is undefined).
pub fn risk_ratio_interval(
    treated: Proportion,
    control: Proportion,
    confidence: Confidence,
) -> Option<(f64, f64)> {
    if treated.successes == 0 || control.successes == 0 {
        return None;
    }
    let ratio = treated.rate()? / control.rate()?;
    let inverse = |n: u64| 1.0 / n as f64;
    let se = (inverse(treated.successes) - inverse(treated.trials) + inverse(control.successes)
        - inverse(control.trials))
    .max(0.0)
    .sqrt();
    Some(((ratio.ln() - confidence.z * se).exp(), (ratio.ln() + confidence.z * se).exp()))
}

/// Two-sided p-value of the pooled two-proportion z-test of rate(treated) = rate(control):
/// z = (p_t - p_c) / sqrt(p (1 - p) (1/n_t + 1/n_c)), p the pooled rate, and
/// P(|Z| >= |z|) = erfc(|z| / sqrt 2). None when a group is empty or the pooled rate is 0 or 1.
pub fn two_proportion_p_value(treated: Proportion, control: Proportion) -> Option<f64> {
    if treated.trials == 0 || control.trials == 0 {
        return None;
    }
    let (n_t, n_c) = (treated.trials as f64, control.trials as f64);
    let pooled = (treated.successes + control.successes) as f64 / (n_t + n_c);
    if pooled <= 0.0 || pooled >= 1.0 {
        return None;
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c)).sqrt();
    let z = (treated.rate()? - control.rate()?) / se;
    Some(erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// A sum of floats kept exact as it grows and rounded once when read (Shewchuk's
/// algorithm, as Python's math.fsum): the same numbers in any order give the same sum, so
/// totals do not depend on the order rows arrive in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// Non-overlapping partial sums, smallest magnitude first; their exact sum is the total.
    partials: Vec<f64>,
}

impl ExactSum {
    pub fn add(&mut self, value: f64) {
        let mut x = value;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let high = x + y;
            let low = y - (high - x);
            if low != 0.0 {
                self.partials[kept] = low;
                kept += 1;
            }
            x = high;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// The partial sums whose exact sum is the total: what a serialized state stores.
    pub fn partials(&self) -> &[f64] {
        &self.partials
    }

    /// Adds another exact sum, exactly (its partials sum to its total).
    pub fn add_sum(&mut self, other: &ExactSum) {
        other.partials.iter().for_each(|&partial| self.add(partial));
    }

    /// The total, correctly rounded (math.fsum's final step, half-way cases included).
    pub fn value(&self) -> f64 {
        let Some((&last, rest)) = self.partials.split_last() else { return 0.0 };
        let mut high = last;
        let mut low = 0.0;
        let mut n = rest.len();
        while n > 0 {
            let x = high;
            n -= 1;
            let y = rest[n];
            high = x + y;
            low = y - (high - x);
            if low != 0.0 {
                break;
            }
        }
        if n > 0 && ((low < 0.0 && rest[n - 1] < 0.0) || (low > 0.0 && rest[n - 1] > 0.0)) {
            let y = low * 2.0;
            let x = high + y;
            if y == x - high {
                high = x;
            }
        }
        high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn normal_quantiles_are_the_table_values() {
        // Standard normal table: z(0.95) = 1.644854, z(0.975) = 1.959964, z(0.995) = 2.575829.
        assert!(close(Confidence::new(0.90).unwrap().z, 1.6448536269514722, 1e-12));
        assert!(close(Confidence::new(0.95).unwrap().z, 1.959963984540054, 1e-12));
        assert!(Confidence::new(0.9999999999999999).is_err(), "1 - 1e-16 rounds the quantile to infinity");
        assert!(Confidence::new(0.999999999).unwrap().z.is_finite());
    }

    #[test]
    fn exact_sums_match_fsum_in_any_order() {
        // Expected values from Python's math.fsum, an independent implementation.
        let sum = |values: &[f64]| {
            let mut total = ExactSum::default();
            values.iter().for_each(|&v| total.add(v));
            total.value()
        };
        assert_eq!(sum(&[0.1; 10]), 1.0, "a naive sum gives 0.9999999999999999");
        assert_eq!(sum(&[1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]), 1e-100);
        assert_eq!(sum(&[0.3, 0.2, 0.1, 1e16, -1e16, 1.0]), 1.6);
        assert_eq!(sum(&[]), 0.0);
        let values: Vec<f64> = (1..200).map(|i| (i as f64 * 0.37).sin() * 10f64.powi(i % 7)).collect();
        let mut reversed = values.clone();
        reversed.reverse();
        let mut rotated = values.clone();
        rotated.rotate_left(77);
        assert_eq!(sum(&values), sum(&reversed));
        assert_eq!(sum(&values), sum(&rotated));
        assert!(close(Confidence::new(0.99).unwrap().z, 2.5758293035489004, 1e-12));
        for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(Confidence::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn katz_interval_by_hand() {
        // 30 of 100 treated vs 20 of 100 control: RR = 1.5,
        // SE = sqrt(1/30 - 1/100 + 1/20 - 1/100) = sqrt(0.0633333) = 0.2516611,
        // bounds 1.5 exp(-+1.959964 x 0.2516611) = 1.5 x {0.6106406, 1.6376246}
        //      = 0.9159608 and 2.4564369 (checked with Python's statistics.NormalDist).
        let (low, high) = risk_ratio_interval(
            Proportion { successes: 30, trials: 100 },
            Proportion { successes: 20, trials: 100 },
            Confidence::new(0.95).unwrap(),
        )
        .unwrap();
        assert!(close(low, 0.9159608, 1e-6), "{low}");
        assert!(close(high, 2.4564369, 1e-6), "{high}");
        // no control converter: the log of the ratio is undefined
        assert_eq!(
            risk_ratio_interval(
                Proportion { successes: 3, trials: 10 },
                Proportion { successes: 0, trials: 10 },
                Confidence::new(0.95).unwrap()
            ),
            None
        );
    }

    #[test]
    fn z_test_by_hand() {
        // 30/100 vs 20/100: pooled 0.25, SE = sqrt(0.25 x 0.75 x 0.02) = 0.0612372,
        // z = 0.1 / 0.0612372 = 1.6329932, two-sided p = 2 (1 - Phi(1.6329932)) = 0.1024704
        // (Phi from Python's statistics.NormalDist).
        let p = two_proportion_p_value(
            Proportion { successes: 30, trials: 100 },
            Proportion { successes: 20, trials: 100 },
        )
        .unwrap();
        assert!(close(p, 0.1024704, 1e-6), "{p}");
        // equal rates: z = 0, p = 1
        let equal = two_proportion_p_value(
            Proportion { successes: 7, trials: 70 },
            Proportion { successes: 3, trials: 30 },
        )
        .unwrap();
        assert!(close(equal, 1.0, 1e-15));
        // pooled rate 0 or 1, or an empty group: no test
        let none = |x_t, n_t, x_c, n_c| {
            two_proportion_p_value(
                Proportion { successes: x_t, trials: n_t },
                Proportion { successes: x_c, trials: n_c },
            )
        };
        assert_eq!(none(0, 10, 0, 5), None);
        assert_eq!(none(10, 10, 5, 5), None);
        assert_eq!(none(1, 10, 0, 0), None);
    }

    #[test]
    fn ratios_of_zero_are_none() {
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(0.0, 0.0), None);
        assert_eq!(ratio(3.0, 4.0), Some(0.75));
    }
}
