//! Property tests (proptest) of the pure parsers that take what a user types: path strings,
//! model jsonb, option names. Whatever the text, they return a value or an error, never
//! panic, and the models they accept are ones the scorers can use.

use ndarray::Array2;
use proptest::prelude::*;

use super::attribution::rules::RuleModel;
use super::clustering::{self, Algorithm, FitOptions, ScaleMethod, Scorer};
use super::clv;
use super::journey::PathTransform;
use super::split_path;

/// A k-means or mixture model as kmeans_fit writes it.
fn fitted_model(algorithm: Algorithm) -> String {
    let data = Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + (i % 3) as f64 * 20.0);
    let options = FitOptions {
        k: 3,
        scale: ScaleMethod::Zscore,
        seed: 1,
        n_init: 1,
        max_iter: 50,
        tolerance: 1e-4,
        algorithm,
    };
    let fitted = clustering::fit(data, vec!["x".into(), "y".into()], &options, &mut || {}).unwrap();
    fitted.model.to_json()
}

/// A CLV model as clv_fit writes it.
const CLV_MODEL: &str = r#"{"as_of": "2024-04-26 00:00:00+00", "bgnbd": {"a": 0.5, "b": 2.5, "r": 0.9, "alpha": 190.0, "log_likelihood": -112.5}, "format": "pg_marketing.clv", "version": 1, "n_repeat": 12, "converged": true, "time_unit": "1 day", "iterations": 342, "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44, "log_likelihood": -10.0}, "n_customers": 40, "time_unit_days": 1.0}"#;

/// JSON numbers and values that stress a parser: beyond float8, negative, fractional counts,
/// wrong kinds.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e999".to_string()),
        Just("-1e999".to_string()),
        Just("1e19".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("0.5".to_string()),
        Just("null".to_string()),
        Just("\"x\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[[1e308, -1e308]]".to_string()),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
        any::<i64>().prop_map(|x| x.to_string()),
    ]
}

/// Replaces the value after the n-th ':' of `json` (a crude but shape-keeping mutation).
fn mutate(json: &str, n: usize, value: &str) -> String {
    let colons: Vec<usize> = json.match_indices(':').map(|(i, _)| i).collect();
    let at = colons[n % colons.len()] + 1;
    let rest = &json[at..];
    // the old value ends at the next ',' or '}' at its own depth
    let mut depth = 0i32;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' if depth > 0 => depth -= 1,
                ',' | '}' if depth == 0 => return true,
                _ => {}
            }
            false
        })
        .map_or(rest.len(), |(i, _)| i);
    format!("{}{value}{}", &json[..at], &rest[end..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn paths_split_into_trimmed_non_empty_names(text in ".{0,200}", separator in "[>,|; ]{1,3}") {
        for part in split_path(&text, &separator) {
            prop_assert!(!part.is_empty());
            prop_assert_eq!(part, part.trim());
        }
    }

    #[test]
    fn option_names_parse_or_are_refused(name in ".{0,40}", half_life in any::<i64>(), weights in proptest::collection::vec(any::<f64>(), 0..5)) {
        let _ = RuleModel::parse(&name, half_life, Some(&weights));
        let _ = PathTransform::parse(&name);
        let _ = ScaleMethod::parse(&name);
        let _ = Algorithm::parse(&name);
    }

    #[test]
    fn any_text_as_a_model_is_a_value_or_an_error(text in ".{0,300}") {
        prop_assert!(clustering::Model::from_json(&text).is_err() || text.contains("pg_marketing.kmeans"));
        prop_assert!(clv::Model::from_json(&text).is_err() || text.contains("pg_marketing.clv"));
    }

    #[test]
    fn a_tampered_kmeans_model_is_refused_or_scores(which in 0usize..2, field in 0usize..200, value in hostile_value()) {
        let algorithm = if which == 0 { Algorithm::Kmeans } else { Algorithm::Gmm };
        let tampered = mutate(&fitted_model(algorithm), field, &value);
        if let Ok(model) = clustering::Model::from_json(&tampered) {
            // what the parser accepts, the scorer either refuses or scores with finite numbers
            if let Ok(scorer) = Scorer::new(&model) {
                let d = scorer.dimensions();
                let (row, mut scratch) = (vec![1.0; d], vec![0.0; d]);
                let (segment, distance) = scorer.assign(&row, &mut scratch);
                prop_assert!(segment < model.k);
                prop_assert!(!distance.is_nan());
            }
        }
    }

    #[test]
    fn a_tampered_clv_model_is_refused_or_has_usable_parameters(field in 0usize..40, value in hostile_value()) {
        let tampered = mutate(CLV_MODEL, field, &value);
        if let Ok(model) = clv::Model::from_json(&tampered) {
            let c = clv::Customer { frequency: 2.0, recency: 10.0, t: 30.0, monetary: 20.0 };
            let p_alive = model.bgnbd.params.p_alive(&c);
            prop_assert!(p_alive.is_nan() || (0.0..=1.0).contains(&p_alive), "{}", p_alive);
            let _ = model.bgnbd.params.expected_purchases(30.0, &c);
        }
    }
}

#[test]
fn the_mutation_keeps_the_json_well_formed() {
    let model = fitted_model(Algorithm::Kmeans);
    for n in 0..model.matches(':').count() {
        let tampered = mutate(&model, n, "0");
        assert!(serde_json::from_str::<serde_json::Value>(&tampered).is_ok(), "{tampered}");
    }
    assert!(clustering::Model::from_json(&model).is_ok(), "the untampered model parses");
    assert!(clv::Model::from_json(CLV_MODEL).is_ok(), "the untampered CLV model parses");
}
