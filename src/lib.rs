//! pg_marketing: marketing attribution and customer segmentation inside PostgreSQL.
//!
//! `core` holds the maths and knows nothing of Postgres; `api` is the SQL surface; every
//! function that takes a query text reads it through `input`; `error` maps errors to SQLSTATEs.

mod api;
pub mod core;
pub mod error;
pub mod input;

::pgrx::pg_module_magic!(name, version);

use pgrx::{pg_guard, GucContext, GucFlags, GucRegistry, GucSetting};

/// pg_marketing.max_fit_memory, in kB: the most feature values a fit may hold in memory.
static MAX_FIT_MEMORY_KB: GucSetting<i32> = GucSetting::<i32>::new(4 * 1024 * 1024);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    GucRegistry::define_int_guc(
        c"pg_marketing.max_fit_memory",
        c"The most memory a k-means fit may use for its feature values.",
        c"A fit that would need more stops with ERROR 54000 instead of exhausting the server.",
        &MAX_FIT_MEMORY_KB,
        1024,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
}

/// pg_marketing.max_fit_memory in bytes.
pub(crate) fn max_fit_memory_bytes() -> u64 {
    MAX_FIT_MEMORY_KB.get().max(0) as u64 * 1024
}

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
