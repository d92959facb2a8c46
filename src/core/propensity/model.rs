//! propensity_fit's model: the split of keys into training and holdout, the fit, and the
//! jsonb value that propensity_score, _evaluate, _metrics and _importance read.

use serde::{Deserialize, Serialize};

use super::logistic::{self, Logistic, LogisticOptions};
use super::metrics::{self, Metrics, Scored};
use super::trees::{self, Booster, EarlyStopping, GbtOptions};
use crate::core::clustering::check_magnitudes;
use crate::core::error::{Error, ErrorKind, Result};
use crate::core::hash::key_place;
use crate::core::model_json::ModelKind;
use crate::core::options::Options;

pub const MODEL_FORMAT: &str = "pg_marketing.propensity";
pub const MODEL_VERSION: u32 = 1;
pub const MAX_HOLDOUT: f64 = 0.9;
const MODEL_KIND: ModelKind =
    ModelKind { format: MODEL_FORMAT, version: MODEL_VERSION, name: "propensity", fitter: "propensity_fit" };

/// Labelled rows in key order (so that a fit does not depend on the rows' order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labelled {
    pub feature_names: Vec<String>,
    pub keys: Vec<String>,
    pub labels: Vec<bool>,
    /// keys.len() x feature_names.len(), row-major, finite; NaN is a missing value, which
    /// only gbt takes.
    pub features: Vec<f64>,
}

impl Labelled {
    /// Rows of `width` = 1 + features values each: the label as 0 or 1, then the features.
    pub fn from_label_rows(feature_names: Vec<String>, keys: Vec<String>, values: &[f64]) -> Labelled {
        let width = feature_names.len() + 1;
        let mut labelled = Labelled { feature_names, keys, ..Default::default() };
        for row in values.chunks_exact(width) {
            labelled.labels.push(row[0] == 1.0);
            labelled.features.extend_from_slice(&row[1..]);
        }
        labelled
    }

    fn rows(&self) -> trees::Rows<'_> {
        trees::Rows { features: &self.features, labels: &self.labels, d: self.feature_names.len() }
    }

    /// The rows whose key's place is below `holdout` (see hash::key_place), and the others.
    fn split(self, holdout: f64, seed: u64) -> (Labelled, Labelled) {
        let d = self.feature_names.len();
        let mut parts = [Labelled::default(), Labelled::default()];
        parts.iter_mut().for_each(|part| part.feature_names = self.feature_names.clone());
        for (i, (key, label)) in self.keys.into_iter().zip(self.labels).enumerate() {
            let part = &mut parts[usize::from(is_held_out(&key, holdout, seed))];
            part.features.extend_from_slice(&self.features[i * d..(i + 1) * d]);
            part.keys.push(key);
            part.labels.push(label);
        }
        let [training, held_out] = parts;
        (training, held_out)
    }
}

/// 22023 unless holdout is a share in [0, MAX_HOLDOUT].
pub fn check_holdout(holdout: f64) -> Result<()> {
    if !(0.0..=MAX_HOLDOUT).contains(&holdout) {
        return Err(Error::invalid_parameter(format!(
            "holdout must be between 0 and {MAX_HOLDOUT}, not {holdout}"
        )));
    }
    Ok(())
}

/// Whether propensity_fit holds out `key`: its place (hash::key_place) is below `holdout`.
pub fn is_held_out(key: &str, holdout: f64, seed: u64) -> bool {
    key_place(seed, key) < holdout
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Logistic,
    Gbt,
}

impl Algorithm {
    pub fn parse(text: &str) -> Result<Algorithm> {
        match text {
            "logistic" => Ok(Algorithm::Logistic),
            "gbt" => Ok(Algorithm::Gbt),
            _ => Err(Error::invalid_parameter(format!("unknown algorithm '{text}'"))
                .with_hint("the algorithms are 'gbt' (gradient-boosted trees) and 'logistic'")),
        }
    }

    /// Whether the algorithm takes missing (NULL) features; logistic needs every one.
    pub fn takes_missing(self) -> bool {
        self == Algorithm::Gbt
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassBalance {
    pub positives: u64,
    pub negatives: u64,
}

/// The model as propensity_fit returns it (jsonb).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    pub algorithm: Algorithm,
    pub feature_names: Vec<String>,
    /// Every option with the value used, defaults included.
    pub options: serde_json::Value,
    pub seed: i64,
    pub holdout: f64,
    /// The training rows' labels.
    pub class_balance: ClassBalance,
    /// Training rows.
    pub n_rows: u64,
    pub n_holdout_rows: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logistic: Option<Logistic>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gbt: Option<Booster>,
    /// propensity_metrics of the holdout rows; None without any.
    pub holdout_metrics: Option<Metrics>,
}

/// The options of each algorithm, with their defaults: docs/propensity.md.
const LOGISTIC_OPTIONS: [&str; 3] = ["l2", "max_iter", "tolerance"];
const GBT_OPTIONS: [&str; 11] = [
    "n_trees",
    "learning_rate",
    "max_depth",
    "max_leaves",
    "min_samples_leaf",
    "l2",
    "max_bins",
    "early_stopping",
    "validation_share",
    "n_iter_no_change",
    "tolerance",
];

/// gbt's early stopping watches the training keys whose place under seed + 1 is below
/// validation_share (default 0.1, as scikit-learn's validation_fraction).
const VALIDATION_SHARE: f64 = 0.1;

/// The booster's options, and the validation share when early stopping is on.
fn gbt_options(options: &Options) -> Result<(GbtOptions, Option<f64>)> {
    let d = GbtOptions::default();
    let integer = |name: &str, default: u32, min: i64, max: i64| -> Result<u32> {
        Ok(options.integer(name, default.into(), min, max)? as u32)
    };
    let early_stopping = options.boolean("early_stopping", false)?;
    let rule = EarlyStopping {
        n_iter_no_change: integer("n_iter_no_change", 10, 1, 10_000)?,
        tolerance: options.number("tolerance", 1e-7, 0.0, 1.0)?,
    };
    let validation_share = options.number("validation_share", VALIDATION_SHARE, 0.01, 0.5)?;
    let gbt = GbtOptions {
        n_trees: integer("n_trees", d.n_trees, 1, 10_000)?,
        learning_rate: options.number("learning_rate", d.learning_rate, 1e-6, 10.0)?,
        max_depth: integer("max_depth", d.max_depth, 1, 64)?,
        max_leaves: integer("max_leaves", d.max_leaves, 2, 65_536)?,
        min_samples_leaf: integer("min_samples_leaf", d.min_samples_leaf, 1, i64::from(u32::MAX))?,
        l2: options.number("l2", d.l2, 0.0, 1e12)?,
        max_bins: integer("max_bins", d.max_bins, 2, i64::from(trees::MAX_BINS))?,
        early_stopping: early_stopping.then_some(rule),
    };
    Ok((gbt, early_stopping.then_some(validation_share)))
}

fn gbt_options_used(o: &GbtOptions, validation_share: Option<f64>) -> serde_json::Value {
    let mut used = serde_json::json!({
        "n_trees": o.n_trees,
        "learning_rate": o.learning_rate,
        "max_depth": o.max_depth,
        "max_leaves": o.max_leaves,
        "min_samples_leaf": o.min_samples_leaf,
        "l2": o.l2,
        "max_bins": o.max_bins,
        "early_stopping": o.early_stopping.is_some(),
    });
    if let (Some(rule), Some(share)) = (o.early_stopping, validation_share) {
        used["validation_share"] = share.into();
        used["n_iter_no_change"] = rule.n_iter_no_change.into();
        used["tolerance"] = rule.tolerance.into();
    }
    used
}

fn logistic_options(options: &Options) -> Result<LogisticOptions> {
    let defaults = LogisticOptions::default();
    Ok(LogisticOptions {
        l2: options.optional_number("l2", 0.0, 1e12)?,
        max_iter: options.integer("max_iter", defaults.max_iter.into(), 1, 10_000)? as u32,
        tolerance: options.number("tolerance", defaults.tolerance, 1e-15, 1.0)?,
    })
}

/// Fits `rows` (in key order) with `algorithm`, holding out the keys of the lowest
/// `holdout` share of places for the model's metrics.
pub fn fit(
    rows: Labelled,
    algorithm: Algorithm,
    holdout: f64,
    seed: i64,
    options_text: Option<&str>,
    interrupt: &mut dyn FnMut(),
) -> Result<Model> {
    check_holdout(holdout)?;
    let known: &[&str] = match algorithm {
        Algorithm::Logistic => &LOGISTIC_OPTIONS,
        Algorithm::Gbt => &GBT_OPTIONS,
    };
    let options = Options::parse("options", options_text, known)?;
    if rows.feature_names.is_empty() {
        return Err(Error::invalid_parameter("training: there are no feature columns"));
    }
    if algorithm == Algorithm::Logistic {
        // squares of larger values overflow the standard deviations
        let shape = (rows.keys.len(), rows.feature_names.len());
        check_magnitudes(
            ndarray::ArrayView2::from_shape(shape, &rows.features).expect("rows x features values"),
            &rows.feature_names,
        )?;
    }
    let (mut training, held_out) = rows.split(holdout, seed as u64);
    let positives = training.labels.iter().filter(|&&y| y).count() as u64;
    let negatives = training.labels.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        let class = if positives == 0 { "negative" } else { "positive" };
        return Err(Error::invalid_parameter(format!(
            "training: the {} training row(s) are all {class}: a model needs both classes",
            training.labels.len()
        ))
        .with_hint("check the label column, or lower holdout if few rows are left for training"));
    }
    let feature_names = training.feature_names.clone();
    let d = feature_names.len();
    let (used, logistic, gbt) = match algorithm {
        Algorithm::Logistic => {
            let logistic_options = logistic_options(&options)?;
            let fitted =
                logistic::fit(&training.features, &training.labels, d, &logistic_options, interrupt)?;
            let used = serde_json::json!({
                "l2": fitted.l2,
                "max_iter": logistic_options.max_iter,
                "tolerance": logistic_options.tolerance,
            });
            (used, Some(fitted), None)
        }
        Algorithm::Gbt => {
            let (gbt_options, validation_share) = gbt_options(&options)?;
            let booster = match validation_share {
                None => trees::fit(training.rows(), None, &gbt_options, interrupt)?,
                Some(share) => {
                    // the training rows are not needed whole after this
                    let (fitting, validation) =
                        std::mem::take(&mut training).split(share, (seed as u64).wrapping_add(1));
                    if fitting.labels.iter().all(|&y| y) || fitting.labels.iter().all(|&y| !y) {
                        return Err(Error::invalid_parameter(
                            "training: without the validation rows the training rows are of one class",
                        )
                        .with_hint("lower validation_share, or turn early_stopping off"));
                    }
                    trees::fit(fitting.rows(), Some(validation.rows()), &gbt_options, interrupt)?
                }
            };
            (gbt_options_used(&gbt_options, validation_share), None, Some(booster))
        }
    };
    let mut model = Model {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        algorithm,
        feature_names,
        options: used,
        seed,
        holdout,
        class_balance: ClassBalance { positives, negatives },
        n_rows: positives + negatives,
        n_holdout_rows: held_out.labels.len() as u64,
        logistic,
        gbt,
        holdout_metrics: None,
    };
    model.holdout_metrics = metrics::metrics(&model.score_rows(held_out)?);
    Ok(model)
}

impl Model {
    pub fn from_json(text: &str) -> Result<Model> {
        let model: Model = MODEL_KIND.parse(text)?;
        let d = model.feature_names.len();
        let finite = |values: &[f64]| values.iter().all(|x| x.is_finite());
        let consistent = d > 0
            && match (model.algorithm, &model.logistic) {
                (Algorithm::Logistic, Some(l)) => {
                    model.gbt.is_none()
                        && l.coefficients.len() == d
                        && finite(&l.coefficients)
                        && l.intercept.is_finite()
                        && l.scaled_coefficients.len() == d
                        && finite(&l.scaled_coefficients)
                }
                (Algorithm::Gbt, None) => model.gbt.as_ref().is_some_and(|booster| booster.is_consistent(d)),
                _ => false,
            };
        if !consistent {
            return Err(MODEL_KIND.damaged("its parameters do not match its feature_names".into()));
        }
        Ok(model)
    }

    pub fn features(&self) -> usize {
        self.feature_names.len()
    }

    /// 22023 unless `found` features are what the model was fitted on.
    pub fn check_width(&self, found: usize) -> Result<()> {
        if found != self.features() {
            return Err(Error::invalid_parameter(format!(
                "the model was fitted on {} features ({}), but {found} are given",
                self.features(),
                self.feature_names.join(", ")
            )));
        }
        Ok(())
    }

    /// The probability of the positive class for one row of features, in the model's order;
    /// 22003 when features and coefficients are too large for a log-odds in float8.
    pub fn score(&self, features: &[f64]) -> Result<f64> {
        let probability = match (&self.logistic, &self.gbt) {
            (Some(logistic), _) => logistic.probability(features),
            (None, Some(booster)) => booster.probability(features),
            (None, None) => unreachable!("from_json and fit only make consistent models"),
        };
        if probability.is_nan() {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                "features are too large for a log-odds in float8 under this model",
            )
            .with_hint("features must be of the size the model was fitted on"));
        }
        Ok(probability)
    }

    pub fn score_rows(&self, rows: Labelled) -> Result<Vec<Scored>> {
        let d = rows.feature_names.len();
        rows.keys
            .into_iter()
            .zip(rows.labels)
            .zip(rows.features.chunks_exact(d.max(1)))
            .map(|((key, label), row)| Ok(Scored { key, score: self.score(row)?, label }))
            .collect()
    }

    /// Each feature's share of the total: for logistic of |coefficient| in z-scored units
    /// (a change of one standard deviation), for gbt of the loss its splits removed (gain);
    /// largest first, ties by name.
    pub fn importance(&self) -> Vec<(String, f64)> {
        let weights: Vec<f64> = match (&self.logistic, &self.gbt) {
            (Some(logistic), _) => logistic.scaled_coefficients.iter().map(|w| w.abs()).collect(),
            (None, Some(booster)) => booster.gain.clone(),
            (None, None) => unreachable!("from_json and fit only make consistent models"),
        };
        let total: f64 = weights.iter().sum();
        let mut shares: Vec<(String, f64)> = self
            .feature_names
            .iter()
            .cloned()
            .zip(weights.iter().map(|w| if total > 0.0 { w / total } else { 0.0 }))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2,000 customers, one informative feature, one noise feature, from a fixed rule.
    fn customers() -> Labelled {
        let mut rows = Labelled { feature_names: vec!["x".into(), "noise".into()], ..Default::default() };
        for i in 0..2_000u64 {
            let x = (i % 100) as f64 / 10.0;
            rows.keys.push(format!("c{i:05}"));
            rows.labels.push((i * 7919 % 100) as f64 / 10.0 < x);
            rows.features.extend([x, ((i * 31) % 17) as f64]);
        }
        rows
    }

    #[test]
    fn the_split_holds_out_the_documented_share_by_key_only() {
        let (training, held_out) = customers().split(0.2, 0);
        assert_eq!(training.keys.len() + held_out.keys.len(), 2_000);
        assert!((350..=450).contains(&held_out.keys.len()), "{}", held_out.keys.len());
        assert!(held_out.keys.iter().all(|k| key_place(0, k) < 0.2));
        // another seed, another split; holdout 0, none held out
        let (_, other) = customers().split(0.2, 1);
        assert_ne!(other.keys, held_out.keys);
        assert!(customers().split(0.0, 0).1.keys.is_empty());
    }

    #[test]
    fn a_fit_reports_its_holdout_metrics_and_round_trips_through_json() {
        let model = fit(customers(), Algorithm::Logistic, 0.2, 0, None, &mut || {}).unwrap();
        let m = model.holdout_metrics.as_ref().unwrap();
        assert_eq!(m.rows, model.n_holdout_rows);
        assert_eq!(model.n_rows + model.n_holdout_rows, 2_000);
        // x decides the label up to the rule's scatter: a ranking far better than chance
        assert!(m.auc.unwrap() > 0.8, "{m:?}");
        let importance = model.importance();
        assert_eq!(importance[0].0, "x");
        assert!((importance.iter().map(|i| i.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let text = serde_json::to_string(&model).unwrap();
        assert_eq!(Model::from_json(&text).unwrap(), model);
    }

    #[test]
    fn gbt_fits_deterministically_by_seed_takes_missing_values_and_stops_early_if_asked() {
        let fit_gbt = |rows: Labelled, seed: i64, options: Option<&str>| {
            fit(rows, Algorithm::Gbt, 0.2, seed, options, &mut || {}).unwrap()
        };
        let model = fit_gbt(customers(), 0, None);
        let m = model.holdout_metrics.as_ref().unwrap();
        assert!(m.auc.unwrap() > 0.8, "{m:?}");
        assert_eq!(model.gbt.as_ref().unwrap().trees.len(), 100);
        assert_eq!(model.importance()[0].0, "x");
        assert_eq!(model.options["max_leaves"], 31);
        assert_eq!(fit_gbt(customers(), 0, None), model);
        assert_ne!(fit_gbt(customers(), 1, None).gbt, model.gbt);
        let text = serde_json::to_string(&model).unwrap();
        assert_eq!(Model::from_json(&text).unwrap(), model);
        // the first tree's root splits x (feature 0); a feature 7 of 2 is damage
        let damaged = text.replacen(r#""feature":[0"#, r#""feature":[7"#, 1);
        assert!(damaged != text && Model::from_json(&damaged).is_err());

        // a missing x scores as the trees' learned direction sends it, not as an error
        let mut missing = customers();
        missing.features.iter_mut().step_by(2).skip(3).step_by(5).for_each(|x| *x = f64::NAN);
        let with_missing = fit_gbt(missing, 0, None);
        assert!(with_missing.score(&[f64::NAN, 3.0]).unwrap().is_finite());

        let stopped = fit_gbt(customers(), 0, Some(r#"{"early_stopping": true, "n_trees": 1000}"#));
        let booster = stopped.gbt.as_ref().unwrap();
        assert!(booster.stopped_early && booster.trees.len() < 1000, "{}", booster.trees.len());
        assert_eq!(
            (stopped.options["validation_share"].as_f64(), stopped.options["n_iter_no_change"].as_u64()),
            (Some(0.1), Some(10))
        );

        let message = |options: &str| {
            fit(customers(), Algorithm::Gbt, 0.2, 0, Some(options), &mut || {}).unwrap_err().message
        };
        assert!(message(r#"{"max_bins": 256}"#).contains("\"max_bins\" must be an integer between 2 and 255"));
        assert!(message(r#"{"max_iter": 5}"#).contains("unknown option \"max_iter\""));
        assert!(message(r#"{"early_stopping": 1}"#).contains("\"early_stopping\" must be true or false"));
    }

    #[test]
    fn bad_arguments_and_models_are_refused_naming_what_to_fix() {
        let message = |holdout: f64, options: Option<&str>| {
            fit(customers(), Algorithm::Logistic, holdout, 0, options, &mut || {}).unwrap_err().message
        };
        assert!(message(0.95, None).starts_with("holdout must be between 0 and 0.9"));
        assert!(message(0.2, Some(r#"{"n_trees": 5}"#)).contains("unknown option \"n_trees\""));
        assert!(message(0.2, Some(r#"{"l2": -1}"#)).contains("\"l2\""));
        let mut one_class = customers();
        one_class.labels.iter_mut().for_each(|y| *y = true);
        let error = fit(one_class, Algorithm::Logistic, 0.2, 0, None, &mut || {}).unwrap_err();
        assert!(error.message.contains("all positive"), "{error:?}");
        assert!(Algorithm::parse("svm").unwrap_err().message.contains("unknown algorithm 'svm'"));

        let model = fit(customers(), Algorithm::Logistic, 0.2, 0, None, &mut || {}).unwrap();
        let text = serde_json::to_string(&model).unwrap();
        for bad in [
            "{}".to_string(),
            "[1]".to_string(),
            text.replace(r#""version":1"#, r#""version":2"#),
            text.replace(r#""feature_names":["x","noise"]"#, r#""feature_names":["x"]"#),
        ] {
            assert!(Model::from_json(&bad).is_err(), "{bad}");
        }
        assert!(model.check_width(3).unwrap_err().message.contains("fitted on 2 features (x, noise)"));
        // coefficients of opposite signs on huge features: +inf - inf is no probability
        let mut huge = model.clone();
        huge.logistic.as_mut().unwrap().coefficients = vec![1e308, 1e308];
        assert_eq!(huge.score(&[1e10, -1e10]).unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(huge.score(&[1e10, 1e10]), Ok(1.0));
        let mut too_large = customers();
        too_large.features[3] = 1e101;
        let error = fit(too_large, Algorithm::Logistic, 0.2, 0, None, &mut || {}).unwrap_err();
        assert_eq!((error.kind, error.message.contains("noise")), (ErrorKind::OutOfRange, true), "{error:?}");
    }
}
