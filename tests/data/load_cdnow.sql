-- Loads tests/data/CDNOW_sample.txt (run from the repository root) as table cdnow_orders:
-- a public sample of the CDNOW purchase log, 6,919 CD purchases of 2,357 customers,
-- 1997-01-01 to 1998-06-30. The file's columns, separated by blanks: master customer id,
-- sample customer id (1..2357), date yyyymmdd, number of CDs, dollar value.
SET client_min_messages = warning;
DROP TABLE IF EXISTS cdnow_orders;
CREATE TEMP TABLE cdnow_lines (line text);
\copy cdnow_lines FROM 'tests/data/CDNOW_sample.txt'
CREATE TABLE cdnow_orders AS
SELECT f[2]::int AS customer_id,
       f[1]::int AS master_customer_id,
       to_date(f[3], 'YYYYMMDD') AS order_date,
       f[4]::int AS cds,
       f[5]::numeric(10, 2) AS amount
FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_lines) AS split;
DROP TABLE cdnow_lines;
ANALYZE cdnow_orders;
RESET client_min_messages;
