-- Journeys over the demo's events (docs/journeys.md): funnels with time to convert,
-- window_funnel per customer, cart abandoners as a segment, sessions, paths, retention and
-- lifecycle. The generator's truth (docs/demo-data.md) is computed beside the results.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET extra_float_digits = 0;

-- The generator's uniform draws, to compute its truth here (bench/generate.sql).
CREATE FUNCTION pg_temp.unif(seed bigint, stream int, key bigint) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashint8extended(key, seed * 1000 + stream) & 9007199254740991)::float8 / 9007199254740992.0 $$;

SELECT event, count(*) AS events FROM events GROUP BY event ORDER BY events DESC;

-- The funnel with times between steps (seconds).
SELECT step, event, users, round(conversion_from_previous::numeric, 3) AS from_previous,
       round(conversion_from_first::numeric, 3) AS from_first,
       median_seconds_from_previous AS median_s, p90_seconds_from_previous AS p90_s
FROM funnel('events', ARRAY['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'],
            "window" => '7 days');  -- window is a keyword: quote it as a named argument

-- The generator's truth: a customer with S sessions reaches a step with probability
-- 1 - (1 - p)^S, p the step's probability per session (0.6, 0.21, 0.126, 0.0882).
SELECT k AS step, round(sum(1 - (1 - p) ^ (1 + floor(pg_temp.unif(42, 20, customer_id) * 4)))) AS expected_users
FROM customers,
     (VALUES (1, 1.0), (2, 0.6), (3, 0.21), (4, 0.126), (5, 0.0882)) AS s(k, p)
GROUP BY k ORDER BY k;

-- window_funnel per customer, as in ClickHouse: how far each customer gets in a day.
SELECT level, count(*) AS customers
FROM (SELECT customer_id,
             window_funnel('1 day', ts, ARRAY[event = 'page_view', event = 'product_view',
                                              event = 'add_to_cart', event = 'checkout', event = 'purchase']) AS level
      FROM events GROUP BY customer_id) f
GROUP BY level ORDER BY level;

-- The same under each mode. strict_order changes nothing here: every event is a step and
-- each session's steps come in order; strict_deduplication stops at a repeated step.
SELECT mode, count(*) FILTER (WHERE level = 3) AS reached_cart_only, count(*) FILTER (WHERE level = 5) AS purchased
FROM unnest(ARRAY['default', 'strict_increase', 'strict_order', 'strict_deduplication']) AS mode,
     LATERAL (SELECT window_funnel('1 day', ts, ARRAY[event = 'page_view', event = 'product_view',
                                                      event = 'add_to_cart', event = 'checkout', event = 'purchase'],
                                   mode) AS level
              FROM events GROUP BY customer_id) f
GROUP BY mode ORDER BY mode;

-- Cart abandoners (reached add_to_cart, went no further within 7 days) as a segment, measured
-- with segment_roi on the orders of the second half of 2024 against the holdout.
CREATE TEMP TABLE funnel_members AS
SELECT f.customer_id AS customer_key,
       CASE f.level WHEN 5 THEN 'purchased' WHEN 3 THEN 'cart abandoner' WHEN 4 THEN 'checkout abandoner'
                    ELSE 'browsed' END AS segment,
       c.is_control
FROM (SELECT customer_id,
             window_funnel('7 days', ts, ARRAY[event = 'page_view', event = 'product_view',
                                               event = 'add_to_cart', event = 'checkout', event = 'purchase']) AS level
      FROM events GROUP BY customer_id) f
JOIN customers c USING (customer_id);
SELECT segment, customers, control_customers AS control, converters, round(conversion_rate::numeric, 3) AS cr,
       round(lift::numeric, 3) AS lift, round(revenue::numeric) AS revenue
FROM segment_roi('funnel_members', 'SELECT customer_id, ts, amount FROM orders',
                 period_start => '2024-07-01', period_end => '2025-01-01')
ORDER BY segment;

-- Sessions: the generator makes 1 to 4 per customer, its events at most 299 s apart and its
-- sessions at least 8 hours apart, so a 30-minute gap finds every one.
SELECT (SELECT count(*) FROM sessions('SELECT customer_id, ts, event FROM events')) AS sessions,
       (SELECT sum(1 + floor(pg_temp.unif(42, 20, customer_id) * 4)) FROM customers) AS generated_sessions;
SELECT * FROM sessions('SELECT customer_id, ts, event FROM events WHERE customer_id = 7');

-- Paths: per session, repeats collapsed, the five most common.
SELECT path, users, round(share::numeric, 3) AS share
FROM path_summary('events', max_steps => 5, session_gap => '30 minutes', top => 5);
-- Where sessions go from their first product view (Sankey edges of the first two steps).
SELECT * FROM path_transitions('events', max_steps => 3, start_event => 'product_view', session_gap => '30 minutes')
WHERE step <= 2 ORDER BY step, users DESC, from_event, to_event;

-- Weekly retention: cohorts by first page view, returns by a page view in a later week.
SELECT cohort_start::date, cohort_size, period, retained, round(rate::numeric, 3) AS rate
FROM retention('events', cohort_event => 'page_view', return_event => 'page_view', period => 'week', periods => 3)
WHERE cohort_start < '2024-01-22'
ORDER BY cohort_start, period;

-- Lifecycle per week over February 2024.
SELECT period_start::date, status, users
FROM lifecycle('SELECT customer_id, ts FROM events', period => 'week',
               from_ts => '2024-02-01', to_ts => '2024-02-29')
ORDER BY period_start, array_position(ARRAY['new', 'returning', 'resurrecting', 'dormant'], status);
