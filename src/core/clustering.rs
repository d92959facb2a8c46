//! Customer segments by k-means (greedy k-means++ and Lloyd steps of our own, on all
//! cores: bench/lloyd_step.rs shows why not linfa's) or a Gaussian mixture (EM of our
//! own, src/core/mixture.rs says why not linfa's), on scaled features, with a model that is a
//! plain value: it scores new rows exactly as the fit scored its own.
//!
//! The pieces:
//! - `Scaler`: z-score (population sd), min-max or none; constant columns get scale 1.
//! - `fit`: scale, run the algorithm, then number the segments 1..k by descending size
//!   (ties by the centroid's coordinates, in original units) and score every row with the
//!   `Scorer` of the finished model, so that a row's segment in the fit and in
//!   `Model::assign` are the same computation on the same numbers.
//! - `Model`: the jsonb format (`to_json`, `from_json`); centroids in original units.
//! - `silhouette`: mean silhouette on a seeded sample of at most SILHOUETTE_SAMPLE rows.
//! - `lloyd_step`: one assignment and the sums of the update, over blocks of rows in
//!   parallel (src/core/parallel.rs), so the result does not depend on the core count.

use ndarray::{Array2, ArrayBase, ArrayView2, Ix2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{mixture, parallel};
use crate::core::error::{Error, ErrorKind, Result};
use crate::core::model_json::ModelKind;

pub const MODEL_FORMAT: &str = "pg_marketing.kmeans";
pub const MODEL_VERSION: u32 = 1;
const MODEL_KIND: ModelKind =
    ModelKind { format: MODEL_FORMAT, version: MODEL_VERSION, name: "k-means", fitter: "kmeans_fit" };
/// The silhouette is O(n^2): it is computed on a seeded sample of at most this many rows.
pub const SILHOUETTE_SAMPLE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleMethod {
    Zscore,
    Minmax,
    None,
}

impl ScaleMethod {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zscore" => Ok(ScaleMethod::Zscore),
            "minmax" => Ok(ScaleMethod::Minmax),
            "none" => Ok(ScaleMethod::None),
            _ => Err(Error::invalid_parameter(format!("unknown scale '{text}'"))
                .with_hint("scale is one of 'zscore', 'minmax', 'none'")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Kmeans,
    Gmm,
}

impl Algorithm {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "kmeans" => Ok(Algorithm::Kmeans),
            "gmm" => Ok(Algorithm::Gmm),
            _ => Err(Error::invalid_parameter(format!("unknown algorithm '{text}'"))
                .with_hint("algorithm is 'kmeans' or 'gmm'")),
        }
    }
}

/// scaled = (x - center) / scale, per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub method: ScaleMethod,
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    /// The scaler of `data` and the indexes of its constant columns (which get scale 1).
    pub fn fit(method: ScaleMethod, data: ArrayView2<f64>) -> (Scaler, Vec<usize>) {
        let data = data.as_standard_layout();
        let stats = ColumnStats::of(rows_of(&data), data.ncols());
        let columns = data.ncols();
        let mut center = vec![0.0; columns];
        let mut scale = vec![1.0; columns];
        let mut constant = Vec::new();
        for j in 0..columns {
            if stats.min[j] == stats.max[j] {
                constant.push(j);
            }
            let spread = match method {
                ScaleMethod::None => continue,
                ScaleMethod::Zscore => {
                    center[j] = stats.mean[j];
                    stats.variance[j].sqrt()
                }
                ScaleMethod::Minmax => {
                    center[j] = stats.min[j];
                    stats.max[j] - stats.min[j]
                }
            };
            if spread > 0.0 && spread.is_finite() {
                scale[j] = spread;
            }
        }
        (Scaler { method, center, scale }, constant)
    }

    pub fn scale_into(&self, row: &[f64], out: &mut [f64]) {
        for (j, (x, out)) in row.iter().zip(out).enumerate() {
            *out = (x - self.center[j]) / self.scale[j];
        }
    }

    pub fn unscale_into(&self, row: &[f64], out: &mut [f64]) {
        for (j, (x, out)) in row.iter().zip(out).enumerate() {
            *out = x * self.scale[j] + self.center[j];
        }
    }

    fn scale_rows(&self, data: &mut Array2<f64>) {
        let d = data.ncols().max(1);
        let data = data.as_slice_mut().expect("the fitted rows are one standard layout array");
        parallel::for_each_rows(data, d, |_, rows| {
            for row in rows.chunks_exact_mut(d) {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = (*x - self.center[j]) / self.scale[j];
                }
            }
        });
    }
}

/// The rows of a standard layout array as one slice, row after row.
fn rows_of<S: ndarray::Data<Elem = f64>>(data: &ArrayBase<S, Ix2>) -> &[f64] {
    data.as_slice().expect("a standard layout array is contiguous")
}

/// Per column: min, max, mean and population variance (two passes: the mean, then the
/// squared deviations from it), over blocks of rows in parallel.
struct ColumnStats {
    min: Vec<f64>,
    max: Vec<f64>,
    mean: Vec<f64>,
    variance: Vec<f64>,
}

impl ColumnStats {
    fn of(data: &[f64], d: usize) -> ColumnStats {
        let n = data.len() / d.max(1);
        let partial = parallel::map_blocks(n, |rows| {
            let (mut min, mut max, mut sum) =
                (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d], vec![0.0; d]);
            for row in data[rows.start * d..rows.end * d].chunks_exact(d) {
                for (j, &x) in row.iter().enumerate() {
                    min[j] = min[j].min(x);
                    max[j] = max[j].max(x);
                    sum[j] += x;
                }
            }
            (min, max, sum)
        });
        let (mut min, mut max, mut mean) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d], vec![0.0; d]);
        for (block_min, block_max, block_sum) in partial {
            for j in 0..d {
                min[j] = min[j].min(block_min[j]);
                max[j] = max[j].max(block_max[j]);
                mean[j] += block_sum[j];
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let squares = parallel::map_blocks(n, |rows| {
            let mut squares = vec![0.0; d];
            for row in data[rows.start * d..rows.end * d].chunks_exact(d) {
                for (j, &x) in row.iter().enumerate() {
                    squares[j] += (x - mean[j]) * (x - mean[j]);
                }
            }
            squares
        });
        let mut variance = vec![0.0; d];
        for block in squares {
            variance.iter_mut().zip(block).for_each(|(v, s)| *v += s);
        }
        variance.iter_mut().for_each(|v| *v /= n.max(1) as f64);
        ColumnStats { min, max, mean, variance }
    }
}

/// Upper bounds of the fit's arguments: beyond them a fit is a mistake, not a segmentation,
/// and each multiplies the work.
pub const MAX_K: usize = 1000;
pub const MAX_N_INIT: usize = 100;
pub const MAX_ITER: u32 = 100_000;

/// The largest feature magnitude a fit takes: sums of squares of such values over billions of
/// rows stay finite.
const MAX_MAGNITUDE: f64 = 1e100;

/// 22003 naming the first feature with a value beyond MAX_MAGNITUDE.
pub fn check_magnitudes(data: ArrayView2<f64>, feature_names: &[String]) -> Result<()> {
    for row in data.rows() {
        if let Some((j, x)) = row.iter().enumerate().find(|(_, x)| x.abs() > MAX_MAGNITUDE) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!(
                    "feature {} has the value {x:e}; a fit takes values up to 1e100 in magnitude",
                    feature_names.get(j).map_or("?", String::as_str)
                ),
            )
            .with_hint("rescale the column in the query (e.g. divide it, or take its logarithm)"));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub k: usize,
    pub scale: ScaleMethod,
    pub seed: u64,
    pub n_init: usize,
    pub max_iter: u32,
    pub tolerance: f64,
    pub algorithm: Algorithm,
}

impl FitOptions {
    /// Checks the options against the number of rows to fit.
    pub fn check(&self, rows: usize) -> Result<()> {
        if self.k < 1 {
            return Err(Error::invalid_parameter("k must be at least 1"));
        }
        if self.k > rows {
            return Err(Error::invalid_parameter(format!(
                "k ({}) is larger than the number of rows with features ({rows})",
                self.k
            ))
            .with_hint("choose a smaller k, or check that the features query returns the rows you expect"));
        }
        if self.k > MAX_K {
            return Err(Error::invalid_parameter(format!("k must be at most {MAX_K}, not {}", self.k)));
        }
        if !(1..=MAX_N_INIT).contains(&self.n_init) {
            return Err(Error::invalid_parameter(format!("n_init must be between 1 and {MAX_N_INIT}")));
        }
        if !(1..=MAX_ITER).contains(&self.max_iter) {
            return Err(Error::invalid_parameter(format!("max_iter must be between 1 and {MAX_ITER}")));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(Error::invalid_parameter("tolerance must be a finite number >= 0"));
        }
        Ok(())
    }

    /// An upper estimate of the bytes a fit of `rows` rows of `d` features allocates beyond
    /// the rows themselves, most of it at once: per-row seeding distances, scores and labels;
    /// per-block sums (for the mixture a covariance per component and block); and the
    /// silhouette's totals, a row by k table per part of its pair loop. A caller compares it
    /// with the memory budget before fitting, since the silhouette step alone can take
    /// hundreds of MB between two checks (k 1,000 on 10,000 rows: 720 MB).
    pub fn working_bytes(&self, rows: usize, d: usize) -> usize {
        const F64: usize = std::mem::size_of::<f64>();
        let (k, d) = (self.k, d.max(1));
        let trials = 2 + (k as f64).ln() as usize;
        let per_row = F64.saturating_mul(8 + trials);
        let per_block = match self.algorithm {
            Algorithm::Kmeans => k.saturating_mul(d.saturating_add(1)),
            Algorithm::Gmm => k.saturating_mul(d.saturating_mul(d).saturating_add(d).saturating_add(1)),
        }
        .saturating_mul(F64);
        let sample = rows.min(SILHOUETTE_SAMPLE);
        let silhouette = sample
            .saturating_mul(k.saturating_mul(SILHOUETTE_PARTS + 1).saturating_add(d))
            .saturating_mul(F64);
        rows.saturating_mul(per_row)
            .saturating_add(rows.div_ceil(parallel::BLOCK_ROWS).saturating_mul(per_block))
            .saturating_add(silhouette)
    }
}

/// A Gaussian mixture's components beyond their means, in scaled space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixture {
    pub weights: Vec<f64>,
    /// One d x d covariance matrix per segment, row by row.
    pub covariances: Vec<Vec<Vec<f64>>>,
}

/// The model as kmeans_fit returns it (jsonb) and kmeans_assign takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    pub algorithm: Algorithm,
    pub k: usize,
    pub feature_names: Vec<String>,
    pub scaler: Scaler,
    /// Segment s's centroid (mixture mean) is centroids[s - 1], in original units.
    pub centroids: Vec<Vec<f64>>,
    pub sizes: Vec<u64>,
    /// Sum over rows of the squared distance to the assigned centroid, in scaled space.
    pub inertia: f64,
    /// Mean silhouette on a seeded sample of at most SILHOUETTE_SAMPLE rows; None for one
    /// segment.
    pub silhouette: Option<f64>,
    /// Lloyd iterations of the kept run (k-means); None for a mixture (its model format
    /// predates its own EM loop).
    pub iterations: Option<u32>,
    pub seed: u64,
    pub n_rows: u64,
    pub n_init: usize,
    pub max_iter: u32,
    pub tolerance: f64,
    pub mixture: Option<Mixture>,
}

impl Model {
    pub fn from_json(text: &str) -> Result<Model> {
        let model: Model = MODEL_KIND.parse(text)?;
        let d = model.feature_names.len();
        let square = |m: &Vec<Vec<f64>>| m.len() == d && m.iter().all(|row| row.len() == d);
        let consistent = d > 0
            && model.k >= 1
            && model.scaler.center.len() == d
            && model.scaler.scale.len() == d
            && model.scaler.scale.iter().all(|s| s.is_finite() && *s > 0.0)
            && model.centroids.len() == model.k
            && model.centroids.iter().all(|c| c.len() == d && c.iter().all(|x| x.is_finite()))
            && model.sizes.len() == model.k
            // sizes are counts of rows: their sum must be a bigint
            && model.sizes.iter().try_fold(0i64, |sum, &n| i64::try_from(n).ok()?.checked_add(sum)).is_some()
            && model.scaler.center.iter().all(|c| c.is_finite())
            && match (&model.algorithm, &model.mixture) {
                (Algorithm::Kmeans, None) => true,
                (Algorithm::Gmm, Some(m)) => {
                    m.weights.len() == model.k
                        && m.covariances.len() == model.k
                        && m.covariances.iter().all(square)
                }
                _ => false,
            };
        if !consistent {
            return Err(MODEL_KIND.damaged("its sizes do not agree with k and feature_names".into()));
        }
        Ok(model)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a model of finite numbers serializes")
    }

    pub fn features(&self) -> usize {
        self.feature_names.len()
    }
}

/// Scores rows against a model: the centroids (and mixture components) in scaled space.
pub struct Scorer {
    scaler: Scaler,
    dimensions: usize,
    /// k x d, row-major.
    centroids: Vec<f64>,
    components: Option<Vec<Component>>,
}

/// A mixture component ready for scoring: log(weight) - log det(L) and the Cholesky factor
/// L of its covariance (lower, row-major).
struct Component {
    log_constant: f64,
    cholesky: Vec<f64>,
}

impl Scorer {
    pub fn new(model: &Model) -> Result<Scorer> {
        let d = model.features();
        let mut centroids = vec![0.0; model.k * d];
        for (centroid, out) in model.centroids.iter().zip(centroids.chunks_mut(d)) {
            model.scaler.scale_into(centroid, out);
        }
        let components = match &model.mixture {
            None => None,
            Some(mixture) => Some(
                mixture
                    .weights
                    .iter()
                    .zip(&mixture.covariances)
                    .map(|(&weight, covariance)| {
                        let cholesky = mixture::cholesky(covariance).ok_or_else(|| {
                            Error::invalid_parameter(
                                "the k-means model is damaged: a covariance is not positive definite",
                            )
                        })?;
                        let log_det: f64 = (0..d).map(|i| cholesky[i * d + i].ln()).sum();
                        Ok(Component { log_constant: weight.ln() - log_det, cholesky })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        Ok(Scorer { scaler: model.scaler.clone(), dimensions: d, centroids, components })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The 0-based segment of a row of original features and its Euclidean distance to
    /// that segment's centroid in scaled space. `scratch` holds d values.
    pub fn assign(&self, row: &[f64], scratch: &mut [f64]) -> (usize, f64) {
        self.scaler.scale_into(row, scratch);
        self.assign_scaled(scratch)
    }

    /// As `assign`, for a row already scaled by the model's scaler.
    fn assign_scaled(&self, scaled: &[f64]) -> (usize, f64) {
        let d = self.dimensions;
        let squared = |s: usize| -> f64 {
            let centroid = &self.centroids[s * d..(s + 1) * d];
            scaled.iter().zip(centroid).map(|(x, c)| (x - c) * (x - c)).sum()
        };
        let segments = self.centroids.len() / d;
        let segment = match &self.components {
            None => nearest_centroid(scaled, &self.centroids),
            // highest log density of weight x N(mean, covariance); ties to the lower segment
            Some(components) => {
                let mut solved = vec![0.0; d];
                (0..segments).fold((0, f64::NEG_INFINITY), |best, s| {
                    let component = &components[s];
                    let centroid = &self.centroids[s * d..(s + 1) * d];
                    // L y = x - mean by forward substitution; the Mahalanobis term is |y|^2
                    for i in 0..d {
                        let row = &component.cholesky[i * d..i * d + i];
                        let partial: f64 = row.iter().zip(&solved[..i]).map(|(l, y)| l * y).sum();
                        solved[i] = (scaled[i] - centroid[i] - partial) / component.cholesky[i * d + i];
                    }
                    let mahalanobis: f64 = solved.iter().map(|y| y * y).sum();
                    let log_density = component.log_constant - 0.5 * mahalanobis;
                    if log_density > best.1 {
                        (s, log_density)
                    } else {
                        best
                    }
                })
            }
        }
        .0;
        (segment, squared(segment).sqrt())
    }
}

/// A fit: the model, each row's 1-based segment and distance (in input order), and the
/// names of constant feature columns.
pub struct Fitted {
    pub model: Model,
    pub segments: Vec<(u32, f64)>,
    pub constant_features: Vec<String>,
}

/// Rows (each key with `width` values) sorted by key, repeated keys by their values: the
/// order a fit sees them in, so that the same rows in any order give the same model.
pub fn rows_in_key_order(mut keys: Vec<String>, values: Vec<f64>, width: usize) -> (Vec<String>, Vec<f64>) {
    let width = width.max(1);
    let row = |i: usize| &values[i * width..(i + 1) * width];
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        keys[a].cmp(&keys[b]).then_with(|| {
            row(a)
                .iter()
                .zip(row(b))
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let sorted_values = order.iter().flat_map(|&i| row(i).iter().copied()).collect();
    let sorted_keys = order.iter().map(|&i| std::mem::take(&mut keys[i])).collect();
    (sorted_keys, sorted_values)
}

/// Fits `data` (rows x features, original units).
pub fn fit(
    mut data: Array2<f64>,
    feature_names: Vec<String>,
    options: &FitOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<Fitted> {
    options.check(data.nrows())?;
    check_magnitudes(data.view(), &feature_names)?;
    let (scaler, constant) = Scaler::fit(options.scale, data.view());
    scaler.scale_rows(&mut data);
    fit_scaled(data.view(), &scaler, &constant, &feature_names, options, interrupt)
}

/// Fits rows already scaled by `scaler`; `constant` lists the constant feature columns.
fn fit_scaled(
    scaled: ArrayView2<f64>,
    scaler: &Scaler,
    constant: &[usize],
    feature_names: &[String],
    options: &FitOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<Fitted> {
    let (centers, mixture, iterations) = match options.algorithm {
        Algorithm::Kmeans => {
            let (centers, iterations) = lloyd(scaled, options, interrupt)?;
            (centers, None, Some(iterations))
        }
        Algorithm::Gmm => {
            let (centers, mixture) = gaussian_mixture(scaled, options, interrupt)?;
            (centers, Some(mixture), None)
        }
    };
    let d = scaled.ncols();
    let centroids: Vec<Vec<f64>> = centers
        .rows()
        .into_iter()
        .map(|center| {
            let mut original = vec![0.0; d];
            scaler.unscale_into(
                center.as_slice().expect("rows of a standard array are contiguous"),
                &mut original,
            );
            original
        })
        .collect();
    let mut model = Model {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        algorithm: options.algorithm,
        k: options.k,
        feature_names: feature_names.to_vec(),
        scaler: scaler.clone(),
        centroids,
        sizes: vec![0; options.k],
        inertia: 0.0,
        silhouette: None,
        iterations,
        seed: options.seed,
        n_rows: scaled.nrows() as u64,
        n_init: options.n_init,
        max_iter: options.max_iter,
        tolerance: options.tolerance,
        mixture,
    };

    // Number the segments by size (descending), then by centroid coordinates.
    let provisional = score_rows(&model, scaled, interrupt)?;
    let mut sizes = vec![0u64; options.k];
    provisional.iter().for_each(|&(s, _)| sizes[s] += 1);
    let mut order: Vec<usize> = (0..options.k).collect();
    order.sort_by(|&a, &b| {
        sizes[b].cmp(&sizes[a]).then_with(|| {
            model.centroids[a]
                .iter()
                .zip(&model.centroids[b])
                .map(|(x, y)| x.total_cmp(y))
                .fold(std::cmp::Ordering::Equal, std::cmp::Ordering::then)
        })
    });
    model.centroids = order.iter().map(|&s| model.centroids[s].clone()).collect();
    if let Some(mixture) = &mut model.mixture {
        mixture.weights = order.iter().map(|&s| mixture.weights[s]).collect();
        mixture.covariances = order.iter().map(|&s| mixture.covariances[s].clone()).collect();
    }

    // The final scores come from the finished model, as kmeans_assign computes them.
    let scored = score_rows(&model, scaled, interrupt)?;
    model.sizes = vec![0; options.k];
    scored.iter().for_each(|&(s, _)| model.sizes[s] += 1);
    model.inertia = scored.iter().map(|&(_, distance)| distance * distance).sum();
    let labels: Vec<usize> = scored.iter().map(|&(s, _)| s).collect();
    model.silhouette = silhouette(scaled, &labels, options.k, SILHOUETTE_SAMPLE, options.seed, interrupt);
    Ok(Fitted {
        segments: scored.into_iter().map(|(s, distance)| (s as u32 + 1, distance)).collect(),
        constant_features: constant.iter().map(|&j| feature_names[j].clone()).collect(),
        model,
    })
}

/// Every scaled row's 0-based segment and distance under `model`, rows in parallel.
fn score_rows(
    model: &Model,
    scaled: ArrayView2<f64>,
    interrupt: &mut dyn FnMut(),
) -> Result<Vec<(usize, f64)>> {
    interrupt();
    let scorer = Scorer::new(model)?;
    let d = scaled.ncols();
    let data = rows_of(&scaled);
    let mut scores = vec![(0, 0.0); scaled.nrows()];
    parallel::for_each_rows(&mut scores, 1, |first, out| {
        for (i, score) in out.iter_mut().enumerate() {
            let row = first + i;
            *score = scorer.assign_scaled(&data[row * d..(row + 1) * d]);
        }
    });
    interrupt();
    Ok(scores)
}

/// k-means on scaled rows: greedy k-means++ seeds, then Lloyd steps (`lloyd_step`) until
/// the centroids moved by at most tolerance x (mean variance of the scaled features) in
/// squared distance summed over centroids (scikit-learn's rule), or after max_iter steps.
/// Of n_init runs, the one with the lowest inertia is kept. Returns the centroids (each
/// the mean of the rows its last step gave it) and the kept run's steps.
fn lloyd(
    scaled: ArrayView2<f64>,
    options: &FitOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<(Array2<f64>, u32)> {
    let (k, d) = (options.k, scaled.ncols());
    let data = rows_of(&scaled);
    let variances = ColumnStats::of(data, d).variance;
    let tolerance = options.tolerance * variances.iter().sum::<f64>() / d.max(1) as f64;
    let mut seeds = Xoshiro256Plus::seed_from_u64(options.seed);
    let mut best: Option<(f64, Vec<f64>, u32)> = None;
    for _ in 0..options.n_init {
        interrupt();
        let mut rng = Xoshiro256Plus::from_rng(&mut seeds).expect("xoshiro seeds from xoshiro");
        let mut centroids = greedy_kmeans_plusplus(data, d, k, &mut rng, interrupt);
        let mut iterations = 0;
        let inertia = loop {
            interrupt();
            let step = lloyd_step(data, d, &centroids);
            iterations += 1;
            let updated = step.means(&centroids);
            let shift: f64 = updated.iter().zip(&centroids).map(|(a, b)| (a - b) * (a - b)).sum();
            centroids = updated;
            if shift <= tolerance || iterations >= options.max_iter {
                // of the assignment before this last update, as scikit-learn's
                break step.inertia;
            }
        };
        if best.as_ref().is_none_or(|(lowest, _, _)| inertia < *lowest) {
            best = Some((inertia, centroids, iterations));
        }
    }
    let (_, centroids, iterations) = best.expect("n_init >= 1");
    let centroids = Array2::from_shape_vec((k, d), centroids).expect("k x d centroids");
    Ok((centroids, iterations))
}

/// One Lloyd step's totals: per centroid the sum and count of the rows nearest to it, and
/// the sum of their squared distances.
pub struct LloydStep {
    sums: Vec<f64>,
    counts: Vec<u64>,
    pub inertia: f64,
}

impl LloydStep {
    /// The new centroids: each the mean of its rows; one without rows stays where it was.
    pub fn means(&self, centroids: &[f64]) -> Vec<f64> {
        let d = centroids.len() / self.counts.len();
        let mut means = centroids.to_vec();
        for ((mean, sum), &count) in
            means.chunks_exact_mut(d).zip(self.sums.chunks_exact(d)).zip(&self.counts)
        {
            if count > 0 {
                mean.iter_mut().zip(sum).for_each(|(m, s)| *m = s / count as f64);
            }
        }
        means
    }
}

/// Assigns every row (rows of `d` values, one after the other) to its nearest centroid
/// (ties to the lower one) and sums what the update needs, over blocks of rows in
/// parallel. Written here rather than taken from linfa: bench/lloyd_step.rs times one
/// step of each on the same 1M x 8 rows.
pub fn lloyd_step(data: &[f64], d: usize, centroids: &[f64]) -> LloydStep {
    let k = centroids.len() / d;
    let n = data.len() / d;
    let partial = parallel::map_blocks(n, |rows| {
        let mut step = LloydStep { sums: vec![0.0; k * d], counts: vec![0; k], inertia: 0.0 };
        for row in data[rows.start * d..rows.end * d].chunks_exact(d) {
            let (nearest, distance) = nearest_centroid(row, centroids);
            step.sums[nearest * d..(nearest + 1) * d].iter_mut().zip(row).for_each(|(s, x)| *s += x);
            step.counts[nearest] += 1;
            step.inertia += distance;
        }
        step
    });
    let mut total = LloydStep { sums: vec![0.0; k * d], counts: vec![0; k], inertia: 0.0 };
    for block in partial {
        total.sums.iter_mut().zip(&block.sums).for_each(|(t, s)| *t += s);
        total.counts.iter_mut().zip(&block.counts).for_each(|(t, c)| *t += c);
        total.inertia += block.inertia;
    }
    total
}

/// The nearest of `centroids` (rows of row.len() values) to `row` and the squared
/// distance to it; ties go to the lower index.
fn nearest_centroid(row: &[f64], centroids: &[f64]) -> (usize, f64) {
    centroids.chunks_exact(row.len()).enumerate().fold((0, f64::INFINITY), |best, (s, centroid)| {
        let distance = squared_distance(row, centroid);
        if distance < best.1 {
            (s, distance)
        } else {
            best
        }
    })
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Greedy k-means++ (Arthur and Vassilvitskii 2007, as scikit-learn seeds k-means): each
/// centroid after the first is the best of 2 + ln k candidates drawn with probability
/// proportional to the squared distance to the nearest centroid so far, "best" meaning
/// the lowest sum of those distances once it is added. linfa offers the plain k-means++
/// (one candidate); on the benchmark's 8 overlapping blobs (10,000 rows) a run seeded by
/// it ended at an inertia of 27,141 where this seeding and scikit-learn reach 22,671.
/// Returns the k centroids, row after row.
fn greedy_kmeans_plusplus(
    data: &[f64],
    d: usize,
    k: usize,
    rng: &mut Xoshiro256Plus,
    interrupt: &mut dyn FnMut(),
) -> Vec<f64> {
    let n = data.len() / d;
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let trials = 2 + (k as f64).ln() as usize;
    let mut chosen = vec![rng.gen_range(0..n)];
    let mut nearest = vec![0.0; n];
    let update = |nearest: &mut [f64], centroid: &[f64], first_centroid: bool| {
        parallel::for_each_rows(nearest, 1, |first, out| {
            for (i, near) in out.iter_mut().enumerate() {
                let distance = squared_distance(row(first + i), centroid);
                *near = if first_centroid { distance } else { near.min(distance) };
            }
        })
    };
    update(&mut nearest, row(chosen[0]), true);
    while chosen.len() < k {
        interrupt();
        let cumulative: Vec<f64> = nearest
            .iter()
            .scan(0.0, |total, x| {
                *total += x;
                Some(*total)
            })
            .collect();
        let potential = cumulative[n - 1];
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                // all points at distance 0 from the centroids: any point will do
                if potential > 0.0 {
                    let target = rng.gen::<f64>() * potential;
                    cumulative.partition_point(|&c| c <= target).min(n - 1)
                } else {
                    rng.gen_range(0..n)
                }
            })
            .collect();
        // every candidate's potential in one pass over the rows
        let partial = parallel::map_blocks(n, |rows| {
            let mut totals = vec![0.0; candidates.len()];
            for i in rows {
                for (total, &candidate) in totals.iter_mut().zip(&candidates) {
                    *total += nearest[i].min(squared_distance(row(i), row(candidate)));
                }
            }
            totals
        });
        let mut totals = vec![0.0; candidates.len()];
        for block in partial {
            totals.iter_mut().zip(block).for_each(|(t, b)| *t += b);
        }
        // the lowest potential; ties to the earlier candidate
        let best = (1..candidates.len()).fold(0, |best, c| if totals[c] < totals[best] { c } else { best });
        chosen.push(candidates[best]);
        update(&mut nearest, row(candidates[best]), false);
    }
    chosen.iter().flat_map(|&i| row(i).to_vec()).collect()
}

/// A Gaussian mixture (full covariances) by EM (core/mixture.rs), each of n_init runs
/// started from a k-means run of its own seed; the run with the highest likelihood is kept.
fn gaussian_mixture(
    scaled: ArrayView2<f64>,
    options: &FitOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<(Array2<f64>, Mixture)> {
    let d = scaled.ncols();
    let mut best: Option<(f64, mixture::Components)> = None;
    for run in 0..options.n_init {
        let kmeans = FitOptions { n_init: 1, seed: options.seed.wrapping_add(run as u64), ..options.clone() };
        let (centers, _) = lloyd(scaled, &kmeans, interrupt)?;
        // 0 would never stop early
        let tolerance = options.tolerance.max(1e-12);
        let (components, log_likelihood) =
            mixture::fit(rows_of(&scaled), d, rows_of(&centers), options.max_iter, tolerance, interrupt)?;
        if best.as_ref().is_none_or(|(b, _)| log_likelihood > *b) {
            best = Some((log_likelihood, components));
        }
    }
    let (_, components) = best.expect("n_init is at least 1");
    let centers = Array2::from_shape_vec((options.k, d), components.means).expect("k means of d values");
    Ok((centers, Mixture { weights: components.weights, covariances: components.covariances }))
}

/// Mean silhouette (Euclidean) of `labels` over a seeded sample of at most `sample_size`
/// rows; None when the sample has fewer than 2 segments or as many segments as rows.
///
/// Hand-written rather than linfa's `silhouette_score`: linfa 0.8.1 takes 6.7 s on 10,000
/// rows of 8 features (a hash map lookup per pair, one thread); this loop, which computes
/// each pair once, 0.23 s on one core. The core tests check the two agree.
pub fn silhouette(
    scaled: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
    sample_size: usize,
    seed: u64,
    interrupt: &mut dyn FnMut(),
) -> Option<f64> {
    let n = scaled.nrows();
    let mut rows: Vec<usize> = if n <= sample_size {
        (0..n).collect()
    } else {
        sample(&mut Xoshiro256Plus::seed_from_u64(seed), n, sample_size).into_vec()
    };
    rows.sort_unstable();
    let mut counts = vec![0usize; k];
    rows.iter().for_each(|&i| counts[labels[i]] += 1);
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present < 2 || present >= rows.len() {
        return None;
    }
    // The sample's rows side by side, and each row's summed distance to each segment;
    // every pair is computed once and counted for both rows.
    let d = scaled.ncols();
    let m = rows.len();
    let points: Vec<f64> = rows.iter().flat_map(|&i| scaled.row(i).to_vec()).collect();
    let sample_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    // Rows i in parts of about equal pair counts, each part summing its own totals; the
    // parts are added in order, so the result does not depend on the number of cores.
    interrupt();
    let parts = pair_parts(m, SILHOUETTE_PARTS);
    let partial = parallel::map_ranges(&parts, parallel::threads_for(m * m / 2), |part| {
        let mut totals = vec![0.0; m * k];
        for i in part {
            let x = &points[i * d..(i + 1) * d];
            for j in i + 1..m {
                let distance = squared_distance(x, &points[j * d..(j + 1) * d]).sqrt();
                totals[i * k + sample_labels[j]] += distance;
                totals[j * k + sample_labels[i]] += distance;
            }
        }
        totals
    });
    interrupt();
    let mut totals = vec![0.0; m * k];
    for part in partial {
        totals.iter_mut().zip(part).for_each(|(t, p)| *t += p);
    }
    let mut sum = 0.0;
    for (i, &own) in sample_labels.iter().enumerate() {
        let totals = &totals[i * k..(i + 1) * k];
        // a row alone in its segment has silhouette 0 (Rousseeuw's convention, as scikit-learn)
        if counts[own] > 1 {
            let a = totals[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&s| s != own && counts[s] > 0)
                .map(|s| totals[s] / counts[s] as f64)
                .fold(f64::INFINITY, f64::min);
            sum += (b - a) / a.max(b);
        }
    }
    Some(sum / m as f64)
}

/// The silhouette's pair loop is cut into this many parts, whatever the number of cores.
const SILHOUETTE_PARTS: usize = 8;

/// 0..m cut into `parts` ranges of rows i, each holding about as many pairs (i, j > i).
fn pair_parts(m: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let total = m * m.saturating_sub(1) / 2;
    let mut bounds = vec![0];
    let mut pairs = 0;
    for i in 0..m {
        pairs += m - 1 - i;
        if pairs * parts >= total * bounds.len() && bounds.len() < parts {
            bounds.push(i + 1);
        }
    }
    bounds.push(m);
    bounds.dedup();
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

/// One line of kmeans_choose_k.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub best: bool,
}

/// Fits every k in k_min..=k_max (capped at the number of rows) and marks the one with the
/// highest silhouette as best (ties to the smaller k). The rows are scaled once for all.
pub fn choose_k(
    mut data: Array2<f64>,
    feature_names: &[String],
    options: &FitOptions,
    k_min: usize,
    k_max: usize,
    interrupt: &mut dyn FnMut(),
) -> Result<Vec<Choice>> {
    if k_min < 1 || k_max < k_min {
        return Err(Error::invalid_parameter(format!(
            "k_min ({k_min}) and k_max ({k_max}) must satisfy 1 <= k_min <= k_max"
        )));
    }
    if k_max > MAX_K {
        return Err(Error::invalid_parameter(format!("k_max must be at most {MAX_K}, not {k_max}")));
    }
    check_magnitudes(data.view(), feature_names)?;
    let (scaler, constant) = Scaler::fit(options.scale, data.view());
    scaler.scale_rows(&mut data);
    let mut choices = Vec::new();
    for k in k_min..=k_max.min(data.nrows()) {
        let options = FitOptions { k, ..options.clone() };
        options.check(data.nrows())?;
        let fitted = fit_scaled(data.view(), &scaler, &constant, feature_names, &options, interrupt)?;
        choices.push(Choice {
            k,
            inertia: fitted.model.inertia,
            silhouette: fitted.model.silhouette,
            best: false,
        });
    }
    if choices.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "k_min ({k_min}) is larger than the number of rows with features ({})",
            data.nrows()
        )));
    }
    let best = choices.iter().enumerate().filter_map(|(i, c)| c.silhouette.map(|s| (i, s))).fold(
        None,
        |best: Option<(usize, f64)>, (i, s)| match best {
            Some((_, top)) if top >= s => best,
            _ => Some((i, s)),
        },
    );
    if let Some((i, _)) = best {
        choices[i].best = true;
    }
    Ok(choices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::Rng;
    use rand_distr::{Distribution, Normal};

    fn options(k: usize, scale: ScaleMethod) -> FitOptions {
        FitOptions {
            k,
            scale,
            seed: 0,
            n_init: 3,
            max_iter: 300,
            tolerance: 1e-4,
            algorithm: Algorithm::Kmeans,
        }
    }

    fn names(d: usize) -> Vec<String> {
        (1..=d).map(|j| format!("f{j}")).collect()
    }

    /// `per_blob` points around each center, sd 0.5, and the blob of each point.
    fn blobs(centers: &[[f64; 2]], per_blob: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let noise = Normal::new(0.0, 0.5).unwrap();
        let mut data = Array2::zeros((centers.len() * per_blob, 2));
        let mut truth = Vec::new();
        for i in 0..centers.len() * per_blob {
            let blob = rng.gen_range(0..centers.len());
            for j in 0..2 {
                data[[i, j]] = centers[blob][j] + noise.sample(&mut rng);
            }
            truth.push(blob);
        }
        (data, truth)
    }

    #[test]
    fn hand_computed_two_segments() {
        // 1-D points 0, 1, 10, 11 and k = 2 without scaling: the segments are {0, 1} and
        // {10, 11}, centroids 0.5 and 10.5; each point is 0.5 from its centroid, so the
        // inertia is 4 x 0.25 = 1. Sizes tie (2, 2): the smaller centroid is segment 1.
        // Silhouette of 0: a = 1 (to 1), b = mean(10, 11) = 10.5, s = 9.5 / 10.5; of 1:
        // a = 1, b = mean(9, 10) = 9.5, s = 8.5 / 9.5; symmetric for 10 and 11.
        let data = array![[10.0], [0.0], [11.0], [1.0]];
        let fitted = fit(data, names(1), &options(2, ScaleMethod::None), &mut || {}).unwrap();
        let model = &fitted.model;
        assert_eq!(model.centroids, vec![vec![0.5], vec![10.5]]);
        assert_eq!(model.sizes, vec![2, 2]);
        assert!((model.inertia - 1.0).abs() < 1e-12);
        let segments: Vec<u32> = fitted.segments.iter().map(|s| s.0).collect();
        assert_eq!(segments, vec![2, 1, 2, 1]);
        assert!(fitted.segments.iter().all(|s| (s.1 - 0.5).abs() < 1e-12));
        let silhouette = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        assert!((model.silhouette.unwrap() - silhouette).abs() < 1e-12);
    }

    #[test]
    fn blobs_are_recovered() {
        let centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let (data, truth) = blobs(&centers, 500, 1);
        for algorithm in [Algorithm::Kmeans, Algorithm::Gmm] {
            let fitted = fit(
                data.clone(),
                names(2),
                &FitOptions { algorithm, ..options(3, ScaleMethod::Zscore) },
                &mut || {},
            )
            .unwrap();
            // every blob lands in one segment, and the three segments differ
            let mut segment_of_blob = [None; 3];
            for (&(segment, _), &blob) in fitted.segments.iter().zip(&truth) {
                assert_eq!(*segment_of_blob[blob].get_or_insert(segment), segment, "{algorithm:?}");
            }
            let mut found: Vec<u32> = segment_of_blob.iter().map(|s| s.unwrap()).collect();
            found.sort();
            assert_eq!(found, vec![1, 2, 3]);
            // the centroids, in original units, are the blob centers within the noise
            for (blob, center) in centers.iter().enumerate() {
                let centroid = &fitted.model.centroids[segment_of_blob[blob].unwrap() as usize - 1];
                assert!((centroid[0] - center[0]).abs() < 0.1 && (centroid[1] - center[1]).abs() < 0.1);
            }
            assert!(fitted.model.silhouette.unwrap() > 0.8);
        }
    }

    #[test]
    fn same_seed_same_model_and_segments_ordered_by_size() {
        let (data, _) = blobs(&[[0.0, 0.0], [3.0, 3.0], [6.0, 0.0], [3.0, -3.0]], 300, 2);
        let first = fit(data.clone(), names(2), &options(4, ScaleMethod::Zscore), &mut || {}).unwrap();
        let again = fit(data, names(2), &options(4, ScaleMethod::Zscore), &mut || {}).unwrap();
        assert_eq!(first.model.to_json(), again.model.to_json());
        assert_eq!(first.segments, again.segments);
        assert!(first.model.sizes.windows(2).all(|pair| pair[0] >= pair[1]));
        assert_eq!(first.model.sizes.iter().sum::<u64>(), 1200);
    }

    #[test]
    fn ties_in_size_are_ordered_by_centroid() {
        // two groups of 3 points: the one at larger coordinates would come first by index
        let data = array![[5.0, 5.0], [5.0, 5.0], [5.0, 5.0], [1.0, 9.0], [1.0, 9.0], [1.0, 9.0]];
        let fitted = fit(data, names(2), &options(2, ScaleMethod::None), &mut || {}).unwrap();
        assert_eq!(fitted.model.centroids, vec![vec![1.0, 9.0], vec![5.0, 5.0]]);
    }

    #[test]
    fn scalers_use_the_population_sd_and_round_trip() {
        // column 1: mean 2.5, population sd sqrt(((1.5)^2 + (0.5)^2) * 2 / 4) = sqrt(1.25);
        // column 2 is constant: scale 1 and reported
        let data = array![[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0]];
        let (zscore, constant) = Scaler::fit(ScaleMethod::Zscore, data.view());
        assert_eq!(zscore.center, vec![2.5, 7.0]);
        assert!((zscore.scale[0] - 1.25f64.sqrt()).abs() < 1e-15);
        assert_eq!(zscore.scale[1], 1.0);
        assert_eq!(constant, vec![1]);
        let (minmax, _) = Scaler::fit(ScaleMethod::Minmax, data.view());
        assert_eq!((minmax.center.clone(), minmax.scale.clone()), (vec![1.0, 7.0], vec![3.0, 1.0]));
        for scaler in [zscore, minmax] {
            let (mut scaled, mut back) = ([0.0; 2], [0.0; 2]);
            scaler.scale_into(&[3.7, -2.0], &mut scaled);
            scaler.unscale_into(&scaled, &mut back);
            assert!((back[0] - 3.7).abs() < 1e-14 && (back[1] + 2.0).abs() < 1e-14);
        }
    }

    #[test]
    fn rows_come_in_key_order_whatever_their_order() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sorted = (keys(&["a", "b", "b", "c"]), vec![1.0, 1.0, 2.0, 0.0, 2.0, 9.0, 3.0, 3.0]);
        let shuffled =
            rows_in_key_order(keys(&["c", "b", "a", "b"]), vec![3.0, 3.0, 2.0, 9.0, 1.0, 1.0, 2.0, 0.0], 2);
        assert_eq!(shuffled, sorted, "keys in byte order, the repeated key 'b' by its values");
    }

    /// The silhouette's tables, counted by hand: 8 parts and the sum, each 10,000 rows by
    /// 1,000 segments of 8 bytes, are 720 MB; the estimate covers them and, on sizes no
    /// machine holds, saturates instead of wrapping.
    #[test]
    fn the_working_memory_estimate_covers_the_silhouette_and_saturates() {
        let estimate = options(1000, ScaleMethod::Zscore).working_bytes(10_000, 2);
        assert!(estimate >= 9 * 10_000 * 1000 * 8, "{estimate}");
        assert!(estimate < 800 * 1024 * 1024, "{estimate}");
        let gmm = FitOptions { algorithm: Algorithm::Gmm, ..options(MAX_K, ScaleMethod::None) };
        assert_eq!(gmm.working_bytes(usize::MAX, usize::MAX), usize::MAX);
    }

    #[test]
    fn silhouette_agrees_with_linfa() {
        use linfa::metrics::SilhouetteScore;
        use linfa::DatasetBase;
        // linfa's silhouette_score is an independent implementation of the same definition
        let (data, _) = blobs(&[[0.0, 0.0], [2.0, 1.0], [4.0, 0.0]], 100, 3);
        let labels: Vec<usize> =
            data.rows().into_iter().map(|r| (r[0] / 1.5).floor().clamp(0.0, 2.0) as usize).collect();
        let ours = silhouette(data.view(), &labels, 3, 10_000, 0, &mut || {}).unwrap();
        let dataset = DatasetBase::new(data.clone(), ndarray::Array1::from(labels));
        let theirs = dataset.silhouette_score().unwrap();
        assert!((ours - theirs).abs() < 1e-12, "{ours} vs {theirs}");
    }

    #[test]
    fn models_round_trip_and_score_as_the_fit_did() {
        let (data, _) = blobs(&[[0.0, 0.0], [4.0, 4.0], [8.0, 0.0]], 200, 4);
        for algorithm in [Algorithm::Kmeans, Algorithm::Gmm] {
            let fitted = fit(
                data.clone(),
                names(2),
                &FitOptions { algorithm, ..options(3, ScaleMethod::Minmax) },
                &mut || {},
            )
            .unwrap();
            let parsed = Model::from_json(&fitted.model.to_json()).unwrap();
            assert_eq!(parsed, fitted.model);
            let scorer = Scorer::new(&parsed).unwrap();
            let mut scratch = [0.0; 2];
            for (row, &(segment, distance)) in data.rows().into_iter().zip(&fitted.segments) {
                let (s, d) = scorer.assign(row.as_slice().unwrap(), &mut scratch);
                assert_eq!((s as u32 + 1, d), (segment, distance));
            }
        }
    }

    #[test]
    fn other_json_is_refused() {
        let (data, _) = blobs(&[[0.0, 0.0], [4.0, 4.0]], 50, 5);
        let text = fit(data, names(2), &options(2, ScaleMethod::Zscore), &mut || {}).unwrap().model.to_json();
        for other in [
            "[]".to_string(),
            r#"{"format": "pg_marketing.clv", "version": 1}"#.to_string(),
            text.replace(r#""version":1"#, r#""version":2"#),
            text.replace(r#""k":2"#, r#""k":3"#),
        ] {
            let error = Model::from_json(&other).unwrap_err();
            assert_eq!(error.kind, crate::core::error::ErrorKind::InvalidParameter, "{other}");
        }
    }

    #[test]
    fn bad_options_are_refused() {
        let data = array![[1.0], [2.0]];
        for (k, n_init, max_iter, tolerance) in
            [(0, 1, 1, 0.0), (3, 1, 1, 0.0), (1, 0, 1, 0.0), (1, 1, 0, 0.0), (1, 1, 1, -1.0)]
        {
            let options = FitOptions { n_init, max_iter, tolerance, ..options(k, ScaleMethod::None) };
            assert!(fit(data.clone(), names(1), &options, &mut || {}).is_err());
        }
        assert!(ScaleMethod::parse("robust").is_err() && Algorithm::parse("dbscan").is_err());
    }

    #[test]
    fn pair_parts_hold_about_equal_pair_counts() {
        // 1,000 rows: 499,500 pairs, about 62,437 per part of 8
        let parts = pair_parts(1_000, 8);
        assert_eq!(parts.len(), 8);
        assert_eq!((parts[0].start, parts[7].end), (0, 1_000));
        let pairs = |r: &std::ops::Range<usize>| r.clone().map(|i| 999 - i).sum::<usize>();
        assert!(parts.iter().all(|r| pairs(r).abs_diff(62_437) < 1_000), "{parts:?}");
        assert_eq!(pair_parts(1, 8), vec![0..1]);
        assert!(pair_parts(0, 8).is_empty());
    }

    #[test]
    fn choosing_k_finds_the_blobs() {
        let (data, _) = blobs(&[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]], 100, 6);
        let choices = choose_k(data, &names(2), &options(1, ScaleMethod::Zscore), 2, 6, &mut || {}).unwrap();
        assert_eq!(choices.iter().map(|c| c.k).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
        assert_eq!(choices.iter().filter(|c| c.best).map(|c| c.k).collect::<Vec<_>>(), vec![4]);
        assert!(choices.windows(2).all(|pair| pair[1].inertia <= pair[0].inertia));
    }
}
