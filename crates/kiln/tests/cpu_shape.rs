//! cat (and stack, its composite) against an f64 reference, over every
//! device, dtype, dim and input layout.

use kiln::testing::{layouts, round_to, tensor_of, values};
use kiln::{DType, Device, Error, Tensor};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::CAT])
}

/// Concatenates row-major value lists of `shapes` along `d`.
fn ref_cat(parts: &[(Vec<f64>, Vec<usize>)], d: usize) -> Vec<f64> {
    let outer: usize = parts[0].1[..d].iter().product();
    let mut out = Vec::new();
    for r in 0..outer {
        for (v, s) in parts {
            let w: usize = s[d..].iter().product();
            out.extend_from_slice(&v[r * w..(r + 1) * w]);
        }
    }
    out
}

fn lo_hi(dt: DType) -> (f64, f64) {
    if dt == DType::I32 {
        (-100.0, 100.0)
    } else {
        (-4.0, 4.0)
    }
}

/// `cat` of parts whose sizes along `dim` are `sizes`, every part in each
/// of the layouts in turn.
fn check_cat(base: &[usize], dim: i64, sizes: &[usize], dt: DType, dev: &Device) {
    let d = if dim < 0 {
        dim + base.len() as i64
    } else {
        dim
    } as usize;
    let (lo, hi) = lo_hi(dt);
    let cases: Vec<Vec<kiln::testing::Case>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let mut shape = base.to_vec();
            shape[d] = s;
            layouts(&shape, dt, dev, 10 + i as u64, lo, hi).unwrap()
        })
        .collect();
    for turn in 0..4 {
        let picked: Vec<&kiln::testing::Case> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| &c[(turn + i) % c.len()])
            .collect();
        let what = format!(
            "cat {base:?} dim {dim} sizes {sizes:?} {dt} on {dev} layouts {:?}",
            picked.iter().map(|c| c.layout).collect::<Vec<_>>()
        );
        let ts: Vec<Tensor> = picked.iter().map(|c| c.tensor.clone()).collect();
        let got = Tensor::cat(&ts, dim).unwrap_or_else(|e| panic!("{what}: {e}"));
        let parts: Vec<(Vec<f64>, Vec<usize>)> = picked
            .iter()
            .map(|c| (c.values.clone(), c.tensor.shape().to_vec()))
            .collect();
        let mut shape = base.to_vec();
        shape[d] = sizes.iter().sum();
        assert_eq!(got.shape(), &shape[..], "{what}");
        assert_eq!(got.dtype(), dt, "{what}");
        assert_eq!(got.to_f64_vec().unwrap(), ref_cat(&parts, d), "{what}");
    }
}

#[test]
fn cat_every_dtype_dim_and_layout() {
    for dev in devices() {
        for dt in DType::ALL {
            check_cat(&[3, 4, 5], 0, &[2, 1, 3], dt, &dev);
            check_cat(&[3, 4, 5], 1, &[2, 4], dt, &dev);
            check_cat(&[3, 4, 5], 2, &[1, 5, 2], dt, &dev);
            check_cat(&[3, 4, 5], -1, &[3, 3], dt, &dev);
            check_cat(&[6], 0, &[2, 5], dt, &dev);
            check_cat(&[2, 3], 1, &[4], dt, &dev);
        }
    }
}

#[test]
fn cat_large_enough_for_threads() {
    for dev in devices() {
        for dt in [DType::F32, DType::F16, DType::Bool] {
            check_cat(&[64, 8], 1, &[600, 700], dt, &dev);
            check_cat(&[8, 64], 0, &[700, 600], dt, &dev);
        }
    }
}

#[test]
fn cat_zero_size_entries() {
    for dev in devices() {
        for dt in DType::ALL {
            check_cat(&[2, 3], 1, &[0, 3, 0], dt, &dev);
            check_cat(&[2, 3], 0, &[0, 0], dt, &dev);
            // a 1-D [0] entry is skipped whatever the others' shapes
            let a = tensor_of(&values(6, 1, dt, 0.0, 2.0), &[2, 3], dt, &dev).unwrap();
            let e = tensor_of(&[], &[0], dt, &dev).unwrap();
            let c = Tensor::cat(&[e.clone(), a.clone(), e.clone()], 1).unwrap();
            assert_eq!(c.shape(), &[2, 3]);
            assert_eq!(c.to_f64_vec().unwrap(), a.to_f64_vec().unwrap());
            let only = Tensor::cat(&[e.clone(), e], 0).unwrap();
            assert_eq!((only.shape(), only.dtype()), (&[0][..], dt));
        }
    }
}

#[test]
fn cat_mixed_dtypes_promote() {
    for dev in devices() {
        let cases = [
            (DType::I32, DType::F32, DType::F32),
            (DType::Bool, DType::I32, DType::I32),
            (DType::F16, DType::BF16, DType::F32),
            (DType::F16, DType::I32, DType::F16),
            (DType::Bool, DType::BF16, DType::BF16),
        ];
        for (da, db, want) in cases {
            let va = values(4, 1, da, -3.0, 3.0);
            let vb = values(2, 2, db, -3.0, 3.0);
            let a = tensor_of(&va, &[2, 2], da, &dev).unwrap();
            let b = tensor_of(&vb, &[2, 1], db, &dev).unwrap();
            let c = Tensor::cat(&[a.clone(), b.clone()], 1).unwrap();
            assert_eq!(c.dtype(), want, "{da} with {db}");
            let parts = [
                (a.to_f64_vec().unwrap(), vec![2, 2]),
                (b.to_f64_vec().unwrap(), vec![2, 1]),
            ];
            let expect: Vec<f64> = ref_cat(&parts, 1)
                .iter()
                .map(|&v| round_to(v, want))
                .collect();
            assert_eq!(c.to_f64_vec().unwrap(), expect, "{da} with {db}");
        }
    }
}

#[test]
fn cat_errors_name_the_entry_and_shapes() {
    for dev in devices() {
        let t = |shape: &[usize]| {
            let n = shape.iter().product();
            tensor_of(
                &values(n, 3, DType::F32, -1.0, 1.0),
                shape,
                DType::F32,
                &dev,
            )
            .unwrap()
        };
        match Tensor::cat(&[t(&[2, 2]), t(&[3, 2])], 1) {
            Err(e @ Error::Shape { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for tensor number 1 in the list")
                        && msg.contains("[2, 2]")
                        && msg.contains("[3, 2]")
                        && msg.starts_with("cat:"),
                    "{msg}"
                );
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        match Tensor::cat(&[t(&[2, 2]), t(&[2, 2]), t(&[2, 2, 1])], 0) {
            Err(e @ Error::Shape { .. }) => {
                assert!(e.to_string().contains("tensor number 2"), "{e}")
            }
            other => panic!("expected a shape error for ranks, got {other:?}"),
        }
        assert!(matches!(
            Tensor::cat(&[], 0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Tensor::cat(&[t(&[]), t(&[])], 0),
            Err(Error::InvalidArgument { .. })
        ));
        match Tensor::cat(&[t(&[2, 2]), t(&[2, 2])], 2) {
            Err(Error::DimOutOfRange { op, dim, ndim }) => {
                assert_eq!((op.as_str(), dim, ndim), ("cat", 2, 2))
            }
            other => panic!("expected DimOutOfRange, got {other:?}"),
        }
    }
}

#[test]
fn stack_through_cat() {
    for dev in devices() {
        for dt in DType::ALL {
            let (lo, hi) = lo_hi(dt);
            let ts: Vec<Tensor> = (0..3)
                .map(|i| tensor_of(&values(6, 20 + i, dt, lo, hi), &[2, 3], dt, &dev).unwrap())
                .collect();
            let vs: Vec<Vec<f64>> = ts.iter().map(|t| t.to_f64_vec().unwrap()).collect();
            for (dim, shape) in [
                (0, [3, 2, 3]),
                (1, [2, 3, 3]),
                (-1, [2, 3, 3]),
                (2, [2, 3, 3]),
            ] {
                let s = Tensor::stack(&ts, dim).unwrap();
                let d = if dim < 0 { 2 } else { dim as usize };
                let mut expect = vec![0.0; 18];
                for (k, v) in vs.iter().enumerate() {
                    for i in 0..2 {
                        for j in 0..3 {
                            let idx = [[k, i, j], [i, k, j], [i, j, k]][d];
                            expect[(idx[0] * shape[1] + idx[1]) * shape[2] + idx[2]] = v[i * 3 + j];
                        }
                    }
                }
                assert_eq!(s.shape(), &shape[..], "stack dim {dim} {dt}");
                assert_eq!(s.to_f64_vec().unwrap(), expect, "stack dim {dim} {dt}");
            }
        }
        let a = tensor_of(&[1.0, 2.0], &[2], DType::F32, &dev).unwrap();
        let b = tensor_of(&[1.0, 2.0, 3.0], &[3], DType::F32, &dev).unwrap();
        match Tensor::stack(&[a, b], 0) {
            Err(e @ Error::Shape { .. }) => assert!(e.to_string().contains("[3]"), "{e}"),
            other => panic!("expected a shape error, got {other:?}"),
        }
    }
}
