//! attribute_touchpoints, attribute_channels, attribute_paths: the SQL surface of
//! src/core/attribution. Reference: docs/attribution.md.

use pgrx::prelude::*;

use super::{interval_arg, required, text_list, timestamptz};
use crate::core::attribution::markov::MarkovOptions;
use crate::core::attribution::{
    Attribution, ChannelTotal, ChannelTotals, Model, PathWeights, Paths, WeightedPaths, WindowedJourneys,
};
use crate::core::journey::{
    Conversion, Interner, JourneyBuilder, Journeys, PathTouch, PathTransform, WindowOptions,
};
use crate::error::{Error, ErrorKind, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

const TOUCHPOINTS: Shape = Shape {
    argument: "touchpoints",
    columns: &[
        column("journey_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("channel", Kind::Text),
    ],
    more: More::Nothing,
};

const CONVERSIONS: Shape = Shape {
    argument: "conversions",
    columns: &[
        column("journey_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("value", Kind::Number),
    ],
    more: More::Nothing,
};

const PATHS: Shape = Shape {
    argument: "paths",
    columns: &[
        column("path", Kind::Path),
        column("conversions", Kind::Number),
        column("value", Kind::Number),
        column("nulls", Kind::Number),
    ],
    more: More::Nothing,
};

/// The model arguments every attribution function takes, checked; exclusions are resolved
/// to channel ids once the channels are known (`attribution`).
pub(super) struct ModelChoice {
    pub(super) model: Model,
    exclude_channels: Vec<String>,
    transform: PathTransform,
    max_channels: Option<usize>,
}

impl ModelChoice {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn parse(
        model: Option<&str>,
        half_life: Option<Interval>,
        weights: Option<Vec<Option<f64>>>,
        exclude_channels: Option<Vec<Option<String>>>,
        path_transform: Option<&str>,
        markov_order: Option<i32>,
        markov_self_loops: Option<bool>,
        seed: Option<i64>,
        max_channels: Option<i32>,
    ) -> Self {
        let name = required(model, "model");
        let half_life = interval_arg(required(half_life, "half_life"), "half_life");
        let weights = weights.map(|w| {
            w.into_iter()
                .map(|x| {
                    x.unwrap_or_else(|| Error::invalid_parameter("weights must not contain NULL").raise())
                })
                .collect::<Vec<f64>>()
        });
        let markov = MarkovOptions::new(
            required(markov_order, "markov_order"),
            required(markov_self_loops, "markov_self_loops"),
        )
        .or_raise();
        let seed = required(seed, "seed") as u64;
        let model = Model::parse(name, half_life, weights.as_deref(), markov, seed).or_raise();
        let exclude_channels = match exclude_channels {
            Some(list) => text_list(list),
            None => model.default_exclusions(),
        };
        let transform = PathTransform::parse(required(path_transform, "path_transform")).or_raise();
        let max_channels = max_channels.map(|n| match usize::try_from(n) {
            Ok(n) if n >= 1 => n,
            _ => Error::invalid_parameter(format!("max_channels must be at least 1, not {n}")).raise(),
        });
        ModelChoice { model, exclude_channels, transform, max_channels }
    }

    pub(super) fn attribution(self, channels: &[String]) -> Attribution {
        Attribution {
            excluded: Attribution::excluded_ids(channels, &self.exclude_channels),
            model: self.model,
            transform: self.transform,
            max_channels: self.max_channels,
        }
    }
}

/// Journeys read from raw touchpoint and conversion tables, with how to window and credit them.
struct RawRequest {
    journeys: Journeys,
    window: WindowOptions,
    attribution: Attribution,
}

impl RawRequest {
    #[allow(clippy::too_many_arguments)]
    fn read(
        touchpoints: Option<&str>,
        conversions: Option<&str>,
        choice: ModelChoice,
        lookback: Option<Interval>,
        max_touches: Option<i32>,
        reset_on_conversion: Option<bool>,
    ) -> Self {
        let window = window_options(lookback, max_touches, reset_on_conversion);
        let journeys = read_journeys(touchpoints, conversions, window.lookback, choice.model.learns());
        let attribution = choice.attribution(journeys.channels());
        RawRequest { journeys, window, attribution }
    }

    fn paths(&self) -> WindowedJourneys<'_> {
        WindowedJourneys {
            journeys: &self.journeys,
            window: self.window,
            unconverted: self.attribution.model.learns(),
        }
    }
}

/// The window arguments, checked.
pub(super) fn window_options(
    lookback: Option<Interval>,
    max_touches: Option<i32>,
    reset_on_conversion: Option<bool>,
) -> WindowOptions {
    let lookback = interval_arg(required(lookback, "lookback"), "lookback");
    if lookback <= 0 {
        Error::invalid_parameter("lookback must be a positive interval").raise();
    }
    let max_touches = max_touches.map(|n| match usize::try_from(n) {
        Ok(n) if n >= 1 => n,
        _ => Error::invalid_parameter(format!("max_touches must be at least 1, not {n}")).raise(),
    });
    let reset_on_conversion = required(reset_on_conversion, "reset_on_conversion");
    WindowOptions { lookback, max_touches, reset_on_conversion }
}

/// Reads conversions, then touches. Rule models credit only touches inside some
/// conversion's window; data-driven ones (`learning`) also learn from the touches that did
/// not lead to a conversion, so only they need every touch kept.
pub(super) fn read_journeys(
    touchpoints: Option<&str>,
    conversions: Option<&str>,
    lookback: i64,
    learning: bool,
) -> Journeys {
    let touchpoints = required(touchpoints, "touchpoints");
    let conversions = required(conversions, "conversions");
    let mut builder = JourneyBuilder::default();
    let mut total_value = 0.0;
    input::for_each_row(&CONVERSIONS, conversions, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            let value = row.number(2).unwrap_or(0.0);
            total_value += value.abs();
            builder.add_conversion(key.as_key(), ts, value);
        }
    });
    require_finite_sum(total_value, "conversions: the sum of the values overflows float8");
    if !learning {
        builder.keep_touches_near_conversions(lookback);
    }
    input::for_each_row(&TOUCHPOINTS, touchpoints, |row| {
        // The channel is read only for the touches kept: most are dropped on key and time.
        let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) else { return };
        if let Some(journey) = builder.touch_journey(key.as_key(), ts) {
            if let Some(channel) = row.text(2) {
                builder.add_touch_to(journey, ts, &channel);
            }
        }
    });
    builder.into_journeys(&mut interrupt)
}

/// Credit per touch of each conversion's path; see docs/attribution.md.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn attribute_touchpoints(
    touchpoints: Option<&str>,
    conversions: Option<&str>,
    model: default!(Option<&str>, "'linear'"),
    lookback: default!(Option<Interval>, "'30 days'"),
    max_touches: default!(Option<i32>, "NULL"),
    half_life: default!(Option<Interval>, "'7 days'"),
    weights: default!(Option<Vec<Option<f64>>>, "NULL"),
    exclude_channels: default!(Option<Vec<Option<String>>>, "NULL"),
    path_transform: default!(Option<&str>, "'none'"),
    reset_on_conversion: default!(Option<bool>, "true"),
    markov_order: default!(Option<i32>, "1"),
    markov_self_loops: default!(Option<bool>, "false"),
    seed: default!(Option<i64>, "0"),
    max_channels: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(conversion_id, i64),
        name!(journey_key, String),
        name!(conversion_ts, TimestampWithTimeZone),
        name!(conversion_value, f64),
        name!(channel, Option<String>),
        name!(touch_ts, Option<TimestampWithTimeZone>),
        name!(touch_position, Option<i32>),
        name!(path_length, i32),
        name!(credit, f64),
        name!(value_credit, f64),
    ),
> {
    let choice = ModelChoice::parse(
        model,
        half_life,
        weights,
        exclude_channels,
        path_transform,
        markov_order,
        markov_self_loops,
        seed,
        max_channels,
    );
    let request =
        RawRequest::read(touchpoints, conversions, choice, lookback, max_touches, reset_on_conversion);
    // Credits are kept flat, and rows are made one conversion at a time as Postgres asks for
    // them: they are named only once the run has returned the channel names (after
    // max_channels), and a result of millions of rows never exists as Rust strings at once.
    let mut credited: Vec<CreditedConversion> = Vec::new();
    let mut touches: Vec<(PathTouch, f64)> = Vec::new();
    let run = request
        .attribution
        .run(&request.paths(), &mut interrupt, |conversion, path, credits, _| {
            if let Some(conversion) = conversion {
                let first = touches.len();
                // empty when the path got no credit: the conversion's row is the unattributed one
                touches.extend(path.iter().copied().zip(credits.iter().copied()));
                credited.push(CreditedConversion {
                    conversion: *conversion,
                    path_length: path.len() as i32,
                    touches: first..touches.len(),
                });
            }
        })
        .or_raise();
    let (journeys, channels) = (request.journeys, run.channels);
    TableIterator::new(credited.into_iter().flat_map(move |credited| {
        let CreditedConversion { conversion, path_length, touches: range } = credited;
        let key = journeys.key_name(conversion.key);
        let (id, ts, value) = (conversion.id as i64, timestamptz(conversion.ts), conversion.value);
        let mut rows = Vec::with_capacity(range.len().max(1));
        if range.is_empty() {
            rows.push((id, key.to_string(), ts, value, None, None, None, path_length, 1.0, value));
        }
        for (position, &(touch, credit)) in touches[range].iter().enumerate() {
            rows.push((
                id,
                key.to_string(),
                ts,
                value,
                Some(channels[touch.channel as usize].clone()),
                Some(timestamptz(touch.ts)),
                Some(position as i32 + 1),
                path_length,
                credit,
                credit * value,
            ));
        }
        rows
    }))
}

/// One conversion's place among attribute_touchpoints' flat credits.
struct CreditedConversion {
    conversion: Conversion,
    path_length: i32,
    touches: std::ops::Range<usize>,
}

/// Credit totals per channel (a NULL channel row holds unattributed conversions).
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn attribute_channels(
    touchpoints: Option<&str>,
    conversions: Option<&str>,
    model: default!(Option<&str>, "'linear'"),
    lookback: default!(Option<Interval>, "'30 days'"),
    max_touches: default!(Option<i32>, "NULL"),
    half_life: default!(Option<Interval>, "'7 days'"),
    weights: default!(Option<Vec<Option<f64>>>, "NULL"),
    exclude_channels: default!(Option<Vec<Option<String>>>, "NULL"),
    path_transform: default!(Option<&str>, "'none'"),
    reset_on_conversion: default!(Option<bool>, "true"),
    markov_order: default!(Option<i32>, "1"),
    markov_self_loops: default!(Option<bool>, "false"),
    seed: default!(Option<i64>, "0"),
    max_channels: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(channel, Option<String>),
        name!(conversions, f64),
        name!(value, f64),
        name!(touches, i64),
        name!(removal_effect, Option<f64>),
    ),
> {
    let choice = ModelChoice::parse(
        model,
        half_life,
        weights,
        exclude_channels,
        path_transform,
        markov_order,
        markov_self_loops,
        seed,
        max_channels,
    );
    let request =
        RawRequest::read(touchpoints, conversions, choice, lookback, max_touches, reset_on_conversion);
    let (names, totals) = channel_totals(&request.attribution, &request.paths());
    let rows: Vec<_> = totals
        .into_iter()
        .map(|t| {
            let name = t.channel.map(|c| names[c as usize].clone());
            (name, t.conversions, t.value, t.touches as i64, t.removal_effect)
        })
        .collect();
    TableIterator::new(rows)
}

/// Totals per channel, with the channel names after max_channels. Markov totals are shared
/// by removal effect (docs/attribution.md says why they differ from the per-touch sums).
pub(super) fn channel_totals(
    attribution: &Attribution,
    paths: &dyn Paths,
) -> (Vec<String>, Vec<ChannelTotal>) {
    let mut totals = ChannelTotals::default();
    let run = attribution
        .run(paths, &mut interrupt, |_, path, credits, weights| {
            totals.add(path, credits, weights.conversions, weights.value)
        })
        .or_raise();
    if let Some(effects) = &run.removal_effects {
        totals.share_by_removal_effects(effects);
    }
    let rows = totals.into_rows(run.channels.len());
    (run.channels, rows)
}

/// 22003 when a sum of input numbers is not finite: credits summed from them would be NaN.
fn require_finite_sum(sum: f64, message: &str) {
    if !sum.is_finite() {
        Error::new(ErrorKind::OutOfRange, message)
            .with_hint("scale the numbers down in the query (e.g. in thousands)")
            .raise();
    }
}

/// Paths given as (path text or text[], conversions, value, nulls), read and interned.
fn read_paths(paths: Option<&str>, separator: Option<&str>) -> WeightedPaths {
    let paths = required(paths, "paths");
    let separator = required(separator, "separator");
    if separator.is_empty() {
        Error::invalid_parameter("separator must not be empty").raise();
    }
    let mut channels = Interner::default();
    let mut weighted: Vec<(Vec<PathTouch>, PathWeights)> = Vec::new();
    let mut total = 0.0;
    input::for_each_row(&PATHS, paths, |row| {
        let Some(names) = row.path(0, separator) else { return };
        let weights = PathWeights {
            conversions: row.number(1).unwrap_or(0.0),
            value: row.number(2).unwrap_or(0.0),
            nulls: row.number(3).unwrap_or(0.0),
        };
        if weights.conversions < 0.0 || weights.nulls < 0.0 {
            Error::invalid_parameter(format!(
                "paths: conversions and nulls must not be negative (path '{}')",
                names.join(separator)
            ))
            .raise();
        }
        total += weights.conversions + weights.nulls + weights.value.abs();
        let path = names.iter().map(|n| PathTouch { ts: 0, channel: channels.id(n) }).collect();
        weighted.push((path, weights));
    });
    require_finite_sum(total, "paths: the sum of conversions, nulls and value overflows float8");
    let (names, new_ids) = channels.into_sorted(&mut interrupt);
    for (path, _) in &mut weighted {
        for touch in path.iter_mut() {
            touch.channel = new_ids[touch.channel as usize];
        }
    }
    WeightedPaths { channels: names, paths: weighted }
}

/// Attribution over aggregated paths: (path text or text[], conversions, value, nulls).
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn attribute_paths(
    paths: Option<&str>,
    model: default!(Option<&str>, "'linear'"),
    separator: default!(Option<&str>, "'>'"),
    weights: default!(Option<Vec<Option<f64>>>, "NULL"),
    exclude_channels: default!(Option<Vec<Option<String>>>, "NULL"),
    path_transform: default!(Option<&str>, "'none'"),
    markov_order: default!(Option<i32>, "1"),
    markov_self_loops: default!(Option<bool>, "false"),
    seed: default!(Option<i64>, "0"),
    max_channels: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(channel, Option<String>),
        name!(conversions, f64),
        name!(value, f64),
        name!(removal_effect, Option<f64>),
    ),
> {
    let model_name = required(model, "model");
    // half_life is not an argument here: the models that use time are refused below.
    let seven_days = Interval::new(0, 7, 0).expect("a valid interval");
    let choice = ModelChoice::parse(
        Some(model_name),
        Some(seven_days),
        weights,
        exclude_channels,
        path_transform,
        markov_order,
        markov_self_loops,
        seed,
        max_channels,
    );
    if choice.model.needs_timestamps() {
        Error::invalid_parameter(format!(
            "model '{model_name}' needs touch timestamps, which paths do not have; use attribute_touchpoints"
        ))
        .raise();
    }
    let paths = read_paths(paths, separator);
    let attribution = choice.attribution(&paths.channels);
    let (names, totals) = channel_totals(&attribution, &paths);
    let rows: Vec<_> = totals
        .into_iter()
        .map(|t| (t.channel.map(|c| names[c as usize].clone()), t.conversions, t.value, t.removal_effect))
        .collect();
    TableIterator::new(rows)
}

/// The Markov chain attribute_paths(model => 'markov') solves: every transition with its
/// probability and weight. States are '(start)', channel histories 'a > b', '(conversion)'
/// and '(null)'.
#[pg_extern(volatile, parallel_unsafe)]
fn markov_transition_matrix(
    paths: Option<&str>,
    separator: default!(Option<&str>, "'>'"),
    exclude_channels: default!(Option<Vec<Option<String>>>, "NULL"),
    path_transform: default!(Option<&str>, "'none'"),
    markov_order: default!(Option<i32>, "1"),
    markov_self_loops: default!(Option<bool>, "false"),
    max_channels: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (name!(from_state, String), name!(to_state, String), name!(probability, f64), name!(weight, f64)),
> {
    let seven_days = Interval::new(0, 7, 0).expect("a valid interval");
    let choice = ModelChoice::parse(
        Some("markov"),
        Some(seven_days),
        None,
        exclude_channels,
        path_transform,
        markov_order,
        markov_self_loops,
        Some(0),
        max_channels,
    );
    let Model::Markov(options) = choice.model else { unreachable!("parsed as markov") };
    let paths = read_paths(paths, separator);
    let attribution = choice.attribution(&paths.channels);
    let (names, chain) = attribution.markov_chain(&paths, options, &mut interrupt).or_raise();
    let rows: Vec<_> = chain
        .transition_rows(&names)
        .or_raise()
        .into_iter()
        .map(|t| (t.from, t.to, t.probability, t.weight))
        .collect();
    TableIterator::new(rows)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{error_of, sqlstate_of};

    /// 300 journeys over 5 channels, 2 conversions for some keys, from a seeded generator.
    fn random_journeys() {
        Spi::run(
            "SELECT setseed(0.42);
             CREATE TEMP TABLE tp AS
                 SELECT (random() * 300)::int AS k,
                        '2024-01-01'::timestamptz + random() * interval '60 days' AS ts,
                        (ARRAY['email','search','social','display','direct'])[1 + (random() * 4)::int] AS ch
                 FROM generate_series(1, 3000);
             CREATE TEMP TABLE cv AS
                 SELECT (random() * 300)::int AS k,
                        '2024-01-15'::timestamptz + random() * interval '50 days' AS ts,
                        round((random() * 100)::numeric, 2) AS v
                 FROM generate_series(1, 400);",
        )
        .unwrap();
    }

    /// Paths in plain SQL (an independent formulation of docs/attribution.md's path rule
    /// with reset_on_conversion): each touch joins the conversions of its key whose window
    /// holds it and that come before any later conversion of the key.
    const SQL_PATHS: &str = "
        WITH conv AS (
            SELECT k, ts, v, lag(ts) OVER (PARTITION BY k ORDER BY ts, v) AS prev_ts,
                   row_number() OVER (ORDER BY k::text, ts, v) AS id
            FROM cv),
        path AS (
            SELECT c.id, c.v, t.ch, t.ts,
                   row_number() OVER (PARTITION BY c.id ORDER BY t.ts, t.ch) AS pos,
                   count(*) OVER (PARTITION BY c.id) AS n
            FROM conv c JOIN tp t ON t.k = c.k AND t.ts <= c.ts AND t.ts > c.ts - interval '30 days'
                                 AND (c.prev_ts IS NULL OR t.ts > c.prev_ts))";

    fn max_difference(ours: &str, sql_credit: &str) -> f64 {
        let query = format!(
            "{SQL_PATHS}
             , expected AS (SELECT ch, sum({sql_credit}) AS conversions, sum(v * {sql_credit}) AS value
                            FROM path GROUP BY ch)
             SELECT max(greatest(abs(coalesce(e.conversions, 0) - coalesce(o.conversions, 0)),
                                 abs(coalesce(e.value, 0) - coalesce(o.value, 0))))::float8
             FROM expected e FULL JOIN ({ours}) o ON o.channel = e.ch"
        );
        Spi::get_one::<f64>(&query).unwrap().unwrap()
    }

    #[pg_test]
    fn channel_totals_match_an_independent_sql_formulation() {
        random_journeys();
        let ours = |model: &str| {
            format!(
                "SELECT * FROM attribute_channels('tp', 'cv', model => '{model}') WHERE channel IS NOT NULL"
            )
        };
        for (model, credit) in [
            ("linear", "1.0 / n"),
            ("first_touch", "(pos = 1)::int"),
            ("last_touch", "(pos = n)::int"),
            (
                "position_based",
                "CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 0.5 WHEN pos IN (1, n) THEN 0.4 ELSE 0.2 / (n - 2) END",
            ),
        ] {
            let difference = max_difference(&ours(model), credit);
            assert!(difference < 1e-9, "{model}: max difference {difference}");
        }
    }

    #[pg_test]
    fn each_conversion_gets_credit_one_and_unattributed_ones_a_null_row() {
        random_journeys();
        for model in ["linear", "time_decay", "j_curve", "last_non_direct", "same_touch"] {
            let off = Spi::get_one::<i64>(&format!(
                "SELECT count(*) FROM (
                     SELECT conversion_id, sum(credit) AS c, sum(value_credit) AS vc, max(conversion_value) AS v
                     FROM attribute_touchpoints('tp', 'cv', model => '{model}') GROUP BY 1) s
                 WHERE abs(c - 1) > 1e-12 OR abs(vc - v) > 1e-9"
            ))
            .unwrap();
            assert_eq!(off, Some(0), "{model}");
            let conversions =
                Spi::get_one::<i64>(&format!("SELECT count(DISTINCT conversion_id) FROM attribute_touchpoints('tp', 'cv', model => '{model}')"))
                    .unwrap();
            assert_eq!(conversions, Some(400), "{model}: every conversion appears");
        }
        let unattributed = Spi::get_one::<bool>(
            "SELECT bool_and(touch_ts IS NULL AND touch_position IS NULL AND credit = 1)
             FROM attribute_touchpoints('SELECT k, ts, ch FROM tp WHERE false', 'cv')",
        )
        .unwrap();
        assert_eq!(unattributed, Some(true));
    }

    #[pg_test]
    fn participation_counts_each_channel_once_per_conversion() {
        random_journeys();
        let difference = Spi::get_one::<f64>(&format!(
            "{SQL_PATHS}, expected AS (SELECT ch, count(DISTINCT id) AS conversions FROM path GROUP BY ch)
             SELECT max(abs(e.conversions - o.conversions))::float8 FROM expected e
             JOIN attribute_channels('tp', 'cv', model => 'participation') o ON o.channel = e.ch"
        ))
        .unwrap();
        assert!(difference.unwrap() < 1e-9);
    }

    #[pg_test]
    fn paths_accept_text_and_arrays() {
        // position_based on a>b>c (1 conversion, value 10) and a>c (2 conversions, value 5):
        // a 0.4 + 2 x 0.5 = 1.4, value 4 + 2.5 = 6.5; b 0.2, value 2; c as a.
        let from_text = "SELECT channel, conversions, value FROM attribute_paths(
                 'SELECT * FROM (VALUES (''a > b > c'', 1, 10, 0), (''a>c'', 2, 5, 1)) p', model => 'position_based')
             ORDER BY channel";
        let from_array = "SELECT channel, conversions, value FROM attribute_paths(
                 'SELECT * FROM (VALUES (ARRAY[''a'',''b'',''c''], 1, 10, 0), (ARRAY[''a'',''c''], 2, 5, 1)) p',
                 model => 'position_based') ORDER BY channel";
        for query in [from_text, from_array] {
            let rows: Vec<(String, f64, f64)> = Spi::connect(|c| {
                c.select(query, None, &[])
                    .unwrap()
                    .map(|r| {
                        (r.get(1).unwrap().unwrap(), r.get(2).unwrap().unwrap(), r.get(3).unwrap().unwrap())
                    })
                    .collect()
            });
            let expected = [("a", 1.4, 6.5), ("b", 0.2, 2.0), ("c", 1.4, 6.5)];
            for ((channel, conversions, value), (e_channel, e_conversions, e_value)) in
                rows.iter().zip(expected)
            {
                assert_eq!(channel, e_channel);
                assert!(
                    (conversions - e_conversions).abs() < 1e-12 && (value - e_value).abs() < 1e-12,
                    "{rows:?}"
                );
            }
        }
    }

    #[pg_test]
    fn bad_arguments_raise_22023_with_a_reason() {
        random_journeys();
        let call = |args: &str| sqlstate_of(&format!("SELECT * FROM attribute_channels('tp', 'cv', {args})"));
        for args in [
            "model => 'shapely'",
            "path_transform => 'dedupe'",
            "lookback => '0 days'",
            "lookback => '-1 day'",
            "half_life => '0 s'",
            "model => 'custom'",
            "model => 'custom', weights => '{1,2}'",
            "model => 'custom', weights => '{1,-1,1}'",
            "model => 'custom', weights => '{0,0,0}'",
            "model => 'custom', weights => '{1,NULL,1}'",
            "max_touches => 0",
            "model => NULL",
        ] {
            assert_eq!(call(args).as_deref(), Some("22023"), "{args}");
        }
        assert_eq!(
            sqlstate_of("SELECT * FROM attribute_channels('tp', 'SELECT k, ts, ''NaN''::float8 FROM cv')")
                .as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of("SELECT * FROM attribute_paths('SELECT ''a>b'', -1, 0, 0')").as_deref(),
            Some("22023")
        );
        let (_, message) =
            error_of("SELECT * FROM attribute_paths('SELECT ''a>b'', 1, 0, 0', model => 'time_decay')")
                .unwrap();
        assert_eq!(
            message,
            "model 'time_decay' needs touch timestamps, which paths do not have; use attribute_touchpoints"
        );
        assert_eq!(
            sqlstate_of("SELECT * FROM attribute_channels('SELECT k, ts::text, ch FROM tp', 'cv')")
                .as_deref(),
            Some("42804")
        );
    }

    #[pg_test]
    fn nulls_are_skipped_and_empty_input_gives_no_rows() {
        let count = |sql: &str| Spi::get_one::<i64>(sql).unwrap().unwrap();
        assert_eq!(
            count("SELECT count(*) FROM attribute_touchpoints('SELECT 1, now(), ''a'' WHERE false', 'SELECT 1, now(), 1 WHERE false')"),
            0
        );
        // the NULL channel and NULL-key touches are skipped; a NULL value counts as 0
        let row = Spi::get_two::<i64, f64>(
            "SELECT count(*), sum(value_credit) FROM attribute_touchpoints(
                 'SELECT * FROM (VALUES (1, ''2024-01-01''::timestamptz, ''a''), (1, ''2024-01-02'', NULL),
                                        (NULL, ''2024-01-02'', ''b'')) t',
                 'SELECT * FROM (VALUES (1, ''2024-01-03''::timestamptz, NULL::numeric)) c')",
        )
        .unwrap();
        assert_eq!(row, (Some(1), Some(0.0)));
    }

    #[pg_test]
    fn columns_added_after_the_rows_read_as_their_default() {
        // Rows stored before ADD COLUMN ... DEFAULT lack the column; Postgres supplies the
        // default when the row is read. Key 1: touches on days 1 and 2 (email by default,
        // then search), conversion on day 3 of value 10 (the default): linear gives each
        // channel 0.5 and 5. Key 2's touch has its key set to NULL and is skipped, so its
        // conversion is unattributed.
        Spi::run(
            "CREATE TABLE old_tp (k int, ts timestamptz);
             INSERT INTO old_tp VALUES (1, '2024-01-01'), (2, '2024-01-01');
             ALTER TABLE old_tp ADD COLUMN ch text DEFAULT 'email';
             INSERT INTO old_tp VALUES (1, '2024-01-02', 'search');
             UPDATE old_tp SET k = NULL WHERE k = 2;
             CREATE TABLE old_cv (k int, ts timestamptz);
             INSERT INTO old_cv VALUES (1, '2024-01-03'), (2, '2024-01-03');
             ALTER TABLE old_cv ADD COLUMN value numeric DEFAULT 10;",
        )
        .unwrap();
        let rows = channel_rows(
            "SELECT channel, conversions, value, removal_effect FROM attribute_channels('old_tp', 'old_cv')
             ORDER BY channel",
        );
        let expected = [
            (Some("email".to_string()), 0.5, 5.0, None),
            (Some("search".to_string()), 0.5, 5.0, None),
            (None, 1.0, 10.0, None),
        ];
        assert_eq!(rows, expected);
    }

    /// markov.rs's hand-solved example as a path table: RE a 1/2, b 1, c 0; P = 1/2.
    const HAND_PATHS: &str = "SELECT * FROM (VALUES (''a > b'', 1, 20, 0), (''a > c'', 0, 0, 1),
                                                     (''b'', 1, 10, 0), (''c'', 0, 0, 1)) p";

    fn channel_rows(query: &str) -> Vec<(Option<String>, f64, f64, Option<f64>)> {
        Spi::connect(|c| {
            c.select(query, None, &[])
                .unwrap()
                .map(|r| {
                    (
                        r.get(1).unwrap(),
                        r.get(2).unwrap().unwrap(),
                        r.get(3).unwrap().unwrap(),
                        r.get(4).unwrap(),
                    )
                })
                .collect()
        })
    }

    #[pg_test]
    fn markov_on_paths_matches_the_hand_solved_chain() {
        // channel totals: 2 conversions (value 30) shared by RE / sum RE = 1/3, 2/3, 0
        let rows = channel_rows(&format!(
            "SELECT channel, conversions, value, removal_effect FROM attribute_paths('{HAND_PATHS}', model => 'markov')"
        ));
        let expected = [("a", 2.0 / 3.0, 10.0, 0.5), ("b", 4.0 / 3.0, 20.0, 1.0), ("c", 0.0, 0.0, 0.0)];
        assert_eq!(rows.len(), 3);
        for ((channel, conversions, value, effect), (e_channel, e_conversions, e_value, e_effect)) in
            rows.iter().zip(expected)
        {
            assert_eq!(channel.as_deref(), Some(e_channel));
            assert!(
                (conversions - e_conversions).abs() < 1e-12 && (value - e_value).abs() < 1e-12,
                "{rows:?}"
            );
            assert!((effect.unwrap() - e_effect).abs() < 1e-12, "{rows:?}");
        }
        // rule models leave removal_effect NULL
        let rows = channel_rows(&format!(
            "SELECT channel, conversions, value, removal_effect FROM attribute_paths('{HAND_PATHS}')"
        ));
        assert!(rows.iter().all(|r| r.3.is_none()));
    }

    #[pg_test]
    fn the_transition_matrix_is_the_chain_written_out() {
        let rows: Vec<(String, String, f64, f64)> = Spi::connect(|c| {
            c.select(
                &format!("SELECT * FROM markov_transition_matrix('{HAND_PATHS}') ORDER BY 1, 2"),
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get(1).unwrap().unwrap(),
                    r.get(2).unwrap().unwrap(),
                    r.get(3).unwrap().unwrap(),
                    r.get(4).unwrap().unwrap(),
                )
            })
            .collect()
        });
        let expected = [
            ("(start)", "a", 0.5, 2.0),
            ("(start)", "b", 0.25, 1.0),
            ("(start)", "c", 0.25, 1.0),
            ("a", "b", 0.5, 1.0),
            ("a", "c", 0.5, 1.0),
            ("b", "(conversion)", 1.0, 2.0),
            ("c", "(null)", 1.0, 2.0),
        ];
        let rows: Vec<(&str, &str, f64, f64)> =
            rows.iter().map(|(f, t, p, w)| (f.as_str(), t.as_str(), *p, *w)).collect();
        assert_eq!(rows, expected);
        // order 2 names histories 'a > b'
        let states = Spi::get_one::<String>(&format!(
            "SELECT string_agg(DISTINCT from_state, ', ' ORDER BY from_state) FROM markov_transition_matrix('{HAND_PATHS}', markov_order => 2)"
        ))
        .unwrap();
        assert_eq!(states.as_deref(), Some("(start), a, a > b, a > c, b, c"));
    }

    #[pg_test]
    fn data_driven_credits_sum_to_each_conversion_and_repeat_exactly() {
        random_journeys();
        for model in ["markov", "shapley"] {
            let call = format!("attribute_touchpoints('tp', 'cv', model => '{model}', markov_order => 2)");
            let off = Spi::get_one::<i64>(&format!(
                "SELECT count(*) FROM (SELECT conversion_id, sum(credit) AS c FROM {call} GROUP BY 1) s WHERE abs(c - 1) > 1e-12"
            ))
            .unwrap();
            assert_eq!(off, Some(0), "{model}");
            // a serial and a parallel-friendly run of the input queries give identical rows
            let first: Vec<String> = Spi::connect(|c| {
                c.select(&format!("SELECT format('%s', t) FROM {call} t ORDER BY 1"), None, &[])
                    .unwrap()
                    .map(|r| r.get(1).unwrap().unwrap())
                    .collect()
            });
            Spi::run("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
                .unwrap();
            let second: Vec<String> = Spi::connect(|c| {
                c.select(&format!("SELECT format('%s', t) FROM {call} t ORDER BY 1"), None, &[])
                    .unwrap()
                    .map(|r| r.get(1).unwrap().unwrap())
                    .collect()
            });
            Spi::run(
                "RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size",
            )
            .unwrap();
            assert_eq!(first, second, "{model}");
        }
        // channel totals: Shapley's are the per-touch sums, so they add up to the conversions
        let credited = Spi::get_one::<f64>(
            "SELECT sum(conversions) FROM attribute_channels('tp', 'cv', model => 'shapley')",
        )
        .unwrap();
        assert!((credited.unwrap() - 400.0).abs() < 1e-9);
        let markov = Spi::get_two::<f64, i64>(
            "SELECT sum(conversions), count(removal_effect) FROM attribute_channels('tp', 'cv', model => 'markov')
             WHERE channel IS NOT NULL",
        )
        .unwrap();
        let attributed = Spi::get_one::<f64>(
            "SELECT sum(conversions) FROM attribute_channels('tp', 'cv') WHERE channel IS NOT NULL",
        )
        .unwrap();
        assert!((markov.0.unwrap() - attributed.unwrap()).abs() < 1e-9);
        assert_eq!(markov.1, Some(5));
    }

    #[pg_test]
    fn without_conversions_markov_gives_zero_credit_and_no_effect() {
        let rows = channel_rows(
            "SELECT channel, conversions, value, removal_effect FROM attribute_paths(
                 'SELECT * FROM (VALUES (''a>b'', 0, 0, 3)) p', model => 'markov')",
        );
        assert_eq!(rows, [(Some("a".to_string()), 0.0, 0.0, None), (Some("b".to_string()), 0.0, 0.0, None)]);
    }

    #[pg_test]
    fn data_driven_arguments_are_checked() {
        random_journeys();
        for args in [
            "model => 'markov', markov_order => 0",
            "model => 'markov', markov_order => 9",
            "max_channels => 0",
            "model => 'markov', seed => NULL",
        ] {
            let state = sqlstate_of(&format!("SELECT * FROM attribute_channels('tp', 'cv', {args})"));
            assert_eq!(state.as_deref(), Some("22023"), "{args}");
        }
        let (state, message) =
            error_of("SELECT * FROM markov_transition_matrix('SELECT ''a'', 1, 0, 0', markov_order => 12)")
                .unwrap();
        assert_eq!(
            (state.as_str(), message.as_str()),
            ("22023", "markov_order must be between 1 and 8, not 12")
        );
        // max_channels => 2 keeps the two channels in most conversions and names the rest 'other'
        let names = Spi::get_one::<String>(
            "SELECT string_agg(channel, ',' ORDER BY channel) FROM attribute_paths(
                 'SELECT * FROM (VALUES (''a>b'', 3, 0, 0), (''c>a'', 2, 0, 0), (''d'', 1, 0, 0)) p',
                 model => 'shapley', max_channels => 2)",
        )
        .unwrap();
        assert_eq!(names.as_deref(), Some("a,b,other"));
    }
}
