//! The SQL surface: argument checks, reading input, calling the core, returning rows.

// pgrx needs each table function's row type written out inline (name!(...) tuples); aliases
// break its SQL generation.
#![allow(clippy::type_complexity)]

mod aggregate;
mod attribution;
mod clv;
mod events;
mod model_cache;
mod propensity;
mod rfm;
mod roi;
mod segments;
mod states;

use pgrx::datum::Interval;
use pgrx::prelude::*;

use crate::core::states::{Period, MAX_PERIODS};
use crate::error::{Error, ErrorKind};
use crate::input::{column, Column, Kind, More, Shape};

// The COMMENTs of every generated function, once all of them exist.
pgrx::extension_sql_file!("../../sql/comments.sql", name = "comments", finalize);

/// Transactions as rfm_score and the CLV functions read them.
const TRANSACTIONS: Shape = transactions("transactions");

/// (customer_key, ts, amount) rows under the argument name `argument`.
const fn transactions(argument: &'static str) -> Shape {
    const COLUMNS: &[Column] =
        &[column("customer_key", Kind::Key), column("ts", Kind::Timestamp), column("amount", Kind::Number)];
    Shape { argument, columns: COLUMNS, more: More::Nothing }
}

/// The value of a required argument; NULL raises 22023 naming the argument.
fn required<T>(value: Option<T>, argument: &str) -> T {
    value.unwrap_or_else(|| Error::invalid_parameter(format!("{argument} must not be NULL")).raise())
}

/// An interval argument as microseconds (see core::interval_micros); one too long for
/// 64 bits raises 22008 naming the argument.
fn interval_arg(interval: Interval, argument: &str) -> i64 {
    crate::core::interval_micros(interval.months(), interval.days(), interval.micros()).unwrap_or_else(|| {
        Error::new(
            ErrorKind::DatetimeOverflow,
            format!("{argument} is too long: at most about 292,000 years"),
        )
        .raise()
    })
}

/// A text[] argument without its NULL elements.
fn text_list(list: Vec<Option<String>>) -> Vec<String> {
    list.into_iter().flatten().collect()
}

/// A timestamptz argument as microseconds; infinity raises 22023.
fn finite_micros(ts: TimestampWithTimeZone, argument: &str) -> i64 {
    if ts.is_infinity() || ts.is_neg_infinity() {
        Error::invalid_parameter(format!("{argument} must be a finite timestamp")).raise();
    }
    pgrx::pg_sys::TimestampTz::from(ts)
}

/// Microseconds (from Postgres) back to a timestamptz.
fn timestamptz(micros: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(micros).expect("a timestamp read from Postgres converts back")
}

/// Midnight after the day of `ts` in the session's time zone (the default as_of).
fn midnight_after(ts: i64) -> i64 {
    let ts = timestamptz(ts);
    let midnight = Spi::get_one_with_args::<TimestampWithTimeZone>(
        // schema-qualified, so that no search_path can put another function or operator here
        "SELECT pg_catalog.date_trunc('day', $1) OPERATOR(pg_catalog.+) interval '1 day'",
        &[ts.into()],
    )
    .expect("date arithmetic on a finite timestamp succeeds")
    .expect("date_trunc of a timestamp is not NULL");
    pgrx::pg_sys::TimestampTz::from(midnight)
}

/// The starts of the periods from the one before `lower`'s to the one after `upper`'s, by
/// date_trunc in the session's time zone; more than MAX_PERIODS periods raise 54000
/// naming `function`.
fn period_starts(function: &str, period: Period, lower: i64, upper: i64) -> Vec<i64> {
    let starts = Spi::get_one_with_args::<Vec<TimestampWithTimeZone>>(
        // schema-qualified, so that no search_path can put another function or operator here
        "SELECT pg_catalog.array_agg(pg_catalog.date_trunc($1, g) ORDER BY g)
         FROM (SELECT g FROM pg_catalog.generate_series(
                   pg_catalog.date_trunc($1, $2) OPERATOR(pg_catalog.-) $4::pg_catalog.interval,
                   pg_catalog.date_trunc($1, $3) OPERATOR(pg_catalog.+) $4::pg_catalog.interval,
                   $4::pg_catalog.interval) g
               LIMIT $5) s",
        &[
            period.field().into(),
            timestamptz(lower).into(),
            timestamptz(upper).into(),
            period.step().into(),
            (MAX_PERIODS as i64 + 3).into(),
        ],
    )
    .expect("the period query is well formed")
    .unwrap_or_default();
    if starts.len() > MAX_PERIODS + 2 {
        Error::new(
            ErrorKind::ProgramLimit,
            format!("{function} reports at most {MAX_PERIODS} periods: narrow from_ts and to_ts or use a longer period"),
        )
        .raise();
    }
    let mut starts: Vec<i64> = starts.into_iter().map(pg_sys::TimestampTz::from).collect();
    starts.dedup();
    starts
}
