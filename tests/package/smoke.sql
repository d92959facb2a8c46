-- One query of each family against the extension installed from the .deb (tests/package.sh).
-- Each check's expected value is worked by hand from the definition in the docs page named,
-- except CLV's, which is lifetimes' published fit of the same CDNOW sample.
\set ON_ERROR_STOP 1
SET timezone = 'UTC';
CREATE EXTENSION pg_marketing;
\echo Extension version:
SELECT extversion FROM pg_extension WHERE extname = 'pg_marketing';

CREATE FUNCTION pg_temp.expect(check_name text, passed boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF passed IS NOT TRUE THEN
        RAISE EXCEPTION 'package smoke test: % failed', check_name;
    END IF;
    RETURN check_name || ': ok';
END $$;

-- Attribution (docs/attribution.md): linear credit splits one conversion of 100 evenly over
-- the journey's two touches.
SELECT pg_temp.expect('attribution', array_agg(channel || ' ' || conversions || ' ' || value ORDER BY channel)
                                      = ARRAY['email 0.5 50', 'search 0.5 50'])
FROM attribute_channels($$VALUES (1, timestamptz '2024-01-01', 'search'), (1, '2024-01-02', 'email')$$,
                        $$VALUES (1, timestamptz '2024-01-03', 100.0)$$, model => 'linear');

-- RFM (docs/rfm.md): two orders of 10 and 20, the last 5 days before as_of.
SELECT pg_temp.expect('rfm', (s).frequency = 2 AND (s).monetary_total = 30 AND (s).recency_days = 5)
FROM (SELECT rfm_summary(ts, amount, '2024-01-10') AS s
      FROM (VALUES (timestamptz '2024-01-01', 10.0::float8), ('2024-01-05', 20.0)) o(ts, amount)) r;

-- k-means (docs/segments.md): two well-separated pairs of points fall in two segments.
SELECT pg_temp.expect('k-means', kmeans_assign(model, ARRAY[0, 0]) = kmeans_assign(model, ARRAY[0, 1])
                                 AND kmeans_assign(model, ARRAY[10, 10]) = kmeans_assign(model, ARRAY[10, 11])
                                 AND kmeans_assign(model, ARRAY[0, 0]) <> kmeans_assign(model, ARRAY[10, 10]))
FROM (SELECT kmeans_fit($$VALUES (1, 0.0, 0.0), (2, 0, 1), (3, 10, 10), (4, 10, 11)$$, 2) AS model) m;

-- CLV (docs/clv.md): BG/NBD on the CDNOW sample to 1997-09-30; lifetimes' documented fit is
-- r = 0.2426, a = 0.7929, b = 2.4258 (alpha 4.4135 in weeks: 30.89 in days).
\set ECHO none
\i tests/data/load_cdnow.sql
\set ECHO all
SELECT pg_temp.expect('clv', abs((model #>> '{bgnbd,r}')::float8 - 0.2426) < 5e-4
                             AND abs((model #>> '{bgnbd,a}')::float8 - 0.7929) < 5e-4
                             AND abs((model #>> '{bgnbd,b}')::float8 - 2.4258) < 5e-3
                             AND abs((model #>> '{bgnbd,alpha}')::float8 / 7 - 4.4135) < 5e-3)
FROM (SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders', as_of => '1997-09-30') AS model) m;

-- ROI (docs/roi.md): segment a has two treated members, one buying 30, and a cost of 10:
-- conversion rate 0.5, revenue 30, roi (30 - 10) / 10 = 2.
SELECT pg_temp.expect('roi', customers = 2 AND converters = 1 AND revenue = 30 AND roi = 2)
FROM segment_roi($$VALUES (1, 'a', false), (2, 'a', false)$$,
                 $$VALUES (1, timestamptz '2024-01-01', 30.0)$$,
                 $$VALUES ('a', 10.0)$$);

-- States (docs/states.md): a first purchase 10 days before as_of is new; one 200 days old is
-- lapsed (past active_within, 90 days, within churned_after, 365).
SELECT pg_temp.expect('states', array_agg(customer_key || ' ' || stage ORDER BY customer_key) = ARRAY['1 new', '2 lapsed'])
FROM customer_stage($$VALUES (1, timestamptz '2024-06-21', 5.0), (2, timestamptz '2023-12-13', 5.0)$$,
                    as_of => '2024-07-01');

-- Journeys (docs/journeys.md): view, cart, buy within a day reach step 3; a buy two days
-- after the view does not count, so that user reaches step 2.
SELECT pg_temp.expect('journeys', array_agg(user_id || ' ' || level ORDER BY user_id) = ARRAY['1 3', '2 2'])
FROM (SELECT user_id, window_funnel('1 day', ts, ARRAY[event = 'view', event = 'cart', event = 'buy']) AS level
      FROM (VALUES (1, timestamptz '2024-01-01 10:00', 'view'), (1, '2024-01-01 11:00', 'cart'),
                   (1, '2024-01-01 12:00', 'buy'), (2, '2024-01-01 10:00', 'view'),
                   (2, '2024-01-01 11:00', 'cart'), (2, '2024-01-03 10:00', 'buy')) e(user_id, ts, event)
      GROUP BY user_id) f;

-- Propensity (docs/propensity.md): orders 30 and 10 days before as_of (of 10 and 20), one 5
-- days after it within the 30-day horizon: recency 10, frequency 2, mean 15, 20 days between,
-- both within the last 90 days, label true.
SELECT pg_temp.expect('propensity', recency_days = 10 AND frequency = 2 AND monetary_mean = 15
                                    AND mean_days_between = 20 AND purchases_last_90d = 2 AND label)
FROM purchase_features($$VALUES (1, timestamptz '2024-06-01', 10.0), (1, '2024-06-21', 20.0),
                                (1, '2024-07-06', 99.0)$$, '2024-07-01', '30 days');
-- Worked by hand: one 0/1 feature and no penalty; the fit gives each group its share of
-- positives, 1 of 4 at x = 0 and 3 of 5 at x = 1.
SELECT pg_temp.expect('propensity model', abs(propensity_score(model, ARRAY[0]) - 0.25) < 1e-9
                                          AND abs(propensity_score(model, ARRAY[1]) - 0.6) < 1e-9)
FROM (SELECT propensity_fit($$VALUES (1, 1, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0),
                                     (5, 1, 1), (6, 1, 1), (7, 1, 1), (8, 0, 1), (9, 0, 1)$$,
                            'logistic', holdout => 0, options => '{"l2": 0}') AS model) m;
