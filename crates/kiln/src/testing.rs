//! Test support shared by kiln's own tests (and usable by backends' tests):
//! the devices to run on, inputs in several layouts with their logical
//! values, and tolerance checks against a plain f64 reference.
//!
//! Each test is written once against [`devices`] and runs on every backend
//! present. GPU tests skip with a printed reason when no adapter exists,
//! unless `KILN_REQUIRE_GPU=1`, when a missing adapter fails the test.

use crate::{DType, Device, Result, Tensor};

/// Every device the tests should cover: the CPU, and each GPU backend kiln
/// was built with that has an adapter here.
pub fn devices() -> Vec<Device> {
    crate::init().expect("kiln::init failed");
    let mut out = vec![Device::Cpu];
    match <Device as crate::DeviceExt>::wgpu() {
        Ok(d) => out.push(d),
        Err(e) if require_gpu() => panic!("KILN_REQUIRE_GPU=1 but no GPU adapter opened: {e}"),
        Err(e) => eprintln!("skipping the GPU part of this test: {e}"),
    }
    out
}

/// Whether `KILN_REQUIRE_GPU=1`: a missing adapter fails instead of skipping.
pub fn require_gpu() -> bool {
    std::env::var("KILN_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// An input tensor in one layout, with its logical values (row-major).
pub struct Case {
    /// `contiguous`, `transposed`, `sliced` (non-zero offset) or `broadcast`.
    pub layout: &'static str,
    /// The tensor.
    pub tensor: Tensor,
    /// Its values in logical order, as stored (already rounded to the dtype).
    pub values: Vec<f64>,
}

/// Deterministic test values for `dtype`: floats in `[lo, hi)`, ints in
/// `[lo, hi)` rounded, bools alternating irregularly.
pub fn values(n: usize, seed: u64, dtype: DType, lo: f64, hi: f64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            match dtype {
                DType::Bool => (u < 0.5) as u8 as f64,
                DType::I32 => (lo + u * (hi - lo)).floor(),
                _ => lo + u * (hi - lo),
            }
        })
        .collect()
}

/// A tensor of `shape` and `dtype` on `device` from f64 values.
pub fn tensor_of(vals: &[f64], shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    let t = crate::from_vec(
        vals.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
        shape,
        &Device::Cpu,
    )?;
    let t = if dtype == DType::I32 || dtype == DType::Bool {
        // through i32 so that integral values convert exactly
        crate::from_vec(
            vals.iter().map(|&v| v as i32).collect::<Vec<i32>>(),
            shape,
            &Device::Cpu,
        )?
        .to_dtype(dtype)?
    } else {
        t.to_dtype(dtype)?
    };
    t.to(device)
}

/// The same logical `shape` in four layouts: contiguous, transposed (last
/// two dims, when there are two), sliced with a storage offset, and
/// broadcast from a size-1 leading dim (when `shape[0] > 1`).
pub fn layouts(
    shape: &[usize],
    dtype: DType,
    device: &Device,
    seed: u64,
    lo: f64,
    hi: f64,
) -> Result<Vec<Case>> {
    let n: usize = shape.iter().product();
    let mut cases = Vec::new();
    let base = values(n, seed, dtype, lo, hi);
    let t = tensor_of(&base, shape, dtype, device)?;
    cases.push(Case {
        layout: "contiguous",
        values: t.to_f64_vec()?,
        tensor: t,
    });
    let nd = shape.len();
    if nd >= 2 {
        let mut swapped = shape.to_vec();
        swapped.swap(nd - 1, nd - 2);
        let t = tensor_of(&values(n, seed + 1, dtype, lo, hi), &swapped, dtype, device)?
            .transpose(-1, -2)?;
        cases.push(Case {
            layout: "transposed",
            values: t.to_f64_vec()?,
            tensor: t,
        });
    }
    if nd >= 1 {
        let mut bigger = shape.to_vec();
        bigger[nd - 1] += 3;
        let m: usize = bigger.iter().product();
        let t = tensor_of(&values(m, seed + 2, dtype, lo, hi), &bigger, dtype, device)?.slice(
            -1,
            2,
            2 + shape[nd - 1] as i64,
        )?;
        cases.push(Case {
            layout: "sliced",
            values: t.to_f64_vec()?,
            tensor: t,
        });
    }
    if nd >= 1 && shape[0] > 1 {
        let mut one = shape.to_vec();
        one[0] = 1;
        let m: usize = one.iter().product();
        let t = tensor_of(&values(m, seed + 3, dtype, lo, hi), &one, dtype, device)?
            .broadcast_as(shape)?;
        cases.push(Case {
            layout: "broadcast",
            values: t.to_f64_vec()?,
            tensor: t,
        });
    }
    Ok(cases)
}

/// Rounds `v` to what `dtype` can hold (the reference's last step).
pub fn round_to(v: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::F16 => half::f16::from_f64(v).to_f64(),
        DType::BF16 => half::bf16::from_f64(v).to_f64(),
        DType::I32 => v,
        DType::Bool => (v != 0.0) as u8 as f64,
    }
}

/// Default tolerance `(atol, rtol)` for a float result of `dtype`
/// computed in f32 and rounded once.
pub fn tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-5, 1e-5),
        DType::F16 => (1e-3, 2e-3),
        DType::BF16 => (1e-2, 1.6e-2),
        DType::I32 | DType::Bool => (0.0, 0.0),
    }
}

/// Asserts `got` is within `atol + rtol * |want|` of `want` everywhere
/// (NaNs must match NaNs), naming `what` and the first bad index.
#[track_caller]
pub fn assert_close(what: &str, got: &[f64], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        assert!(
            ok,
            "{what}: at {i} got {g}, expected {w} (atol {atol}, rtol {rtol})"
        );
    }
}
