-- pg_marketing demo and benchmark data set: a deterministic simulation.
--
--   psql -v customers=10000 -v seed=42 -f bench/generate.sql
--
-- The model, its parameters and the true channel effects are documented in
-- docs/demo-data.md; change them there too. Every random number is a hash of
-- (seed, stream, row key), so the data does not depend on row order or plan shape:
-- the same customers and seed give the same rows on any machine.
-- Creates (replacing) in the current schema: channels, customers, touchpoints,
-- conversions, orders, channel_spend, events.

\if :{?customers}
\else
\set customers 10000
\endif
\if :{?seed}
\else
\set seed 42
\endif

SET client_min_messages = warning;

-- Uniform [0, 1) from (seed, stream, key): 53 bits of a seeded 64-bit hash.
CREATE OR REPLACE FUNCTION pg_temp.unif(seed bigint, stream int, key bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8extended(key, seed * 1000 + stream) & 9007199254740991)::float8 / 9007199254740992.0 $$;

-- Standard normal by Box-Muller from two streams.
CREATE OR REPLACE FUNCTION pg_temp.normal(seed bigint, stream int, key bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT sqrt(-2 * ln(1 - pg_temp.unif(seed, stream, key)))
          * cos(2 * pi() * pg_temp.unif(seed, stream + 500, key)) $$;

DROP TABLE IF EXISTS channels, customers, touchpoints, conversions, orders, channel_spend, events;

-- The channels: how often they appear (share), where in a journey (stage: 0 early,
-- 1 late), their true effect on conversion and their cost per touch.
CREATE TABLE channels (
    channel text PRIMARY KEY,
    share float8 NOT NULL,
    stage float8 NOT NULL,
    true_effect float8 NOT NULL,
    cost_per_touch numeric NOT NULL
);
INSERT INTO channels VALUES
    ('display',        0.22, 0.15, 0.020, 0.04),
    ('social',         0.18, 0.30, 0.030, 0.08),
    ('paid_search',    0.15, 0.70, 0.120, 0.90),
    ('organic_search', 0.12, 0.60, 0.080, 0.00),
    ('email',          0.10, 0.80, 0.100, 0.01),
    ('affiliate',      0.05, 0.55, 0.060, 0.60),
    ('referral',       0.05, 0.50, 0.050, 0.00),
    ('direct',         0.13, 0.95, 0.000, 0.00);

-- Customers; one in ten is in the holdout (control) group, which gets no email and
-- buys at 85% of the rate it otherwise would.
CREATE TABLE customers AS
SELECT id AS customer_id,
       pg_temp.unif(:seed, 1, id) < 0.10 AS is_control,
       -- journey start within the first 80 days of 2024, journey length 1 to 21 days
       timestamptz '2024-01-01 00:00+00' + pg_temp.unif(:seed, 2, id) * interval '80 days' AS journey_start,
       (1 + pg_temp.unif(:seed, 3, id) * 20) * interval '1 day' AS journey_length,
       -- touches: 1 + geometric with mean 9, at most 40
       least(40, 1 + floor(-ln(1 - pg_temp.unif(:seed, 4, id)) * 9))::int AS touches
FROM generate_series(1, :customers) AS id;
ALTER TABLE customers ADD PRIMARY KEY (customer_id);

-- Touchpoints: the channel drawn by share, the time placed by the channel's stage
-- (plus noise) along the customer's journey.
CREATE TABLE touchpoints AS
WITH cumulative AS (
    SELECT channel, stage,
           sum(share) OVER (ORDER BY channel) - share AS low,
           -- the last channel's bound is past 1, so rounding in the sum loses no draw
           CASE WHEN channel = max(channel) OVER () THEN 2 ELSE sum(share) OVER (ORDER BY channel) END AS high
    FROM channels
), draws AS (
    SELECT c.customer_id, c.is_control, c.journey_start, c.journey_length, n,
           c.customer_id * 64 + n AS touch_key
    FROM customers c, generate_series(1, c.touches) AS n
)
SELECT d.customer_id,
       date_trunc('second', d.journey_start + d.journey_length
           * least(1, greatest(0, k.stage + (pg_temp.unif(:seed, 6, d.touch_key) - 0.5) * 0.6))) AS ts,
       k.channel,
       k.channel || '_' || (1 + floor(pg_temp.unif(:seed, 7, d.touch_key) * 3))::int AS campaign
FROM draws d
JOIN cumulative k ON pg_temp.unif(:seed, 5, d.touch_key) >= k.low
                 AND pg_temp.unif(:seed, 5, d.touch_key) < k.high
WHERE NOT (d.is_control AND k.channel = 'email');

-- Statistics before the joins below, so that the planner sees the real sizes at any scale.
ANALYZE channels, customers, touchpoints;

-- Conversions: a noisy-OR of the distinct channels seen,
--   P(convert) = 1 - (1 - 0.02) * prod over distinct channels c of (1 - true_effect(c)),
-- converting 0 to 2 days after the journey's last touch, value lognormal (median 33).
CREATE TABLE conversions AS
WITH seen AS (
    SELECT t.customer_id, max(t.ts) AS last_touch,
           1 - 0.98 * exp(sum(ln(1 - k.true_effect))) AS p_convert
    FROM (SELECT DISTINCT customer_id, channel FROM touchpoints) d
    JOIN channels k USING (channel)
    JOIN (SELECT customer_id, max(ts) AS ts FROM touchpoints GROUP BY customer_id) t USING (customer_id)
    GROUP BY t.customer_id
)
SELECT customer_id,
       date_trunc('second', last_touch + pg_temp.unif(:seed, 9, customer_id) * interval '2 days') AS ts,
       round(exp(3.5 + 0.5 * pg_temp.normal(:seed, 10, customer_id))::numeric, 2) AS value
FROM seen
WHERE pg_temp.unif(:seed, 8, customer_id) < p_convert;

-- Orders: each customer's purchase history from 2023 to the end of 2024 (used by RFM,
-- CLV and segment ROI). A first order on a uniform day, then repeat orders as a Poisson
-- process of rate 0.005 + 0.05 u^2 per day (0.85 times that in the holdout) until an
-- exponential lifetime of mean 200 days ends. Amounts: a customer level lognormal
-- (median 25) times an order lognormal (sigma 0.3).
CREATE TABLE orders AS
WITH buyer AS (
    SELECT customer_id,
           timestamptz '2023-01-01 00:00+00' + pg_temp.unif(:seed, 11, customer_id) * interval '540 days' AS first_ts,
           (0.005 + 0.05 * pg_temp.unif(:seed, 12, customer_id) ^ 2) * CASE WHEN is_control THEN 0.85 ELSE 1 END AS rate,
           -ln(1 - pg_temp.unif(:seed, 13, customer_id)) * 200 AS lifetime_days,
           exp(3.2 + 0.4 * pg_temp.normal(:seed, 14, customer_id)) AS level
    FROM customers
), arrivals AS (
    SELECT b.customer_id, b.first_ts, b.lifetime_days, b.level, n,
           -- days from the first order to order n: a sum of n exponential gaps
           sum(CASE WHEN n = 0 THEN 0 ELSE -ln(1 - pg_temp.unif(:seed, 15, b.customer_id * 64 + n)) / b.rate END)
               OVER (PARTITION BY b.customer_id ORDER BY n) AS day
    FROM buyer b, generate_series(0, 40) AS n
)
SELECT customer_id,
       date_trunc('second', first_ts + day * interval '1 day') AS ts,
       round((level * exp(0.3 * pg_temp.normal(:seed, 16, customer_id * 64 + n)))::numeric, 2) AS amount
FROM arrivals
WHERE n = 0
   OR (day <= lifetime_days AND first_ts + day * interval '1 day' < timestamptz '2025-01-01 00:00+00');

-- Daily spend per paid channel: its touches that day times its cost per touch.
CREATE TABLE channel_spend AS
SELECT t.channel, (t.ts AT TIME ZONE 'UTC')::date AS day, sum(k.cost_per_touch) AS cost
FROM touchpoints t JOIN channels k USING (channel)
WHERE k.cost_per_touch > 0
GROUP BY 1, 2;

-- Events: each customer's web sessions during the journey. 1 to 4 sessions (uniform),
-- starting at equal fractions of the journey; in each, 1 to 5 page views a minute apart
-- (plus 0 to 19 s), then the funnel: product_view with probability 0.6, add_to_cart 0.35
-- after it, checkout 0.6 after that, purchase 0.7 after that, each step 30 to 299 s after
-- the one before. Computed in epoch seconds, so the events do not depend on TimeZone.
CREATE TABLE events AS
-- Each draw has a stream of its own per session and step, keyed by the customer: the hash
-- of keys that differ in their low bits is correlated (keys 8k and 8k + 1 at -0.2).
WITH visitor AS (
    SELECT customer_id,
           extract(epoch FROM timestamptz '2024-01-01 00:00+00') + pg_temp.unif(:seed, 2, customer_id) * 80 * 86400 AS journey_start,
           (1 + pg_temp.unif(:seed, 3, customer_id) * 20) * 86400 AS journey_seconds,
           1 + floor(pg_temp.unif(:seed, 20, customer_id) * 4)::int AS sessions
    FROM customers
), session AS (
    SELECT v.customer_id, s,
           floor(v.journey_start + v.journey_seconds * s / v.sessions) AS start,
           1 + floor(pg_temp.unif(:seed, 30 + s, v.customer_id) * 5)::int AS views
    FROM visitor v, generate_series(0, v.sessions - 1) AS s
), page_view AS (
    SELECT customer_id, s, n, views,
           start + 60 * n + floor(20 * pg_temp.unif(:seed, 40 + 8 * s + n, customer_id)) AS ts
    FROM session, generate_series(0, views - 1) AS n
), step AS (
    SELECT v.customer_id, k.event,
           v.ts + sum(30 + floor(270 * pg_temp.unif(:seed, 80 + 8 * v.s + k.step, v.customer_id)))
                      OVER (PARTITION BY v.customer_id, v.s ORDER BY k.step) AS ts,
           bool_and(pg_temp.unif(:seed, 120 + 8 * v.s + k.step, v.customer_id) < k.p)
                      OVER (PARTITION BY v.customer_id, v.s ORDER BY k.step) AS reached
    FROM page_view v
    CROSS JOIN (VALUES (1, 'product_view', 0.6), (2, 'add_to_cart', 0.35),
                       (3, 'checkout', 0.6), (4, 'purchase', 0.7)) AS k(step, event, p)
    WHERE v.n = v.views - 1
)
SELECT customer_id, to_timestamp(ts) AS ts, 'page_view' AS event FROM page_view
UNION ALL
SELECT customer_id, to_timestamp(ts), event FROM step WHERE reached;

ANALYZE channels, customers, touchpoints, conversions, orders, channel_spend, events;
RESET client_min_messages;
