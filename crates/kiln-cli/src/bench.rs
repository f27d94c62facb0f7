//! `kiln bench`: each op on the CPU and the GPU side by side, warm medians,
//! first-use cost apart, a markdown table on stdout, CSV and an SVG chart
//! on request.

use crate::args::{parse, usage, CliError, CliResult, Flag, Parsed};
use crate::info::{cpu_line, LAVAPIPE_HINT};
use crate::report::{self, Progress};
use crate::svg;
use kiln::{op, DType, Device, DeviceExt, DispatchKey, Dispatcher, OpId, Tensor};
use std::fs::File;
use std::time::Instant;

pub const USAGE: &str = "usage: kiln bench [--ops LIST] [--sizes LIST] [--dtype f32|f16|bf16]
                  [--device cpu|gpu|both] [--samples N] [--csv FILE] [--svg FILE]

Runs each op at each size on the CPU and the GPU after a warm-up call and
prints the medians as a markdown table: CPU, GPU kernel time (ops, then
synchronize), GPU with the result read back, GFLOP/s (matmul, conv2d) or
GB/s (the rest), and the GPU/CPU speed-up (CPU median / GPU kernel median).
The first call's cost (pipeline compiles, first dispatch) is shown apart.

  --ops LIST       comma-separated, from: matmul, add, mul, relu, gelu, exp,
                   sum, softmax, layer_norm, conv2d (default: all)
  --sizes LIST     n per op, replacing each op's defaults: matmul multiplies
                   [n, n] by [n, n]; conv2d runs a 3x3, 32->32 channel
                   convolution on [1, 32, n, n]; the others take [n, n]
  --dtype D        f32 (default), f16 or bf16
  --device D       both (default), cpu or gpu
  --samples N      timed runs per op and device after the warm-up (default 5)
  --csv FILE       also write the rows as CSV
  --svg FILE       also draw the GPU/CPU speed-ups as an SVG bar chart";

const FLAGS: &[Flag] = &[
    Flag {
        name: "ops",
        takes_value: true,
    },
    Flag {
        name: "sizes",
        takes_value: true,
    },
    Flag {
        name: "dtype",
        takes_value: true,
    },
    Flag {
        name: "device",
        takes_value: true,
    },
    Flag {
        name: "samples",
        takes_value: true,
    },
    Flag {
        name: "csv",
        takes_value: true,
    },
    Flag {
        name: "svg",
        takes_value: true,
    },
];

/// The channels of the conv2d benchmark.
const CONV_CHANNELS: usize = 32;
/// The largest tensor a size may ask for, in elements.
const MAX_ELEMENTS: usize = 1 << 27;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bench {
    Matmul,
    Add,
    Mul,
    Relu,
    Gelu,
    Exp,
    Sum,
    Softmax,
    LayerNorm,
    Conv2d,
}

const ALL: [Bench; 10] = [
    Bench::Matmul,
    Bench::Add,
    Bench::Mul,
    Bench::Relu,
    Bench::Gelu,
    Bench::Exp,
    Bench::Sum,
    Bench::Softmax,
    Bench::LayerNorm,
    Bench::Conv2d,
];

/// What a row's rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Gflops,
    Gbytes,
}

impl Unit {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unit::Gflops => "GFLOP/s",
            Unit::Gbytes => "GB/s",
        }
    }
}

impl Bench {
    fn name(self) -> &'static str {
        match self {
            Bench::Matmul => "matmul",
            Bench::Add => "add",
            Bench::Mul => "mul",
            Bench::Relu => "relu",
            Bench::Gelu => "gelu",
            Bench::Exp => "exp",
            Bench::Sum => "sum",
            Bench::Softmax => "softmax",
            Bench::LayerNorm => "layer_norm",
            Bench::Conv2d => "conv2d",
        }
    }

    fn from_name(s: &str) -> Option<Bench> {
        ALL.into_iter().find(|b| b.name() == s)
    }

    fn op(self) -> OpId {
        match self {
            Bench::Matmul => op::MATMUL,
            Bench::Add => op::ADD,
            Bench::Mul => op::MUL,
            Bench::Relu => op::RELU,
            Bench::Gelu => op::GELU,
            Bench::Exp => op::EXP,
            Bench::Sum => op::SUM,
            Bench::Softmax => op::SOFTMAX,
            Bench::LayerNorm => op::LAYER_NORM,
            Bench::Conv2d => op::CONV2D,
        }
    }

    /// Sizes that keep the default run near a minute on a software GPU.
    fn default_sizes(self) -> &'static [usize] {
        match self {
            Bench::Matmul => &[128, 256, 512],
            Bench::Conv2d => &[32, 64],
            Bench::Add | Bench::Mul | Bench::Sum => &[256, 1024],
            _ => &[256, 1024],
        }
    }

    fn input_shapes(self, n: usize) -> Vec<Vec<usize>> {
        let c = CONV_CHANNELS;
        match self {
            Bench::Matmul | Bench::Add | Bench::Mul => vec![vec![n, n], vec![n, n]],
            Bench::Relu | Bench::Gelu | Bench::Exp | Bench::Sum | Bench::Softmax => {
                vec![vec![n, n]]
            }
            Bench::LayerNorm => vec![vec![n, n], vec![n], vec![n]],
            Bench::Conv2d => vec![vec![1, c, n, n], vec![c, c, 3, 3], vec![c]],
        }
    }

    fn shape_text(self, n: usize) -> String {
        let c = CONV_CHANNELS;
        match self {
            Bench::Matmul => format!("{n}x{n} @ {n}x{n}"),
            Bench::Conv2d => format!("[1,{c},{n},{n}] * [{c},{c},3,3]"),
            _ => format!("[{n},{n}]"),
        }
    }

    /// Floating-point operations or bytes moved by one call.
    fn work(self, n: usize, elem: usize) -> (f64, Unit) {
        let (n, e) = (n as f64, elem as f64);
        let c = CONV_CHANNELS as f64;
        match self {
            Bench::Matmul => (2.0 * n * n * n, Unit::Gflops),
            Bench::Conv2d => (2.0 * c * c * 9.0 * n * n, Unit::Gflops),
            Bench::Add | Bench::Mul => (3.0 * n * n * e, Unit::Gbytes),
            Bench::Sum => (n * n * e, Unit::Gbytes),
            Bench::Relu | Bench::Gelu | Bench::Exp | Bench::Softmax | Bench::LayerNorm => {
                (2.0 * n * n * e, Unit::Gbytes)
            }
        }
    }

    fn call(self, t: &[Tensor]) -> kiln::Result<Tensor> {
        match self {
            Bench::Matmul => t[0].matmul(&t[1]),
            Bench::Add => t[0].add(&t[1]),
            Bench::Mul => t[0].mul(&t[1]),
            Bench::Relu => t[0].relu(),
            Bench::Gelu => t[0].gelu(),
            Bench::Exp => t[0].exp(),
            Bench::Sum => t[0].sum_all(),
            Bench::Softmax => t[0].softmax(-1),
            Bench::LayerNorm => {
                let n = t[1].shape()[0];
                t[0].layer_norm(&[n], Some(&t[1]), Some(&t[2]), 1e-5)
            }
            Bench::Conv2d => t[0].conv2d(&t[1], Some(&t[2]), [1, 1], [1, 1], [1, 1], 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Cpu,
    Gpu,
    Both,
}

struct Config {
    ops: Vec<Bench>,
    sizes: Option<Vec<usize>>,
    dtype: DType,
    which: Which,
    samples: usize,
    csv: Option<(String, File)>,
    svg: Option<(String, File)>,
}

fn config(p: &Parsed) -> Result<Config, CliError> {
    let ops = match p.list("ops")? {
        None => ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|s| {
                Bench::from_name(s).ok_or_else(|| {
                    let all: Vec<&str> = ALL.iter().map(|b| b.name()).collect();
                    usage(
                        "bench",
                        format!("unknown op {s:?}; known: {}", all.join(", ")),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let sizes = match p.list("sizes")? {
        None => None,
        Some(items) => Some(
            items
                .iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(usage(
                        "bench",
                        format!("--sizes: {s:?} is not a positive integer"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let d = p.value("dtype").unwrap_or("f32");
    let Some(dtype) = DType::from_name(d).filter(|t| t.is_float()) else {
        return Err(usage(
            "bench",
            format!("--dtype: {d:?} is not f32, f16 or bf16"),
        ));
    };
    let which = match p.value("device").unwrap_or("both") {
        "cpu" => Which::Cpu,
        "gpu" => Which::Gpu,
        "both" => Which::Both,
        d => {
            return Err(usage(
                "bench",
                format!("--device: {d:?} is not cpu, gpu or both"),
            ))
        }
    };
    let samples = p.num::<usize>("samples")?.unwrap_or(5);
    if !(1..=1000).contains(&samples) {
        return Err(usage("bench", "--samples must be between 1 and 1000"));
    }
    for b in &ops {
        for &n in sizes.as_deref().unwrap_or(b.default_sizes()) {
            let elements = b
                .input_shapes(n)
                .iter()
                .map(|s| s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)))
                .try_fold(0usize, |a, e| e.and_then(|e| a.checked_add(e)));
            if elements.is_none_or(|e| e > MAX_ELEMENTS) {
                return Err(usage(
                    "bench",
                    format!(
                        "size {n} is too large for {} (inputs over {MAX_ELEMENTS} elements)",
                        b.name()
                    ),
                ));
            }
        }
    }
    // Files last, so that a bad flag does not truncate them.
    let csv = p.output_file("csv")?;
    let svg = p.output_file("svg")?;
    Ok(Config {
        ops,
        sizes,
        dtype,
        which,
        samples,
        csv,
        svg,
    })
}

/// One op at one size.
pub(crate) struct Row {
    pub op: &'static str,
    pub shape: String,
    pub dtype: DType,
    pub unit: Unit,
    pub work: f64,
    pub cpu: Option<Timing>,
    pub gpu: Option<GpuTiming>,
    pub note: String,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub first_ms: f64,
    pub median_ms: f64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct GpuTiming {
    pub first_ms: f64,
    pub pipelines: u64,
    pub kernel_ms: f64,
    pub readback_ms: f64,
}

impl Row {
    /// GFLOP/s or GB/s at `ms` per call.
    pub(crate) fn rate(&self, ms: f64) -> f64 {
        self.work / (ms * 1e-3) / 1e9
    }
    /// CPU median / GPU kernel median.
    pub(crate) fn speedup(&self) -> Option<f64> {
        Some(self.cpu?.median_ms / self.gpu?.kernel_ms)
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) && m > 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn time_cpu(b: Bench, inputs: &[Tensor], samples: usize) -> kiln::Result<Timing> {
    let t = Instant::now();
    drop(b.call(inputs)?);
    let first_ms = ms_since(t);
    let mut v = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let out = b.call(inputs)?;
        v.push(ms_since(t));
        drop(out);
    }
    Ok(Timing {
        first_ms,
        median_ms: median(v),
    })
}

fn time_gpu(b: Bench, dev: Device, inputs: &[Tensor], samples: usize) -> kiln::Result<GpuTiming> {
    kiln::wgpu::synchronize(dev)?; // the uploads are not part of the op
    let before = kiln::wgpu::stats().pipelines_compiled;
    let t = Instant::now();
    let out = b.call(inputs)?;
    kiln::wgpu::synchronize(dev)?;
    let first_ms = ms_since(t);
    drop(out);
    let pipelines = kiln::wgpu::stats().pipelines_compiled - before;
    let mut kernel = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let out = b.call(inputs)?;
        kiln::wgpu::synchronize(dev)?;
        kernel.push(ms_since(t));
        drop(out);
    }
    let mut read = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let host = b.call(inputs)?.to(&Device::Cpu)?;
        read.push(ms_since(t));
        drop(host);
    }
    Ok(GpuTiming {
        first_ms,
        pipelines,
        kernel_ms: median(kernel),
        readback_ms: median(read),
    })
}

fn make_inputs(b: Bench, n: usize, dtype: DType) -> kiln::Result<Vec<Tensor>> {
    b.input_shapes(n)
        .iter()
        .enumerate()
        .map(|(i, s)| {
            kiln::rand(s, 17 + i as u64, DType::F32, &Device::Cpu)?
                .add_scalar(-0.5)?
                .to_dtype(dtype)
        })
        .collect()
}

/// The first line of an error, short enough for a table cell.
fn short(e: &kiln::Error) -> String {
    let s = e.to_string();
    let line = s.lines().next().unwrap_or("").to_string();
    if line.chars().count() > 90 {
        format!("{}...", line.chars().take(87).collect::<String>())
    } else {
        line
    }
}

fn run_row(b: Bench, n: usize, cfg: &Config, gpu: Option<Device>) -> Row {
    let (work, unit) = b.work(n, cfg.dtype.size_in_bytes());
    let mut row = Row {
        op: b.name(),
        shape: b.shape_text(n),
        dtype: cfg.dtype,
        unit,
        work,
        cpu: None,
        gpu: None,
        note: String::new(),
    };
    let mut notes = Vec::new();
    let inputs = match make_inputs(b, n, cfg.dtype) {
        Ok(i) => i,
        Err(e) => {
            row.note = format!("inputs: {}", short(&e));
            return row;
        }
    };
    if cfg.which != Which::Gpu {
        match time_cpu(b, &inputs, cfg.samples) {
            Ok(t) => row.cpu = Some(t),
            Err(e) => notes.push(format!("CPU: {}", short(&e))),
        }
    }
    if let Some(dev) = gpu {
        if !Dispatcher::global().has_kernel(b.op(), DispatchKey::Wgpu) {
            notes.push("no GPU kernel".into());
        } else {
            let on_gpu: kiln::Result<Vec<Tensor>> = inputs.iter().map(|t| t.to(&dev)).collect();
            match on_gpu.and_then(|g| time_gpu(b, dev, &g, cfg.samples)) {
                Ok(t) => row.gpu = Some(t),
                Err(e) => notes.push(format!("GPU: {}", short(&e))),
            }
        }
    }
    row.note = notes.join("; ");
    row
}

/// The GPU to run on, or why there is none.
fn open_gpu(which: Which) -> Result<Option<Device>, CliError> {
    if which == Which::Cpu {
        return Ok(None);
    }
    match Device::wgpu() {
        Ok(d) => Ok(Some(d)),
        Err(e) if which == Which::Both => {
            println!("note: no GPU, so CPU only: {e}\n      ({LAVAPIPE_HINT})\n");
            Ok(None)
        }
        Err(e) => Err(CliError::Run(format!(
            "bench: --device gpu: {e} ({LAVAPIPE_HINT})"
        ))),
    }
}

fn machine(gpu: Option<Device>) -> String {
    let mut s = format!("CPU: {}", cpu_line());
    if let Some(Device::Wgpu(i)) = gpu {
        if let Ok(ctx) = kiln::wgpu::context(i) {
            let info = ctx.adapter_info();
            s.push_str(&format!(
                "; GPU: {} ({}, {:?}), driver {} {}",
                info.name, info.backend, info.device_type, info.driver, info.driver_info
            ));
        }
    } else {
        s.push_str("; GPU: none used");
    }
    s
}

pub fn run(args: &[String]) -> CliResult {
    let p = parse("bench", args, FLAGS)?;
    if p.help {
        println!("{USAGE}");
        return Ok(());
    }
    let mut cfg = config(&p)?;
    kiln::init()?;
    let gpu = open_gpu(cfg.which)?;
    println!("machine: {}", machine(gpu));
    println!(
        "kiln bench: {} samples per op and device after one warm-up call; medians in ms\n",
        cfg.samples
    );

    let jobs: Vec<(Bench, usize)> = cfg
        .ops
        .iter()
        .flat_map(|&b| {
            let sizes = cfg
                .sizes
                .clone()
                .unwrap_or_else(|| b.default_sizes().to_vec());
            sizes.into_iter().map(move |n| (b, n))
        })
        .collect();
    let mut progress = Progress::new(jobs.len());
    let mut rows = Vec::with_capacity(jobs.len());
    for &(b, n) in &jobs {
        progress.show(&format!("{} {}", b.name(), b.shape_text(n)));
        rows.push(run_row(b, n, &cfg, gpu));
        progress.step();
    }
    progress.finish();

    report::print_tables(&rows);

    if let Some((path, f)) = cfg.csv.as_mut() {
        report::write_csv(f, &rows)
            .map_err(|e| CliError::Run(format!("bench: writing {path:?}: {e}")))?;
        println!("\nwrote {path}");
    }
    if let Some((path, f)) = cfg.svg.take() {
        let bars: Vec<(String, f64)> = rows
            .iter()
            .filter_map(|r| Some((format!("{} {}", r.op, r.shape), r.speedup()?)))
            .collect();
        let title = format!("kiln: GPU/CPU speed-up ({})", cfg.dtype);
        svg::speedups(f, &title, &bars)
            .map_err(|e| CliError::Run(format!("bench: writing {path:?}: {e}")))?;
        println!("wrote {path}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_a_name_sizes_and_work() {
        for b in ALL {
            assert_eq!(Bench::from_name(b.name()), Some(b));
            assert!(!b.default_sizes().is_empty());
            let (w, _) = b.work(8, 4);
            assert!(w > 0.0);
        }
        assert_eq!(Bench::Matmul.work(10, 4), (2000.0, Unit::Gflops));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![7.0]), 7.0);
    }
}
