//! customer_stage, growth_accounting, segment_migration, channel_preference and the
//! decayed_activity aggregate: the SQL surface of src/core/states.rs and decay.rs.
//! Reference: docs/states.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgTupleDesc};

use super::{aggregate, finite_micros, interval_arg, midnight_after, required, timestamptz, TRANSACTIONS};
use crate::core::decay::{check_half_life, DecayedActivity};
use crate::core::interner::Interner;
use crate::core::rfm::CustomerSummaries;
use crate::core::states::{
    self, Conversion, Migration, Period, PurchaseHistory, Snapshot, StageThresholds, Touch, Transaction,
    MAX_PERIODS,
};
use crate::core::stats::ExactSum;
use crate::error::{Error, ErrorKind, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

const fn snapshot(argument: &'static str) -> Shape {
    const COLUMNS: &[input::Column] = &[column("customer_key", Kind::Key), column("segment", Kind::Text)];
    Shape { argument, columns: COLUMNS, more: More::Nothing }
}

const TOUCHPOINTS: Shape = Shape {
    argument: "touchpoints",
    columns: &[
        column("customer_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("channel", Kind::Text),
    ],
    more: More::Nothing,
};

const CONVERSIONS: Shape = Shape {
    argument: "conversions",
    columns: &[
        column("customer_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("value", Kind::Number),
    ],
    more: More::Nothing,
};

/// A positive interval argument in microseconds; zero or negative raises 22023.
fn positive_interval(interval: Option<Interval>, argument: &str) -> i64 {
    check_half_life(interval_arg(required(interval, argument), argument), argument).or_raise()
}

/// Lifecycle stage of each customer at as_of; see docs/states.md.
#[pg_extern(volatile, parallel_unsafe)]
fn customer_stage(
    transactions: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    new_within: default!(Option<Interval>, "'30 days'"),
    active_within: default!(Option<Interval>, "'90 days'"),
    churned_after: default!(Option<Interval>, "'365 days'"),
) -> TableIterator<
    'static,
    (
        name!(customer_key, String),
        name!(stage, String),
        name!(first_ts, TimestampWithTimeZone),
        name!(last_ts, TimestampWithTimeZone),
        name!(days_since_last, f64),
        name!(previous_gap_days, Option<f64>),
        name!(purchases, i64),
    ),
> {
    let transactions = required(transactions, "transactions");
    let thresholds = StageThresholds::new(
        positive_interval(new_within, "new_within"),
        positive_interval(active_within, "active_within"),
        positive_interval(churned_after, "churned_after"),
    )
    .or_raise();
    let as_of = as_of.map(|ts| finite_micros(ts, "as_of"));
    let mut customers = CustomerSummaries::<PurchaseHistory>::new(as_of);
    input::for_each_row(&TRANSACTIONS, transactions, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            customers.add(key.as_key(), ts, 0.0);
        }
    });
    let Some(as_of) = as_of.or_else(|| customers.latest_ts().map(midnight_after)) else {
        return TableIterator::new(Vec::new());
    };
    let (keys, histories) = customers.into_sorted();
    let rows: Vec<_> = keys
        .into_iter()
        .zip(histories)
        .map(|(key, history)| {
            (
                key,
                history.stage(as_of, &thresholds).name().to_string(),
                timestamptz(history.first_ts),
                timestamptz(history.last_ts),
                history.days_since_last(as_of),
                history.previous_gap_days(),
                history.purchases as i64,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// The starts of the periods from the one before `lower`'s to the one after `upper`'s, by
/// date_trunc in the session's time zone; more than MAX_PERIODS reported periods raise 54000.
fn period_starts(period: Period, lower: i64, upper: i64) -> Vec<i64> {
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
            format!("growth_accounting reports at most {MAX_PERIODS} periods: narrow from_ts and to_ts or use a longer period"),
        )
        .raise();
    }
    let mut starts: Vec<i64> = starts.into_iter().map(pg_sys::TimestampTz::from).collect();
    starts.dedup();
    starts
}

/// New, retained, resurrected and churned customers and revenue per period; see docs/states.md.
#[pg_extern(volatile, parallel_unsafe)]
fn growth_accounting(
    transactions: Option<&str>,
    period: default!(Option<&str>, "'month'"),
    from_ts: default!(Option<TimestampWithTimeZone>, "NULL"),
    to_ts: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(period_start, TimestampWithTimeZone),
        name!(active, i64),
        name!(new, i64),
        name!(retained, i64),
        name!(resurrected, i64),
        name!(churned, i64),
        name!(revenue, f64),
        name!(new_revenue, f64),
        name!(retained_revenue, f64),
        name!(expansion, f64),
        name!(contraction, f64),
        name!(resurrected_revenue, f64),
        name!(churned_revenue, f64),
        name!(quick_ratio, Option<f64>),
    ),
> {
    let transactions = required(transactions, "transactions");
    let period = Period::parse(required(period, "period")).or_raise();
    let from_ts = from_ts.map(|ts| finite_micros(ts, "from_ts"));
    let to_ts = to_ts.map(|ts| finite_micros(ts, "to_ts"));
    if let (Some(from), Some(to)) = (from_ts, to_ts) {
        if from > to {
            Error::invalid_parameter("from_ts must not be later than to_ts").raise();
        }
    }
    let mut keys = Interner::default();
    let mut rows = Vec::new();
    input::for_each_row(&TRANSACTIONS, transactions, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            let customer = keys.key_id(key.as_key());
            rows.push(Transaction { customer, ts, amount: row.number(2).unwrap_or(0.0) });
        }
    });
    let lower = from_ts.or_else(|| rows.iter().map(|t| t.ts).min());
    let upper = to_ts.or_else(|| rows.iter().map(|t| t.ts).max());
    let (Some(lower), Some(upper)) = (lower, upper) else { return TableIterator::new(Vec::new()) };
    if lower > upper {
        // one bound given, beyond all the data: no period in range
        return TableIterator::new(Vec::new());
    }
    let starts = period_starts(period, lower, upper);
    // ids in key order, 42 and '42' merged, so sorting by id groups each customer once
    let (_, new_id) = keys.into_sorted();
    rows.iter_mut().for_each(|t| t.customer = new_id[t.customer as usize]);
    let periods = states::growth_accounting(&rows, &starts, &mut interrupt);
    let rows: Vec<_> = periods
        .into_iter()
        .zip(&starts[1..])
        .map(|(p, &start)| {
            (
                timestamptz(start),
                p.active as i64,
                p.new as i64,
                p.retained as i64,
                p.resurrected as i64,
                p.churned as i64,
                p.revenue,
                p.new_revenue,
                p.retained_revenue,
                p.expansion,
                p.contraction,
                p.resurrected_revenue,
                p.churned_revenue,
                p.quick_ratio,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// How customers moved between segments from one snapshot to another; see docs/states.md.
#[pg_extern(volatile, parallel_unsafe)]
fn segment_migration(
    before: Option<&str>,
    after: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(from_segment, Option<String>),
        name!(to_segment, Option<String>),
        name!(customers, i64),
        name!(share_of_from, Option<f64>),
    ),
> {
    const BEFORE: Shape = snapshot("before");
    const AFTER: Shape = snapshot("after");
    let mut migration = Migration::default();
    for (shape, which, query) in [
        (&BEFORE, Snapshot::Before, required(before, "before")),
        (&AFTER, Snapshot::After, required(after, "after")),
    ] {
        input::for_each_row(shape, query, |row| {
            if let (Some(key), Some(segment)) = (row.key(0), row.text(1)) {
                migration.add(which, key.as_key(), &segment).or_raise();
            }
        });
    }
    let rows: Vec<_> = migration
        .table()
        .into_iter()
        .map(|m| (m.from_segment, m.to_segment, m.customers as i64, m.share_of_from))
        .collect();
    TableIterator::new(rows)
}

/// Each customer's preferred channel by exponentially decayed touches; see docs/states.md.
#[pg_extern(volatile, parallel_unsafe)]
fn channel_preference(
    touchpoints: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    half_life: default!(Option<Interval>, "'30 days'"),
    conversions: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(customer_key, String),
        name!(preferred_channel, String),
        name!(share, f64),
        name!(second_channel, Option<String>),
        name!(touches, i64),
        name!(converting_channel, Option<String>),
    ),
> {
    let touchpoints = required(touchpoints, "touchpoints");
    let half_life = positive_interval(half_life, "half_life");
    let as_of = as_of.map(|ts| finite_micros(ts, "as_of"));
    let mut customers = Interner::default();
    let mut channels = Interner::default();
    let mut touches = Vec::new();
    input::for_each_row(&TOUCHPOINTS, touchpoints, |row| {
        if let (Some(key), Some(ts), Some(channel)) = (row.key(0), row.timestamp(1), row.text(2)) {
            touches.push(Touch {
                customer: customers.key_id(key.as_key()),
                ts,
                channel: channels.id(&channel),
            });
        }
    });
    let mut converted = Vec::new();
    if let Some(conversions) = conversions {
        input::for_each_row(&CONVERSIONS, conversions, |row| {
            if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
                converted.push(Conversion { customer: customers.key_id(key.as_key()), ts });
            }
        });
    }
    let Some(as_of) = as_of.or_else(|| touches.iter().map(|t| t.ts).max().map(midnight_after)) else {
        return TableIterator::new(Vec::new());
    };
    // ids in name order, so that ties by id are ties by name
    let (customer_names, customer_id) = customers.into_sorted();
    let (channel_names, channel_id) = channels.into_sorted();
    for t in &mut touches {
        t.customer = customer_id[t.customer as usize];
        t.channel = channel_id[t.channel as usize];
    }
    converted.iter_mut().for_each(|c| c.customer = customer_id[c.customer as usize]);
    let channel = |id: u32| channel_names[id as usize].clone();
    let rows: Vec<_> = states::channel_preference(touches, converted, as_of, half_life, &mut interrupt)
        .into_iter()
        .map(|p| {
            (
                customer_names[p.customer as usize].clone(),
                channel(p.preferred_channel),
                p.share,
                p.second_channel.map(channel),
                p.touches as i64,
                p.converting_channel.map(channel),
            )
        })
        .collect();
    TableIterator::new(rows)
}

// ---- The decayed_activity aggregate -------------------------------------------------
//
// Its state is `internal`, so CREATE AGGREGATE is written by hand below (pgrx's
// #[pg_aggregate] declares a wrong deserial signature for internal states).

/// The aggregate's state: the group's half-life and as_of, and its events so far.
#[derive(Debug, Clone)]
struct DecayState {
    half_life: i64,
    as_of: i64,
    activity: DecayedActivity,
}

/// The first byte of a serialized state; another value is refused.
const DECAY_STATE_VERSION: u8 = 1;

fn decay_state(state: &mut Internal) -> Option<&mut DecayState> {
    // SAFETY: every internal value these functions receive was made by them below.
    unsafe { aggregate::state_of::<DecayState>(state) }
}

fn same_parameters(state: &DecayState, half_life: i64, as_of: i64) {
    if state.half_life != half_life || state.as_of != as_of {
        Error::invalid_parameter(
            "decayed_activity: half_life and as_of must be the same for every row of a group",
        )
        .raise();
    }
}

#[pg_extern(immutable, parallel_safe)]
fn decayed_activity_transition(
    mut state: Internal,
    ts: Option<TimestampWithTimeZone>,
    amount: Option<f64>,
    half_life: Option<Interval>,
    as_of: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let half_life = positive_interval(half_life, "decayed_activity's half_life");
    let as_of = finite_micros(
        as_of.unwrap_or_else(|| Error::invalid_parameter("decayed_activity: as_of must not be NULL").raise()),
        "decayed_activity's as_of",
    );
    if decay_state(&mut state).is_none() {
        state = aggregate::new_state(
            fcinfo,
            "decayed_activity",
            DecayState { half_life, as_of, activity: DecayedActivity::default() },
        );
    }
    let current = decay_state(&mut state).expect("the state was just made");
    same_parameters(current, half_life, as_of);
    if let Some(ts) = ts {
        current
            .activity
            .add(finite_micros(ts, "decayed_activity's ts"), amount.unwrap_or(0.0), as_of, half_life)
            .or_raise();
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn decayed_activity_combine(
    mut left: Internal,
    mut right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let right = decay_state(&mut right).cloned();
    match (decay_state(&mut left), right) {
        (_, None) => left,
        (None, Some(right)) => aggregate::new_state(fcinfo, "decayed_activity", right),
        (Some(current), Some(right)) => {
            same_parameters(current, right.half_life, right.as_of);
            current.activity.merge(&right.activity);
            left
        }
    }
}

/// Serialized state: the version byte, then half_life, as_of, last_ts (i64::MIN for none),
/// and each exact sum as its count of partials and the partials (little-endian, 8 bytes each).
#[pg_extern(immutable, parallel_safe, strict)]
fn decayed_activity_serialize(mut state: Internal) -> Vec<u8> {
    let state = decay_state(&mut state).expect("a strict serial function receives a state");
    let mut bytes = vec![DECAY_STATE_VERSION];
    for word in [state.half_life, state.as_of, state.activity.last_ts.unwrap_or(i64::MIN)] {
        bytes.extend(word.to_le_bytes());
    }
    for sum in [&state.activity.count, &state.activity.amount] {
        bytes.extend((sum.partials().len() as u64).to_le_bytes());
        sum.partials().iter().for_each(|p| bytes.extend(p.to_le_bytes()));
    }
    bytes
}

#[pg_extern(immutable, parallel_safe, strict)]
fn decayed_activity_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let refuse = |what: &str| -> ! {
        Error::invalid_parameter(format!("decayed_activity: a serialized state {what}")).raise()
    };
    if bytes.first() != Some(&DECAY_STATE_VERSION) {
        refuse("is of another format version");
    }
    let mut words =
        bytes[1..].chunks(8).map(|w| <[u8; 8]>::try_from(w).unwrap_or_else(|_| refuse("is truncated")));
    let mut word = || words.next().unwrap_or_else(|| refuse("is truncated"));
    let half_life = i64::from_le_bytes(word());
    let as_of = i64::from_le_bytes(word());
    let last_ts = Some(i64::from_le_bytes(word())).filter(|&ts| ts != i64::MIN);
    let mut sum = || {
        let n = u64::from_le_bytes(word());
        let mut sum = ExactSum::default();
        for _ in 0..n {
            let partial = f64::from_le_bytes(word());
            if !partial.is_finite() {
                refuse("holds a number that is not finite");
            }
            // adding the partials again keeps the sum's invariants whatever the bytes hold
            sum.add(partial);
        }
        sum
    };
    let (count, amount) = (sum(), sum());
    if half_life <= 0 || words.next().is_some() {
        refuse("is malformed");
    }
    aggregate::new_state(
        fcinfo,
        "decayed_activity",
        DecayState { half_life, as_of, activity: DecayedActivity { count, amount, last_ts } },
    )
}

#[pg_extern(immutable, parallel_safe, requires = ["decayed_activity_summary_type"])]
fn decayed_activity_final(
    mut state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<pgrx::composite_type!('static, "decayed_activity_summary")> {
    let activity = &decay_state(&mut state)?.activity;
    // SAFETY: fcinfo and its flinfo come from Postgres for this call.
    let type_oid = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    let descriptor = PgTupleDesc::for_composite_type_by_oid(type_oid)
        .expect("decayed_activity returns the composite type decayed_activity_summary");
    let datums = [
        activity.count.value().into_datum(),
        activity.amount.value().into_datum(),
        activity.last_ts.and_then(|ts| ts.into_datum()),
    ];
    // SAFETY: the datums match decayed_activity_summary's column types (timestamptz is an int8 datum).
    match unsafe { PgHeapTuple::from_datums(descriptor, datums) } {
        Ok(tuple) => Some(tuple),
        Err(e) => {
            Error::invalid_parameter(format!("decayed_activity could not build its result: {e}")).raise()
        }
    }
}

extension_sql!(
    "CREATE TYPE decayed_activity_summary AS (decayed_count float8, decayed_amount float8, last_ts timestamptz);
     COMMENT ON TYPE decayed_activity_summary IS
         'Exponentially decayed count and amount of a group''s events, the result of decayed_activity (see docs/states.md)';",
    name = "decayed_activity_summary_type",
);

extension_sql!(
    "CREATE AGGREGATE decayed_activity(ts timestamptz, amount float8, half_life interval, as_of timestamptz) (
         sfunc = decayed_activity_transition,
         stype = internal,
         finalfunc = decayed_activity_final,
         combinefunc = decayed_activity_combine,
         serialfunc = decayed_activity_serialize,
         deserialfunc = decayed_activity_deserialize,
         parallel = safe);
     COMMENT ON AGGREGATE decayed_activity(timestamptz, float8, interval, timestamptz) IS
         'Sum of 2^(-(as_of - ts) / half_life) over a group''s events up to as_of, and of amount so weighted (see docs/states.md)';",
    name = "decayed_activity_aggregate",
    requires = [
        decayed_activity_transition,
        decayed_activity_combine,
        decayed_activity_serialize,
        decayed_activity_deserialize,
        decayed_activity_final
    ],
);

extension_sql!(
    "COMMENT ON FUNCTION customer_stage(text, timestamptz, interval, interval, interval) IS
         'Lifecycle stage (new, reactivated, active, lapsed, churned) of each customer at as_of (see docs/states.md)';
     COMMENT ON FUNCTION growth_accounting(text, text, timestamptz, timestamptz) IS
         'New, retained, resurrected and churned customers and revenue per period (see docs/states.md)';
     COMMENT ON FUNCTION segment_migration(text, text) IS
         'Customers per (segment before, segment after) pair of two snapshots (see docs/states.md)';
     COMMENT ON FUNCTION channel_preference(text, timestamptz, interval, text) IS
         'Each customer''s preferred channel by exponentially decayed touches, and the channel that converts them (see docs/states.md)';
     COMMENT ON FUNCTION decayed_activity_transition(internal, timestamptz, float8, interval, timestamptz) IS
         'Support function of the decayed_activity aggregate';
     COMMENT ON FUNCTION decayed_activity_combine(internal, internal) IS 'Support function of the decayed_activity aggregate';
     COMMENT ON FUNCTION decayed_activity_serialize(internal) IS 'Support function of the decayed_activity aggregate';
     COMMENT ON FUNCTION decayed_activity_deserialize(bytea, internal) IS 'Support function of the decayed_activity aggregate';
     COMMENT ON FUNCTION decayed_activity_final(internal) IS 'Support function of the decayed_activity aggregate';",
    name = "states_comments",
    requires = [customer_stage, growth_accounting, segment_migration, channel_preference, "decayed_activity_aggregate"],
);
