//! rfm_score, rfm_thresholds and the rfm_summary aggregate: the SQL surface of
//! src/core/rfm.rs. Reference: docs/rfm.md.

use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgTupleDesc};

use super::{aggregate, finite_micros, midnight_after, required, timestamptz, TRANSACTIONS};
use crate::core::rfm::{
    self, CustomerSummaries, Cuts, Dimension, Monetary, NamedMap, Scored, Scoring, SegmentRule, Summary,
};
use crate::error::{Error, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

const SEGMENT_RULES: Shape = Shape {
    argument: "segment_map",
    columns: &[
        column("segment", Kind::Text),
        column("r_min", Kind::Number),
        column("r_max", Kind::Number),
        column("f_min", Kind::Number),
        column("f_max", Kind::Number),
        column("m_min", Kind::Number),
        column("m_max", Kind::Number),
    ],
    more: More::Nothing,
};

/// Customers, their summaries and scores: what rfm_score and rfm_thresholds share.
struct ScoredCustomers {
    keys: Vec<String>,
    summaries: Vec<Summary>,
    scored: Scored,
}

#[allow(clippy::too_many_arguments)]
fn score_customers(
    transactions: Option<&str>,
    as_of: Option<TimestampWithTimeZone>,
    bins: u32,
    monetary: Option<&str>,
    r_edges: Option<Vec<Option<f64>>>,
    f_edges: Option<Vec<Option<f64>>>,
    m_edges: Option<Vec<Option<f64>>>,
) -> ScoredCustomers {
    let transactions = required(transactions, "transactions");
    let monetary = Monetary::parse(required(monetary, "monetary")).or_raise();
    let cuts =
        [(Dimension::Recency, r_edges), (Dimension::Frequency, f_edges), (Dimension::Monetary, m_edges)].map(
            |(dimension, edges)| match edges {
                None => Cuts::Ranks,
                Some(edges) => {
                    let edges = edges.into_iter().collect::<Option<Vec<f64>>>().unwrap_or_else(|| {
                        Error::invalid_parameter(format!(
                            "{}_edges must not contain NULL",
                            &dimension.name()[..1]
                        ))
                        .raise()
                    });
                    Cuts::edges(dimension, edges, bins).or_raise()
                }
            },
        );
    let as_of = as_of.map(|ts| finite_micros(ts, "as_of"));

    let mut customers = CustomerSummaries::<Summary>::new(as_of);
    input::for_each_row(&TRANSACTIONS, transactions, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            customers.add(key.as_key(), ts, row.number(2).unwrap_or(0.0));
        }
    });
    let as_of = as_of.or_else(|| customers.latest_ts().map(midnight_after));
    let (keys, summaries) = customers.into_sorted(&mut interrupt);
    let scored = match as_of {
        Some(as_of) => Scoring { bins, monetary, cuts }.score(&summaries, as_of),
        None => Scored { values: Default::default(), scores: Default::default() },
    };
    ScoredCustomers { keys, summaries, scored }
}

/// The rules of segment_map: a named map, 'none' (no segments), or a query or table of
/// rules read in its own order.
fn segment_rules(segment_map: &str, bins: u32) -> Option<Vec<SegmentRule>> {
    if segment_map == "none" {
        return None;
    }
    if let Some(named) = NamedMap::parse(segment_map) {
        return Some(named.rules(bins).or_raise());
    }
    if input::is_qualified_name(segment_map.trim()) && !relation_exists(segment_map.trim()) {
        Error::invalid_parameter(format!(
            "segment_map \"{segment_map}\" is neither 'standard', 'rf_grid', 'none' nor a table or view"
        ))
        .with_hint(
            "A map of your own is a query or table of (segment, r_min, r_max, f_min, f_max, m_min, m_max).",
        )
        .raise();
    }
    let mut rules = Vec::new();
    input::for_each_row(&SEGMENT_RULES, segment_map, |row| {
        let segment = row.text(0).unwrap_or_else(|| {
            Error::invalid_parameter("segment_map: a rule has a NULL segment name").raise()
        });
        let bounds = [1, 2, 3, 4, 5, 6].map(|i| row.number(i));
        rules.push(rfm::user_rule(segment.to_string(), bounds, bins).or_raise());
    });
    Some(rules)
}

fn relation_exists(name: &str) -> bool {
    Spi::get_one_with_args::<bool>("SELECT pg_catalog.to_regclass($1) IS NOT NULL", &[name.into()])
        .expect("to_regclass does not fail on a well-formed name")
        .unwrap_or(false)
}

/// RFM summary, scores and segment per customer; see docs/rfm.md.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn rfm_score(
    transactions: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    bins: default!(Option<i32>, "5"),
    monetary: default!(Option<&str>, "'mean'"),
    segment_map: default!(Option<&str>, "'standard'"),
    r_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
    f_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
    m_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(customer_key, String),
        name!(recency_days, f64),
        name!(frequency, i64),
        name!(monetary, f64),
        name!(first_ts, TimestampWithTimeZone),
        name!(last_ts, TimestampWithTimeZone),
        name!(r, i32),
        name!(f, i32),
        name!(m, i32),
        name!(rfm, String),
        name!(segment, Option<String>),
    ),
> {
    // The map is checked before the data is read, so a mistake there fails fast.
    let bins = rfm::check_bins(required(bins, "bins")).or_raise();
    let rules = segment_rules(required(segment_map, "segment_map"), bins);
    let ScoredCustomers { keys, summaries, scored } =
        score_customers(transactions, as_of, bins, monetary, r_edges, f_edges, m_edges);
    let [recency, _, monetary_values] = &scored.values;
    let [r, f, m] = &scored.scores;
    let rows: Vec<_> = keys
        .into_iter()
        .zip(summaries)
        .enumerate()
        .map(|(i, (key, summary))| {
            let segment = rules.as_ref().map(|rules| rfm::segment_of(rules, r[i], f[i], m[i]).to_string());
            (
                key,
                recency[i],
                summary.frequency as i64,
                monetary_values[i],
                timestamptz(summary.first_ts),
                timestamptz(summary.last_ts),
                r[i] as i32,
                f[i] as i32,
                m[i] as i32,
                rfm::rfm_code(r[i], f[i], m[i], bins),
                segment,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Each score's value range and customer count per dimension, empty scores included.
#[pg_extern(volatile, parallel_unsafe)]
fn rfm_thresholds(
    transactions: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    bins: default!(Option<i32>, "5"),
    monetary: default!(Option<&str>, "'mean'"),
    r_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
    f_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
    m_edges: default!(Option<Vec<Option<f64>>>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(dimension, String),
        name!(score, i32),
        name!(min_value, Option<f64>),
        name!(max_value, Option<f64>),
        name!(customers, i64),
    ),
> {
    let bins = rfm::check_bins(required(bins, "bins")).or_raise();
    let ScoredCustomers { keys, scored, .. } =
        score_customers(transactions, as_of, bins, monetary, r_edges, f_edges, m_edges);
    if keys.is_empty() {
        return TableIterator::new(Vec::new());
    }
    let rows: Vec<_> = Dimension::ALL
        .iter()
        .enumerate()
        .flat_map(|(d, &dimension)| rfm::thresholds(&scored.values[d], &scored.scores[d], dimension, bins))
        .map(|t| {
            (
                t.dimension.name().to_string(),
                t.score as i32,
                t.range.map(|r| r.0),
                t.range.map(|r| r.1),
                t.customers as i64,
            )
        })
        .collect();
    TableIterator::new(rows)
}

// ---- The rfm_summary aggregate ----------------------------------------------------
//
// Its state is `internal` (a Summary plus the group's as_of), so the support functions
// are plain functions and CREATE AGGREGATE is written by hand below (pgrx's
// #[pg_aggregate] declares a wrong deserial signature for internal states).

/// The aggregate's state: transactions up to `as_of` summarised.
#[derive(Debug, Clone, Copy)]
struct SummaryState {
    as_of: i64,
    summary: Option<Summary>,
}

fn state_of(state: &mut Internal) -> Option<&mut SummaryState> {
    // SAFETY: every internal value these functions receive was made by them below.
    unsafe { aggregate::state_of::<SummaryState>(state) }
}

fn new_state(fcinfo: pg_sys::FunctionCallInfo, state: SummaryState) -> Internal {
    aggregate::new_state(fcinfo, "rfm_summary", state)
}

fn same_as_of(state: &SummaryState, as_of: i64) {
    if state.as_of != as_of {
        Error::invalid_parameter("rfm_summary: as_of must be the same for every row of a group").raise();
    }
}

#[pg_extern(immutable, parallel_safe)]
fn rfm_summary_transition(
    mut state: Internal,
    ts: Option<TimestampWithTimeZone>,
    amount: Option<f64>,
    as_of: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let as_of = finite_micros(
        as_of.unwrap_or_else(|| Error::invalid_parameter("rfm_summary: as_of must not be NULL").raise()),
        "rfm_summary's as_of",
    );
    let amount = amount.unwrap_or(0.0);
    if !amount.is_finite() {
        Error::invalid_parameter(format!("rfm_summary: amount must be a finite number, not {amount}"))
            .raise();
    }
    let ts = ts.map(|ts| finite_micros(ts, "rfm_summary's ts")).filter(|&ts| ts <= as_of);
    match state_of(&mut state) {
        Some(current) => {
            same_as_of(current, as_of);
            if let Some(ts) = ts {
                match &mut current.summary {
                    Some(summary) => summary.add(ts, amount),
                    None => current.summary = Some(Summary::new(ts, amount)),
                }
            }
            state
        }
        None => new_state(fcinfo, SummaryState { as_of, summary: ts.map(|ts| Summary::new(ts, amount)) }),
    }
}

#[pg_extern(immutable, parallel_safe)]
fn rfm_summary_combine(
    mut left: Internal,
    mut right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let right = state_of(&mut right).copied();
    match (state_of(&mut left), right) {
        (_, None) => left,
        (None, Some(right)) => new_state(fcinfo, right),
        (Some(current), Some(right)) => {
            same_as_of(current, right.as_of);
            current.summary = match (current.summary, right.summary) {
                (Some(mut a), Some(b)) => {
                    a.merge(&b);
                    Some(a)
                }
                (a, b) => a.or(b),
            };
            left
        }
    }
}

/// Serialized state: as_of, then frequency, total, first_ts, last_ts (little-endian,
/// 8 bytes each) when the group has counted a transaction.
#[pg_extern(immutable, parallel_safe, strict)]
fn rfm_summary_serialize(mut state: Internal) -> Vec<u8> {
    let state = *state_of(&mut state).expect("a strict serial function receives a state");
    let mut bytes = state.as_of.to_le_bytes().to_vec();
    if let Some(s) = state.summary {
        bytes.extend(s.frequency.to_le_bytes());
        bytes.extend(s.total.to_le_bytes());
        bytes.extend(s.first_ts.to_le_bytes());
        bytes.extend(s.last_ts.to_le_bytes());
    }
    bytes
}

#[pg_extern(immutable, parallel_safe, strict)]
fn rfm_summary_deserialize(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    let word = |i: usize| -> [u8; 8] {
        bytes.get(8 * i..8 * i + 8).and_then(|w| w.try_into().ok()).unwrap_or_else(|| {
            Error::invalid_parameter("rfm_summary: a serialized state is truncated").raise()
        })
    };
    let summary = (bytes.len() > 8).then(|| Summary {
        frequency: u64::from_le_bytes(word(1)),
        total: f64::from_le_bytes(word(2)),
        first_ts: i64::from_le_bytes(word(3)),
        last_ts: i64::from_le_bytes(word(4)),
    });
    new_state(fcinfo, SummaryState { as_of: i64::from_le_bytes(word(0)), summary })
}

#[pg_extern(immutable, parallel_safe, requires = ["rfm_customer_summary_type"])]
fn rfm_summary_final(
    mut state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<pgrx::composite_type!('static, "rfm_customer_summary")> {
    let state = *state_of(&mut state)?;
    let summary = state.summary?;
    // The result type comes from the call, so no lookup by name per group.
    // SAFETY: fcinfo and its flinfo come from Postgres for this call.
    let type_oid = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    let descriptor = PgTupleDesc::for_composite_type_by_oid(type_oid)
        .expect("rfm_summary returns the composite type rfm_customer_summary");
    let datums = [
        summary.recency_days(state.as_of).into_datum(),
        (summary.frequency as i64).into_datum(),
        summary.total().into_datum(),
        summary.mean().into_datum(),
        summary.first_ts.into_datum(),
        summary.last_ts.into_datum(),
    ];
    // SAFETY: the datums match rfm_customer_summary's column types (timestamptz is an int8 datum).
    match unsafe { PgHeapTuple::from_datums(descriptor, datums) } {
        Ok(tuple) => Some(tuple),
        // six datums for six columns cannot fail; if they ever did, say so rather than return NULL
        Err(e) => Error::invalid_parameter(format!("rfm_summary could not build its result: {e}")).raise(),
    }
}

extension_sql!(
    "CREATE TYPE rfm_customer_summary AS (
         recency_days float8, frequency bigint, monetary_total float8, monetary_mean float8,
         first_ts timestamptz, last_ts timestamptz);
     COMMENT ON TYPE rfm_customer_summary IS 'One customer''s RFM summary, the result of rfm_summary';",
    name = "rfm_customer_summary_type",
);

pgrx::extension_sql_file!(
    "../../sql/aggregates/rfm_summary.sql",
    name = "rfm_summary_aggregate",
    requires = [
        rfm_summary_transition,
        rfm_summary_combine,
        rfm_summary_serialize,
        rfm_summary_deserialize,
        rfm_summary_final
    ],
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, load_cdnow, sqlstate_of, CDNOW};

    #[pg_test]
    fn summaries_match_a_plain_group_by_on_cdnow() {
        load_cdnow();
        // as_of default: midnight after the last order day (1998-06-30) in the session zone.
        let mismatches = count(&format!(
            "WITH ours AS (SELECT * FROM rfm_score('{CDNOW}')),
                  sql AS (SELECT customer_id::text AS k, count(*) AS frequency, avg(amount)::float8 AS mean,
                                 extract(epoch FROM '1998-07-01'::timestamptz - max(order_date)) / 86400 AS recency,
                                 min(order_date)::timestamptz AS first_ts, max(order_date)::timestamptz AS last_ts
                          FROM cdnow_orders GROUP BY customer_id)
             SELECT count(*) FROM ours o FULL JOIN sql s ON s.k = o.customer_key
             WHERE o.frequency IS DISTINCT FROM s.frequency OR abs(o.monetary - s.mean) > 1e-9
                OR abs(o.recency_days - s.recency) > 1e-9
                OR o.first_ts IS DISTINCT FROM s.first_ts OR o.last_ts IS DISTINCT FROM s.last_ts"
        ));
        assert_eq!(mismatches, 0);
        assert_eq!(count(&format!("SELECT count(*) FROM rfm_score('{CDNOW}')")), 2357);
    }

    /// The scoring rule in SQL: rank() - 1 is the number of customers with a worse value
    /// (ordering by recency descending for recency), score = 1 + bins x below / N.
    fn score_mismatches(arguments: &str, bins: i32, monetary_sql: &str) -> i64 {
        count(&format!(
            "WITH c AS (SELECT customer_id::text AS k, count(*) AS frequency, {monetary_sql} AS monetary,
                               '1997-10-01'::timestamptz - max(order_date) AS recency
                        FROM cdnow_orders WHERE order_date <= '1997-10-01' GROUP BY customer_id),
                  s AS (SELECT k, 1 + {bins} * (rank() OVER (ORDER BY recency DESC) - 1) / count(*) OVER () AS r,
                               1 + {bins} * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER () AS f,
                               1 + {bins} * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER () AS m
                        FROM c)
             SELECT count(*) FROM s FULL JOIN rfm_score('{CDNOW}', as_of => '1997-10-01', {arguments}) o
                 ON o.customer_key = s.k
             WHERE o.r IS DISTINCT FROM s.r OR o.f IS DISTINCT FROM s.f OR o.m IS DISTINCT FROM s.m"
        ))
    }

    #[pg_test]
    fn scores_match_an_independent_window_function_formulation() {
        load_cdnow();
        assert_eq!(score_mismatches("bins => 5", 5, "avg(amount)"), 0);
        assert_eq!(
            score_mismatches("bins => 3, monetary => 'total', segment_map => 'none'", 3, "sum(amount)"),
            0
        );
        assert_eq!(score_mismatches("bins => 12, segment_map => 'none'", 12, "avg(amount)"), 0);
        // Half the customers bought once: frequency scores skip, and ties share a score.
        let f_scores = count(&format!("SELECT count(DISTINCT f) FROM rfm_score('{CDNOW}')"));
        assert!(f_scores < 5, "{f_scores} distinct frequency scores");
    }

    #[pg_test]
    fn segments_follow_the_standard_map_and_codes_join_scores() {
        load_cdnow();
        let wrong = count(&format!(
            "SELECT count(*) FROM rfm_score('{CDNOW}') WHERE segment IS DISTINCT FROM CASE
                WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
                WHEN r >= 2 AND f >= 3 AND m >= 3 THEN 'Loyal Customers'
                WHEN r >= 3 AND f <= 3 AND m <= 3 THEN 'Potential Loyalist'
                WHEN r >= 4 AND f = 1 AND m = 1 THEN 'New Customers'
                WHEN r BETWEEN 3 AND 4 AND f = 1 AND m = 1 THEN 'Promising'
                WHEN r BETWEEN 2 AND 3 AND f BETWEEN 2 AND 3 AND m BETWEEN 2 AND 3 THEN 'Need Attention'
                WHEN r BETWEEN 2 AND 3 AND f <= 2 AND m <= 2 THEN 'About To Sleep'
                WHEN r <= 2 AND f >= 2 AND m >= 2 THEN 'At Risk'
                WHEN r = 1 AND f >= 4 AND m >= 4 THEN 'Can''t Lose Them'
                WHEN r <= 2 AND f <= 2 AND m <= 2 THEN 'Lost'
                ELSE 'Others' END
             OR rfm <> r::text || f::text || m::text"
        ));
        assert_eq!(wrong, 0);
        let none = count(&format!(
            "SELECT count(*) FROM rfm_score('{CDNOW}', segment_map => 'none') WHERE segment IS NULL"
        ));
        assert_eq!(none, 2357);
    }

    #[pg_test]
    fn edges_and_user_rule_tables() {
        Spi::run(
            "CREATE TEMP TABLE tx (k int, ts timestamptz, amount numeric);
             INSERT INTO tx VALUES (1, '2024-01-01', 10), (1, '2024-03-01', 30), (2, '2024-02-20', 5),
                                   (3, '2024-03-09', 100), (3, '2024-03-09', NULL), (3, '2024-03-05', 20),
                                   (NULL, '2024-03-01', 1), (4, NULL, 1);
             CREATE TEMP TABLE rules (segment text, r_min int, r_max int, f_min int, f_max int,
                                      m_min int, m_max int);
             INSERT INTO rules VALUES ('Recent', 3, NULL, NULL, NULL, NULL, NULL), ('Repeat', NULL, NULL, 2, 3, 1, 3);",
        )
        .unwrap();
        // as_of 2024-03-10: recency 1 + edges >= days; edges {7, 14}: key 3 (1 day) -> 3,
        // key 1 (9 days) -> 2, key 2 (19 days) -> 1. Frequency edges {2, 3}: 2 -> 2, 1 -> 1, 3 -> 3.
        // Monetary mean (NULL amount counts 0): 20, 5, 40 with edges {10, 30}: 2, 1, 3.
        let rows = Spi::connect(|client| {
            client
                .select(
                    "SELECT customer_key, r, f, m, rfm, segment, monetary FROM rfm_score('tx', as_of => '2024-03-10',
                         bins => 3, r_edges => '{7,14}', f_edges => '{2,3}', m_edges => '{10,30}',
                         segment_map => 'rules') ORDER BY 1",
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| {
                    (
                        row.get::<String>(1).unwrap().unwrap(),
                        row.get::<String>(5).unwrap().unwrap(),
                        row.get::<String>(6).unwrap().unwrap(),
                        row.get::<f64>(7).unwrap().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(
            rows,
            vec![
                ("1".to_string(), "222".to_string(), "Repeat".to_string(), 20.0),
                ("2".to_string(), "111".to_string(), "Others".to_string(), 5.0),
                ("3".to_string(), "333".to_string(), "Recent".to_string(), 40.0),
            ]
        );
        // A later as_of cut: transactions after it are ignored, so key 3 has one.
        let frequency =
            count("SELECT frequency FROM rfm_score('tx', as_of => '2024-03-06', segment_map => 'none') WHERE customer_key = '3'");
        assert_eq!(frequency, 1);
        assert_eq!(count("SELECT count(*) FROM rfm_score('SELECT * FROM tx WHERE false')"), 0);
        assert_eq!(count("SELECT count(*) FROM rfm_thresholds('SELECT * FROM tx WHERE false')"), 0);
    }

    #[pg_test]
    fn thresholds_describe_the_scores() {
        load_cdnow();
        let wrong = count(&format!(
            "WITH s AS (SELECT * FROM rfm_score('{CDNOW}')),
                  expected AS (SELECT 'recency' AS d, r AS score, min(recency_days) AS lo, max(recency_days) AS hi, count(*) AS n FROM s GROUP BY r
                               UNION ALL SELECT 'frequency', f, min(frequency), max(frequency), count(*) FROM s GROUP BY f
                               UNION ALL SELECT 'monetary', m, min(monetary), max(monetary), count(*) FROM s GROUP BY m)
             SELECT count(*) FROM rfm_thresholds('{CDNOW}') t FULL JOIN expected e ON e.d = t.dimension AND e.score = t.score
             WHERE coalesce(e.n, 0) <> t.customers OR e.lo IS DISTINCT FROM t.min_value OR e.hi IS DISTINCT FROM t.max_value"
        ));
        assert_eq!(wrong, 0);
        // Every score 1..5 of every dimension is listed, empty ones too.
        assert_eq!(count(&format!("SELECT count(*) FROM rfm_thresholds('{CDNOW}')")), 15);
    }

    #[pg_test]
    fn the_aggregate_agrees_with_rfm_score_serially_and_in_parallel() {
        load_cdnow();
        let compare = "SELECT count(*) FROM (
                SELECT customer_id::text AS k, rfm_summary(order_date, amount, '1997-10-01') AS s
                FROM cdnow_orders GROUP BY customer_id) a
            FULL JOIN rfm_score('SELECT customer_id, order_date, amount FROM cdnow_orders',
                                as_of => '1997-10-01', monetary => 'total') o ON o.customer_key = a.k
            WHERE (a.s).frequency IS DISTINCT FROM o.frequency OR abs((a.s).monetary_total - o.monetary) > 1e-9
               OR abs((a.s).recency_days - o.recency_days) > 1e-12 OR (a.s).last_ts IS DISTINCT FROM o.last_ts
               OR (a.s).first_ts IS DISTINCT FROM o.first_ts";
        // Customers whose first order is after as_of have a NULL summary and no rfm_score row.
        let late = count(
            "SELECT count(*) FROM (SELECT rfm_summary(order_date, amount, '1997-10-01') AS s
                                   FROM cdnow_orders GROUP BY customer_id) a WHERE s IS NULL",
        );
        assert_eq!(late, 0, "the CDNOW cohort all bought first in Q1 1997");
        assert_eq!(count(compare), 0);
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2;
             SET LOCAL enable_hashagg = off",
        )
        .unwrap();
        let plan = Spi::connect(|client| {
            client
                .select(
                    "EXPLAIN (COSTS OFF) SELECT customer_id, rfm_summary(order_date, amount, '1997-10-01')
                     FROM cdnow_orders GROUP BY customer_id",
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| row.get::<String>(1).unwrap().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        });
        assert!(plan.contains("Partial"), "no partial aggregation in\n{plan}");
        assert_eq!(count(compare), 0);
    }

    #[pg_test]
    fn the_aggregate_handles_nulls_and_late_rows() {
        let row = Spi::get_three::<i64, f64, f64>(
            "SELECT (s).frequency, (s).monetary_total, (s).recency_days FROM (
                 SELECT rfm_summary(ts, amount, '2024-01-11') AS s
                 FROM (VALUES ('2024-01-01'::timestamptz, 10.0::float8), ('2024-01-09', NULL), (NULL, 5),
                              ('2024-02-01', 100)) v(ts, amount)) x",
        )
        .unwrap();
        assert_eq!(row, (Some(2), Some(10.0), Some(2.0)));
        let empty = Spi::get_one::<bool>(
            "SELECT rfm_summary(ts, 1, '2024-01-01') IS NULL FROM (VALUES ('2024-02-01'::timestamptz)) v(ts)",
        )
        .unwrap();
        assert_eq!(empty, Some(true));
    }

    #[pg_test]
    fn bad_arguments_are_22023_and_say_what_to_change() {
        Spi::run("CREATE TEMP TABLE tx AS SELECT 1 AS k, now() AS ts, 1.0 AS amount").unwrap();
        for call in [
            "rfm_score('tx', bins => 1)",
            "rfm_score('tx', bins => 21)",
            "rfm_score('tx', monetary => 'median')",
            "rfm_score('tx', segment_map => 'standrd')",
            "rfm_score('tx', bins => 4)",
            "rfm_score('tx', bins => 3, segment_map => 'rf_grid')",
            "rfm_score('tx', r_edges => '{1,2,3}')",
            "rfm_score('tx', f_edges => '{1,2,2,3}')",
            "rfm_score('tx', m_edges => '{1,NULL,2,3}')",
            "rfm_score('tx', segment_map => 'SELECT ''x'', 3, 2, 1, 5, 1, 5')",
            "rfm_score('tx', segment_map => 'SELECT ''x'', 0, 2, 1, 5, 1, 5')",
            "rfm_score('tx', as_of => 'infinity')",
            "rfm_thresholds('tx', bins => 0)",
            "rfm_score(NULL)",
        ] {
            assert_eq!(sqlstate_of(&format!("SELECT * FROM {call}")).as_deref(), Some("22023"), "{call}");
        }
        let (_, message) = error_of("SELECT * FROM rfm_score('tx', bins => 4)").unwrap();
        assert!(message.contains("bins = 5"), "{message}");
        let (_, message) = error_of("SELECT * FROM rfm_score('tx', r_edges => '{1,2,3}')").unwrap();
        assert!(message.contains("r_edges has 3 values, but bins = 5 needs 4"), "{message}");
        for call in ["rfm_summary(ts, 1, NULL)", "rfm_summary(ts, 'NaN', now())", "rfm_summary(ts, 1, ts)"] {
            let query =
                format!("SELECT {call} FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-02')) v(ts)");
            assert_eq!(sqlstate_of(&query).as_deref(), Some("22023"), "{call}");
        }
        assert_eq!(
            sqlstate_of("SELECT * FROM rfm_score('SELECT k, ''x''::text, amount FROM tx')").as_deref(),
            Some("42804")
        );
    }
}
