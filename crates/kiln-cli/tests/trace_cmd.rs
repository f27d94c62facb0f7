//! `kiln trace` as a user runs it: the built binary, its output, the files
//! it writes, and exit code 2 with a one-line error on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("running the kiln binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-trace-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temp dir");
    dir
}

#[track_caller]
fn assert_ok(out: &Output) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn mlp_prints_ir_counts_and_writes_dot_and_json() {
    let dir = scratch("mlp");
    let (dot, json) = (dir.join("mlp.dot"), dir.join("mlp.json"));
    let out = kiln(&[
        "trace",
        "--model",
        "mlp",
        "--dot",
        dot.to_str().unwrap(),
        &format!("--json={}", json.display()),
    ]);
    let stdout = assert_ok(&out);
    assert!(stdout.contains("graph(%x : f32[64, 512] cpu):"), "{stdout}");
    assert!(
        stdout.contains("%3 : f32[64, 512] = kiln::linear(%x, %1, %2)"),
        "{stdout}"
    );
    assert!(stdout.contains("nodes per op:"), "{stdout}");
    let count = |op: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(op))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|n| n.to_string())
    };
    assert_eq!(count("kiln::linear").as_deref(), Some("3"), "{stdout}");
    assert_eq!(count("kiln::relu").as_deref(), Some("2"), "{stdout}");
    assert_eq!(count("prim::Constant").as_deref(), Some("6"), "{stdout}");
    assert!(stdout.contains("max abs difference 0\n"), "{stdout}");
    assert!(stdout.contains("replay equals the eager run"), "{stdout}");
    let d = std::fs::read_to_string(&dot).unwrap();
    assert!(
        d.starts_with("digraph {") && d.contains("kiln::relu"),
        "{d}"
    );
    let j = std::fs::read_to_string(&json).unwrap();
    assert!(
        j.contains(r#""op": "kiln::linear""#),
        "{}",
        &j[..j.len().min(500)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transformer_and_cnn_trace_and_replay_on_the_cpu() {
    let out = kiln(&["trace", "--model", "transformer", "--device", "cpu"]);
    let stdout = assert_ok(&out);
    assert!(
        stdout.contains("graph(%x : f32[1, 128, 256] cpu):"),
        "{stdout}"
    );
    for op in [
        "kiln::layer_norm",
        "kiln::softmax",
        "kiln::gelu",
        "kiln::matmul",
    ] {
        assert!(stdout.contains(op), "{op} missing:\n{stdout}");
    }
    assert!(stdout.contains("replay equals the eager run"), "{stdout}");

    let stdout = assert_ok(&kiln(&["trace", "--model=cnn"]));
    assert!(stdout.contains("kiln::conv2d"), "{stdout}");
    assert!(stdout.contains("kiln::max_pool2d"), "{stdout}");
    assert!(stdout.contains("replay equals the eager run"), "{stdout}");
}

#[test]
fn mlp_on_the_gpu_when_there_is_one() {
    // `devices()` fails the test under KILN_REQUIRE_GPU=1 when no adapter opens.
    if kiln::testing::devices().len() < 2 {
        let out = kiln(&["trace", "--model", "mlp", "--device", "gpu"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("mesa-vulkan-drivers"));
        return;
    }
    let stdout = assert_ok(&kiln(&["trace", "--model", "mlp", "--device", "gpu"]));
    assert!(stdout.contains("graph(%x : f32[64, 512] wgpu"), "{stdout}");
    assert!(stdout.contains("replay equals the eager run"), "{stdout}");
}

#[test]
fn svg_uses_graphviz_or_says_how_to_get_it() {
    let dir = scratch("svg");
    let svg = dir.join("g.svg");
    let has_dot = Command::new("dot").arg("-V").output().is_ok();
    if has_dot {
        let stdout = assert_ok(&kiln(&[
            "trace",
            "--model",
            "mlp",
            "--svg",
            svg.to_str().unwrap(),
        ]));
        assert!(stdout.contains("wrote SVG"), "{stdout}");
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    }
    // Without `dot` on PATH: a one-line hint, the rest of the command still runs.
    let empty = scratch("svg-path");
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["trace", "--model", "mlp", "--svg", svg.to_str().unwrap()])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_ok(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("apt-get install graphviz"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = scratch("bad");
    let missing = dir.join("no/such/dir/g.dot");
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["--model".into()],
        vec!["--model".into(), "resnet".into()],
        vec!["--model".into(), "mlp".into(), "--frobnicate".into()],
        vec![
            "--model".into(),
            "mlp".into(),
            "--device".into(),
            "tpu".into(),
        ],
        vec!["--model".into(), "mlp".into(), "--json".into(), "".into()],
        vec![
            "--model".into(),
            "mlp".into(),
            "--dot".into(),
            missing.display().to_string(),
        ],
    ];
    for case in cases {
        let mut args = vec!["trace"];
        args.extend(case.iter().map(String::as_str));
        let out = kiln(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("kiln: trace: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let stderr = text(&kiln(&["trace", "--model", "resnet"]).stderr);
    assert!(
        stderr.contains("resnet") && stderr.contains("transformer"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
