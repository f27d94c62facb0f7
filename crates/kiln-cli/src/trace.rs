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
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: kiln trace --model mlp|cnn|transformer [--device cpu|gpu] [--dot FILE] [--json FILE] [--svg FILE]";

/// Why the command failed: bad input (exit code 2) or a failed run (1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Run(String),
}

impl From<kiln::Error> for Failure {
    fn from(e: kiln::Error) -> Failure {
        Failure::Run(e.to_string())
    }
}

/// The parsed command line.
#[derive(Debug, Default)]
struct Options {
    model: String,
    device: Option<String>,
    dot: Option<PathBuf>,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, Failure> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(Failure::Usage(String::new()));
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if !matches!(flag, "--model" | "--device" | "--dot" | "--json" | "--svg") {
            return Err(Failure::Usage(format!("unknown argument {arg:?}")));
        }
        let value = match inline.or_else(|| it.next().cloned()) {
            Some(v) if !v.is_empty() => v,
            _ => return Err(Failure::Usage(format!("{flag} needs a value"))),
        };
        match flag {
            "--model" => o.model = value,
            "--device" => o.device = Some(value),
            "--dot" => o.dot = Some(value.into()),
            "--json" => o.json = Some(value.into()),
            _ => o.svg = Some(value.into()),
        }
    }
    if o.model.is_empty() {
        return Err(Failure::Usage("missing --model".into()));
    }
    if !NAMES.contains(&o.model.as_str()) {
        return Err(Failure::Usage(format!(
            "unknown model {:?} (expected one of {})",
            o.model,
            NAMES.join(", ")
        )));
    }
    Ok(o)
}

fn device(name: Option<&str>) -> Result<Device, Failure> {
    match name {
        None | Some("cpu") => Ok(Device::Cpu),
        Some("gpu" | "wgpu") => Device::wgpu().map_err(|e| {
            Failure::Run(format!(
                "no GPU for --device gpu: {e} (on Linux without a GPU, `apt-get install mesa-vulkan-drivers` gives a software one)"
            ))
        }),
        Some(other) => Err(Failure::Usage(format!(
            "unknown device {other:?} (expected cpu or gpu)"
        ))),
    }
}

/// Writes `text` to `path`; a failure is bad input (exit code 2).
fn write_file(path: &PathBuf, text: &str, what: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::Usage(format!(
            "cannot write the {what} to {}: {e}",
            path.display()
        ))
    })?;
    println!("wrote {what} to {}", path.display());
    Ok(())
}

/// Renders `dot` to `path` through Graphviz's `dot -Tsvg`, when installed.
fn write_svg(path: &PathBuf, dot: &str) -> Result<(), Failure> {
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
        Err(e) => return Err(Failure::Run(format!("cannot run Graphviz's dot: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write shows up as dot's own error below.
        let _ = stdin.write_all(dot.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Failure::Run(format!("Graphviz's dot failed: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let first = msg.lines().next().unwrap_or("no message");
        return Err(Failure::Usage(format!(
            "cannot write the SVG to {}: dot says: {first}",
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

fn trace(args: &[String]) -> Result<(), Failure> {
    let o = parse(args)?;
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
        return Err(Failure::Run(format!(
            "the replayed graph differs from the eager run by up to {d:e}"
        )));
    }
    println!("replay equals the eager run");
    Ok(())
}

/// Runs `kiln trace` with the arguments after `trace`; prints a one-line
/// error on failure. Exit code 2 for bad input (flags, model, device name,
/// an unwritable file), 1 when the run itself fails.
pub fn run(args: &[String]) -> ExitCode {
    match trace(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) if msg.is_empty() => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("kiln trace: {msg} (see `kiln trace --help`)");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("kiln trace: {}", msg.replace('\n', " "));
            ExitCode::from(1)
        }
    }
}
