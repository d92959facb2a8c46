//! purchase_features: the SQL surface of src/core/propensity. Reference: docs/propensity.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;

use super::{finite_micros, required, TRANSACTIONS};
use crate::core::propensity::features::Cutoff;
use crate::core::rfm::CustomerSummaries;
use crate::error::Error;
use crate::input;
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

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, load_cdnow, sqlstate_of};

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
