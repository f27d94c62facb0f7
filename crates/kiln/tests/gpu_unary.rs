//! Unary ops on every device against an f64 reference, for every dtype and
//! layout: floats keep their dtype, `neg`/`abs`/`relu` keep `i32`, the other
//! ops promote `i32` to `f32` except `gelu`/`silu`, which refuse it like
//! `bool` does (`UnsupportedDType`).

mod gpu_support;

use gpu_support::{call, cpu_lacks_kernel, devices_for};
use kiln::prelude::*;
use kiln::testing::{assert_close, layouts, round_to, tolerance};

/// `(op, keeps i32, input range)`.
const OPS: [(&str, bool, (f64, f64)); 14] = [
    ("neg", true, (-4.0, 4.0)),
    ("abs", true, (-4.0, 4.0)),
    ("exp", false, (-4.0, 4.0)),
    ("log", false, (0.05, 8.0)),
    ("sqrt", false, (0.0, 8.0)),
    ("rsqrt", false, (0.05, 8.0)),
    ("sin", false, (-4.0, 4.0)),
    ("cos", false, (-4.0, 4.0)),
    ("tanh", false, (-4.0, 4.0)),
    ("sigmoid", false, (-6.0, 6.0)),
    ("relu", true, (-4.0, 4.0)),
    ("gelu", false, (-4.0, 4.0)),
    ("silu", false, (-6.0, 6.0)),
    ("recip", false, (0.25, 4.0)),
];

/// erfc in f64: Taylor series of erf near 0, a continued fraction beyond.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        return 1.0 - sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
    let mut f = x;
    for k in (1..60).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

fn reference(op: &str, x: f64) -> f64 {
    match op {
        "neg" => -x,
        "abs" => x.abs(),
        "exp" => x.exp(),
        "log" => x.ln(),
        "sqrt" => x.sqrt(),
        "rsqrt" => 1.0 / x.sqrt(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tanh" => x.tanh(),
        "sigmoid" => 1.0 / (1.0 + (-x).exp()),
        "relu" => x.max(0.0),
        "gelu" => 0.5 * x * erfc(-x / std::f64::consts::SQRT_2),
        "silu" => x / (1.0 + (-x).exp()),
        "recip" => 1.0 / x,
        _ => unreachable!("{op}"),
    }
}

/// `(atol, rtol)` of `op` against the f64 reference, for a result of `dt`.
fn tol(op: &str, dt: DType) -> (f64, f64) {
    match (op, dt) {
        (_, DType::I32) => (0.0, 0.0),
        (_, DType::F32) => match op {
            "neg" | "abs" | "relu" => (0.0, 0.0),
            "sin" | "cos" | "tanh" => (2e-6, 2e-6),
            _ => (1e-6, 4e-6),
        },
        (_, d) => tolerance(d),
    }
}

#[test]
fn unary_ops_match_the_f64_reference() {
    for (op, keeps_int, (lo, hi)) in OPS {
        for dt in DType::ALL {
            for dev in devices_for(&[dt]) {
                for case in layouts(&[4, 6], dt, &dev, 5, lo, hi).unwrap() {
                    let what = format!("{op} {dt} {} on {dev}", case.layout);
                    let got = call(op, vec![(&case.tensor).into()]);
                    if cpu_lacks_kernel(dev, &got) {
                        eprintln!("{what}: the CPU backend has no kernel yet, skipped");
                        continue;
                    }
                    if dt == DType::Bool || (dt == DType::I32 && matches!(op, "gelu" | "silu")) {
                        assert!(
                            matches!(got, Err(kiln::Error::UnsupportedDType { .. })),
                            "{what}: {got:?}"
                        );
                        continue;
                    }
                    let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
                    let out = if dt == DType::I32 && !keeps_int {
                        DType::F32
                    } else {
                        dt
                    };
                    assert_eq!(
                        (got.dtype(), got.shape()),
                        (out, &[4usize, 6][..]),
                        "{what}"
                    );
                    let want: Vec<f64> = case
                        .values
                        .iter()
                        .map(|&v| round_to(reference(op, v), out))
                        .collect();
                    let (atol, rtol) = tol(op, out);
                    assert_close(&what, &got.to_f64_vec().unwrap(), &want, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn unary_edge_values() {
    let vals = [
        0.0f32,
        -0.0,
        1e-4,
        -1e-4,
        30.0,
        -30.0,
        100.0,
        -100.0,
        1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1.0,
    ];
    for dev in devices_for(&[DType::F32]) {
        let x = kiln::from_vec(vals.to_vec(), &[vals.len()], &dev).unwrap();
        for (op, _, _) in OPS {
            let what = format!("{op} on edge values on {dev}");
            let got = call(op, vec![(&x).into()]);
            if cpu_lacks_kernel(dev, &got) {
                continue;
            }
            let got = got.unwrap().to_f64_vec().unwrap();
            let want: Vec<f64> = vals
                .iter()
                .map(|&v| round_to(reference(op, v as f64), DType::F32))
                .collect();
            let (atol, rtol) = tol(op, DType::F32);
            for (k, v) in vals.iter().enumerate() {
                // sin and cos reduce their argument in f32: accurate up to |x| of a few hundred
                if matches!(op, "sin" | "cos") && v.abs() > 100.0 {
                    continue;
                }
                assert_close(
                    &format!("{what} ({v})"),
                    &got[k..k + 1],
                    &want[k..k + 1],
                    atol,
                    rtol,
                );
            }
        }
    }
}

#[test]
fn unary_zero_size_and_zero_dim() {
    for dev in devices_for(&[DType::F32]) {
        let e = kiln::zeros(&[0, 3], DType::F16, &dev).unwrap();
        let s = kiln::full(&[], 2.0, DType::F32, &dev).unwrap();
        for (op, _, _) in OPS {
            let got = call(op, vec![(&e).into()]);
            if cpu_lacks_kernel(dev, &got) {
                continue;
            }
            let got = got.unwrap();
            assert_eq!(
                (got.shape(), got.dtype()),
                (&[0usize, 3][..], DType::F16),
                "{op} on {dev}"
            );
            let z = call(op, vec![(&s).into()]).unwrap();
            assert_eq!(z.shape(), &[] as &[usize]);
            let want = round_to(reference(op, 2.0), DType::F32);
            assert_close(op, &z.to_f64_vec().unwrap(), &[want], 1e-6, 4e-6);
        }
    }
}
