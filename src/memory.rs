//! The memory pg_marketing's Rust code holds, and what happens when it runs short.
//!
//! Every Rust allocation of the extension goes through `Counting`, which keeps the bytes
//! in use in this backend (worker threads included). Two things follow:
//!
//! - **The budget.** `check` compares the bytes the current statement added (those in use
//!   now less those in use when it first checked) with pg_marketing.memory_budget and
//!   raises 54000 when they exceed it. Reading input checks it every batch of rows, and the
//!   core's long loops check it through the interrupt callback, so a call stops near the
//!   budget with a message instead of exhausting the server. Counting from the statement's
//!   start leaves out what the backend keeps across statements (the standard library's
//!   caches, the models cached per call site).
//! - **Allocation failure.** Rust's default on a failed allocation is to abort the process,
//!   and the postmaster then restarts every session. A panic cannot leave an allocator
//!   (the allocation shims do not unwind), so on the backend's own thread a failure raises
//!   Postgres' ERROR 53200 out_of_memory directly, as C code does: the error longjmps to
//!   the nearest Postgres handler. The Rust frames it skips run no destructors, so what
//!   they held stays allocated until the backend exits; the server keeps running. The
//!   backend's thread first waits for any worker threads to finish their work, since they
//!   borrow the frames the longjmp leaves. Worker threads (k-means passes) cannot raise:
//!   one whose allocation fails gives the out-of-memory reserve back to the system and
//!   tries again, and the backend's thread raises 53200 at its next check (unwinding, so
//!   the call's memory is freed). Only if that retry fails too does the worker abort, as
//!   Rust does by default; they allocate only per-block partial sums.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
#[cfg(not(test))]
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crate::error::{Error, ErrorKind};

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Set when a worker thread's allocation failed and was served only after giving up the
/// reserve; the backend's thread raises 53200 at its next check.
static WORKER_RAN_SHORT: AtomicBool = AtomicBool::new(false);

// SAFETY: every method forwards to the system allocator with the same layout and only
// adds bookkeeping; a null result either raises (never returns), is retried once with the
// same arguments, or is passed on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let system = || if refused() { std::ptr::null_mut() } else { System.alloc(layout) };
        allocated(system, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let system = || if refused() { std::ptr::null_mut() } else { System.alloc_zeroed(layout) };
        allocated(system, layout.size())
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A failed realloc leaves the block where it was, so it can be tried again.
        let system =
            || if refused() { std::ptr::null_mut() } else { System.realloc(pointer, layout, new_size) };
        let moved = allocated(system, new_size);
        if !moved.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

/// Runs the system allocation, handling a failure, and counts what it got.
#[inline]
fn allocated(system: impl Fn() -> *mut u8, size: usize) -> *mut u8 {
    let mut pointer = system();
    if pointer.is_null() {
        out_of_memory(size);
        // only a worker thread gets here: with the reserve given back, once more
        pointer = system();
    }
    if !pointer.is_null() {
        IN_USE.fetch_add(size, Ordering::Relaxed);
    }
    pointer
}

#[cfg(test)]
thread_local! {
    /// How many of this thread's next system allocations the tests make fail.
    static REFUSALS: Cell<usize> = const { Cell::new(0) };
}

/// Whether a test has this allocation fail (never outside the unit tests).
#[inline]
fn refused() -> bool {
    #[cfg(test)]
    {
        REFUSALS.with(|left| {
            let n = left.get();
            left.set(n.saturating_sub(1));
            n > 0
        })
    }
    #[cfg(not(test))]
    false
}

// Postgres' error reporting, declared here rather than taken from pg_sys: pgrx wraps its
// pg_sys functions in a guard that turns an ERROR into a Rust panic, and a panic must not
// leave the allocator. (The plain unit-test binary runs outside Postgres, without them.)
#[cfg(not(test))]
extern "C" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errmsg(fmt: *const c_char, ...) -> c_int;
    fn errhint(fmt: *const c_char, ...) -> c_int;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
}

/// Raises ERROR 53200 on the backend's thread (does not return). On a worker thread,
/// which cannot raise, gives the reserve back to the system and returns for one more try,
/// leaving the ERROR to the backend's thread.
#[cold]
fn out_of_memory(size: usize) {
    // SAFETY: gettid and getpid only read; the backend's thread is the process' first,
    // whose thread id is the process id.
    let on_backend_thread = unsafe { libc::gettid() == libc::getpid() };
    if on_backend_thread {
        // The ERROR longjmps past the frames that worker threads borrow: let them finish first.
        while crate::core::parallel::workers_running() > 0 {
            std::thread::yield_now();
        }
        // What handles the error (pgrx's conversion of it, the unwinding, the report) needs
        // memory too.
        release_reserve();
        raise_out_of_memory(size);
    } else {
        release_reserve();
        WORKER_RAN_SHORT.store(true, Ordering::Release);
    }
}

/// The unit-test binary runs outside Postgres: there is nothing to raise to.
#[cfg(test)]
fn raise_out_of_memory(_size: usize) {}

#[cfg(not(test))]
fn raise_out_of_memory(size: usize) {
    let sqlstate = pgrx::PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY as c_int;
    // SAFETY: the ereport(ERROR, ...) sequence of C; errfinish does not return at ERROR.
    unsafe {
        if errstart(pgrx::PgLogLevel::ERROR as c_int, c"pg_marketing".as_ptr()) {
            errcode(sqlstate);
            errmsg(c"out of memory in pg_marketing (a request for %zu bytes failed)".as_ptr(), size);
            errhint(c"Lower pg_marketing.memory_budget so that calls stop before the server runs short, or give the query less data.".as_ptr());
            errfinish(c"memory.rs".as_ptr(), line!() as c_int, c"out_of_memory".as_ptr());
        }
    }
}

/// Memory set aside for handling an out-of-memory ERROR: freed just before it is raised,
/// taken again when the next statement starts reading. Without it, the first allocation of
/// the error's own handling fails too, and a second ERROR raised in the middle of the first
/// one's handling crashes the backend.
const RESERVE_BYTES: usize = 16 * 1024 * 1024;
static RESERVE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

fn reserve_layout() -> Layout {
    Layout::from_size_align(RESERVE_BYTES, 4096).expect("a valid layout")
}

fn take_reserve() {
    if RESERVE.load(Ordering::Relaxed).is_null() {
        // SAFETY: a plain system allocation, freed only by release_reserve with the same layout;
        // not counted: it is not the statement's.
        let block = unsafe { System.alloc(reserve_layout()) };
        RESERVE.store(block, Ordering::Relaxed);
    }
}

fn release_reserve() {
    let block = RESERVE.swap(std::ptr::null_mut(), Ordering::Relaxed);
    if !block.is_null() {
        // SAFETY: allocated by take_reserve with this layout, and swapped out so freed once.
        unsafe { System.dealloc(block, reserve_layout()) };
    }
}

/// Bytes the extension's Rust code holds in this backend now.
fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

thread_local! {
    /// The statement (by its start time) whose baseline this is, and the bytes in use when
    /// it first checked. Read and written on the backend's thread only.
    static BASELINE: Cell<(i64, usize)> = const { Cell::new((i64::MIN, 0)) };
}

/// Bytes the current statement added since it first checked (that first check sets the
/// baseline, so it passes).
fn held_by_statement() -> usize {
    // SAFETY: reads a backend global set at each statement's start.
    let statement = unsafe { pgrx::pg_sys::GetCurrentStatementStartTimestamp() };
    let now = in_use();
    BASELINE.with(|baseline| {
        let (owner, base) = baseline.get();
        if owner == statement {
            now.saturating_sub(base)
        } else {
            baseline.set((statement, now));
            0
        }
    })
}

/// Raises 53200 when a worker thread ran short of memory since the last check, and 54000
/// when the current statement holds more than pg_marketing.memory_budget.
pub fn check() {
    if WORKER_RAN_SHORT.swap(false, Ordering::AcqRel) {
        Error::new(ErrorKind::OutOfMemory, "out of memory in pg_marketing (a worker thread's request failed)")
            .with_hint(
                "Lower pg_marketing.memory_budget so that calls stop before the server runs short, or give the query less data.",
            )
            .raise();
    }
    let budget = crate::memory_budget_bytes();
    let held = held_by_statement();
    if held > budget {
        Error::new(
            ErrorKind::ProgramLimit,
            format!(
                "pg_marketing needs more than pg_marketing.memory_budget ({} MB) for this statement ({} MB held)",
                budget / MB,
                held / MB
            ),
        )
        .with_hint(
            "give the call less data: a sample (TABLESAMPLE), a shorter period, a narrower lookback or fewer \
             channels (max_channels); or ask the DBA to raise pg_marketing.memory_budget",
        )
        .raise();
    }
}

/// Raises 54000 before a step that will allocate about `bytes` at once when that would take
/// the statement past pg_marketing.memory_budget; `fewer` says what the caller can reduce.
pub fn require(bytes: usize, step: &str, fewer: &str) {
    let budget = crate::memory_budget_bytes();
    let held = held_by_statement();
    if held.saturating_add(bytes) > budget {
        Error::new(
            ErrorKind::ProgramLimit,
            format!(
                "{step} needs about {} MB more, beyond pg_marketing.memory_budget ({} MB; {} MB held)",
                bytes.div_ceil(MB),
                budget / MB,
                held / MB
            ),
        )
        .with_hint(format!("{fewer}; or ask the DBA to raise pg_marketing.memory_budget"))
        .raise();
    }
}

const MB: usize = 1024 * 1024;

/// Starts the statement's count here, if nothing did before: input calls it before the
/// first row, so that what a call holds counts from its start. Takes the out-of-memory
/// reserve again if an error used it.
pub fn start_counting() {
    // a shortage of an earlier statement's workers is not this one's
    WORKER_RAN_SHORT.store(false, Ordering::Release);
    take_reserve();
    held_by_statement();
}

#[cfg(test)]
mod tests {
    use super::*;

    // The unit tests run on the harness' threads, never the process' first: to the
    // allocator they are worker threads.
    #[test]
    fn a_worker_whose_allocation_is_refused_gives_the_reserve_back_and_the_next_check_raises() {
        take_reserve();
        assert!(!RESERVE.load(Ordering::Relaxed).is_null());
        REFUSALS.with(|left| left.set(1));
        let served: Vec<u64> = Vec::with_capacity(1000);
        assert_eq!(served.capacity(), 1000, "the retry after giving the reserve back is served");
        assert!(RESERVE.load(Ordering::Relaxed).is_null(), "the reserve went back to the system");
        assert!(WORKER_RAN_SHORT.swap(false, Ordering::AcqRel), "the backend's next check raises 53200");

        // refused twice, the allocation fails: Vec's fallible reserve shows the null result
        REFUSALS.with(|left| left.set(2));
        let mut refused: Vec<u64> = Vec::new();
        assert!(refused.try_reserve(1000).is_err());
        REFUSALS.with(|left| left.set(0));
        WORKER_RAN_SHORT.store(false, Ordering::Release);
        take_reserve();
    }
}
