//! `softmax`, `log_softmax` and `layer_norm` against an f64 reference:
//! every float dtype x layout x dim x device, zero-size and zero-dim
//! inputs, extreme values, and the refused dtypes and shapes.

use kiln::testing::{assert_close, layouts, round_to, tensor_of, tolerance};
use kiln::{DType, Device, Error, Tensor};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[
        kiln::op::SOFTMAX,
        kiln::op::LOG_SOFTMAX,
        kiln::op::LAYER_NORM,
    ])
}

/// The logical index of element `(outer, j, inner)` when dim `d` of
/// `shape` is split out: `outer` over the dims before `d`, `inner` after.
fn lines(shape: &[usize], d: usize) -> Vec<Vec<usize>> {
    let (outer, n, inner): (usize, usize, usize) = (
        shape[..d].iter().product(),
        shape[d],
        shape[d + 1..].iter().product(),
    );
    let mut out = Vec::new();
    for o in 0..outer {
        for i in 0..inner {
            out.push((0..n).map(|j| (o * n + j) * inner + i).collect());
        }
    }
    out
}

fn softmax_ref(vals: &[f64], shape: &[usize], d: usize, log: bool) -> Vec<f64> {
    let mut out = vec![0.0; vals.len()];
    for line in lines(shape, d) {
        let m = line
            .iter()
            .map(|&k| vals[k])
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = line.iter().map(|&k| (vals[k] - m).exp()).sum();
        for &k in &line {
            out[k] = if log {
                vals[k] - m - s.ln()
            } else {
                (vals[k] - m).exp() / s
            };
        }
    }
    out
}

#[test]
fn softmax_every_dim_dtype_and_layout_matches_the_reference() {
    for dev in devices() {
        for dtype in DType::FLOATS {
            for shape in [&[3usize, 5][..], &[2, 3, 4], &[7]] {
                for case in layouts(shape, dtype, &dev, 11, -6.0, 6.0).unwrap() {
                    let nd = shape.len() as i64;
                    for dim in -nd..nd {
                        let d = (dim + nd) as usize % shape.len();
                        for log in [false, true] {
                            let what = format!(
                                "{} dim {dim} of {dtype} {shape:?} {} on {dev}",
                                if log { "log_softmax" } else { "softmax" },
                                case.layout
                            );
                            let x = &case.tensor;
                            let y = if log {
                                x.log_softmax(dim)
                            } else {
                                x.softmax(dim)
                            }
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                            assert_eq!((y.dtype(), y.shape()), (dtype, shape), "{what}");
                            let want: Vec<f64> = softmax_ref(&case.values, shape, d, log)
                                .into_iter()
                                .map(|v| round_to(v, dtype))
                                .collect();
                            let (atol, rtol) = tolerance(dtype);
                            assert_close(&what, &y.to_f64_vec().unwrap(), &want, atol, rtol);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn softmax_of_many_rows_runs_in_parallel() {
    for dev in devices() {
        for dtype in [DType::F32, DType::BF16] {
            for case in layouts(&[67, 1001], dtype, &dev, 12, -20.0, 20.0).unwrap() {
                for (dim, d) in [(-1, 1), (0, 0)] {
                    let y = case.tensor.softmax(dim).unwrap();
                    let want: Vec<f64> = softmax_ref(&case.values, &[67, 1001], d, false)
                        .into_iter()
                        .map(|v| round_to(v, dtype))
                        .collect();
                    let (atol, rtol) = tolerance(dtype);
                    assert_close(
                        &format!("softmax dim {dim} {dtype} {}", case.layout),
                        &y.to_f64_vec().unwrap(),
                        &want,
                        atol,
                        rtol,
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_edge_cases() {
    for dev in devices() {
        let empty = kiln::zeros(&[0, 3], DType::F32, &dev).unwrap();
        for dim in [0, 1] {
            assert_eq!(empty.softmax(dim).unwrap().shape(), &[0, 3]);
            assert_eq!(empty.log_softmax(dim).unwrap().shape(), &[0, 3]);
        }
        let s = tensor_of(&[2.5], &[], DType::F16, &dev).unwrap();
        assert_eq!(s.softmax(0).unwrap().to_f64_vec().unwrap(), vec![1.0]);
        assert_eq!(s.log_softmax(-1).unwrap().to_f64_vec().unwrap(), vec![0.0]);
        assert_eq!(s.softmax(0).unwrap().shape(), &[] as &[usize]);
        assert!(matches!(s.softmax(1), Err(Error::DimOutOfRange { .. })));
    }
    // the max is subtracted: large values do not overflow
    let x = kiln::tensor(&[1000.0f32, 1000.0, f32::NEG_INFINITY]).unwrap();
    assert_eq!(
        x.softmax(0).unwrap().to_vec::<f32>().unwrap(),
        vec![0.5, 0.5, 0.0]
    );
    let l = x.log_softmax(0).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(l[2], f32::NEG_INFINITY);
    assert!((l[0] + std::f32::consts::LN_2).abs() < 1e-6);
    // NaN poisons its row only
    let x = kiln::from_vec(vec![1.0f32, f32::NAN, 0.0, 0.0], &[2, 2], &Device::Cpu).unwrap();
    let y = x.softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert!(y[0].is_nan() && y[1].is_nan());
    assert_eq!(&y[2..], &[0.5, 0.5]);
}

#[test]
fn softmax_refuses_ints_and_bools() {
    for dev in devices() {
        for dtype in [DType::I32, DType::Bool] {
            let x = kiln::zeros(&[2, 3], dtype, &dev).unwrap();
            for (name, r) in [("softmax", x.softmax(1)), ("log_softmax", x.log_softmax(0))] {
                let e = r.unwrap_err();
                assert!(
                    matches!(&e, Error::UnsupportedDType { op, dtype: d, .. } if op == name && *d == dtype),
                    "{e:?}"
                );
                assert!(
                    e.to_string().contains(name) && e.to_string().contains(dtype.name()),
                    "{e}"
                );
            }
        }
    }
}

/// Layer norm of each row of `n` trailing values, with `w`/`b` of length `n`.
fn layer_norm_ref(
    vals: &[f64],
    n: usize,
    w: Option<&[f64]>,
    b: Option<&[f64]>,
    eps: f64,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(vals.len());
    for row in vals.chunks(n) {
        let mean = row.iter().sum::<f64>() / n as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        for (i, v) in row.iter().enumerate() {
            let y = (v - mean) / (var + eps).sqrt();
            out.push(y * w.map_or(1.0, |w| w[i]) + b.map_or(0.0, |b| b[i]));
        }
    }
    out
}

#[test]
fn layer_norm_every_dtype_layout_and_affine_matches_the_reference() {
    for dev in devices() {
        for dtype in DType::FLOATS {
            for (shape, ns) in [
                (&[4usize, 6][..], &[6usize][..]),
                (&[2, 3, 4], &[3, 4]),
                (&[2, 3, 4], &[2, 3, 4]),
                (&[300, 130], &[130]),
            ] {
                let n: usize = ns.iter().product();
                let wv = kiln::testing::values(n, 21, dtype, 0.5, 2.0);
                let bv = kiln::testing::values(n, 22, dtype, -1.0, 1.0);
                let w = tensor_of(&wv, ns, dtype, &dev).unwrap();
                let b = tensor_of(&bv, ns, dtype, &dev).unwrap();
                let (wv, bv) = (w.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
                for case in layouts(shape, dtype, &dev, 13, -5.0, 5.0).unwrap() {
                    for (use_w, use_b) in
                        [(false, false), (true, false), (false, true), (true, true)]
                    {
                        for eps in [1e-5, 0.1] {
                            let what = format!("layer_norm {ns:?} of {dtype} {shape:?} {} w {use_w} b {use_b} eps {eps}", case.layout);
                            let y = case
                                .tensor
                                .layer_norm(ns, use_w.then_some(&w), use_b.then_some(&b), eps)
                                .unwrap_or_else(|e| panic!("{what}: {e}"));
                            assert_eq!((y.dtype(), y.shape()), (dtype, shape), "{what}");
                            let want: Vec<f64> = layer_norm_ref(
                                &case.values,
                                n,
                                use_w.then_some(&wv[..]),
                                use_b.then_some(&bv[..]),
                                eps,
                            )
                            .into_iter()
                            .map(|v| round_to(v, dtype))
                            .collect();
                            let (atol, rtol) = tolerance(dtype);
                            assert_close(&what, &y.to_f64_vec().unwrap(), &want, atol, rtol);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn layer_norm_edge_cases_and_errors() {
    for dev in devices() {
        let empty = kiln::zeros(&[0, 4], DType::F32, &dev).unwrap();
        assert_eq!(
            empty.layer_norm(&[4], None, None, 1e-5).unwrap().shape(),
            &[0, 4]
        );
        // a constant row normalises to 0 (plus bias)
        let x = kiln::full(&[2, 3], 7.0, DType::BF16, &dev).unwrap();
        let b = kiln::full(&[3], 0.5, DType::BF16, &dev).unwrap();
        assert_eq!(
            x.layer_norm(&[3], None, Some(&b), 1e-5)
                .unwrap()
                .to_f64_vec()
                .unwrap(),
            vec![0.5; 6]
        );

        let x = kiln::zeros(&[2, 3], DType::F32, &dev).unwrap();
        let shape_err = |r: kiln::Result<Tensor>, what: &str| {
            let e = r.expect_err(what);
            assert!(
                matches!(&e, Error::Shape { op, .. } if op == "layer_norm"),
                "{what}: {e:?}"
            );
            e.to_string()
        };
        let msg = shape_err(x.layer_norm(&[2], None, None, 1e-5), "trailing dims differ");
        assert!(msg.contains("[2]") && msg.contains("[2, 3]"), "{msg}");
        shape_err(
            x.layer_norm(&[4, 2, 3], None, None, 1e-5),
            "more dims than the input",
        );
        shape_err(
            x.layer_norm(&[], None, None, 1e-5),
            "empty normalized_shape",
        );
        let w = kiln::ones(&[2], DType::F32, &dev).unwrap();
        let msg = shape_err(x.layer_norm(&[3], Some(&w), None, 1e-5), "weight shape");
        assert!(msg.contains("weight"), "{msg}");
        shape_err(x.layer_norm(&[3], None, Some(&w), 1e-5), "bias shape");
        let s = tensor_of(&[1.0], &[], DType::F32, &dev).unwrap();
        shape_err(s.layer_norm(&[1], None, None, 1e-5), "zero-dim input");

        for dtype in [DType::I32, DType::Bool] {
            let xi = kiln::zeros(&[2, 3], dtype, &dev).unwrap();
            let e = xi.layer_norm(&[3], None, None, 1e-5).unwrap_err();
            assert!(
                matches!(&e, Error::UnsupportedDType { op, dtype: d, .. } if op == "layer_norm" && *d == dtype),
                "{e:?}"
            );
            let wi = kiln::ones(&[3], dtype, &dev).unwrap();
            assert!(matches!(
                x.layer_norm(&[3], Some(&wi), None, 1e-5),
                Err(Error::UnsupportedDType { .. })
            ));
        }
    }
}
