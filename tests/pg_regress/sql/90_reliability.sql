-- Every family stops under statement_timeout (docs/reliability.md). Each call below would run
-- for many seconds to minutes; each is cancelled at 300 ms with 57014 (query_canceled).
\set VERBOSITY sqlstate
-- 6,000 paths, each over its own set of about 18 of 24 channels
CREATE TEMP TABLE wide_paths AS
SELECT (SELECT string_agg('ch' || c, ' > ' ORDER BY md5(c::text || p::text))
        FROM generate_series(1, 24) c WHERE hashint4(c * 7919 + p) % 4 <> 0) AS path,
       1 AS conversions, 1 AS value, 1 AS nulls
FROM generate_series(1, 6000) p;
CREATE TEMP TABLE many_tx AS
SELECT i % 60000 AS k, '2020-01-01'::timestamptz + (i::bigint * 7907 % 997) * interval '1 day' AS ts, i % 97 AS amount
FROM generate_series(1, 300000) i;
CREATE TEMP TABLE points AS
SELECT i AS id, ARRAY[sin(i), cos(i * 3), sin(i * 7), cos(i * 11), sin(i * 13), cos(i * 17)] AS f
FROM generate_series(1, 200000) i;
-- 30,000 training rows of four features: read in a few milliseconds, boosted for minutes
CREATE TEMP TABLE gbt_rows AS
SELECT i AS k, hashint4(i) % 3 = 0 AS label, sin(i) AS a, cos(i * 3) AS b, sin(i * 7) AS c, cos(i * 11) AS d
FROM generate_series(1, 30000) i;
SET statement_timeout = '300ms';
-- attribution: reading and crediting, Shapley (sampled, 17 or more channels), Markov (order 4)
SELECT count(*) FROM attribute_channels(
    'SELECT i % 1000000, ''2024-01-01''::timestamptz + i * interval ''1 second'', ''ch'' || i % 9 FROM generate_series(1, 100000000) i',
    'SELECT i, ''2024-06-01''::timestamptz, 1 FROM generate_series(1, 1000000) i');
SELECT * FROM attribute_paths('wide_paths', model => 'shapley');
SELECT * FROM attribute_paths('wide_paths', model => 'markov', markov_order => 4);
-- RFM and CLV: reading; 60,000 customers x 1,200 months of series
SELECT count(*) FROM rfm_score('SELECT i, now(), i FROM generate_series(1, 100000000) i');
SELECT count(*) FROM customer_lifetime_value('many_tx', horizon_months => 1200);
-- segments: k-means, the Gaussian mixture, choose_k
SELECT kmeans_fit('points', 200, n_init => 50) IS NOT NULL;
SELECT kmeans_fit('points', 12, algorithm => 'gmm', n_init => 20) IS NOT NULL;
SELECT count(*) FROM kmeans_choose_k('points', k_min => 2, k_max => 200);
-- ROI: reading members
SELECT count(*) FROM segment_roi('SELECT i, ''a'', i % 2 = 0 FROM generate_series(1, 100000000) i', 'many_tx');
-- states: reading transactions, snapshots and touches; an aggregate over 100M rows
SELECT count(*) FROM customer_stage('SELECT i, now(), i FROM generate_series(1, 100000000) i');
SELECT count(*) FROM growth_accounting('SELECT i, now(), i FROM generate_series(1, 100000000) i');
SELECT count(*) FROM segment_migration('SELECT i, ''a'' FROM generate_series(1, 100000000) i', 'SELECT 1, ''a''');
SELECT count(*) FROM channel_preference('SELECT i, now(), ''a'' FROM generate_series(1, 100000000) i');
SELECT count(d) FROM (SELECT decayed_activity(now(), 1, '1 day', now()) AS d FROM generate_series(1, 100000000) i) s;
-- journeys: reading events; an aggregate over 100M rows
SELECT count(*) FROM funnel('SELECT i, now(), ''a'' FROM generate_series(1, 100000000) i', ARRAY['a']);
SELECT count(*) FROM sessions('SELECT i, now() FROM generate_series(1, 100000000) i');
SELECT count(*) FROM path_summary('SELECT i, now(), ''a'' FROM generate_series(1, 100000000) i');
SELECT count(*) FROM retention('SELECT i, now(), ''a'' FROM generate_series(1, 100000000) i');
SELECT count(*) FROM lifecycle('SELECT i, now() FROM generate_series(1, 100000000) i');
SELECT window_funnel('1 day', now(), ARRAY[i % 2 = 0, i % 3 = 0]) FROM generate_series(1, 100000000) i;
-- propensity: reading transactions, training rows and scored rows
SELECT count(*) FROM purchase_features('SELECT i, now(), i FROM generate_series(1, 100000000) i', now());
SELECT propensity_fit('SELECT i, i % 2 = 0, i FROM generate_series(1, 100000000) i');
SELECT count(*) FROM propensity_metrics((SELECT propensity_fit('SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 100) i')),
                                         'SELECT i, i % 2 = 0, i FROM generate_series(1, 100000000) i');
SELECT count(*) FROM propensity_evaluate((SELECT propensity_fit('SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 100) i')),
                                          'SELECT i, i % 2 = 0, i FROM generate_series(1, 100000000) i');
-- propensity: boosting 10,000 deep trees; scoring 100M rows; the split of 100M keys
SELECT propensity_fit('gbt_rows', options => '{"n_trees": 10000, "max_leaves": 1024, "max_depth": 20, "min_samples_leaf": 1}') IS NOT NULL;
SELECT sum(propensity_score(m, ARRAY[i::float8])) FROM (SELECT propensity_fit('SELECT i, i % 2 = 0, i % 7 FROM generate_series(1, 100) i') AS m) f,
       generate_series(1, 100000000) i;
SELECT count(*) FILTER (WHERE propensity_holdout(i::text)) FROM generate_series(1, 100000000) i;
RESET statement_timeout;
-- the session goes on as before
SELECT count(*) FROM rfm_score('many_tx');
