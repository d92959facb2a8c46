-- Propensity (docs/propensity.md): repurchase within 90 days on the demo data, trained at
-- 2024-04-01 and evaluated out of time at 2024-07-01.
SET timezone = 'UTC';
SET extra_float_digits = 0;
CREATE TEMP TABLE training AS
SELECT customer_key, label, recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d
FROM purchase_features('orders', '2024-04-01', '90 days');
CREATE TEMP TABLE july AS
SELECT customer_key, label, recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d
FROM purchase_features('orders', '2024-07-01', '90 days');
CREATE TEMP TABLE repurchase AS SELECT propensity_fit('training', 'logistic') AS model;
-- the model documents itself: rows, class balance, holdout metrics, options used
SELECT model->>'n_rows' AS training_rows, model->>'n_holdout_rows' AS holdout_rows,
       model->'class_balance' AS class_balance, model->'logistic'->>'converged' AS converged,
       round((model->'holdout_metrics'->>'auc')::numeric, 4) AS holdout_auc,
       round((model->'options'->>'l2')::numeric * (model->>'n_rows')::numeric, 9) AS l2_times_rows
FROM repurchase;
-- the same rows in another order, and integer labels: the same model
SELECT propensity_fit('SELECT customer_key, label::int, recency_days, frequency, monetary_mean, tenure_days,
                              purchases_last_90d FROM training ORDER BY md5(customer_key)', 'logistic') = model AS same
FROM repurchase;
-- the holdout metrics are propensity_metrics of the rows propensity_holdout names
SELECT metric, round(value::numeric, 6) = round((model->'holdout_metrics'->>metric)::numeric, 6) AS same
FROM repurchase, propensity_metrics(model, 'SELECT * FROM training WHERE propensity_holdout(customer_key)');
SELECT feature, round(importance::numeric, 3) AS importance FROM repurchase, propensity_importance(model);
SELECT bin, customers, positives, round(min_score::numeric, 3) AS min_score, round(max_score::numeric, 3) AS max_score,
       round(rate::numeric, 3) AS rate, round(lift::numeric, 2) AS lift,
       round(cumulative_positives_share::numeric, 3) AS cumulative_share
FROM repurchase, propensity_evaluate(model, 'july');
SELECT metric, round(value::numeric, 4) AS value FROM repurchase, propensity_metrics(model, 'july');
-- targeting the top decile, against the control group
CREATE TEMP TABLE targets AS
SELECT j.customer_key, CASE WHEN ntile(10) OVER (ORDER BY p DESC, j.customer_key) = 1
                            THEN 'top decile' ELSE 'rest' END AS segment, c.is_control
FROM (SELECT customer_key, propensity_score(model, ARRAY[recency_days, frequency, monetary_mean,
                                                         tenure_days, purchases_last_90d]) AS p
      FROM repurchase, july) j
JOIN customers c ON c.customer_id::text = j.customer_key;
SELECT segment, customers, round(conversion_rate::numeric, 3) AS cr, control_customers AS control,
       round(control_conversion_rate::numeric, 3) AS control_cr, round(lift::numeric, 3) AS lift
FROM segment_roi('targets', 'SELECT customer_id, ts, amount FROM orders',
                 period_start => '2024-07-01', period_end => '2024-09-29')
ORDER BY segment DESC;
-- scores are IMMUTABLE and PARALLEL SAFE: the same serial and under a parallel plan
SELECT count(*) FILTER (WHERE p IS NULL) AS null_scores, round(sum(p)::numeric, 9) AS total
FROM (SELECT propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d]) AS p
      FROM repurchase, july) s;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT count(*) FILTER (WHERE p IS NULL) AS null_scores, round(sum(p)::numeric, 9) AS total
FROM (SELECT propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d]) AS p
      FROM repurchase, july) s;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
-- gradient-boosted trees, the default algorithm, on the same rows
CREATE TEMP TABLE repurchase_gbt AS SELECT propensity_fit('training') AS model;
SELECT model->>'algorithm' AS algorithm, model->>'n_rows' AS training_rows,
       jsonb_array_length(model->'gbt'->'trees') AS trees, model->'gbt'->>'stopped_early' AS stopped_early,
       round((model->'holdout_metrics'->>'auc')::numeric, 4) AS holdout_auc
FROM repurchase_gbt;
-- the same rows in another order, and integer labels: the same model
SELECT propensity_fit('SELECT customer_key, label::int, recency_days, frequency, monetary_mean, tenure_days,
                              purchases_last_90d FROM training ORDER BY md5(customer_key)') = model AS same
FROM repurchase_gbt;
-- the holdout metrics are propensity_metrics of the holdout rows, and the Brier score their
-- mean squared error computed here from propensity_score
SELECT metric, round(value::numeric, 6) = round((model->'holdout_metrics'->>metric)::numeric, 6) AS same
FROM repurchase_gbt, propensity_metrics(model, 'SELECT * FROM training WHERE propensity_holdout(customer_key)');
SELECT round(avg((propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days,
                                                purchases_last_90d]) - label::int) ^ 2)::numeric, 12)
       = round((model->'holdout_metrics'->>'brier')::numeric, 12) AS brier_by_hand
FROM repurchase_gbt, training WHERE propensity_holdout(customer_key) GROUP BY model;
SELECT feature, round(importance::numeric, 3) AS importance FROM repurchase_gbt, propensity_importance(model);
SELECT metric, round(value::numeric, 4) AS value FROM repurchase_gbt, propensity_metrics(model, 'july');
-- early stopping on a validation share of the training keys stops well before 1,000 trees
SELECT jsonb_array_length(model->'gbt'->'trees') < 1000 AS fewer_trees, model->'gbt'->>'stopped_early' AS stopped_early,
       model->'options'->>'validation_share' AS validation_share
FROM (SELECT propensity_fit('training', options => '{"early_stopping": true, "n_trees": 1000}') AS model) m;
-- a NULL feature is a missing value: every July row is scored, those without a mean amount too
SELECT count(*) AS rows, count(p) AS scored, bool_and(p > 0 AND p < 1) AS probabilities
FROM (SELECT propensity_score(model, ARRAY[recency_days, frequency, NULL, tenure_days, purchases_last_90d]) AS p
      FROM repurchase_gbt, july) s;
SELECT value AS rows FROM repurchase_gbt,
     propensity_metrics(model, 'SELECT customer_key, label, recency_days, frequency, NULL::float8, tenure_days,
                                       purchases_last_90d FROM july') WHERE metric = 'rows';
-- the same serial and under a parallel plan
SELECT round(sum(p)::numeric, 9) AS total
FROM (SELECT propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d]) AS p
      FROM repurchase_gbt, july) s;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT round(sum(p)::numeric, 9) AS total
FROM (SELECT propensity_score(model, ARRAY[recency_days, frequency, monetary_mean, tenure_days, purchases_last_90d]) AS p
      FROM repurchase_gbt, july) s;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
