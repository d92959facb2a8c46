-- Customer states over time on the demo data and the CDNOW sample: the examples of docs/states.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET extra_float_digits = 0;

-- Lifecycle stages at the end of 2024 (as_of defaults to midnight after the last order).
SELECT stage, count(*) AS customers, round(avg(days_since_last)::numeric, 1) AS avg_days_since_last,
       round(avg(purchases), 1) AS avg_purchases
FROM customer_stage('SELECT customer_id, ts, amount FROM orders')
GROUP BY stage
ORDER BY customers DESC, stage;

-- A few customers, with the gap before their last purchase.
SELECT customer_key, stage, last_ts::date AS last_order, round(days_since_last::numeric, 1) AS days_since_last,
       round(previous_gap_days::numeric, 1) AS previous_gap_days, purchases
FROM customer_stage('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01')
WHERE customer_key IN ('1', '2', '3', '5', '8', '13')
ORDER BY customer_key::int;

-- Picking thresholds: the quantiles of the time between a customer's purchases, in plain SQL.
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY gap)::numeric, 1) AS median_days,
       round(percentile_cont(0.8) WITHIN GROUP (ORDER BY gap)::numeric, 1) AS p80_days,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY gap)::numeric, 1) AS p95_days
FROM (SELECT extract(epoch FROM ts - lag(ts) OVER (PARTITION BY customer_id ORDER BY ts)) / 86400 AS gap
      FROM orders) gaps
WHERE gap IS NOT NULL;

-- The same stages with thresholds from those quantiles.
SELECT stage, count(*) AS customers
FROM customer_stage('orders', new_within => '60 days', active_within => '120 days', churned_after => '240 days')
GROUP BY stage
ORDER BY stage;

-- Growth accounting per quarter: who is new, retained, resurrected or churned, and where revenue moved.
SELECT period_start::date AS quarter, active, new, retained, resurrected, churned,
       round(revenue::numeric) AS revenue, round(new_revenue::numeric) AS new_rev,
       round(retained_revenue::numeric) AS retained_rev, round(expansion::numeric) AS expansion,
       round(contraction::numeric) AS contraction, round(resurrected_revenue::numeric) AS resurrected_rev,
       round(churned_revenue::numeric) AS churned_rev, round(quick_ratio::numeric, 2) AS quick_ratio
FROM growth_accounting('SELECT customer_id, ts, amount FROM orders', period => 'quarter')
ORDER BY period_start;

-- The identities hold in every period (a check any report can run).
SELECT count(*) AS periods,
       count(*) FILTER (WHERE active = new + retained + resurrected) AS customers_add_up,
       count(*) FILTER (WHERE abs(revenue - (new_revenue + retained_revenue + expansion + resurrected_revenue)) < 1e-6)
           AS revenue_adds_up
FROM growth_accounting('SELECT customer_id, order_date, amount FROM cdnow_orders', period => 'month');

-- The CDNOW cohort month by month in 1997's second half: nobody is new after March 1997.
SELECT period_start::date AS month, active, new, retained, resurrected, churned, round(quick_ratio::numeric, 2) AS quick_ratio
FROM growth_accounting('SELECT customer_id, order_date, amount FROM cdnow_orders', 'month',
                       from_ts => '1997-07-01', to_ts => '1997-12-31')
ORDER BY period_start;

-- Segment migration: RFM segments at mid-2024 and at the end of 2024.
CREATE TEMP TABLE rfm_mid_2024 AS
SELECT customer_key, segment FROM rfm_score('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01');
CREATE TEMP TABLE rfm_end_2024 AS
SELECT customer_key, segment FROM rfm_score('SELECT customer_id, ts, amount FROM orders', as_of => '2025-01-01');
SELECT from_segment, to_segment, customers, round(share_of_from::numeric, 3) AS share_of_from
FROM segment_migration('rfm_mid_2024', 'rfm_end_2024')
WHERE from_segment = 'Champions' OR from_segment IS NULL
ORDER BY customers DESC, to_segment;

-- The largest moves between segments in those six months.
SELECT from_segment, to_segment, customers, round(share_of_from::numeric, 3) AS share_of_from
FROM segment_migration('rfm_mid_2024', 'rfm_end_2024')
WHERE from_segment IS DISTINCT FROM to_segment
ORDER BY customers DESC, from_segment, to_segment
LIMIT 8;

-- Decayed engagement: orders weighted by 2^(-age / 30 days) at the end of 2024, per customer.
SELECT customer_id, round((d).decayed_count::numeric, 3) AS decayed_orders,
       round((d).decayed_amount::numeric, 2) AS decayed_amount, (d).last_ts::date AS last_order
FROM (SELECT customer_id, decayed_activity(ts, amount::float8, '30 days', '2025-01-01') AS d
      FROM orders GROUP BY customer_id) per_customer
ORDER BY (d).decayed_amount DESC, customer_id
LIMIT 5;

-- Channel preference: each customer's channel by decayed touches, and the channel that last
-- touched them before they converted.
SELECT preferred_channel, count(*) AS customers, round(avg(share)::numeric, 3) AS avg_share,
       count(*) FILTER (WHERE converting_channel = preferred_channel) AS converted_through_it
FROM channel_preference('SELECT customer_id, ts, channel FROM touchpoints', half_life => '7 days',
                        conversions => 'SELECT customer_id, ts, value FROM conversions')
GROUP BY preferred_channel
ORDER BY customers DESC, preferred_channel;

-- Preferred channel as a segment, measured with segment_roi against the holdout
-- (orders in the second half of 2024).
CREATE TEMP TABLE channel_members AS
SELECT p.customer_key, p.preferred_channel AS segment, c.is_control
FROM channel_preference('SELECT customer_id, ts, channel FROM touchpoints', as_of => '2024-07-01') p
JOIN customers c ON c.customer_id::text = p.customer_key;
SELECT segment, customers, converters, round(conversion_rate::numeric, 3) AS cr,
       control_customers AS control, round(lift::numeric, 3) AS lift, round(revenue::numeric) AS revenue
FROM segment_roi('channel_members', 'SELECT customer_id, ts, amount FROM orders',
                 period_start => '2024-07-01', period_end => '2025-01-01')
ORDER BY segment;

-- Seed segments analysts ask for by name, as recipes, at mid-2024 (the demo's first orders
-- end in June 2024). High value: the top tenth of customers by spend so far; new buyers and
-- lapsed customers from the stages. Cart abandoners come from the events, with
-- window_funnel (70_journeys).
SELECT 'high value' AS segment, count(*) AS customers
FROM (SELECT customer_key, ntile(10) OVER (ORDER BY monetary * frequency DESC, customer_key) AS tenth
      FROM rfm_score('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01')) r
WHERE tenth = 1
UNION ALL
SELECT 'new buyers (first order in the last 30 days)', count(*)
FROM customer_stage('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01') WHERE stage = 'new'
UNION ALL
SELECT 'lapsed (last order 90 to 365 days ago)', count(*)
FROM customer_stage('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01') WHERE stage = 'lapsed';
