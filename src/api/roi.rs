//! segment_roi and channel_roi: the SQL surface of src/core/roi.rs. Reference: docs/roi.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;

use super::attribution::{channel_totals, read_journeys, window_options, ModelChoice};
use super::{finite_micros, required, timestamptz, transactions};
use crate::core::attribution::WindowedJourneys;
use crate::core::roi::{self, ChannelCredit, ChannelSpend, Members, Period};
use crate::core::stats::Confidence;
use crate::error::{Error, OrRaise};
use crate::input::{self, column, Kind, More, Shape};
use crate::interrupt;

const MEMBERS: Shape = Shape {
    argument: "members",
    columns: &[column("customer_key", Kind::Key), column("segment", Kind::Key)],
    more: More::Optional(column("is_control", Kind::Boolean)),
};

/// Orders as segment_roi reads them: transactions under another name.
const ORDERS: Shape = transactions("orders");

const COSTS: Shape = Shape {
    argument: "costs",
    columns: &[column("segment", Kind::Key), column("cost", Kind::Number)],
    more: More::Nothing,
};

const SPEND: Shape = Shape {
    argument: "spend",
    columns: &[column("channel", Kind::Text), column("day", Kind::Timestamp), column("cost", Kind::Number)],
    more: More::Nothing,
};

/// Per segment: treated members' conversion, revenue, cost and return, and their lift
/// over the segment's control members; see docs/roi.md.
#[pg_extern(volatile, parallel_unsafe)]
fn segment_roi(
    members: Option<&str>,
    orders: Option<&str>,
    costs: default!(Option<&str>, "NULL"),
    period_start: default!(Option<TimestampWithTimeZone>, "NULL"),
    period_end: default!(Option<TimestampWithTimeZone>, "NULL"),
    confidence: default!(Option<f64>, "0.95"),
) -> TableIterator<
    'static,
    (
        name!(segment, String),
        name!(customers, i64),
        name!(converters, i64),
        name!(conversion_rate, Option<f64>),
        name!(orders, i64),
        name!(revenue, f64),
        name!(avg_order_value, Option<f64>),
        name!(revenue_per_customer, Option<f64>),
        name!(cost, Option<f64>),
        name!(cac, Option<f64>),
        name!(roi, Option<f64>),
        name!(roas, Option<f64>),
        name!(control_customers, i64),
        name!(control_conversion_rate, Option<f64>),
        name!(control_revenue_per_customer, Option<f64>),
        name!(lift, Option<f64>),
        name!(lift_ci_low, Option<f64>),
        name!(lift_ci_high, Option<f64>),
        name!(p_value, Option<f64>),
        name!(incremental_revenue, Option<f64>),
    ),
> {
    let members = required(members, "members");
    let orders = required(orders, "orders");
    let confidence = Confidence::new(required(confidence, "confidence")).or_raise();
    let period = Period::new(
        period_start.map(|ts| finite_micros(ts, "period_start")),
        period_end.map(|ts| finite_micros(ts, "period_end")),
    )
    .or_raise();

    let mut builder = Members::default();
    input::for_each_row(&MEMBERS, members, |row| {
        if let (Some(customer), Some(segment)) = (row.key(0), row.key(1)) {
            let is_control = row.column_count() > 2 && row.boolean(2).unwrap_or(false);
            builder.add_member(customer.as_key(), segment.as_key(), is_control);
        }
    });
    let mut ledger = builder.into_ledger(period).or_raise();
    input::for_each_row(&ORDERS, orders, |row| {
        if let (Some(customer), Some(ts)) = (row.key(0), row.timestamp(1)) {
            ledger.add_order(customer.as_key(), ts, row.number(2).unwrap_or(0.0));
        }
    });
    if let Some(costs) = costs {
        input::for_each_row(&COSTS, costs, |row| {
            if let Some(segment) = row.key(0) {
                ledger.add_cost(segment.as_key(), row.number(1).unwrap_or(0.0)).or_raise();
            }
        });
    }
    if let Some(first) = ledger.unknown_cost_segments().first() {
        let count = ledger.unknown_cost_segments().len();
        pgrx::notice!(
            "costs: {count} segment{} not in members, ignored (first: '{first}')",
            if count == 1 { "" } else { "s" }
        );
    }
    let rows: Vec<_> = ledger
        .finish(confidence, &mut interrupt)
        .into_iter()
        .map(|r| {
            (
                r.segment,
                r.customers as i64,
                r.converters as i64,
                r.conversion_rate,
                r.orders as i64,
                r.revenue,
                r.avg_order_value,
                r.revenue_per_customer,
                r.cost,
                r.cac,
                r.roi,
                r.roas,
                r.control_customers as i64,
                r.control_conversion_rate,
                r.control_revenue_per_customer,
                r.lift,
                r.lift_ci_low,
                r.lift_ci_high,
                r.p_value,
                r.incremental_revenue,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Attributed conversions and value per channel under each model, against the channel's
/// spend over the conversions' lookback windows; see docs/roi.md.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn channel_roi(
    touchpoints: Option<&str>,
    conversions: Option<&str>,
    spend: Option<&str>,
    models: default!(
        Option<Vec<Option<String>>>,
        "'{last_touch,first_touch,linear,position_based,time_decay,markov}'"
    ),
    lookback: default!(Option<Interval>, "'30 days'"),
    half_life: default!(Option<Interval>, "'7 days'"),
    markov_order: default!(Option<i32>, "1"),
) -> TableIterator<
    'static,
    (
        name!(model, String),
        name!(channel, Option<String>),
        name!(conversions, f64),
        name!(value, f64),
        name!(spend, Option<f64>),
        name!(cpa, Option<f64>),
        name!(roas, Option<f64>),
    ),
> {
    let spend = required(spend, "spend");
    let names = model_names(required(models, "models"));
    let choices: Vec<ModelChoice> = names
        .iter()
        .map(|name| {
            ModelChoice::parse(
                Some(name),
                half_life,
                None,
                None,
                Some("none"),
                markov_order,
                Some(false),
                Some(0),
                None,
            )
        })
        .collect();
    let window = window_options(lookback, None, Some(true));
    let learning = choices.iter().any(|choice| choice.model.learns());
    let journeys = read_journeys(touchpoints, conversions, window.lookback, learning);

    let channel_spend = read_spend(spend, journeys.conversions().iter().map(|c| c.ts), window.lookback);
    let mut rows = Vec::new();
    for (name, choice) in names.iter().zip(choices) {
        let paths = WindowedJourneys { journeys: &journeys, window, unconverted: choice.model.learns() };
        let attribution = choice.attribution(journeys.channels());
        let (channels, totals) = channel_totals(&attribution, &paths);
        let credits = totals
            .into_iter()
            .map(|t| ChannelCredit {
                channel: t.channel.map(|c| channels[c as usize].clone()),
                conversions: t.conversions,
                value: t.value,
            })
            .collect();
        rows.extend(
            roi::channel_roi(name, credits, &channel_spend)
                .into_iter()
                .map(|r| (r.model, r.channel, r.conversions, r.value, r.spend, r.cpa, r.roas)),
        );
    }
    TableIterator::new(rows)
}

/// 4714-11-24 00:00 UTC BC, the earliest timestamptz: a lookback reaching before it stops there.
const EARLIEST_TIMESTAMPTZ: i64 = -211_813_488_000_000_000;

/// The models array: at least one name, no NULL, none twice.
fn model_names(models: Vec<Option<String>>) -> Vec<String> {
    let names: Vec<String> = models
        .into_iter()
        .map(|m| m.unwrap_or_else(|| Error::invalid_parameter("models must not contain NULL").raise()))
        .collect();
    if names.is_empty() {
        Error::invalid_parameter("models must name at least one model").raise();
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            Error::invalid_parameter(format!("models lists '{name}' twice")).raise();
        }
    }
    names
}

/// Spend per channel over the days the conversions' windows cover: from the day of the
/// earliest conversion's window start to the day of the latest conversion, in the
/// session's time zone.
fn read_spend(spend: &str, conversion_times: impl Iterator<Item = i64>, lookback: i64) -> ChannelSpend {
    let span = conversion_times.fold(None, |span: Option<(i64, i64)>, ts| {
        Some(span.map_or((ts, ts), |(low, high)| (low.min(ts), high.max(ts))))
    });
    let mut channel_spend = match span {
        Some((earliest, latest)) => {
            let (first, end) = Spi::get_two_with_args::<TimestampWithTimeZone, TimestampWithTimeZone>(
                // schema-qualified, so that no search_path can put another function or operator here
                "SELECT pg_catalog.date_trunc('day', $1),
                        pg_catalog.date_trunc('day', $2) OPERATOR(pg_catalog.+) interval '1 day'",
                &[
                    timestamptz(earliest.saturating_sub(lookback).max(EARLIEST_TIMESTAMPTZ)).into(),
                    timestamptz(latest).into(),
                ],
            )
            .expect("date arithmetic on finite timestamps succeeds");
            let micros = |ts: Option<TimestampWithTimeZone>| {
                pgrx::pg_sys::TimestampTz::from(ts.expect("date_trunc of a timestamp is not NULL"))
            };
            ChannelSpend::new(micros(first), micros(end))
        }
        // no conversion: no window, no spend counted
        None => ChannelSpend::new(0, 0),
    };
    input::for_each_row(&SPEND, spend, |row| {
        if let (Some(channel), Some(day)) = (row.text(0), row.timestamp(1)) {
            channel_spend.add(&channel, day, row.number(2).unwrap_or(0.0)).or_raise();
        }
    });
    channel_spend
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{error_of, sqlstate_of};

    /// 2,000 customers in segments a, b, c (some in two), one in five in the holdout, and
    /// about 6,000 orders over 2024, from a seeded generator; costs for a and b only.
    fn shop() {
        Spi::run(
            "SELECT setseed(0.17);
             CREATE TEMP TABLE m AS
                 SELECT id AS k, (ARRAY['a','b','c'])[1 + id % 3] AS seg, random() < 0.2 AS ctl
                 FROM generate_series(1, 2000) AS id
                 UNION ALL
                 SELECT id, 'a', random() < 0.2 FROM generate_series(1, 2000, 7) AS id WHERE id % 3 <> 0;
             CREATE TEMP TABLE o AS
                 SELECT (random() * 2200)::int AS k,
                        '2024-01-01'::timestamptz + random() * interval '366 days' AS ts,
                        round((random() * 80)::numeric, 2) AS amount
                 FROM generate_series(1, 6000);
             CREATE TEMP TABLE c AS VALUES ('a', 500.0), ('a', 250.5), ('b', 1000.0);",
        )
        .unwrap();
    }

    /// segment_roi's columns in plain SQL (an independent formulation of docs/roi.md), for
    /// orders in [2024-03-01, 2024-09-01). z = 1.959963984540054 is the standard normal
    /// table's 0.975 quantile.
    const SQL_ROI: &str = "
        WITH mem AS (SELECT DISTINCT k, seg, ctl FROM m),
        per AS (SELECT mem.seg, mem.ctl, mem.k, count(o.k) AS n_orders, coalesce(sum(o.amount), 0) AS revenue
                FROM mem LEFT JOIN o ON o.k = mem.k AND o.ts >= '2024-03-01' AND o.ts < '2024-09-01'
                GROUP BY 1, 2, 3),
        g AS (SELECT seg,
                     count(*) FILTER (WHERE NOT ctl) AS n_t,
                     count(*) FILTER (WHERE NOT ctl AND n_orders > 0) AS x_t,
                     coalesce(sum(n_orders) FILTER (WHERE NOT ctl), 0) AS orders,
                     coalesce(sum(revenue) FILTER (WHERE NOT ctl), 0) AS rev_t,
                     count(*) FILTER (WHERE ctl) AS n_c,
                     count(*) FILTER (WHERE ctl AND n_orders > 0) AS x_c,
                     coalesce(sum(revenue) FILTER (WHERE ctl), 0) AS rev_c
              FROM per GROUP BY seg),
        cost AS (SELECT column1 AS seg, sum(column2) AS cost FROM c GROUP BY 1)
        SELECT g.seg, n_t, x_t, x_t::float8 / n_t AS cr, orders, rev_t::float8 AS revenue,
               rev_t::float8 / nullif(orders, 0) AS aov, rev_t::float8 / n_t AS rpc,
               cost::float8, cost::float8 / nullif(x_t, 0) AS cac,
               (rev_t - cost)::float8 / nullif(cost, 0) AS roi, rev_t::float8 / nullif(cost, 0) AS roas,
               n_c, x_c::float8 / nullif(n_c, 0) AS ccr, rev_c::float8 / nullif(n_c, 0) AS crpc,
               (x_t::float8 / n_t) / nullif(x_c::float8 / nullif(n_c, 0), 0) - 1 AS lift,
               exp(ln((x_t::float8 / n_t) / (x_c::float8 / n_c))
                   - 1.959963984540054 * sqrt(1.0 / x_t - 1.0 / n_t + 1.0 / x_c - 1.0 / n_c)) - 1 AS lo,
               exp(ln((x_t::float8 / n_t) / (x_c::float8 / n_c))
                   + 1.959963984540054 * sqrt(1.0 / x_t - 1.0 / n_t + 1.0 / x_c - 1.0 / n_c)) - 1 AS hi,
               (rev_t::float8 / n_t - rev_c::float8 / nullif(n_c, 0)) * n_t AS incr
        FROM g LEFT JOIN cost USING (seg)";

    /// A condition true when `ours` and `expected` differ by more than `tolerance`, or
    /// exactly one of them is NULL (a missing row included).
    fn differ(ours: &str, expected: &str, tolerance: f64) -> String {
        format!(
            "NOT coalesce(abs({ours} - {expected}) <= {tolerance}, {ours} IS NULL AND {expected} IS NULL)"
        )
    }

    #[pg_test]
    fn every_column_matches_an_independent_sql_formulation() {
        shop();
        let differs = [
            ("r.customers", "e.n_t", 0.0),
            ("r.converters", "e.x_t", 0.0),
            ("r.conversion_rate", "e.cr", 1e-12),
            ("r.orders", "e.orders", 0.0),
            ("r.revenue", "e.revenue", 1e-6),
            ("r.avg_order_value", "e.aov", 1e-9),
            ("r.revenue_per_customer", "e.rpc", 1e-9),
            ("r.cost", "e.cost", 1e-9),
            ("r.cac", "e.cac", 1e-9),
            ("r.roi", "e.roi", 1e-9),
            ("r.roas", "e.roas", 1e-9),
            ("r.control_customers", "e.n_c", 0.0),
            ("r.control_conversion_rate", "e.ccr", 1e-12),
            ("r.control_revenue_per_customer", "e.crpc", 1e-9),
            ("r.lift", "e.lift", 1e-12),
            ("r.lift_ci_low", "e.lo", 1e-12),
            ("r.lift_ci_high", "e.hi", 1e-12),
            ("r.incremental_revenue", "e.incr", 1e-6),
        ]
        .map(|(ours, expected, tolerance)| differ(ours, expected, tolerance))
        .join(" OR ");
        let mismatches = Spi::get_one::<i64>(&format!(
            "WITH expected AS ({SQL_ROI}),
                  ours AS (SELECT * FROM segment_roi('m', 'o', 'c', '2024-03-01', '2024-09-01'))
             SELECT count(*) FROM expected e FULL JOIN ours r ON r.segment = e.seg
             WHERE {differs} OR NOT coalesce(r.p_value > 0 AND r.p_value <= 1, false)"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(mismatches, 0);
        // c has no cost rows: cost, cac, roi and roas are NULL
        let c_cost = Spi::get_one::<bool>(
            "SELECT cost IS NULL AND cac IS NULL AND roi IS NULL AND roas IS NULL
             FROM segment_roi('m', 'o', 'c') WHERE segment = 'c'",
        )
        .unwrap();
        assert_eq!(c_cost, Some(true));
        // rows come in segment order
        let order =
            Spi::get_one::<String>("SELECT string_agg(segment, ',') FROM segment_roi('m', 'o')").unwrap();
        assert_eq!(order.as_deref(), Some("a,b,c"));
    }

    #[pg_test]
    fn the_p_value_is_the_pooled_z_test() {
        // 30 of 100 treated and 20 of 100 control converted: z = 1.6329932,
        // p = 0.1024704 (Python's statistics.NormalDist), lift 0.5.
        Spi::run(
            "CREATE TEMP TABLE m AS SELECT id AS k, 'all' AS seg, id > 100 AS ctl FROM generate_series(1, 200) id;
             CREATE TEMP TABLE o AS SELECT k, '2024-01-01'::timestamptz AS ts, 10 AS amount FROM m
                 WHERE k <= 30 OR k BETWEEN 101 AND 120",
        )
        .unwrap();
        let (lift, p) = Spi::get_two::<f64, f64>("SELECT lift, p_value FROM segment_roi('m', 'o')").unwrap();
        assert!((lift.unwrap() - 0.5).abs() < 1e-12);
        assert!((p.unwrap() - 0.1024704).abs() < 1e-6, "{p:?}");
    }

    #[pg_test]
    fn nulls_and_missing_control_columns() {
        Spi::run(
            "CREATE TEMP TABLE m (k int, seg text, ctl boolean);
             INSERT INTO m VALUES (1, 'x', NULL), (2, 'x', false), (NULL, 'x', true), (3, NULL, true), (4, 'x', true);
             CREATE TEMP TABLE o (k int, ts timestamptz, amount numeric);
             INSERT INTO o VALUES (1, '2024-01-01', NULL), (2, '2024-01-02', 5), (NULL, '2024-01-02', 5),
                                  (2, NULL, 5), (9, '2024-01-02', 50);",
        )
        .unwrap();
        // NULL is_control is treated; NULL keys and segments skip the row; a NULL amount
        // counts 0 but is an order; customer 9 is no member.
        let row =
            Spi::get_three::<i64, i64, f64>("SELECT customers, orders, revenue FROM segment_roi('m', 'o')")
                .unwrap();
        assert_eq!(row, (Some(2), Some(2), Some(5.0)));
        assert_eq!(
            Spi::get_one::<i64>("SELECT control_customers FROM segment_roi('m', 'o')").unwrap(),
            Some(1)
        );
        // two columns: everyone treated, no control, lift NULL
        let row = Spi::get_two::<i64, bool>(
            "SELECT control_customers, lift IS NULL AND p_value IS NULL
             FROM segment_roi('SELECT k, seg FROM m', 'o')",
        )
        .unwrap();
        assert_eq!(row, (Some(0), Some(true)));
        // no members: no rows
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM segment_roi('SELECT k, seg FROM m WHERE false', 'o')")
                .unwrap(),
            Some(0)
        );
    }

    #[pg_test]
    fn bad_segment_roi_input() {
        shop();
        for (call, state) in [
            ("segment_roi('m', 'o', confidence => 1)", "22023"),
            ("segment_roi('m', 'o', confidence => 0)", "22023"),
            ("segment_roi('m', 'o', confidence => NULL)", "22023"),
            ("segment_roi('m', 'o', period_start => '2024-02-01', period_end => '2024-02-01')", "22023"),
            ("segment_roi('m', 'o', 'VALUES (''a'', -1)')", "22023"),
            ("segment_roi(NULL, 'o')", "22023"),
            ("segment_roi('SELECT k, seg, 1 FROM m', 'o')", "42804"),
            ("segment_roi('SELECT k FROM m', 'o')", "42804"),
            ("segment_roi('m', 'SELECT k, ts, amount::text FROM o')", "42804"),
            ("segment_roi('m', 'SELECT k, amount, ts FROM o')", "42804"),
            ("segment_roi('m', 'o', 'VALUES (''a'', ''x'')')", "42804"),
        ] {
            assert_eq!(sqlstate_of(&format!("SELECT * FROM {call}")).as_deref(), Some(state), "{call}");
        }
        let (_, message) =
            error_of("SELECT * FROM segment_roi('VALUES (1, ''a'', false), (1, ''a'', true)', 'o')").unwrap();
        assert!(message.contains("customer '1' is both treated and control in segment 'a'"), "{message}");
    }

    /// Touches, conversions and spend of 400 journeys over three paid channels and direct.
    fn campaigns() {
        Spi::run(
            "SELECT setseed(0.23);
             CREATE TEMP TABLE tp AS
                 SELECT (random() * 400)::int AS k,
                        '2024-02-01'::timestamptz + random() * interval '60 days' AS ts,
                        (ARRAY['email','search','display','direct'])[1 + (random() * 3)::int] AS ch
                 FROM generate_series(1, 3000);
             CREATE TEMP TABLE cv AS
                 SELECT (random() * 400)::int AS k,
                        '2024-03-01'::timestamptz + random() * interval '30 days' AS ts,
                        round((random() * 100)::numeric, 2) AS v
                 FROM generate_series(1, 300);
             CREATE TEMP TABLE spend AS
                 SELECT ch, day::date, round((random() * 50)::numeric, 2) AS cost
                 FROM unnest(ARRAY['email','search','display','tv']) AS ch,
                      generate_series('2023-12-01'::date, '2024-06-30'::date, '1 day') AS day;",
        )
        .unwrap();
    }

    #[pg_test]
    fn channel_roi_joins_attribute_channels_with_the_windows_spend() {
        campaigns();
        // conversions and value per model equal attribute_channels'; spend is the sum over
        // the days from (earliest conversion - 30 days) to the latest conversion.
        let mismatches = Spi::get_one::<i64>(&format!(
            "WITH w AS (SELECT (min(ts) - interval '30 days')::date AS first, max(ts)::date AS last FROM cv),
                  s AS (SELECT ch, sum(cost)::float8 AS spend FROM spend, w WHERE day BETWEEN first AND last GROUP BY ch),
                  a AS (SELECT m.model, ac.channel, ac.conversions, ac.value
                        FROM unnest(ARRAY['last_touch','first_touch','linear','position_based','time_decay','markov']) AS m(model),
                             attribute_channels('tp', 'cv', model => m.model) ac),
                  expected AS (SELECT model, channel, sum(conversions) AS conversions, sum(value) AS value,
                                  CASE WHEN channel IS NOT NULL THEN coalesce(max(spend), 0) END AS spend
                           FROM (SELECT a.model, a.channel, a.conversions, a.value, s.spend FROM a LEFT JOIN s ON s.ch = a.channel
                                 UNION ALL
                                 SELECT m.model, s.ch, 0, 0, s.spend FROM (SELECT DISTINCT model FROM a) m, s
                                 WHERE NOT EXISTS (SELECT FROM a WHERE a.model = m.model AND a.channel = s.ch)) u
                           GROUP BY 1, 2)
             SELECT count(*) FROM expected e FULL JOIN channel_roi('tp', 'cv', 'spend') r
                 ON r.model = e.model AND r.channel IS NOT DISTINCT FROM e.channel
             WHERE {} OR {} OR {} OR {} OR {}",
            differ("r.conversions", "e.conversions", 1e-9),
            differ("r.value", "e.value", 1e-6),
            differ("r.spend", "e.spend", 1e-6),
            differ("r.cpa", "e.spend / nullif(e.conversions, 0)", 1e-6),
            differ("r.roas", "e.value / nullif(e.spend, 0)", 1e-9),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(mismatches, 0);
        // tv has spend and no touch: 0 conversions, cpa NULL, roas 0, under every model
        let tv = Spi::get_one::<i64>(
            "SELECT count(*) FROM channel_roi('tp', 'cv', 'spend')
             WHERE channel = 'tv' AND conversions = 0 AND cpa IS NULL AND roas = 0 AND spend > 0",
        )
        .unwrap();
        assert_eq!(tv, Some(6));
    }

    #[pg_test]
    fn bad_channel_roi_input() {
        campaigns();
        for (call, state) in [
            ("channel_roi('tp', 'cv', 'spend', models => '{}')", "22023"),
            ("channel_roi('tp', 'cv', 'spend', models => '{linear,linear}')", "22023"),
            ("channel_roi('tp', 'cv', 'spend', models => '{linear,NULL}')", "22023"),
            ("channel_roi('tp', 'cv', 'spend', models => '{nonesuch}')", "22023"),
            ("channel_roi('tp', 'cv', 'spend', lookback => '0 days')", "22023"),
            ("channel_roi('tp', 'cv', 'SELECT ch, day, -cost FROM spend')", "22023"),
            ("channel_roi('tp', 'cv', NULL)", "22023"),
            ("channel_roi('tp', 'cv', 'SELECT ch, cost, day FROM spend')", "42804"),
        ] {
            assert_eq!(sqlstate_of(&format!("SELECT * FROM {call}")).as_deref(), Some(state), "{call}");
        }
    }
}
