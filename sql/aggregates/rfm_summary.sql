-- CREATE AGGREGATE rfm_summary over its support functions in src/api/rfm.rs (docs/rfm.md); pgrx includes this file in the install script.
CREATE AGGREGATE rfm_summary(ts timestamptz, amount float8, as_of timestamptz) (
    sfunc = rfm_summary_transition,
    stype = internal,
    finalfunc = rfm_summary_final,
    combinefunc = rfm_summary_combine,
    serialfunc = rfm_summary_serialize,
    deserialfunc = rfm_summary_deserialize,
    parallel = safe);
COMMENT ON AGGREGATE rfm_summary(timestamptz, float8, timestamptz) IS
    'RFM summary of one customer''s transactions up to as_of (see docs/rfm.md)';
