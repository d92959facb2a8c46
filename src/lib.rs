//! pg_marketing: marketing attribution and customer segmentation inside PostgreSQL.
//!
//! `core` holds the maths and knows nothing of Postgres; `api` is the SQL surface; every
//! function that takes a query text reads it through `input`; `error` maps errors to SQLSTATEs.

mod api;
pub mod core;
pub mod error;
pub mod input;
mod memory;

::pgrx::pg_module_magic!(name, version);

use pgrx::{pg_guard, GucContext, GucFlags, GucRegistry, GucSetting};

/// pg_marketing.memory_budget, in kB: the most memory the extension's Rust code may hold
/// in one backend (see memory.rs).
static MEMORY_BUDGET_KB: GucSetting<i32> = GucSetting::<i32>::new(4 * 1024 * 1024);

/// pg_marketing.max_threads: the most threads a call may use; 0 means one per core.
static MAX_THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Both are PGC_SUSET: they protect the server from its users, so only a superuser (or
    // a role granted SET on them) may raise them.
    GucRegistry::define_int_guc(
        c"pg_marketing.memory_budget",
        c"The most memory one pg_marketing call may hold in a backend.",
        c"A call that would need more stops with ERROR 54000 instead of exhausting the server.",
        &MEMORY_BUDGET_KB,
        1024,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"pg_marketing.max_threads",
        c"The most threads one pg_marketing call may use (0: one per core).",
        c"k-means and the other passes over many rows split their work over at most this many threads.",
        &MAX_THREADS,
        0,
        1024,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The callback the core's long loops call between steps, and reading between batches of
/// rows: honours cancel and statement_timeout, and stops a call that outgrows
/// pg_marketing.memory_budget.
pub(crate) fn interrupt() {
    pgrx::check_for_interrupts!();
    memory::check();
}

/// pg_marketing.memory_budget in bytes.
pub(crate) fn memory_budget_bytes() -> usize {
    MEMORY_BUDGET_KB.get().max(0) as usize * 1024
}

/// pg_marketing.max_threads, 0 meaning the cores.
pub(crate) fn max_threads() -> usize {
    MAX_THREADS.get().max(0) as usize
}

#[cfg(any(test, feature = "pg_test"))]
mod test_support;

#[cfg(any(test, feature = "pg_test"))]
mod reliability_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
