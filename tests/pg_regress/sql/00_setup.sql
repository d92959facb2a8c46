-- The data every other session uses: the demo data set at 2,000 customers (bench/generate.sql,
-- seed 42) and the CDNOW sample (tests/data). pg_regress runs from the repository root and
-- creates the extension (--load-extension); the upgrade test runs it in an upgraded database.
\set ECHO none
\set customers 2000
\set seed 42
\i bench/generate.sql
\i tests/data/load_cdnow.sql
\set ECHO all
SELECT (SELECT count(*) FROM customers) AS customers,
       (SELECT count(*) FROM touchpoints) AS touchpoints,
       (SELECT count(*) FROM conversions) AS conversions,
       (SELECT count(*) FROM orders) AS orders,
       (SELECT count(*) FROM cdnow_orders) AS cdnow_orders;
