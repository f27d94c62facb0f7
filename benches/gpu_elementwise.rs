//! The wgpu backend's elementwise path beside the CPU's, one criterion group
//! per workload (ids `<impl>/<device>`), so ratios come from one run:
//! - `chain100_f32_1024`: 100 dependent elementwise ops on [1024] f32 and
//!   one read-back (one submission on the GPU); divide by 100 for per op;
//! - `add_f32_1M`: one add of two 1M-element tensors, waited for.
//!
//! The first use of each GPU pipeline (compile + first dispatch) is printed
//! before the warm runs. Without an adapter only the CPU rows run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln::prelude::*;
use std::hint::black_box;
use std::time::Instant;

fn devices() -> Vec<Device> {
    kiln::init().unwrap();
    let mut v = vec![Device::Cpu];
    match Device::wgpu() {
        Ok(d) => v.push(d),
        Err(e) => eprintln!("no GPU rows: {e}"),
    }
    v
}

fn sync(d: Device) {
    if !d.is_cpu() {
        kiln::wgpu::synchronize(d).unwrap();
    }
}

fn chain(x0: &Tensor, a: &Tensor) -> Tensor {
    let mut x = x0.clone();
    for i in 0..50 {
        x = x.mul(a).unwrap();
        x = if i % 2 == 0 {
            x.add_scalar(1.0)
        } else {
            x.sub_scalar(0.5)
        }
        .unwrap();
    }
    x
}

fn chain100(c: &mut Criterion) {
    let mut g = c.benchmark_group("chain100_f32_1024");
    g.sample_size(20);
    for d in devices() {
        let a = Tensor::from_vec(vec![0.999f32; 1024], &[1024], &d).unwrap();
        let x0 =
            Tensor::from_vec((0..1024).map(|i| i as f32).collect::<Vec<_>>(), &[1024], &d).unwrap();
        let t = Instant::now();
        black_box(chain(&x0, &a).to_vec::<f32>().unwrap());
        eprintln!(
            "chain100 on {d}: first run (pipelines compiled on first use) {:?}",
            t.elapsed()
        );
        if !d.is_cpu() {
            let s0 = kiln::wgpu::stats();
            black_box(chain(&x0, &a).to_vec::<f32>().unwrap());
            let s1 = kiln::wgpu::stats();
            eprintln!(
                "chain100 on {d}: {} submission(s), {} dispatches per run",
                s1.submissions - s0.submissions,
                s1.dispatches - s0.dispatches
            );
        }
        g.bench_function(BenchmarkId::new("kiln", d.to_string()), |b| {
            b.iter(|| black_box(chain(&x0, &a).to_vec::<f32>().unwrap()))
        });
    }
    g.finish();
}

fn add(c: &mut Criterion) {
    let n = 1 << 20;
    let mut g = c.benchmark_group("add_f32_1M");
    g.throughput(Throughput::Bytes((3 * n * 4) as u64));
    g.sample_size(20);
    for d in devices() {
        let a = Tensor::from_vec(
            (0..n).map(|i| (i % 1000) as f32).collect::<Vec<_>>(),
            &[n],
            &d,
        )
        .unwrap();
        let b =
            Tensor::from_vec((0..n).map(|i| (i % 7) as f32).collect::<Vec<_>>(), &[n], &d).unwrap();
        sync(d);
        g.bench_function(BenchmarkId::new("kiln", d.to_string()), |bench| {
            bench.iter(|| {
                let y = a.add(&b).unwrap();
                sync(d);
                black_box(y)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, chain100, add);
criterion_main!(benches);
