-- RFM on the demo data and the CDNOW sample: the examples of docs/rfm.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

-- Scores and segments per customer (as_of defaults to midnight after the last order).
SELECT customer_key, round(recency_days::numeric, 2) AS recency_days, frequency,
       round(monetary::numeric, 2) AS monetary, r, f, m, rfm, segment
FROM rfm_score('SELECT customer_id, ts, amount FROM orders')
ORDER BY customer_key::int
LIMIT 5;

-- Segment sizes with the standard map.
SELECT segment, count(*) AS customers, round(avg(monetary)::numeric, 2) AS avg_order,
       round(avg(frequency), 1) AS avg_orders, round(avg(recency_days)::numeric, 1) AS avg_recency
FROM rfm_score('SELECT customer_id, ts, amount FROM orders')
GROUP BY segment
ORDER BY customers DESC, segment;

-- The same customers on the recency x frequency grid.
SELECT segment, count(*) AS customers
FROM rfm_score('SELECT customer_id, ts, amount FROM orders', segment_map => 'rf_grid')
GROUP BY segment
ORDER BY customers DESC, segment;

-- The cut points behind the scores. On CDNOW half the customers bought once: tied at one
-- order, they all score 1, and score 2 stays empty.
SELECT dimension, score, round(min_value::numeric, 2) AS min_value, round(max_value::numeric, 2) AS max_value,
       customers
FROM rfm_thresholds('SELECT customer_id, order_date, amount FROM cdnow_orders')
ORDER BY dimension, score;

-- Business rules instead of quantiles: fixed edges and a map of your own.
CREATE TEMP TABLE value_tiers (segment text, r_min int, r_max int, f_min int, f_max int, m_min int, m_max int);
INSERT INTO value_tiers VALUES
    ('Active big spenders', 2, 3, NULL, NULL, 3, 3),
    ('Active',              2, 3, NULL, NULL, NULL, NULL),
    ('Lapsed',              1, 1, NULL, NULL, NULL, NULL);
SELECT segment, count(*) AS customers
FROM rfm_score('SELECT customer_id, order_date, amount FROM cdnow_orders', as_of => '1998-07-01',
               bins => 3, r_edges => '{90, 180}', f_edges => '{2, 5}', m_edges => '{20, 50}',
               segment_map => 'value_tiers')
GROUP BY segment
ORDER BY segment;

-- The aggregate: one summary per GROUP BY group, runs under parallel query.
SELECT customer_id, (s).recency_days, (s).frequency, round((s).monetary_total::numeric, 2) AS monetary_total,
       round((s).monetary_mean::numeric, 2) AS monetary_mean, (s).first_ts, (s).last_ts
FROM (SELECT customer_id, rfm_summary(order_date, amount, '1997-10-01') AS s
      FROM cdnow_orders GROUP BY customer_id) per_customer
ORDER BY customer_id
LIMIT 3;

-- Mistakes are errors that say what to change.
SELECT * FROM rfm_score('orders', bins => 4);
SELECT * FROM rfm_score('orders', r_edges => '{30, 60}');
SELECT * FROM rfm_score('orders', segment_map => 'champions_only');
