-- Run in a database where pg_marketing 0.1.0 is installed, before ALTER EXTENSION UPDATE:
-- objects that depend on the extension as a user's would (views over its functions, a
-- table of stored k-means and CLV models, a column of its rfm_customer_summary type), and
-- a snapshot of what they answer under 0.1.0 (answers_before).
\set ECHO none
\set customers 300
\set seed 7
\i bench/generate.sql
\i tests/data/load_cdnow.sql

CREATE VIEW channel_credit AS
SELECT channel, conversions, value, touches
FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints',
                        'SELECT customer_id, ts, value FROM conversions', model => 'position_based');

CREATE VIEW customer_segments AS
SELECT customer_key, r, f, m, rfm, segment
FROM rfm_score('SELECT customer_id, ts, amount FROM orders', as_of => '2025-01-01');

CREATE TABLE stored_models AS
SELECT 'kmeans' AS kind,
       kmeans_fit('SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY customer_id', 3) AS model
UNION ALL
SELECT 'clv', clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders', as_of => '1998-07-01');

CREATE TABLE rfm_summaries AS
SELECT customer_id, rfm_summary(ts, amount, '2025-01-01') AS summary FROM orders GROUP BY customer_id;

CREATE VIEW model_scores AS
SELECT 'kmeans' AS kind, o.customer_id,
       kmeans_assign(m.model, ARRAY[o.n, o.spend]::float8[])::float8 AS score
FROM (SELECT customer_id, count(*) AS n, sum(amount) AS spend FROM orders GROUP BY customer_id) o,
     stored_models m WHERE m.kind = 'kmeans'
UNION ALL
SELECT 'clv_p_alive', s.customer_id,
       clv_p_alive(m.model, (s.summary).frequency - 1, (s.summary).recency_days, (s.summary).recency_days + 30)
FROM rfm_summaries s, stored_models m WHERE m.kind = 'clv';

-- Everything above, numbers rounded to 9 significant digits so the comparison is of answers,
-- not of the last bits of a sum.
CREATE VIEW answers AS
SELECT 'channel_credit' AS source, channel AS key,
       ARRAY[conversions, value, touches]::float8[]::numeric(30, 9)[] AS numbers, NULL::text AS label
FROM channel_credit
UNION ALL
SELECT 'customer_segments', customer_key,
       ARRAY[r, f, m]::numeric(30, 9)[], rfm || ' ' || segment
FROM customer_segments
UNION ALL
SELECT 'rfm_summaries', customer_id::text,
       ARRAY[(summary).recency_days, (summary).frequency, (summary).monetary_total]::numeric(30, 9)[], NULL
FROM rfm_summaries
UNION ALL
SELECT kind, customer_id::text, ARRAY[score]::numeric(30, 9)[], NULL FROM model_scores;

CREATE TABLE answers_before AS SELECT * FROM answers;
SELECT source, count(*) AS rows FROM answers_before GROUP BY source ORDER BY source;
