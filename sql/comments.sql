-- COMMENT ON every function of the extension that pgrx generates, so that \df+ and BI
-- tools' function browsers explain each one (the hand-written aggregates and types comment
-- themselves where they are created). The pg test every_object_of_the_extension_has_a_comment
-- fails when one has none.

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
