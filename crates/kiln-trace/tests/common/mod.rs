//! Shared by the tracer's integration tests: golden IR files.

#![allow(dead_code)]

use std::path::PathBuf;

/// Compares `actual` with `tests/golden/<name>.ir`. With `KILN_BLESS=1` the
/// file is (re)written instead.
#[track_caller]
pub fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.ir"));
    if std::env::var("KILN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {} (run with KILN_BLESS=1 to create it): {e}",
            path.display()
        )
    });
    assert_eq!(
        actual,
        want,
        "IR differs from {}:\n{actual}",
        path.display()
    );
}

/// `n` deterministic f32 values in [-1, 1).
pub fn vals(n: usize, seed: u64) -> Vec<f32> {
    kiln::testing::values(n, seed, kiln::DType::F32, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}
