//! The guarantees of docs/reliability.md, one test each, across every family: query texts
//! are one read-only statement under the caller's rights; the GUCs are the DBA's; fits do
//! not depend on row order; arguments and values at the edges of their types give an ERROR
//! with a documented SQLSTATE. (Cancellation needs a statement of its own for
//! statement_timeout to start: tests/pg_regress/sql/90_reliability.sql.)

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::test_support::{count, error_of, load_cdnow, sqlstate_of};

    fn state(sql: &str) -> Option<String> {
        sqlstate_of(sql)
    }

    /// A table of (k, ts, amount) transactions and one writer function, for the tests of
    /// what a query text may do.
    fn transactions_and_writer() {
        Spi::run(
            "CREATE TABLE tx (k int, ts timestamptz, amount numeric);
             INSERT INTO tx SELECT i % 50, '2024-01-01'::timestamptz + i * interval '1 day', i FROM generate_series(1, 500) i;
             CREATE TABLE victim (n int);
             INSERT INTO victim VALUES (1), (2);
             CREATE FUNCTION writer() RETURNS int LANGUAGE plpgsql VOLATILE AS
                 $$ BEGIN INSERT INTO victim VALUES (3); RETURN 1; END $$;",
        )
        .unwrap();
    }

    #[pg_test]
    fn every_object_of_the_extension_has_a_comment() {
        let missing = Spi::get_one::<String>(
            "SELECT string_agg(o, ', ' ORDER BY o) FROM (
                 SELECT p.oid::regprocedure::text AS o FROM pg_catalog.pg_proc p
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                 JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_marketing'
                 -- the #[pg_test] functions of this build live in schema tests
                 WHERE pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL AND p.pronamespace::regnamespace::text <> 'tests'
                 UNION ALL
                 SELECT t.oid::regtype::text FROM pg_catalog.pg_type t
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
                 JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_marketing'
                 WHERE pg_catalog.obj_description(t.oid, 'pg_type') IS NULL) uncommented",
        )
        .unwrap();
        assert_eq!(missing, None, "objects without a COMMENT (sql/comments.sql)");
        // the check sees the extension's objects at all: its 36 functions and the tests' own
        assert!(count("SELECT count(*) FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                       WHERE e.extname = 'pg_marketing' AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'") >= 100);
    }

    #[pg_test]
    fn a_query_text_is_exactly_one_statement() {
        transactions_and_writer();
        let (code, message) =
            error_of("SELECT * FROM rfm_score('SELECT 1, now(), 1; SELECT 1, now(), 1')").unwrap();
        assert_eq!(code, "42601");
        assert!(message.contains("has 2 statements"), "{message}");
        assert_eq!(state("SELECT * FROM rfm_score('')").as_deref(), Some("42601"));
        assert_eq!(state("SELECT * FROM rfm_score(' ; ')").as_deref(), Some("42601"));
        // a bare name with a trailing ';' is the table, quoted or not
        Spi::run("CREATE TABLE \"Tx;2\" AS SELECT * FROM tx").unwrap();
        assert_eq!(count("SELECT count(*) FROM rfm_score('tx;')"), 50);
        assert_eq!(count("SELECT count(*) FROM rfm_score('\"Tx;2\" ;')"), 50);
        assert_eq!(count("SELECT count(*) FROM rfm_score('SELECT * FROM tx;')"), 50);
    }

    #[pg_test]
    fn a_query_text_cannot_write_however_nested() {
        transactions_and_writer();
        for query in [
            "WITH d AS (DELETE FROM victim RETURNING n) SELECT n, now(), 1 FROM d",
            "SELECT n, now(), 1 FROM victim FOR UPDATE",
            "SELECT writer(), now(), 1",
            "SELECT n, now(), 1 FROM victim WHERE writer() = 1",
        ] {
            for call in [
                format!("SELECT * FROM rfm_score($q${query}$q$)"),
                format!("SELECT clv_fit($q${query}$q$)"),
                format!("SELECT * FROM segment_roi($q$SELECT 1, 'a', false$q$, $q${query}$q$)"),
            ] {
                assert_eq!(state(&call).as_deref(), Some("25006"), "{call}");
            }
        }
        assert_eq!(count("SELECT count(*) FROM victim WHERE n IN (1, 2)"), 2);
        assert_eq!(count("SELECT count(*) FROM victim"), 2, "nothing was written");
        // the transaction is writable again after the call, and after a refused one
        Spi::run("INSERT INTO victim VALUES (4)").unwrap();
        assert_eq!(count("SELECT count(*) FROM victim"), 3);
    }

    #[pg_test]
    fn settings_a_query_text_changes_are_rolled_back() {
        transactions_and_writer();
        Spi::run("SET pgm_test.probe = 'before'").unwrap();
        assert_eq!(
            count(
                "SELECT count(*) FROM rfm_score(
                     $$SELECT k, ts, amount FROM tx, (SELECT set_config('pgm_test.probe', 'after', false)) s$$)"
            ),
            50
        );
        let probe = Spi::get_one::<String>("SELECT current_setting('pgm_test.probe')").unwrap();
        assert_eq!(probe.as_deref(), Some("before"));
    }

    #[pg_test]
    fn row_level_security_and_privileges_are_the_callers() {
        transactions_and_writer();
        Spi::run(
            "ALTER TABLE tx ENABLE ROW LEVEL SECURITY;
             CREATE POLICY only_small_keys ON tx FOR SELECT USING (k < 10);
             CREATE ROLE pgm_reader;
             GRANT SELECT ON tx TO pgm_reader;
             GRANT USAGE ON SCHEMA tests TO pgm_reader;
             SET LOCAL ROLE pgm_reader",
        )
        .unwrap();
        assert_eq!(count("SELECT count(*) FROM rfm_score('tx')"), 10, "the policy hides keys 10 to 49");
        let n_customers = Spi::get_one::<i64>("SELECT (clv_fit('tx') ->> 'n_customers')::bigint").unwrap();
        assert_eq!(n_customers, Some(10));
        assert_eq!(state("SELECT * FROM rfm_score('victim')").as_deref(), Some("42501"));
    }

    #[pg_test]
    fn only_a_superuser_can_raise_the_memory_budget_or_the_threads() {
        Spi::run("CREATE ROLE pgm_user; SET LOCAL ROLE pgm_user").unwrap();
        // loading the library defines the GUCs
        assert_eq!(state("SELECT kmeans_assign(NULL, NULL)"), None);
        assert_eq!(state("SET pg_marketing.memory_budget = '64GB'").as_deref(), Some("42501"));
        assert_eq!(state("SET pg_marketing.max_threads = 64").as_deref(), Some("42501"));
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(state("SET pg_marketing.memory_budget = '64GB'"), None);
    }

    #[pg_test]
    fn the_memory_budget_stops_a_call_that_outgrows_it() {
        Spi::run("SET pg_marketing.memory_budget = '8MB'").unwrap();
        // 300,000 journeys of one touch and one conversion each hold far more than 8 MB
        let (code, message) = error_of(
            "SELECT * FROM attribute_channels(
                 'SELECT i, ''2024-01-02''::timestamptz, ''ch'' || i % 7 FROM generate_series(1, 300000) i',
                 'SELECT i, ''2024-01-03''::timestamptz, 1 FROM generate_series(1, 300000) i')",
        )
        .unwrap();
        assert_eq!(code, "54000");
        assert!(message.contains("pg_marketing.memory_budget"), "{message}");
        Spi::run("RESET pg_marketing.memory_budget").unwrap();
        assert_eq!(
            count("SELECT count(*) FROM attribute_channels('SELECT 1, now(), ''a''', 'SELECT 1, now(), 1')"),
            1
        );
    }

    #[pg_test]
    fn the_memory_budget_stops_each_states_and_propensity_function() {
        // work_mem large enough that hash aggregation keeps every group's state in memory
        // instead of spilling (which bounds it too)
        Spi::run("SET pg_marketing.memory_budget = '8MB'; SET LOCAL work_mem = '1GB'").unwrap();
        // a million customers: their histories, cells, snapshots, touches or aggregate states
        // hold far more than 8 MB
        let customers = "SELECT i, ''2024-01-01''::timestamptz + i * interval ''1 minute'', 1 FROM generate_series(1, 1000000) i";
        let touches = "SELECT i, ''2024-01-01''::timestamptz + i * interval ''1 minute'', ''ch'' || i % 5 FROM generate_series(1, 1000000) i";
        // the 20,000 rows whose trees outgrow the budget below are read and fitted within it
        assert_eq!(error_of(&format!("{GBT_FIT_20K})")), None);
        for call in [
            format!("SELECT count(*) FROM customer_stage('{customers}')"),
            format!("SELECT count(*) FROM growth_accounting('{customers}')"),
            "SELECT count(*) FROM segment_migration('SELECT i, ''a'' FROM generate_series(1, 1000000) i', 'SELECT 1, ''a''')"
                .to_string(),
            format!("SELECT count(*) FROM channel_preference('{touches}')"),
            format!("SELECT count(*) FROM purchase_features('{customers}', '2030-01-01')"),
            "SELECT propensity_fit('SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 1000000) i')".to_string(),
            // scored rows, kept for the gains table and the AUC
            format!("SELECT count(*) FROM propensity_evaluate(({SMALL_MODEL}), '{LABELLED_MILLION}')"),
            format!("SELECT count(*) FROM propensity_metrics(({SMALL_MODEL}), '{LABELLED_MILLION}')"),
            // rows that fit the budget (below), trees that do not
            format!("{GBT_FIT_20K}, options => '{{\"n_trees\": 10000, \"max_leaves\": 65536, \"max_depth\": 64, \"min_samples_leaf\": 1}}')"),
            "SELECT count(d) FROM (SELECT decayed_activity(now(), 1, '1 day', now()) AS d FROM generate_series(1, 1000000) i GROUP BY i) s"
                .to_string(),
        ] {
            let (code, message) = error_of(&call).unwrap_or_else(|| panic!("no error from {call}"));
            assert_eq!(code, "54000", "{call}: {message}");
            assert!(message.contains("pg_marketing.memory_budget"), "{message}");
        }
        Spi::run("RESET pg_marketing.memory_budget").unwrap();
    }

    const SMALL_MODEL: &str =
        "SELECT propensity_fit('SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 100) i')";
    const LABELLED_MILLION: &str = "SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 1000000) i";
    const GBT_FIT_20K: &str =
        "SELECT propensity_fit('SELECT i, i % 3 = 0, sin(i), cos(i) FROM generate_series(1, 20000) i'";

    #[pg_test]
    fn the_memory_budget_stops_each_journeys_function() {
        Spi::run("SET pg_marketing.memory_budget = '8MB'; SET LOCAL work_mem = '1GB'").unwrap();
        // a million events of a million keys hold far more than 8 MB as events or states
        let events = "SELECT i, ''2024-01-01''::timestamptz + i * interval ''1 minute'', ''e'' || i % 5 FROM generate_series(1, 1000000) i";
        for call in [
            format!("SELECT count(*) FROM funnel('{events}', ARRAY['e1', 'e2'])"),
            format!("SELECT count(*) FROM sessions('{events}')"),
            format!("SELECT count(*) FROM path_summary('{events}')"),
            format!("SELECT count(*) FROM path_transitions('{events}')"),
            format!("SELECT count(*) FROM retention('{events}')"),
            format!("SELECT count(*) FROM lifecycle('{events}')"),
            "SELECT count(w) FROM (SELECT window_funnel('1 day', now(), ARRAY[true]) AS w FROM generate_series(1, 1000000) i GROUP BY i) s"
                .to_string(),
            // one group whose state outgrows the budget
            "SELECT window_funnel('1 day', now(), ARRAY[true, true, true]) FROM generate_series(1, 2000000) i".to_string(),
        ] {
            let (code, message) = error_of(&call).unwrap_or_else(|| panic!("no error from {call}"));
            assert_eq!(code, "54000", "{call}: {message}");
            assert!(message.contains("pg_marketing.memory_budget"), "{message}");
        }
        Spi::run("RESET pg_marketing.memory_budget").unwrap();
    }

    #[pg_test]
    fn fits_do_not_depend_on_row_order() {
        load_cdnow();
        Spi::run(
            "CREATE TABLE pts AS SELECT i AS id, sin(i) AS x, cos(i * 7) AS y, (i % 13)::float8 AS z
             FROM generate_series(1, 3000) i",
        )
        .unwrap();
        for (one, other) in [
            ("SELECT kmeans_fit('SELECT * FROM pts ORDER BY id', 4)",
             "SELECT kmeans_fit('SELECT * FROM pts ORDER BY md5(id::text)', 4)"),
            ("SELECT kmeans_fit('SELECT * FROM pts ORDER BY id', 3, algorithm => 'gmm')",
             "SELECT kmeans_fit('SELECT * FROM pts ORDER BY md5(id::text)', 3, algorithm => 'gmm')"),
            ("SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders ORDER BY customer_id, order_date')",
             "SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders ORDER BY md5(amount::text || customer_id)')"),
        ] {
            let a = Spi::get_one::<String>(&format!("SELECT ({one})::text")).unwrap();
            let b = Spi::get_one::<String>(&format!("SELECT ({other})::text")).unwrap();
            assert!(a.is_some());
            assert_eq!(a, b, "{one}");
        }
        // every data-driven function and the rule models, RFM and ROI: rows by one order and by
        // another (a hash), the whole result compared as text
        Spi::run(
            "SELECT setseed(0.7);
             CREATE TABLE tp AS SELECT (random() * 200)::int AS k, '2024-01-01'::timestamptz + random() * interval '60 days' AS ts,
                                       (ARRAY['email','search','social','display','direct'])[1 + (random() * 4)::int] AS ch
                                FROM generate_series(1, 2000);
             CREATE TABLE cv AS SELECT (random() * 200)::int AS k, '2024-01-20'::timestamptz + random() * interval '40 days' AS ts,
                                       round((random() * 100)::numeric, 2) AS v
                                FROM generate_series(1, 300);
             CREATE TABLE members AS SELECT k, (ARRAY['a','b'])[1 + k % 2] AS segment, k % 5 = 0 AS is_control
                                     FROM generate_series(0, 200) k;",
        )
        .unwrap();
        let rows = |call: &str| {
            Spi::get_one::<String>(&format!("SELECT string_agg(r::text, ';' ORDER BY r::text) FROM {call} r"))
                .unwrap()
        };
        for call in [
            "attribute_channels('SELECT * FROM tp ORDER BY {o}', 'SELECT * FROM cv ORDER BY {o}', model => 'linear')",
            "attribute_channels('SELECT * FROM tp ORDER BY {o}', 'SELECT * FROM cv ORDER BY {o}', model => 'markov', markov_order => 2)",
            "attribute_channels('SELECT * FROM tp ORDER BY {o}', 'SELECT * FROM cv ORDER BY {o}', model => 'shapley')",
            "attribute_touchpoints('SELECT * FROM tp ORDER BY {o}', 'SELECT * FROM cv ORDER BY {o}', model => 'time_decay')",
            "rfm_score('SELECT k, ts, v FROM cv ORDER BY {o}')",
            "segment_roi('SELECT * FROM members ORDER BY {o}', 'SELECT k, ts, v FROM cv ORDER BY {o}')",
            "channel_roi('SELECT * FROM tp ORDER BY {o}', 'SELECT * FROM cv ORDER BY {o}',
                         'SELECT ch, ts::date, 0.1 * k FROM tp ORDER BY {o}')",
            "customer_lifetime_value('SELECT customer_id, order_date, amount FROM cdnow_orders ORDER BY {o}')",
            "customer_stage('SELECT k, ts, v FROM cv ORDER BY {o}', as_of => '2024-02-20')",
            "growth_accounting('SELECT k, ts, v FROM cv ORDER BY {o}', 'week')",
            "segment_migration('SELECT k, segment FROM members ORDER BY {o}',
                               'SELECT k, CASE WHEN k % 3 = 0 THEN ''c'' ELSE segment END FROM members WHERE k % 7 <> 0 ORDER BY {o}')",
            "channel_preference('SELECT * FROM tp ORDER BY {o}', conversions => 'SELECT * FROM cv ORDER BY {o}')",
            "(SELECT k, decayed_activity(ts, v::float8, '7 days', '2024-03-01') FROM (SELECT * FROM cv ORDER BY {o}) s GROUP BY k)",
            "funnel('SELECT * FROM tp ORDER BY {o}', ARRAY['display', 'search', 'email'], '5 days')",
            "sessions('SELECT * FROM tp ORDER BY {o}', '1 day')",
            "path_summary('SELECT * FROM tp ORDER BY {o}', 3)",
            "path_transitions('SELECT * FROM tp ORDER BY {o}', 3, session_gap => '2 days')",
            "retention('SELECT * FROM tp ORDER BY {o}', 'email', 'search', 'week', 4)",
            "lifecycle('SELECT * FROM tp ORDER BY {o}', 'week')",
            "purchase_features('SELECT k, ts, v FROM cv ORDER BY {o}', '2024-02-15', '10 days')",
            "propensity_fit('SELECT k, k % 2 = 0, extract(epoch FROM ts) / 86400, v FROM cv ORDER BY {o}')",
            "propensity_fit('SELECT k, k % 2 = 0, extract(epoch FROM ts) / 86400, v FROM cv ORDER BY {o}', 'logistic')",
            "propensity_evaluate((SELECT propensity_fit('SELECT k, k % 2 = 0, v FROM cv')),
                                 'SELECT k, k % 3 = 0, v FROM cv ORDER BY {o}', 7)",
            "propensity_metrics((SELECT propensity_fit('SELECT k, k % 2 = 0, v FROM cv')),
                                'SELECT k, k % 3 = 0, v FROM cv ORDER BY {o}')",
            "(SELECT k, window_funnel('3 days', ts, ARRAY[ch = 'email', ch = 'search'], 'strict_order')
              FROM (SELECT * FROM tp ORDER BY {o}) s GROUP BY k)",
        ] {
            let by_key = rows(&call.replace("{o}", "1, 2"));
            let by_hash = rows(&call.replace("{o}", "md5(t::text)").replace("FROM tp", "FROM tp t")
                .replace("FROM cv", "FROM cv t").replace("FROM members", "FROM members t")
                .replace("FROM cdnow_orders", "FROM cdnow_orders t"));
            assert!(by_key.as_ref().is_some_and(|r| !r.is_empty()), "{call}");
            assert_eq!(by_key, by_hash, "{call}");
        }
        // the segments a fit returns follow the keys, not the rows' order
        let segments = |order: &str| {
            Spi::get_one::<String>(&format!(
                "SELECT string_agg(key || ':' || segment, ',' ORDER BY key::int)
                 FROM kmeans_segment('SELECT * FROM pts ORDER BY {order}', 4)"
            ))
            .unwrap()
        };
        assert_eq!(segments("id"), segments("md5(id::text)"));
    }

    #[pg_test]
    fn intervals_and_timestamps_at_the_ends_of_their_range() {
        load_cdnow();
        Spi::run("CREATE TABLE t1 AS SELECT 1 AS k, now() AS ts, 'a' AS ch").unwrap();
        for call in [
            "SELECT * FROM attribute_channels('t1', 'SELECT 1, now(), 1', lookback => '107000000 days')",
            "SELECT * FROM attribute_channels('t1', 'SELECT 1, now(), 1', lookback => '178000000 years')",
            "SELECT * FROM attribute_channels('t1', 'SELECT 1, now(), 1', model => 'time_decay', half_life => '178000000 years')",
            "SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders', time_unit => '178000000 years')",
        ] {
            assert_eq!(state(call).as_deref(), Some("22008"), "{call}");
        }
        // a lookback that does fit in 64 bits is a lookback, however long
        assert_eq!(
            count("SELECT count(*) FROM attribute_channels('t1', 'SELECT 1, now(), 1', lookback => '100000 years')"),
            1
        );
        // recency across the whole timestamptz range: 294276-12-30 - 4713-01-01 BC, in days
        let recency = Spi::get_one::<f64>(
            "SELECT recency_days FROM rfm_score(
                 $$SELECT 1, ts, 1 FROM (VALUES ('4713-01-01 BC'::timestamptz), ('294276-12-30')) v(ts)$$,
                 as_of => '294276-12-30') WHERE customer_key = '1'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(recency, 0.0);
        let span = Spi::get_one::<f64>(
            "SELECT recency_days FROM rfm_score($$SELECT 1, '4713-01-01 BC'::timestamptz, 1$$, as_of => '294276-12-30')",
        )
        .unwrap()
        .unwrap();
        let expected = Spi::get_one::<f64>(
            "SELECT ((extract(epoch FROM '294276-12-30'::timestamptz)
                      - extract(epoch FROM '4713-01-01 BC'::timestamptz)) / 86400)::float8",
        )
        .unwrap()
        .unwrap();
        assert!((span - expected).abs() < 1e-6 * expected, "{span} vs {expected}");
        // a CLV fit at the end of the range gives a model the scalar functions take
        let p_alive = Spi::get_one::<f64>(
            "SELECT clv_p_alive(clv_fit(
                 $$SELECT customer_id, order_date + (date '294276-06-30' - date '1998-06-30'), amount FROM cdnow_orders$$,
                 as_of => '294276-12-31'), 1, 10, 20)",
        )
        .unwrap()
        .unwrap();
        assert!(p_alive > 0.0 && p_alive <= 1.0, "{p_alive}");
    }

    #[pg_test]
    fn numbers_at_the_float8_limits_are_errors_or_finite() {
        load_cdnow();
        Spi::run("CREATE TABLE m AS SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders') AS model")
            .unwrap();
        for (call, want) in [
            ("SELECT kmeans_fit('SELECT i, i * 1e300::float8 FROM generate_series(1, 10) i', 3, algorithm => 'gmm')", "22003"),
            ("SELECT kmeans_fit('SELECT i, i * 1e300::float8 FROM generate_series(1, 10) i', 3)", "22003"),
            ("SELECT clv_expected_purchases(model, 1e308, 1, 1, 10) FROM m", "22003"),
            ("SELECT clv_p_alive(model, 'Infinity', 1, 10) FROM m", "22023"),
            ("SELECT clv_expected_value(model, 1e308, 1e308) FROM m", "22003"),
            ("SELECT * FROM attribute_paths($$SELECT 'a > b', 1e308::float8, 1, 1 UNION ALL SELECT 'b', 1e308::float8, 1, 1$$, model => 'markov')", "22003"),
            ("SELECT * FROM kmeans_profile(jsonb_set(kmeans_fit('SELECT i, i FROM generate_series(1, 10) i', 2), '{sizes}', '[1e19, 1]'))", "22023"),
            ("SELECT * FROM segment_roi('SELECT 1, ''a'', false', 'SELECT 1, now(), 1', confidence => 0.9999999999999999)", "22023"),
            ("SELECT * FROM customer_lifetime_value('SELECT customer_id, order_date, amount FROM cdnow_orders', horizon_months => 100000)", "22023"),
            ("SELECT * FROM markov_transition_matrix($$SELECT '(conversion) > b', 1, 1, 1$$)", "22023"),
            ("SELECT * FROM markov_transition_matrix($$SELECT ARRAY['a > b', 'c'], 1, 1, 1$$)", "22023"),
        ] {
            assert_eq!(state(call).as_deref(), Some(want), "{call}");
        }
        // large penalizers: the value part stays positive (q > 1)
        for penalizer in ["0.1", "1", "10"] {
            let negative = count(&format!(
                "SELECT count(*) FROM customer_lifetime_value(
                     'SELECT customer_id, order_date, amount FROM cdnow_orders', penalizer => {penalizer})
                 WHERE expected_avg_value <= 0 OR clv < 0"
            ));
            assert_eq!(negative, 0, "penalizer {penalizer}");
        }
    }
}
