//! The `kiln` command. `kiln demo` is the README's main job.

use kiln::prelude::*;
use std::process::ExitCode;

const USAGE: &str = "usage: kiln <demo|info>\n  demo   run a few ops and show the results\n  info   what kiln finds on this machine";

fn demo() -> kiln::Result<()> {
    let dev = Device::Cpu;
    println!("kiln demo on {dev}\n");
    let x = Tensor::from_vec(
        (0..6).map(|i| i as f32 - 2.5).collect::<Vec<_>>(),
        &[2, 3],
        &dev,
    )?;
    println!("x = {x}\n");
    println!("x * 2 + 1 = {}\n", x.mul_scalar(2.0)?.add_scalar(1.0)?);
    println!("x.t() (a view, no copy) = {}\n", x.t()?);
    println!("x > 0 = {}\n", x.gt_scalar(0.0)?);
    let r = Tensor::rand(&[3, 4], 42, DType::F32, &dev);
    match r {
        Ok(r) => println!("rand(seed 42) = {r}\n"),
        Err(e) => println!("rand: {e}\n"),
    }
    println!(
        "dispatch table of kiln::add:\n{}",
        kiln::Dispatcher::global().dump("kiln::add")?
    );
    Ok(())
}

fn info() -> kiln::Result<()> {
    kiln::init()?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("CPU: {threads} threads");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") | None => demo(),
        Some("info") => info(),
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
