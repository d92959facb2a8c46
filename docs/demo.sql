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
