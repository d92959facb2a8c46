//! kmeans_fit, kmeans_segment, kmeans_assign, kmeans_distance, kmeans_profile and
//! kmeans_choose_k: the SQL surface of src/core/clustering.rs. Reference: docs/segmentation.md.

use ndarray::Array2;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use super::model_cache::{with_cached_model, JsonbDatum};
use super::required;
use crate::core::clustering::{self, Algorithm, FitOptions, Model, ScaleMethod, Scorer};
use crate::core::parallel;
use crate::error::{Error, ErrorKind, OrRaise};
use crate::input::{self, column, Kind, More, Row, Shape};
use crate::interrupt;

/// (key, f1, f2, ...) with numeric features, or (key, features float8[]).
const FEATURES: Shape = Shape {
    argument: "features",
    columns: &[column("key", Kind::Key)],
    more: More::Repeated(column("feature", Kind::Feature)),
};

/// The rows read from a features query, ready to fit.
struct Features {
    keys: Vec<String>,
    names: Vec<String>,
    data: Array2<f64>,
}

/// Reads `features`, skipping rows with a NULL key or feature (a NOTICE counts them), and
/// sorts the rows by key (repeated keys by their features), so that a fit sees the same rows
/// in the same order whatever the query's order or plan. Reading stays within
/// pg_marketing.memory_budget (input checks it every batch of rows). The passes over these
/// rows that follow use at most pg_marketing.max_threads threads.
fn read_features(features: &str) -> Features {
    parallel::limit_threads(crate::max_threads());
    let mut keys: Vec<String> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut reader = FeatureReader::new(1);
    input::for_each_row(&FEATURES, features, |row| match (reader.read(row), row.text(0)) {
        (Some(row_values), Some(key)) => {
            keys.push(key.to_string());
            values.extend_from_slice(row_values);
        }
        _ => reader.skipped += 1,
    });
    reader.notice_skipped();
    let names = reader.names.unwrap_or_default();
    let (keys, values) = clustering::rows_in_key_order(keys, values, names.len());
    let data =
        Array2::from_shape_vec((keys.len(), names.len()), values).expect("rows x features values were read");
    Features { keys, names, data }
}

/// Reads the features of rows whose columns from `first` on are numbers, or one float8[]:
/// names from the first row, the same count in every row.
pub(super) struct FeatureReader {
    first: usize,
    pub names: Option<Vec<String>>,
    values: Vec<f64>,
    /// Rows the caller skipped (NULL key, feature or label), for notice_skipped.
    pub skipped: u64,
}

impl FeatureReader {
    pub fn new(first: usize) -> Self {
        FeatureReader { first, names: None, values: Vec::new(), skipped: 0 }
    }

    /// The row's features; None if any is NULL. 22023 if their count differs from the
    /// first row's.
    pub fn read(&mut self, row: &Row) -> Option<&[f64]> {
        let complete = self.read_with_missing(row).iter().all(|x| !x.is_nan());
        complete.then_some(&self.values[..])
    }

    /// The row's features, NaN for a NULL one. 22023 if their count differs from the first
    /// row's.
    pub fn read_with_missing(&mut self, row: &Row) -> &[f64] {
        let first = self.first;
        let names = self.names.get_or_insert_with(|| feature_names(row, first));
        self.values.clear();
        read_row(row, first, names.len(), &mut self.values);
        if self.values.len() != names.len() {
            Error::invalid_parameter(format!(
                "{}: the row with key '{}' has {} features, but the first row has {}",
                row.argument(),
                row.text(0).as_deref().unwrap_or("NULL"),
                self.values.len(),
                names.len()
            ))
            .with_hint("every features array must have the same length")
            .raise();
        }
        &self.values
    }

    pub fn notice_skipped(&self) {
        if self.skipped > 0 {
            notice!("pg_marketing: {} row(s) with a NULL key or feature were skipped", self.skipped);
        }
    }
}

/// The features' names: the columns' names from `first` on, or name[1], name[2], ... for
/// an array column.
fn feature_names(row: &Row, first: usize) -> Vec<String> {
    if row.column_count() <= first {
        Error::datatype_mismatch(format!(
            "{}: the query has no feature column; add at least one after the first {first}",
            row.argument()
        ))
        .raise();
    }
    if row.is_array(first) {
        if row.column_count() > first + 1 {
            Error::datatype_mismatch(format!(
                "{}: a float8[] feature column must be the only feature column",
                row.argument()
            ))
            .raise();
        }
        let length = row.numbers(first).map_or(0, |values| values.len());
        (1..=length).map(|i| format!("{}[{i}]", row.column_name(first))).collect()
    } else {
        (first..row.column_count()).map(|i| row.column_name(i).to_string()).collect()
    }
}

/// Appends the row's features to `out`, NaN for a NULL one (input refuses NaN values, so
/// NaN means NULL here); a NULL array is `width` NULL features.
fn read_row(row: &Row, first: usize, width: usize, out: &mut Vec<f64>) {
    if row.is_array(first) {
        match row.numbers(first) {
            Some(values) => out.extend(values.into_iter().map(|x| x.unwrap_or(f64::NAN))),
            None => out.resize(width, f64::NAN),
        }
    } else {
        out.extend((first..row.column_count()).map(|i| row.number(i).unwrap_or(f64::NAN)));
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_options(
    k: i32,
    scale: Option<&str>,
    seed: Option<i64>,
    n_init: Option<i32>,
    max_iter: Option<i32>,
    tolerance: Option<f64>,
    algorithm: Option<&str>,
) -> FitOptions {
    let count = |value: Option<i32>, argument: &str| {
        let value = required(value, argument);
        usize::try_from(value)
            .unwrap_or_else(|_| Error::invalid_parameter(format!("{argument} must be at least 1")).raise())
    };
    FitOptions {
        k: count(Some(k), "k"),
        scale: ScaleMethod::parse(required(scale, "scale")).or_raise(),
        seed: required(seed, "seed") as u64,
        n_init: count(n_init, "n_init"),
        max_iter: u32::try_from(required(max_iter, "max_iter"))
            .unwrap_or_else(|_| Error::invalid_parameter("max_iter must be at least 1").raise()),
        tolerance: required(tolerance, "tolerance"),
        algorithm: Algorithm::parse(required(algorithm, "algorithm")).or_raise(),
    }
}

fn fit(features: Option<&str>, options: &FitOptions) -> (Vec<String>, clustering::Fitted) {
    let Features { keys, names, data } = read_features(required(features, "features"));
    require_working_memory(options, data.nrows(), data.ncols());
    let started = std::time::Instant::now();
    let fitted = clustering::fit(data, names, options, &mut interrupt).or_raise();
    // the fit alone, without reading the rows: what bench/run.py compares with scikit-learn
    debug1!("pg_marketing: fit seconds: {:.6}", started.elapsed().as_secs_f64());
    if !fitted.constant_features.is_empty() {
        notice!(
            "pg_marketing: constant feature(s) {} got scale 1; they do not separate segments",
            fitted.constant_features.join(", ")
        );
    }
    (keys, fitted)
}

/// Refuses with 54000, before fitting, a fit whose working memory would not fit the budget.
fn require_working_memory(options: &FitOptions, rows: usize, d: usize) {
    // a k out of bounds is the caller's 22023, not a matter of memory
    options.check(rows).or_raise();
    crate::memory::require(
        options.working_bytes(rows, d),
        &format!("a fit of k = {} on {rows} rows of {d} features", options.k),
        "choose a smaller k, fewer features or a sample of the rows",
    );
}

/// Fits k segments and returns the model.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn kmeans_fit(
    features: Option<&str>,
    k: Option<i32>,
    scale: default!(Option<&str>, "'zscore'"),
    seed: default!(Option<i64>, "0"),
    n_init: default!(Option<i32>, "3"),
    max_iter: default!(Option<i32>, "300"),
    tolerance: default!(Option<f64>, "1e-4"),
    algorithm: default!(Option<&str>, "'kmeans'"),
) -> JsonB {
    let options = fit_options(required(k, "k"), scale, seed, n_init, max_iter, tolerance, algorithm);
    let (_, fitted) = fit(features, &options);
    JsonB(serde_json::to_value(&fitted.model).expect("a model serialises"))
}

/// Fits k segments and returns each row's segment and distance to its centroid.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn kmeans_segment(
    features: Option<&str>,
    k: Option<i32>,
    scale: default!(Option<&str>, "'zscore'"),
    seed: default!(Option<i64>, "0"),
    n_init: default!(Option<i32>, "3"),
    max_iter: default!(Option<i32>, "300"),
    tolerance: default!(Option<f64>, "1e-4"),
    algorithm: default!(Option<&str>, "'kmeans'"),
) -> TableIterator<'static, (name!(key, String), name!(segment, i32), name!(distance, f64))> {
    let options = fit_options(required(k, "k"), scale, seed, n_init, max_iter, tolerance, algorithm);
    let (keys, fitted) = fit(features, &options);
    TableIterator::new(
        keys.into_iter()
            .zip(fitted.segments)
            .map(|(key, (segment, distance))| (key, segment as i32, distance)),
    )
}

/// The segment (1-based) and distance of one row of features; NULL if a feature is NULL.
/// The parsed model and its scorer are cached per call site.
fn score(
    fcinfo: pg_sys::FunctionCallInfo,
    model: &JsonbDatum,
    features: pgrx::Array<f64>,
) -> Option<(i32, f64)> {
    let parse = |text: &str| {
        let model = Model::from_json(text)?;
        let scorer = Scorer::new(&model)?;
        Ok((model, scorer))
    };
    with_cached_model(fcinfo, model, parse, |(model, scorer)| {
        if features.len() != scorer.dimensions() {
            Error::invalid_parameter(format!(
                "features has {} values, but the model was fitted on {} ({})",
                features.len(),
                scorer.dimensions(),
                model.feature_names.join(", ")
            ))
            .raise();
        }
        let d = scorer.dimensions();
        let mut buffer = vec![0.0; 2 * d];
        let (row, scratch) = buffer.split_at_mut(d);
        for (out, value) in row.iter_mut().zip(features.iter()) {
            let value = value?;
            if !value.is_finite() {
                Error::invalid_parameter("features must not contain NaN or infinity").raise();
            }
            *out = value;
        }
        let (segment, distance) = scorer.assign(row, scratch);
        if !distance.is_finite() {
            Error::new(ErrorKind::OutOfRange, "features are too large for a distance in float8")
                .with_hint("features must be of the size the model was fitted on")
                .raise();
        }
        Some((segment as i32 + 1, distance))
    })
}

/// The segment of a row of features under a model from kmeans_fit.
#[pg_extern(immutable, parallel_safe, strict)]
fn kmeans_assign(
    model: JsonbDatum,
    features: pgrx::Array<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<i32> {
    score(fcinfo, &model, features).map(|(segment, _)| segment)
}

/// The Euclidean distance, in scaled space, from a row of features to its segment's centroid.
#[pg_extern(immutable, parallel_safe, strict)]
fn kmeans_distance(
    model: JsonbDatum,
    features: pgrx::Array<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<f64> {
    score(fcinfo, &model, features).map(|(_, distance)| distance)
}

/// One row per segment: its size, share of the fitted rows and centroid in original units.
#[pg_extern(immutable, parallel_safe, strict)]
fn kmeans_profile(
    model: JsonbDatum,
) -> TableIterator<
    'static,
    (
        name!(segment, i32),
        name!(size, i64),
        name!(share, f64),
        name!(centroid, Vec<f64>),
        name!(feature_names, Vec<String>),
    ),
> {
    let model = Model::from_json(&model.text()).or_raise();
    let total: u64 = model.sizes.iter().sum();
    let rows: Vec<_> = model
        .centroids
        .iter()
        .zip(&model.sizes)
        .enumerate()
        .map(|(i, (centroid, &size))| {
            let share = if total == 0 { 0.0 } else { size as f64 / total as f64 };
            (i as i32 + 1, size as i64, share, centroid.clone(), model.feature_names.clone())
        })
        .collect();
    TableIterator::new(rows)
}

/// Fits every k from k_min to k_max and reports inertia and silhouette; best marks the k
/// with the highest silhouette.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn kmeans_choose_k(
    features: Option<&str>,
    scale: default!(Option<&str>, "'zscore'"),
    seed: default!(Option<i64>, "0"),
    n_init: default!(Option<i32>, "3"),
    max_iter: default!(Option<i32>, "300"),
    tolerance: default!(Option<f64>, "1e-4"),
    algorithm: default!(Option<&str>, "'kmeans'"),
    k_min: default!(Option<i32>, "2"),
    k_max: default!(Option<i32>, "10"),
) -> TableIterator<
    'static,
    (name!(k, i32), name!(inertia, f64), name!(silhouette, Option<f64>), name!(best, bool)),
> {
    let options = fit_options(1, scale, seed, n_init, max_iter, tolerance, algorithm);
    let bound = |value: Option<i32>, argument: &str| {
        usize::try_from(required(value, argument))
            .unwrap_or_else(|_| Error::invalid_parameter(format!("{argument} must be at least 1")).raise())
    };
    let (k_min, k_max) = (bound(k_min, "k_min"), bound(k_max, "k_max"));
    let Features { names, data, .. } = read_features(required(features, "features"));
    // the largest k fitted needs the most; k ranges choose_k refuses get its own message
    let largest = k_max.min(data.nrows());
    if (1..=largest).contains(&k_min) && k_max <= clustering::MAX_K {
        require_working_memory(&FitOptions { k: largest, ..options.clone() }, data.nrows(), data.ncols());
    }
    let choices = clustering::choose_k(data, &names, &options, k_min, k_max, &mut interrupt).or_raise();
    TableIterator::new(choices.into_iter().map(|c| (c.k as i32, c.inertia, c.silhouette, c.best)))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, sqlstate_of};

    /// 600 points in three blobs around (0, 0), (10, 0) and (0, 10), the noise a hash of
    /// the id in [-1, 1); `blob` is the truth.
    fn blobs() {
        Spi::run(
            "CREATE TABLE blobs AS
             SELECT id, id % 3 AS blob,
                    CASE id % 3 WHEN 1 THEN 10 ELSE 0 END + (hashint4(id) % 1000) / 1000.0 AS x,
                    CASE id % 3 WHEN 2 THEN 10 ELSE 0 END + (hashint4(id + 7919) % 1000) / 1000.0 AS y
             FROM generate_series(1, 600) AS id",
        )
        .unwrap();
    }

    #[pg_test]
    fn segments_recover_the_blobs() {
        blobs();
        for algorithm in ["kmeans", "gmm"] {
            Spi::run(&format!(
                "CREATE TEMP TABLE s AS SELECT * FROM kmeans_segment('SELECT id, x, y FROM blobs', 3, algorithm => '{algorithm}')"
            ))
            .unwrap();
            // each blob in one segment, each segment one blob
            assert_eq!(
                count("SELECT count(DISTINCT (blob, segment)) FROM s JOIN blobs ON s.key = blobs.id::text"),
                3
            );
            assert_eq!(count("SELECT count(DISTINCT segment) FROM s"), 3);
            assert_eq!(count("SELECT count(*) FROM s WHERE distance >= 0"), 600);
            Spi::run("DROP TABLE s").unwrap();
        }
    }

    #[pg_test]
    fn assign_equals_segment_for_every_fitted_row_after_a_round_trip_through_a_table() {
        blobs();
        Spi::run(
            "CREATE TABLE models AS SELECT 'blobs' AS name, kmeans_fit('SELECT id, x, y FROM blobs', 4, seed => 11) AS model;
             CREATE TABLE s AS SELECT * FROM kmeans_segment('SELECT id, x, y FROM blobs', 4, seed => 11)",
        )
        .unwrap();
        let disagreements = count(
            "SELECT count(*) FROM s JOIN blobs b ON s.key = b.id::text, models m
             WHERE kmeans_assign(m.model, ARRAY[b.x, b.y]::float8[]) IS DISTINCT FROM s.segment
                OR kmeans_distance(m.model, ARRAY[b.x, b.y]::float8[]) IS DISTINCT FROM s.distance",
        );
        assert_eq!(disagreements, 0);
        // the array form reads the same features
        let differing = count(
            "SELECT count(*) FROM s JOIN kmeans_segment('SELECT id, ARRAY[x, y]::float8[] FROM blobs', 4, seed => 11) a
             USING (key) WHERE a.segment <> s.segment",
        );
        assert_eq!(differing, 0);
    }

    #[pg_test]
    fn profile_and_model_fields() {
        blobs();
        Spi::run("CREATE TABLE m AS SELECT kmeans_fit('SELECT id, x, y FROM blobs', 3) AS model").unwrap();
        assert_eq!(count("SELECT sum(size)::bigint FROM m, kmeans_profile(m.model)"), 600);
        let share: f64 = Spi::get_one("SELECT sum(share) FROM m, kmeans_profile(m.model)").unwrap().unwrap();
        assert!((share - 1.0).abs() < 1e-12);
        // sizes descend; the centroids are the blob centres (noise mean about 0) in original units
        assert_eq!(
            count("SELECT count(*) FROM m, kmeans_profile(m.model) p WHERE p.feature_names = '{x,y}'"),
            3
        );
        let near = count(
            "SELECT count(*) FROM m, kmeans_profile(m.model) p
             WHERE least(abs(p.centroid[1]), abs(p.centroid[1] - 10)) < 0.2
               AND least(abs(p.centroid[2]), abs(p.centroid[2] - 10)) < 0.2",
        );
        assert_eq!(near, 3);
        let fields = count(
            "SELECT count(*) FROM m WHERE model ?& ARRAY['format', 'version', 'algorithm', 'k', 'feature_names',
                'scaler', 'centroids', 'sizes', 'inertia', 'silhouette', 'iterations', 'seed', 'n_rows']
               AND model->'scaler'->>'method' = 'zscore' AND (model->>'n_rows')::int = 600",
        );
        assert_eq!(fields, 1);
    }

    #[pg_test]
    fn choose_k_marks_one_best() {
        blobs();
        let rows = count(
            "SELECT count(*) FROM kmeans_choose_k('SELECT id, x, y FROM blobs', k_min => 2, k_max => 5)",
        );
        assert_eq!(rows, 4);
        let best = Spi::get_one::<i32>(
            "SELECT k FROM kmeans_choose_k('SELECT id, x, y FROM blobs', k_min => 2, k_max => 5) WHERE best",
        )
        .unwrap();
        assert_eq!(best, Some(3));
    }

    #[pg_test]
    fn nulls_skip_rows_and_scoring_returns_null() {
        blobs();
        Spi::run("UPDATE blobs SET x = NULL WHERE id <= 10").unwrap();
        let rows = count("SELECT (kmeans_fit('SELECT id, x, y FROM blobs', 3)->>'n_rows')::bigint");
        assert_eq!(rows, 590);
        let null = Spi::get_one::<i32>(
            "SELECT kmeans_assign(kmeans_fit('SELECT id, 1 + id % 2, id FROM blobs', 2), ARRAY[1, NULL]::float8[])",
        )
        .unwrap();
        assert_eq!(null, None);
    }

    #[pg_test]
    fn bad_input_raises_the_documented_sqlstates() {
        blobs();
        let fit = |arguments: &str| format!("SELECT kmeans_fit('SELECT id, x, y FROM blobs', {arguments})");
        for arguments in [
            "0",
            "601",
            "3, n_init => 0",
            "3, max_iter => 0",
            "3, tolerance => -1",
            "3, scale => 'robust'",
            "3, algorithm => 'dbscan'",
        ] {
            assert_eq!(sqlstate_of(&fit(arguments)).as_deref(), Some("22023"), "{arguments}");
        }
        let (state, message) = error_of(
            "SELECT kmeans_fit('SELECT id, CASE WHEN id = 5 THEN ''NaN'' ELSE x END, y FROM blobs', 2)",
        )
        .unwrap();
        assert_eq!(state, "22023");
        assert!(message.contains("'5'"), "{message}");
        let (state, message) = error_of(
            "SELECT kmeans_fit('SELECT id, CASE WHEN id = 9 THEN ARRAY[x] ELSE ARRAY[x, y] END::float8[] FROM blobs', 2)",
        )
        .unwrap();
        assert_eq!(state, "22023");
        assert!(message.contains("'9'"), "{message}");
        assert_eq!(
            sqlstate_of("SELECT kmeans_fit('SELECT id, x::text FROM blobs', 2)").as_deref(),
            Some("42804")
        );
        assert_eq!(sqlstate_of("SELECT kmeans_fit('SELECT id FROM blobs', 2)").as_deref(), Some("42804"));

        Spi::run("CREATE TABLE m AS SELECT kmeans_fit('SELECT id, x, y FROM blobs', 2) AS model").unwrap();
        for call in [
            "SELECT kmeans_assign('{\"format\": \"pg_marketing.clv\", \"version\": 1}', ARRAY[1, 2]::float8[])",
            "SELECT kmeans_assign(jsonb_set(model, '{version}', '2'), ARRAY[1, 2]::float8[]) FROM m",
            "SELECT kmeans_assign(model, ARRAY[1, 2, 3]::float8[]) FROM m",
            "SELECT kmeans_distance(model, ARRAY['Infinity', 2]::float8[]) FROM m",
            "SELECT * FROM kmeans_profile('{}')",
        ] {
            assert_eq!(sqlstate_of(call).as_deref(), Some("22023"), "{call}");
        }
    }

    /// In a test of its own: the budget counts what the statement added since it first read
    /// input, and the errors above add the standard library's backtrace cache to that.
    #[pg_test]
    fn the_memory_budget_bounds_a_fit() {
        blobs();
        // 600 rows x 2 features fit in 16 MB; 1,000,000 rows hold 16 MB of feature values
        // alone, besides their keys
        Spi::run("SET pg_marketing.memory_budget = '16MB'").unwrap();
        assert_eq!(error_of("SELECT kmeans_fit('SELECT id, x, y FROM blobs', 2)"), None);
        let (state, message) =
            error_of("SELECT kmeans_fit('SELECT i, i, i FROM generate_series(1, 1000000) i', 2)").unwrap();
        assert_eq!(state, "54000");
        assert!(message.contains("memory_budget"), "{message}");
    }

    /// The silhouette step of k = 1,000 on 10,000 rows holds 720 MB at once: the fit is
    /// refused before it starts, naming k, not after the seeding and Lloyd's passes.
    #[pg_test]
    fn a_fit_whose_working_memory_exceeds_the_budget_is_refused_before_it_starts() {
        Spi::run("SET pg_marketing.memory_budget = '256MB'").unwrap();
        let rows = "'SELECT i, i % 97, i % 89 FROM generate_series(1, 10000) i'";
        for call in [
            format!("SELECT kmeans_fit({rows}, 1000)"),
            format!("SELECT * FROM kmeans_segment({rows}, 1000)"),
            format!("SELECT * FROM kmeans_choose_k({rows}, k_min => 999, k_max => 1000)"),
        ] {
            let (state, message) = error_of(&call).unwrap();
            assert_eq!(state, "54000", "{call}");
            assert!(
                message.contains("a fit of k = 1000 on 10000 rows of 2 features needs about"),
                "{message}"
            );
        }
        // a k out of bounds stays the argument's error, with choose_k's own messages
        assert_eq!(sqlstate_of(&format!("SELECT kmeans_fit({rows}, 100000)")).as_deref(), Some("22023"));
        for (k_min, k_max, says) in
            [(2, 0, "k_min (2) and k_max (0)"), (2, 5000, "k_max must be at most 1000")]
        {
            let call = format!("SELECT * FROM kmeans_choose_k({rows}, k_min => {k_min}, k_max => {k_max})");
            let (state, message) = error_of(&call).unwrap();
            assert_eq!(state, "22023", "{call}");
            assert!(message.contains(says), "{message}");
        }
        let (_, message) = error_of("SELECT * FROM kmeans_choose_k('SELECT 1, 1 WHERE false')").unwrap();
        assert!(message.contains("larger than the number of rows with features (0)"), "{message}");
        Spi::run("RESET pg_marketing.memory_budget").unwrap();
    }
}
