//! Binary ops, comparisons, `where` and the scalar forms on every device,
//! against the CPU backend: the same dtypes (PyTorch's promotion) and the
//! same values, for every dtype and layout pair, mixed dtypes, zero-dim and
//! zero-size operands.

mod gpu_support;

use gpu_support::{assert_same_outcome, call, devices_for};
use kiln::prelude::*;
use kiln::testing::layouts;

const ARITH: [&str; 7] = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"];
const CMP: [&str; 6] = ["eq", "ne", "lt", "le", "gt", "ge"];

/// Input ranges `(a, b)` keeping each op in its domain.
fn ranges(op: &str, dt: DType) -> ((f64, f64), (f64, f64)) {
    match (op, dt.is_float()) {
        ("pow", true) => ((0.5, 3.0), (-2.0, 3.0)),
        ("pow", false) => ((-3.0, 4.0), (0.0, 4.0)),
        ("div", _) => ((-4.0, 4.0), (0.5, 4.0)),
        // integers in a small range so that comparisons see equal values
        (_, false) => ((-3.0, 3.0), (-3.0, 3.0)),
        _ => ((-4.0, 4.0), (-4.0, 4.0)),
    }
}

/// GPU-vs-CPU tolerance `(atol, rtol)` of `op` with a result of `dt`.
/// Exact except where the GPU's f32 division or pow may differ in an ulp.
fn tol(op: &str, dt: DType) -> (f64, f64) {
    match (op, dt) {
        ("div", DType::F32) => (0.0, 3e-7),
        ("div", DType::F16) => (0.0, 1e-3),
        ("div", DType::BF16) => (0.0, 8e-3),
        ("pow", DType::F32) => (1e-6, 1e-5),
        ("pow", DType::F16) => (1e-3, 2e-3),
        ("pow", DType::BF16) => (1e-2, 1.6e-2),
        _ => (0.0, 0.0),
    }
}

fn tol_for(op: &str, a: DType, b: DType) -> (f64, f64) {
    let t = |d: DType| tol(op, d);
    let (x, y) = (t(a), t(b));
    // mixed dtypes compute in the promoted one; take the looser bound
    (
        x.0.max(y.0).max(tol(op, DType::F32).0),
        x.1.max(y.1).max(tol(op, DType::F32).1),
    )
}

#[test]
fn binary_ops_match_cpu_for_every_dtype_and_layout_pair() {
    let shape = [3, 5];
    for dt in DType::ALL {
        for op in ARITH.iter().chain(&CMP) {
            let ((alo, ahi), (blo, bhi)) = ranges(op, dt);
            let ca = layouts(&shape, dt, &Device::Cpu, 11, alo, ahi).unwrap();
            let cb = layouts(&shape, dt, &Device::Cpu, 23, blo, bhi).unwrap();
            for dev in devices_for(&[dt]) {
                let ga = layouts(&shape, dt, &dev, 11, alo, ahi).unwrap();
                let gb = layouts(&shape, dt, &dev, 23, blo, bhi).unwrap();
                for (i, j) in (0..ga.len()).flat_map(|i| (0..gb.len()).map(move |j| (i, j))) {
                    let what = format!("{op} {dt} {} x {} on {dev}", ga[i].layout, gb[j].layout);
                    let got = call(op, vec![(&ga[i].tensor).into(), (&gb[j].tensor).into()]);
                    let want = call(op, vec![(&ca[i].tensor).into(), (&cb[j].tensor).into()]);
                    assert_same_outcome(&what, got, want, tol(op, dt));
                }
            }
        }
    }
}

#[test]
fn mixed_dtypes_promote_like_the_cpu() {
    // a [2, 3] with b [3] (broadcast), b [] (zero-dim: lower priority) and a [] with b [2, 3]
    let shapes: [(&[usize], &[usize]); 3] = [(&[2, 3], &[3]), (&[2, 3], &[]), (&[], &[2, 3])];
    let ops = ["add", "sub", "mul", "div", "pow", "maximum", "lt", "eq"];
    for da in DType::ALL {
        for db in DType::ALL {
            if da == db {
                continue;
            }
            for dev in devices_for(&[da, db]) {
                for (sa, sb) in shapes {
                    for op in ops {
                        let ((alo, ahi), (blo, bhi)) = ranges(op, DType::I32);
                        let a = |d: &Device| {
                            kiln::testing::layouts(sa, da, d, 3, alo, ahi)
                                .map(|mut c| c.remove(0).tensor)
                        };
                        let b = |d: &Device| {
                            kiln::testing::layouts(sb, db, d, 5, blo, bhi)
                                .map(|mut c| c.remove(0).tensor)
                        };
                        let (a0, b0) = if sa.is_empty() {
                            (
                                kiln::testing::tensor_of(&[2.0], &[], da, &dev).unwrap(),
                                b(&dev).unwrap(),
                            )
                        } else if sb.is_empty() {
                            (
                                a(&dev).unwrap(),
                                kiln::testing::tensor_of(&[2.0], &[], db, &dev).unwrap(),
                            )
                        } else {
                            (a(&dev).unwrap(), b(&dev).unwrap())
                        };
                        let (a1, b1) = (a0.to(&Device::Cpu).unwrap(), b0.to(&Device::Cpu).unwrap());
                        let what = format!("{op} {da}{sa:?} with {db}{sb:?} on {dev}");
                        let got = call(op, vec![a0.into(), b0.into()]);
                        let want = call(op, vec![a1.into(), b1.into()]);
                        assert_same_outcome(&what, got, want, tol_for(op, da, db));
                    }
                }
            }
        }
    }
}

#[test]
fn scalar_forms_match_cpu() {
    let scalars = [
        Scalar::Int(3),
        Scalar::Int(-2),
        Scalar::Float(2.5),
        Scalar::Float(-0.3),
        Scalar::Bool(true),
    ];
    for dt in DType::ALL {
        let cpu = layouts(&[4, 3], dt, &Device::Cpu, 7, -3.0, 3.0).unwrap();
        for dev in devices_for(&[dt]) {
            let cases = layouts(&[4, 3], dt, &dev, 7, -3.0, 3.0).unwrap();
            for (c, cc) in cases.iter().zip(&cpu) {
                for op in ARITH.iter().chain(&CMP) {
                    for s in scalars {
                        let what = format!("{op}_scalar {dt} {} with {s:?} on {dev}", c.layout);
                        let name = format!("{op}_scalar");
                        let got = call(&name, vec![(&c.tensor).into(), s.into()]);
                        let want = call(&name, vec![(&cc.tensor).into(), s.into()]);
                        assert_same_outcome(&what, got, want, tol_for(op, dt, DType::F32));
                    }
                }
            }
        }
    }
}

#[test]
fn where_matches_cpu() {
    for (da, db) in [
        (DType::F32, DType::F32),
        (DType::F16, DType::F16),
        (DType::BF16, DType::I32),
        (DType::I32, DType::Bool),
        (DType::Bool, DType::Bool),
        (DType::F16, DType::F32),
    ] {
        let cc = layouts(&[3, 4], DType::Bool, &Device::Cpu, 1, 0.0, 1.0).unwrap();
        let ca = layouts(&[3, 4], da, &Device::Cpu, 2, -3.0, 3.0).unwrap();
        let cb = layouts(&[4], db, &Device::Cpu, 3, -3.0, 3.0).unwrap();
        for dev in devices_for(&[da, db]) {
            let gc = layouts(&[3, 4], DType::Bool, &dev, 1, 0.0, 1.0).unwrap();
            let ga = layouts(&[3, 4], da, &dev, 2, -3.0, 3.0).unwrap();
            let gb = layouts(&[4], db, &dev, 3, -3.0, 3.0).unwrap();
            for i in 0..gc.len() {
                for j in 0..ga.len() {
                    for k in 0..gb.len() {
                        let what = format!(
                            "where {} {da} {} {db} {} on {dev}",
                            gc[i].layout, ga[j].layout, gb[k].layout
                        );
                        let got = Tensor::where_cond(&gc[i].tensor, &ga[j].tensor, &gb[k].tensor);
                        let want = Tensor::where_cond(&cc[i].tensor, &ca[j].tensor, &cb[k].tensor);
                        assert_same_outcome(&what, got, want, (0.0, 0.0));
                    }
                }
            }
            // a non-bool condition is an error on every device
            let bad = Tensor::where_cond(&ga[0].tensor, &ga[0].tensor, &ga[0].tensor);
            assert!(
                matches!(bad, Err(kiln::Error::DTypeMismatch { .. })) || da == DType::Bool,
                "{bad:?}"
            );
        }
    }
}

#[test]
fn special_float_values_match_cpu() {
    let vals = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        2.0,
        0.5,
        65504.0,
        7e4,
        -7e4,
        3e38,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-3,
    ];
    let n = vals.len();
    for dt in DType::FLOATS {
        for dev in devices_for(&[dt]) {
            let a = kiln::from_vec(vals.to_vec(), &[n, 1], &Device::Cpu)
                .unwrap()
                .to_dtype(dt)
                .unwrap();
            let b = kiln::from_vec(vals.to_vec(), &[1, n], &Device::Cpu)
                .unwrap()
                .to_dtype(dt)
                .unwrap();
            let (ga, gb) = (a.to(&dev).unwrap(), b.to(&dev).unwrap());
            for op in ARITH.iter().chain(&CMP) {
                let what = format!("{op} {dt} on special values on {dev}");
                let got = call(op, vec![(&ga).into(), (&gb).into()]);
                let want = call(op, vec![(&a).into(), (&b).into()]);
                assert_same_outcome(&what, got, want, tol(op, dt));
            }
        }
    }
}

#[test]
fn zero_size_and_errors_match_cpu() {
    for dev in devices_for(&[DType::F32]) {
        let a = kiln::zeros(&[0, 4], DType::F32, &dev).unwrap();
        let b = kiln::ones(&[4], DType::I32, &dev).unwrap();
        let c = a.add(&b).unwrap();
        assert_eq!((c.shape(), c.dtype()), (&[0usize, 4][..], DType::F32));
        assert!(c.to_vec::<f32>().unwrap().is_empty());
        assert_eq!(a.lt_scalar(1).unwrap().shape(), &[0, 4]);
        // not broadcastable
        let d = kiln::zeros(&[3], DType::F32, &dev).unwrap();
        assert!(matches!(d.add(&b), Err(kiln::Error::Broadcast { .. })));
        // bool - bool, integer to a negative power
        let t = kiln::ones(&[2], DType::Bool, &dev).unwrap();
        assert!(matches!(
            t.sub(&t),
            Err(kiln::Error::UnsupportedDType { .. })
        ));
        let i = kiln::from_vec(vec![2i32, 3], &[2], &dev).unwrap();
        let e = kiln::from_vec(vec![1i32, -1], &[2], &dev).unwrap();
        assert!(matches!(
            i.pow(&e),
            Err(kiln::Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            i.pow_scalar(-2),
            Err(kiln::Error::InvalidArgument { .. })
        ));
        assert_eq!(
            i.pow_scalar(3).unwrap().to_vec::<i32>().unwrap(),
            vec![8, 27]
        );
        // mixing devices is an error, never a silent copy
        if dev != Device::Cpu {
            let cpu = kiln::ones(&[2], DType::I32, &Device::Cpu).unwrap();
            assert!(matches!(
                i.add(&cpu),
                Err(kiln::Error::DeviceMismatch { .. })
            ));
        }
    }
}
