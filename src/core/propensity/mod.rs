//! Propensity: who will buy (or leave) next. Definitions: docs/propensity.md.

pub mod features;
pub mod logistic;
pub mod metrics;
pub mod model;
pub mod trees;
