//! attribute_touchpoints, attribute_channels, attribute_paths: the SQL surface of
//! src/core/attribution. Reference: docs/attribution.md.

use pgrx::prelude::*;

use super::{interval_arg, required, text_list};
use crate::core::attribution::rules::RuleModel;
use crate::core::attribution::{Attribution, ChannelTotal, ChannelTotals};
use crate::core::journey::{
    ChannelId, Interner, JourneyBuilder, Journeys, PathTouch, PathTransform, WindowOptions,
};
use crate::error::{Error, OrRaise};
use crate::input::{self, column, Kind, Shape};

const TOUCHPOINTS: Shape = Shape {
    argument: "touchpoints",
    columns: &[
        column("journey_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("channel", Kind::Text),
    ],
};

const CONVERSIONS: Shape = Shape {
    argument: "conversions",
    columns: &[
        column("journey_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("value", Kind::Number),
    ],
};

const PATHS: Shape = Shape {
    argument: "paths",
    columns: &[
        column("path", Kind::Path),
        column("conversions", Kind::Number),
        column("value", Kind::Number),
        column("nulls", Kind::Number),
    ],
};

/// The arguments shared by attribute_touchpoints and attribute_channels.
struct RawRequest {
    journeys: Journeys,
    window: WindowOptions,
    attribution: Attribution,
}

#[allow(clippy::too_many_arguments)]
fn raw_request(
    touchpoints: Option<&str>,
    conversions: Option<&str>,
    model: Option<&str>,
    lookback: Option<Interval>,
    max_touches: Option<i32>,
    half_life: Option<Interval>,
    weights: Option<Vec<Option<f64>>>,
    exclude_channels: Option<Vec<Option<String>>>,
    path_transform: Option<&str>,
    reset_on_conversion: Option<bool>,
) -> RawRequest {
    let touchpoints = required(touchpoints, "touchpoints");
    let conversions = required(conversions, "conversions");
    let (model, exclude_channels, transform) =
        model_arguments(model, half_life, weights, exclude_channels, path_transform);
    let lookback = interval_arg(required(lookback, "lookback"));
    if lookback <= 0 {
        Error::invalid_parameter("lookback must be a positive interval").raise();
    }
    let max_touches = max_touches.map(|n| match usize::try_from(n) {
        Ok(n) if n >= 1 => n,
        _ => Error::invalid_parameter(format!("max_touches must be at least 1, not {n}")).raise(),
    });
    let reset_on_conversion = required(reset_on_conversion, "reset_on_conversion");

    let mut builder = JourneyBuilder::default();
    input::for_each_row(&TOUCHPOINTS, touchpoints, |row| {
        if let (Some(key), Some(ts), Some(channel)) = (row.text(0), row.timestamp(1), row.text(2)) {
            builder.add_touch(&key, ts, &channel);
        }
    });
    input::for_each_row(&CONVERSIONS, conversions, |row| {
        if let (Some(key), Some(ts)) = (row.text(0), row.timestamp(1)) {
            builder.add_conversion(&key, ts, row.number(2).unwrap_or(0.0));
        }
    });
    let journeys = builder.into_journeys();
    let excluded = Attribution::excluded_ids(journeys.channels(), &exclude_channels);
    RawRequest {
        journeys,
        window: WindowOptions { lookback, max_touches, reset_on_conversion },
        attribution: Attribution { model, excluded, transform },
    }
}

/// Parses model, half_life, weights, exclude_channels (default '{direct}' for
/// last_non_direct, none otherwise) and path_transform.
fn model_arguments(
    model: Option<&str>,
    half_life: Option<Interval>,
    weights: Option<Vec<Option<f64>>>,
    exclude_channels: Option<Vec<Option<String>>>,
    path_transform: Option<&str>,
) -> (RuleModel, Vec<String>, PathTransform) {
    let name = required(model, "model");
    let half_life = interval_arg(required(half_life, "half_life"));
    let weights = weights.map(|w| {
        w.into_iter()
            .map(|x| x.unwrap_or_else(|| Error::invalid_parameter("weights must not contain NULL").raise()))
            .collect::<Vec<f64>>()
    });
    let model = RuleModel::parse(name, half_life, weights.as_deref()).or_raise();
    let excluded = match exclude_channels {
        Some(list) => text_list(list),
        None if model.excludes_by_itself() => vec!["direct".to_string()],
        None => Vec::new(),
    };
    let transform = PathTransform::parse(required(path_transform, "path_transform")).or_raise();
    (model, excluded, transform)
}

fn timestamptz(micros: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(micros).expect("a timestamp read from Postgres converts back")
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
    let request = raw_request(
        touchpoints,
        conversions,
        model,
        lookback,
        max_touches,
        half_life,
        weights,
        exclude_channels,
        path_transform,
        reset_on_conversion,
    );
    let journeys = &request.journeys;
    let channel_names = journeys.channels();
    let mut rows = Vec::new();
    request.attribution.for_each_conversion(journeys, &request.window, |conversion, path, credits| {
        let conversion_part = (
            conversion.id as i64,
            journeys.key_name(conversion.key).to_string(),
            timestamptz(conversion.ts),
            conversion.value,
        );
        let path_length = path.len() as i32;
        if credits.is_empty() {
            let (id, key, ts, value) = conversion_part;
            rows.push((id, key, ts, value, None, None, None, path_length, 1.0, value));
            return;
        }
        for (position, (touch, &credit)) in path.iter().zip(credits).enumerate() {
            let (id, key, ts, value) = conversion_part.clone();
            rows.push((
                id,
                key,
                ts,
                value,
                Some(channel_names[touch.channel as usize].clone()),
                Some(timestamptz(touch.ts)),
                Some(position as i32 + 1),
                path_length,
                credit,
                credit * value,
            ));
        }
    });
    TableIterator::new(rows)
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
    let request = raw_request(
        touchpoints,
        conversions,
        model,
        lookback,
        max_touches,
        half_life,
        weights,
        exclude_channels,
        path_transform,
        reset_on_conversion,
    );
    let mut totals = ChannelTotals::new(request.journeys.channels().len());
    request.attribution.for_each_conversion(
        &request.journeys,
        &request.window,
        |conversion, path, credits| {
            totals.add(path, credits, 1.0, conversion.value);
        },
    );
    channel_rows(totals.into_rows(), request.journeys.channels())
}

fn channel_rows(
    totals: Vec<ChannelTotal>,
    names: &[String],
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
    let rows: Vec<_> = totals
        .into_iter()
        .map(|t| {
            (t.channel.map(|c| names[c as usize].clone()), t.conversions, t.value, t.touches as i64, None)
        })
        .collect();
    TableIterator::new(rows)
}

/// Rule models over aggregated paths: (path text or text[], conversions, value, nulls).
#[pg_extern(volatile, parallel_unsafe)]
fn attribute_paths(
    paths: Option<&str>,
    model: default!(Option<&str>, "'linear'"),
    separator: default!(Option<&str>, "'>'"),
    weights: default!(Option<Vec<Option<f64>>>, "NULL"),
    exclude_channels: default!(Option<Vec<Option<String>>>, "NULL"),
    path_transform: default!(Option<&str>, "'none'"),
) -> TableIterator<
    'static,
    (
        name!(channel, Option<String>),
        name!(conversions, f64),
        name!(value, f64),
        name!(removal_effect, Option<f64>),
    ),
> {
    let paths = required(paths, "paths");
    let separator = required(separator, "separator");
    if separator.is_empty() {
        Error::invalid_parameter("separator must not be empty").raise();
    }
    let model_text = required(model, "model");
    // half_life is not an argument here: the models that use time are refused below.
    let seven_days = Interval::new(0, 7, 0).expect("a valid interval");
    let (model, exclude_channels, transform) =
        model_arguments(Some(model_text), Some(seven_days), weights, exclude_channels, path_transform);
    if model.needs_timestamps() {
        Error::invalid_parameter(format!(
            "model '{model_text}' needs touch timestamps, which paths do not have; use attribute_touchpoints"
        ))
        .raise();
    }

    let mut channels = Interner::default();
    let mut weighted_paths: Vec<(Vec<PathTouch>, f64, f64)> = Vec::new();
    input::for_each_row(&PATHS, paths, |row| {
        let Some(names) = row.path(0, separator) else { return };
        let conversions = row.number(1).unwrap_or(0.0);
        let value = row.number(2).unwrap_or(0.0);
        let nulls = row.number(3).unwrap_or(0.0);
        if conversions < 0.0 || nulls < 0.0 {
            Error::invalid_parameter(format!(
                "paths: conversions and nulls must not be negative (path '{}')",
                names.join(separator)
            ))
            .raise();
        }
        let path = names.iter().map(|n| PathTouch { ts: 0, channel: channels.id(n) }).collect();
        weighted_paths.push((path, conversions, value));
    });
    let (names, new_ids) = channels.into_sorted();
    let excluded = Attribution::excluded_ids(&names, &exclude_channels);
    let attribution = Attribution { model, excluded, transform };
    let mut totals = ChannelTotals::new(names.len());
    for (mut path, conversions, value) in weighted_paths {
        for touch in &mut path {
            touch.channel = new_ids[touch.channel as usize] as ChannelId;
        }
        let credits = attribution.credit(&mut path, 0);
        totals.add(&path, &credits, conversions, value);
    }
    let rows: Vec<_> = totals
        .into_rows()
        .into_iter()
        .map(|t| (t.channel.map(|c| names[c as usize].clone()), t.conversions, t.value, None))
        .collect();
    TableIterator::new(rows)
}
