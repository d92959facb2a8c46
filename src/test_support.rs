//! Helpers for `#[pg_test]`s (compiled only for tests) and the input layer's own pg tests.

use pgrx::prelude::*;

/// The error `sql` raises as (SQLSTATE, message), or None if it runs without error. Runs the
/// statement in a PL/pgSQL exception block, i.e. a subtransaction rolled back on error.
pub fn error_of(sql: &str) -> Option<(String, String)> {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.error_of(statement text) RETURNS text[]
         LANGUAGE plpgsql AS $$
         BEGIN
             EXECUTE statement;
             RETURN NULL;
         EXCEPTION WHEN OTHERS THEN
             RETURN ARRAY[SQLSTATE, SQLERRM];
         END $$",
    )
    .expect("creating pg_temp.error_of");
    let error = Spi::get_one_with_args::<Vec<String>>("SELECT pg_temp.error_of($1)", &[sql.into()])
        .expect("running pg_temp.error_of")?;
    let [state, message]: [String; 2] = error.try_into().expect("two elements");
    Some((state, message))
}

/// The SQLSTATE that `sql` raises, or None if it runs without error.
pub fn sqlstate_of(sql: &str) -> Option<String> {
    error_of(sql).map(|(state, _)| state)
}

/// The one value of a count query (or any bigint query).
pub fn count(sql: &str) -> i64 {
    Spi::get_one::<i64>(sql).expect("the count runs").expect("a count")
}

/// The plan of `sql` as EXPLAIN (COSTS OFF) prints it, one line per node.
pub fn plan_of(sql: &str) -> String {
    Spi::connect(|client| {
        client
            .select(&format!("EXPLAIN (COSTS OFF) {sql}"), None, &[])
            .expect("EXPLAIN runs")
            .map(|row| row.get::<String>(1).expect("a plan line").expect("not NULL"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The CDNOW sample's transactions, as load_cdnow creates them.
pub const CDNOW: &str = "SELECT customer_id, order_date, amount FROM cdnow_orders";

/// Creates table cdnow_orders from tests/data/CDNOW_sample.txt, as tests/data/load_cdnow.sql
/// does for psql sessions (the file is compiled in, so no server-side file access is needed).
pub fn load_cdnow() {
    Spi::run_with_args(
        r"CREATE TABLE cdnow_orders AS
          SELECT f[2]::int AS customer_id, f[1]::int AS master_customer_id,
                 to_date(f[3], 'YYYYMMDD') AS order_date, f[4]::int AS cds, f[5]::numeric(10, 2) AS amount
          FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f
                FROM regexp_split_to_table($1, '\n') AS line WHERE btrim(line) <> '') AS split",
        &[include_str!("../tests/data/CDNOW_sample.txt").into()],
    )
    .expect("loading the CDNOW sample");
}

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use super::{error_of, sqlstate_of};
    use crate::input::{self, column, Column, Kind, More, Shape};

    const TOUCHES: &[Column] = &[
        column("journey_key", Kind::Key),
        column("ts", Kind::Timestamp),
        column("channel", Kind::Text),
        column("value", Kind::Number),
    ];

    /// Reads `source` as (key, ts, channel, value) and renders each row as text, so that the
    /// tests below see exactly what the input layer produced.
    #[pg_extern]
    fn read_touches(source: &str) -> SetOfIterator<'static, String> {
        let shape = Shape { argument: "touches", columns: TOUCHES, more: More::Nothing };
        let mut rendered = Vec::new();
        input::for_each_row(&shape, source, |row| {
            let show = |v: Option<String>| v.unwrap_or_else(|| "NULL".into());
            rendered.push(format!(
                "{}|{}|{}|{}",
                show(row.text(0).map(|s| s.to_string())),
                show(row.timestamp(1).map(|t| t.to_string())),
                show(row.text(2).map(|s| s.to_string())),
                show(row.number(3).map(|n| n.to_string())),
            ));
        });
        SetOfIterator::new(rendered)
    }

    fn read(source: &str) -> Vec<String> {
        Spi::connect(|client| {
            client
                .select("SELECT tests.read_touches($1)", None, &[source.into()])
                .expect("read_touches")
                .map(|row| row.get::<String>(1).expect("text").expect("not null"))
                .collect()
        })
    }

    #[pg_test]
    fn coerces_each_accepted_type() {
        // 2000-01-02 00:00 UTC is 86_400_000_000 microseconds after Postgres' epoch.
        Spi::run("SET LOCAL TimeZone = 'UTC'").unwrap();
        assert_eq!(
            read("SELECT 7::int, '2000-01-02'::date, 'email'::varchar, 2::smallint"),
            ["7|86400000000|email|2"]
        );
        assert_eq!(
            read("SELECT 'c1'::text, '2000-01-02 00:00'::timestamp, 'ab '::char(3), 1.25::numeric"),
            ["c1|86400000000|ab|1.25"]
        );
        assert_eq!(
            read("SELECT true, '2000-01-02 01:00+01'::timestamptz, 'x'::name, 0.5::real"),
            ["t|86400000000|x|0.5"],
            "a key is read in its output form, as psql shows it"
        );
        assert_eq!(
            read("SELECT '1.5'::numeric, now(), NULL::text, 3::bigint LIMIT 1")[0].split('|').nth(2),
            Some("NULL")
        );
        // A timestamp without time zone is read in the session time zone.
        Spi::run("SET LOCAL TimeZone = 'Europe/Paris'").unwrap();
        assert_eq!(read("SELECT 1, '2000-01-02 01:00'::timestamp, 'a', 1")[0], "1|86400000000|a|1");
    }

    #[pg_test]
    fn reads_tables_views_and_domains_in_batches() {
        Spi::run(
            "CREATE SCHEMA \"Mkt\";
             CREATE DOMAIN money_amount AS numeric(12,2);
             CREATE TABLE \"Mkt\".\"Touch Points\" (k bigint, ts timestamptz, ch text, v money_amount);
             INSERT INTO \"Mkt\".\"Touch Points\"
                 SELECT i, '2020-01-01'::timestamptz + i * interval '1 minute', 'ch' || i % 3, i
                 FROM generate_series(1, 25000) i;
             CREATE VIEW touch_view AS SELECT * FROM \"Mkt\".\"Touch Points\" WHERE k <= 10",
        )
        .unwrap();
        let rows = read("\"Mkt\".\"Touch Points\"");
        assert_eq!(rows.len(), 25000, "more rows than one batch of 10,000");
        let keys: std::collections::BTreeSet<i64> =
            rows.iter().map(|r| r.split('|').next().unwrap().parse().unwrap()).collect();
        assert_eq!(keys, (1..=25000).collect());
        assert_eq!(read("touch_view").len(), 10);
        assert_eq!(read("SELECT * FROM touch_view WHERE k = 3;")[0].split('|').next_back(), Some("3"));
        assert!(read("SELECT * FROM touch_view WHERE false").is_empty());
    }

    #[pg_test]
    fn wrong_column_count_or_type_is_42804() {
        Spi::run("CREATE TABLE t3 (k int, ts timestamptz, ch text)").unwrap();
        let call = |source: &str| sqlstate_of(&format!("SELECT tests.read_touches($q${source}$q$)"));
        assert_eq!(call("t3").as_deref(), Some("42804"), "three columns for four");
        assert_eq!(call("SELECT 1, now(), 'a', 1, 2").as_deref(), Some("42804"), "five columns");
        assert_eq!(call("SELECT 1, '2020-01-01'::text, 'a', 1").as_deref(), Some("42804"), "text as ts");
        assert_eq!(call("SELECT 1, now(), 5, 1").as_deref(), Some("42804"), "int as channel");
        assert_eq!(call("SELECT 1, now(), 'a', '1'::text").as_deref(), Some("42804"), "text as number");
        assert_eq!(call("SELECT 1, now(), 'a', 1 WHERE false").as_deref(), None, "empty but well-typed");
        assert_eq!(call("SELECT 1, now(), 'a', 1 WHERE false LIMIT 0").as_deref(), None, "no rows at all");
    }

    #[pg_test]
    fn tables_with_more_columns_are_read_by_column_name() {
        Spi::run(
            "CREATE TABLE tp2 (note text, customer_id int, extra int, ts timestamptz, channel text);
             INSERT INTO tp2 SELECT 'n', i % 7, i, '2024-01-01'::timestamptz + i * interval '1 hour',
                                    (ARRAY['email', 'search', 'direct'])[1 + i % 3] FROM generate_series(1, 200) i;
             CREATE TABLE cv2 (value numeric, customer_id int, ts timestamptz, note text);
             INSERT INTO cv2 SELECT i, i, '2024-01-05'::timestamptz, 'n' FROM generate_series(0, 6) i;
             CREATE TABLE victim (n int); INSERT INTO victim VALUES (1);",
        )
        .unwrap();
        let by_name = "SELECT string_agg(a::text, ';' ORDER BY a::text) FROM attribute_channels(
                           'tp2(customer_id, ts, channel)', ' public.\"cv2\" ( Customer_ID, ts, value ) ') a";
        let by_query = "SELECT string_agg(a::text, ';' ORDER BY a::text) FROM attribute_channels(
                            'SELECT customer_id, ts, channel FROM tp2', 'SELECT customer_id, ts, value FROM cv2') a";
        let named = Spi::get_one::<String>(by_name).unwrap();
        assert!(named.as_ref().is_some_and(|rows| rows.contains("email")));
        assert_eq!(named, Spi::get_one::<String>(by_query).unwrap());
        let call = |touches: &str| {
            error_of(&format!(
                "SELECT * FROM attribute_channels($q${touches}$q$, 'cv2(customer_id, ts, value)')"
            ))
        };
        // the bare name reads every column: 42804, whose hint shows this form
        assert_eq!(call("tp2").map(|e| e.0).as_deref(), Some("42804"));
        assert_eq!(call("nope(customer_id, ts, channel)").map(|e| e.0).as_deref(), Some("42P01"));
        assert_eq!(call("tp2(customer_id, ts, chanel)").map(|e| e.0).as_deref(), Some("42703"));
        for malformed in
            ["tp2()", "tp2(customer_id, , channel)", "tp2(customer_id ts channel)", "tp2(1, 2, 3)"]
        {
            let (code, message) = call(malformed).unwrap();
            assert_eq!(code, "22023", "{malformed}: {message}");
            assert!(message.contains("table_name(column, ...)"), "{message}");
        }
        // injection attempts in the table's place and in a column's stay identifiers
        for attempt in [
            r#""victim""; DROP TABLE victim; --"(customer_id, ts, channel)"#,
            r#"tp2(customer_id, ts, "channel"" FROM tp2; DROP TABLE victim; --")"#,
            "tp2(customer_id, ts, channel); DROP TABLE victim",
            "tp2(customer_id, ts, channel) UNION SELECT 1, now(), (DELETE FROM victim)::text",
        ] {
            let code = call(attempt).map(|e| e.0);
            assert!(matches!(code.as_deref(), Some("42P01" | "42703" | "42601")), "{attempt}: {code:?}");
        }
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM victim").unwrap(), Some(1), "victim untouched");
    }

    #[pg_test]
    fn the_message_names_position_column_found_and_wanted() {
        let (state, message) =
            error_of("SELECT tests.read_touches('SELECT 1 AS k, ''x''::text AS created, ''a'', 1')").unwrap();
        assert_eq!(state, "42804");
        assert_eq!(
            message,
            "touches: column 2 (\"created\", read as ts) has type text, but timestamptz, timestamp or date is expected"
        );
        let (_, message) = error_of("SELECT tests.read_touches('SELECT 1, now()')").unwrap();
        assert_eq!(
            message,
            "touches: the query returns 2 columns, but 4 are expected: \
             (journey_key any, ts timestamptz, channel text, value numeric)"
        );
    }

    #[pg_test]
    fn non_finite_values_are_22023() {
        let call = |source: &str| sqlstate_of(&format!("SELECT tests.read_touches($q${source}$q$)"));
        assert_eq!(call("SELECT 1, now(), 'a', 'NaN'::float8").as_deref(), Some("22023"));
        assert_eq!(call("SELECT 1, now(), 'a', 'Infinity'::numeric").as_deref(), Some("22023"));
        assert_eq!(call("SELECT 1, 'infinity'::timestamptz, 'a', 1").as_deref(), Some("22023"));
        assert_eq!(call("SELECT 1, now(), 'a', NULL::float8").as_deref(), None, "NULL is not an error");
    }

    #[pg_test]
    fn errors_of_the_callers_query_keep_their_sqlstate() {
        let call = |source: &str| sqlstate_of(&format!("SELECT tests.read_touches($q${source}$q$)"));
        assert_eq!(call("no_such_table").as_deref(), Some("42P01"));
        assert_eq!(call("SELEC 1").as_deref(), Some("42601"));
        assert_eq!(call("SELECT 1, now(), 'a', 1/0").as_deref(), Some("22012"));
    }

    #[pg_test]
    fn the_query_runs_with_the_callers_privileges() {
        Spi::run(
            "CREATE TABLE secret (k int, ts timestamptz, ch text, v int);
             CREATE ROLE pgm_analyst;
             GRANT USAGE ON SCHEMA tests TO pgm_analyst;
             SET LOCAL ROLE pgm_analyst",
        )
        .unwrap();
        assert_eq!(sqlstate_of("SELECT tests.read_touches('secret')").as_deref(), Some("42501"));
    }

    #[pg_test]
    fn the_query_cannot_modify_data() {
        Spi::run("CREATE TABLE victim (k int, ts timestamptz, ch text, v int)").unwrap();
        let state = sqlstate_of(
            "SELECT tests.read_touches('WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d')",
        );
        assert!(state.is_some(), "a data-modifying query must be refused");
    }
}
