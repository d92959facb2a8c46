//! pg_marketing: marketing attribution and customer segmentation inside PostgreSQL.
//!
//! `core` holds the maths and knows nothing of Postgres; `api` is the SQL surface; every
//! function that takes a query text reads it through `input`; `error` maps errors to SQLSTATEs.

mod api;
pub mod core;
pub mod error;
pub mod input;

::pgrx::pg_module_magic!(name, version);

#[cfg(any(test, feature = "pg_test"))]
mod test_support;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
