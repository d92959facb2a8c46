//! clv_fit, customer_lifetime_value and the scalar CLV functions: the SQL surface of
//! src/core/clv.rs. Reference: docs/clv.md.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use super::model_cache::{with_cached_model, JsonbDatum};
use super::{finite_micros, interval_arg, required, TRANSACTIONS};
use crate::core::clv::{self, BgNbd, Customer, Model};
use crate::core::interner::Interner;
use crate::core::MICROS_PER_DAY;
use crate::error::{Error, ErrorKind, OrRaise};
use crate::input;
use crate::interrupt;

/// Microseconds from 2000-01-01 (Postgres' epoch) back to 1970-01-01.
const UNIX_EPOCH_OFFSET: i64 = 946_684_800_000_000;

/// The period of a timestamptz: whole time units since 1970-01-01 00:00 in the session's
/// time zone.
fn period(ts: i64, unit: i64) -> i64 {
    // SAFETY: timestamptz_timestamp takes a timestamptz datum; callers pass finite ones.
    let local = unsafe {
        pgrx::direct_function_call_as_datum(pg_sys::timestamptz_timestamp, &[Some(pg_sys::Datum::from(ts))])
    }
    .expect("a finite timestamptz has a local time")
    .value() as i64;
    // in 128 bits: the offset pushes timestamps near the range's end past i64
    ((i128::from(local) + i128::from(UNIX_EPOCH_OFFSET)).div_euclid(i128::from(unit))) as i64
}

/// A value as its type's output function prints it (session DateStyle, IntervalStyle, TimeZone).
fn output_text(
    output: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum,
    datum: Option<pg_sys::Datum>,
) -> String {
    // SAFETY: an output function of the datum's own type returns a NUL-terminated palloc'd string.
    unsafe {
        let cstring =
            pgrx::direct_function_call_as_datum(output, &[datum]).expect("output functions return text");
        std::ffi::CStr::from_ptr(cstring.cast_mut_ptr()).to_string_lossy().into_owned()
    }
}

/// Customers (in key order) and the model fitted on them.
struct Fitted {
    keys: Vec<String>,
    customers: Vec<Customer>,
    model: Model,
}

fn fit(
    transactions: Option<&str>,
    as_of: Option<TimestampWithTimeZone>,
    time_unit: Option<Interval>,
    penalizer: Option<f64>,
) -> Fitted {
    let transactions = required(transactions, "transactions");
    let time_unit = required(time_unit, "time_unit");
    let unit = interval_arg(time_unit, "time_unit");
    // at least a second, so that periods of timestamps at the end of the range fit in 64 bits
    if unit < 1_000_000 {
        Error::invalid_parameter("time_unit must be at least 1 second").raise();
    }
    let penalizer = required(penalizer, "penalizer");
    if !(penalizer >= 0.0 && penalizer.is_finite()) {
        Error::invalid_parameter(format!("penalizer must be 0 or more, not {penalizer}")).raise();
    }
    let as_of = as_of.map(|ts| finite_micros(ts, "as_of"));

    let mut keys = Interner::default();
    let mut rows: Vec<(u32, i64, f64)> = Vec::new();
    let mut latest = i64::MIN;
    input::for_each_row(&TRANSACTIONS, transactions, |row| {
        if let (Some(key), Some(ts)) = (row.key(0), row.timestamp(1)) {
            if as_of.is_none_or(|as_of| ts <= as_of) {
                latest = latest.max(ts);
                rows.push((keys.key_id(key.as_key()), ts, row.number(2).unwrap_or(0.0)));
            }
        }
    });
    let (names, new_id) = keys.into_sorted(&mut interrupt);
    let as_of = as_of.unwrap_or(latest);
    for row in &mut rows {
        row.0 = new_id[row.0 as usize];
        row.1 = period(row.1, unit);
    }
    let customers: Vec<Customer> = clv::customers_from_periods(rows, period(as_of, unit), &mut interrupt)
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let fits = clv::fit_models(&customers, penalizer, &mut interrupt).or_raise();
    if fits.gamma_gamma.is_none() {
        notice!(
            "pg_marketing: only {} customers bought again with a positive amount; Gamma-Gamma needs at least {}, \
             so the model has no value part (gamma_gamma is null)",
            fits.n_gamma_gamma,
            clv::MIN_GAMMA_GAMMA_CUSTOMERS
        );
    }
    if !fits.converged() {
        warning!("pg_marketing: the CLV fit did not converge; its parameters are the best found");
    }
    let model = fits.into_model(
        output_text(pg_sys::interval_out, time_unit.into_datum()),
        unit as f64 / MICROS_PER_DAY as f64,
        output_text(pg_sys::timestamptz_out, Some(pg_sys::Datum::from(as_of))),
    );
    Fitted { keys: names, customers, model }
}

/// Fits BG/NBD and Gamma-Gamma; returns the model as jsonb. See docs/clv.md.
#[pg_extern(volatile, parallel_unsafe)]
fn clv_fit(
    transactions: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    time_unit: default!(Option<Interval>, "'1 day'"),
    penalizer: default!(Option<f64>, "0"),
) -> JsonB {
    let model = fit(transactions, as_of, time_unit, penalizer).model;
    JsonB(serde_json::to_value(model).expect("a model serialises"))
}

/// The longest horizon: 100 years. Each month costs one hypergeometric series per customer.
const MAX_HORIZON_MONTHS: i32 = 1200;

fn check_horizon(horizon_months: i32, discount_rate: f64) -> u32 {
    if !(1..=MAX_HORIZON_MONTHS).contains(&horizon_months) {
        Error::invalid_parameter(format!(
            "horizon_months must be between 1 and {MAX_HORIZON_MONTHS} (100 years), not {horizon_months}"
        ))
        .raise();
    }
    if !(discount_rate > -1.0 && discount_rate.is_finite()) {
        Error::invalid_parameter(format!("discount_rate must be greater than -1, not {discount_rate}"))
            .raise();
    }
    horizon_months as u32
}

/// Fits the model and predicts per customer. See docs/clv.md.
#[pg_extern(volatile, parallel_unsafe)]
fn customer_lifetime_value(
    transactions: Option<&str>,
    as_of: default!(Option<TimestampWithTimeZone>, "NULL"),
    time_unit: default!(Option<Interval>, "'1 day'"),
    horizon_months: default!(Option<i32>, "12"),
    discount_rate: default!(Option<f64>, "0.01"),
    penalizer: default!(Option<f64>, "0"),
) -> TableIterator<
    'static,
    (
        name!(customer_key, String),
        name!(frequency, i32),
        name!(recency, f64),
        name!(t, f64),
        name!(monetary, f64),
        name!(p_alive, f64),
        name!(expected_purchases, f64),
        name!(expected_avg_value, Option<f64>),
        name!(clv, Option<f64>),
    ),
> {
    let months =
        check_horizon(required(horizon_months, "horizon_months"), required(discount_rate, "discount_rate"));
    let discount_rate = required(discount_rate, "discount_rate");
    let Fitted { keys, customers, model } = fit(transactions, as_of, time_unit, penalizer);
    let bgnbd = model.bgnbd.params;
    let month = model.month();
    let rows: Vec<_> = keys
        .into_iter()
        .zip(customers)
        .map(|(key, c)| {
            interrupt();
            let value = model.gamma_gamma.map(|g| finite(g.params.expected_value(&c), "expected_avg_value"));
            (
                key,
                c.frequency as i32,
                c.recency,
                c.t,
                c.monetary,
                bgnbd.p_alive(&c),
                bgnbd.expected_purchases(months as f64 * month, &c).or_raise(),
                value,
                value.map(|v| clv::lifetime_value(&bgnbd, v, &c, months, month, discount_rate).or_raise()),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// `value` when finite, else 22003 naming what it is: arguments near the float8 limits
/// (1e308) overflow the closed forms.
fn finite(value: f64, what: &str) -> f64 {
    if !value.is_finite() {
        Error::new(ErrorKind::OutOfRange, format!("{what} is out of the range the model can compute"))
            .with_hint("frequency, recency, t and monetary must be of the size the model was fitted on")
            .raise();
    }
    value
}

/// Calls `with` on the parsed model (cached per call site).
fn with_model<R>(fcinfo: pg_sys::FunctionCallInfo, model: &JsonbDatum, with: impl FnOnce(&Model) -> R) -> R {
    with_cached_model(fcinfo, model, Model::from_json, with)
}

/// A customer from scalar arguments; negative or inconsistent values raise 22023.
fn customer(frequency: f64, recency: f64, t: f64, monetary: f64) -> Customer {
    let finite = [frequency, recency, t, monetary].iter().all(|v| v.is_finite());
    if !(finite && frequency >= 0.0 && recency >= 0.0 && t >= recency) {
        Error::invalid_parameter(format!(
            "need frequency >= 0 and 0 <= recency <= t, all finite (got frequency {frequency}, recency {recency}, t {t})"
        ))
        .raise();
    }
    Customer { frequency, recency, t, monetary }
}

/// P(the customer is still active | frequency, recency, t), in the model's time units.
#[pg_extern(immutable, parallel_safe, strict)]
fn clv_p_alive(
    model: JsonbDatum,
    frequency: f64,
    recency: f64,
    t: f64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    let bgnbd: BgNbd = with_model(fcinfo, &model, |m| m.bgnbd.params);
    finite(bgnbd.p_alive(&customer(frequency, recency, t, 0.0)), "p_alive")
}

/// Expected purchases in the next `horizon` time units.
#[pg_extern(immutable, parallel_safe, strict)]
fn clv_expected_purchases(
    model: JsonbDatum,
    horizon: f64,
    frequency: f64,
    recency: f64,
    t: f64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    if !(horizon >= 0.0 && horizon.is_finite()) {
        Error::invalid_parameter(format!("horizon must be 0 or more, not {horizon}")).raise();
    }
    let c = customer(frequency, recency, t, 0.0);
    with_model(fcinfo, &model, |m| m.bgnbd.params.expected_purchases(horizon, &c)).or_raise()
}

/// Expected mean purchase value (Gamma-Gamma); NULL when the model has no Gamma-Gamma part.
#[pg_extern(immutable, parallel_safe, strict)]
fn clv_expected_value(
    model: JsonbDatum,
    frequency: f64,
    monetary: f64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<f64> {
    let c = customer(frequency, 0.0, 0.0, monetary);
    let gamma_gamma = with_model(fcinfo, &model, |m| m.gamma_gamma.map(|g| g.params));
    gamma_gamma.map(|g| finite(g.expected_value(&c), "expected value"))
}

/// Discounted value of the next horizon_months months of purchases; NULL when the model
/// has no Gamma-Gamma part.
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe)]
fn clv_value(
    model: Option<JsonbDatum>,
    frequency: Option<f64>,
    recency: Option<f64>,
    t: Option<f64>,
    monetary: Option<f64>,
    horizon_months: default!(Option<i32>, "12"),
    discount_rate: default!(Option<f64>, "0.01"),
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<f64> {
    // NULL in, NULL out, as a strict function (declared non-strict for its defaults).
    let (model, frequency, recency, t, monetary) = (model?, frequency?, recency?, t?, monetary?);
    let months = check_horizon(horizon_months?, discount_rate?);
    let (bgnbd, gamma_gamma, month) =
        with_model(fcinfo, &model, |m| (m.bgnbd.params, m.gamma_gamma.map(|g| g.params), m.month()));
    let c = customer(frequency, recency, t, monetary);
    let value = finite(gamma_gamma?.expected_value(&c), "expected value");
    let clv = clv::lifetime_value(&bgnbd, value, &c, months, month, discount_rate?).or_raise();
    Some(finite(clv, "clv"))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, load_cdnow, sqlstate_of};

    const CALIBRATION: &str = "SELECT customer_id, order_date, amount FROM cdnow_orders";

    fn value(query: &str) -> f64 {
        Spi::get_one::<f64>(query).unwrap().unwrap()
    }

    fn fit_cdnow() {
        load_cdnow();
        Spi::run(&format!(
            "CREATE TABLE m AS SELECT clv_fit('{CALIBRATION}', as_of => '1997-09-30') AS model"
        ))
        .unwrap();
    }

    #[pg_test]
    fn the_cdnow_fit_reaches_the_published_parameters() {
        fit_cdnow();
        // lifetimes' documentation: BG/NBD in days r 0.2426, alpha 30.895, a 0.7929, b 2.4259;
        // Gamma-Gamma on the 946 repeat customers p 6.25, q 3.74, v 15.44.
        for (path, published) in [
            ("bgnbd,r", 0.2426),
            ("bgnbd,alpha", 30.895),
            ("bgnbd,a", 0.7929),
            ("bgnbd,b", 2.4259),
            ("gamma_gamma,p", 6.25),
            ("gamma_gamma,q", 3.74),
            ("gamma_gamma,v", 15.44),
        ] {
            let got = value(&format!("SELECT (model #>> '{{{path}}}')::float8 FROM m"));
            assert!((got - published).abs() <= 0.01 * published, "{path} = {got}, published {published}");
        }
        assert_eq!(count("SELECT (model ->> 'n_customers')::bigint FROM m"), 2357);
        assert_eq!(count("SELECT (model ->> 'converged')::bool::int FROM m"), 1);
    }

    #[pg_test]
    fn summaries_match_an_independent_sql_formulation() {
        fit_cdnow();
        // frequency = purchase days - 1, recency = last - first day, t = as_of - first day,
        // monetary = mean of the daily totals after the first day.
        let wrong = count(&format!(
            "WITH days AS (SELECT customer_id, order_date, sum(amount) AS amount FROM cdnow_orders
                           WHERE order_date <= '1997-09-30' GROUP BY 1, 2),
                  firsts AS (SELECT customer_id, min(order_date) AS first FROM days GROUP BY 1),
                  s AS (SELECT d.customer_id::text AS k, count(*) - 1 AS frequency,
                               max(order_date) - first AS recency, date '1997-09-30' - first AS t,
                               coalesce(avg(amount) FILTER (WHERE order_date > first), 0) AS monetary
                        FROM days d JOIN firsts USING (customer_id) GROUP BY d.customer_id, first)
             SELECT count(*) FROM s FULL JOIN customer_lifetime_value('{CALIBRATION}', as_of => '1997-09-30') c
                 ON c.customer_key = s.k
             WHERE c.frequency IS DISTINCT FROM s.frequency::int OR c.recency IS DISTINCT FROM s.recency::float8
                OR c.t IS DISTINCT FROM s.t::float8 OR abs(c.monetary - s.monetary) > 1e-9"
        ));
        assert_eq!(wrong, 0);
    }

    #[pg_test]
    fn the_table_and_the_scalar_functions_agree() {
        fit_cdnow();
        let worst = value(&format!(
            "SELECT max(greatest(abs(c.p_alive - clv_p_alive(m.model, c.frequency, c.recency, c.t)),
                                 abs(c.expected_purchases - clv_expected_purchases(m.model, 360, c.frequency, c.recency, c.t)),
                                 abs(c.expected_avg_value - clv_expected_value(m.model, c.frequency, c.monetary)),
                                 abs(c.clv - clv_value(m.model, c.frequency, c.recency, c.t, c.monetary))))
             FROM customer_lifetime_value('{CALIBRATION}', as_of => '1997-09-30') c, m"
        ));
        assert!(worst < 1e-9, "{worst}");
        // P(alive) of a one-time buyer is 1; expected purchases grow with the horizon.
        assert_eq!(value("SELECT clv_p_alive(model, 0, 0, 100) FROM m"), 1.0);
        let growing = Spi::get_one::<bool>(
            "SELECT clv_expected_purchases(model, 30, 2, 50, 100) < clv_expected_purchases(model, 60, 2, 50, 100) FROM m",
        );
        assert_eq!(growing.unwrap(), Some(true));
    }

    #[pg_test]
    fn the_cached_model_follows_the_argument() {
        fit_cdnow();
        // Rows alternate between two models; each row must use its own.
        Spi::run(
            "CREATE TABLE m2 AS SELECT jsonb_set(model, '{bgnbd,a}', '2.5') AS model FROM m;
             CREATE TABLE rows AS SELECT i, CASE WHEN i % 2 = 0 THEN (SELECT model FROM m) ELSE (SELECT model FROM m2) END AS model
                                  FROM generate_series(1, 20) i;",
        )
        .unwrap();
        let mismatches = count(
            "SELECT count(*) FROM rows r
             WHERE clv_p_alive(r.model, 3, 40, 200) IS DISTINCT FROM
                   CASE WHEN i % 2 = 0 THEN (SELECT clv_p_alive(model, 3, 40, 200) FROM m)
                        ELSE (SELECT clv_p_alive(model, 3, 40, 200) FROM m2) END",
        );
        assert_eq!(mismatches, 0);
        assert!(
            value("SELECT clv_p_alive(model, 3, 40, 200) FROM m")
                != value("SELECT clv_p_alive(model, 3, 40, 200) FROM m2")
        );
    }

    #[pg_test]
    fn few_repeat_customers_leave_gamma_gamma_out() {
        Spi::run(
            // 40 customers, 12 of whom buy again, only 3 of those for a positive amount
            "CREATE TABLE tx AS
                 SELECT k, '2024-01-01'::date + (k * 37 % 50) AS ts, 10 AS amount FROM generate_series(1, 40) k
                 UNION ALL SELECT k, '2024-03-01'::date + (k * 13 % 40), CASE WHEN k <= 3 THEN 5 ELSE 0 END
                           FROM generate_series(1, 12) k
                 UNION ALL SELECT k, '2024-04-20'::date + k, 0 FROM generate_series(1, 6) k
                 UNION ALL SELECT 41, NULL, 1;",
        )
        .unwrap();
        assert!(Spi::get_one::<bool>("SELECT clv_fit('tx') -> 'gamma_gamma' = 'null'::jsonb")
            .unwrap()
            .unwrap());
        assert_eq!(
            count("SELECT count(*) FROM customer_lifetime_value('tx') WHERE clv IS NULL AND p_alive > 0"),
            40
        );
    }

    #[pg_test]
    fn bad_input_is_22023() {
        Spi::run(
            "CREATE TABLE tx (k int, ts date, amount numeric);
             INSERT INTO tx VALUES (1, '2024-01-01', 10), (1, '2024-01-05', 12), (2, '2024-01-02', 5);
             CREATE TABLE once (k int, ts date, amount numeric);
             INSERT INTO once VALUES (1, '2024-01-01', 10), (2, '2024-01-05', 12);",
        )
        .unwrap();
        for query in [
            "SELECT clv_fit('tx', time_unit => '0 days')",
            "SELECT clv_fit('tx', time_unit => '-1 day')",
            "SELECT clv_fit('tx', penalizer => -1)",
            "SELECT clv_fit('SELECT * FROM tx WHERE k = 1')",
            "SELECT clv_fit('once')",
            "SELECT clv_fit('SELECT * FROM tx WHERE false')",
            "SELECT * FROM customer_lifetime_value('tx', horizon_months => 0)",
            "SELECT * FROM customer_lifetime_value('tx', discount_rate => -1)",
            "SELECT clv_p_alive('{\"format\": \"other\"}', 1, 1, 2)",
            "SELECT clv_p_alive(jsonb_set(clv_fit('tx'), '{version}', '2'), 1, 1, 2)",
            "SELECT clv_p_alive(clv_fit('tx'), 1, 3, 2)",
            "SELECT clv_expected_purchases(clv_fit('tx'), -1, 1, 1, 2)",
            "SELECT clv_value(clv_fit('tx'), 1, 1, 2, 10, horizon_months => 0)",
        ] {
            assert_eq!(sqlstate_of(query).as_deref(), Some("22023"), "{query}");
        }
        assert_eq!(
            sqlstate_of("SELECT clv_fit('SELECT k, ts, ''x''::text FROM tx')").as_deref(),
            Some("42804")
        );
        assert_eq!(Spi::get_one::<f64>("SELECT clv_p_alive(NULL, 1, 1, 2)").unwrap(), None);
    }
}
