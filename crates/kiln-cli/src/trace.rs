//! `kiln trace --model mlp|cnn|transformer [--device cpu|gpu] [--dot FILE]
//! [--json FILE] [--svg FILE]`: traces one of the `kiln::nn::models`,
//! prints its IR and a node count per op, writes the files asked for, and
//! checks that replaying the graph on a fresh input equals running the
//! model eagerly.

use kiln::nn::models::{Model, NAMES};
use kiln::nn::Module;
use kiln::prelude::*;
use kiln::trace::Graph;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::args::{self, usage, CliError, CliResult, Flag};

const USAGE: &str = "usage: kiln trace --model mlp|cnn|transformer [--device cpu|gpu] [--dot FILE] [--json FILE] [--svg FILE]";

/// The parsed command line.
#[derive(Debug, Default)]
struct Options {
    model: String,
    device: Option<String>,
    dot: Option<PathBuf>,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
}

const FLAGS: &[Flag] = &[
    Flag {
        name: "model",
        takes_value: true,
    },
    Flag {
        name: "device",
        takes_value: true,
    },
    Flag {
        name: "dot",
        takes_value: true,
    },
    Flag {
        name: "json",
        takes_value: true,
    },
    Flag {
        name: "svg",
        takes_value: true,
    },
];

/// The options, or `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, CliError> {
    let p = args::parse("trace", args, FLAGS)?;
    if p.help {
        return Ok(None);
    }
    let Some(model) = p.value("model") else {
        return Err(usage("trace", "missing --model"));
    };
    if !NAMES.contains(&model) {
        return Err(usage(
            "trace",
            format!(
                "unknown model {model:?} (expected one of {})",
                NAMES.join(", ")
            ),
        ));
    }
    // created now, so an unwritable path is reported before any work
    let path = |name| -> Result<Option<PathBuf>, CliError> {
        Ok(p.output_file(name)?.map(|(path, _)| PathBuf::from(path)))
    };
    Ok(Some(Options {
        model: model.to_string(),
        device: p.value("device").map(str::to_string),
        dot: path("dot")?,
        json: path("json")?,
        svg: path("svg")?,
    }))
}

fn device(name: Option<&str>) -> Result<Device, CliError> {
    match name {
        None | Some("cpu") => Ok(Device::Cpu),
        Some("gpu" | "wgpu") => Device::wgpu().map_err(|e| {
            CliError::Run(format!(
                "no GPU for --device gpu: {e} (on Linux without a GPU, `apt-get install mesa-vulkan-drivers` gives a software one)"
            ))
        }),
        Some(other) => Err(usage("trace", format!("unknown device {other:?} (expected cpu or gpu)"))),
    }
}

/// Writes `text` to `path`; a failure is bad input (exit code 2).
fn write_file(path: &PathBuf, text: &str, what: &str) -> CliResult {
    std::fs::write(path, text).map_err(|e| {
        CliError::Usage(format!(
            "trace: cannot write the {what} to {}: {e}",
            path.display()
        ))
    })?;
    println!("wrote {what} to {}", path.display());
    Ok(())
}

/// Renders `dot` to `path` through Graphviz's `dot -Tsvg`, when installed.
fn write_svg(path: &PathBuf, dot: &str) -> CliResult {
    let child = Command::new("dot")
        .args(["-Tsvg", "-o"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "kiln trace: no SVG written: --svg needs Graphviz's `dot` on PATH (apt-get install graphviz)"
            );
            return Ok(());
        }
        Err(e) => return Err(CliError::Run(format!("cannot run Graphviz's dot: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write shows up as dot's own error below.
        let _ = stdin.write_all(dot.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CliError::Run(format!("Graphviz's dot failed: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let first = msg.lines().next().unwrap_or("no message");
        return Err(CliError::Usage(format!(
            "trace: cannot write the SVG to {}: dot says: {first}",
            path.display()
        )));
    }
    println!("wrote SVG to {}", path.display());
    Ok(())
}

/// The ops in order of first appearance with their counts, constants first.
fn node_counts(g: &Graph) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    if g.num_constants() > 0 {
        counts.push(("prim::Constant".into(), g.num_constants()));
    }
    for name in g.op_names() {
        match counts.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name.to_string(), 1)),
        }
    }
    counts
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> kiln::Result<f64> {
    let (a, b) = (a.to_f64_vec()?, b.to_f64_vec()?);
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| match (x - y).abs() {
            _ if x == y || (x.is_nan() && y.is_nan()) => 0.0,
            d if d.is_nan() => f64::INFINITY,
            d => d,
        })
        .fold(0.0, f64::max))
}

fn trace(args: &[String]) -> CliResult {
    let Some(o) = parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    let dev = device(o.device.as_deref())?;
    let model = Model::by_name(&o.model, 0, DType::F32, &dev)?;
    let x = model.input(1, DType::F32, &dev)?;
    println!(
        "== {} on {dev}: {} parameters, input f32{:?}\n",
        o.model,
        model.num_parameters(),
        x.shape()
    );
    let (outs, mut graph) = kiln::trace::trace(|i| model.forward(&i[0]), std::slice::from_ref(&x))?;
    graph.set_input_names(&["x"])?;
    println!("{graph}");
    println!("nodes per op:");
    for (name, count) in node_counts(&graph) {
        println!("  {name:<20} {count:>4}");
    }
    println!();

    let dot = graph.to_dot();
    if let Some(p) = &o.dot {
        write_file(p, &dot, "DOT")?;
    }
    if let Some(p) = &o.json {
        write_file(p, &graph.to_json()?, "JSON")?;
    }
    if let Some(p) = &o.svg {
        write_svg(p, &dot)?;
    }

    // Replay on a new input against the model run eagerly on it; on the
    // trace's own input, the traced output is the eager one.
    let x2 = model.input(2, DType::F32, &dev)?;
    let eager = model.forward(&x2)?;
    let replayed = graph.run(std::slice::from_ref(&x2))?;
    let d_new = max_abs_diff(&replayed[0], &eager)?;
    let d_same = max_abs_diff(&graph.run(std::slice::from_ref(&x))?[0], &outs[0])?;
    let d = d_new.max(d_same);
    if d == 0.0 {
        println!("replay vs eager on {dev}: max abs difference 0");
    } else {
        println!("replay vs eager on {dev}: max abs difference {d:e}");
        return Err(CliError::Run(format!(
            "the replayed graph differs from the eager run by up to {d:e}"
        )));
    }
    println!("replay equals the eager run");
    Ok(())
}

/// Runs `kiln trace` with the arguments after `trace`. Exit code 2 for bad
/// input (flags, model, device name, an unwritable file), 1 when the run
/// itself fails.
pub fn run(args: &[String]) -> CliResult {
    trace(args)
}
