//! Model forward passes: CPU eager, GPU eager and replayed graphs, ids
//! `<model>/<device>_<mode>` so criterion's report sets CPU and GPU side by
//! side. The MLP group also holds `mlp/gemm_rayon`, the same math written
//! directly against the `gemm` crate and a rayon loop (bias + relu), the
//! baseline of kiln's CPU target (eager >= 0.9x of it).
//!
//! `cargo bench -p kiln --bench model`

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::nn::models::{self, Model};
use kiln::nn::Module;
use kiln::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

/// The GPU, or `None` with the reason on stderr.
fn gpu() -> Option<Device> {
    match Device::wgpu() {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("model bench: no GPU ids ({e})");
            None
        }
    }
}

/// Output finished on its device (GPU work is queued until synchronised).
fn done(t: kiln::Result<Tensor>) -> Tensor {
    let t = t.expect("forward failed");
    if let Device::Wgpu(_) = t.device() {
        kiln::wgpu::synchronize(t.device()).expect("synchronize failed");
    }
    t
}

/// `<group>/<device>_eager` and `<group>/<device>_replay` for `model` on
/// the CPU and (when there is one) the GPU.
fn eager_and_replay(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &Model,
) {
    let devices = std::iter::once(Device::Cpu).chain(gpu());
    for dev in devices {
        let name = if dev.is_cpu() { "cpu" } else { "gpu" };
        let m = model.to(&dev).expect("moving the model");
        let x = model.input(1, DType::F32, &dev).expect("input");
        if let Err(e) = m.forward(&x) {
            eprintln!("model bench: no {}/{name}_* ids: {e}", model.name());
            continue;
        }
        g.bench_function(format!("{name}_eager"), |b| {
            b.iter(|| black_box(done(m.forward(black_box(&x)))))
        });
        let (_, graph) =
            kiln::trace::trace(|i| m.forward(&i[0]), std::slice::from_ref(&x)).expect("trace");
        let inputs = [x.clone()];
        g.bench_function(format!("{name}_replay"), |b| {
            b.iter(|| black_box(done(graph.run(&inputs).map(|mut o| o.remove(0)))))
        });
    }
}

/// y = relu?(x @ w^T + b) for each layer, `gemm` on its own rayon threads,
/// then one rayon pass for bias and relu; buffers allocated once.
struct GemmMlp {
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    width: usize,
}

impl GemmMlp {
    fn of(mlp: &kiln::nn::Mlp) -> GemmMlp {
        let layers = mlp
            .layers()
            .iter()
            .map(|l| {
                assert_eq!(l.in_features(), l.out_features());
                (
                    l.weight().to_vec::<f32>().unwrap(),
                    l.bias().unwrap().to_vec::<f32>().unwrap(),
                )
            })
            .collect();
        GemmMlp {
            layers,
            width: mlp.layers()[0].in_features(),
        }
    }

    fn forward(&self, x: &[f32], bufs: &mut [Vec<f32>; 2]) {
        let n = self.width;
        let m = x.len() / n;
        let last = self.layers.len() - 1;
        for (i, (w, b)) in self.layers.iter().enumerate() {
            let [a, c] = bufs;
            let (src, dst) = match i {
                0 => (x, a),
                _ if i % 2 == 1 => (&a[..], c),
                _ => (&c[..], a),
            };
            // SAFETY: `src` is m x n, `w` n x n (read transposed: row
            // stride 1, column stride n), `dst` m x n, all dense.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    n,
                    dst.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    src.as_ptr(),
                    1,
                    n as isize,
                    w.as_ptr(),
                    n as isize,
                    1,
                    0.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    gemm::Parallelism::Rayon(0),
                )
            }
            dst.par_chunks_mut(n).for_each(|row| {
                for (y, bias) in row.iter_mut().zip(b) {
                    let v = *y + bias;
                    *y = if i < last { v.max(0.0) } else { v };
                }
            });
        }
    }
}

fn mlp(c: &mut Criterion) {
    let model = Model::Mlp(models::mlp(0, DType::F32, &Device::Cpu).unwrap());
    let mut g = c.benchmark_group("mlp");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let Model::Mlp(inner) = &model else {
        unreachable!()
    };
    let base = GemmMlp::of(inner);
    let x = model.input(1, DType::F32, &Device::Cpu).unwrap();
    let xv = x.to_vec::<f32>().unwrap();
    let mut bufs = [vec![0.0f32; xv.len()], vec![0.0f32; xv.len()]];
    // The baseline computes what kiln computes.
    base.forward(&xv, &mut bufs);
    let out = &bufs[(base.layers.len() - 1) % 2];
    let want = model.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let diff = out
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-3, "baseline differs from kiln by {diff}");

    g.bench_function("gemm_rayon", |b| {
        b.iter(|| {
            base.forward(black_box(&xv), &mut bufs);
            black_box(&bufs);
        })
    });
    eager_and_replay(&mut g, &model);
    g.finish();
}

fn transformer(c: &mut Criterion) {
    let model = Model::Transformer(models::transformer(0, DType::F32, &Device::Cpu).unwrap());
    let mut g = c.benchmark_group("transformer");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    eager_and_replay(&mut g, &model);
    g.finish();
}

criterion_group!(benches, mlp, transformer);
criterion_main!(benches);
