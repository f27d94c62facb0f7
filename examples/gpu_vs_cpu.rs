//! A small benchmark through the library API: a few ops on the CPU and on
//! the GPU, median wall time of several runs after a warm-up (which also
//! compiles the GPU pipelines). GPU times include `synchronize`, so the
//! work is finished, but not the read-back.
//!
//! `cargo run -p kiln --example gpu_vs_cpu` (add `--release` for numbers
//! worth comparing).

use kiln::prelude::*;
use std::time::Instant;

const RUNS: usize = 5;

/// Median milliseconds of `RUNS` runs of `f` after one warm-up.
fn median_ms(dev: Device, f: &dyn Fn() -> kiln::Result<Tensor>) -> kiln::Result<f64> {
    let sync = || match dev {
        Device::Cpu => Ok(()),
        d => kiln::wgpu::synchronize(d),
    };
    f()?;
    sync()?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = f()?;
        sync()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        drop(out);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[RUNS / 2])
}

type Op = fn(&Tensor, &Tensor) -> kiln::Result<Tensor>;

fn main() -> kiln::Result<()> {
    let gpu = match Device::wgpu() {
        Ok(d) => Some(d),
        Err(e) => {
            let reason = e.to_string();
            println!(
                "no GPU, CPU times only: {}",
                reason.lines().next().unwrap_or("no adapter")
            );
            None
        }
    };
    let ops: [(&str, Op); 5] = [
        ("add", |a, b| a.add(b)),
        ("exp", |a, _| a.exp()),
        ("sum(dim 1)", |a, _| a.sum(&[1], false)),
        ("softmax(-1)", |a, _| a.softmax(-1)),
        ("matmul", |a, b| a.matmul(b)),
    ];
    println!(
        "{:<14} {:>12} {:>10} {:>10} {:>9}",
        "op", "shape", "CPU ms", "GPU ms", "GPU/CPU"
    );
    let n = 256;
    let cpu = Device::Cpu;
    let a = Tensor::rand(&[n, n], 1, DType::F32, &cpu)?;
    let b = Tensor::rand(&[n, n], 2, DType::F32, &cpu)?;
    let on_gpu = match gpu {
        Some(d) => Some((d, a.to(&d)?, b.to(&d)?)),
        None => None,
    };
    for (name, f) in ops {
        let c = median_ms(cpu, &|| f(&a, &b))?;
        let shape = format!("[{n}, {n}]");
        match &on_gpu {
            Some((d, ga, gb)) => {
                let g = median_ms(*d, &|| f(ga, gb))?;
                println!("{name:<14} {shape:>12} {c:>10.3} {g:>10.3} {:>8.2}x", c / g);
            }
            None => println!("{name:<14} {shape:>12} {c:>10.3} {:>10} {:>9}", "-", "-"),
        }
    }
    println!("\nGPU/CPU > 1: the GPU is faster. A software GPU (lavapipe) is slower than the CPU.");
    Ok(())
}
