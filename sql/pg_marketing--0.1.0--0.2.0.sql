-- pg_marketing 0.1.0 -> 0.2.0, run by ALTER EXTENSION pg_marketing UPDATE.
--
-- Written by hand from the two install scripts (pgrx writes only those): every function,
-- aggregate and type of 0.1.0 keeps its signature and its C symbol in 0.2.0, so nothing is
-- dropped or replaced and views, tables and models that depend on 0.1.0's objects survive.
-- 0.2.0 adds the states and journeys families, purchase_features, the propensity models and a COMMENT on every
-- object. The upgrade test (tests/upgrade.sh, in make test) fails when an upgraded
-- database's catalog differs from a fresh 0.2.0 install's, so a function added to 0.2.0
-- must be added here too.

\echo Use "ALTER EXTENSION pg_marketing UPDATE TO '0.2.0'" to load this file. \quit

-- New objects, in dependency order (types, support functions, then aggregates).

CREATE TYPE decayed_activity_summary AS (decayed_count float8, decayed_amount float8, last_ts timestamptz);
     COMMENT ON TYPE decayed_activity_summary IS
         'Exponentially decayed count and amount of a group''s events, the result of decayed_activity (see docs/states.md)';

CREATE FUNCTION "channel_preference"(
	"touchpoints" TEXT,
	"as_of" timestamp with time zone DEFAULT NULL,
	"half_life" interval DEFAULT '30 days',
	"conversions" TEXT DEFAULT NULL
) RETURNS TABLE (
	"customer_key" TEXT,
	"preferred_channel" TEXT,
	"share" double precision,
	"second_channel" TEXT,
	"touches" bigint,
	"converting_channel" TEXT
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'channel_preference_wrapper';

CREATE FUNCTION "customer_stage"(
	"transactions" TEXT,
	"as_of" timestamp with time zone DEFAULT NULL,
	"new_within" interval DEFAULT '30 days',
	"active_within" interval DEFAULT '90 days',
	"churned_after" interval DEFAULT '365 days'
) RETURNS TABLE (
	"customer_key" TEXT,
	"stage" TEXT,
	"first_ts" timestamp with time zone,
	"last_ts" timestamp with time zone,
	"days_since_last" double precision,
	"previous_gap_days" double precision,
	"purchases" bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'customer_stage_wrapper';

CREATE FUNCTION "decayed_activity_combine"(
	"left" internal,
	"right" internal
) RETURNS internal
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decayed_activity_combine_wrapper';

CREATE FUNCTION "decayed_activity_deserialize"(
	"bytes" bytea,
	"_unused" internal
) RETURNS internal
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decayed_activity_deserialize_wrapper';

CREATE FUNCTION "decayed_activity_final"(
	"state" internal
) RETURNS decayed_activity_summary
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decayed_activity_final_wrapper';

CREATE FUNCTION "decayed_activity_serialize"(
	"state" internal
) RETURNS bytea
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decayed_activity_serialize_wrapper';

CREATE FUNCTION "decayed_activity_transition"(
	"state" internal,
	"ts" timestamp with time zone,
	"amount" double precision,
	"half_life" interval,
	"as_of" timestamp with time zone
) RETURNS internal
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decayed_activity_transition_wrapper';

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

CREATE FUNCTION "funnel"(
	"events" TEXT,
	"steps" TEXT[],
	"window" interval DEFAULT '7 days',
	"mode" TEXT DEFAULT 'default'
) RETURNS TABLE (
	"step" INT,
	"event" TEXT,
	"users" bigint,
	"conversion_from_previous" double precision,
	"conversion_from_first" double precision,
	"median_seconds_from_previous" double precision,
	"p90_seconds_from_previous" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'funnel_wrapper';

CREATE FUNCTION "growth_accounting"(
	"transactions" TEXT,
	"period" TEXT DEFAULT 'month',
	"from_ts" timestamp with time zone DEFAULT NULL,
	"to_ts" timestamp with time zone DEFAULT NULL
) RETURNS TABLE (
	"period_start" timestamp with time zone,
	"active" bigint,
	"new" bigint,
	"retained" bigint,
	"resurrected" bigint,
	"churned" bigint,
	"revenue" double precision,
	"new_revenue" double precision,
	"retained_revenue" double precision,
	"expansion" double precision,
	"contraction" double precision,
	"resurrected_revenue" double precision,
	"churned_revenue" double precision,
	"quick_ratio" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'growth_accounting_wrapper';

CREATE FUNCTION "lifecycle"(
	"events" TEXT,
	"period" TEXT DEFAULT 'week',
	"from_ts" timestamp with time zone DEFAULT NULL,
	"to_ts" timestamp with time zone DEFAULT NULL
) RETURNS TABLE (
	"period_start" timestamp with time zone,
	"status" TEXT,
	"users" bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'lifecycle_wrapper';

CREATE FUNCTION "path_summary"(
	"events" TEXT,
	"max_steps" INT DEFAULT 5,
	"start_event" TEXT DEFAULT NULL,
	"session_gap" interval DEFAULT NULL,
	"collapse_repeats" bool DEFAULT true,
	"top" INT DEFAULT 20
) RETURNS TABLE (
	"path" TEXT,
	"users" bigint,
	"share" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'path_summary_wrapper';

CREATE FUNCTION "path_transitions"(
	"events" TEXT,
	"max_steps" INT DEFAULT 5,
	"start_event" TEXT DEFAULT NULL,
	"session_gap" interval DEFAULT NULL,
	"collapse_repeats" bool DEFAULT true
) RETURNS TABLE (
	"step" INT,
	"from_event" TEXT,
	"to_event" TEXT,
	"users" bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'path_transitions_wrapper';

CREATE FUNCTION "retention"(
	"events" TEXT,
	"cohort_event" TEXT DEFAULT NULL,
	"return_event" TEXT DEFAULT NULL,
	"period" TEXT DEFAULT 'week',
	"periods" INT DEFAULT 12
) RETURNS TABLE (
	"cohort_start" timestamp with time zone,
	"cohort_size" bigint,
	"period" INT,
	"retained" bigint,
	"rate" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'retention_wrapper';

CREATE FUNCTION "segment_migration"(
	"before" TEXT,
	"after" TEXT
) RETURNS TABLE (
	"from_segment" TEXT,
	"to_segment" TEXT,
	"customers" bigint,
	"share_of_from" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'segment_migration_wrapper';

CREATE FUNCTION "purchase_features"(
	"transactions" TEXT,
	"as_of" timestamp with time zone,
	"horizon" interval DEFAULT NULL
) RETURNS TABLE (
	"customer_key" TEXT,
	"recency_days" double precision,
	"frequency" bigint,
	"monetary_mean" double precision,
	"monetary_total" double precision,
	"tenure_days" double precision,
	"mean_days_between" double precision,
	"purchases_last_90d" bigint,
	"amount_last_90d" double precision,
	"label" bool
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'purchase_features_wrapper';

CREATE FUNCTION "propensity_evaluate"(
	"model" jsonb,
	"data" TEXT,
	"bins" INT DEFAULT 10
) RETURNS TABLE (
	"bin" INT,
	"customers" bigint,
	"positives" bigint,
	"min_score" double precision,
	"max_score" double precision,
	"rate" double precision,
	"lift" double precision,
	"cumulative_positives_share" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_evaluate_wrapper';

CREATE FUNCTION "propensity_fit"(
	"training" TEXT,
	"algorithm" TEXT DEFAULT 'gbt',
	"holdout" double precision DEFAULT 0.2,
	"seed" bigint DEFAULT 0,
	"options" jsonb DEFAULT '{}'
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_fit_wrapper';

CREATE FUNCTION "propensity_holdout"(
	"key" TEXT,
	"holdout" double precision DEFAULT 0.2,
	"seed" bigint DEFAULT 0
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_holdout_wrapper';

CREATE FUNCTION "propensity_importance"(
	"model" jsonb
) RETURNS TABLE (
	"feature" TEXT,
	"importance" double precision
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_importance_wrapper';

CREATE FUNCTION "propensity_metrics"(
	"model" jsonb,
	"data" TEXT
) RETURNS TABLE (
	"metric" TEXT,
	"value" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_metrics_wrapper';

CREATE FUNCTION "propensity_score"(
	"model" jsonb,
	"features" double precision[]
) RETURNS double precision
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'propensity_score_wrapper';

CREATE FUNCTION "sessions"(
	"events" TEXT,
	"gap" interval DEFAULT '30 minutes'
) RETURNS TABLE (
	"key" TEXT,
	"session" bigint,
	"session_start" timestamp with time zone,
	"session_end" timestamp with time zone,
	"events" bigint,
	"first_event" TEXT,
	"last_event" TEXT
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'sessions_wrapper';

CREATE FUNCTION "window_funnel_combine"(
	"left" internal,
	"right" internal
) RETURNS internal
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_combine_wrapper';

CREATE FUNCTION "window_funnel_deserialize"(
	"bytes" bytea,
	"_unused" internal
) RETURNS internal
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_deserialize_wrapper';

CREATE FUNCTION "window_funnel_final"(
	"state" internal
) RETURNS INT
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_final_wrapper';

CREATE FUNCTION "window_funnel_mode_transition"(
	"state" internal,
	"window" interval,
	"ts" timestamp with time zone,
	"steps" bool[],
	"mode" TEXT
) RETURNS internal
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_mode_transition_wrapper';

CREATE FUNCTION "window_funnel_serialize"(
	"state" internal
) RETURNS bytea
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_serialize_wrapper';

CREATE FUNCTION "window_funnel_transition"(
	"state" internal,
	"window" interval,
	"ts" timestamp with time zone,
	"steps" bool[]
) RETURNS internal
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'window_funnel_transition_wrapper';

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

-- A COMMENT on every function, old and new (as sql/comments.sql in the install script).

COMMENT ON FUNCTION attribute_channels(touchpoints text, conversions text, model text, lookback interval, max_touches integer, half_life interval, weights double precision[], exclude_channels text[], path_transform text, reset_on_conversion boolean, markov_order integer, markov_self_loops boolean, seed bigint, max_channels integer) IS
    'Conversions and value credited to each channel under a rule-based or data-driven attribution model (see docs/attribution.md)';
COMMENT ON FUNCTION attribute_paths(paths text, model text, separator text, weights double precision[], exclude_channels text[], path_transform text, markov_order integer, markov_self_loops boolean, seed bigint, max_channels integer) IS
    'Channel credit from aggregated paths with their conversions, value and non-converting counts (see docs/attribution.md)';
COMMENT ON FUNCTION attribute_touchpoints(touchpoints text, conversions text, model text, lookback interval, max_touches integer, half_life interval, weights double precision[], exclude_channels text[], path_transform text, reset_on_conversion boolean, markov_order integer, markov_self_loops boolean, seed bigint, max_channels integer) IS
    'Credit of each touch for each conversion under a rule-based or data-driven attribution model (see docs/attribution.md)';
COMMENT ON FUNCTION channel_preference(touchpoints text, as_of timestamp with time zone, half_life interval, conversions text) IS
    'Each customer''s preferred channel by exponentially decayed touches, and the channel that converts them (see docs/states.md)';
COMMENT ON FUNCTION channel_roi(touchpoints text, conversions text, spend text, models text[], lookback interval, half_life interval, markov_order integer) IS
    'Attributed conversions and value against spend per channel and attribution model (see docs/roi.md)';
COMMENT ON FUNCTION clv_expected_purchases(model jsonb, horizon double precision, frequency double precision, recency double precision, t double precision) IS
    'Expected purchases of a customer in the next t time units under a fitted model (see docs/clv.md)';
COMMENT ON FUNCTION clv_expected_value(model jsonb, frequency double precision, monetary double precision) IS
    'Expected order value of a customer under a fitted Gamma-Gamma model (see docs/clv.md)';
COMMENT ON FUNCTION clv_fit(transactions text, as_of timestamp with time zone, time_unit interval, penalizer double precision) IS
    'Fits BG/NBD and Gamma-Gamma to transactions and returns the model as jsonb (see docs/clv.md)';
COMMENT ON FUNCTION clv_p_alive(model jsonb, frequency double precision, recency double precision, t double precision) IS
    'Probability that a customer is alive under a fitted BG/NBD model (see docs/clv.md)';
COMMENT ON FUNCTION clv_value(model jsonb, frequency double precision, recency double precision, t double precision, monetary double precision, horizon_months integer, discount_rate double precision) IS
    'Discounted lifetime value of a customer over a horizon under a fitted model (see docs/clv.md)';
COMMENT ON FUNCTION customer_lifetime_value(transactions text, as_of timestamp with time zone, time_unit interval, horizon_months integer, discount_rate double precision, penalizer double precision) IS
    'Probability alive, expected purchases, expected order value and CLV of each customer (see docs/clv.md)';
COMMENT ON FUNCTION customer_stage(transactions text, as_of timestamp with time zone, new_within interval, active_within interval, churned_after interval) IS
    'Lifecycle stage (new, reactivated, active, lapsed, churned) of each customer at as_of (see docs/states.md)';
COMMENT ON FUNCTION decayed_activity_combine("left" internal, "right" internal) IS
    'Support function of the decayed_activity aggregate';
COMMENT ON FUNCTION decayed_activity_deserialize(bytes bytea, _unused internal) IS
    'Support function of the decayed_activity aggregate';
COMMENT ON FUNCTION decayed_activity_final(state internal) IS
    'Support function of the decayed_activity aggregate';
COMMENT ON FUNCTION decayed_activity_serialize(state internal) IS
    'Support function of the decayed_activity aggregate';
COMMENT ON FUNCTION decayed_activity_transition(state internal, ts timestamp with time zone, amount double precision, half_life interval, as_of timestamp with time zone) IS
    'Support function of the decayed_activity aggregate';
COMMENT ON FUNCTION funnel(events text, steps text[], "window" interval, mode text) IS
    'Users reaching each step of a funnel of event names, conversion rates and times between steps (see docs/journeys.md)';
COMMENT ON FUNCTION growth_accounting(transactions text, period text, from_ts timestamp with time zone, to_ts timestamp with time zone) IS
    'New, retained, resurrected and churned customers and revenue per period (see docs/states.md)';
COMMENT ON FUNCTION kmeans_assign(model jsonb, features double precision[]) IS
    'Segment of one feature vector under a fitted k-means or mixture model (see docs/segmentation.md)';
COMMENT ON FUNCTION kmeans_choose_k(features text, scale text, seed bigint, n_init integer, max_iter integer, tolerance double precision, algorithm text, k_min integer, k_max integer) IS
    'Inertia and silhouette for each k of a range, with the best k marked (see docs/segmentation.md)';
COMMENT ON FUNCTION kmeans_distance(model jsonb, features double precision[]) IS
    'Distance of one feature vector to its segment''s centre under a fitted model (see docs/segmentation.md)';
COMMENT ON FUNCTION kmeans_fit(features text, k integer, scale text, seed bigint, n_init integer, max_iter integer, tolerance double precision, algorithm text) IS
    'Fits k-means or a Gaussian mixture to feature rows and returns the model as jsonb (see docs/segmentation.md)';
COMMENT ON FUNCTION kmeans_profile(model jsonb) IS
    'Size and centre of each segment of a fitted model, in the features'' own units (see docs/segmentation.md)';
COMMENT ON FUNCTION kmeans_segment(features text, k integer, scale text, seed bigint, n_init integer, max_iter integer, tolerance double precision, algorithm text) IS
    'Fits k-means and returns each row''s segment and distance (see docs/segmentation.md)';
COMMENT ON FUNCTION lifecycle(events text, period text, from_ts timestamp with time zone, to_ts timestamp with time zone) IS
    'New, returning, resurrecting and dormant keys per period, as PostHog''s lifecycle (see docs/journeys.md)';
COMMENT ON FUNCTION markov_transition_matrix(paths text, separator text, exclude_channels text[], path_transform text, markov_order integer, markov_self_loops boolean, max_channels integer) IS
    'Transition probabilities of the Markov chain built from aggregated paths (see docs/attribution.md)';
COMMENT ON FUNCTION path_summary(events text, max_steps integer, start_event text, session_gap interval, collapse_repeats boolean, top integer) IS
    'The most common paths of event names and the keys that took them (see docs/journeys.md)';
COMMENT ON FUNCTION path_transitions(events text, max_steps integer, start_event text, session_gap interval, collapse_repeats boolean) IS
    'Keys going from one event to the next at each step of their paths, for Sankey diagrams (see docs/journeys.md)';
COMMENT ON FUNCTION propensity_evaluate(model jsonb, data text, bins integer) IS
    'The gains table of labelled rows under a propensity model: rows by descending score cut into bins, with each bin''s rate, lift and cumulative share of positives (see docs/propensity.md)';
COMMENT ON FUNCTION propensity_fit(training text, algorithm text, holdout double precision, seed bigint, options jsonb) IS
    'Fits a model of the probability of a label (boolean or 0/1) from features by gradient-boosted trees (gbt, the default) or logistic regression, holding out a seeded share of keys for the metrics the model reports; returns the model as jsonb (see docs/propensity.md)';
COMMENT ON FUNCTION propensity_holdout(key text, holdout double precision, seed bigint) IS
    'Whether propensity_fit with this holdout share and seed holds out the key: the model''s own holdout rows (see docs/propensity.md)';
COMMENT ON FUNCTION propensity_importance(model jsonb) IS
    'Each feature''s share of a propensity model''s importance, largest first (see docs/propensity.md)';
COMMENT ON FUNCTION propensity_metrics(model jsonb, data text) IS
    'AUC, log loss, Brier score, accuracy, base rate and row count of labelled rows under a propensity model (see docs/propensity.md)';
COMMENT ON FUNCTION propensity_score(model jsonb, features double precision[]) IS
    'The probability of the positive class for one row of features under a model from propensity_fit; a NULL feature is a missing value under gbt and makes the score NULL under logistic (see docs/propensity.md)';
COMMENT ON FUNCTION purchase_features(transactions text, as_of timestamp with time zone, horizon interval) IS
    'Per customer, features from the transactions before as_of and whether they bought in the horizon after it: the training rows of a repurchase or churn model (see docs/propensity.md)';
COMMENT ON FUNCTION retention(events text, cohort_event text, return_event text, period text, periods integer) IS
    'Cohorts by the period of their first cohort event and the share returning in each later period (see docs/journeys.md)';
COMMENT ON FUNCTION rfm_score(transactions text, as_of timestamp with time zone, bins integer, monetary text, segment_map text, r_edges double precision[], f_edges double precision[], m_edges double precision[]) IS
    'RFM summary, scores and segment of each customer (see docs/rfm.md)';
COMMENT ON FUNCTION rfm_summary_combine("left" internal, "right" internal) IS
    'Support function of the rfm_summary aggregate';
COMMENT ON FUNCTION rfm_summary_deserialize(bytes bytea, _unused internal) IS
    'Support function of the rfm_summary aggregate';
COMMENT ON FUNCTION rfm_summary_final(state internal) IS
    'Support function of the rfm_summary aggregate';
COMMENT ON FUNCTION rfm_summary_serialize(state internal) IS
    'Support function of the rfm_summary aggregate';
COMMENT ON FUNCTION rfm_summary_transition(state internal, ts timestamp with time zone, amount double precision, as_of timestamp with time zone) IS
    'Support function of the rfm_summary aggregate';
COMMENT ON FUNCTION rfm_thresholds(transactions text, as_of timestamp with time zone, bins integer, monetary text, r_edges double precision[], f_edges double precision[], m_edges double precision[]) IS
    'Value range and customer count of each RFM score per dimension (see docs/rfm.md)';
COMMENT ON FUNCTION segment_migration(before text, after text) IS
    'Customers per (segment before, segment after) pair of two snapshots (see docs/states.md)';
COMMENT ON FUNCTION segment_roi(members text, orders text, costs text, period_start timestamp with time zone, period_end timestamp with time zone, confidence double precision) IS
    'Revenue, cost, CAC, ROI, ROAS and lift over a control group per segment (see docs/roi.md)';
COMMENT ON FUNCTION sessions(events text, gap interval) IS
    'Each key''s sessions: its events split where more than gap passes between two of them (see docs/journeys.md)';
COMMENT ON FUNCTION window_funnel_combine("left" internal, "right" internal) IS
    'Support function of the window_funnel aggregate';
COMMENT ON FUNCTION window_funnel_deserialize(bytes bytea, _unused internal) IS
    'Support function of the window_funnel aggregate';
COMMENT ON FUNCTION window_funnel_final(state internal) IS
    'Support function of the window_funnel aggregate';
COMMENT ON FUNCTION window_funnel_mode_transition(state internal, "window" interval, ts timestamp with time zone, steps boolean[], mode text) IS
    'Support function of the window_funnel aggregate';
COMMENT ON FUNCTION window_funnel_serialize(state internal) IS
    'Support function of the window_funnel aggregate';
COMMENT ON FUNCTION window_funnel_transition(state internal, "window" interval, ts timestamp with time zone, steps boolean[]) IS
    'Support function of the window_funnel aggregate';
