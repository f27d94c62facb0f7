//! Op throughput: matmul, add, softmax, sum and conv2d at a few sizes, one
//! criterion group per op (`ops/<op>`) with ids `<size>/<impl>`, so the
//! report sets the CPU, the GPU and any baseline side by side and ratios
//! come from one run. A GPU row waits for its result (`synchronize`); it
//! runs when an adapter opens and the op has a wgpu kernel.
//!
//! `cargo bench -p kiln --bench ops -- [filter]`

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use kiln::prelude::*;
use kiln::{op, DispatchKey, Dispatcher, OpId};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

/// The CPU, and the GPU when an adapter opens and `op` has a wgpu kernel.
fn devices(op: OpId, what: &str) -> Vec<Device> {
    kiln::init().unwrap();
    let mut v = vec![Device::Cpu];
    if !Dispatcher::global().has_kernel(op, DispatchKey::Wgpu) {
        eprintln!("no GPU row for {what}: the op has no wgpu kernel");
        return v;
    }
    match Device::wgpu() {
        Ok(d) => v.push(d),
        Err(e) => eprintln!("no GPU rows: {e}"),
    }
    v
}

fn name(d: Device) -> &'static str {
    if d.is_cpu() {
        "cpu"
    } else {
        "gpu"
    }
}

fn sync(d: Device) {
    if !d.is_cpu() {
        kiln::wgpu::synchronize(d).unwrap();
    }
}

fn group<'a>(c: &'a mut Criterion, op: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("ops/{op}"));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    g
}

/// Benches `f` on every device of `op` under id `<size>/<device>`: inputs
/// made by `inputs` on that device, the result waited for.
fn bench_on(
    g: &mut BenchmarkGroup<'_, WallTime>,
    op: OpId,
    size: &str,
    inputs: impl Fn(&Device) -> Vec<Tensor>,
    f: impl Fn(&[Tensor]) -> Tensor,
) {
    for d in devices(op, size) {
        let xs = inputs(&d);
        black_box(f(&xs)); // compiles the GPU pipeline outside the timing
        sync(d);
        g.bench_function(BenchmarkId::new(size, name(d)), |b| {
            b.iter(|| {
                let y = f(&xs);
                sync(d);
                black_box(y)
            })
        });
    }
}

fn rand(shape: &[usize], seed: u64, d: &Device) -> Tensor {
    kiln::rand(shape, seed, DType::F32, d).unwrap()
}

fn matmul(c: &mut Criterion) {
    let mut g = group(c, "matmul_f32");
    for n in [64, 256, 512] {
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        bench_on(
            &mut g,
            op::MATMUL,
            &n.to_string(),
            |d| vec![rand(&[n, n], 1, d), rand(&[n, n], 2, d)],
            |x| x[0].matmul(&x[1]).unwrap(),
        );
    }
    g.finish();
}

/// add against a rayon loop writing into a preallocated buffer.
fn add(c: &mut Criterion) {
    let mut g = group(c, "add_f32");
    for (label, n) in [("64K", 1 << 16), ("1M", 1 << 20), ("16M", 16 << 20)] {
        g.throughput(Throughput::Bytes((3 * n * 4) as u64));
        bench_on(
            &mut g,
            op::ADD,
            label,
            |d| vec![rand(&[n], 1, d), rand(&[n], 2, d)],
            |x| x[0].add(&x[1]).unwrap(),
        );
        if n == 16 << 20 {
            let av: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
            let bv: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
            let mut out = vec![0f32; n];
            g.bench_function(BenchmarkId::new(label, "rayon_prealloc"), |bench| {
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
        }
    }
    g.finish();
}

fn softmax(c: &mut Criterion) {
    let mut g = group(c, "softmax_f32");
    for (r, m) in [(64, 1024), (1024, 1024), (4096, 128)] {
        g.throughput(Throughput::Elements((r * m) as u64));
        bench_on(
            &mut g,
            op::SOFTMAX,
            &format!("{r}x{m}"),
            |d| vec![kiln::randn(&[r, m], 1, DType::F32, d).unwrap()],
            |x| x[0].softmax(-1).unwrap(),
        );
    }
    g.finish();
}

fn sum(c: &mut Criterion) {
    let mut g = group(c, "sum_f32");
    for (label, shape, dims) in [
        ("1M_all", vec![1 << 20], vec![]),
        ("1024x1024_dim1", vec![1024, 1024], vec![1i64]),
        ("1024x1024_dim0", vec![1024, 1024], vec![0i64]),
    ] {
        g.throughput(Throughput::Elements(shape.iter().product::<usize>() as u64));
        bench_on(
            &mut g,
            op::SUM,
            label,
            |d| vec![rand(&shape, 1, d)],
            |x| x[0].sum(&dims, false).unwrap(),
        );
    }
    g.finish();
}

fn conv2d(c: &mut Criterion) {
    let mut g = group(c, "conv2d_f32");
    // [N, C, H, W] input, [O, C, 3, 3] weight, padding 1
    for (n, ci, hw, co) in [(1, 16, 32, 16), (8, 32, 32, 64)] {
        let flops = 2 * n * co * hw * hw * ci * 9;
        g.throughput(Throughput::Elements(flops as u64));
        bench_on(
            &mut g,
            op::CONV2D,
            &format!("{n}x{ci}x{hw}x{hw}_o{co}_k3"),
            |d| {
                vec![
                    rand(&[n, ci, hw, hw], 1, d),
                    rand(&[co, ci, 3, 3], 2, d),
                    rand(&[co], 3, d),
                ]
            },
            |x| {
                x[0].conv2d(&x[1], Some(&x[2]), [1, 1], [1, 1], [1, 1], 1)
                    .unwrap()
            },
        );
    }
    g.finish();
}

criterion_group!(benches, matmul, add, softmax, sum, conv2d);
criterion_main!(benches);
