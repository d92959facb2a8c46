//! Splitting one pass over many rows across the machine's cores, with scoped threads.
//!
//! The threads only compute: they touch no Postgres state and allocate with Rust's
//! allocator. They block every signal, so that Postgres' handlers (cancel,
//! statement_timeout) keep running on the backend's own thread, which checks for
//! interrupts between passes.

use std::ops::Range;

/// Below this many rows a pass runs on the calling thread alone: a thread costs more.
const ROWS_PER_THREAD: usize = 50_000;

/// Rows per block of a reduction. Partial results are per block and combined in block
/// order, so a sum comes out the same whatever the number of cores.
pub const BLOCK_ROWS: usize = 65_536;

/// How many threads a pass over `rows` rows uses.
pub fn threads_for(rows: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(rows / ROWS_PER_THREAD).max(1)
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
    let work = &work;
    let run = move |group: &[Range<usize>]| group.iter().map(|range| work(range.clone())).collect::<Vec<R>>();
    let mut groups = ranges.chunks(per_thread);
    let Some(first) = groups.next() else { return Vec::new() };
    std::thread::scope(|scope| {
        let others: Vec<_> = groups
            .map(|group| {
                scope.spawn(move || {
                    block_signals();
                    run(group)
                })
            })
            .collect();
        let mut results = run(first);
        for handle in others {
            match handle.join() {
                Ok(group) => results.extend(group),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
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
    std::thread::scope(|scope| {
        let work = &work;
        let mut runs = out.chunks_mut(rows_per_thread * width).enumerate();
        let first = runs.next();
        for (r, run) in runs {
            scope.spawn(move || {
                block_signals();
                work(r * rows_per_thread, run)
            });
        }
        if let Some((_, run)) = first {
            work(0, run);
        }
    });
}

fn block_signals() {
    // SAFETY: sigfillset and pthread_sigmask only write the set and this thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
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
