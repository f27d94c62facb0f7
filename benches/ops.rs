//! Op throughput, each kiln op beside the baseline it is measured against,
//! in one criterion group per op and size (ids `<impl>/<device>`), so the
//! report sets them side by side and ratios come from one run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;

/// add of two 16M-element f32 tensors (allocating the output) against a
/// rayon loop writing into a preallocated buffer.
fn add(c: &mut Criterion) {
    let n = 16 << 20;
    let mut g = c.benchmark_group("add_f32_16M");
    g.throughput(Throughput::Bytes((3 * n * 4) as u64));
    g.sample_size(20);
    let av: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let bv: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let a = Tensor::from_slice(&av, &[n], &Device::Cpu).unwrap();
    let b = Tensor::from_slice(&bv, &[n], &Device::Cpu).unwrap();
    g.bench_function(BenchmarkId::new("kiln", "cpu"), |bench| {
        bench.iter(|| black_box(a.add(&b).unwrap()))
    });
    let mut out = vec![0f32; n];
    g.bench_function(BenchmarkId::new("rayon_prealloc", "cpu"), |bench| {
        bench.iter(|| {
            out.par_chunks_mut(1 << 15)
                .zip(av.par_chunks(1 << 15).zip(bv.par_chunks(1 << 15)))
                .for_each(|(o, (x, y))| {
                    o.iter_mut()
                        .zip(x.iter().zip(y))
                        .for_each(|(o, (x, y))| *o = x + y)
                });
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, add);
criterion_main!(benches);
