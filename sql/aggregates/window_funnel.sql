-- CREATE AGGREGATE window_funnel over its support functions in src/api/events.rs (docs/journeys.md); pgrx includes this file in the install script.
CREATE AGGREGATE window_funnel("window" interval, ts timestamptz, steps boolean[]) (
    sfunc = window_funnel_transition,
    stype = internal,
    finalfunc = window_funnel_final,
    finalfunc_modify = read_write,
    combinefunc = window_funnel_combine,
    serialfunc = window_funnel_serialize,
    deserialfunc = window_funnel_deserialize,
    parallel = safe);
CREATE AGGREGATE window_funnel("window" interval, ts timestamptz, steps boolean[], mode text) (
    sfunc = window_funnel_mode_transition,
    stype = internal,
    finalfunc = window_funnel_final,
    finalfunc_modify = read_write,
    combinefunc = window_funnel_combine,
    serialfunc = window_funnel_serialize,
    deserialfunc = window_funnel_deserialize,
    parallel = safe);
COMMENT ON AGGREGATE window_funnel(interval, timestamptz, boolean[]) IS
    'The highest funnel step a group''s events reach within the window, as ClickHouse''s windowFunnel (see docs/journeys.md)';
COMMENT ON AGGREGATE window_funnel(interval, timestamptz, boolean[], text) IS
    'The highest funnel step a group''s events reach within the window under a windowFunnel mode (see docs/journeys.md)';
