//! Options given as a jsonb object of named hyper-parameters: every name must be known and
//! every value of its type and range, else 22023 naming it, so that a misspelt option never
//! falls back to its default unnoticed.

use serde_json::{Map, Value};

use crate::core::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    argument: &'static str,
    given: Map<String, Value>,
}

impl Options {
    /// Parses `text` (a JSON object; NULL is no options) and refuses names not in `known`.
    pub fn parse(argument: &'static str, text: Option<&str>, known: &[&str]) -> Result<Options> {
        let given = match text {
            None => Map::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(given)) => given,
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "{argument} must be a JSON object, its numbers within float8's range"
                    ))
                    .with_hint(format!("e.g. '{{\"{}\": ...}}'", known.first().unwrap_or(&"name"))))
                }
            },
        };
        // sorted, so that the first unknown name reported does not depend on the text's order
        let mut unknown: Vec<&String> = given.keys().filter(|name| !known.contains(&name.as_str())).collect();
        unknown.sort();
        if let Some(name) = unknown.first() {
            return Err(Error::invalid_parameter(format!("{argument}: unknown option \"{name}\""))
                .with_hint(format!("the options are {}", known.join(", "))));
        }
        Ok(Options { argument, given })
    }

    fn wrong(&self, name: &str, wanted: &str) -> Error {
        Error::invalid_parameter(format!("{}: option \"{name}\" must be {wanted}", self.argument))
    }

    /// A number in [min, max], or `default` when absent.
    pub fn number(&self, name: &str, default: f64, min: f64, max: f64) -> Result<f64> {
        match self.given.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_f64()
                .filter(|x| x.is_finite() && (min..=max).contains(x))
                .ok_or_else(|| self.wrong(name, &format!("a number between {min} and {max}"))),
        }
    }

    /// A number in [min, max], or None when absent.
    pub fn optional_number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>> {
        match self.given.contains_key(name) {
            true => self.number(name, 0.0, min, max).map(Some),
            false => Ok(None),
        }
    }

    /// true or false, or `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        match self.given.get(name) {
            None => Ok(default),
            Some(value) => value.as_bool().ok_or_else(|| self.wrong(name, "true or false")),
        }
    }

    /// An integer in [min, max], or `default` when absent.
    pub fn integer(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64> {
        match self.given.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_i64()
                .filter(|x| (min..=max).contains(x))
                .ok_or_else(|| self.wrong(name, &format!("an integer between {min} and {max}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_options_are_read_with_defaults_and_others_refused_by_name() {
        let known = ["l2", "max_iter"];
        let options = Options::parse("options", Some(r#"{"l2": 0.5}"#), &known).unwrap();
        assert_eq!(options.number("l2", 1.0, 0.0, 10.0), Ok(0.5));
        assert_eq!(options.integer("max_iter", 100, 1, 1000), Ok(100));
        assert_eq!(options.optional_number("max_iter", 0.0, 1.0), Ok(None));
        assert_eq!(Options::parse("options", None, &known).unwrap().integer("max_iter", 7, 1, 9), Ok(7));
        let flag = Options::parse("options", Some(r#"{"l2": true}"#), &known).unwrap();
        assert_eq!((flag.boolean("l2", false), flag.boolean("max_iter", true)), (Ok(true), Ok(true)));
        assert_eq!(
            options.boolean("l2", false).unwrap_err().message,
            "options: option \"l2\" must be true or false"
        );

        let message = |text: &str| {
            let parsed = Options::parse("options", Some(text), &known);
            let read =
                parsed.and_then(|o| o.number("l2", 1.0, 0.0, 10.0).and(o.integer("max_iter", 1, 1, 9)));
            read.unwrap_err().message
        };
        assert_eq!(message(r#"{"b": 1, "a": 2}"#), "options: unknown option \"a\"");
        assert_eq!(message("[1]"), "options must be a JSON object, its numbers within float8's range");
        assert_eq!(message(r#"{"l2": "x"}"#), "options: option \"l2\" must be a number between 0 and 10");
        assert_eq!(message(r#"{"l2": -1}"#), "options: option \"l2\" must be a number between 0 and 10");
        assert_eq!(
            message(r#"{"max_iter": 2.5}"#),
            "options: option \"max_iter\" must be an integer between 1 and 9"
        );
        assert_eq!(
            message(r#"{"max_iter": 10}"#),
            "options: option \"max_iter\" must be an integer between 1 and 9"
        );
    }
}
