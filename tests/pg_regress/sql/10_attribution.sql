-- Rule-based attribution on the demo data: the examples of docs/attribution.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

-- Credit per channel with the default model (linear, 30-day lookback).
SELECT channel, round(conversions::numeric, 2) AS conversions, round(value::numeric, 2) AS value, touches
FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions');

-- The same conversions under every rule model, side by side.
SELECT channel,
       round(max(conversions) FILTER (WHERE model = 'first_touch')::numeric, 1) AS first,
       round(max(conversions) FILTER (WHERE model = 'last_touch')::numeric, 1) AS last,
       round(max(conversions) FILTER (WHERE model = 'last_non_direct')::numeric, 1) AS last_non_direct,
       round(max(conversions) FILTER (WHERE model = 'linear')::numeric, 1) AS linear,
       round(max(conversions) FILTER (WHERE model = 'time_decay')::numeric, 1) AS time_decay,
       round(max(conversions) FILTER (WHERE model = 'position_based')::numeric, 1) AS u_shaped,
       round(max(conversions) FILTER (WHERE model = 'j_curve')::numeric, 1) AS j_curve,
       round(max(conversions) FILTER (WHERE model = 'inverse_j')::numeric, 1) AS inverse_j,
       round(max(conversions) FILTER (WHERE model = 'participation')::numeric, 1) AS participation
FROM unnest(ARRAY['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay',
                  'position_based', 'j_curve', 'inverse_j', 'participation']) AS model,
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => model)
GROUP BY channel
ORDER BY channel;

-- Every model but participation hands out exactly one conversion per conversion.
SELECT model, round(sum(conversions)::numeric, 9) AS credited, (SELECT count(*) FROM conversions) AS conversions
FROM unnest(ARRAY['first_touch', 'last_touch', 'last_non_direct', 'same_touch', 'linear', 'time_decay',
                  'position_based', 'j_curve', 'inverse_j']) AS model,
     LATERAL attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                                model => model)
GROUP BY model
ORDER BY model;

-- One customer's path, credited per touch with a 3-day half-life.
SELECT conversion_id, channel, touch_ts, touch_position AS pos, path_length AS n,
       round(credit::numeric, 4) AS credit, round(value_credit::numeric, 2) AS value_credit
FROM attribute_touchpoints('SELECT customer_id, ts, channel FROM touchpoints WHERE customer_id = 22',
                           'SELECT customer_id, ts, value FROM conversions WHERE customer_id = 22',
                           model => 'time_decay', half_life => '3 days');

-- Custom weights, the last three touches only, repeated channels collapsed.
SELECT channel, round(conversions::numeric, 2) AS conversions
FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions',
                        model => 'custom', weights => '{0.3, 0.1, 0.6}', max_touches => 3,
                        path_transform => 'exposure');

-- Paths already aggregated, as text with a separator or as arrays.
SELECT * FROM attribute_paths(
    $$SELECT * FROM (VALUES ('display > paid_search > email', 30, 1200.0, 970),
                            ('paid_search', 50, 2500.0, 450),
                            ('display > direct', 5, 150.0, 1995)) AS p(path, conversions, value, nulls)$$,
    model => 'position_based');
SELECT * FROM attribute_paths(
    $$SELECT ARRAY['display', 'paid_search', 'email'], 30, 1200.0, 970$$, model => 'first_touch');

-- Mistakes get a reason.
SELECT * FROM attribute_channels('touchpoints', 'conversions');
SELECT * FROM attribute_channels('SELECT customer_id, ts, channel FROM touchpoints', 'conversions', model => 'shapely');
SELECT * FROM attribute_channels('SELECT customer_id, ts::text, channel FROM touchpoints', 'conversions');
SELECT * FROM attribute_paths($$SELECT 'a > b', 1, 1, 0$$, model => 'time_decay');
