//! Helpers shared by the `gpu_*` tests: the devices to run on, calling an
//! op by name, and comparing a device's result with the CPU backend's.
#![allow(dead_code)]

use kiln::prelude::*;
use kiln::{Error, IValue, Result, WgpuOptions};

/// `kiln::testing::devices()`, plus, when a dtype under test is f16 and the
/// adapter has `SHADER_F16`, a second context of the same adapter that
/// keeps f16 packed two per `u32` (the path of devices without it).
pub fn devices_for(dtypes: &[DType]) -> Vec<Device> {
    let mut v = kiln::testing::devices();
    if dtypes.contains(&DType::F16) && v.len() > 1 {
        let packed = Device::wgpu_with(&WgpuOptions {
            shader_f16: false,
            ..Default::default()
        })
        .expect("the adapter that opened once opens again");
        if !v.contains(&packed) {
            v.push(packed);
        }
    }
    v
}

/// Calls `kiln::<name>` with boxed arguments.
pub fn call(name: &str, args: Vec<IValue>) -> Result<Tensor> {
    let out = kiln::Dispatcher::global().call_boxed(&format!("kiln::{name}"), args)?;
    match out.into_iter().next() {
        Some(IValue::Tensor(t)) => Ok(t),
        other => panic!("kiln::{name} returned {other:?}"),
    }
}

/// Whether `r` is the CPU backend lacking a kernel (ops other branches add).
pub fn cpu_lacks_kernel(device: Device, r: &Result<Tensor>) -> bool {
    device == Device::Cpu && matches!(r, Err(Error::NoKernel { .. }))
}

fn header(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
}

/// `got` equals `want` exactly: dtype, shape, and every value (NaN matches
/// NaN; -0.0 and 0.0 differ).
#[track_caller]
pub fn assert_same(what: &str, got: &Tensor, want: &Tensor) {
    header(what, got, want);
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
        assert!(
            ok,
            "{what}: at {i} got {a:e}, expected {b:e}\n got {g:?}\nwant {w:?}"
        );
    }
}

/// `got` is within `atol + rtol * |want|` of `want` (same dtype and shape).
#[track_caller]
pub fn assert_near(what: &str, got: &Tensor, want: &Tensor, atol: f64, rtol: f64) {
    if atol == 0.0 && rtol == 0.0 {
        return assert_same(what, got, want);
    }
    header(what, got, want);
    kiln::testing::assert_close(
        what,
        &got.to_f64_vec().unwrap(),
        &want.to_f64_vec().unwrap(),
        atol,
        rtol,
    );
}

/// Both succeed with results within tolerance, or both fail the same way.
#[track_caller]
pub fn assert_same_outcome(what: &str, got: Result<Tensor>, want: Result<Tensor>, tol: (f64, f64)) {
    match (got, want) {
        (Ok(g), Ok(w)) => assert_near(what, &g, &w, tol.0, tol.1),
        (Err(g), Err(w)) => assert_eq!(
            std::mem::discriminant(&g),
            std::mem::discriminant(&w),
            "{what}: errors differ: got {g}, expected {w}"
        ),
        (g, w) => panic!("{what}: got {g:?}, expected {w:?}"),
    }
}
