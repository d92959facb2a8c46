//! The jsonb models the fits return (k-means, CLV, propensity) begin with their format and
//! version; a scorer reads only its own kind, and names the function that makes it.

use serde::de::DeserializeOwned;

use crate::core::error::{Error, Result};

/// One kind of model, as its messages name it.
pub struct ModelKind {
    pub format: &'static str,
    pub version: u32,
    /// e.g. "k-means"
    pub name: &'static str,
    /// The function that returns it, e.g. "kmeans_fit".
    pub fitter: &'static str,
}

impl ModelKind {
    /// The model in `text`: 22023 unless it is this kind at this version, or when its fields
    /// do not deserialise (the model is damaged).
    pub fn parse<T: DeserializeOwned>(&self, text: &str) -> Result<T> {
        let not_ours = || {
            Error::invalid_parameter(format!(
                "the model is not a pg_marketing {} model of version {}",
                self.name, self.version
            ))
            .with_hint(self.hint())
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| not_ours())?;
        if value.get("format").and_then(|f| f.as_str()) != Some(self.format)
            || value.get("version").and_then(|v| v.as_u64()) != Some(self.version.into())
        {
            return Err(not_ours());
        }
        serde_json::from_value(value).map_err(|e| self.damaged(e.to_string()))
    }

    /// 22023: the model's fields do not agree with each other.
    pub fn damaged(&self, what: String) -> Error {
        Error::invalid_parameter(format!("the {} model is damaged: {what}", self.name)).with_hint(self.hint())
    }

    fn hint(&self) -> String {
        format!("Pass the jsonb that {} returned.", self.fitter)
    }
}
