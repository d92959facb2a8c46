-- CREATE AGGREGATE decayed_activity over its support functions in src/api/states.rs (docs/states.md); pgrx includes this file in the install script.
CREATE AGGREGATE decayed_activity(ts timestamptz, amount float8, half_life interval, as_of timestamptz) (
    sfunc = decayed_activity_transition,
    stype = internal,
    finalfunc = decayed_activity_final,
    combinefunc = decayed_activity_combine,
    serialfunc = decayed_activity_serialize,
    deserialfunc = decayed_activity_deserialize,
    parallel = safe);
COMMENT ON AGGREGATE decayed_activity(timestamptz, float8, interval, timestamptz) IS
    'Sum of 2^(-(as_of - ts) / half_life) over a group''s events up to as_of, and of amount so weighted (see docs/states.md)';
