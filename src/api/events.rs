//! window_funnel, funnel, sessions, path_summary, path_transitions, retention and
//! lifecycle: the SQL surface of src/core/events. Reference: docs/journeys.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal};

use super::{aggregate, finite_micros, interval_arg, period_starts, required, timestamptz};
use crate::core::events::funnel::{self, check_step_names, FunnelSpec, FunnelState, Mode};
use crate::core::events::paths::{self, check_max_steps, PathRules};
use crate::core::events::retention::{self, check_periods, EventFilter, STATUSES};
use crate::core::events::{period_index, sessions, EventLog, SortedLog};
use crate::core::positive_duration;
use crate::core::states::Period;
use crate::error::{Error, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

/// (key, ts, event) rows; the event name may be left out where a function needs no names.
const fn events_shape(event: More) -> Shape {
    const COLUMNS: &[input::Column] = &[column("key", Kind::Key), column("ts", Kind::Timestamp)];
    Shape { argument: "events", columns: COLUMNS, more: event }
}

const EVENTS: Shape = Shape {
    argument: "events",
    columns: &[column("key", Kind::Key), column("ts", Kind::Timestamp), column("event", Kind::Text)],
    more: More::Nothing,
};

/// Events whose name is optional (sessions, lifecycle).
const EVENTS_NAME_OPTIONAL: Shape = events_shape(More::Optional(column("event", Kind::Text)));

/// Reads events into key and name order; rows with a NULL key or ts are skipped.
fn read_events(shape: &Shape, events: &str) -> SortedLog {
    read_events_where(shape, events, |_| true).0.into_sorted(&mut interrupt)
}

/// Events as read, unsorted, keeping only those whose name `keep` accepts (the others are
/// not interned or stored), and the first and last time of every row read.
fn read_events_where(
    shape: &Shape,
    events: &str,
    keep: impl Fn(Option<&str>) -> bool,
) -> (EventLog, Option<(i64, i64)>) {
    let mut log = EventLog::default();
    let mut span: Option<(i64, i64)> = None;
    input::for_each_row(shape, events, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            span = Some(span.map_or((ts, ts), |(lo, hi)| (lo.min(ts), hi.max(ts))));
            let name = if row.column_count() > 2 { row.text(2) } else { None };
            if keep(name.as_deref()) {
                log.add(key.as_key(), ts, name.as_deref());
            }
        }
    });
    (log, span)
}

/// A required interval argument that must be positive, in microseconds (22023 otherwise).
fn positive_interval(interval: Option<Interval>, argument: &str) -> i64 {
    positive_duration(interval_arg(required(interval, argument), argument), argument).or_raise()
}

// ---- The window_funnel aggregate -----------------------------------------------------
//
// Its state is `internal`, so CREATE AGGREGATE is written by hand below (pgrx's
// #[pg_aggregate] declares a wrong deserial signature for internal states).

fn funnel_state(state: &mut Internal) -> Option<&mut FunnelState> {
    // SAFETY: every internal value these functions receive was made by them below.
    unsafe { aggregate::state_of::<FunnelState>(state) }
}

/// One row of either form: a NULL ts or steps array skips the row, NULL in the array is false.
fn add_funnel_row(
    mut state: Internal,
    window: Option<Interval>,
    ts: Option<TimestampWithTimeZone>,
    steps: Option<Array<bool>>,
    mode: &str,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let window = positive_interval(window, "window_funnel's window");
    let (Some(ts), Some(steps)) = (ts, steps) else { return state };
    let spec = FunnelSpec::new(steps.len(), window, Mode::parse(mode).or_raise()).or_raise();
    if funnel_state(&mut state).is_none() {
        state = aggregate::new_state(fcinfo, "window_funnel", FunnelState::new(spec));
    }
    let current = funnel_state(&mut state).expect("the state was just made");
    current.check_spec(&spec).or_raise();
    current.add_row(finite_micros(ts, "window_funnel's ts"), steps.iter().map(|step| step == Some(true)));
    // a group's state grows with its rows, not only with the groups
    if current.entries().is_multiple_of(65_536) {
        crate::memory::check();
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn window_funnel_transition(
    state: Internal,
    window: Option<Interval>,
    ts: Option<TimestampWithTimeZone>,
    steps: Option<Array<bool>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    add_funnel_row(state, window, ts, steps, "default", fcinfo)
}

#[pg_extern(immutable, parallel_safe)]
fn window_funnel_mode_transition(
    state: Internal,
    window: Option<Interval>,
    ts: Option<TimestampWithTimeZone>,
    steps: Option<Array<bool>>,
    mode: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    add_funnel_row(state, window, ts, steps, required(mode, "window_funnel's mode"), fcinfo)
}

#[pg_extern(immutable, parallel_safe)]
fn window_funnel_combine(left: Internal, right: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    // SAFETY: every internal value these functions receive was made by them.
    unsafe { aggregate::combine::<FunnelState>(left, right, fcinfo, "window_funnel") }
}

/// Serialized state: FunnelState::to_bytes (src/core/events/funnel.rs).
#[pg_extern(immutable, parallel_safe, strict)]
fn window_funnel_serialize(mut state: Internal) -> Vec<u8> {
    funnel_state(&mut state).expect("a strict serial function receives a state").to_bytes()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn window_funnel_deserialize(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    aggregate::new_state(fcinfo, "window_funnel", FunnelState::from_bytes(bytes).or_raise())
}

/// The level; 0 for a group without a row that counts.
#[pg_extern(immutable, parallel_safe)]
fn window_funnel_final(mut state: Internal) -> i32 {
    funnel_state(&mut state).map_or(0, |state| state.level(&mut interrupt) as i32)
}

pgrx::extension_sql_file!(
    "../../sql/aggregates/window_funnel.sql",
    name = "window_funnel_aggregate",
    requires = [
        window_funnel_transition,
        window_funnel_mode_transition,
        window_funnel_combine,
        window_funnel_serialize,
        window_funnel_deserialize,
        window_funnel_final
    ],
);

// ---- One-call functions over an events query -----------------------------------------

/// Users per funnel step, conversion rates and times between steps; see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn funnel(
    events: Option<&str>,
    steps: Option<Vec<Option<String>>>,
    window: default!(Option<Interval>, "'7 days'"),
    mode: default!(Option<&str>, "'default'"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(event, String),
        name!(users, i64),
        name!(conversion_from_previous, Option<f64>),
        name!(conversion_from_first, Option<f64>),
        name!(median_seconds_from_previous, Option<f64>),
        name!(p90_seconds_from_previous, Option<f64>),
    ),
> {
    let events = required(events, "events");
    let steps = required(steps, "steps");
    let names: Vec<Option<&str>> = steps.iter().map(Option::as_deref).collect();
    let steps = check_step_names(&names).or_raise();
    let mode = Mode::parse(required(mode, "mode")).or_raise();
    let spec = FunnelSpec::new(steps.len(), positive_interval(window, "window"), mode).or_raise();
    let log = read_events(&EVENTS, events);
    let rows: Vec<_> = funnel::funnel(&log, &steps, &spec, &mut interrupt)
        .into_iter()
        .map(|s| {
            (
                s.step as i32,
                s.event,
                s.users as i64,
                s.conversion_from_previous,
                s.conversion_from_first,
                s.median_seconds_from_previous,
                s.p90_seconds_from_previous,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Each key's sessions: split where more than `gap` passes between events; see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn sessions(
    events: Option<&str>,
    gap: default!(Option<Interval>, "'30 minutes'"),
) -> TableIterator<
    'static,
    (
        name!(key, String),
        name!(session, i64),
        name!(session_start, TimestampWithTimeZone),
        name!(session_end, TimestampWithTimeZone),
        name!(events, i64),
        name!(first_event, Option<String>),
        name!(last_event, Option<String>),
    ),
> {
    let events = required(events, "events");
    let gap = positive_interval(gap, "gap");
    let log = read_events(&EVENTS_NAME_OPTIONAL, events);
    let name = |id| log.name(id).map(str::to_string);
    let rows: Vec<_> = sessions::sessions(&log, gap, &mut interrupt)
        .into_iter()
        .map(|s| {
            (
                log.key(s.key).to_string(),
                s.number as i64,
                timestamptz(s.start),
                timestamptz(s.end),
                s.events as i64,
                name(s.first_name),
                name(s.last_name),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// The events and path rules shared by path_summary and path_transitions.
fn read_paths(
    events: Option<&str>,
    max_steps: Option<i32>,
    start_event: Option<&str>,
    session_gap: Option<Interval>,
    collapse_repeats: Option<bool>,
) -> (SortedLog, PathRules) {
    let events = required(events, "events");
    let max_steps = check_max_steps(required(max_steps, "max_steps")).or_raise();
    let session_gap = session_gap.map(|gap| positive_interval(Some(gap), "session_gap"));
    let collapse_repeats = required(collapse_repeats, "collapse_repeats");
    let log = read_events(&EVENTS, events);
    let start = start_event.map(|name| log.name_id(name));
    (log, PathRules { max_steps, start, session_gap, collapse_repeats })
}

/// The most common paths of event names; see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn path_summary(
    events: Option<&str>,
    max_steps: default!(Option<i32>, "5"),
    start_event: default!(Option<&str>, "NULL"),
    session_gap: default!(Option<Interval>, "NULL"),
    collapse_repeats: default!(Option<bool>, "true"),
    top: default!(Option<i32>, "20"),
) -> TableIterator<'static, (name!(path, String), name!(users, i64), name!(share, f64))> {
    let top = required(top, "top");
    if top < 1 {
        Error::invalid_parameter(format!("top must be at least 1, not {top}")).raise();
    }
    let (log, rules) = read_paths(events, max_steps, start_event, session_gap, collapse_repeats);
    let rows: Vec<_> = paths::path_summary(&log, &rules, top as usize, &mut interrupt)
        .into_iter()
        .map(|p| (p.path, p.users as i64, p.share))
        .collect();
    TableIterator::new(rows)
}

/// Keys going from one event to the next at each step of their paths; see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn path_transitions(
    events: Option<&str>,
    max_steps: default!(Option<i32>, "5"),
    start_event: default!(Option<&str>, "NULL"),
    session_gap: default!(Option<Interval>, "NULL"),
    collapse_repeats: default!(Option<bool>, "true"),
) -> TableIterator<
    'static,
    (name!(step, i32), name!(from_event, String), name!(to_event, String), name!(users, i64)),
> {
    let (log, rules) = read_paths(events, max_steps, start_event, session_gap, collapse_repeats);
    let rows: Vec<_> = paths::path_transitions(&log, &rules, &mut interrupt)
        .into_iter()
        .map(|t| (t.step as i32, t.from, t.to.unwrap_or_else(|| "(exit)".to_string()), t.users as i64))
        .collect();
    TableIterator::new(rows)
}

/// Period starts covering every one of `times`; None without any.
fn starts_over(function: &str, period: Period, times: impl Iterator<Item = i64>) -> Option<Vec<i64>> {
    let (lower, upper) = times.fold(None, |range: Option<(i64, i64)>, ts| {
        Some(range.map_or((ts, ts), |(lo, hi)| (lo.min(ts), hi.max(ts))))
    })?;
    Some(period_starts(function, period, lower, upper))
}

/// Cohort retention by period; see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn retention(
    events: Option<&str>,
    cohort_event: default!(Option<&str>, "NULL"),
    return_event: default!(Option<&str>, "NULL"),
    period: default!(Option<&str>, "'week'"),
    periods: default!(Option<i32>, "12"),
) -> TableIterator<
    'static,
    (
        name!(cohort_start, TimestampWithTimeZone),
        name!(cohort_size, i64),
        name!(period, i32),
        name!(retained, i64),
        name!(rate, f64),
    ),
> {
    let events = required(events, "events");
    let period = Period::parse(required(period, "period")).or_raise();
    let periods = check_periods(required(periods, "periods")).or_raise();
    // with both events named, the others only move the data's last event
    let both_named = cohort_event.zip(return_event);
    let keep = |name: Option<&str>| both_named.is_none_or(|(c, r)| name == Some(c) || name == Some(r));
    let (log, span) = read_events_where(&EVENTS, events, keep);
    let Some((first_ts, last_ts)) = span else { return TableIterator::new(Vec::new()) };
    let Some(starts) = starts_over("retention", period, [first_ts, last_ts].into_iter()) else {
        return TableIterator::new(Vec::new());
    };
    let filter = |name: Option<&str>| -> EventFilter { name.map(|name| log.name_id(name)) };
    let rows: Vec<_> = retention::retention(
        &log,
        filter(cohort_event),
        filter(return_event),
        &starts,
        last_ts,
        periods,
        &mut interrupt,
    )
    .into_iter()
    .map(|c| {
        (
            timestamptz(starts[c.cohort]),
            c.cohort_size as i64,
            c.period as i32,
            c.retained as i64,
            c.retained as f64 / c.cohort_size as f64,
        )
    })
    .collect();
    TableIterator::new(rows)
}

/// New, returning, resurrecting and dormant keys per period (PostHog's lifecycle); see docs/journeys.md.
#[pg_extern(volatile, parallel_unsafe)]
fn lifecycle(
    events: Option<&str>,
    period: default!(Option<&str>, "'week'"),
    from_ts: default!(Option<TimestampWithTimeZone>, "NULL"),
    to_ts: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> TableIterator<
    'static,
    (name!(period_start, TimestampWithTimeZone), name!(status, String), name!(users, i64)),
> {
    let events = required(events, "events");
    let period = Period::parse(required(period, "period")).or_raise();
    let from_ts = from_ts.map(|ts| finite_micros(ts, "from_ts"));
    let to_ts = to_ts.map(|ts| finite_micros(ts, "to_ts"));
    if let (Some(from), Some(to)) = (from_ts, to_ts) {
        if from > to {
            Error::invalid_parameter("from_ts must not be later than to_ts").raise();
        }
    }
    let log = read_events(&EVENTS_NAME_OPTIONAL, events);
    let times = log.events.iter().map(|e| e.ts).chain([from_ts, to_ts].into_iter().flatten());
    let Some(starts) = starts_over("lifecycle", period, times) else {
        return TableIterator::new(Vec::new());
    };
    let first_ts = log.events.iter().map(|e| e.ts).min().expect("starts_over found events");
    let last_ts = log.events.iter().map(|e| e.ts).max().expect("starts_over found events");
    let first = period_index(&starts, from_ts.unwrap_or(first_ts));
    let last = period_index(&starts, to_ts.unwrap_or(last_ts));
    let counts = retention::lifecycle(&log, &starts, first, last, &mut interrupt);
    let rows: Vec<_> = counts
        .iter()
        .enumerate()
        .flat_map(|(offset, by_status)| {
            let start = timestamptz(starts[first + offset]);
            STATUSES
                .iter()
                .zip(by_status)
                .map(move |(status, &users)| (start, status.to_string(), users as i64))
        })
        .collect();
    TableIterator::new(rows)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, plan_of, sqlstate_of};

    /// Random events of 300 keys over 60 days: four names, some NULL, repeated instants, in
    /// a time zone with daylight saving time.
    fn random_events() {
        Spi::run(
            "SET LOCAL TimeZone = 'America/New_York';
             SELECT setseed(0.31);
             CREATE TABLE ev AS
             SELECT (random() * 300)::int AS k,
                    '2024-02-20'::timestamptz + (random() * 60 * 24)::int * interval '1 hour' AS ts,
                    CASE WHEN random() < 0.05 THEN NULL
                         ELSE (ARRAY['view', 'cart', 'buy', 'home'])[1 + (random() * 3)::int] END AS event
             FROM generate_series(1, 6000)",
        )
        .unwrap();
    }

    /// The definition of window_funnel without options as SQL over ev: the longest chain of
    /// view, cart, buy in time order (ties allowed) within `window` of its first event.
    const CHAIN_LEVELS: &str = "
        WITH k AS (SELECT DISTINCT k FROM ev),
             two AS (SELECT DISTINCT a.k FROM ev a JOIN ev b ON a.k = b.k AND a.event = 'view' AND b.event = 'cart'
                         AND b.ts >= a.ts AND b.ts <= a.ts + interval '{window}'),
             three AS (SELECT DISTINCT a.k FROM ev a JOIN ev b ON a.k = b.k AND a.event = 'view' AND b.event = 'cart'
                         AND b.ts >= a.ts JOIN ev c ON c.k = a.k AND c.event = 'buy' AND c.ts >= b.ts
                         AND c.ts <= a.ts + interval '{window}')
        SELECT k.k, CASE WHEN k.k IN (SELECT k FROM three) THEN 3 WHEN k.k IN (SELECT k FROM two) THEN 2
                         WHEN k.k IN (SELECT k FROM ev WHERE event = 'view') THEN 1 ELSE 0 END AS level
        FROM k";

    #[pg_test]
    fn window_funnel_matches_the_chain_definition_in_sql() {
        random_events();
        for window in ["1 hour", "2 days", "10 days"] {
            let mismatches = count(&format!(
                "SELECT count(*) FROM ({chains}) s FULL JOIN (
                     SELECT k, window_funnel('{window}', ts, ARRAY[event = 'view', event = 'cart', event = 'buy']) AS level
                     FROM ev GROUP BY k) f USING (k)
                 WHERE s.level IS DISTINCT FROM f.level",
                chains = CHAIN_LEVELS.replace("{window}", window)
            ));
            assert_eq!(mismatches, 0, "{window}");
        }
        // every level occurs, so the comparison covers each
        let levels = count(
            "SELECT count(DISTINCT l) FROM (SELECT window_funnel('2 days', ts, ARRAY[event = 'view', event = 'cart', event = 'buy']) l
             FROM ev GROUP BY k) s",
        );
        assert_eq!(levels, 4);
    }

    #[pg_test]
    fn window_funnel_is_the_same_under_a_parallel_plan() {
        random_events();
        Spi::run("INSERT INTO ev SELECT * FROM ev; INSERT INTO ev SELECT * FROM ev; ANALYZE ev").unwrap();
        let query = "SELECT string_agg(k || ':' || l, ',' ORDER BY k) FROM (
                         SELECT k, window_funnel('3 days', ts, ARRAY[event = 'view', event = 'cart', event = 'buy'], 'strict_order') l
                         FROM ev GROUP BY k) s";
        let total = "SELECT window_funnel('3 days', ts, ARRAY[event = 'view', event = 'cart', event = 'buy'])::text FROM ev";
        let serial = (Spi::get_one::<String>(query).unwrap(), Spi::get_one::<String>(total).unwrap());
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2;
             SET LOCAL enable_hashagg = off",
        )
        .unwrap();
        for sql in [query, total] {
            let plan = plan_of(sql);
            assert!(plan.contains("Gather") && plan.contains("Partial"), "no parallel plan in\n{plan}");
        }
        assert_eq!((Spi::get_one::<String>(query).unwrap(), Spi::get_one::<String>(total).unwrap()), serial);
    }

    #[pg_test]
    fn window_funnel_skips_null_rows_and_reads_null_steps_as_false() {
        let level = |rows: &str, mode: &str| {
            count(&format!(
                "SELECT window_funnel('1 day', ts, ARRAY[e = 'a', e = 'b']{mode})::bigint FROM (VALUES {rows}) v(ts, e)"
            ))
        };
        assert_eq!(level("('2024-01-01'::timestamptz, 'a'), (NULL, 'b'), ('2024-01-01 01:00', NULL)", ""), 1);
        assert_eq!(level("('2024-01-01'::timestamptz, 'a'), ('2024-01-01 01:00', 'b')", ""), 2);
        // strict_order: the NULL event satisfies no step and ends the scan
        assert_eq!(
            level(
                "('2024-01-01'::timestamptz, 'a'), ('2024-01-01 00:30', NULL), ('2024-01-01 01:00', 'b')",
                ", 'strict_order'"
            ),
            1
        );
        assert_eq!(level("(NULL::timestamptz, 'a')", ""), 0);
        assert_eq!(count("SELECT window_funnel('1 day', now(), ARRAY[true])::bigint WHERE false"), 0);
    }

    #[pg_test]
    fn funnel_counts_the_users_window_funnel_reaches() {
        random_events();
        let mismatches = count(
            "WITH levels AS (SELECT window_funnel('2 days', ts, ARRAY[event = 'view', event = 'cart', event = 'buy'], 'strict_increase') l
                             FROM ev GROUP BY k),
                  expected AS (SELECT s AS step, count(*) FILTER (WHERE l >= s) AS users
                               FROM levels, generate_series(1, 3) s GROUP BY s)
             SELECT count(*) FROM expected e FULL JOIN funnel('ev', ARRAY['view', 'cart', 'buy'], '2 days', 'strict_increase') f
                 USING (step)
             WHERE e.users IS DISTINCT FROM f.users",
        );
        assert_eq!(mismatches, 0);
        let rates = count(
            "SELECT count(*) FROM (SELECT step, users, conversion_from_previous c, conversion_from_first f,
                                          lag(users) OVER (ORDER BY step) prev, first_value(users) OVER (ORDER BY step) first
                                   FROM funnel('ev', ARRAY['view', 'cart', 'buy'], '2 days')) s
             WHERE c IS DISTINCT FROM CASE WHEN step = 1 THEN 1 ELSE users::float8 / prev END
                OR f IS DISTINCT FROM users::float8 / first",
        );
        assert_eq!(rates, 0);
        // times: every timed step has a median no later than its p90, and step 1 none
        let bad_times = count(
            "SELECT count(*) FROM funnel('ev', ARRAY['view', 'cart', 'buy'], '2 days')
             WHERE (step = 1) <> (median_seconds_from_previous IS NULL)
                OR median_seconds_from_previous > p90_seconds_from_previous OR median_seconds_from_previous < 0",
        );
        assert_eq!(bad_times, 0);
    }

    #[pg_test]
    fn funnel_times_are_the_nearest_rank_quantiles_of_the_first_chain() {
        // u1: view, cart 10 s later; u2: 20 s; u3: 30 s, u4: 40 s; u5 views twice and carts
        // 100 s after its first view (the chain starts at the earliest view)
        let row = Spi::get_two::<f64, f64>(
            "SELECT median_seconds_from_previous, p90_seconds_from_previous
             FROM funnel($$SELECT * FROM (VALUES
                 (1, '2024-01-01 00:00:00'::timestamptz, 'view'), (1, '2024-01-01 00:00:10', 'cart'),
                 (2, '2024-01-01 00:00:00', 'view'), (2, '2024-01-01 00:00:20', 'cart'),
                 (3, '2024-01-01 00:00:00', 'view'), (3, '2024-01-01 00:00:30', 'cart'),
                 (4, '2024-01-01 00:00:00', 'view'), (4, '2024-01-01 00:00:40', 'cart'),
                 (5, '2024-01-01 00:00:00', 'view'), (5, '2024-01-01 00:01:00', 'view'),
                 (5, '2024-01-01 00:01:40', 'cart')) v$$, ARRAY['view', 'cart'])
             WHERE step = 2",
        )
        .unwrap();
        // times 10, 20, 30, 40, 100: median the 3rd (ceil(2.5)), p90 the 5th (ceil(4.5))
        assert_eq!(row, (Some(30.0), Some(100.0)));
    }

    #[pg_test]
    fn sessions_match_an_independent_sql_formulation() {
        random_events();
        for gap in ["30 minutes", "5 hours", "2 days"] {
            let mismatches = count(&format!(
                "WITH o AS (SELECT k::text AS k, ts, event,
                                   coalesce(ts - lag(ts) OVER (PARTITION BY k ORDER BY ts, event) > interval '{gap}', true) AS starts
                            FROM ev),
                      n AS (SELECT *, -- peers (one instant and name) share the count of their group
                                   count(*) FILTER (WHERE starts) OVER (PARTITION BY k ORDER BY ts, event NULLS LAST) AS session
                            FROM o),
                      sql AS (SELECT k, session, min(ts) AS s, max(ts) AS e, count(*) AS events,
                                     (array_agg(event ORDER BY ts, event NULLS LAST))[1] AS first,
                                     (array_agg(event ORDER BY ts DESC, event DESC NULLS FIRST))[1] AS last
                              FROM n GROUP BY k, session)
                 SELECT count(*) FROM sql FULL JOIN sessions('ev', '{gap}') f
                     ON f.key = sql.k AND f.session = sql.session
                 WHERE (f.session_start, f.session_end, f.events, f.first_event, f.last_event)
                       IS DISTINCT FROM (sql.s, sql.e, sql.events, sql.first, sql.last)"
            ));
            assert_eq!(mismatches, 0, "{gap}");
        }
        // the event column may be left out
        assert_eq!(count("SELECT count(*) FROM sessions('SELECT k, ts FROM ev', '5 hours') WHERE first_event IS NOT NULL"), 0);
    }

    #[pg_test]
    fn retention_matches_an_independent_sql_formulation() {
        random_events();
        for (period, step, cohort, ret) in [
            ("week", "7 days", "NULL", "NULL"),
            ("day", "1 day", "'view'", "'buy'"),
            ("month", "1 month", "'cart'", "NULL"),
        ] {
            let mismatches = count(&format!(
                "WITH c AS (SELECT k, date_trunc('{period}', min(ts)) AS cs FROM ev
                            WHERE {cohort}::text IS NULL OR event = {cohort} GROUP BY k),
                      r AS (SELECT DISTINCT k, date_trunc('{period}', ts) AS rs FROM ev WHERE {ret}::text IS NULL OR event = {ret}),
                      last AS (SELECT date_trunc('{period}', max(ts)) AS ls FROM ev),
                      sizes AS (SELECT cs, count(*) AS size FROM c GROUP BY cs),
                      cells AS (SELECT s.cs, s.size, p FROM sizes s, last, generate_series(0, 3) p
                                WHERE s.cs + p * interval '{step}' <= last.ls),
                      sql AS (SELECT cells.cs, cells.size, cells.p,
                                     (SELECT count(*) FROM c JOIN r USING (k)
                                      WHERE c.cs = cells.cs AND r.rs = cells.cs + cells.p * interval '{step}') AS retained
                              FROM cells)
                 SELECT count(*) FROM sql FULL JOIN retention('ev', {cohort}, {ret}, '{period}', 3) f
                     ON f.cohort_start = sql.cs AND f.period = sql.p
                 WHERE (f.cohort_size, f.retained) IS DISTINCT FROM (sql.size, sql.retained)
                    OR f.rate IS DISTINCT FROM sql.retained::float8 / sql.size"
            ));
            assert_eq!(mismatches, 0, "{period} {cohort} {ret}");
        }
        assert_eq!(count("SELECT count(*) FROM retention('ev', cohort_event => 'no such event')"), 0);
    }

    #[pg_test]
    fn lifecycle_matches_an_independent_sql_formulation() {
        random_events();
        for (period, step, range, call_range) in [
            ("week", "7 days", "SELECT min(ts), max(ts) FROM ev", ""),
            (
                "day",
                "1 day",
                "SELECT '2024-03-01'::timestamptz, '2024-03-20'::timestamptz",
                ", from_ts => '2024-03-01', to_ts => '2024-03-20'",
            ),
        ] {
            let mismatches = count(&format!(
                "WITH a AS (SELECT DISTINCT k, date_trunc('{period}', ts) AS ps FROM ev),
                      f AS (SELECT k, min(ps) AS first FROM a GROUP BY k),
                      g AS (SELECT g AS ps FROM ({range}) r(lo, hi),
                            generate_series(date_trunc('{period}', lo), date_trunc('{period}', hi), interval '{step}') g),
                      sql AS (SELECT g.ps, s.status, CASE s.status
                          WHEN 'new' THEN (SELECT count(*) FROM f WHERE f.first = g.ps)
                          WHEN 'returning' THEN (SELECT count(*) FROM a JOIN a b ON a.k = b.k AND b.ps = g.ps - interval '{step}' WHERE a.ps = g.ps)
                          WHEN 'resurrecting' THEN (SELECT count(*) FROM a JOIN f USING (k) WHERE a.ps = g.ps AND f.first < g.ps
                              AND NOT EXISTS (SELECT FROM a b WHERE b.k = a.k AND b.ps = g.ps - interval '{step}'))
                          ELSE (SELECT count(*) FROM a WHERE a.ps = g.ps - interval '{step}'
                              AND NOT EXISTS (SELECT FROM a b WHERE b.k = a.k AND b.ps = g.ps)) END AS users
                          FROM g, unnest(ARRAY['new', 'returning', 'resurrecting', 'dormant']) s(status))
                 SELECT count(*) FROM sql FULL JOIN lifecycle('ev', '{period}'{call_range}) l
                     ON l.period_start = sql.ps AND l.status = sql.status
                 WHERE l.users IS DISTINCT FROM sql.users"
            ));
            assert_eq!(mismatches, 0, "{period}");
        }
    }

    #[pg_test]
    fn paths_count_keys_as_an_independent_sql_formulation() {
        random_events();
        // paths of at most 3 names, repeats collapsed, NULL names left out
        let mismatches = count(
            "WITH e AS (SELECT k, ts, event, lag(event) OVER (PARTITION BY k ORDER BY ts, event) AS prev
                        FROM ev WHERE event IS NOT NULL),
                  c AS (SELECT k, event, row_number() OVER (PARTITION BY k ORDER BY ts, event) AS n
                        FROM e WHERE prev IS DISTINCT FROM event),
                  p AS (SELECT k, string_agg(event, ' > ' ORDER BY n) AS path FROM c WHERE n <= 3 GROUP BY k),
                  sql AS (SELECT path, count(*) AS users FROM p GROUP BY path)
             SELECT count(*) FROM sql FULL JOIN path_summary('ev', 3, top => 1000) f USING (path)
             WHERE f.users IS DISTINCT FROM sql.users
                OR f.share IS DISTINCT FROM sql.users::float8 / (SELECT count(*) FROM p)",
        );
        assert_eq!(mismatches, 0);
        let edges = count(
            "WITH e AS (SELECT k, ts, event, lag(event) OVER (PARTITION BY k ORDER BY ts, event) AS prev
                        FROM ev WHERE event IS NOT NULL),
                  c AS (SELECT k, event, row_number() OVER (PARTITION BY k ORDER BY ts, event) AS n
                        FROM e WHERE prev IS DISTINCT FROM event),
                  t AS (SELECT a.k, a.n, a.event AS f, coalesce(b.event, '(exit)') AS t
                        FROM c a LEFT JOIN c b ON b.k = a.k AND b.n = a.n + 1 AND b.n <= 3 WHERE a.n <= 3),
                  sql AS (SELECT n, f, t, count(DISTINCT k) AS users FROM t GROUP BY 1, 2, 3)
             SELECT count(*) FROM sql FULL JOIN path_transitions('ev', 3) p
                 ON p.step = sql.n AND p.from_event = sql.f AND p.to_event = sql.t
             WHERE p.users IS DISTINCT FROM sql.users",
        );
        assert_eq!(edges, 0);
        // the top rows come by users, then path
        let order = count(
            "SELECT count(*) FROM (SELECT users, path, lag(users) OVER w AS pu, lag(path) OVER w AS pp
                                   FROM (SELECT *, row_number() OVER () AS r FROM path_summary('ev', 2, top => 5)) s
                                   WINDOW w AS (ORDER BY r)) x
             WHERE pu < users OR (pu = users AND pp > path)",
        );
        assert_eq!(order, 0);
        assert_eq!(count("SELECT count(*) FROM path_summary('ev', 2, top => 5)"), 5);
    }

    #[pg_test]
    fn bad_arguments_get_clear_errors() {
        Spi::run("CREATE TABLE e3 AS SELECT 1 AS k, now() AS ts, 'a'::text AS event").unwrap();
        for (call, code, text) in [
            ("SELECT * FROM funnel('e3', ARRAY[]::text[])", "22023", "1 to 32"),
            ("SELECT * FROM funnel('e3', ARRAY['a', NULL])", "22023", "steps[2] is NULL"),
            ("SELECT * FROM funnel('e3', ARRAY['a', 'a'])", "22023", "twice"),
            ("SELECT * FROM funnel('e3', (SELECT array_agg(i::text) FROM generate_series(1, 33) i))", "22023", "1 to 32"),
            ("SELECT * FROM funnel('e3', ARRAY['a'], '0 seconds')", "22023", "window must be a positive"),
            ("SELECT * FROM funnel('e3', ARRAY['a'], mode => 'strict')", "22023", "is not 'default'"),
            ("SELECT * FROM funnel('SELECT 1, now()', ARRAY['a'])", "42804", "events"),
            ("SELECT * FROM funnel('SELECT 1, 2, ''a''', ARRAY['a'])", "42804", "ts"),
            ("SELECT * FROM sessions('e3', '-1 minute')", "22023", "gap must be a positive"),
            ("SELECT * FROM path_summary('e3', 0)", "22023", "max_steps"),
            ("SELECT * FROM path_summary('e3', top => 0)", "22023", "top must be"),
            ("SELECT * FROM path_transitions('e3', session_gap => '0 s')", "22023", "session_gap"),
            ("SELECT * FROM retention('e3', periods => 0)", "22023", "periods must be"),
            ("SELECT * FROM retention('e3', periods => 1001)", "22023", "periods must be"),
            ("SELECT * FROM retention('e3', period => 'fortnight')", "22023", "period \"fortnight\""),
            ("SELECT * FROM lifecycle('e3', 'hour')", "22023", "period \"hour\""),
            ("SELECT * FROM lifecycle('e3', from_ts => '2024-02-01', to_ts => '2024-01-01')", "22023", "from_ts"),
            ("SELECT window_funnel('0 s', now(), ARRAY[true])", "22023", "window"),
            ("SELECT window_funnel('1 s', now(), ARRAY[]::boolean[])", "22023", "1 to 32"),
            ("SELECT window_funnel('1 s', now(), ARRAY[true], 'sideways')", "22023", "sideways"),
            ("SELECT window_funnel(w, now(), ARRAY[true]) FROM (VALUES ('1 s'::interval), ('2 s')) v(w)", "22023", "same in every row"),
            ("SELECT window_funnel('1 s', now(), s) FROM (VALUES (ARRAY[true]), (ARRAY[true, false])) v(s)", "22023", "same in every row"),
            ("SELECT window_funnel('1 s', 'infinity', ARRAY[true])", "22023", "finite"),
        ] {
            let (got, message) = error_of(call).unwrap_or_else(|| panic!("no error from {call}"));
            assert_eq!(got, code, "{call}: {message}");
            assert!(message.contains(text), "{call}: {message}");
        }
        // empty input: no rows, no error
        assert_eq!(
            sqlstate_of("SELECT * FROM funnel('SELECT 1, now(), ''a'' WHERE false', ARRAY['a'])"),
            None
        );
        assert_eq!(count("SELECT count(*) FROM lifecycle('SELECT 1, now() WHERE false')"), 0);
        assert_eq!(count("SELECT count(*) FROM retention('SELECT 1, now(), ''a'' WHERE false')"), 0);
    }
}
