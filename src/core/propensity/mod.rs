//! Propensity: who will buy (or leave) next. Definitions: docs/propensity.md.

pub mod features;
