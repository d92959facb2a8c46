//! customer_stage, growth_accounting, segment_migration, channel_preference and the
//! decayed_activity aggregate: the SQL surface of src/core/states.rs and decay.rs.
//! Reference: docs/states.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgTupleDesc};

use super::{
    aggregate, finite_micros, interval_arg, midnight_after, period_starts, required, timestamptz,
    TRANSACTIONS,
};
use crate::core::decay::{DecayState, DecayedActivity};
use crate::core::interner::Interner;
use crate::core::positive_duration;
use crate::core::rfm::CustomerSummaries;
use crate::core::states::{
    self, Conversion, Migration, Period, PurchaseHistory, Snapshot, StageThresholds, Touch, Transaction,
};
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

/// A required interval argument in microseconds.
fn duration(interval: Option<Interval>, argument: &str) -> i64 {
    interval_arg(required(interval, argument), argument)
}

/// A required interval argument that must be positive (22023 otherwise).
fn positive_interval(interval: Option<Interval>, argument: &str) -> i64 {
    positive_duration(duration(interval, argument), argument).or_raise()
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
        duration(new_within, "new_within"),
        duration(active_within, "active_within"),
        duration(churned_after, "churned_after"),
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
    let (keys, histories) = customers.into_sorted(&mut interrupt);
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
    let starts = period_starts("growth_accounting", period, lower, upper);
    // ids in key order, 42 and '42' merged, so sorting by id groups each customer once
    let (_, new_id) = keys.into_sorted(&mut interrupt);
    rows.iter_mut().for_each(|t| t.customer = new_id[t.customer as usize]);
    let periods = states::growth_accounting(&rows, &starts, &mut interrupt).or_raise();
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
        .table(&mut interrupt)
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
    let (customer_names, customer_id) = customers.into_sorted(&mut interrupt);
    let (channel_names, channel_id) = channels.into_sorted(&mut interrupt);
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

fn decay_state(state: &mut Internal) -> Option<&mut DecayState> {
    // SAFETY: every internal value these functions receive was made by them below.
    unsafe { aggregate::state_of::<DecayState>(state) }
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
    current.check_parameters(half_life, as_of).or_raise();
    if let Some(ts) = ts {
        current
            .activity
            .add(finite_micros(ts, "decayed_activity's ts"), amount.unwrap_or(0.0), as_of, half_life)
            .or_raise();
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn decayed_activity_combine(left: Internal, right: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    // SAFETY: every internal value these functions receive was made by them.
    unsafe { aggregate::combine::<DecayState>(left, right, fcinfo, "decayed_activity") }
}

/// Serialized state: DecayState::to_bytes (src/core/decay.rs).
#[pg_extern(immutable, parallel_safe, strict)]
fn decayed_activity_serialize(mut state: Internal) -> Vec<u8> {
    decay_state(&mut state).expect("a strict serial function receives a state").to_bytes()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn decayed_activity_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    aggregate::new_state(fcinfo, "decayed_activity", DecayState::from_bytes(bytes).or_raise())
}

#[pg_extern(immutable, parallel_safe, requires = ["decayed_activity_summary_type"])]
fn decayed_activity_final(
    mut state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<pgrx::composite_type!('static, "decayed_activity_summary")> {
    let activity = &decay_state(&mut state)?.activity;
    let (count, amount) = (activity.count.value(), activity.amount.value());
    if !amount.is_finite() {
        Error::new(
            ErrorKind::OutOfRange,
            "decayed_activity: the decayed amount is beyond the range of float8",
        )
        .raise();
    }
    // SAFETY: fcinfo and its flinfo come from Postgres for this call.
    let type_oid = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    let descriptor = PgTupleDesc::for_composite_type_by_oid(type_oid)
        .expect("decayed_activity returns the composite type decayed_activity_summary");
    let datums = [count.into_datum(), amount.into_datum(), activity.last_ts.and_then(|ts| ts.into_datum())];
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

pgrx::extension_sql_file!(
    "../../sql/aggregates/decayed_activity.sql",
    name = "decayed_activity_aggregate",
    requires = [
        decayed_activity_transition,
        decayed_activity_combine,
        decayed_activity_serialize,
        decayed_activity_deserialize,
        decayed_activity_final
    ],
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, load_cdnow, plan_of, sqlstate_of, CDNOW};

    /// Random transactions of 300 customers over two years, with repeated instants and NULL
    /// amounts, in a time zone with daylight saving time.
    fn random_transactions() {
        Spi::run(
            "SET LOCAL TimeZone = 'America/New_York';
             SELECT setseed(0.42);
             CREATE TABLE tx AS
             SELECT (random() * 300)::int AS k,
                    '2022-01-01'::timestamptz + (random() * 730)::int * interval '1 day'
                        + (random() * 3)::int * interval '7 hours' AS ts,
                    CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 200 - 10)::numeric, 2) END AS amount
             FROM generate_series(1, 4000)
             -- five customers who start late, so that some are new at the as_of of the tests
             UNION ALL SELECT 1000 + i, '2023-06-01'::timestamptz + i * interval '1 day', 10 FROM generate_series(1, 5) i",
        )
        .unwrap();
    }

    /// customer_stage's rules in SQL, over transactions `source` (k, ts) at `as_of`, with the
    /// thresholds given as intervals: the number of customers where it and the function differ.
    fn stage_mismatches(source: &str, as_of: &str, new: &str, active: &str, churned: &str) -> i64 {
        count(&format!(
            "WITH t AS (SELECT k::text AS k, ts::timestamptz AS ts FROM ({source}) s(k, ts, amount)
                        WHERE k IS NOT NULL AND ts <= '{as_of}'),
                  c AS (SELECT k, min(ts) AS f, max(ts) AS l, count(*) AS n FROM t GROUP BY k),
                  p AS (SELECT t.k, max(t.ts) AS prev FROM t JOIN c USING (k) WHERE t.ts < c.l GROUP BY t.k),
                  e AS (SELECT c.*, p.prev, extract(epoch FROM '{as_of}'::timestamptz - c.l) AS since FROM c LEFT JOIN p USING (k)),
                  sql AS (SELECT k, f, l, n, since / 86400 AS days, extract(epoch FROM l - prev) / 86400 AS gap, CASE
                      WHEN extract(epoch FROM '{as_of}'::timestamptz - f) <= extract(epoch FROM interval '{new}') THEN 'new'
                      WHEN since <= extract(epoch FROM interval '{active}') AND prev IS NOT NULL
                           AND extract(epoch FROM l - prev) > extract(epoch FROM interval '{active}') THEN 'reactivated'
                      WHEN since <= extract(epoch FROM interval '{active}') THEN 'active'
                      WHEN since <= extract(epoch FROM interval '{churned}') THEN 'lapsed'
                      ELSE 'churned' END AS stage FROM e)
             SELECT count(*) FROM sql s FULL JOIN customer_stage($q${source}$q$, as_of => '{as_of}',
                 new_within => '{new}', active_within => '{active}', churned_after => '{churned}') o
                 ON o.customer_key = s.k
             WHERE o.stage IS DISTINCT FROM s.stage OR o.first_ts IS DISTINCT FROM s.f
                OR o.last_ts IS DISTINCT FROM s.l OR o.purchases IS DISTINCT FROM s.n
                OR abs(o.days_since_last - s.days) > 1e-9 OR (o.previous_gap_days IS NULL) <> (s.gap IS NULL)
                OR abs(o.previous_gap_days - s.gap) > 1e-9"
        ))
    }

    #[pg_test]
    fn stages_match_an_independent_sql_formulation() {
        random_transactions();
        load_cdnow();
        assert_eq!(
            stage_mismatches("SELECT * FROM tx", "2023-06-15 12:00", "30 days", "90 days", "365 days"),
            0
        );
        assert_eq!(stage_mismatches("SELECT * FROM tx", "2024-01-01", "1 day", "14 days", "1 month"), 0);
        assert_eq!(stage_mismatches(CDNOW, "1997-10-01", "30 days", "60 days", "180 days"), 0);
        // every stage occurs on these data, so the comparison covers each rule
        let stages = count(
            "SELECT count(DISTINCT stage) FROM customer_stage('tx', as_of => '2023-06-15 12:00',
                 new_within => '30 days', active_within => '40 days', churned_after => '200 days')",
        );
        assert_eq!(stages, 5);
        // as_of by default: midnight after the last transaction's day, as rfm_score
        let cdnow_default = count(&format!(
            "SELECT count(*) FROM customer_stage('{CDNOW}') o JOIN rfm_score('{CDNOW}') r USING (customer_key)
             WHERE o.days_since_last = r.recency_days"
        ));
        assert_eq!(cdnow_default, 2357);
    }

    /// growth_accounting in SQL with window-free joins of (customer, period) revenue cells:
    /// the number of periods where it and the function differ.
    fn growth_mismatches(source: &str, period: &str, step: &str, range: &str, call_range: &str) -> i64 {
        count(&format!(
            "WITH p AS (SELECT k::text AS k, date_trunc('{period}', ts::timestamptz) AS ps,
                               sum(coalesce(amount, 0))::float8 AS rev
                        FROM ({source}) s(k, ts, amount) WHERE k IS NOT NULL AND ts IS NOT NULL GROUP BY 1, 2),
                  periods AS (SELECT g AS ps FROM ({range}) r(lo, hi),
                              generate_series(date_trunc('{period}', lo), date_trunc('{period}', hi), interval '{step}') g),
                  f AS (SELECT k, min(ps) AS first FROM p GROUP BY k),
                  cur AS (SELECT g.ps, p.k, p.rev FROM periods g JOIN p ON p.ps = g.ps),
                  prv AS (SELECT g.ps, p.k, p.rev FROM periods g JOIN p ON p.ps = g.ps - interval '{step}'),
                  pairs AS (SELECT coalesce(c.ps, v.ps) AS ps, coalesce(c.k, v.k) AS k, c.rev AS cur, v.rev AS prev
                            FROM cur c FULL JOIN prv v ON c.ps = v.ps AND c.k = v.k),
                  sql AS (SELECT g.ps,
                      count(cur) AS active, count(cur) FILTER (WHERE f.first = g.ps) AS new,
                      count(cur) FILTER (WHERE prev IS NOT NULL) AS retained,
                      count(cur) FILTER (WHERE prev IS NULL AND f.first < g.ps) AS resurrected,
                      count(prev) FILTER (WHERE cur IS NULL) AS churned,
                      coalesce(sum(cur), 0) AS revenue,
                      coalesce(sum(cur) FILTER (WHERE f.first = g.ps), 0) AS new_revenue,
                      -- least() skips NULLs, so only customers active in both periods
                      coalesce(sum(least(cur, prev)) FILTER (WHERE cur IS NOT NULL AND prev IS NOT NULL), 0) AS retained_revenue,
                      coalesce(sum(greatest(cur - prev, 0)), 0) AS expansion,
                      coalesce(sum(greatest(prev - cur, 0)), 0) AS contraction,
                      coalesce(sum(cur) FILTER (WHERE prev IS NULL AND f.first < g.ps), 0) AS resurrected_revenue,
                      coalesce(sum(prev) FILTER (WHERE cur IS NULL), 0) AS churned_revenue
                    FROM periods g LEFT JOIN pairs USING (ps) LEFT JOIN f USING (k) GROUP BY g.ps)
             SELECT count(*) FROM sql s FULL JOIN growth_accounting($q${source}$q$, period => '{period}'{call_range}) o
                 ON o.period_start = s.ps
             WHERE (o.active, o.new, o.retained, o.resurrected, o.churned)
                       IS DISTINCT FROM (s.active, s.new, s.retained, s.resurrected, s.churned)
                OR abs(o.revenue - s.revenue) > 1e-6 OR abs(o.new_revenue - s.new_revenue) > 1e-6
                OR abs(o.retained_revenue - s.retained_revenue) > 1e-6 OR abs(o.expansion - s.expansion) > 1e-6
                OR abs(o.contraction - s.contraction) > 1e-6
                OR abs(o.resurrected_revenue - s.resurrected_revenue) > 1e-6
                OR abs(o.churned_revenue - s.churned_revenue) > 1e-6
                OR o.quick_ratio IS DISTINCT FROM (s.new + s.resurrected)::float8 / nullif(s.churned, 0)"
        ))
    }

    #[pg_test]
    fn growth_accounting_matches_an_independent_sql_formulation() {
        random_transactions();
        load_cdnow();
        let data_range = "SELECT min(ts), max(ts) FROM tx";
        for (period, step) in
            [("day", "1 day"), ("week", "7 days"), ("month", "1 month"), ("quarter", "3 months")]
        {
            assert_eq!(growth_mismatches("SELECT * FROM tx", period, step, data_range, ""), 0, "{period}");
        }
        // an explicit range: periods before it are history only, and empty periods are zeros
        assert_eq!(
            growth_mismatches(
                "SELECT * FROM tx",
                "month",
                "1 month",
                "SELECT '2022-06-10'::timestamptz, '2024-05-01'::timestamptz",
                ", from_ts => '2022-06-10', to_ts => '2024-05-01'"
            ),
            0
        );
        let empty_months = count(
            "SELECT count(*) FROM growth_accounting('tx', from_ts => '2024-02-01', to_ts => '2024-05-01')
             WHERE active = 0 AND revenue = 0",
        );
        assert_eq!(empty_months, 4, "February to May 2024 have no transactions");
        assert_eq!(
            growth_mismatches(
                CDNOW,
                "month",
                "1 month",
                "SELECT min(order_date)::timestamptz, max(order_date)::timestamptz FROM cdnow_orders",
                ""
            ),
            0
        );
        // the identities of docs/states.md on CDNOW
        let broken = count(&format!(
            "SELECT count(*) FROM (SELECT g.*, lag(active) OVER w AS prev_active, lag(revenue) OVER w AS prev_revenue
                                   FROM growth_accounting('{CDNOW}', 'week') g WINDOW w AS (ORDER BY period_start)) g
             WHERE active <> new + retained + resurrected
                OR abs(revenue - (new_revenue + retained_revenue + expansion + resurrected_revenue)) > 1e-6
                OR prev_active <> retained + churned
                OR abs(prev_revenue - (retained_revenue + contraction + churned_revenue)) > 1e-6"
        ));
        assert_eq!(broken, 0);
    }

    /// segment_migration in SQL: a FULL JOIN of the snapshots on the key, counted per pair,
    /// over tables `before` and `after`: the number of rows where it and the function differ.
    fn migration_mismatches(before: &str, after: &str) -> i64 {
        count(&format!(
            "WITH m AS (SELECT b.segment AS f, a.segment AS t, count(*) AS n
                        FROM {before} b FULL JOIN {after} a USING (customer_key) GROUP BY 1, 2),
                  totals AS (SELECT segment AS f, count(*) AS total FROM {before} GROUP BY 1)
             SELECT count(*) FROM (m LEFT JOIN totals USING (f)) s
                 FULL JOIN segment_migration('{before}', '{after}') o
                 -- a FULL JOIN needs equality: NULL (entered, left) as a name no segment has
                 ON coalesce(o.from_segment, '(none)') = coalesce(s.f, '(none)')
                AND coalesce(o.to_segment, '(none)') = coalesce(s.t, '(none)')
             WHERE o.customers IS DISTINCT FROM s.n
                OR o.share_of_from IS DISTINCT FROM s.n::float8 / s.total"
        ))
    }

    #[pg_test]
    fn segment_migration_matches_a_full_join_on_random_snapshots() {
        Spi::run(
            "SELECT setseed(0.11);
             CREATE TABLE snap_a AS SELECT k AS customer_key, (ARRAY['a', 'b', 'c', 'd'])[1 + (random() * 3)::int] AS segment
                 FROM generate_series(1, 3000) k WHERE random() < 0.8;
             CREATE TABLE snap_b AS SELECT k AS customer_key, (ARRAY['a', 'b', 'c', 'e'])[1 + (random() * 3)::int] AS segment
                 FROM generate_series(1, 3500) k WHERE random() < 0.7;",
        )
        .unwrap();
        assert_eq!(migration_mismatches("snap_a", "snap_b"), 0);
        assert_eq!(migration_mismatches("snap_b", "snap_a"), 0);
        let total = count("SELECT sum(customers)::bigint FROM segment_migration('snap_a', 'snap_b')");
        assert_eq!(total, count("SELECT count(*) FROM snap_a FULL JOIN snap_b USING (customer_key)"));
    }

    #[pg_test]
    fn segment_migration_matches_a_full_join_of_rfm_segments_on_cdnow() {
        load_cdnow();
        Spi::run(&format!(
            "CREATE TABLE seg_before AS SELECT customer_key, segment FROM rfm_score('{CDNOW}', as_of => '1997-06-01');
             CREATE TABLE seg_after AS SELECT customer_key, segment FROM rfm_score('{CDNOW}', as_of => '1998-01-01');
             -- customers to leave and to enter
             DELETE FROM seg_before WHERE customer_key::int % 17 = 0;
             DELETE FROM seg_after WHERE customer_key::int % 13 = 0;"
        ))
        .unwrap();
        assert_eq!(migration_mismatches("seg_before", "seg_after"), 0);
        let entered_and_left = count(
            "SELECT count(*) FROM segment_migration('seg_before', 'seg_after')
             WHERE from_segment IS NULL OR to_segment IS NULL",
        );
        assert!(entered_and_left > 0);
        // integer keys in one snapshot and text in the other are the same customers
        let stayed = count(
            "SELECT sum(customers)::bigint FROM segment_migration(
                 'SELECT customer_key::int, segment FROM seg_before', 'seg_after')
             WHERE from_segment IS NOT NULL AND to_segment IS NOT NULL",
        );
        assert_eq!(stayed, count("SELECT count(*) FROM seg_before JOIN seg_after USING (customer_key)"));
    }

    #[pg_test]
    fn channel_preference_matches_an_independent_sql_formulation() {
        Spi::run(
            "SELECT setseed(0.3);
             CREATE TABLE tp AS SELECT (random() * 150)::int AS k,
                    '2024-01-01'::timestamptz + (random() * 90)::int * interval '1 day' AS ts,
                    (ARRAY['email', 'search', 'Social', 'display', 'direct'])[1 + (random() * 4)::int] AS ch
             FROM generate_series(1, 2500);
             CREATE TABLE cv AS SELECT (random() * 150)::int AS k,
                    '2024-01-10'::timestamptz + (random() * 80)::int * interval '1 day' AS ts, 1 AS v
             FROM generate_series(1, 400);",
        )
        .unwrap();
        // weights 2^(-(as_of - ts) / half_life); names ordered bytewise (COLLATE "C")
        let mismatches = count(
            "WITH w AS (SELECT k::text AS k, ch, sum(power(2, -extract(epoch FROM '2024-03-01'::timestamptz - ts)
                                                           / extract(epoch FROM interval '14 days')))::float8 AS w,
                               count(*) AS n
                        FROM tp WHERE ts <= '2024-03-01' GROUP BY 1, 2),
                  r AS (SELECT *, row_number() OVER (PARTITION BY k ORDER BY w DESC, ch COLLATE \"C\") AS rank,
                               sum(w) OVER (PARTITION BY k) AS total, sum(n) OVER (PARTITION BY k) AS touches FROM w),
                  last_touch AS (SELECT c.k::text AS k, c.ts,
                                        (SELECT ch FROM tp t WHERE t.k = c.k AND t.ts <= c.ts
                                         ORDER BY t.ts DESC, ch COLLATE \"C\" DESC LIMIT 1) AS ch
                                 FROM cv c WHERE c.ts <= '2024-03-01'),
                  conv AS (SELECT k, ch, row_number() OVER (PARTITION BY k ORDER BY count(*) DESC, max(ts) DESC,
                                                                       ch COLLATE \"C\") AS rank
                           FROM last_touch WHERE ch IS NOT NULL GROUP BY k, ch),
                  sql AS (SELECT a.k, a.ch AS preferred, a.w / a.total AS share, b.ch AS second, a.touches, c.ch AS converting
                          FROM r a LEFT JOIN r b ON b.k = a.k AND b.rank = 2
                          LEFT JOIN conv c ON c.k = a.k AND c.rank = 1 WHERE a.rank = 1)
             SELECT count(*) FROM sql s FULL JOIN channel_preference('tp', as_of => '2024-03-01',
                 half_life => '14 days', conversions => 'cv') o ON o.customer_key = s.k
             WHERE o.preferred_channel IS DISTINCT FROM s.preferred OR abs(o.share - s.share) > 1e-12
                OR o.second_channel IS DISTINCT FROM s.second OR o.touches IS DISTINCT FROM s.touches
                OR o.converting_channel IS DISTINCT FROM s.converting",
        );
        assert_eq!(mismatches, 0);
        assert_eq!(
            count("SELECT count(*) FROM channel_preference('tp') WHERE converting_channel IS NOT NULL"),
            0
        );
    }

    #[pg_test]
    fn decayed_activity_matches_sql_and_is_the_same_under_a_parallel_plan() {
        Spi::run(
            "SELECT setseed(0.9);
             CREATE TABLE ev AS SELECT (random() * 500)::int AS k,
                    '2024-01-01'::timestamptz + random() * interval '120 days' AS ts,
                    CASE WHEN random() < 0.1 THEN NULL ELSE random() * 50 END AS amount
             FROM generate_series(1, 60000);",
        )
        .unwrap();
        let compare = "WITH ours AS (SELECT k, decayed_activity(ts, amount, '10 days', '2024-03-01') AS d FROM ev GROUP BY k),
                            sql AS (SELECT k, sum(power(2, -extract(epoch FROM '2024-03-01'::timestamptz - ts) / 864000))::float8 AS c,
                                           sum(coalesce(amount, 0) * power(2, -extract(epoch FROM '2024-03-01'::timestamptz - ts) / 864000))::float8 AS a,
                                           max(ts) AS l
                                    FROM ev WHERE ts <= '2024-03-01' GROUP BY k)
                       SELECT count(*) FROM ours o FULL JOIN sql s USING (k)
                       WHERE abs((o.d).decayed_count - s.c) > 1e-9 * s.c OR abs((o.d).decayed_amount - s.a) > 1e-9 * (1 + s.a)
                          OR (o.d).last_ts IS DISTINCT FROM s.l";
        assert_eq!(count(compare), 0);
        let whole = "SELECT decayed_activity(ts, amount, '10 days', '2024-03-01')::text FROM ev";
        let serial = Spi::get_one::<String>(whole).unwrap();
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
        )
        .unwrap();
        let plan = plan_of(whole);
        assert!(plan.contains("Gather") && plan.contains("Partial Aggregate"), "no parallel plan in\n{plan}");
        assert_eq!(Spi::get_one::<String>(whole).unwrap(), serial, "exact sums: the same to the bit");
        assert_eq!(count(compare), 0);
    }

    #[pg_test]
    fn decayed_activity_skips_null_times_and_counts_null_amounts_as_zero() {
        let row = Spi::get_three::<f64, f64, TimestampWithTimeZone>(
            "SELECT (d).decayed_count, (d).decayed_amount, (d).last_ts FROM (
                 SELECT decayed_activity(ts, amount, '1 day', '2024-01-03') AS d
                 FROM (VALUES ('2024-01-03'::timestamptz, 4.0::float8), ('2024-01-02', NULL), (NULL, 100),
                              ('2024-01-01', 8), ('2024-01-05', 1000)) v(ts, amount)) x",
        )
        .unwrap();
        // 1 + 1/2 + 1/4 events, 4 + 0 + 8/4 amount; the event after as_of is not counted
        assert_eq!(row.0, Some(1.75));
        assert_eq!(row.1, Some(6.0));
        assert_eq!(
            row.2.map(|ts| ts.to_string()),
            Spi::get_one::<String>("SELECT '2024-01-03'::timestamptz::text").unwrap()
        );
        let only_later = Spi::get_one::<String>(
            "SELECT decayed_activity(ts, 1, '1 day', '2024-01-01')::text FROM (VALUES ('2024-02-01'::timestamptz)) v(ts)",
        )
        .unwrap();
        assert_eq!(only_later.as_deref(), Some("(0,0,)"));
        let no_rows = Spi::get_one::<bool>(
            "SELECT decayed_activity(now(), 1, '1 day', now()) IS NULL FROM generate_series(1, 0)",
        )
        .unwrap();
        assert_eq!(no_rows, Some(true));
    }

    #[pg_test]
    fn bad_arguments_say_what_to_change() {
        Spi::run(
            "CREATE TABLE tx1 AS SELECT 1 AS k, '2024-01-01'::timestamptz AS ts, 1.0 AS amount;
             CREATE TABLE snap AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (1, 'c')) v(k, segment)",
        )
        .unwrap();
        for (call, want, says) in [
            ("SELECT * FROM customer_stage('tx1', new_within => '0')", "22023", "new_within must be a positive"),
            ("SELECT * FROM customer_stage('tx1', active_within => '-1 day')", "22023", "active_within must be a positive"),
            ("SELECT * FROM customer_stage('tx1', new_within => '100 days')", "22023", "new_within must not be longer"),
            ("SELECT * FROM customer_stage('tx1', churned_after => '60 days')", "22023", "active_within must not be longer"),
            ("SELECT * FROM customer_stage('tx1', as_of => 'infinity')", "22023", "as_of must be a finite"),
            ("SELECT * FROM customer_stage('tx1', churned_after => '178000000 years')", "22008", "churned_after is too long"),
            ("SELECT * FROM customer_stage(NULL)", "22023", "transactions must not be NULL"),
            ("SELECT * FROM customer_stage('SELECT 1, ''x''::text, 1')", "42804", "read as ts"),
            ("SELECT * FROM growth_accounting('tx1', period => 'fortnight')", "22023", "'day', 'week', 'month'"),
            ("SELECT * FROM growth_accounting('tx1', from_ts => '2024-02-01', to_ts => '2024-01-01')", "22023", "from_ts must not be later"),
            ("SELECT * FROM growth_accounting('tx1', period => 'day', from_ts => '1000-01-01', to_ts => '5000-01-01')", "54000", "at most 1000000 periods"),
            ("SELECT * FROM segment_migration('snap', 'SELECT 1, ''a''')", "22023", "before: customer \"1\" is listed twice"),
            ("SELECT * FROM segment_migration('SELECT 1, ''a''', 'snap')", "22023", "after: customer \"1\" is listed twice"),
            ("SELECT * FROM segment_migration('SELECT 1, 2', 'snap')", "42804", "read as segment"),
            ("SELECT * FROM segment_migration('snap', NULL)", "22023", "after must not be NULL"),
            ("SELECT * FROM channel_preference('SELECT 1, now(), ''a''', half_life => '0')", "22023", "half_life must be a positive"),
            ("SELECT * FROM channel_preference('SELECT 1, now(), ''a''', conversions => 'SELECT 1, now(), ''x''')", "42804", "read as value"),
            ("SELECT decayed_activity(ts, 1, '0', now()) FROM tx1", "22023", "half_life must be a positive"),
            ("SELECT decayed_activity(ts, 1, '1 day', NULL) FROM tx1", "22023", "as_of must not be NULL"),
            ("SELECT decayed_activity(ts, 1, NULL, now()) FROM tx1", "22023", "half_life must not be NULL"),
            ("SELECT decayed_activity(ts, 'NaN', '1 day', 'infinity') FROM tx1", "22023", "as_of must be a finite"),
            ("SELECT decayed_activity(ts, 'NaN', '1 day', now()) FROM tx1", "22023", "amount must be a finite"),
            ("SELECT decayed_activity(ts, 1, '1 day', ts) FROM (VALUES (now()), (now() - interval '1 day')) v(ts)",
             "22023", "must be the same for every row"),
        ] {
            let (code, message) = error_of(call).unwrap_or_else(|| panic!("no error from {call}"));
            assert_eq!(code, want, "{call}: {message}");
            assert!(message.contains(says), "{call}: {message}");
        }
        // NULL keys and timestamps skip the row; empty input gives no rows
        assert_eq!(count("SELECT count(*) FROM customer_stage('SELECT NULL::int, now(), 1 UNION ALL SELECT 1, NULL, 1')"), 0);
        for empty in [
            "customer_stage('SELECT 1, now(), 1 WHERE false')",
            "growth_accounting('SELECT 1, now(), 1 WHERE false')",
            "segment_migration('SELECT 1, ''a'' WHERE false', 'SELECT 1, ''a'' WHERE false')",
            "channel_preference('SELECT 1, now(), ''a'' WHERE false')",
        ] {
            assert_eq!(count(&format!("SELECT count(*) FROM {empty}")), 0, "{empty}");
        }
        assert_eq!(sqlstate_of("SELECT * FROM segment_migration('snap', 'snap')").as_deref(), Some("22023"));
    }
}
