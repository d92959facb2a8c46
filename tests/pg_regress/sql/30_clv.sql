-- Customer lifetime value: the examples of docs/clv.md.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET intervalstyle = 'postgres';

-- Fit BG/NBD and Gamma-Gamma on the CDNOW sample's calibration period (to 1997-09-30), in days.
CREATE TABLE clv_model AS
SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders', as_of => '1997-09-30') AS model;

SELECT round((model #>> '{bgnbd,r}')::numeric, 4) AS r,
       round((model #>> '{bgnbd,alpha}')::numeric, 3) AS alpha,
       round((model #>> '{bgnbd,a}')::numeric, 4) AS a,
       round((model #>> '{bgnbd,b}')::numeric, 4) AS b,
       round((model #>> '{gamma_gamma,p}')::numeric, 2) AS p,
       round((model #>> '{gamma_gamma,q}')::numeric, 2) AS q,
       round((model #>> '{gamma_gamma,v}')::numeric, 2) AS v,
       model ->> 'n_customers' AS customers, model ->> 'n_repeat' AS repeat_customers,
       model ->> 'time_unit' AS time_unit, model ->> 'as_of' AS as_of, model ->> 'converged' AS converged
FROM clv_model;

-- Per customer: the most valuable customers over the next 12 months.
SELECT customer_key, frequency, recency, t, round(monetary::numeric, 2) AS monetary,
       round(p_alive::numeric, 3) AS p_alive, round(expected_purchases::numeric, 2) AS expected_purchases,
       round(expected_avg_value::numeric, 2) AS expected_avg_value, round(clv::numeric, 2) AS clv
FROM customer_lifetime_value('SELECT customer_id, order_date, amount FROM cdnow_orders', as_of => '1997-09-30')
ORDER BY clv DESC, customer_key
LIMIT 5;

-- The stored model scores customers row by row (parsed once per query, not per row).
SELECT round(clv_p_alive(model, 2, 30, 90)::numeric, 4) AS p_alive,
       round(clv_expected_purchases(model, 90, 2, 30, 90)::numeric, 4) AS next_90_days,
       round(clv_expected_value(model, 2, 40)::numeric, 2) AS expected_value,
       round(clv_value(model, 2, 30, 90, 40)::numeric, 2) AS clv_12_months
FROM clv_model;

-- CLV by RFM segment on the demo customers.
SELECT r.segment, count(*) AS customers, round(avg(c.p_alive)::numeric, 3) AS p_alive,
       round(avg(c.expected_purchases)::numeric, 2) AS purchases_12m, round(avg(c.clv)::numeric, 2) AS avg_clv
FROM rfm_score('SELECT customer_id, ts, amount FROM orders') r
JOIN customer_lifetime_value('SELECT customer_id, ts, amount FROM orders') c USING (customer_key)
GROUP BY r.segment
ORDER BY avg_clv DESC;

-- Mistakes are errors that say what to change.
SELECT clv_fit('cdnow_orders', time_unit => '0 days');
SELECT clv_fit('SELECT customer_id, order_date, amount FROM cdnow_orders WHERE customer_id = 1');
SELECT clv_p_alive('{"format": "something else"}', 1, 10, 20);
