//! Per-op overhead: what one dispatched op costs on a tiny tensor, where the
//! kernel's own work is negligible.

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::prelude::*;
use std::hint::black_box;

fn overhead(c: &mut Criterion) {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4], &Device::Cpu).unwrap();
    let b = Tensor::from_vec(vec![0.5f32; 4], &[4], &Device::Cpu).unwrap();
    let mut g = c.benchmark_group("dispatch/overhead");
    g.bench_function("add_f32_4/cpu", |bench| {
        bench.iter(|| black_box(&a).add(black_box(&b)).unwrap())
    });
    g.bench_function("reshape_view/cpu", |bench| {
        bench.iter(|| black_box(&a).reshape(&[2, 2]).unwrap())
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
