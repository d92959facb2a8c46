-- Run in the database before.sql set up once the new library is installed, before and after
-- ALTER EXTENSION pg_marketing UPDATE: every view still answers, the stored models still
-- score, and every answer equals what 0.1.0 gave (answers_before). Any difference fails.
\set ON_ERROR_STOP 1
SELECT extversion FROM pg_extension WHERE extname = 'pg_marketing';
SELECT source, count(*) AS rows FROM answers GROUP BY source ORDER BY source;
DO $$
DECLARE
    differing bigint;
    sources bigint;
BEGIN
    SELECT count(*) INTO differing FROM (
        (SELECT * FROM answers EXCEPT ALL SELECT * FROM answers_before)
        UNION ALL
        (SELECT * FROM answers_before EXCEPT ALL SELECT * FROM answers)) d;
    SELECT count(DISTINCT source) INTO sources FROM answers;
    IF differing > 0 OR sources < 5 THEN
        RAISE EXCEPTION 'upgrade: % answers differ from 0.1.0''s, % of 5 sources answer', differing, sources;
    END IF;
END $$;
