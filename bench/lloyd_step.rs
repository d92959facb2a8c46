//! One Lloyd step of linfa-clustering's KMeans against pg_marketing's `lloyd_step`, on the
//! same 1,000,000 x 8 rows (the 8 overlapping blobs of bench/run.py's bench_features) and
//! the same starting centroids, in one run: why kmeans_fit takes its steps with its own
//! code. Run: `cargo bench --bench lloyd_step`.

use std::time::Instant;

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use pg_marketing::core::clustering::lloyd_step;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

const ROWS: usize = 1_000_000;
const FEATURES: usize = 8;
const K: usize = 8;
const REPEAT: usize = 7;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn main() {
    let mut rng = Xoshiro256Plus::seed_from_u64(42);
    let data = Array2::from_shape_fn((ROWS, FEATURES), |(i, j)| {
        (((i % 8) * 3 + 5 * (j + 1)) % 8) as f64 + rng.gen::<f64>() * 5.0 - 2.5
    });
    let centroids = data.slice(ndarray::s![0..K, ..]).to_owned();
    let dataset = DatasetBase::from(data.view());

    let mut linfa_inertia = 0.0;
    let linfa: Vec<f64> = (0..REPEAT)
        .map(|_| {
            let start = Instant::now();
            let model = KMeans::params_with_rng(K, Xoshiro256Plus::seed_from_u64(0))
                .init_method(KMeansInit::Precomputed(centroids.clone()))
                .n_runs(1)
                .max_n_iterations(1)
                .tolerance(f64::MAX)
                .fit(&dataset)
                .expect("linfa's step runs");
            let seconds = start.elapsed().as_secs_f64();
            linfa_inertia = model.inertia();
            seconds
        })
        .collect();

    let rows = data.as_slice().expect("standard layout");
    let flat = centroids.as_slice().expect("standard layout");
    let mut ours_inertia = 0.0;
    let ours: Vec<f64> = (0..REPEAT)
        .map(|_| {
            let start = Instant::now();
            let step = lloyd_step(rows, FEATURES, flat);
            let _ = step.means(flat);
            let seconds = start.elapsed().as_secs_f64();
            ours_inertia = step.inertia / ROWS as f64;
            seconds
        })
        .collect();

    let (linfa, ours) = (median(linfa), median(ours));
    println!("one Lloyd step, {ROWS} x {FEATURES} rows, k = {K}, median of {REPEAT}:");
    println!("  linfa-clustering KMeans (max_n_iterations 1): {:.1} ms", linfa * 1e3);
    println!("  pg_marketing lloyd_step:                      {:.1} ms", ours * 1e3);
    println!("  linfa / ours: {:.2}x", linfa / ours);
    // both steps assign the rows to the same starting centroids: the mean squared distance
    // of that assignment must agree
    let difference = (linfa_inertia - ours_inertia).abs() / linfa_inertia;
    println!("  mean squared distance: linfa {linfa_inertia:.9}, ours {ours_inertia:.9} (relative difference {difference:.1e})");
    assert!(difference < 1e-9, "the two steps disagree");
}
