//! Softmax over the last dim of a [4096, 1024] f32 tensor: kiln's CPU
//! kernel against a plain baseline, a 2-thread rayon loop over rows that
//! calls the scalar `f32::exp` into a preallocated buffer.
//!
//! `cargo bench -p kiln --bench cpu_softmax -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiln::Device;
use rayon::prelude::*;

const ROWS: usize = 4096;
const COLS: usize = 1024;

/// Softmax of each row of `x` into `y` with the scalar `f32::exp`.
fn baseline(x: &[f32], y: &mut [f32]) {
    y.par_chunks_mut(COLS)
        .zip(x.par_chunks(COLS))
        .for_each(|(y, x)| {
            let m = x.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
            let mut s = 0.0f32;
            for (y, &v) in y.iter_mut().zip(x) {
                *y = (v - m).exp();
                s += *y;
            }
            let inv = 1.0 / s;
            for y in y.iter_mut() {
                *y *= inv;
            }
        });
}

fn softmax(c: &mut Criterion) {
    // deterministic values in [-8, 8)
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let host: Vec<f32> = (0..ROWS * COLS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 16.0 - 8.0
        })
        .collect();
    let x = kiln::from_slice(&host, &[ROWS, COLS], &Device::Cpu).expect("from_slice");
    let mut out = vec![0.0f32; ROWS * COLS];
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");

    // the two agree
    two.install(|| baseline(&host, &mut out));
    let ours = x
        .softmax(-1)
        .expect("softmax")
        .to_vec::<f32>()
        .expect("to_vec");
    let worst = ours
        .iter()
        .zip(&out)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-30))
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "kiln and the baseline differ by {worst} (relative)"
    );

    let mut g = c.benchmark_group("softmax_4096x1024_f32");
    g.throughput(Throughput::Elements((ROWS * COLS) as u64));
    g.bench_function("kiln", |b| b.iter(|| x.softmax(-1).expect("softmax")));
    g.bench_function("baseline_rayon2_scalar_exp", |b| {
        b.iter(|| two.install(|| baseline(&host, &mut out)))
    });
    g.finish();
}

criterion_group!(benches, softmax);
criterion_main!(benches);
