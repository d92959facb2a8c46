-- k-means segments of the demo customers on their RFM features: the examples of
-- docs/segmentation.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

-- The features: recency in days, number of orders, and log of the average order value.
CREATE TEMP TABLE rfm_features AS
SELECT customer_key, recency_days, frequency, ln(monetary) AS log_monetary
FROM rfm_score('SELECT customer_id, ts, amount FROM orders');

-- Which k? Inertia always falls with k; the silhouette peaks where segments separate best.
SELECT k, round(inertia::numeric, 1) AS inertia, round(silhouette::numeric, 3) AS silhouette, best
FROM kmeans_choose_k('rfm_features', k_min => 2, k_max => 6)
ORDER BY k;

-- Fit four segments and keep the model as a value.
CREATE TEMP TABLE segment_models AS
SELECT 'rfm_k4' AS name, kmeans_fit('rfm_features', 4) AS model;
SELECT model->>'algorithm' AS algorithm, model->'k' AS k, model->'feature_names' AS features,
       model->'scaler'->>'method' AS scale, model->'n_rows' AS n_rows, model->'sizes' AS sizes
FROM segment_models;

-- What each segment is, in the features' own units.
SELECT segment, size, round(share::numeric, 3) AS share,
       round(centroid[1]::numeric, 1) AS recency_days, round(centroid[2]::numeric, 2) AS orders,
       round(exp(centroid[3])::numeric, 2) AS typical_order_value
FROM segment_models, kmeans_profile(model)
ORDER BY segment;

-- Segment per customer, with the distance to its segment's centre (scaled units).
CREATE TEMP TABLE customer_segments AS
SELECT * FROM kmeans_segment('rfm_features', 4);
SELECT segment, count(*) AS customers, round(avg(distance)::numeric, 3) AS mean_distance
FROM customer_segments
GROUP BY segment
ORDER BY segment;

-- Scoring with the stored model gives every fitted customer the segment of the fit.
SELECT count(*) AS customers,
       count(*) FILTER (WHERE kmeans_assign(m.model, ARRAY[f.recency_days, f.frequency, f.log_monetary])
                        = s.segment) AS same_segment
FROM rfm_features f
JOIN customer_segments s ON s.key = f.customer_key,
     segment_models m;

-- A new customer is scored the same way.
SELECT kmeans_assign(model, ARRAY[12, 9, ln(40)]) AS segment,
       round(kmeans_distance(model, ARRAY[12, 9, ln(40)])::numeric, 3) AS distance
FROM segment_models;

-- The features as one array column work too; a NULL feature skips its row with a notice,
-- a constant feature gets scale 1 with a notice.
SELECT model->'n_rows' AS n_rows, model->'feature_names' AS features
FROM (SELECT kmeans_fit($$SELECT customer_key,
                                 ARRAY[recency_days, CASE WHEN frequency > 20 THEN NULL ELSE frequency END, 1]
                          FROM rfm_features$$, 3) AS model) AS fit;

-- A Gaussian mixture instead of k-means.
SELECT segment, size, round(centroid[2]::numeric, 2) AS orders
FROM kmeans_profile(kmeans_fit('rfm_features', 3, algorithm => 'gmm'))
ORDER BY segment;

-- Mistakes get an error that says what to change.
SELECT kmeans_fit('rfm_features', 0);
SELECT kmeans_fit('rfm_features', 3, scale => 'robust');
SELECT kmeans_assign(model, ARRAY[1, 2]) FROM segment_models;
SELECT kmeans_fit('SELECT customer_key, recency_days::text FROM rfm_features', 3);
