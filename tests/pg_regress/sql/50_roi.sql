-- Segment ROI and channel ROI on the demo data: the examples of docs/roi.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET extra_float_digits = 0;

-- Segments are scored on what customers bought before 2024-07-01; their ROI is measured on
-- the second half of 2024. customers.is_control is the demo's holdout: one customer in ten
-- gets no email and buys at 85% of the rate it otherwise would.
CREATE TEMP TABLE rfm_members AS
SELECT r.customer_key, r.segment, c.is_control
FROM rfm_score('SELECT customer_id, ts, amount FROM orders WHERE ts < ''2024-07-01''',
               as_of => '2024-07-01') r
JOIN customers c ON c.customer_id::text = r.customer_key;

-- The email programme costs 0.40 per treated customer and half-year: one cost row per
-- member, summed per segment.
CREATE TEMP TABLE email_costs AS
SELECT segment, 0.40 AS cost FROM rfm_members WHERE NOT is_control;

SELECT segment, customers, converters, round(conversion_rate::numeric, 3) AS cr,
       round(revenue::numeric, 0) AS revenue, round(avg_order_value::numeric, 2) AS aov,
       round(cost::numeric, 2) AS cost, round(cac::numeric, 2) AS cac, round(roas::numeric, 1) AS roas,
       control_customers AS control, round(control_conversion_rate::numeric, 3) AS control_cr,
       round(lift::numeric, 3) AS lift,
       round(lift_ci_low::numeric, 3) AS lift_low, round(lift_ci_high::numeric, 3) AS lift_high,
       round(p_value::numeric, 3) AS p_value, round(incremental_revenue::numeric, 0) AS incremental_revenue
FROM segment_roi('rfm_members', 'SELECT customer_id, ts, amount FROM orders', 'email_costs',
                 period_start => '2024-07-01', period_end => '2025-01-01');

-- Everyone as one segment: the programme's overall lift over the holdout, at 90% confidence.
SELECT segment, customers, control_customers, round(conversion_rate::numeric, 3) AS cr,
       round(control_conversion_rate::numeric, 3) AS control_cr, round(lift::numeric, 3) AS lift,
       round(lift_ci_low::numeric, 3) AS lift_low, round(lift_ci_high::numeric, 3) AS lift_high,
       round(p_value::numeric, 3) AS p_value,
       round(revenue_per_customer::numeric, 2) AS revenue_per_customer,
       round(control_revenue_per_customer::numeric, 2) AS control_revenue_per_customer
FROM segment_roi('SELECT customer_id, ''everyone'', is_control FROM customers',
                 'SELECT customer_id, ts, amount FROM orders',
                 period_start => '2024-07-01', period_end => '2025-01-01', confidence => 0.90);

-- k-means segments of the same RFM features; integer segments come in numeric order.
CREATE TEMP TABLE kmeans_members AS
SELECT s.key AS customer_key, s.segment, c.is_control
FROM kmeans_segment($$SELECT customer_key, recency_days, frequency, ln(monetary)
                      FROM rfm_score('SELECT customer_id, ts, amount FROM orders WHERE ts < ''2024-07-01''',
                                     as_of => '2024-07-01')$$, 4) s
JOIN customers c ON c.customer_id::text = s.key;
SELECT segment, customers, round(conversion_rate::numeric, 3) AS cr,
       round(revenue_per_customer::numeric, 2) AS revenue_per_customer, control_customers AS control,
       round(lift::numeric, 3) AS lift, round(p_value::numeric, 3) AS p_value
FROM segment_roi('kmeans_members', 'SELECT customer_id, ts, amount FROM orders',
                 period_start => '2024-07-01', period_end => '2025-01-01');

-- Channel ROI under each attribution model, against the demo's paid-channel spend.
SELECT model, channel, round(conversions::numeric, 1) AS conversions, round(value::numeric, 0) AS value,
       round(spend::numeric, 0) AS spend, round(cpa::numeric, 2) AS cpa, round(roas::numeric, 2) AS roas
FROM channel_roi('SELECT customer_id, ts, channel FROM touchpoints', 'conversions', 'channel_spend',
                 models => '{last_touch,linear,markov}')
ORDER BY model, channel;

-- Mistakes get an error that says what to change.
SELECT * FROM segment_roi('rfm_members', 'orders', confidence => 1.5);
SELECT * FROM segment_roi('rfm_members', 'orders', period_start => '2024-07-01', period_end => '2024-01-01');
SELECT * FROM segment_roi('SELECT customer_key, segment, 1 FROM rfm_members', 'orders');
SELECT * FROM segment_roi('rfm_members', 'orders', 'SELECT segment, -1 FROM rfm_members');
SELECT * FROM channel_roi('touchpoints', 'conversions', 'channel_spend', models => '{linear,linear}');
