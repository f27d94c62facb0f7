//! `softmax`, `log_softmax` and `layer_norm` on the GPU against the CPU
//! backend: every float dtype x layout (contiguous, transposed, sliced,
//! broadcast, zero-size), every dim, with and without weight and bias;
//! within a tolerance (both compute in f32, with different exp and
//! summation orders). Plus infinities, NaN, and the refused cases.

mod gpu_support;

use gpu_support::{assert_near, assert_same_outcome, call, devices_for};
use kiln::prelude::*;
use kiln::testing::{layouts, tensor_of, tolerance, values};
use kiln::IValue;

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

fn gpus(dt: DType) -> Vec<Device> {
    devices_for(&[dt])
        .into_iter()
        .filter(|d| *d != Device::Cpu)
        .collect()
}

/// `(atol, rtol)` of a softmax-family result of `dt` against the CPU's.
fn tol(dt: DType) -> (f64, f64) {
    match dt {
        DType::F32 => (2e-6, 1e-5),
        // one rounding of a value computed a few f32 ulps apart: one ulp
        d => tolerance(d),
    }
}

fn softmax(x: &Tensor, dim: i64, log: bool) -> kiln::Result<Tensor> {
    if log {
        x.log_softmax(dim)
    } else {
        x.softmax(dim)
    }
}

#[test]
fn softmax_matches_the_cpu_on_every_dim_dtype_and_layout() {
    for dt in FLOATS {
        for dev in gpus(dt) {
            for shape in [&[3usize, 5][..], &[2, 3, 40], &[7], &[0, 3]] {
                for case in layouts(shape, dt, &dev, 21, -8.0, 8.0).unwrap() {
                    let cpu = case.tensor.to(&Device::Cpu).unwrap();
                    for dim in -(shape.len() as i64)..shape.len() as i64 {
                        for log in [false, true] {
                            let what = format!(
                                "{} {dt} {shape:?} {} dim {dim} on {dev}",
                                if log { "log_softmax" } else { "softmax" },
                                case.layout
                            );
                            let (atol, rtol) = tol(dt);
                            // log values near 0 are differences of large terms
                            let atol = if log { atol * 4.0 } else { atol };
                            assert_same_outcome(
                                &what,
                                softmax(&case.tensor, dim, log),
                                softmax(&cpu, dim, log),
                                (atol, rtol),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn softmax_of_long_rows_and_special_values() {
    for dev in gpus(DType::F32) {
        let x = tensor_of(
            &values(40 * 1500, 3, DType::F32, -30.0, 30.0),
            &[40, 1500],
            DType::F32,
            &dev,
        )
        .unwrap();
        let cpu = x.to(&Device::Cpu).unwrap();
        for dim in [1, 0] {
            for log in [false, true] {
                let what = format!("softmax log {log} dim {dim} of [40, 1500] on {dev}");
                let got = softmax(&x, dim, log).unwrap();
                let want = softmax(&cpu, dim, log).unwrap();
                assert_near(&what, &got, &want, 1e-5, 1e-5);
            }
        }
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        let rows = [
            vec![1000.0f32, 1000.0, -inf, 0.0],
            vec![-inf, -inf, -inf, -inf],
            vec![1.0, nan, 0.0, 0.0],
            vec![inf, 1.0, 2.0, 3.0],
            vec![-inf, 5.0, -inf, 5.0],
        ];
        let x = kiln::from_vec(rows.concat(), &[5, 4], &dev).unwrap();
        let cpu = x.to(&Device::Cpu).unwrap();
        for log in [false, true] {
            let what = format!("softmax log {log} of special values on {dev}");
            let got = softmax(&x, 1, log).unwrap();
            let want = softmax(&cpu, 1, log).unwrap();
            assert_near(&what, &got, &want, 1e-6, 1e-6);
        }
        let s = tensor_of(&[2.5], &[], DType::F32, &dev).unwrap();
        assert_eq!(s.softmax(0).unwrap().to_f64_vec().unwrap(), vec![1.0]);
        assert_eq!(s.log_softmax(-1).unwrap().to_f64_vec().unwrap(), vec![0.0]);
        for dtype in [DType::I32, DType::Bool] {
            let i = kiln::zeros(&[2, 3], dtype, &dev).unwrap();
            assert!(matches!(
                i.softmax(1),
                Err(kiln::Error::UnsupportedDType { .. })
            ));
        }
        assert!(matches!(
            x.softmax(2),
            Err(kiln::Error::DimOutOfRange { .. })
        ));
    }
}

fn layer_norm(
    x: &Tensor,
    ns: &[i64],
    w: Option<&Tensor>,
    b: Option<&Tensor>,
) -> kiln::Result<Tensor> {
    let opt = |t: Option<&Tensor>| t.map_or(IValue::None, |t| t.into());
    call(
        "layer_norm",
        vec![
            x.into(),
            IValue::IntList(ns.to_vec()),
            opt(w),
            opt(b),
            IValue::Float(1e-5),
        ],
    )
}

#[test]
fn layer_norm_matches_the_cpu_with_every_affine_dtype_and_layout() {
    for dt in FLOATS {
        for dev in gpus(dt) {
            for (shape, ns) in [
                (&[4usize, 6][..], &[6usize][..]),
                (&[2, 3, 4], &[3, 4]),
                (&[3, 300], &[300]),
                (&[0, 5], &[5]),
                (&[5], &[5]),
            ] {
                let nsi: Vec<i64> = ns.iter().map(|&d| d as i64).collect();
                let k: usize = ns.iter().product();
                // weight in another float dtype, bias transposed when 2-D
                let w =
                    tensor_of(&values(k, 4, DType::F32, 0.5, 2.0), ns, DType::BF16, &dev).unwrap();
                let b = if ns.len() == 2 {
                    let r = [ns[1], ns[0]];
                    tensor_of(&values(k, 5, dt, -1.0, 1.0), &r, dt, &dev)
                        .unwrap()
                        .transpose(0, 1)
                        .unwrap()
                } else {
                    tensor_of(&values(k, 5, dt, -1.0, 1.0), ns, dt, &dev).unwrap()
                };
                let (wc, bc) = (w.to(&Device::Cpu).unwrap(), b.to(&Device::Cpu).unwrap());
                for case in layouts(shape, dt, &dev, 31, -5.0, 5.0).unwrap() {
                    let cpu = case.tensor.to(&Device::Cpu).unwrap();
                    for (wi, bi) in [(false, false), (true, false), (false, true), (true, true)] {
                        let what = format!(
                            "layer_norm {dt} {shape:?} {} w {wi} b {bi} on {dev}",
                            case.layout
                        );
                        let (atol, rtol) = tol(dt);
                        assert_same_outcome(
                            &what,
                            layer_norm(&case.tensor, &nsi, wi.then_some(&w), bi.then_some(&b)),
                            layer_norm(&cpu, &nsi, wi.then_some(&wc), bi.then_some(&bc)),
                            (atol * 4.0, rtol * 2.0),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn layer_norm_refusals() {
    for dev in gpus(DType::F32) {
        let x = kiln::zeros(&[2, 3], DType::F32, &dev).unwrap();
        let w = kiln::zeros(&[2], DType::F32, &dev).unwrap();
        let i = kiln::zeros(&[2, 3], DType::I32, &dev).unwrap();
        for (what, r) in [
            ("wrong normalized_shape", layer_norm(&x, &[2], None, None)),
            ("empty normalized_shape", layer_norm(&x, &[], None, None)),
            ("weight shape", layer_norm(&x, &[3], Some(&w), None)),
        ] {
            assert!(matches!(r, Err(kiln::Error::Shape { .. })), "{what}: {r:?}");
        }
        let r = layer_norm(&i, &[3], None, None);
        assert!(
            matches!(r, Err(kiln::Error::UnsupportedDType { .. })),
            "{r:?}"
        );
    }
}
