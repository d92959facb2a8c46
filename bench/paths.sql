-- Aggregated paths for the path-based benchmarks (attribute_paths, and the data-driven
-- models): table paths (path text, conversions float8, value float8, nulls float8), one row
-- per path, :paths rows over 20 channels ch01..ch20 (lower numbers more frequent), paths of
-- 1 to 12 touches separated by ' > '. Deterministic: setseed, and a serial plan (random()
-- is parallel restricted).
--   psql -v paths=1000000 -f bench/paths.sql
SET client_min_messages = warning;
DROP TABLE IF EXISTS paths;
SELECT setseed(0.42);
CREATE TABLE paths AS
WITH shape AS (
    SELECT i, least(12, 1 + floor(-ln(1 - random()) * 2.5)::int) AS touches, random() < 0.3 AS converts
    FROM generate_series(1, :paths) AS i)
SELECT (SELECT string_agg('ch' || lpad((1 + floor(20 * power(random(), 1.5)))::int::text, 2, '0'), ' > ')
        FROM generate_series(1, shape.touches + 0 * shape.i)) AS path,
       conversions, conversions * (20 + round((random() * 80)::numeric, 2)::float8) AS value,
       CASE WHEN conversions = 0 THEN 1 + floor(random() * 4) ELSE floor(random() * 3) END AS nulls
FROM shape, LATERAL (SELECT CASE WHEN converts THEN 1 + floor(random() * 2) ELSE 0 END::float8 AS conversions) c;
ANALYZE paths;
RESET client_min_messages;
