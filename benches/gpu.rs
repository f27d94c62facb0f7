//! The wgpu backend against the CPU, one criterion group per workload with
//! ids `<workload>/<size>/<impl>` so the report puts the rows side by side
//! and ratios come from one run (the machine is shared: compare ratios, not
//! absolute numbers across runs):
//!
//! - `matmul_f32/512`: kiln's GPU matmul, the CPU's, and `gpu_naive`, a
//!   one-output-per-invocation WGSL matmul (below) run on the same device
//!   through kiln-wgpu's kernel API: the baseline the GPU kernel is
//!   measured against. Throughput in multiply-adds x 2 (FLOP).
//! - `add_f32/16M`: kernel time of an add of two 16M-element tensors: a
//!   sample encodes its adds and waits once at its end. Bytes moved.
//! - `softmax_f32/1024x1024`: softmax over the last dim, waited for.
//! - `chain100_f32/1024`: 100 dependent elementwise ops, then one read-back
//!   (one submission on the GPU). Throughput in elements x ops, so per-op
//!   cost is time / 100; the host's share (encoding alone) is printed.
//!   `gpu_bare` is the device's own floor for that shape of work: 100
//!   dependent dispatches of one trivial kernel straight on wgpu (one
//!   pipeline, one bind group, one pass, one submission, a 4 KB read-back),
//!   with nothing of kiln's per-op work.
//!
//! Before each group's warm runs, the GPU row's first use (pipeline compile,
//! first dispatch and the first allocation of its output buffers, waited
//! for) is measured once and printed beside a warm run, with the pipelines
//! it compiled. Mesa's shader disk cache
//! (`MESA_SHADER_CACHE_DIR`; `MESA_SHADER_CACHE_DISABLE=true` turns it off)
//! makes a "first" use in a later process cheaper than a truly cold one.
//!
//! On lavapipe the chain's time is mostly lavapipe's own per-dispatch
//! hand-off to its worker threads (perf: scheduler and futex time), not
//! kiln's encoding, which is printed apart; on a loaded machine
//! `LP_NUM_THREADS=0` (run dispatches on the submitting thread) halved it
//! here, at the cost of one core for the large kernels.
//!
//! `cargo bench -p kiln --bench gpu -- [filter]`. Without an adapter only
//! the CPU rows run.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use kiln::prelude::*;
use kiln::wgpu::{Access, WgpuStorage};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn gpu() -> Option<Device> {
    kiln::init().unwrap();
    match Device::wgpu() {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("no GPU rows: {e}");
            None
        }
    }
}

/// Whether criterion's filter (the first argument that is neither a flag
/// nor a number) can match group `name`: the setup of a filtered-out group (inputs, the
/// correctness checks, first-use runs) costs seconds on lavapipe.
fn wanted(name: &str) -> bool {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-') && a.parse::<f64>().is_err());
    filter.is_none_or(|f| name.contains(f.as_str()) || f.starts_with(name))
}

fn sync(d: Device) {
    if !d.is_cpu() {
        kiln::wgpu::synchronize(d).unwrap();
    }
}

/// Runs `f` (which must wait for its work) once cold and once warm, and
/// prints both with the pipelines the cold run compiled.
fn first_use(what: &str, mut f: impl FnMut()) {
    let s0 = kiln::wgpu::stats();
    let t = Instant::now();
    f();
    let cold = t.elapsed();
    let compiled = kiln::wgpu::stats().pipelines_compiled - s0.pipelines_compiled;
    let t = Instant::now();
    f();
    let warm = t.elapsed();
    eprintln!(
        "first use {what}: {cold:.2?} (compiled {compiled} pipeline(s)), warm run {warm:.2?}, \
         first-use cost {:.2?}",
        cold.saturating_sub(warm)
    );
}

fn rand(shape: &[usize], seed: u64, d: &Device) -> Tensor {
    kiln::rand(shape, seed, DType::F32, d).unwrap()
}

// ---- matmul

/// One output per invocation, straight loops over k, 16x16 workgroups: the
/// textbook kernel, the baseline of `matmul_f32`. Contiguous f32 operands.
const NAIVE_MATMUL: &str = r#"
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let m = info[0];
    let n = info[1];
    let k = info[2];
    let tile = wid.y * nwg.x + wid.x;
    let i = (tile / info[3]) * 16u + lid.y;
    let j = (tile % info[3]) * 16u + lid.x;
    if (i >= m || j >= n) {
        return;
    }
    var acc = 0.0;
    for (var q = 0u; q < k; q++) {
        acc += a[i * k + q] * b[q * n + j];
    }
    c[i * n + j] = acc;
}
"#;

/// `a @ b` by [`NAIVE_MATMUL`] (square, contiguous, f32, n a multiple of 16).
fn naive_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let n = a.shape()[0];
    assert!(n.is_multiple_of(16) && a.is_contiguous() && b.is_contiguous());
    let sa = WgpuStorage::of("naive_matmul", a).unwrap();
    let sb = WgpuStorage::of("naive_matmul", b).unwrap();
    let ctx = sa.context().clone();
    let out = WgpuStorage::tensor("naive_matmul", &ctx, DType::F32, &[n, n]).unwrap();
    let kernel = ctx
        .kernel(
            "bench:naive_matmul",
            &[Access::ReadWrite, Access::Read, Access::Read],
            || kiln::wgpu::shader::module(ctx.native_f16(), &[NAIVE_MATMUL]),
        )
        .unwrap();
    let so = WgpuStorage::of("naive_matmul", &out).unwrap();
    let tiles = (n / 16) as u32;
    let info = [n as u32, n as u32, n as u32, tiles];
    // one 16x16 workgroup per 16x16 tile of the output
    ctx.dispatch(
        "naive_matmul",
        &kernel,
        &info,
        &[so.arg(), sa.arg(), sb.arg()],
        (tiles * tiles) as u64,
    )
    .unwrap();
    out
}

fn matmul(c: &mut Criterion) {
    let n = 512;
    if !wanted("matmul_f32") {
        return;
    }
    let mut g = c.benchmark_group("matmul_f32");
    g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(4));
    let (a, b) = (
        rand(&[n, n], 1, &Device::Cpu),
        rand(&[n, n], 2, &Device::Cpu),
    );
    g.bench_function(BenchmarkId::new(n.to_string(), "cpu"), |bch| {
        bch.iter(|| black_box(a.matmul(&b).unwrap()))
    });
    if let Some(d) = gpu() {
        let (ga, gb) = (a.to(&d).unwrap(), b.to(&d).unwrap());
        sync(d);
        first_use("matmul_f32/512/gpu", || {
            black_box(ga.matmul(&gb).unwrap());
            sync(d);
        });
        first_use("matmul_f32/512/gpu_naive", || {
            black_box(naive_matmul(&ga, &gb));
            sync(d);
        });
        // both GPU kernels agree with the CPU before they are timed
        let want = a.matmul(&b).unwrap().to_vec::<f32>().unwrap();
        for (name, got) in [
            ("gpu", ga.matmul(&gb).unwrap()),
            ("gpu_naive", naive_matmul(&ga, &gb)),
        ] {
            let got = got.to_vec::<f32>().unwrap();
            let err = want
                .iter()
                .zip(&got)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-3, "{name} matmul differs from the CPU by {err}");
        }
        for (name, naive) in [("gpu", false), ("gpu_naive", true)] {
            g.bench_function(BenchmarkId::new(n.to_string(), name), |bch| {
                bch.iter(|| {
                    let y = if naive {
                        naive_matmul(&ga, &gb)
                    } else {
                        ga.matmul(&gb).unwrap()
                    };
                    sync(d);
                    black_box(y)
                })
            });
        }
    }
    g.finish();
}

// ---- add

/// Times `iters` runs of `f`, encoded back to back and waited for once.
fn batched(d: Device, iters: u64, f: impl Fn() -> Tensor) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    sync(d);
    t.elapsed()
}

fn add(c: &mut Criterion) {
    let n = 16 << 20;
    if !wanted("add_f32") {
        return;
    }
    let mut g = c.benchmark_group("add_f32");
    g.throughput(Throughput::Bytes((3 * n * 4) as u64));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(4));
    let (a, b) = (rand(&[n], 1, &Device::Cpu), rand(&[n], 2, &Device::Cpu));
    g.bench_function(BenchmarkId::new("16M", "cpu"), |bch| {
        bch.iter(|| black_box(a.add(&b).unwrap()))
    });
    if let Some(d) = gpu() {
        let (ga, gb) = (a.to(&d).unwrap(), b.to(&d).unwrap());
        sync(d);
        first_use("add_f32/16M/gpu", || {
            black_box(ga.add(&gb).unwrap());
            sync(d);
        });
        g.bench_function(BenchmarkId::new("16M", "gpu"), |bch| {
            bch.iter_custom(|iters| batched(d, iters, || ga.add(&gb).unwrap()))
        });
    }
    g.finish();
}

// ---- softmax

fn softmax(c: &mut Criterion) {
    if !wanted("softmax_f32") {
        return;
    }
    let mut g = c.benchmark_group("softmax_f32");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    let x = kiln::randn(&[1024, 1024], 1, DType::F32, &Device::Cpu).unwrap();
    g.bench_function(BenchmarkId::new("1024x1024", "cpu"), |bch| {
        bch.iter(|| black_box(x.softmax(-1).unwrap()))
    });
    if let Some(d) = gpu() {
        let gx = x.to(&d).unwrap();
        sync(d);
        first_use("softmax_f32/1024x1024/gpu", || {
            black_box(gx.softmax(-1).unwrap());
            sync(d);
        });
        g.bench_function(BenchmarkId::new("1024x1024", "gpu"), |bch| {
            bch.iter_custom(|iters| batched(d, iters, || gx.softmax(-1).unwrap()))
        });
    }
    g.finish();
}

// ---- chain

/// 100 dependent elementwise ops (mul by a tensor, add/sub a scalar).
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
    let n = 1024;
    if !wanted("chain100_f32") {
        return;
    }
    let mut g = c.benchmark_group("chain100_f32");
    g.throughput(Throughput::Elements(100 * n as u64));
    g.sample_size(20);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    let a = Tensor::from_vec(vec![0.999f32; n], &[n], &Device::Cpu).unwrap();
    let x0 = Tensor::from_vec(
        (0..n).map(|i| i as f32).collect::<Vec<_>>(),
        &[n],
        &Device::Cpu,
    )
    .unwrap();
    g.bench_function(BenchmarkId::new(n.to_string(), "cpu"), |bch| {
        bch.iter(|| black_box(chain(&x0, &a).to_vec::<f32>().unwrap()))
    });
    if let Some(d) = gpu() {
        let (ga, gx0) = (a.to(&d).unwrap(), x0.to(&d).unwrap());
        sync(d);
        first_use("chain100_f32/1024/gpu", || {
            black_box(chain(&gx0, &ga).to_vec::<f32>().unwrap());
        });
        let s0 = kiln::wgpu::stats();
        let got = chain(&gx0, &ga).to_vec::<f32>().unwrap();
        let s1 = kiln::wgpu::stats();
        eprintln!(
            "chain100_f32/1024/gpu: {} submission(s), {} dispatches per run",
            s1.submissions - s0.submissions,
            s1.dispatches - s0.dispatches
        );
        // the host's share: encoding the 100 ops, without submit and wait
        let mut encode = Duration::ZERO;
        for _ in 0..20 {
            let t = Instant::now();
            let y = chain(&gx0, &ga);
            encode += t.elapsed();
            sync(d);
            black_box(y);
        }
        eprintln!(
            "chain100_f32/1024/gpu: encoding alone {:.1} us per op",
            encode.as_secs_f64() * 1e6 / 2000.0
        );
        let want = chain(&x0, &a).to_vec::<f32>().unwrap();
        assert!(
            want.iter()
                .zip(&got)
                .all(|(x, y)| (x - y).abs() <= 1e-3 * x.abs().max(1.0)),
            "the GPU chain differs from the CPU's"
        );
        g.bench_function(BenchmarkId::new(n.to_string(), "gpu"), |bch| {
            bch.iter(|| black_box(chain(&gx0, &ga).to_vec::<f32>().unwrap()))
        });
        let mut bare = bare_chain(d, 100);
        assert!(bare().iter().all(|v| v.is_finite()));
        g.bench_function(BenchmarkId::new(n.to_string(), "gpu_bare"), |bch| {
            bch.iter(|| black_box(bare()))
        });
    }
    g.finish();
}

/// `x = x * 0.999 + 1` over 1024 f32 as 256 `vec4` invocations.
const BARE: &str = r#"
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) i: u32) {
    x[i] = x[i] * 0.999 + 1.0;
}
"#;

/// [`BARE`] dispatched `n` times in one pass on `d`'s wgpu device, then
/// read back: returns a closure that runs it once.
fn bare_chain(d: Device, n: usize) -> impl FnMut() -> Vec<f32> {
    use kiln::wgpu::wgpu;
    let ctx = kiln::wgpu::context_of("bench", d).unwrap();
    let (device, queue) = (ctx.device().clone(), ctx.queue().clone());
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("bare"),
        source: wgpu::ShaderSource::Wgsl(BARE.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("bare"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bare"),
        size: 4096,
        usage,
        mapped_at_creation: false,
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bare staging"),
        size: 4096,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("bare"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buf.as_entire_binding(),
        }],
    });
    move || {
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            for _ in 0..n {
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        enc.copy_buffer_to_buffer(&buf, 0, &staging, 0, 4096);
        queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.unwrap());
        device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .unwrap();
        let out: Vec<f32> = slice
            .get_mapped_range()
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        staging.unmap();
        out
    }
}

criterion_group!(benches, chain100, add, softmax, matmul);
criterion_main!(benches);
