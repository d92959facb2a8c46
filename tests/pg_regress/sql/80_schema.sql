-- The extension in a schema of its own, not on search_path: every family still works
-- (its internal references are resolved at CREATE EXTENSION or schema-qualified). In a
-- database of its own, so that the other sessions keep theirs.
CREATE DATABASE pg_marketing_schema;
\c pg_marketing_schema
CREATE SCHEMA marketing;
CREATE EXTENSION pg_marketing SCHEMA marketing;
\set ECHO none
\set customers 300
\set seed 42
\i bench/generate.sql
\set ECHO all
SET search_path = public;
SELECT extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'pg_marketing';
SELECT count(*) > 0 AS attribution FROM marketing.attribute_channels('touchpoints(customer_id, ts, channel)', 'conversions', model => 'markov');
SELECT count(*) > 0 AS touchpoints FROM marketing.attribute_touchpoints('touchpoints(customer_id, ts, channel)', 'conversions');
SELECT count(*) > 0 AS paths FROM marketing.attribute_paths('SELECT ''a > b'', 1, 1, 0', model => 'shapley');
SELECT count(*) AS rfm FROM marketing.rfm_score('orders', segment_map => 'standard');
SELECT count(*) > 0 AS thresholds FROM marketing.rfm_thresholds('orders');
SELECT count(s) AS rfm_summary FROM (SELECT marketing.rfm_summary(ts, amount::float8, '2025-01-01') s FROM orders GROUP BY customer_id) x;
SELECT count(*) AS clv FROM marketing.customer_lifetime_value('orders');
WITH m AS (SELECT marketing.clv_fit('orders') AS m)
SELECT marketing.clv_p_alive(m, 2, 30, 60) BETWEEN 0 AND 1 AS p_alive FROM m;
WITH m AS (SELECT marketing.kmeans_fit('SELECT customer_id, amount::float8 FROM orders', 3) AS m)
SELECT marketing.kmeans_assign(m, ARRAY[10.0]) IS NOT NULL AS assign, (SELECT count(*) FROM marketing.kmeans_profile(m)) AS profile FROM m;
SELECT count(*) AS choose_k FROM marketing.kmeans_choose_k('SELECT customer_id, amount::float8 FROM orders', k_min => 2, k_max => 4);
SELECT count(*) AS segment_roi FROM marketing.segment_roi('SELECT customer_id, (customer_id % 3)::text, is_control FROM customers', 'orders');
SELECT count(*) > 0 AS channel_roi FROM marketing.channel_roi('touchpoints(customer_id, ts, channel)', 'conversions', 'channel_spend');
SELECT count(*) AS stages FROM marketing.customer_stage('orders');
SELECT count(*) > 0 AS growth FROM marketing.growth_accounting('orders');
SELECT count(*) AS migration FROM marketing.segment_migration('SELECT customer_id, (customer_id % 3)::text FROM customers',
                                                              'SELECT customer_id, (customer_id % 4)::text FROM customers');
SELECT count(*) AS preference FROM marketing.channel_preference('touchpoints(customer_id, ts, channel)');
SELECT count(d) AS decayed FROM (SELECT marketing.decayed_activity(ts, amount::float8, '30 days', '2025-01-01') d FROM orders GROUP BY customer_id) x;
SELECT count(*) AS funnel FROM marketing.funnel('events', ARRAY['page_view', 'purchase']);
SELECT count(l) AS window_funnel FROM (SELECT marketing.window_funnel('1 day', ts, ARRAY[event = 'page_view'], 'strict_order') l FROM events GROUP BY customer_id) x;
SELECT count(*) > 0 AS sessions FROM marketing.sessions('events');
SELECT count(*) > 0 AS path_summary FROM marketing.path_summary('events');
SELECT count(*) > 0 AS path_transitions FROM marketing.path_transitions('events');
SELECT count(*) > 0 AS retention FROM marketing.retention('events');
SELECT count(*) > 0 AS lifecycle FROM marketing.lifecycle('events');
\c pg_marketing_regress
DROP DATABASE pg_marketing_schema;
