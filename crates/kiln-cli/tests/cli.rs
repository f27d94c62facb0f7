//! The built `kiln` binary: `info`, `bench` with its files, and every kind
//! of bad input (one line on stderr, exit code 2, no panic).

use std::path::PathBuf;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the kiln binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh path in the target's temporary folder.
fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let p = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// The fields of one CSV line (quoted fields may hold commas and `""`).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Exit code 2 with exactly one line on stderr, naming `needle`, and no
/// panic or backtrace.
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = kiln(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {err:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: stderr {err:?}");
    assert!(err.starts_with("kiln: "), "{args:?}: {err:?}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn info_names_the_adapter_or_the_lavapipe_hint() {
    let out = kiln(&["info"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    assert!(s.contains("CPU: ") && s.contains("threads"), "{s}");
    let adapter = s.contains("kiln picks this one") && s.contains("driver: ");
    let hint = s.contains("mesa-vulkan-drivers");
    assert!(adapter || hint, "{s}");
    if adapter {
        assert!(
            s.contains("SHADER_F16") && s.contains("max storage buffer binding"),
            "{s}"
        );
    }
}

#[test]
fn bench_writes_csv_and_svg() {
    let (csv, svg) = (tmp("bench.csv"), tmp("bench.svg"));
    let out = kiln(&[
        "bench",
        "--ops",
        "add",
        "--sizes",
        "1024",
        "--samples",
        "2",
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    assert!(s.starts_with("machine: CPU: "), "{s}");
    assert!(s.contains("| add ") && s.contains("[1024,1024]"), "{s}");

    let c = std::fs::read_to_string(&csv).expect("the CSV was written");
    let lines: Vec<&str> = c.lines().collect();
    assert_eq!(lines.len(), 2, "{c}");
    let header = csv_fields(lines[0]);
    let row = csv_fields(lines[1]);
    assert_eq!(header[..4], ["op", "shape", "dtype", "cpu_ms"], "{c}");
    assert_eq!(header.len(), row.len(), "{c}");
    assert_eq!(row[..3], ["add", "[1024,1024]", "f32"], "{c}");
    let cpu_ms: f64 = row[3].parse().expect("cpu_ms is a number");
    assert!(cpu_ms > 0.0, "{c}");

    let g = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(
        g.trim_start().starts_with("<svg"),
        "{}",
        &g[..g.len().min(200)]
    );
    assert!(g.trim_end().ends_with("</svg>"));
    let _ = (std::fs::remove_file(csv), std::fs::remove_file(svg));
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    assert_usage_error(&["bench", "--nope"], "unknown flag --nope");
    assert_usage_error(&["bench", "--sizes"], "--sizes needs a value");
    assert_usage_error(&["bench", "--sizes", "12,x"], "not a positive integer");
    assert_usage_error(&["bench", "--samples", "many"], "not a number");
    assert_usage_error(&["bench", "--samples", "0"], "--samples");
    assert_usage_error(
        &["bench", "--ops", "matmul,frobnicate"],
        "unknown op \"frobnicate\"",
    );
    assert_usage_error(&["bench", "--dtype", "f64"], "--dtype");
    assert_usage_error(&["bench", "--device", "tpu"], "--device");
    assert_usage_error(&["bench", "--sizes", "1000000"], "too large");
    assert_usage_error(&["bench", "stray"], "unexpected argument");
    assert_usage_error(&["info", "--verbose"], "unknown flag");
    assert_usage_error(&["demo", "--fast"], "unknown flag");
    let unwritable = "/nonexistent-dir/kiln/out.csv";
    assert_usage_error(
        &["bench", "--ops", "add", "--csv", unwritable],
        "cannot write --csv",
    );
    assert_usage_error(
        &["bench", "--ops", "add", "--svg", unwritable],
        "cannot write --svg",
    );
}

#[test]
fn unknown_command_is_exit_code_2() {
    assert_usage_error(&["frobnicate"], "unknown command \"frobnicate\"");
}

#[test]
fn help_goes_to_stdout() {
    for args in [
        &["--help"][..],
        &["bench", "--help"],
        &["info", "-h"],
        &["demo", "--help"],
    ] {
        let out = kiln(args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).starts_with("usage: kiln"), "{args:?}");
    }
}
