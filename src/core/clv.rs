//! Customer lifetime value: BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers
//! the easy way") for the number of future purchases and Gamma-Gamma (Fader, Hardie and Lee
//! 2005, "RFM and CLV") for their value, fitted by maximum likelihood. The likelihoods,
//! closed forms and CLV sum follow the Python package lifetimes (0.11), so results compare.
//! Definitions: docs/clv.md.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use super::interner::sort_interruptibly;
use crate::core::error::{Error, ErrorKind};
use crate::core::model_json::ModelKind;

/// Fewer repeat customers than this: no Gamma-Gamma fit (its estimates would be noise).
pub const MIN_GAMMA_GAMMA_CUSTOMERS: usize = 10;

/// BG/NBD needs at least two customers and some repeat purchases.
pub fn check_bgnbd_data(customers: &[Customer]) -> Result<(), Error> {
    if customers.len() < 2 {
        return Err(Error::invalid_parameter(format!(
            "BG/NBD cannot be fitted on {} customer{}: it needs at least 2",
            customers.len(),
            if customers.len() == 1 { "" } else { "s" }
        )));
    }
    if customers.iter().all(|c| c.frequency == 0.0) {
        return Err(Error::invalid_parameter(
            "BG/NBD cannot be fitted: no customer bought again in a later time unit (all frequencies are 0)",
        )
        .with_hint("Use a longer observation period or a shorter time_unit."));
    }
    Ok(())
}

/// One customer in time units: repeat purchase periods, the period of the last purchase
/// and the end of observation, both counted from the first purchase, and the mean amount of
/// the repeat periods (0 without repeats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    pub frequency: f64,
    pub recency: f64,
    pub t: f64,
    pub monetary: f64,
}

/// Customers from their transactions as (customer id, period, amount), the way lifetimes'
/// summary_data_from_transaction_data counts them: several transactions in one period are
/// one purchase of their summed amount; t runs to the period `as_of`. Returns each
/// customer id with its summary, in id order.
pub fn customers_from_periods(
    mut rows: Vec<(u32, i64, f64)>,
    as_of: i64,
    interrupt: &mut dyn FnMut(),
) -> Vec<(u32, Customer)> {
    // amounts too, so that a period's sum does not depend on the rows' order
    sort_interruptibly(&mut rows, |x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)), interrupt);
    let mut customers = Vec::new();
    for group in rows.chunk_by(|x, y| x.0 == y.0) {
        let (id, first) = (group[0].0, group[0].1);
        let last = group[group.len() - 1].1;
        let periods = group.chunk_by(|x, y| x.1 == y.1);
        let repeats = periods.clone().count() - 1;
        let repeat_total: f64 = periods.skip(1).flatten().map(|row| row.2).sum();
        let customer = Customer {
            frequency: repeats as f64,
            // in 128 bits: periods of one microsecond span the whole i64 range
            recency: (i128::from(last) - i128::from(first)) as f64,
            t: (i128::from(as_of) - i128::from(first)) as f64,
            monetary: if repeats == 0 { 0.0 } else { repeat_total / repeats as f64 },
        };
        customers.push((id, customer));
    }
    customers
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// Distinct values and each item's index among them.
fn distinct(values: impl Iterator<Item = f64> + Clone) -> (Vec<f64>, Vec<u32>) {
    let mut sorted: Vec<f64> = values.clone().collect();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted.dedup();
    let index = values.map(|v| sorted.partition_point(|&s| s < v) as u32).collect();
    (sorted, index)
}

/// Customers as BG/NBD's likelihood reads them. Its terms depend on frequency, recency and
/// t separately, so each distinct value's terms are computed once per evaluation; customers
/// with the same triple are one row with a count.
#[derive(Debug, Clone)]
pub struct Grouped {
    frequencies: Vec<f64>,
    recencies: Vec<f64>,
    ts: Vec<f64>,
    /// Indexes into the three lists, and how many customers share them.
    rows: Vec<(u32, u32, u32, f64)>,
    pub customers: f64,
}

impl Grouped {
    pub fn new(customers: &[Customer]) -> Grouped {
        let (frequencies, x) = distinct(customers.iter().map(|c| c.frequency));
        let (recencies, recency) = distinct(customers.iter().map(|c| c.recency));
        let (ts, t) = distinct(customers.iter().map(|c| c.t));
        let mut counts: FxHashMap<(u32, u32, u32), f64> = FxHashMap::default();
        for i in 0..customers.len() {
            *counts.entry((x[i], recency[i], t[i])).or_insert(0.0) += 1.0;
        }
        let mut rows: Vec<(u32, u32, u32, f64)> =
            counts.into_iter().map(|((x, r, t), n)| (x, r, t, n)).collect();
        // A fixed order, so sums (and so fits) do not depend on hashing.
        rows.sort_unstable_by_key(|&(x, r, t, _)| (x, r, t));
        Grouped { frequencies, recencies, ts, rows, customers: customers.len() as f64 }
    }

    /// Every n-th row, for a quick first fit.
    fn every_nth(&self, n: usize) -> Grouped {
        let rows: Vec<(u32, u32, u32, f64)> = self.rows.iter().step_by(n.max(1)).copied().collect();
        let customers = rows.iter().map(|row| row.3).sum();
        Grouped {
            frequencies: self.frequencies.clone(),
            recencies: self.recencies.clone(),
            ts: self.ts.clone(),
            rows,
            customers,
        }
    }

    fn mean_t(&self) -> f64 {
        self.rows.iter().map(|&(_, _, t, n)| self.ts[t as usize] * n).sum::<f64>() / self.customers
    }
}

impl BgNbd {
    /// Mean log-likelihood per customer (lifetimes' BetaGeoFitter._negative_log_likelihood,
    /// negated, without the penalty).
    pub fn mean_log_likelihood(&self, data: &Grouped) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let common = ln_gamma(a + b) - ln_gamma(b) - ln_gamma(r) + r * alpha.ln();
        // Per frequency x: the terms without t and recency, the drop-out term (x > 0 only),
        // and r + x.
        let per_x: Vec<(f64, Option<f64>, f64)> = data
            .frequencies
            .iter()
            .map(|&x| {
                let base = common + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
                let dropout = (x > 0.0).then(|| a.ln() - (b + x - 1.0).ln());
                (base, dropout, r + x)
            })
            .collect();
        let ln_t: Vec<f64> = data.ts.iter().map(|t| (alpha + t).ln()).collect();
        let ln_recency: Vec<f64> = data.recencies.iter().map(|t| (alpha + t).ln()).collect();
        let mut total = 0.0;
        for &(x, recency, t, count) in &data.rows {
            let (base, dropout, r_x) = per_x[x as usize];
            let a3 = -r_x * ln_t[t as usize];
            let value = match dropout {
                Some(dropout) => {
                    let a4 = dropout - r_x * ln_recency[recency as usize];
                    let (high, low) = if a3 > a4 { (a3, a4) } else { (a4, a3) };
                    high + (low - high).exp().ln_1p()
                }
                None => a3,
            };
            total += count * (base + value);
        }
        total / data.customers
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, c: &Customer) -> f64 {
        if c.frequency == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let x = c.frequency;
        let log_div = (r + x) * ((alpha + c.t) / (alpha + c.recency)).ln() + (a / (b + x - 1.0)).ln();
        1.0 / (1.0 + log_div.exp())
    }

    /// E[purchases in the next `horizon` time units | x, t_x, T]. An error when the
    /// hypergeometric series does not converge (a horizon of very many time units) or the
    /// result is not a finite number.
    pub fn expected_purchases(&self, horizon: f64, c: &Customer) -> Result<f64, Error> {
        if horizon <= 0.0 {
            return Ok(0.0);
        }
        let BgNbd { r, alpha, a, b } = *self;
        let (x, t) = (c.frequency, c.t);
        let (ha, hb, hc) = (r + x, b + x, a + b + x - 1.0);
        let z = horizon / (alpha + t + horizon);
        let out_of_range = |why: &str| {
            Error::new(
                ErrorKind::OutOfRange,
                format!("expected purchases over {horizon} time units for frequency {x}, t {t}: {why}"),
            )
        };
        let ln_hyp = ln_hyp2f1(ha, hb, hc, z).ok_or_else(|| {
            out_of_range("the hypergeometric series does not converge there")
                .with_hint("use a shorter horizon or a longer time_unit")
        })?;
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - (ln_hyp + (r + x) * ((alpha + t) / (alpha + horizon + t)).ln()).exp();
        let denominator = if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((alpha + t) / (alpha + c.recency)).powf(r + x)
        } else {
            1.0
        };
        let expected = first * second / denominator;
        if expected.is_finite() {
            Ok(expected)
        } else {
            // e.g. a = 1, a pole of the closed form, which degenerate fits on a handful of customers reach
            Err(out_of_range(&format!(
                "not a finite number under this model (r {r}, alpha {alpha}, a {a}, b {b})"
            ))
            .with_hint("fit on more customers"))
        }
    }
}

/// Terms the hypergeometric series may take before it counts as not converging. At the
/// longest horizon customer_lifetime_value allows (1,200 months) z stays near 0.99 for
/// typical data, which takes a few thousand terms.
const HYP2F1_MAX_TERMS: usize = 100_000;

/// ln 2F1(a, b; c; z) for 0 <= z < 1, by its series; where the terms overflow, through
/// Euler's transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z),
/// as lifetimes does. Near z = 1, where the series needs more than HYP2F1_MAX_TERMS terms,
/// through the connection formula to 1 - z (`ln_hyp2f1_near_one`). None when none of them
/// gives a reliable value.
fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) {
        return None;
    }
    match hyp2f1_series(a, b, c, z) {
        Series::Converged(value) if value > 0.0 => Some(value.ln()),
        Series::Overflow => match hyp2f1_series(c - a, c - b, c, z) {
            Series::Converged(value) if value > 0.0 => Some(value.ln() + (c - a - b) * (1.0 - z).ln()),
            _ => ln_hyp2f1_near_one(a, b, c, z),
        },
        _ => ln_hyp2f1_near_one(a, b, c, z),
    }
}

/// ln 2F1(a, b; c; z) by the connection formula (Abramowitz and Stegun 15.3.6, DLMF 15.8.4)
/// with w = 1 - z:
/// 2F1(a, b; c; z) = G(c) G(c-a-b) / (G(c-a) G(c-b)) 2F1(a, b; a+b-c+1; w)
///                 + w^(c-a-b) G(c) G(a+b-c) / (G(a) G(b)) 2F1(c-a, c-b; c-a-b+1; w),
/// whose series in w converge fast near z = 1. It needs c - a - b away from an integer (the
/// gammas' poles); None there, where the two terms cancel, and where a series fails.
fn ln_hyp2f1_near_one(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let w = 1.0 - z;
    let s = c - a - b;
    if (s - s.round()).abs() < 1e-9 || w <= 0.0 {
        return None;
    }
    let series = |a: f64, b: f64, c: f64| match hyp2f1_series(a, b, c, w) {
        Series::Converged(value) if value != 0.0 => Some(value),
        _ => None,
    };
    let (f1, f2) = (series(a, b, 1.0 - s)?, series(c - a, c - b, 1.0 + s)?);
    // each term as (ln |term|, sign)
    let gammas = |up: [f64; 2], down: [f64; 2]| {
        let [(l1, s1), (l2, s2), (l3, s3), (l4, s4)] = [up[0], up[1], down[0], down[1]].map(ln_gamma_signed);
        (l1 + l2 - l3 - l4, s1 * s2 * s3 * s4)
    };
    let (g1, sign1) = gammas([c, s], [c - a, c - b]);
    let (g2, sign2) = gammas([c, -s], [a, b]);
    let (l1, t1) = (g1 + f1.abs().ln(), sign1 * f1.signum());
    let (l2, t2) = (g2 + s * w.ln() + f2.abs().ln(), sign2 * f2.signum());
    let top = l1.max(l2);
    let total = t1 * (l1 - top).exp() + t2 * (l2 - top).exp();
    // below this the two terms cancel to fewer digits than the answer needs
    if total.is_nan() || total <= 1e-8 || !top.is_finite() {
        return None;
    }
    Some(top + total.ln())
}

/// (ln |G(x)|, sign of G(x)) for any x that is not 0 or a negative integer, by reflection
/// G(x) G(1 - x) = pi / sin(pi x) below 1/2.
fn ln_gamma_signed(x: f64) -> (f64, f64) {
    if x >= 0.5 {
        return (ln_gamma(x), 1.0);
    }
    let sine = (std::f64::consts::PI * x).sin();
    (std::f64::consts::PI.ln() - sine.abs().ln() - ln_gamma(1.0 - x), sine.signum())
}

enum Series {
    Converged(f64),
    Overflow,
    NotConverged,
}

fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64) -> Series {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..HYP2F1_MAX_TERMS {
        let k = k as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if !sum.is_finite() {
            return Series::Overflow;
        }
        if term.abs() <= 1e-16 * sum.abs() {
            return Series::Converged(sum);
        }
    }
    Series::NotConverged
}

/// Customers with frequency > 0 and monetary > 0 as Gamma-Gamma's likelihood reads them:
/// the frequency's index, ln m and x m.
#[derive(Debug, Clone)]
pub struct Repeaters {
    frequencies: Vec<f64>,
    rows: Vec<(u32, f64, f64)>,
}

impl Repeaters {
    pub fn new(customers: &[Customer]) -> Repeaters {
        let repeaters: Vec<&Customer> =
            customers.iter().filter(|c| c.frequency > 0.0 && c.monetary > 0.0).collect();
        let (frequencies, x) = distinct(repeaters.iter().map(|c| c.frequency));
        let rows =
            repeaters.iter().zip(x).map(|(c, x)| (x, c.monetary.ln(), c.frequency * c.monetary)).collect();
        Repeaters { frequencies, rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl GammaGamma {
    /// Mean log-likelihood over customers with frequency > 0 and monetary > 0
    /// (lifetimes' GammaGammaFitter._negative_log_likelihood, negated, without the penalty).
    pub fn mean_log_likelihood(&self, repeaters: &Repeaters) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let ln_v = v.ln();
        let per_x: Vec<(f64, f64)> = repeaters
            .frequencies
            .iter()
            .map(|&x| {
                let px = p * x;
                (ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + px * x.ln() + q * ln_v, px)
            })
            .collect();
        let mut total = 0.0;
        for &(x, ln_m, xm) in &repeaters.rows {
            let (terms, px) = per_x[x as usize];
            total += terms + (px - 1.0) * ln_m - (px + q) * (xm + v).ln();
        }
        total / repeaters.len() as f64
    }

    /// E[mean purchase value | x, m].
    pub fn expected_value(&self, c: &Customer) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let population_mean = v * p / (q - 1.0);
        if c.frequency == 0.0 {
            return population_mean;
        }
        let weight = p * c.frequency / (p * c.frequency + q - 1.0);
        (1.0 - weight) * population_mean + weight * c.monetary
    }
}

/// CLV over `months` months of 30 days (`month` = 30 days in time units), discounted
/// monthly: sum over i of value x (E[purchases by month i] - E[purchases by month i - 1])
/// / (1 + discount)^i (lifetimes' customer_lifetime_value with freq 'D').
pub fn lifetime_value(
    bgnbd: &BgNbd,
    value: f64,
    c: &Customer,
    months: u32,
    month: f64,
    discount: f64,
) -> Result<f64, Error> {
    let mut clv = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let expected = bgnbd.expected_purchases(i as f64 * month, c)?;
        clv += value * (expected - previous) / (1.0 + discount).powi(i as i32);
        previous = expected;
    }
    Ok(clv)
}

/// The result of a fit: parameters, mean log-likelihood, iterations, convergence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit<P> {
    pub params: P,
    pub log_likelihood: f64,
    pub iterations: u32,
    pub converged: bool,
}

/// Above this many distinct (frequency, recency, t) rows, BG/NBD is first fitted on a
/// sample of them and the full fit starts from that optimum, which saves most of the
/// full-data iterations.
const WARM_START_ROWS: usize = 50_000;

/// Fits BG/NBD: maximises the mean log-likelihood minus penalizer x sum of squared
/// parameters, over the logarithms of the parameters (so they stay positive).
pub fn fit_bgnbd(data: &Grouped, penalizer: f64, interrupt: &mut dyn FnMut()) -> Fit<BgNbd> {
    let params_of = |x: &[f64]| BgNbd { r: x[0].exp(), alpha: x[1].exp(), a: x[2].exp(), b: x[3].exp() };
    let objective = |data: &Grouped, x: &[f64]| {
        let penalty = penalizer * x.iter().map(|v| v.exp().powi(2)).sum::<f64>();
        -(params_of(x).mean_log_likelihood(data) - penalty)
    };
    // lifetimes starts from 1 for every parameter; alpha starts at the mean T so that the
    // start is sensible in any time unit.
    let mut start = vec![0.0, data.mean_t().max(1.0).ln(), 0.0, 0.0];
    let (mut step, mut iterations) = (0.5, 0);
    if data.rows.len() > WARM_START_ROWS {
        let sample = data.every_nth(data.rows.len().div_ceil(WARM_START_ROWS / 2));
        let (x, used, _) = minimize(|x| objective(&sample, x), &start, step, interrupt);
        (start, step, iterations) = (x, 0.05, used);
    }
    let (x, used, converged) = minimize(|x| objective(data, x), &start, step, interrupt);
    let params = params_of(&x);
    Fit { params, log_likelihood: params.mean_log_likelihood(data), iterations: iterations + used, converged }
}

/// Fits Gamma-Gamma by maximum likelihood (penalised as lifetimes does) with q kept above 1:
/// the population mean spend v p / (q - 1) exists only there, and an optimum below 1 (as
/// large penalizers give) would make every expected value negative. Over x = (ln p,
/// ln (q - 1), ln v).
pub fn fit_gamma_gamma(
    repeaters: &Repeaters,
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Fit<GammaGamma> {
    let params_of = |x: &[f64]| GammaGamma { p: x[0].exp(), q: 1.0 + x[1].exp(), v: x[2].exp() };
    let objective = |x: &[f64]| {
        let params = params_of(x);
        let penalty = penalizer * (params.p.powi(2) + params.q.powi(2) + params.v.powi(2));
        -(params.mean_log_likelihood(repeaters) - penalty)
    };
    let (x, iterations, converged) = minimize(objective, &[0.0, 0.0, 0.0], 0.5, interrupt);
    let params = params_of(&x);
    Fit { params, log_likelihood: params.mean_log_likelihood(repeaters), iterations, converged }
}

/// Nelder-Mead with restarts from the best point until a restart no longer improves it:
/// derivative-free, robust to the flat and curved regions of these likelihoods. Written
/// here, not taken from a crate (argmin has one), because the loop must call `interrupt`
/// each iteration and stop within the call's limits; it is 60 lines against a dependency,
/// and bench/run.py's CLV cases compare the fits with lifetimes' scipy optimiser.
/// Returns the minimiser, the iterations used and whether it converged.
/// `step` is the initial simplex's edge, in log space.
fn minimize(
    f: impl Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    interrupt: &mut dyn FnMut(),
) -> (Vec<f64>, u32, bool) {
    const MAX_ITERATIONS: u32 = 20_000;
    let mut best = start.to_vec();
    let mut best_value = f(&best);
    let mut iterations = 0;
    for _restart in 0..10 {
        let (x, value, used) = nelder_mead(&f, &best, step, MAX_ITERATIONS - iterations, interrupt);
        iterations += used;
        let improved = best_value - value > 1e-10 * best_value.abs().max(1.0);
        if value.is_finite() && value <= best_value {
            best = x;
            best_value = value;
        }
        if !improved || iterations >= MAX_ITERATIONS {
            return (best, iterations, iterations < MAX_ITERATIONS && best_value.is_finite());
        }
    }
    (best, iterations, false)
}

/// One Nelder-Mead run (standard coefficients), stopping when the simplex's values agree
/// to 1e-10 (relative) and its points to 1e-7 (in log space: relative in the parameters).
fn nelder_mead(
    f: &impl Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_iterations: u32,
    interrupt: &mut dyn FnMut(),
) -> (Vec<f64>, f64, u32) {
    let n = start.len();
    let value = |x: &[f64]| {
        let v = f(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = vec![(start.to_vec(), value(start))];
    for i in 0..n {
        let mut point = start.to_vec();
        point[i] += step;
        let v = value(&point);
        simplex.push((point, v));
    }
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        if iterations % 64 == 0 {
            interrupt();
        }
        simplex.sort_by(|x, y| x.1.total_cmp(&y.1));
        let (best, worst) = (simplex[0].1, simplex[n].1);
        let spread =
            simplex.iter().skip(1).flat_map(|(p, _)| p.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()));
        if (worst - best).abs() <= 1e-10 * best.abs().max(1e-300) && spread.fold(0.0, f64::max) <= 1e-7 {
            break;
        }
        let centroid: Vec<f64> =
            (0..n).map(|j| simplex[..n].iter().map(|(p, _)| p[j]).sum::<f64>() / n as f64).collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n).map(|j| centroid[j] + t * (simplex[n].0[j] - centroid[j])).collect()
        };
        let reflected = along(-1.0);
        let reflected_value = value(&reflected);
        if reflected_value < simplex[0].1 {
            let expanded = along(-2.0);
            let expanded_value = value(&expanded);
            simplex[n] = if expanded_value < reflected_value {
                (expanded, expanded_value)
            } else {
                (reflected, reflected_value)
            };
        } else if reflected_value < simplex[n - 1].1 {
            simplex[n] = (reflected, reflected_value);
        } else {
            let contracted = if reflected_value < simplex[n].1 { along(-0.5) } else { along(0.5) };
            let contracted_value = value(&contracted);
            if contracted_value < simplex[n].1.min(reflected_value) {
                simplex[n] = (contracted, contracted_value);
            } else {
                let best_point = simplex[0].0.clone();
                for (point, v) in simplex.iter_mut().skip(1) {
                    for j in 0..n {
                        point[j] = best_point[j] + 0.5 * (point[j] - best_point[j]);
                    }
                    *v = value(point);
                }
            }
        }
    }
    simplex.sort_by(|x, y| x.1.total_cmp(&y.1));
    let (point, v) = simplex.swap_remove(0);
    (point, v, iterations)
}

/// Both fits on a set of customers: BG/NBD always, Gamma-Gamma when at least
/// MIN_GAMMA_GAMMA_CUSTOMERS customers repeat with a positive amount.
#[derive(Debug, Clone)]
pub struct Fits {
    pub bgnbd: Fit<BgNbd>,
    pub gamma_gamma: Option<Fit<GammaGamma>>,
    pub n_customers: usize,
    /// Customers with frequency > 0.
    pub n_repeat: usize,
    /// Customers with frequency > 0 and monetary > 0, those Gamma-Gamma is fitted on.
    pub n_gamma_gamma: usize,
}

pub fn fit_models(
    customers: &[Customer],
    penalizer: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<Fits, Error> {
    check_bgnbd_data(customers)?;
    let bgnbd = fit_bgnbd(&Grouped::new(customers), penalizer, interrupt);
    let repeaters = Repeaters::new(customers);
    let gamma_gamma = (repeaters.len() >= MIN_GAMMA_GAMMA_CUSTOMERS)
        .then(|| fit_gamma_gamma(&repeaters, penalizer, interrupt));
    Ok(Fits {
        bgnbd,
        gamma_gamma,
        n_customers: customers.len(),
        n_repeat: customers.iter().filter(|c| c.frequency > 0.0).count(),
        n_gamma_gamma: repeaters.len(),
    })
}

impl Fits {
    pub fn converged(&self) -> bool {
        self.bgnbd.converged && self.gamma_gamma.is_none_or(|g| g.converged)
    }

    /// The model, with log-likelihoods summed over customers; `time_unit` and `as_of` as
    /// Postgres prints them.
    pub fn into_model(self, time_unit: String, time_unit_days: f64, as_of: String) -> Model {
        Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            bgnbd: FittedBgNbd {
                params: self.bgnbd.params,
                log_likelihood: self.bgnbd.log_likelihood * self.n_customers as f64,
            },
            gamma_gamma: self.gamma_gamma.map(|g| FittedGammaGamma {
                params: g.params,
                log_likelihood: g.log_likelihood * self.n_gamma_gamma as f64,
            }),
            n_customers: self.n_customers as u64,
            n_repeat: self.n_repeat as u64,
            time_unit,
            time_unit_days,
            as_of,
            converged: self.converged(),
            iterations: self.bgnbd.iterations + self.gamma_gamma.map_or(0, |g| g.iterations),
        }
    }
}

/// The model as clv_fit returns it (jsonb) and the scalar functions take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    pub bgnbd: FittedBgNbd,
    pub gamma_gamma: Option<FittedGammaGamma>,
    pub n_customers: u64,
    pub n_repeat: u64,
    /// As Postgres prints the interval, and in days (a month of 30 days is 30 / this).
    pub time_unit: String,
    pub time_unit_days: f64,
    pub as_of: String,
    pub converged: bool,
    pub iterations: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedBgNbd {
    #[serde(flatten)]
    pub params: BgNbd,
    /// Summed over customers.
    pub log_likelihood: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedGammaGamma {
    #[serde(flatten)]
    pub params: GammaGamma,
    pub log_likelihood: f64,
}

pub const MODEL_FORMAT: &str = "pg_marketing.clv";
pub const MODEL_VERSION: u32 = 1;
const MODEL_KIND: ModelKind =
    ModelKind { format: MODEL_FORMAT, version: MODEL_VERSION, name: "CLV", fitter: "clv_fit" };

impl Model {
    pub fn from_json(text: &str) -> Result<Model, Error> {
        let model: Model = MODEL_KIND.parse(text)?;
        let BgNbd { r, alpha, a, b } = model.bgnbd.params;
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let gamma_ok = model
            .gamma_gamma
            .is_none_or(|g| positive(g.params.p) && positive(g.params.q) && positive(g.params.v));
        if ![r, alpha, a, b, model.time_unit_days].into_iter().all(positive) || !gamma_ok {
            return Err(Error::invalid_parameter("the CLV model's parameters must be positive numbers"));
        }
        Ok(model)
    }

    /// A month of 30 days in the model's time units.
    pub fn month(&self) -> f64 {
        30.0 / self.time_unit_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, relative: f64) -> bool {
        (got - want).abs() <= relative * want.abs().max(1e-300)
    }

    #[test]
    fn models_round_trip_and_others_are_refused() {
        let model = Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            bgnbd: FittedBgNbd { params: WEEKLY, log_likelihood: -9582.4 },
            gamma_gamma: None,
            n_customers: 2357,
            n_repeat: 1011,
            time_unit: "7 days".into(),
            time_unit_days: 7.0,
            as_of: "1997-09-30 00:00:00+00".into(),
            converged: true,
            iterations: 300,
        };
        let text = serde_json::to_string(&model).unwrap();
        assert!(
            text.contains(
                r#""bgnbd":{"r":0.243,"alpha":4.414,"a":0.793,"b":2.426,"log_likelihood":-9582.4}"#
            ),
            "{text}"
        );
        assert_eq!(Model::from_json(&text).unwrap(), model);
        assert!((model.month() - 30.0 / 7.0).abs() < 1e-15);
        for other in [
            r#"{"format": "pg_marketing.kmeans", "version": 1}"#,
            &text.replace(r#""version":1"#, r#""version":2"#),
            &text.replace(r#""r":0.243"#, r#""r":-1"#),
            &text.replace(r#""alpha":4.414,"#, ""),
            "[1, 2]",
        ] {
            assert!(Model::from_json(other).is_err(), "{other}");
        }
    }

    #[test]
    fn ln_gamma_matches_reference_values() {
        // statrs' ln_gamma against scipy.special.gammaln at these points: the accuracy the
        // likelihood needs.
        for (x, want) in [
            (0.5, 0.5723649429247),
            (1.0, 0.0),
            (10.0, 12.801827480081469),
            (100.0, 359.1342053695754),
            (0.1, 2.252712651734206),
            (3.7, 1.428072326665388),
        ] {
            assert!((ln_gamma(x) - want).abs() < 1e-12 * want.abs().max(1.0), "lnΓ({x}) = {}", ln_gamma(x));
        }
    }

    /// lifetimes' published CDNOW fit in weeks.
    const WEEKLY: BgNbd = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

    #[test]
    fn closed_forms_match_lifetimes() {
        // lifetimes 0.11.3 BetaGeoFitter with params_ set to WEEKLY:
        // conditional_probability_alive(x, t_x, T) and
        // conditional_expected_number_of_purchases_up_to_time(10 and 52, x, t_x, T).
        for (x, tx, t, alive, in_10, in_52) in [
            (2.0, 30.43, 38.86, 0.726578570080673, 0.3569733602656501, 1.5587208064320972),
            (0.0, 0.0, 38.86, 1.0, 0.05429984838044943, 0.2520730222824504),
            (7.0, 35.0, 38.0, 0.8619910650934327, 1.3723552978400346, 5.728681664346144),
            (1.0, 2.0, 39.0, 0.2211785320820907, 0.060488907819487236, 0.2702090298818341),
        ] {
            let c = Customer { frequency: x, recency: tx, t, monetary: 0.0 };
            assert!(close(WEEKLY.p_alive(&c), alive, 1e-12), "p_alive {x} {tx} {t}: {}", WEEKLY.p_alive(&c));
            let got = WEEKLY.expected_purchases(10.0, &c).unwrap();
            assert!(close(got, in_10, 1e-10), "E[10] {x} {tx} {t}: {got}");
            let got = WEEKLY.expected_purchases(52.0, &c).unwrap();
            assert!(close(got, in_52, 1e-10), "E[52] {x} {tx} {t}: {got}");
        }
    }

    #[test]
    fn gamma_gamma_value_and_clv_match_lifetimes() {
        let gg = GammaGamma { p: 6.25, q: 3.74, v: 15.44 };
        // By hand: population mean v p / (q - 1) = 15.44 x 6.25 / 2.74 = 35.21897810218978;
        // weight p x / (p x + q - 1) = 18.75 / 21.49; (1 - w) 35.219 + w 40 = 39.39041414611447.
        let repeat = Customer { frequency: 3.0, recency: 0.0, t: 0.0, monetary: 40.0 };
        assert!(close(gg.expected_value(&repeat), 39.39041414611447, 1e-14));
        let once = Customer { frequency: 0.0, recency: 0.0, t: 0.0, monetary: 0.0 };
        assert!(close(gg.expected_value(&once), 35.21897810218978, 1e-14));
        // lifetimes' GammaGammaFitter.customer_lifetime_value(time=12, discount_rate=0.01,
        // freq='W'), which values purchases at the Gamma-Gamma expected value: 57.5896626176788
        // (a month is 4.345 weeks there).
        let c = Customer { frequency: 2.0, recency: 30.43, t: 38.86, monetary: 40.0 };
        let clv = lifetime_value(&WEEKLY, gg.expected_value(&c), &c, 12, 4.345, 0.01).unwrap();
        assert!(close(clv, 57.5896626176788, 1e-10), "{clv}");
        // In days (freq='D', month = 30 days), the daily fit: 56.942386506056174.
        let daily = BgNbd { r: 0.2426, alpha: 30.895, a: 0.7929, b: 2.4259 };
        let c = Customer { frequency: 2.0, recency: 213.0, t: 272.0, monetary: 40.0 };
        let clv = lifetime_value(&daily, gg.expected_value(&c), &c, 12, 30.0, 0.01).unwrap();
        assert!(close(clv, 56.942386506056174, 1e-10), "{clv}");
    }

    #[test]
    fn periods_follow_summary_data_from_transaction_data() {
        // Customer 1: periods 10 (twice), 12 (twice), 20; customer 0: period 5 twice.
        // Observed until period 30.
        let rows = vec![
            (1, 12, 5.0),
            (0, 5, 9.0),
            (1, 10, 3.0),
            (1, 20, 7.0),
            (1, 10, 4.0),
            (0, 5, 1.0),
            (1, 12, 1.0),
        ];
        // Customer 1: repeats in periods 12 (5 + 1) and 20 (7): frequency 2, monetary 6.5;
        // recency 20 - 10; t 30 - 10. Customer 0: one period, so frequency and monetary 0.
        assert_eq!(
            customers_from_periods(rows, 30, &mut || ()),
            vec![
                (0, Customer { frequency: 0.0, recency: 0.0, t: 25.0, monetary: 0.0 }),
                (1, Customer { frequency: 2.0, recency: 10.0, t: 20.0, monetary: 6.5 }),
            ]
        );
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    fn days(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    }

    /// The CDNOW sample (tests/data) summarised in days, transactions to 1997-09-30.
    fn cdnow_calibration() -> Vec<Customer> {
        let mut rows = Vec::new();
        let as_of = days(1997, 9, 30);
        for line in include_str!("../../tests/data/CDNOW_sample.txt").lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() != 5 {
                continue;
            }
            let date = fields[2];
            let day =
                days(date[..4].parse().unwrap(), date[4..6].parse().unwrap(), date[6..].parse().unwrap());
            if day <= as_of {
                rows.push((fields[1].parse().unwrap(), day, fields[4].parse().unwrap()));
            }
        }
        customers_from_periods(rows, as_of, &mut || ()).into_iter().map(|(_, c)| c).collect()
    }

    #[test]
    fn bgnbd_fit_on_cdnow_reaches_the_published_values() {
        let customers = cdnow_calibration();
        assert_eq!(customers.len(), 2357);
        let data = Grouped::new(&customers);
        let fit = fit_bgnbd(&data, 0.0, &mut || {});
        // lifetimes' documentation, converted to days (alpha x 7): r 0.2426, alpha 30.895,
        // a 0.7929, b 2.4259.
        let published = BgNbd { r: 0.2426, alpha: 30.895, a: 0.7929, b: 2.4259 };
        let p = fit.params;
        for (name, got, want) in [
            ("r", p.r, published.r),
            ("alpha", p.alpha, published.alpha),
            ("a", p.a, published.a),
            ("b", p.b, published.b),
        ] {
            assert!(close(got, want, 0.01), "{name} = {got}, published {want}");
        }
        assert!(fit.converged);
        assert!(fit.log_likelihood >= published.mean_log_likelihood(&data) - 1e-12);
    }

    #[test]
    fn gamma_gamma_fit_on_cdnow_reaches_the_published_values() {
        let repeaters = Repeaters::new(&cdnow_calibration());
        assert_eq!(repeaters.len(), 946);
        let fit = fit_gamma_gamma(&repeaters, 0.0, &mut || {});
        // lifetimes' documentation on the 946 repeat customers: p 6.25, q 3.74, v 15.44.
        let p = fit.params;
        for (name, got, want) in [("p", p.p, 6.25), ("q", p.q, 3.74), ("v", p.v, 15.44)] {
            assert!(close(got, want, 0.01), "{name} = {got}, published {want}");
        }
        let published = GammaGamma { p: 6.25, q: 3.74, v: 15.44 };
        assert!(fit.log_likelihood >= published.mean_log_likelihood(&repeaters) - 1e-12);
    }

    #[test]
    fn a_large_penalizer_keeps_the_mean_spend_positive() {
        // Unconstrained, penalizers of 0.1 to 10 drive q below 1 on these data, and then
        // v p / (q - 1) and every expected value are negative.
        let customers = cdnow_calibration();
        let repeaters = Repeaters::new(&customers);
        for penalizer in [0.1, 1.0, 10.0] {
            let fit = fit_gamma_gamma(&repeaters, penalizer, &mut || {});
            assert!(fit.params.q > 1.0, "penalizer {penalizer}: q = {}", fit.params.q);
            assert!(customers.iter().all(|c| fit.params.expected_value(c) > 0.0), "penalizer {penalizer}");
        }
    }

    #[test]
    fn a_horizon_the_series_cannot_reach_is_an_error_not_a_number() {
        let c = Customer { frequency: 1.0, recency: 1.0, t: 10.0, monetary: 0.0 };
        // z = h / (alpha + t + h) rounds to 1 for h = 1e308: the series diverges
        let error = WEEKLY.expected_purchases(1e308, &c).unwrap_err();
        assert_eq!(error.kind, ErrorKind::OutOfRange, "{error}");
        // 1,200 months in weeks is well within reach
        let far = WEEKLY.expected_purchases(1200.0 * 4.345, &c).unwrap();
        let near = WEEKLY.expected_purchases(52.0, &c).unwrap();
        assert!(far.is_finite() && far > near, "{far} {near}");
    }

    #[test]
    #[allow(clippy::excessive_precision)] // mpmath's digits as it printed them
    fn the_hypergeometric_function_is_accurate_near_one() {
        // ln 2F1(r + x, b + x; a + b + x - 1; z) at z = h / (alpha + t + h), t = 38.86 weeks,
        // for the weekly CDNOW parameters r 0.243, alpha 4.414, a 0.793, b 2.426: reference
        // values from mpmath 1.3 (hyp2f1 at 50 digits), an independent implementation.
        let (r, alpha, a, b, t) = (0.243, 4.414, 0.793, 2.426, 38.86);
        for (x, h, want) in [
            (0.0, 52.0, 0.21501929166977545),
            (0.0, 1e4, 1.8053612233266631),
            (0.0, 1e5, 2.7637393681423816),
            (0.0, 1e6, 3.7705639945856048),
            (2.0, 1e3, 7.6593192845375518),
            (2.0, 1e5, 18.828486438185208),
            (2.0, 1e6, 24.468756273876834),
            (7.0, 52.0, 5.8532816822104596),
            (7.0, 1e4, 40.528797087253391),
            (7.0, 1e6, 74.805197574932868),
            (20.0, 1e3, 65.064723908309717),
            (20.0, 1e5, 158.38210066969195),
            (20.0, 1e6, 205.46199495055518),
        ] {
            let z = h / (alpha + t + h);
            let got = ln_hyp2f1(r + x, b + x, a + b + x - 1.0, z);
            assert!(got.is_some_and(|got| close(got, want, 1e-9)), "x {x}, h {h}: {got:?}, want {want}");
        }
    }

    #[test]
    fn summaries_do_not_depend_on_the_order_of_a_periods_amounts() {
        let rows = vec![(0, 1, 0.1), (0, 5, 0.2), (0, 5, 0.3), (0, 5, 1e16), (0, 9, 1.0)];
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(
            customers_from_periods(rows, 10, &mut || ()),
            customers_from_periods(reversed, 10, &mut || ())
        );
    }

    /// Seeded draws for simulated data: rand_distr's Gamma and the uniform of rand.
    struct Random(rand_xoshiro::Xoshiro256PlusPlus);

    impl Random {
        fn new(seed: u64) -> Random {
            Random(rand::SeedableRng::seed_from_u64(seed))
        }

        fn uniform(&mut self) -> f64 {
            rand::Rng::gen(&mut self.0)
        }

        /// Gamma(shape, 1).
        fn gamma(&mut self, shape: f64) -> f64 {
            rand::distributions::Distribution::sample(
                &rand_distr::Gamma::new(shape, 1.0).unwrap(),
                &mut self.0,
            )
        }
    }

    #[test]
    fn bgnbd_recovers_the_parameters_it_was_simulated_with() {
        // The BG/NBD story: purchase rate λ ~ Gamma(r, α), drop-out probability after each
        // purchase p ~ Beta(a, b); customers observed for 52 to 104 time units.
        let truth = BgNbd { r: 0.5, alpha: 8.0, a: 0.8, b: 3.0 };
        let mut random = Random::new(7);
        let customers: Vec<Customer> = (0..30_000)
            .map(|_| {
                let rate = random.gamma(truth.r) / truth.alpha;
                let (ga, gb) = (random.gamma(truth.a), random.gamma(truth.b));
                let drop = ga / (ga + gb);
                let t = 52.0 + (random.uniform() * 53.0).floor();
                let (mut time, mut x, mut last) = (0.0, 0.0, 0.0);
                loop {
                    time += -(1.0 - random.uniform()).ln() / rate;
                    if time > t {
                        break;
                    }
                    x += 1.0;
                    last = time;
                    if random.uniform() < drop {
                        break;
                    }
                }
                Customer { frequency: x, recency: last, t, monetary: 0.0 }
            })
            .collect();
        let fit = fit_bgnbd(&Grouped::new(&customers), 0.0, &mut || {});
        let p = fit.params;
        for (name, got, want) in
            [("r", p.r, truth.r), ("alpha", p.alpha, truth.alpha), ("a", p.a, truth.a), ("b", p.b, truth.b)]
        {
            assert!(close(got, want, 0.15), "{name} = {got}, simulated with {want}");
        }
    }
}
