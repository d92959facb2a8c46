-- Every object of the extension as one line: kind, identity, what defines it (arguments
-- with defaults, result, volatility, parallel safety, strictness, C symbol; aggregate
-- support functions; type attributes) and its comment. The upgrade test requires the same
-- lines in an upgraded database as in a fresh install.
\pset format unaligned
\pset tuples_only on
SELECT line FROM (
    SELECT concat_ws(' | ', 'function', p.oid::regprocedure::text,
                     pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
                     p.prokind, p.provolatile, p.proparallel, p.proisstrict, p.prosrc, p.probin,
                     a.aggtransfn::regproc::text, a.aggfinalfn::regproc::text, a.aggcombinefn::regproc::text,
                     a.aggserialfn::regproc::text, a.aggdeserialfn::regproc::text, a.aggfinalmodify,
                     a.aggtranstype::regtype::text,
                     coalesce(obj_description(p.oid, 'pg_proc'), '(no comment)')) AS line
    FROM pg_depend d
    JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_marketing')
    UNION ALL
    SELECT concat_ws(' | ', 'type', t.oid::regtype::text,
                     (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                      FROM pg_attribute WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped),
                     coalesce(obj_description(t.oid, 'pg_type'), '(no comment)'))
    FROM pg_depend d
    JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_marketing')
) objects
ORDER BY line;
