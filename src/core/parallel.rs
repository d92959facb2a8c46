//! Splitting one pass over many rows across the machine's cores, with scoped threads.
//!
//! The threads only compute: they touch no Postgres state and allocate with Rust's
//! allocator. They are spawned while the spawning thread blocks every signal, so they start
//! with every signal blocked (a new thread inherits the mask) and Postgres' handlers
//! (cancel, statement_timeout) keep running on the backend's own thread, which checks for
//! interrupts between passes. A thread that cannot be made leaves its share to the calling
//! thread: results come out the same, only slower.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Below this many rows a pass runs on the calling thread alone: a thread costs more.
const ROWS_PER_THREAD: usize = 50_000;

/// Rows per block of a reduction. Partial results are per block and combined in block
/// order, so a sum comes out the same whatever the number of cores.
pub const BLOCK_ROWS: usize = 65_536;

/// The most threads a pass may use; 0 means one per core.
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Worker threads whose work has not finished.
static WORKERS_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many worker threads are still working. An error that leaves the calling thread's
/// frames without unwinding (Postgres' longjmp, as the out-of-memory ERROR does) must wait
/// for 0 first: the workers borrow those frames.
pub fn workers_running() -> usize {
    WORKERS_RUNNING.load(Ordering::Acquire)
}

/// Counts a worker out when its work ends, however it ends.
struct Working;

impl Drop for Working {
    fn drop(&mut self) {
        WORKERS_RUNNING.fetch_sub(1, Ordering::Release);
    }
}

/// Caps the threads of the passes that follow (0: one per core). The SQL layer sets it
/// from pg_marketing.max_threads before each call that may use threads.
pub fn limit_threads(limit: usize) {
    THREAD_LIMIT.store(limit, Ordering::Relaxed);
}

/// How many threads a pass over `rows` rows uses.
pub fn threads_for(rows: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let allowed = match THREAD_LIMIT.load(Ordering::Relaxed) {
        0 => cores,
        limit => limit.min(cores),
    };
    allowed.min(rows / ROWS_PER_THREAD).max(1)
}

/// `0..n` in blocks of BLOCK_ROWS rows (the last shorter).
pub fn blocks(n: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(BLOCK_ROWS)).map(|b| b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n)).collect()
}

/// Runs `work` on each range, the ranges spread over `threads` threads in consecutive
/// groups (the first group on the calling thread), and returns the results in the ranges'
/// order: they do not depend on the number of threads.
pub fn map_ranges<R: Send>(
    ranges: &[Range<usize>],
    threads: usize,
    work: impl Fn(Range<usize>) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, ranges.len().max(1));
    let per_thread = ranges.len().div_ceil(threads).max(1);
    let groups: Vec<&[Range<usize>]> = ranges.chunks(per_thread).collect();
    run_groups(groups.len(), |g| groups[g].iter().map(|range| work(range.clone())).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

/// `map_ranges` over the blocks of `0..n`, with threads_for(n) threads.
pub fn map_blocks<R: Send>(n: usize, work: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    map_ranges(&blocks(n), threads_for(n), work)
}

/// Runs `work(first_row, rows)` on consecutive runs of the rows of `out` (rows of `width`
/// values, one run per thread, `threads_for(rows)`), `first_row` being the run's first row.
pub fn for_each_rows<T: Send>(out: &mut [T], width: usize, work: impl Fn(usize, &mut [T]) + Sync) {
    let width = width.max(1);
    let rows = out.len() / width;
    let rows_per_thread = rows.div_ceil(threads_for(rows)).max(1);
    // each run handed to exactly one group, through a slot it takes it from
    let runs: Vec<Mutex<Option<&mut [T]>>> =
        out.chunks_mut(rows_per_thread * width).map(|run| Mutex::new(Some(run))).collect();
    run_groups(runs.len(), |r| {
        let run = runs[r].lock().map(|mut slot| slot.take()).ok().flatten();
        if let Some(run) = run {
            work(r * rows_per_thread, run);
        }
    });
}

/// Runs `run(0)`, ..., `run(groups - 1)`, group 0 on the calling thread and each other on a
/// thread of its own, and returns the results in group order.
fn run_groups<R: Send>(groups: usize, run: impl Fn(usize) -> R + Sync) -> Vec<R> {
    run_groups_with(groups, std::thread::Builder::new, run)
}

/// `run_groups` with threads made by `builder` (the tests pass one whose threads cannot be made).
fn run_groups_with<R: Send>(
    groups: usize,
    builder: impl Fn() -> std::thread::Builder,
    run: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    if groups <= 1 {
        return (0..groups).map(run).collect();
    }
    let run = &run;
    std::thread::scope(|scope| {
        let previous = block_signals();
        let spawned: Vec<_> = (1..groups)
            .map(|g| {
                WORKERS_RUNNING.fetch_add(1, Ordering::AcqRel);
                let thread = builder().spawn_scoped(scope, move || {
                    let _working = Working;
                    run(g)
                });
                if thread.is_err() {
                    WORKERS_RUNNING.fetch_sub(1, Ordering::AcqRel);
                }
                thread.ok()
            })
            .collect();
        restore_signals(&previous);
        let mut results = Vec::with_capacity(groups);
        results.push(run(0));
        for (g, thread) in (1..groups).zip(spawned) {
            results.push(match thread {
                Some(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                None => run(g),
            });
        }
        results
    })
}

/// Blocks every signal on this thread; returns the mask it had.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigfillset and pthread_sigmask only write the sets and this thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut previous);
        previous
    }
}

fn restore_signals(previous: &libc::sigset_t) {
    // SAFETY: as in block_signals; signals that arrived meanwhile are delivered now.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_row_once() {
        for n in [0, 1, BLOCK_ROWS, BLOCK_ROWS + 1, 1_000_001] {
            let blocks = blocks(n);
            assert_eq!(blocks.first().map_or(0, |b| b.start), 0);
            assert_eq!(blocks.last().map_or(0, |b| b.end), n);
            assert!(blocks.windows(2).all(|w| w[0].end == w[1].start && w[0].len() == BLOCK_ROWS));
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let ranges = blocks(1_000_000);
        let one = map_ranges(&ranges, 1, |r| r.map(|i| (i as f64).sqrt()).sum::<f64>());
        for threads in [2, 3, 7, 100] {
            assert_eq!(map_ranges(&ranges, threads, |r| r.map(|i| (i as f64).sqrt()).sum::<f64>()), one);
        }
        assert_eq!(one.len(), ranges.len());
    }

    #[test]
    fn the_thread_limit_caps_and_zero_means_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        limit_threads(1);
        assert_eq!(threads_for(100 * ROWS_PER_THREAD), 1);
        limit_threads(0);
        assert_eq!(threads_for(100 * ROWS_PER_THREAD), cores.min(100));
        assert_eq!(threads_for(10), 1, "small passes stay on the calling thread");
    }

    #[test]
    fn spawned_threads_start_with_signals_blocked_and_the_caller_gets_its_mask_back() {
        let blocked = |_| unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGINT) == 1 && libc::sigismember(&mask, libc::SIGALRM) == 1
        };
        let before = blocked(0);
        let results = run_groups(3, blocked);
        assert_eq!(results, [before, true, true], "group 0 runs on the caller, unchanged");
        assert_eq!(blocked(0), before);
    }

    #[test]
    fn groups_whose_thread_cannot_be_made_run_on_the_caller() {
        // a stack of 2^62 bytes cannot be mapped, so every spawn fails
        let unmakeable = || std::thread::Builder::new().stack_size(1 << 62);
        let caller = std::thread::current().id();
        let results = run_groups_with(4, unmakeable, |g| (g * g, std::thread::current().id() == caller));
        assert_eq!(results, [(0, true), (1, true), (4, true), (9, true)]);
        let made = run_groups_with(4, std::thread::Builder::new, |g| g * g);
        assert_eq!(made, [0, 1, 4, 9], "the same results with threads");
    }

    #[test]
    fn runs_of_rows_see_their_first_row() {
        for width in [1, 3] {
            let mut out = vec![0usize; 300_001 * width];
            for_each_rows(&mut out, width, |first, run| {
                run.iter_mut().enumerate().for_each(|(i, x)| *x = first + i / width)
            });
            assert!(out.iter().enumerate().all(|(i, &x)| x == i / width));
        }
    }
}
