//! A Gaussian mixture with full covariances, fitted by EM: scikit-learn's GaussianMixture
//! (covariance_type 'full', init_params 'kmeans', reg_covar 1e-6) and linfa-clustering's
//! GaussianMixtureModel compute the same thing.
//!
//! Our own loop rather than linfa's: linfa's EM runs to its end without a way to stop it
//! (a fit ran 12 s past a 300 ms statement_timeout), and its k-means initialisation runs
//! on rayon's global thread pool, whose threads start inside the backend without blocking
//! Postgres' signals. Here every EM step calls `interrupt`, and the passes over the rows
//! go through `parallel` (fixed blocks, summed in block order), so the fit does not depend
//! on the number of cores.

use super::parallel;
use crate::core::error::{Error, Result};

/// Added to each covariance's diagonal, as scikit-learn's reg_covar and linfa's
/// reg_covariance default: keeps covariances positive definite.
pub const REG_COVARIANCE: f64 = 1e-6;

/// Weights, means and covariances of k components in d dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Components {
    pub weights: Vec<f64>,
    /// k rows of d.
    pub means: Vec<f64>,
    /// k matrices of d rows of d.
    pub covariances: Vec<Vec<Vec<f64>>>,
}

/// A component's parameters as the E step reads them.
struct Density {
    log_weight: f64,
    mean: Vec<f64>,
    /// Lower Cholesky factor of the covariance, row-major.
    cholesky: Vec<f64>,
    /// ln of the normal density's constant: -(d ln 2 pi + ln det) / 2.
    log_constant: f64,
}

/// Sums of one pass: responsibilities, responsibility-weighted rows and outer products per
/// component, and the log-likelihood.
#[derive(Clone)]
struct Moments {
    total: Vec<f64>,
    first: Vec<f64>,
    second: Vec<f64>,
    log_likelihood: f64,
}

impl Moments {
    fn zero(k: usize, d: usize) -> Moments {
        Moments {
            total: vec![0.0; k],
            first: vec![0.0; k * d],
            second: vec![0.0; k * d * d],
            log_likelihood: 0.0,
        }
    }

    fn add_row(&mut self, component: usize, responsibility: f64, row: &[f64]) {
        let d = row.len();
        self.total[component] += responsibility;
        let first = &mut self.first[component * d..(component + 1) * d];
        first.iter_mut().zip(row).for_each(|(s, x)| *s += responsibility * x);
        let second = &mut self.second[component * d * d..(component + 1) * d * d];
        for (i, xi) in row.iter().enumerate() {
            let weighted = responsibility * xi;
            second[i * d..(i + 1) * d].iter_mut().zip(row).for_each(|(s, xj)| *s += weighted * xj);
        }
    }

    fn add(&mut self, other: &Moments) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.total, &other.total);
        add(&mut self.first, &other.first);
        add(&mut self.second, &other.second);
        self.log_likelihood += other.log_likelihood;
    }

    /// Per-block partial moments of `data` (rows of d), summed in block order.
    fn of(data: &[f64], d: usize, k: usize, visit: impl Fn(&[f64], &mut Moments) + Sync) -> Moments {
        let n = data.len() / d.max(1);
        let partial = parallel::map_blocks(n, |rows| {
            let mut moments = Moments::zero(k, d);
            for row in data[rows.start * d..rows.end * d].chunks_exact(d) {
                visit(row, &mut moments);
            }
            moments
        });
        let mut moments = Moments::zero(k, d);
        partial.iter().for_each(|block| moments.add(block));
        moments
    }

    /// The M step: weights, means and covariances (with REG_COVARIANCE) from the moments.
    /// A component without rows gets 10 machine epsilons of weight, as scikit-learn does.
    fn components(&self, n: usize, d: usize) -> Components {
        let k = self.total.len();
        let mut components = Components { weights: Vec::new(), means: Vec::new(), covariances: Vec::new() };
        for c in 0..k {
            let total = self.total[c] + 10.0 * f64::EPSILON;
            let mean: Vec<f64> = self.first[c * d..(c + 1) * d].iter().map(|s| s / total).collect();
            let second = &self.second[c * d * d..(c + 1) * d * d];
            let covariance = (0..d)
                .map(|i| {
                    (0..d)
                        .map(|j| {
                            let value = second[i * d + j] / total - mean[i] * mean[j];
                            if i == j {
                                value + REG_COVARIANCE
                            } else {
                                value
                            }
                        })
                        .collect()
                })
                .collect();
            components.weights.push(total / n as f64);
            components.means.extend(mean);
            components.covariances.push(covariance);
        }
        components
    }
}

impl Components {
    fn densities(&self, d: usize) -> Result<Vec<Density>> {
        self.covariances
            .iter()
            .enumerate()
            .map(|(c, covariance)| {
                let cholesky = cholesky(covariance).ok_or_else(|| {
                    Error::invalid_parameter(format!(
                        "the Gaussian mixture fit failed: the covariance of segment {} is not positive definite",
                        c + 1
                    ))
                    .with_hint("try fewer segments, algorithm => 'kmeans', or features that are not collinear")
                })?;
                let log_det: f64 = (0..d).map(|i| cholesky[i * d + i].ln()).sum::<f64>() * 2.0;
                Ok(Density {
                    log_weight: self.weights[c].ln(),
                    mean: self.means[c * d..(c + 1) * d].to_vec(),
                    cholesky,
                    log_constant: -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det),
                })
            })
            .collect()
    }
}

/// ln N(row; mean, covariance) + ln weight; `solved` is scratch of d values.
fn log_weighted_density(density: &Density, row: &[f64], solved: &mut [f64]) -> f64 {
    let d = row.len();
    // L y = x - mean by forward substitution; the Mahalanobis term is |y|^2
    for i in 0..d {
        let partial: f64 =
            density.cholesky[i * d..i * d + i].iter().zip(&solved[..i]).map(|(l, y)| l * y).sum();
        solved[i] = (row[i] - density.mean[i] - partial) / density.cholesky[i * d + i];
    }
    let mahalanobis: f64 = solved.iter().map(|y| y * y).sum();
    density.log_weight + density.log_constant - 0.5 * mahalanobis
}

/// The lower Cholesky factor of a symmetric positive definite matrix, row-major; None if
/// it is not positive definite.
pub fn cholesky(matrix: &[Vec<f64>]) -> Option<Vec<f64>> {
    let d = matrix.len();
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let partial: f64 = (0..j).map(|m| l[i * d + m] * l[j * d + m]).sum();
            if i == j {
                let pivot = matrix[i][i] - partial;
                if !(pivot > 0.0 && pivot.is_finite()) {
                    return None;
                }
                l[i * d + i] = pivot.sqrt();
            } else {
                l[i * d + j] = (matrix[i][j] - partial) / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Starts from `centers` (k rows of d, e.g. a k-means fit): each row belongs wholly to its
/// nearest center, which gives the first weights, means and covariances (scikit-learn's
/// 'kmeans' initialisation). Then EM steps until the mean log-likelihood changes by less
/// than `tolerance`, or `max_iter` steps. Returns the components and the mean
/// log-likelihood of the last E step.
pub fn fit(
    data: &[f64],
    d: usize,
    centers: &[f64],
    max_iter: u32,
    tolerance: f64,
    interrupt: &mut dyn FnMut(),
) -> Result<(Components, f64)> {
    let k = centers.len() / d.max(1);
    let n = data.len() / d.max(1);
    let nearest = |row: &[f64]| {
        let distance = |c: &[f64]| c.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
        // ties to the lower center
        (0..k).fold((0, f64::INFINITY), |best, c| {
            let squared = distance(&centers[c * d..(c + 1) * d]);
            if squared < best.1 {
                (c, squared)
            } else {
                best
            }
        })
    };
    interrupt();
    let mut components =
        Moments::of(data, d, k, |row, m| m.add_row(nearest(row).0, 1.0, row)).components(n, d);
    let mut mean_log_likelihood = f64::NEG_INFINITY;
    for _ in 0..max_iter {
        interrupt();
        let densities = components.densities(d)?;
        let moments = Moments::of(data, d, k, |row, m| {
            let mut solved = vec![0.0; d];
            let mut log_p = vec![0.0; k];
            for (c, density) in densities.iter().enumerate() {
                log_p[c] = log_weighted_density(density, row, &mut solved);
            }
            let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + log_p.iter().map(|lp| (lp - max).exp()).sum::<f64>().ln();
            m.log_likelihood += log_sum;
            for (c, lp) in log_p.iter().enumerate() {
                m.add_row(c, (lp - log_sum).exp(), row);
            }
        });
        let previous = mean_log_likelihood;
        mean_log_likelihood = moments.log_likelihood / n as f64;
        if !mean_log_likelihood.is_finite() {
            return Err(Error::invalid_parameter(
                "the Gaussian mixture fit failed: its likelihood is not finite",
            )
            .with_hint("try fewer segments, algorithm => 'kmeans', or features that are not collinear"));
        }
        components = moments.components(n, d);
        if (mean_log_likelihood - previous).abs() < tolerance {
            break;
        }
    }
    Ok((components, mean_log_likelihood))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three blobs of 2-d points from a seeded generator (rand_distr's Normal): 500, 300
    /// and 200 rows.
    fn blobs() -> (Vec<f64>, [[f64; 2]; 3]) {
        use rand::distributions::Distribution;
        use rand::SeedableRng;

        let centers = [[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0x9e37_79b9_7f4a_7c15);
        let standard = rand_distr::StandardNormal;
        let mut data = Vec::new();
        for (blob, count) in [(0, 500), (1, 300), (2, 200)] {
            // a spread of its own per blob, half as wide in y
            let spread = 0.5 + blob as f64 * 0.25;
            for _ in 0..count {
                let (x, y): (f64, f64) = (standard.sample(&mut rng), standard.sample(&mut rng));
                data.push(centers[blob][0] + spread * x);
                data.push(centers[blob][1] + spread * 0.5 * y);
            }
        }
        (data, centers)
    }

    #[test]
    fn agrees_with_linfa_on_separated_blobs() {
        use linfa::prelude::*;
        use linfa_clustering::GaussianMixtureModel;
        use rand::SeedableRng;

        let (data, centers) = blobs();
        let start: Vec<f64> = centers.iter().flatten().copied().collect();
        let (ours, _) = fit(&data, 2, &start, 1000, 1e-10, &mut || {}).unwrap();
        // linfa-clustering 0.8.1, an independent implementation of the same EM
        let dataset = DatasetBase::from(ndarray::Array2::from_shape_vec((1000, 2), data).unwrap());
        let linfa = GaussianMixtureModel::params_with_rng(3, rand_xoshiro::Xoshiro256Plus::seed_from_u64(1))
            .n_runs(3)
            .tolerance(1e-10)
            .max_n_iterations(1000)
            .reg_covariance(REG_COVARIANCE)
            .fit(&dataset)
            .unwrap();
        for c in 0..3 {
            // match linfa's component to ours by mean
            let mean = &ours.means[c * 2..c * 2 + 2];
            let l = (0..3)
                .min_by(|&a, &b| {
                    let dist = |x: usize| {
                        (linfa.means()[[x, 0]] - mean[0]).powi(2) + (linfa.means()[[x, 1]] - mean[1]).powi(2)
                    };
                    dist(a).total_cmp(&dist(b))
                })
                .unwrap();
            assert!((linfa.weights()[l] - ours.weights[c]).abs() < 1e-6, "weight {c}");
            for (i, &ours_mean) in mean.iter().enumerate() {
                assert!((linfa.means()[[l, i]] - ours_mean).abs() < 1e-6, "mean {c} {i}");
                for j in 0..2 {
                    let (theirs, got) = (linfa.covariances()[[l, i, j]], ours.covariances[c][i][j]);
                    assert!((theirs - got).abs() < 1e-6, "covariance {c} {i} {j}: {theirs} vs {got}");
                }
            }
        }
        // the blobs' true weights are 0.5, 0.3 and 0.2
        let mut weights = ours.weights.clone();
        weights.sort_by(|a, b| b.total_cmp(a));
        assert!(weights.iter().zip([0.5, 0.3, 0.2]).all(|(w, want)| (w - want).abs() < 0.01), "{weights:?}");
    }

    #[test]
    fn every_step_calls_interrupt() {
        let (data, centers) = blobs();
        let start: Vec<f64> = centers.iter().flatten().copied().collect();
        let mut calls = 0;
        let (_, _) = fit(&data, 2, &start, 5, 0.0, &mut || calls += 1).unwrap();
        assert_eq!(calls, 6, "once before the first pass and once per step");
    }

    #[test]
    fn the_likelihood_does_not_decrease() {
        let (data, centers) = blobs();
        let start: Vec<f64> = centers.iter().flatten().copied().collect();
        let mut previous = f64::NEG_INFINITY;
        for steps in 1..8 {
            let (_, log_likelihood) = fit(&data, 2, &start, steps, 0.0, &mut || {}).unwrap();
            assert!(log_likelihood >= previous - 1e-12, "{steps}: {log_likelihood} < {previous}");
            previous = log_likelihood;
        }
    }
}
