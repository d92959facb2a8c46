-- The headline queries of `make demo`, run against database marketing_demo.
\pset footer off
\echo
\echo '== The demo data (bench/generate.sql; docs/demo-data.md)'
SELECT (SELECT count(*) FROM customers) AS customers,
       (SELECT count(*) FROM touchpoints) AS touchpoints,
       (SELECT count(*) FROM conversions) AS conversions,
       (SELECT count(*) FROM orders) AS orders,
       (SELECT count(*) FROM cdnow_orders) AS cdnow_orders;

\echo '== Which channels drive conversions? Credit per channel under five rule models,'
\echo '   next to the true effect the data was simulated with (docs/attribution.md)'
SELECT channel,
       round(max(conversions) FILTER (WHERE model = 'first_touch')::numeric, 1) AS first_touch,
       round(max(conversions) FILTER (WHERE model = 'last_non_direct')::numeric, 1) AS last_non_direct,
       round(max(conversions) FILTER (WHERE model = 'linear')::numeric, 1) AS linear,
       round(max(conversions) FILTER (WHERE model = 'time_decay')::numeric, 1) AS time_decay,
       round(max(conversions) FILTER (WHERE model = 'position_based')::numeric, 1) AS u_shaped,
       (SELECT true_effect FROM channels k WHERE k.channel = a.channel) AS true_effect
FROM unnest(ARRAY['first_touch', 'last_non_direct', 'linear', 'time_decay', 'position_based']) AS model,
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => model) AS a
GROUP BY channel
ORDER BY channel;

\echo '== Data-driven: Markov removal effects (order 2, exact) and Shapley, next to last touch'
SELECT channel,
       round(max(conversions) FILTER (WHERE model = 'last_touch')::numeric, 1) AS last_touch,
       round(max(conversions) FILTER (WHERE model = 'markov')::numeric, 1) AS markov,
       round(max(removal_effect)::numeric, 3) AS removal_effect,
       round(max(conversions) FILTER (WHERE model = 'shapley')::numeric, 1) AS shapley,
       (SELECT true_effect FROM channels k WHERE k.channel = a.channel) AS true_effect
FROM unnest(ARRAY['last_touch', 'markov', 'shapley']) AS model,
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => model, markov_order => 2) AS a
GROUP BY channel
ORDER BY channel;

\echo '== Revenue credited per channel, linear model, 14-day lookback'
SELECT channel, round(value::numeric, 2) AS revenue, round(conversions::numeric, 1) AS conversions, touches
FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                        model => 'linear', lookback => '14 days')
ORDER BY value DESC;

\echo '== One conversion, credit per touch (time decay, 7-day half-life)'
SELECT conversion_id, channel, touch_ts, touch_position, path_length,
       round(credit::numeric, 3) AS credit, round(value_credit::numeric, 2) AS value_credit
FROM attribute_touchpoints('SELECT customer_id, ts, channel FROM touchpoints WHERE customer_id = 22',
                           'SELECT customer_id, ts, value FROM conversions WHERE customer_id = 22',
                           model => 'time_decay');

\echo '== Aggregated paths (as exported by web analytics tools), U-shaped'
SELECT channel, conversions, value
FROM attribute_paths($$SELECT * FROM (VALUES ('display > paid_search > email', 30, 1200.0, 970),
                                             ('paid_search', 50, 2500.0, 450),
                                             ('display > direct', 5, 150.0, 1995)) AS p$$,
                     model => 'position_based');

\echo '== RFM segments of the demo customers (docs/rfm.md)'
SELECT segment, count(*) AS customers, round(avg(monetary)::numeric, 2) AS avg_order,
       round(avg(frequency), 1) AS avg_orders, round(avg(recency_days)::numeric, 1) AS avg_recency
FROM rfm_score('SELECT customer_id, ts, amount FROM orders')
GROUP BY segment
ORDER BY customers DESC, segment;

\echo '== Where the RFM scores cut (every score listed, empty ones too)'
SELECT dimension, score, round(min_value::numeric, 2) AS min_value, round(max_value::numeric, 2) AS max_value,
       customers
FROM rfm_thresholds('SELECT customer_id, ts, amount FROM orders')
ORDER BY dimension, score;

\echo '== Customer lifetime value (BG/NBD + Gamma-Gamma) by RFM segment (docs/clv.md)'
SELECT r.segment, count(*) AS customers, round(avg(c.p_alive)::numeric, 3) AS p_alive,
       round(avg(c.expected_purchases)::numeric, 2) AS purchases_12m, round(avg(c.clv)::numeric, 2) AS avg_clv
FROM rfm_score('SELECT customer_id, ts, amount FROM orders') r
JOIN customer_lifetime_value('SELECT customer_id, ts, amount FROM orders') c USING (customer_key)
GROUP BY r.segment
ORDER BY avg_clv DESC;

\echo '== k-means segments of the RFM features, profiled in their own units (docs/segmentation.md)'
CREATE TEMP TABLE rfm_features AS
SELECT customer_key, recency_days, frequency, ln(monetary) AS log_monetary
FROM rfm_score('SELECT customer_id, ts, amount FROM orders');
SELECT segment, size, round(share::numeric, 3) AS share, round(centroid[1]::numeric, 1) AS recency_days,
       round(centroid[2]::numeric, 2) AS orders, round(exp(centroid[3])::numeric, 2) AS typical_order_value
FROM kmeans_profile(kmeans_fit('rfm_features', 4))
ORDER BY segment;

\echo '== Did the email programme pay? RFM segments of H1 2024, measured on H2 2024 against'
\echo '   the holdout (customers.is_control), at 0.40 per treated customer (docs/roi.md)'
CREATE TEMP TABLE rfm_members AS
SELECT r.customer_key, r.segment, c.is_control
FROM rfm_score('SELECT customer_id, ts, amount FROM orders WHERE ts < ''2024-07-01''', as_of => '2024-07-01') r
JOIN customers c ON c.customer_id::text = r.customer_key;
SELECT segment, customers, round(conversion_rate::numeric, 3) AS cr, round(revenue::numeric, 0) AS revenue,
       round(roas::numeric, 1) AS roas, control_customers AS control,
       round(control_conversion_rate::numeric, 3) AS control_cr, round(lift::numeric, 3) AS lift,
       round(lift_ci_low::numeric, 3) AS lift_low, round(lift_ci_high::numeric, 3) AS lift_high,
       round(p_value::numeric, 3) AS p_value
FROM segment_roi('rfm_members', 'SELECT customer_id, ts, amount FROM orders',
                 'SELECT segment, 0.40 FROM rfm_members WHERE NOT is_control',
                 period_start => '2024-07-01', period_end => '2025-01-01');

\echo '== Channel ROI: attributed conversions and value against spend, per model (docs/roi.md)'
SELECT channel,
       round(max(roas) FILTER (WHERE model = 'last_touch')::numeric, 2) AS roas_last_touch,
       round(max(roas) FILTER (WHERE model = 'linear')::numeric, 2) AS roas_linear,
       round(max(roas) FILTER (WHERE model = 'markov')::numeric, 2) AS roas_markov,
       round(max(cpa) FILTER (WHERE model = 'markov')::numeric, 2) AS cpa_markov,
       round(max(spend)::numeric, 0) AS spend
FROM channel_roi('SELECT customer_id, ts, channel FROM touchpoints', 'conversions', 'channel_spend',
                 models => '{last_touch,linear,markov}')
WHERE channel IN (SELECT channel FROM channel_spend)
GROUP BY channel
ORDER BY channel;

\echo '== Customer states (docs/states.md): lifecycle stages at mid-2024, and growth accounting'
\echo '   per quarter (new, retained, resurrected, churned customers and where revenue moved)'
SELECT stage, count(*) AS customers, round(avg(days_since_last)::numeric, 1) AS avg_days_since_last
FROM customer_stage('SELECT customer_id, ts, amount FROM orders', as_of => '2024-07-01')
GROUP BY stage
ORDER BY customers DESC, stage;
SELECT period_start::date AS quarter, active, new, retained, resurrected, churned,
       round(revenue::numeric) AS revenue, round(expansion::numeric) AS expansion,
       round(contraction::numeric) AS contraction, round(churned_revenue::numeric) AS churned_revenue,
       round(quick_ratio::numeric, 2) AS quick_ratio
FROM growth_accounting('SELECT customer_id, ts, amount FROM orders', period => 'quarter')
ORDER BY period_start;

\echo '== Segment migration: the largest moves between RFM segments, mid-2024 to the end of 2024'
SELECT from_segment, to_segment, customers, round(share_of_from::numeric, 3) AS share_of_from
FROM segment_migration(
    'SELECT customer_key, segment FROM rfm_score(''SELECT customer_id, ts, amount FROM orders'', as_of => ''2024-07-01'')',
    'SELECT customer_key, segment FROM rfm_score(''SELECT customer_id, ts, amount FROM orders'', as_of => ''2025-01-01'')')
WHERE from_segment IS DISTINCT FROM to_segment
ORDER BY customers DESC, from_segment, to_segment
LIMIT 8;

\echo '== Preferred channel per customer (touches decayed with a 7-day half-life)'
SELECT preferred_channel, count(*) AS customers, round(avg(share)::numeric, 3) AS avg_share,
       count(*) FILTER (WHERE converting_channel = preferred_channel) AS converted_through_it
FROM channel_preference('SELECT customer_id, ts, channel FROM touchpoints', half_life => '7 days',
                        conversions => 'SELECT customer_id, ts, value FROM conversions')
GROUP BY preferred_channel
ORDER BY customers DESC, preferred_channel;

\echo '== Journeys (docs/journeys.md): the funnel from page view to purchase within 7 days,'
\echo '   with the time between steps, and how far each customer gets (window_funnel, as ClickHouse)'
SELECT step, event, users, round(conversion_from_previous::numeric, 3) AS from_previous,
       round(conversion_from_first::numeric, 3) AS from_first,
       median_seconds_from_previous AS median_s, p90_seconds_from_previous AS p90_s
FROM funnel('events', ARRAY['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'], '7 days');
SELECT level, count(*) AS customers
FROM (SELECT customer_id,
             window_funnel('7 days', ts, ARRAY[event = 'page_view', event = 'product_view',
                                               event = 'add_to_cart', event = 'checkout', event = 'purchase']) AS level
      FROM events GROUP BY customer_id) f
GROUP BY level ORDER BY level;

\echo '== Sessions, top paths per session, and weekly retention of the first cohorts'
SELECT count(*) AS sessions, round(avg(events), 2) AS events_per_session,
       round(avg(extract(epoch FROM session_end - session_start))) AS avg_seconds
FROM sessions('SELECT customer_id, ts, event FROM events');
SELECT path, users, round(share::numeric, 3) AS share
FROM path_summary('events', session_gap => '30 minutes', top => 5);
SELECT cohort_start::date AS cohort, cohort_size, period, round(rate::numeric, 3) AS rate
FROM retention('events', cohort_event => 'page_view', return_event => 'page_view', period => 'week', periods => 3)
WHERE cohort_start < '2024-01-22'
ORDER BY cohort_start, period;

\echo '== Propensity (docs/propensity.md): the training rows of a repurchase model at 2024-07-01,'
\echo '   those who bought in the next 90 days against those who did not'
SELECT label, count(*) AS customers, round(avg(recency_days)::numeric, 1) AS recency,
       round(avg(frequency), 2) AS frequency, round(avg(purchases_last_90d), 2) AS last_90d,
       round(avg(monetary_mean)::numeric, 2) AS mean
FROM purchase_features('orders', '2024-07-01', '90 days')
GROUP BY label ORDER BY label;
\echo '   a model of it (gradient-boosted trees, the default) trained at 2024-04-01, its holdout AUC and what it learnt,'
\echo '   and the July customers by decile of its score'
CREATE TEMP TABLE repurchase AS
SELECT propensity_fit($$SELECT customer_key, label, recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d
                        FROM purchase_features('orders', '2024-04-01', '90 days')$$) AS model;
SELECT round((model->'holdout_metrics'->>'auc')::numeric, 3) AS holdout_auc, feature, round(importance::numeric, 3) AS importance
FROM repurchase, propensity_importance(model);
SELECT bin, customers, positives, round(rate::numeric, 3) AS rate, round(lift::numeric, 2) AS lift,
       round(cumulative_positives_share::numeric, 3) AS cumulative_share
FROM repurchase, propensity_evaluate(model, $$SELECT customer_key, label, recency_days, frequency, monetary_mean,
                                                     tenure_days, purchases_last_90d
                                              FROM purchase_features('orders', '2024-07-01', '90 days')$$);
