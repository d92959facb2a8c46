//! L2-penalised logistic regression on z-scored features, solved by Newton's method.
//!
//! Objective (docs/propensity.md): mean log loss + (l2 / 2) ||w||^2 over features z-scored
//! with the population standard deviation, the intercept not penalised: scikit-learn's
//! LogisticRegression(C = 1 / (l2 n)) on StandardScaler output. With a handful of features
//! the (d + 1)-square Newton system costs nothing next to a pass over the rows, and Newton
//! reaches the optimum to rounding in a few passes, where a first-order solver would need
//! hundreds. Each pass checks for interrupts every block of rows.

use serde::{Deserialize, Serialize};

use crate::core::error::{Error, Result};

/// Rows between interrupt checks within a pass.
const BLOCK_ROWS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticOptions {
    /// The penalty; None: 1 / n (C = 1 in scikit-learn's terms).
    pub l2: Option<f64>,
    pub max_iter: u32,
    /// Convergence: the largest gradient component of the objective at most this.
    pub tolerance: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions { l2: None, max_iter: 100, tolerance: 1e-9 }
    }
}

/// A fitted model: its coefficients in original units (what scoring uses) and in z-scored
/// units with the scaler (what the solver found, comparable across features).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub scaled_intercept: f64,
    pub scaled_coefficients: Vec<f64>,
    pub mean: Vec<f64>,
    /// Population standard deviations; 1 for a constant feature, whose coefficient is 0.
    pub scale: Vec<f64>,
    /// The penalty used.
    pub l2: f64,
    pub iterations: u32,
    pub converged: bool,
}

impl Logistic {
    /// The linear predictor (log-odds) of one row of features in original units.
    pub fn log_odds(&self, features: &[f64]) -> f64 {
        self.coefficients.iter().zip(features).fold(self.intercept, |sum, (w, x)| sum + w * x)
    }

    pub fn probability(&self, features: &[f64]) -> f64 {
        sigmoid(self.log_odds(features))
    }
}

/// 1 / (1 + e^-t), without overflow for large |t|.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + e^t), without overflow for large t.
pub(super) fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// Population means and standard deviations of the columns of `rows` (n x d, row-major),
/// in two passes for accuracy. A column whose spread is within rounding of its mean is
/// constant: scale 1, as scikit-learn's StandardScaler does.
pub fn standardise(rows: &[f64], d: usize) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
    let n = (rows.len() / d.max(1)) as f64;
    let mut mean = vec![0.0; d];
    for row in rows.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut squares = vec![0.0; d];
    for row in rows.chunks_exact(d) {
        squares.iter_mut().zip(row.iter().zip(&mean)).for_each(|(s, (x, m))| *s += (x - m) * (x - m));
    }
    let mut constant = vec![false; d];
    let scale = squares
        .iter()
        .zip(&mean)
        .zip(&mut constant)
        .map(|((s, m), constant)| {
            let sd = (s / n).sqrt();
            *constant = sd.is_nan() || sd <= 10.0 * f64::EPSILON * m.abs().max(f64::MIN_POSITIVE);
            if *constant {
                1.0
            } else {
                sd
            }
        })
        .collect();
    (mean, scale, constant)
}

/// The objective, its gradient and Hessian (upper triangle) over the parameters
/// (intercept, w_1..w_d) at `theta`, in one pass.
struct Pass {
    objective: f64,
    gradient: Vec<f64>,
    hessian: Vec<f64>,
}

struct Problem<'a> {
    rows: &'a [f64],
    labels: &'a [bool],
    d: usize,
    mean: &'a [f64],
    scale: &'a [f64],
    l2: f64,
}

impl Problem<'_> {
    fn pass(&self, theta: &[f64], interrupt: &mut dyn FnMut()) -> Pass {
        let p = self.d + 1;
        let mut objective = 0.0;
        let mut gradient = vec![0.0; p];
        let mut hessian = vec![0.0; p * p];
        let mut z = vec![1.0; p];
        for (block, labels) in self.rows.chunks(BLOCK_ROWS * self.d).zip(self.labels.chunks(BLOCK_ROWS)) {
            interrupt();
            for (row, &label) in block.chunks_exact(self.d).zip(labels) {
                for j in 0..self.d {
                    z[j + 1] = (row[j] - self.mean[j]) / self.scale[j];
                }
                let eta: f64 = theta.iter().zip(&z).map(|(t, z)| t * z).sum();
                objective += softplus(if label { -eta } else { eta });
                let probability = sigmoid(eta);
                let residual = probability - if label { 1.0 } else { 0.0 };
                let weight = probability * (1.0 - probability);
                for a in 0..p {
                    gradient[a] += residual * z[a];
                    let wa = weight * z[a];
                    for b in a..p {
                        hessian[a * p + b] += wa * z[b];
                    }
                }
            }
        }
        let n = self.labels.len() as f64;
        objective /= n;
        gradient.iter_mut().for_each(|g| *g /= n);
        hessian.iter_mut().for_each(|h| *h /= n);
        for j in 1..p {
            objective += 0.5 * self.l2 * theta[j] * theta[j];
            gradient[j] += self.l2 * theta[j];
            hessian[j * p + j] += self.l2;
        }
        Pass { objective, gradient, hessian }
    }
}

/// Solves H x = g for the `active` parameters by Cholesky (H symmetric positive definite,
/// upper triangle given); inactive ones get 0. None if H is not positive definite there.
fn newton_step(hessian: &[f64], gradient: &[f64], active: &[bool]) -> Option<Vec<f64>> {
    let p = gradient.len();
    let index: Vec<usize> = (0..p).filter(|&i| active[i]).collect();
    let m = index.len();
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let (a, b) = (index[j].min(index[i]), index[j].max(index[i]));
            let mut sum = hessian[a * p + b];
            for k in 0..j {
                sum -= l[i * m + k] * l[j * m + k];
            }
            if i == j {
                if sum.is_nan() || sum <= 0.0 {
                    return None;
                }
                l[i * m + i] = sum.sqrt();
            } else {
                l[i * m + j] = sum / l[j * m + j];
            }
        }
    }
    let mut y = vec![0.0; m];
    for i in 0..m {
        let sum: f64 = (0..i).map(|k| l[i * m + k] * y[k]).sum();
        y[i] = (gradient[index[i]] - sum) / l[i * m + i];
    }
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        let sum: f64 = (i + 1..m).map(|k| l[k * m + i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i * m + i];
    }
    let mut step = vec![0.0; p];
    index.iter().zip(x).for_each(|(&i, x)| step[i] = x);
    Some(step)
}

/// Fits `labels` on `rows` (n x d, row-major, original units, finite). Needs rows of both
/// classes (the caller checks, to name its argument).
pub fn fit(
    rows: &[f64],
    labels: &[bool],
    d: usize,
    options: &LogisticOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<Logistic> {
    let n = labels.len();
    assert_eq!(rows.len(), n * d, "n x d features");
    let (mean, scale, constant) = standardise(rows, d);
    let l2 = options.l2.unwrap_or(1.0 / n as f64);
    let problem = Problem { rows, labels, d, mean: &mean, scale: &scale, l2 };
    let active: Vec<bool> = std::iter::once(true).chain(constant.iter().map(|c| !c)).collect();

    // Start at the intercept of the class balance: the optimum when no feature helps.
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let mut theta = vec![0.0; d + 1];
    theta[0] = (positives / (n as f64 - positives)).ln();
    let mut current = problem.pass(&theta, interrupt);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < options.max_iter {
        if current.gradient.iter().all(|g| g.abs() <= options.tolerance) {
            converged = true;
            break;
        }
        iterations += 1;
        let step = newton_step(&current.hessian, &current.gradient, &active).ok_or_else(|| {
            Error::invalid_parameter(
                "the logistic fit's Hessian is singular: the classes are separated by a feature and l2 is 0",
            )
            .with_hint("use a positive l2 (the default is 1 / training rows)")
        })?;
        // Backtracking: halve the step until the objective falls by Armijo's share of the
        // decrease the step promises (a full step nearly always does).
        let promised: f64 = step.iter().zip(&current.gradient).map(|(s, g)| s * g).sum();
        let mut length = 1.0;
        loop {
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t - length * s).collect();
            let next = problem.pass(&trial, interrupt);
            if next.objective <= current.objective - 1e-4 * length * promised {
                theta = trial;
                current = next;
                break;
            }
            length /= 2.0;
            if length < 1e-10 {
                // no decrease left within rounding: theta is the optimum to working precision
                converged = true;
                break;
            }
        }
        if converged {
            break;
        }
    }
    let scaled_coefficients = theta[1..].to_vec();
    let coefficients: Vec<f64> = scaled_coefficients.iter().zip(&scale).map(|(w, s)| w / s).collect();
    let intercept = theta[0] - coefficients.iter().zip(&mean).map(|(w, m)| w * m).sum::<f64>();
    Ok(Logistic {
        intercept,
        coefficients,
        scaled_intercept: theta[0],
        scaled_coefficients,
        mean,
        scale,
        l2,
        iterations,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_default(rows: &[f64], labels: &[bool], d: usize, l2: Option<f64>) -> Logistic {
        let options = LogisticOptions { l2, ..Default::default() };
        fit(rows, labels, d, &options, &mut || {}).unwrap()
    }

    #[test]
    fn one_binary_feature_without_penalty_gives_the_two_groups_log_odds() {
        // By hand: with x in {0, 1} and no penalty, the fitted probabilities equal each
        // group's share of positives, so intercept = logit(1/4) and intercept + w = logit(3/5).
        let rows = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let labels = [true, false, false, false, true, true, true, false, false];
        let model = fit_default(&rows, &labels, 1, Some(0.0));
        let logit = |p: f64| (p / (1.0 - p)).ln();
        assert!(model.converged);
        assert!((model.intercept - logit(0.25)).abs() < 1e-12, "{model:?}");
        assert!((model.intercept + model.coefficients[0] - logit(0.6)).abs() < 1e-12, "{model:?}");
        // z-scored units: mean 5/9, population sd sqrt(20/81) = 0.4969
        assert!((model.scale[0] - (20.0f64 / 81.0).sqrt()).abs() < 1e-15);
        assert!((model.scaled_coefficients[0] - model.coefficients[0] * model.scale[0]).abs() < 1e-12);
        assert!((model.probability(&[1.0]) - 0.6).abs() < 1e-12);
    }

    /// 40 rows of two features and a label from a fixed rule (no randomness).
    fn small_case() -> (Vec<f64>, Vec<bool>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..40 {
            let (x1, x2) = ((i % 7) as f64 * 1.5, (i * 13 % 11) as f64 - 3.0);
            rows.extend([x1, x2]);
            labels.push((i * 5 + 3) % 9 < 2 + (i % 7) / 2);
        }
        (rows, labels)
    }

    #[test]
    fn coefficients_match_scikit_learn_on_a_fixed_case() {
        // Reference: scikit-learn 1.5.2, StandardScaler() then
        // LogisticRegression(C=1.0, tol=1e-12, max_iter=10000) (lbfgs, and newton-cg, which
        // agrees with it to 3e-10) on the rows of small_case, generated by the same rule in
        // Python: C = 1 / (l2 n) with the default l2 = 1 / n. Coefficients in scaled units,
        // then the intercept. The issue asks for 1e-4 relative; we hold 1e-8.
        let (rows, labels) = small_case();
        let model = fit_default(&rows, &labels, 2, None);
        let expected = [0.49215753569147574, 0.42953348116194673, -0.5651908449100513];
        let found = [model.scaled_coefficients[0], model.scaled_coefficients[1], model.scaled_intercept];
        for (f, e) in found.iter().zip(expected) {
            assert!((f - e).abs() <= 1e-8 * e.abs(), "{found:?} against {expected:?}");
        }
        assert!(model.converged && model.iterations < 10, "{model:?}");
    }

    #[test]
    fn the_optimum_has_a_zero_gradient_and_a_constant_feature_a_zero_coefficient() {
        let (mut rows, labels) = small_case();
        // a third, constant feature
        rows = rows.chunks(2).flat_map(|r| [r[0], r[1], 5.0]).collect();
        let model = fit_default(&rows, &labels, 3, Some(0.1));
        assert_eq!(model.coefficients[2], 0.0);
        assert_eq!(model.scale[2], 1.0);
        // the gradient of the objective, recomputed here in original units
        let n = labels.len() as f64;
        let mut gradient = [0.0; 3];
        for (row, &y) in rows.chunks(3).zip(&labels) {
            let residual = model.probability(row) - if y { 1.0 } else { 0.0 };
            gradient[0] += residual / n;
            for j in 0..2 {
                gradient[j + 1] += residual * (row[j] - model.mean[j]) / model.scale[j] / n;
            }
        }
        for j in 0..2 {
            gradient[j + 1] += 0.1 * model.scaled_coefficients[j];
        }
        assert!(gradient.iter().all(|g| g.abs() < 1e-9), "{gradient:?}");
    }

    #[test]
    fn separated_classes_need_the_penalty_for_finite_coefficients() {
        let rows = [0.0, 1.0, 2.0, 3.0];
        let labels = [false, false, true, true];
        // without a penalty the coefficient runs off until the gradient vanishes in rounding
        let free = fit_default(&rows, &labels, 1, Some(0.0));
        assert!(free.coefficients[0] > 10.0, "{free:?}");
        // with the default penalty it stays moderate
        let penalised = fit_default(&rows, &labels, 1, None);
        assert!(penalised.converged && penalised.coefficients[0] < 2.0, "{penalised:?}");
    }

    #[test]
    fn interrupts_are_checked_during_each_pass() {
        let (rows, labels) = small_case();
        let mut checks = 0;
        fit(&rows, &labels, 2, &LogisticOptions::default(), &mut || checks += 1).unwrap();
        assert!(checks >= 3, "{checks}");
    }
}
