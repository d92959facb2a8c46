-- Data-driven attribution: the examples of docs/attribution.md ("Data-driven models").
SET extra_float_digits = 0;

-- Markov removal effects next to the rule models on the demo data (2,000 customers).
SELECT channel, round(removal_effect::numeric, 3) AS removal_effect,
       round(conversions::numeric, 1) AS markov, round(value::numeric, 0) AS markov_value
FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions', model => 'markov')
ORDER BY channel;

-- Markov of order 2 and Shapley, with last touch for comparison.
SELECT channel,
       round(max(conversions) FILTER (WHERE model = 'last_touch')::numeric, 1) AS last_touch,
       round(max(conversions) FILTER (WHERE model = 'markov')::numeric, 1) AS markov_2,
       round(max(conversions) FILTER (WHERE model = 'shapley')::numeric, 1) AS shapley
FROM unnest(ARRAY['last_touch', 'markov', 'shapley']) AS model,
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => model, markov_order => 2)
GROUP BY channel
ORDER BY channel;

-- Per touch: one customer's conversion, credited by Shapley.
SELECT conversion_id, channel, touch_position AS pos, round(credit::numeric, 4) AS credit
FROM attribute_touchpoints('SELECT customer_id, ts, channel FROM touchpoints WHERE customer_id = 22',
                           'SELECT customer_id, ts, value FROM conversions WHERE customer_id = 22',
                           model => 'shapley');

-- A hand-solvable chain as a path table; its transition matrix and removal effects
-- (worked out in docs/attribution.md: P = 1/2; without a 1/4, without b 0, without c 1/2).
CREATE TEMP TABLE hand_paths (path text, conversions int, value numeric, nulls int);
INSERT INTO hand_paths VALUES ('a > b', 1, 20, 0), ('a > c', 0, 0, 1), ('b', 1, 10, 0), ('c', 0, 0, 1);
SELECT * FROM markov_transition_matrix('hand_paths');
SELECT * FROM attribute_paths('hand_paths', model => 'markov');
SELECT channel, round(conversions::numeric, 4) AS conversions, round(value::numeric, 2) AS value
FROM attribute_paths('hand_paths', model => 'shapley');

-- Ground truth. bench/generate.sql gives each channel a known true effect: the chance that
-- seeing it converts a customer. A model's estimate of that is the conversions it credits
-- to a channel per customer the channel reached. Spearman's rank correlation of those
-- estimates with the true effects, on 50,000 customers (seed 7, about 11,000 conversions):
CREATE SCHEMA truth;
SET search_path = truth;  -- alone while generating: the script replaces tables of these names
\set ECHO none
\set customers 50000
\set seed 7
\i bench/generate.sql
\set ECHO all
SET search_path = truth, public;
CREATE TEMP TABLE credited AS
SELECT model || coalesce(' order ' || markov_order, '') AS model, a.channel, a.conversions
FROM (VALUES ('last_touch', NULL), ('linear', NULL), ('shapley', NULL),
             ('markov', 1), ('markov', 2), ('markov', 3)) AS m(model, markov_order),
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => m.model, markov_order => coalesce(m.markov_order, 1)) a
WHERE a.channel IS NOT NULL;
WITH reach AS (SELECT channel, count(DISTINCT customer_id) AS customers FROM touchpoints GROUP BY channel),
ranked AS (
    SELECT model, rank() OVER (PARTITION BY model ORDER BY conversions / customers DESC) AS estimated,
           rank() OVER (PARTITION BY model ORDER BY true_effect DESC) AS truth
    FROM credited JOIN reach USING (channel) JOIN channels USING (channel)),
spearman AS (SELECT model, corr(estimated, truth) AS rho FROM ranked GROUP BY model)
SELECT model, round(rho::numeric, 2) AS spearman,
       rho > (SELECT rho FROM spearman WHERE model = 'last_touch') AS better_than_last_touch
FROM spearman
ORDER BY rho DESC, model;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA truth CASCADE;
