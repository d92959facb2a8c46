//! purchase_features, propensity_fit, propensity_score, propensity_evaluate,
//! propensity_metrics and propensity_importance: the SQL surface of src/core/propensity.
//! Reference: docs/propensity.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use super::model_cache::{with_cached_model, JsonbDatum};
use super::segments::FeatureReader;
use super::{finite_micros, required, TRANSACTIONS};
use crate::core::clustering::rows_in_key_order;
use crate::core::propensity::features::Cutoff;
use crate::core::propensity::metrics;
use crate::core::propensity::model::{self, Algorithm, Labelled, Model};
use crate::core::rfm::CustomerSummaries;
use crate::error::{Error, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

/// as_of + horizon by Postgres' own timestamptz arithmetic (months by the calendar, in the
/// session's time zone), as `ts < as_of + horizon` reads in SQL; 22023 unless it is later
/// than as_of.
fn horizon_end(as_of: TimestampWithTimeZone, horizon: Interval) -> i64 {
    let end = Spi::get_one_with_args::<TimestampWithTimeZone>(
        // schema-qualified, so that no search_path can put another operator here
        "SELECT $1 OPERATOR(pg_catalog.+) $2",
        &[as_of.into(), horizon.into()],
    )
    .expect("timestamptz + interval either succeeds or raises 22008")
    .expect("the sum of two non-NULL values is not NULL");
    let end = finite_micros(end, "as_of + horizon");
    if end <= finite_micros(as_of, "as_of") {
        Error::invalid_parameter(
            "horizon must be a positive interval: as_of + horizon must be later than as_of",
        )
        .raise();
    }
    end
}

/// Per customer with a transaction before as_of: recency, frequency, monetary value, tenure,
/// the mean gap between purchases and the last 90 days' purchases, from transactions before
/// as_of only; label: whether the customer bought in [as_of, as_of + horizon). See
/// docs/propensity.md.
#[pg_extern(volatile, parallel_unsafe)]
fn purchase_features(
    transactions: Option<&str>,
    as_of: Option<TimestampWithTimeZone>,
    horizon: default!(Option<Interval>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(customer_key, String),
        name!(recency_days, f64),
        name!(frequency, i64),
        name!(monetary_mean, f64),
        name!(monetary_total, f64),
        name!(tenure_days, f64),
        name!(mean_days_between, Option<f64>),
        name!(purchases_last_90d, i64),
        name!(amount_last_90d, f64),
        name!(label, Option<bool>),
    ),
> {
    let transactions = required(transactions, "transactions");
    let as_of_ts = required(as_of, "as_of");
    let cutoff = Cutoff {
        as_of: finite_micros(as_of_ts, "as_of"),
        label_until: horizon.map(|horizon| horizon_end(as_of_ts, horizon)),
    };
    let mut customers = CustomerSummaries::new(None);
    input::for_each_row(&TRANSACTIONS, transactions, |row| {
        // a NULL amount counts as a purchase of 0, as in rfm_score
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            if let Some(placed) = cutoff.place(ts, row.number(2).unwrap_or(0.0)) {
                customers.merge(key.as_key(), placed);
            }
        }
    });
    let (keys, purchases) = customers.into_sorted(&mut interrupt);
    let rows: Vec<_> = keys
        .into_iter()
        .zip(purchases)
        .filter_map(|(key, purchases)| {
            let f = cutoff.features(&purchases)?;
            Some((
                key,
                f.recency_days,
                f.frequency as i64,
                f.monetary_mean,
                f.monetary_total,
                f.tenure_days,
                f.mean_days_between,
                f.purchases_last_90d as i64,
                f.amount_last_90d,
                f.label,
            ))
        })
        .collect();
    TableIterator::new(rows)
}

const LABELLED: [input::Column; 2] = [column("key", Kind::Key), column("label", Kind::Label)];

const fn labelled_shape(argument: &'static str) -> Shape {
    Shape { argument, columns: &LABELLED, more: More::Repeated(column("feature", Kind::Feature)) }
}

const TRAINING: Shape = labelled_shape("training");
const DATA: Shape = labelled_shape("data");

/// Reads (key, label, features...) rows, skipping those with a NULL key or label, and
/// those with a NULL feature unless `missing` (then NaN stands for it), with a NOTICE
/// counting the skipped; returns them in key order.
fn read_labelled(shape: &Shape, query: &str, missing: bool) -> Labelled {
    let mut keys: Vec<String> = Vec::new();
    // per row: the label as 0 or 1, then the features, so that one sort orders both
    let mut values: Vec<f64> = Vec::new();
    let mut reader = FeatureReader::new(2);
    input::for_each_row(shape, query, |row| {
        let features = if missing { Some(reader.read_with_missing(row)) } else { reader.read(row) };
        match (row.text(0), row.label(1), features) {
            (Some(key), Some(label), Some(features)) => {
                keys.push(key.to_string());
                values.push(if label { 1.0 } else { 0.0 });
                values.extend_from_slice(features);
            }
            _ => reader.skipped += 1,
        }
    });
    if reader.skipped > 0 {
        let what = if missing { "key or label" } else { "key, label or feature" };
        notice!("pg_marketing: {} row(s) with a NULL {what} were skipped", reader.skipped);
    }
    let feature_names = reader.names.unwrap_or_default();
    let width = feature_names.len() + 1;
    let (keys, values) = rows_in_key_order(keys, values, width);
    Labelled::from_label_rows(feature_names, keys, &values)
}

fn parse_model(model: &JsonbDatum) -> Model {
    Model::from_json(&model.text()).or_raise()
}

/// Reads `data` and scores it with `model`.
fn score_data(model: &Model, data: &str) -> Vec<metrics::Scored> {
    let rows = read_labelled(&DATA, data, model.algorithm.takes_missing());
    if !rows.keys.is_empty() {
        model.check_width(rows.feature_names.len()).or_raise();
    }
    model.score_rows(rows).or_raise()
}

/// Fits a model of the label from the features of `training`, holding out a seeded share of
/// keys for the metrics the model reports; returns the model as jsonb.
#[pg_extern(volatile, parallel_unsafe)]
fn propensity_fit(
    training: Option<&str>,
    algorithm: default!(Option<&str>, "'gbt'"),
    holdout: default!(Option<f64>, "0.2"),
    seed: default!(Option<i64>, "0"),
    options: default!(Option<JsonbDatum>, "'{}'"),
) -> JsonB {
    let algorithm = Algorithm::parse(required(algorithm, "algorithm")).or_raise();
    let holdout = required(holdout, "holdout");
    let seed = required(seed, "seed");
    let options = options.map(|options| options.text());
    let rows = read_labelled(&TRAINING, required(training, "training"), algorithm.takes_missing());
    let model = model::fit(rows, algorithm, holdout, seed, options.as_deref(), &mut interrupt).or_raise();
    if model.logistic.as_ref().is_some_and(|l| !l.converged) {
        warning!(
            "pg_marketing: the logistic fit did not converge in {} iterations; raise max_iter or l2",
            model.logistic.as_ref().map_or(0, |l| l.iterations)
        );
    }
    JsonB(serde_json::to_value(&model).expect("a model serialises"))
}

/// The probability of the positive class for one row of features under a model from
/// propensity_fit. A NULL feature is a missing value under gbt, and makes the score NULL
/// under logistic.
#[pg_extern(immutable, parallel_safe, strict)]
fn propensity_score(
    model: JsonbDatum,
    features: pgrx::Array<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<f64> {
    with_cached_model(fcinfo, &model, Model::from_json, |model| {
        model.check_width(features.len()).or_raise();
        let missing = model.algorithm.takes_missing();
        let mut row = Vec::with_capacity(features.len());
        for value in features.iter() {
            let value = match value {
                Some(value) if !value.is_finite() => {
                    Error::invalid_parameter("features must not contain NaN or infinity").raise()
                }
                Some(value) => value,
                None if missing => f64::NAN,
                None => return None,
            };
            row.push(value);
        }
        Some(model.score(&row).or_raise())
    })
}

/// The gains table of `data` under `model`: rows by descending score cut into `bins` bins.
#[pg_extern(volatile, parallel_unsafe)]
fn propensity_evaluate(
    model: Option<JsonbDatum>,
    data: Option<&str>,
    bins: default!(Option<i32>, "10"),
) -> TableIterator<
    'static,
    (
        name!(bin, i32),
        name!(customers, i64),
        name!(positives, i64),
        name!(min_score, f64),
        name!(max_score, f64),
        name!(rate, f64),
        name!(lift, Option<f64>),
        name!(cumulative_positives_share, Option<f64>),
    ),
> {
    let model = parse_model(&required(model, "model"));
    let bins = required(bins, "bins");
    if !(1..=1_000_000).contains(&bins) {
        Error::invalid_parameter(format!("bins must be between 1 and 1000000, not {bins}")).raise();
    }
    let scored = score_data(&model, required(data, "data"));
    let table = metrics::gains(scored, bins as u32);
    TableIterator::new(table.into_iter().map(|b| {
        (
            b.bin as i32,
            b.customers as i64,
            b.positives as i64,
            b.min_score,
            b.max_score,
            b.rate,
            b.lift,
            b.cumulative_positives_share,
        )
    }))
}

/// auc, log_loss, brier, accuracy, base_rate and rows of `data` under `model`.
#[pg_extern(volatile, parallel_unsafe)]
fn propensity_metrics(
    model: Option<JsonbDatum>,
    data: Option<&str>,
) -> TableIterator<'static, (name!(metric, String), name!(value, Option<f64>))> {
    let model = parse_model(&required(model, "model"));
    let scored = score_data(&model, required(data, "data"));
    // without rows, every metric but rows is NULL
    let m = metrics::metrics(&scored);
    let rows = [
        ("auc", m.as_ref().and_then(|m| m.auc)),
        ("log_loss", m.as_ref().map(|m| m.log_loss)),
        ("brier", m.as_ref().map(|m| m.brier)),
        ("accuracy", m.as_ref().map(|m| m.accuracy)),
        ("base_rate", m.as_ref().map(|m| m.base_rate)),
        ("rows", Some(m.as_ref().map_or(0.0, |m| m.rows as f64))),
    ];
    TableIterator::new(rows.into_iter().map(|(metric, value)| (metric.to_string(), value)))
}

/// Whether propensity_fit with this holdout and seed holds out `key` (as text): to evaluate
/// a model on its own holdout rows.
#[pg_extern(immutable, parallel_safe, strict)]
fn propensity_holdout(key: &str, holdout: default!(f64, "0.2"), seed: default!(i64, "0")) -> bool {
    model::check_holdout(holdout).or_raise();
    model::is_held_out(key, holdout, seed as u64)
}

/// Each feature's importance in the model, largest first; they sum to 1.
#[pg_extern(immutable, parallel_safe, strict)]
fn propensity_importance(
    model: JsonbDatum,
) -> TableIterator<'static, (name!(feature, String), name!(importance, f64))> {
    TableIterator::new(parse_model(&model).importance())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, load_cdnow, sqlstate_of};

    /// Repurchase within 90 days of 1997-10-01 from four purchase_features of CDNOW.
    fn cdnow_training() {
        load_cdnow();
        Spi::run(
            "CREATE TABLE tr AS
             SELECT customer_key AS k, label, recency_days, frequency::float8 AS frequency, monetary_mean, tenure_days
             FROM purchase_features('cdnow_orders(customer_id, order_date, amount)', '1997-10-01', '90 days')",
        )
        .unwrap();
    }

    /// The fit is the optimum of the documented objective: its gradient, written here in SQL
    /// from the reported coefficients, propensity_score and SQL's own means and population
    /// standard deviations, is zero; the penalty is 1 / rows by default.
    #[pg_test]
    fn the_logistic_fit_zeroes_the_gradient_of_its_objective_on_cdnow() {
        cdnow_training();
        Spi::run("CREATE TABLE m AS SELECT propensity_fit('tr', 'logistic', holdout => 0) AS model").unwrap();
        let gradient = Spi::get_one::<String>(
            "WITH s AS (SELECT avg(recency_days) m1, stddev_pop(recency_days) s1, avg(frequency) m2, stddev_pop(frequency) s2,
                               avg(monetary_mean) m3, stddev_pop(monetary_mean) s3, avg(tenure_days) m4, stddev_pop(tenure_days) s4,
                               count(*) n FROM tr),
                  w AS (SELECT (model->'logistic'->'coefficients'->>0)::float8 * s1 w1, (model->'logistic'->'coefficients'->>1)::float8 * s2 w2,
                               (model->'logistic'->'coefficients'->>2)::float8 * s3 w3, (model->'logistic'->'coefficients'->>3)::float8 * s4 w4,
                               (model->'options'->>'l2')::float8 l2, model FROM m, s),
                  r AS (SELECT propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days])
                               - label::int AS e, tr.* FROM tr, w)
             SELECT concat_ws(' ', avg(e), avg(e * (recency_days - m1) / s1) + l2 * w1, avg(e * (frequency - m2) / s2) + l2 * w2,
                              avg(e * (monetary_mean - m3) / s3) + l2 * w3, avg(e * (tenure_days - m4) / s4) + l2 * w4,
                              l2 * n)
             FROM r, s, w GROUP BY l2, n, w1, w2, w3, w4",
        )
        .unwrap()
        .unwrap();
        let values: Vec<f64> = gradient.split(' ').map(|v| v.parse().unwrap()).collect();
        assert!(values[..5].iter().all(|g| g.abs() < 1e-8), "{gradient}");
        assert!((values[5] - 1.0).abs() < 1e-12, "l2 x rows: {gradient}");
        // the features do predict: not every coefficient is zero
        assert!(Spi::get_one::<bool>(
            "SELECT (model->'logistic'->'scaled_coefficients'->>0)::float8 < -0.1 FROM m"
        )
        .unwrap()
        .unwrap());
    }

    /// The metrics the fit reports for its holdout are propensity_metrics of the rows that
    /// propensity_holdout names, and those equal their definitions in SQL over
    /// propensity_score: AUC by Mann-Whitney with tied ranks averaged, log loss with scores
    /// clipped to [eps, 1 - eps], Brier, accuracy at 0.5, base rate.
    #[pg_test]
    fn holdout_metrics_match_propensity_metrics_and_their_sql_definitions() {
        cdnow_training();
        Spi::run("CREATE TABLE h AS SELECT * FROM tr WHERE propensity_holdout(k, 0.3, 5)").unwrap();
        for algorithm in ["logistic", "gbt"] {
            Spi::run(&format!(
                "DROP TABLE IF EXISTS m; CREATE TABLE m AS SELECT propensity_fit('tr', '{algorithm}', holdout => 0.3, seed => 5) AS model"
            ))
            .unwrap();
            holdout_metrics_match(algorithm);
        }
    }

    fn holdout_metrics_match(algorithm: &str) {
        let ours = |metric: &str| {
            Spi::get_one::<f64>(&format!(
                "SELECT value FROM m, propensity_metrics(model, 'h') WHERE metric = '{metric}'"
            ))
            .unwrap()
            .unwrap()
        };
        let reported = |metric: &str| {
            Spi::get_one::<f64>(&format!("SELECT (model->'holdout_metrics'->>'{metric}')::float8 FROM m"))
                .unwrap()
                .unwrap()
        };
        let sql = |expression: &str| {
            Spi::get_one::<f64>(&format!(
                "WITH s AS (SELECT k, label, propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days]) AS p
                            FROM h, m),
                      r AS (SELECT *, rank() OVER (ORDER BY p) + (count(*) OVER (PARTITION BY p) - 1) / 2.0 AS rk FROM s)
                 SELECT {expression} FROM r"
            ))
            .unwrap()
            .unwrap()
        };
        let eps = f64::EPSILON;
        let definitions = [
            ("auc", "((sum(rk) FILTER (WHERE label) - count(*) FILTER (WHERE label) * (count(*) FILTER (WHERE label) + 1) / 2.0)
                      / (count(*) FILTER (WHERE label) * count(*) FILTER (WHERE NOT label)))::float8".to_string()),
            ("log_loss", format!("-avg(CASE WHEN label THEN ln(least(greatest(p, {eps}), 1 - {eps}))
                                       ELSE ln(1 - least(greatest(p, {eps}), 1 - {eps})) END)")),
            ("brier", "avg((p - label::int) ^ 2)".to_string()),
            ("accuracy", "avg(((p > 0.5) = label)::int)::float8".to_string()),
            ("base_rate", "avg(label::int)::float8".to_string()),
            ("rows", "count(*)::float8".to_string()),
        ];
        for (metric, definition) in definitions {
            let (ours, reported, sql) = (ours(metric), reported(metric), sql(&definition));
            assert_eq!(ours, reported, "{algorithm} {metric}");
            assert!(
                (ours - sql).abs() <= 1e-12 * sql.abs().max(1.0),
                "{algorithm} {metric}: {ours} against {sql}"
            );
        }
        assert_eq!(
            reported("rows") as i64 + count("SELECT (model->>'n_rows')::bigint FROM m"),
            count("SELECT count(*) FROM tr")
        );
        assert!((500.0..900.0).contains(&reported("rows")), "about 30% of 2,357 customers held out");
    }

    /// The gains table against SQL's ntile over the rows by descending propensity_score,
    /// ties by key.
    #[pg_test]
    fn the_gains_table_matches_ntile_over_the_scores() {
        cdnow_training();
        for algorithm in ["logistic", "gbt"] {
            Spi::run(&format!(
                "DROP TABLE IF EXISTS m; CREATE TABLE m AS SELECT propensity_fit('tr', '{algorithm}', holdout => 0) AS model"
            ))
            .unwrap();
            gains_match_ntile();
        }
    }

    fn gains_match_ntile() {
        let ours = Spi::get_one::<String>(
            "SELECT string_agg(concat_ws(':', bin, customers, positives, min_score, max_score, rate, round(lift::numeric, 12),
                                         round(cumulative_positives_share::numeric, 12)), ' ' ORDER BY bin)
             FROM m, propensity_evaluate(model, 'tr', 7)",
        )
        .unwrap();
        let sql = Spi::get_one::<String>(
            "WITH s AS (SELECT k, label, propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days]) AS p FROM tr, m),
                  b AS (SELECT *, ntile(7) OVER (ORDER BY p DESC, k, label) AS bin FROM s),
                  g AS (SELECT bin, count(*) AS customers, count(*) FILTER (WHERE label) AS positives, min(p) AS lo, max(p) AS hi
                        FROM b GROUP BY bin),
                  c AS (SELECT *, sum(positives) OVER (ORDER BY bin) AS cumulative FROM g),
                  t AS (SELECT avg(label::int)::float8 AS rate, count(*) FILTER (WHERE label) AS positives FROM s)
             SELECT string_agg(concat_ws(':', bin, customers, c.positives, lo, hi, c.positives::float8 / customers,
                                         round((c.positives::float8 / customers / t.rate)::numeric, 12),
                                         round(cumulative / t.positives, 12)), ' ' ORDER BY bin)
             FROM c, t",
        )
        .unwrap();
        assert!(ours.is_some());
        assert_eq!(ours, sql);
    }

    #[pg_test]
    fn labels_may_be_boolean_or_0_1_and_rows_with_nulls_are_skipped() {
        Spi::run(
            "CREATE TABLE t AS SELECT i AS k, (i * 7919 % 100 < i % 100) AS label, (i % 100)::float8 AS x,
                                      CASE WHEN i % 50 = 0 THEN NULL ELSE (i % 13)::float8 END AS y
                               FROM generate_series(1, 1000) i",
        )
        .unwrap();
        let model = |query: &str| {
            Spi::get_one::<pgrx::JsonB>(&format!("SELECT propensity_fit('{query}', 'logistic')"))
                .unwrap()
                .unwrap()
                .0
        };
        let boolean = model("SELECT k, label, x, y FROM t");
        assert_eq!(boolean, model("SELECT k, label::int, x, y FROM t"));
        // an array column: the same model, its features named after the column
        let mut array = model("SELECT k, label::int::int8, ARRAY[x, y] AS f FROM t");
        assert_eq!(array["feature_names"], serde_json::json!(["f[1]", "f[2]"]));
        array["feature_names"] = boolean["feature_names"].clone();
        assert_eq!(boolean, array);
        // 20 rows with a NULL y and 1 with a NULL label are skipped
        let with_null_label = model("SELECT k, CASE WHEN k = 1 THEN NULL ELSE label END, x, y FROM t");
        let rows =
            |m: &serde_json::Value| m["n_rows"].as_u64().unwrap() + m["n_holdout_rows"].as_u64().unwrap();
        assert_eq!(rows(&boolean), 980);
        assert_eq!(rows(&with_null_label), 979);
        assert_eq!(boolean["feature_names"], serde_json::json!(["x", "y"]));
        assert_eq!(boolean["algorithm"], "logistic");
        // under logistic a NULL feature scores NULL
        assert_eq!(
            count("SELECT count(*) FROM t WHERE propensity_score((SELECT propensity_fit('t', 'logistic')), ARRAY[x, y]) IS NULL"),
            20
        );
        assert_eq!(
            count("SELECT count(*) FROM propensity_importance((SELECT propensity_fit('t', 'logistic')))"),
            2
        );
    }

    /// gbt keeps rows with a NULL feature as missing values: they count in the fit, and a
    /// NULL scores as the trees send missing values, which the fit learned from them.
    #[pg_test]
    fn gbt_takes_null_features_as_missing_values() {
        // y is NULL for every tenth key, whose label is always true: missing y predicts it
        Spi::run(
            "CREATE TABLE t AS SELECT i AS k, i % 10 = 0 OR i % 7 < 2 AS label, (i % 100)::float8 AS x,
                                      CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 13)::float8 END AS y
                               FROM generate_series(1, 2000) i;
             CREATE TABLE m AS SELECT propensity_fit('t', holdout => 0) AS model",
        )
        .unwrap();
        assert_eq!(count("SELECT (model->>'n_rows')::bigint FROM m"), 2000);
        assert_eq!(
            Spi::get_one::<String>("SELECT model->>'algorithm' FROM m").unwrap().as_deref(),
            Some("gbt")
        );
        let missing = Spi::get_one::<f64>("SELECT avg(propensity_score(model, ARRAY[x, NULL])) FROM t, m")
            .unwrap()
            .unwrap();
        let present = Spi::get_one::<f64>(
            "SELECT avg(propensity_score(model, ARRAY[x, y])) FROM t, m WHERE y IS NOT NULL",
        )
        .unwrap()
        .unwrap();
        assert!(missing > 0.9 && present < 0.4, "missing {missing}, present {present}");
        // propensity_evaluate scores the NULL rows too
        assert_eq!(count("SELECT sum(customers)::bigint FROM m, propensity_evaluate(model, 't')"), 2000);
    }

    #[pg_test]
    fn propensity_functions_refuse_bad_input_with_the_documented_sqlstates() {
        Spi::run(
            "CREATE TABLE t AS SELECT i AS k, i % 3 = 0 AS label, (i % 10)::float8 AS x FROM generate_series(1, 200) i;
             CREATE TABLE m AS SELECT propensity_fit('t') AS model",
        )
        .unwrap();
        for (call, state, words) in [
            ("SELECT propensity_fit('SELECT k, 2, x FROM t')", "22023", "a label must be 0 or 1"),
            ("SELECT propensity_fit('SELECT k, true, x FROM t')", "22023", "all positive"),
            ("SELECT propensity_fit('SELECT k, label::text, x FROM t')", "42804", "label"),
            ("SELECT propensity_fit('SELECT k, label FROM t')", "42804", "no feature column"),
            ("SELECT propensity_fit('SELECT k, label, ''NaN''::float8 FROM t')", "22023", "NaN"),
            ("SELECT propensity_fit('t', holdout => 0.95)", "22023", "holdout"),
            ("SELECT propensity_fit('t', holdout => -0.1)", "22023", "holdout"),
            ("SELECT propensity_holdout('1', 0.95)", "22023", "holdout must be between 0 and 0.9"),
            ("SELECT propensity_holdout('1', 'NaN')", "22023", "holdout must be between 0 and 0.9"),
            ("SELECT propensity_fit('t', 'svm')", "22023", "unknown algorithm 'svm'"),
            (r#"SELECT propensity_fit('t', 'logistic', options => '{"n_trees": 10}')"#, "22023", r#"unknown option "n_trees""#),
            (r#"SELECT propensity_fit('t', options => '{"max_iter": 10}')"#, "22023", r#"unknown option "max_iter""#),
            (r#"SELECT propensity_fit('t', options => '{"l2": "high"}')"#, "22023", r#""l2""#),
            (r#"SELECT propensity_fit('t', options => '{"max_depth": 0}')"#, "22023", r#""max_depth" must be an integer between 1 and 64"#),
            (r#"SELECT propensity_fit('t', options => '{"early_stopping": "yes"}')"#, "22023", r#""early_stopping" must be true or false"#),
            (r#"SELECT propensity_fit('t', options => '{"early_stopping": true, "validation_share": 0.9}')"#, "22023", r#""validation_share""#),
            ("SELECT propensity_fit('t', options => '[1]')", "22023", "JSON object"),
            ("SELECT propensity_fit(NULL)", "22023", "training must not be NULL"),
            ("SELECT propensity_fit('t', seed => NULL)", "22023", "seed must not be NULL"),
            ("SELECT propensity_score(model, ARRAY[1, 2]::float8[]) FROM m", "22023", "fitted on 1 features (x)"),
            ("SELECT propensity_score(model, ARRAY['NaN']::float8[]) FROM m", "22023", "NaN"),
            (r#"SELECT propensity_score('{"format": "x"}', ARRAY[1]::float8[])"#, "22023", r#"not a pg_marketing propensity model"#),
            ("SELECT propensity_score(jsonb_set(model, '{version}', '2'), ARRAY[1]::float8[]) FROM m", "22023", "version 1"),
            ("SELECT propensity_score(jsonb_set(model, '{gbt,trees,0,left,0}', '0'), ARRAY[1]::float8[]) FROM m", "22023", "damaged"),
            ("SELECT propensity_score(jsonb_set(model, '{gbt,trees,0,feature,0}', '1'), ARRAY[1]::float8[]) FROM m", "22023", "damaged"),
            ("SELECT propensity_score(jsonb_set(model, '{algorithm}', '\"logistic\"'), ARRAY[1]::float8[]) FROM m", "22023", "damaged"),
            ("SELECT propensity_score(jsonb_set(propensity_fit('t', 'logistic'), '{logistic,coefficients}', '[]'), ARRAY[1]::float8[])", "22023", "damaged"),
            ("SELECT * FROM propensity_evaluate((SELECT model FROM m), 't', 0)", "22023", "bins"),
            ("SELECT * FROM propensity_evaluate((SELECT model FROM m), 'SELECT k, label, x, x FROM t')", "22023", "fitted on 1 features"),
            ("SELECT * FROM propensity_metrics(NULL, 't')", "22023", "model must not be NULL"),
            // +inf - inf: no probability
            ("SELECT propensity_score(jsonb_set(propensity_fit('SELECT k, label, x, x * 2 FROM t', 'logistic'), '{logistic,coefficients}',
                                                '[1e308, 1e308]'), ARRAY[1e10, -1e10])", "22003", "too large for a log-odds"),
            ("SELECT * FROM propensity_metrics(jsonb_set(propensity_fit('SELECT k, label, x, x * 2 FROM t', 'logistic'), '{logistic,coefficients}',
                                                         '[1e308, 1e308]'), 'SELECT k, label, 1e10, -1e10 FROM t')",
             "22003", "too large for a log-odds"),
            ("SELECT propensity_fit('SELECT k, label, x * 1e200 FROM t', 'logistic')", "22003", "feature ?column? has the value"),
            ("SELECT * FROM propensity_importance('[]')", "22023", "not a pg_marketing propensity model"),
        ] {
            let (code, message) = error_of(call).unwrap_or_else(|| panic!("no error from {call}"));
            assert_eq!(code, state, "{call}: {message}");
            assert!(message.contains(words), "{call}: {message}");
        }
        // no rows to evaluate: an empty table and NULL metrics
        assert_eq!(
            count("SELECT count(*) FROM m, propensity_evaluate(model, 'SELECT * FROM t WHERE false')"),
            0
        );
        assert_eq!(count("SELECT count(*) FROM m, propensity_metrics(model, 'SELECT * FROM t WHERE false') WHERE value IS NULL"), 5);
    }

    /// Every column against its definition written as plain SQL over the CDNOW sample
    /// (aggregates with FILTER, an EXISTS for the label), at a cutoff inside the data, with
    /// a horizon in days and one in calendar months.
    #[pg_test]
    fn purchase_features_match_an_independent_sql_formulation_on_cdnow() {
        load_cdnow();
        Spi::run("SET TimeZone = 'America/New_York'").unwrap();
        for horizon in ["90 days", "3 months"] {
            let query = format!(
                "WITH h AS (SELECT customer_id::text AS k, order_date::timestamptz AS ts, amount FROM cdnow_orders),
                      c AS (SELECT timestamptz '1997-10-01' AS as_of),
                      sql AS (
                        SELECT k,
                               extract(epoch FROM as_of - max(ts)) / 86400 AS recency_days,
                               count(*) AS frequency,
                               sum(amount) / count(*) AS monetary_mean,
                               sum(amount) AS monetary_total,
                               extract(epoch FROM as_of - min(ts)) / 86400 AS tenure_days,
                               CASE WHEN count(*) > 1
                                    THEN extract(epoch FROM max(ts) - min(ts)) / 86400 / (count(*) - 1) END AS mean_days_between,
                               -- 90 days of 24 hours, whatever the daylight saving time
                               count(*) FILTER (WHERE ts >= as_of - interval '2160 hours') AS recent,
                               coalesce(sum(amount) FILTER (WHERE ts >= as_of - interval '2160 hours'), 0) AS recent_amount,
                               EXISTS (SELECT 1 FROM h l WHERE l.k = h.k AND l.ts >= as_of
                                                           AND l.ts < as_of + interval '{horizon}') AS label
                        FROM h, c WHERE ts < as_of GROUP BY k, as_of),
                      ours AS (SELECT * FROM purchase_features('cdnow_orders(customer_id, order_date, amount)',
                                                               '1997-10-01', '{horizon}'))
                 SELECT count(*) FILTER (WHERE ours.customer_key IS NULL OR sql.k IS NULL
                            OR abs(ours.recency_days - sql.recency_days) > 1e-9
                            OR ours.frequency <> sql.frequency
                            OR abs(ours.monetary_mean - sql.monetary_mean) > 1e-9 * greatest(1, sql.monetary_mean)
                            OR abs(ours.monetary_total - sql.monetary_total) > 1e-9 * greatest(1, sql.monetary_total)
                            OR abs(ours.tenure_days - sql.tenure_days) > 1e-9
                            OR ours.mean_days_between IS DISTINCT FROM sql.mean_days_between
                               AND NOT abs(ours.mean_days_between - sql.mean_days_between) <= 1e-9
                            OR ours.purchases_last_90d <> sql.recent
                            OR abs(ours.amount_last_90d - sql.recent_amount) > 1e-9 * greatest(1, sql.recent_amount)
                            OR ours.label IS DISTINCT FROM sql.label)
                        || ' mismatches of ' || count(*) || ', labels ' || count(*) FILTER (WHERE sql.label)
                 FROM ours FULL JOIN sql ON sql.k = ours.customer_key"
            );
            let verdict = Spi::get_one::<String>(&query).unwrap().unwrap();
            let numbers: Vec<i64> =
                verdict.split(' ').filter_map(|w| w.trim_end_matches(',').parse().ok()).collect();
            assert_eq!(numbers[0], 0, "{horizon}: {verdict}");
            // every customer of the sample bought before October 1997 (they joined in
            // Q1 1997), and some, not all, bought again within the horizon
            assert_eq!(
                numbers[1],
                count("SELECT count(DISTINCT customer_id) FROM cdnow_orders"),
                "{verdict}"
            );
            assert!(numbers[2] > 0 && numbers[2] < numbers[1], "{verdict}");
        }
        Spi::run("RESET TimeZone").unwrap();
    }

    #[pg_test]
    fn purchase_features_without_a_horizon_label_null_and_nulls_handled() {
        // rows with a NULL key or ts are skipped; a NULL amount is a purchase of 0
        let rows = "SELECT * FROM (VALUES (1, ''2024-01-01''::timestamptz, 10), (1, ''2024-01-11'', NULL),
                                          (NULL, ''2024-01-05'', 99), (2, NULL, 99), (2, ''2024-03-01'', 5)) t";
        let summary = Spi::get_one::<String>(&format!(
            "SELECT string_agg(concat_ws(':', customer_key, frequency, monetary_total, mean_days_between,
                                         coalesce(label::text, 'null')), ' ' ORDER BY customer_key)
             FROM purchase_features('{rows}', '2024-02-01')"
        ))
        .unwrap();
        // customer 2 bought only after as_of: no row
        assert_eq!(summary.as_deref(), Some("1:2:10:10:null"));
    }

    #[pg_test]
    fn purchase_features_bad_input_raises_the_documented_sqlstates() {
        let rows = "'SELECT 1, now(), 1'";
        let (nan_amount, infinite_ts) =
            ("'SELECT 1, now(), ''NaN''::float8'", "'SELECT 1, ''infinity''::timestamptz, 1'");
        for (call, state) in [
            (format!("SELECT * FROM purchase_features({rows}, NULL)"), "22023"),
            ("SELECT * FROM purchase_features(NULL, now())".to_string(), "22023"),
            (format!("SELECT * FROM purchase_features({rows}, 'infinity')"), "22023"),
            (format!("SELECT * FROM purchase_features({rows}, now(), '0 days')"), "22023"),
            (format!("SELECT * FROM purchase_features({rows}, now(), '-1 day')"), "22023"),
            (format!("SELECT * FROM purchase_features({rows}, '294276-01-01', '10 years')"), "22008"),
            ("SELECT * FROM purchase_features('SELECT 1, 2, 3', now())".to_string(), "42804"),
            (format!("SELECT * FROM purchase_features({nan_amount}, now())"), "22023"),
            (format!("SELECT * FROM purchase_features({infinite_ts}, now())"), "22023"),
        ] {
            assert_eq!(sqlstate_of(&call).as_deref(), Some(state), "{call}");
        }
    }
}
