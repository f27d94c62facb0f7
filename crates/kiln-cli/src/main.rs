//! The `kiln` command. `kiln demo` is the README's main job.
//!
//! Each subcommand lives in its own module with a `run(&[String]) ->
//! CliResult` taking the arguments after its name. A command-line mistake
//! is one line on stderr and exit code 2; a failure while running is one
//! line and exit code 1. Nothing here panics on user input.

mod args;
mod bench;
mod demo;
mod info;
mod report;
mod svg;
mod trace;

use args::CliError;
use std::process::ExitCode;

const USAGE: &str = "usage: kiln <command> [options]

commands:
  demo    ops on the GPU (or the CPU), a traced model's IR, a GPU-vs-CPU table
  info    the CPU and every GPU adapter wgpu finds, and which one kiln picks
  bench   ops on the CPU and the GPU side by side: medians, rates, speed-ups
  trace   trace a model (mlp, cnn, transformer): IR, node counts, DOT/JSON/SVG, replay check

`kiln <command> --help` describes a command's options.";

/// A panic (a bug, never user input) is reported as one line, without a
/// backtrace; stdout closed by the reader (`kiln bench | head`) ends the
/// process quietly, as it would for any Unix tool.
fn one_line_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if msg.contains("failed printing to stdout") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("kiln: internal error{at}: {}", msg.replace('\n', " "));
    }));
}

fn main() -> ExitCode {
    one_line_panics();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    let result = match args.first().map(String::as_str) {
        None => demo::run(&[]),
        Some("demo") => demo::run(rest),
        Some("info") => info::run(rest),
        Some("bench") => bench::run(rest),
        Some("trace") => trace::run(rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(CliError::Usage(format!(
            "unknown command {other:?}; the commands are demo, info, bench, trace (see `kiln --help`)"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
