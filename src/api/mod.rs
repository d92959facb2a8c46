//! The SQL surface: argument checks, reading input, calling the core, returning rows.

// pgrx needs each table function's row type written out inline (name!(...) tuples); aliases
// break its SQL generation.
#![allow(clippy::type_complexity)]

mod attribution;
mod clv;
mod model_cache;
mod rfm;

use pgrx::datum::Interval;

use crate::error::Error;

/// The value of a required argument; NULL raises 22023 naming the argument.
fn required<T>(value: Option<T>, argument: &str) -> T {
    value.unwrap_or_else(|| Error::invalid_parameter(format!("{argument} must not be NULL")).raise())
}

/// An interval argument as microseconds (see core::interval_micros).
fn interval_arg(interval: Interval) -> i64 {
    crate::core::interval_micros(interval.months(), interval.days(), interval.micros())
}

/// A text[] argument without its NULL elements.
fn text_list(list: Vec<Option<String>>) -> Vec<String> {
    list.into_iter().flatten().collect()
}
