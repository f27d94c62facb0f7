//! The `kiln` command. `kiln demo` is the README's main job.

use kiln::prelude::*;
use kiln::DeviceExt;
use std::process::ExitCode;
use std::time::Instant;

mod trace;

const USAGE: &str = "usage: kiln <demo|info>
  demo   ops on the GPU (or the CPU), a traced model's IR, a GPU-vs-CPU table
  info   what kiln finds on this machine";

/// The GPU when an adapter opens, else the CPU with a one-line reason.
fn pick_device() -> Device {
    match Device::wgpu() {
        Ok(d) => d,
        Err(e) => {
            println!("note: running on the CPU: {e}");
            println!("      (on Linux without a GPU, `apt-get install mesa-vulkan-drivers` gives a software one)\n");
            Device::Cpu
        }
    }
}

/// A 2-layer MLP with seeded weights.
fn mlp(x: &Tensor, w1: &Tensor, b1: &Tensor, w2: &Tensor) -> kiln::Result<Tensor> {
    x.linear(w1, Some(b1))?
        .relu()?
        .linear(w2, None)?
        .softmax(-1)
}

fn median_ms(mut f: impl FnMut() -> kiln::Result<()>, runs: usize) -> kiln::Result<f64> {
    f()?; // warm-up (and pipeline compiles on the GPU)
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn demo() -> kiln::Result<()> {
    let dev = pick_device();
    println!("== a few ops on {dev}\n");
    let x = Tensor::from_vec(
        (0..6).map(|i| i as f32 - 2.5).collect::<Vec<_>>(),
        &[2, 3],
        &dev,
    )?;
    println!("x = {x}\n");
    println!("x * 2 + 1 = {}\n", x.mul_scalar(2.0)?.add_scalar(1.0)?);
    println!("x.t() (a view, no copy) = {}\n", x.t()?);
    println!("(x > 0) = {}\n", x.gt_scalar(0.0)?);
    println!("gelu(x) = {}\n", x.gelu()?);

    println!("== a traced MLP (traced on the CPU)\n");
    let cpu = Device::Cpu;
    let w1 = Tensor::randn(&[8, 4], 1, DType::F32, &cpu)?.mul_scalar(0.5)?;
    let b1 = Tensor::zeros(&[8], DType::F32, &cpu)?;
    let w2 = Tensor::randn(&[3, 8], 2, DType::F32, &cpu)?.mul_scalar(0.5)?;
    let input = Tensor::rand(&[2, 4], 3, DType::F32, &cpu)?;
    let (eager, graph) =
        kiln::trace::trace(|i| mlp(&i[0], &w1, &b1, &w2), std::slice::from_ref(&input))?;
    println!("{graph}");
    let replayed = graph.run(&[input])?;
    let same = replayed[0].to_vec::<f32>()? == eager[0].to_vec::<f32>()?;
    println!("replay equals the eager run: {same}\n");

    println!("== GPU vs CPU (median of 5 runs, results read back)\n");
    println!(
        "{:<22} {:>10} {:>10} {:>9}",
        "op", "CPU ms", "GPU ms", "GPU/CPU"
    );
    for n in [256usize, 512] {
        let a = Tensor::rand(&[n, n], 4, DType::F32, &cpu)?;
        let b = Tensor::rand(&[n, n], 5, DType::F32, &cpu)?;
        let row = |name: String,
                   f: &dyn Fn(&Tensor, &Tensor) -> kiln::Result<Tensor>|
         -> kiln::Result<()> {
            let c = median_ms(|| f(&a, &b)?.to_vec::<f32>().map(|_| ()), 5)?;
            let g = if dev.is_cpu() {
                None
            } else {
                let (ga, gb) = (a.to(&dev)?, b.to(&dev)?);
                match median_ms(|| f(&ga, &gb)?.to_vec::<f32>().map(|_| ()), 5) {
                    Ok(ms) => Some(ms),
                    Err(e) => {
                        println!("{name:<22} {c:>10.3} {:>10} ({e})", "-");
                        return Ok(());
                    }
                }
            };
            match g {
                Some(g) => println!("{name:<22} {c:>10.3} {g:>10.3} {:>8.2}x", c / g),
                None => println!("{name:<22} {c:>10.3} {:>10} {:>9}", "-", "-"),
            }
            Ok(())
        };
        row(format!("add [{n}, {n}]"), &|a, b| a.add(b))?;
        row(format!("exp [{n}, {n}]"), &|a, _| a.exp())?;
        row(format!("matmul {n}x{n}"), &|a, b| a.matmul(b))?;
    }
    println!("\n(GPU/CPU > 1 means the GPU is faster; a software GPU such as lavapipe is far slower than the CPU.)");
    Ok(())
}

fn info() -> kiln::Result<()> {
    kiln::init()?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("CPU: {threads} threads");
    match Device::wgpu() {
        Ok(d) => println!("GPU: {d} opened"),
        Err(e) => println!("GPU: none ({e})"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") | None => demo(),
        Some("info") => info(),
        Some("trace") => return trace::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprintln!("kiln: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln: {e}");
            ExitCode::from(1)
        }
    }
}
