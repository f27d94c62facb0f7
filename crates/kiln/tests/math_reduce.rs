//! Reductions against an f64 reference: `sum mean max min` over dim lists
//! and `argmax argmin` over one dim or none, every dtype x layout x device,
//! keepdim, negative dims, zero-size and zero-dim inputs, ties and NaN,
//! the refused dtypes, and random shapes and dim sets (proptest).

use kiln::testing::{assert_close, layouts, round_to, tensor_of, tolerance, values};
use kiln::{DType, Device, Error, Tensor};
use proptest::prelude::*;

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[
        kiln::op::SUM,
        kiln::op::MEAN,
        kiln::op::MAX,
        kiln::op::MIN,
        kiln::op::ARGMAX,
        kiln::op::ARGMIN,
    ])
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Red {
    Sum,
    Mean,
    Max,
    Min,
}

const REDS: [Red; 4] = [Red::Sum, Red::Mean, Red::Max, Red::Min];

impl Red {
    fn run(self, t: &Tensor, dims: &[i64], keepdim: bool) -> kiln::Result<Tensor> {
        match self {
            Red::Sum => t.sum(dims, keepdim),
            Red::Mean => t.mean(dims, keepdim),
            Red::Max => t.max(dims, keepdim),
            Red::Min => t.min(dims, keepdim),
        }
    }

    fn accepts(self, dtype: DType) -> bool {
        self != Red::Mean || dtype.is_float()
    }

    fn out_dtype(self, dtype: DType) -> DType {
        match (self, dtype) {
            (Red::Sum, DType::Bool) => DType::I32,
            _ => dtype,
        }
    }

    /// The reference over one output's values; `None` when it is an error.
    fn reference(self, xs: &[f64]) -> Option<f64> {
        let pick = |max: bool| {
            let mut best = *xs.first()?;
            for &x in xs {
                if best.is_nan() || x.is_nan() {
                    best = f64::NAN;
                } else if (max && x > best) || (!max && x < best) {
                    best = x;
                }
            }
            Some(best)
        };
        match self {
            Red::Sum => Some(xs.iter().sum()),
            Red::Mean => Some(xs.iter().sum::<f64>() / xs.len() as f64),
            Red::Max => pick(true),
            Red::Min => pick(false),
        }
    }
}

/// Splits logical `vals` of `shape` into one group per output of a
/// reduction over the dims in `mask`: the output shape and each output's
/// values in row-major order.
fn groups(
    vals: &[f64],
    shape: &[usize],
    mask: &[bool],
    keepdim: bool,
) -> (Vec<usize>, Vec<Vec<f64>>) {
    let out_shape: Vec<usize> = (0..shape.len())
        .filter(|&d| keepdim || !mask[d])
        .map(|d| if mask[d] { 1 } else { shape[d] })
        .collect();
    let n_out: usize = (0..shape.len())
        .filter(|&d| !mask[d])
        .map(|d| shape[d])
        .product();
    let mut out = vec![Vec::new(); n_out];
    for (li, &v) in vals.iter().enumerate() {
        let (mut rem, mut k, mut scale) = (li, 0, 1);
        for d in (0..shape.len()).rev() {
            let i = rem % shape[d];
            rem /= shape[d];
            if !mask[d] {
                k += i * scale;
                scale *= shape[d];
            }
        }
        out[k].push(v);
    }
    (out_shape, out)
}

fn mask_of(dims: &[i64], ndim: usize) -> Vec<bool> {
    if ndim == 0 {
        return vec![]; // dims 0 and -1 name the zero-dim tensor itself
    }
    let mut mask = vec![dims.is_empty(); ndim];
    for &d in dims {
        mask[(if d < 0 { d + ndim as i64 } else { d }) as usize] = true;
    }
    mask
}

/// Checks `red` of `x` (logical `vals`, `dtype`) over `dims` against the reference.
fn check(red: Red, x: &Tensor, vals: &[f64], dims: &[i64], keepdim: bool, what: &str) {
    let dtype = x.dtype();
    let mask = mask_of(dims, x.ndim());
    let (out_shape, gs) = groups(vals, x.shape(), &mask, keepdim);
    let what = format!(
        "{red:?} {dtype} dims {dims:?} keepdim {keepdim} of {:?} ({what})",
        x.shape()
    );
    let want: Option<Vec<f64>> = gs
        .iter()
        .map(|g| red.reference(g).map(|v| round_to(v, red.out_dtype(dtype))))
        .collect();
    let got = red.run(x, dims, keepdim);
    // max/min of an empty reduction is an error even when there are no outputs
    let m: usize = x
        .shape()
        .iter()
        .zip(&mask)
        .filter(|(_, &r)| r)
        .map(|(&n, _)| n)
        .product();
    let want = want.filter(|_| m > 0 || matches!(red, Red::Sum | Red::Mean));
    let Some(want) = want else {
        assert!(got.is_err(), "{what}: expected an error");
        return;
    };
    let y = got.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(y.dtype(), red.out_dtype(dtype), "{what}: dtype");
    assert_eq!(y.shape(), &out_shape[..], "{what}: shape");
    let (atol, rtol) = tolerance(y.dtype());
    assert_close(&what, &y.to_f64_vec().unwrap(), &want, atol, rtol);
}

/// Checks `argmax`/`argmin` of `x` along `dim` against the reference.
fn check_arg(max: bool, x: &Tensor, vals: &[f64], dim: Option<i64>, keepdim: bool, what: &str) {
    let nd = x.ndim();
    let mask = match dim {
        None => vec![true; nd],
        Some(d) => mask_of(&[d], nd),
    };
    let (out_shape, gs) = groups(vals, x.shape(), &mask, keepdim);
    let what = format!(
        "arg{} dim {dim:?} keepdim {keepdim} of {:?} {} ({what})",
        if max { "max" } else { "min" },
        x.shape(),
        x.dtype()
    );
    let got = if max {
        x.argmax(dim, keepdim)
    } else {
        x.argmin(dim, keepdim)
    };
    let m: usize = x
        .shape()
        .iter()
        .zip(&mask)
        .filter(|(_, &r)| r)
        .map(|(&n, _)| n)
        .product();
    if m == 0 {
        assert!(got.is_err(), "{what}: expected an error");
        return;
    }
    let want: Vec<f64> = gs
        .iter()
        .map(|g| {
            let mut best = 0;
            for (i, &v) in g.iter().enumerate() {
                let b = g[best];
                let better = if max { v > b } else { v < b };
                if !b.is_nan() && (better || v.is_nan()) {
                    best = i;
                }
            }
            best as f64
        })
        .collect();
    let y = got.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        (y.dtype(), y.shape()),
        (DType::I32, &out_shape[..]),
        "{what}"
    );
    assert_eq!(y.to_f64_vec().unwrap(), want, "{what}");
}

fn dim_lists(ndim: usize) -> Vec<Vec<i64>> {
    let mut l = vec![vec![], vec![0], vec![-1], vec![1]];
    if ndim == 3 {
        l.extend([vec![0, 2], vec![-1, 0], vec![1, 2], vec![2, 0, 1]]);
    } else {
        l.push(vec![1, 0]);
    }
    l
}

#[test]
fn every_reduction_dtype_and_layout_matches_the_reference() {
    for dev in devices() {
        for dtype in DType::ALL {
            for shape in [&[3usize, 5][..], &[2, 3, 4]] {
                for case in layouts(shape, dtype, &dev, 3, -10.0, 10.0).unwrap() {
                    for dims in dim_lists(shape.len()) {
                        for keepdim in [false, true] {
                            for red in REDS.into_iter().filter(|r| r.accepts(dtype)) {
                                check(red, &case.tensor, &case.values, &dims, keepdim, case.layout);
                            }
                        }
                    }
                    if dtype != DType::Bool {
                        for dim in [None, Some(0), Some(1), Some(-1)] {
                            for keepdim in [false, true] {
                                check_arg(
                                    true,
                                    &case.tensor,
                                    &case.values,
                                    dim,
                                    keepdim,
                                    case.layout,
                                );
                                check_arg(
                                    false,
                                    &case.tensor,
                                    &case.values,
                                    dim,
                                    keepdim,
                                    case.layout,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn large_reductions_take_the_parallel_paths() {
    for dev in devices() {
        for dtype in [DType::F32, DType::BF16, DType::I32] {
            // rows, columns (dim 0 of a row-major matrix), all, and a transposed input
            for case in layouts(&[1500, 47], dtype, &dev, 5, -10.0, 10.0).unwrap() {
                for dims in [vec![1], vec![0], vec![]] {
                    for red in REDS.into_iter().filter(|r| r.accepts(dtype)) {
                        check(red, &case.tensor, &case.values, &dims, false, case.layout);
                    }
                }
                for dim in [None, Some(0), Some(1)] {
                    check_arg(true, &case.tensor, &case.values, dim, false, case.layout);
                }
            }
            // one output over one long contiguous run, split across tasks
            let vals = values(100_003, 9, dtype, -10.0, 10.0);
            let x = tensor_of(&vals, &[100_003], dtype, &dev).unwrap();
            for red in REDS.into_iter().filter(|r| r.accepts(dtype)) {
                check(red, &x, &x.to_f64_vec().unwrap(), &[], false, "long run");
            }
            check_arg(false, &x, &x.to_f64_vec().unwrap(), None, false, "long run");
        }
    }
}

#[test]
fn zero_size_inputs() {
    for dev in devices() {
        for dtype in [DType::F32, DType::I32] {
            let x = kiln::zeros(&[0, 3], dtype, &dev).unwrap();
            let sum = x.sum(&[0], false).unwrap();
            assert_eq!(
                (sum.shape(), sum.to_f64_vec().unwrap()),
                (&[3usize][..], vec![0.0; 3])
            );
            assert_eq!(x.sum(&[1], true).unwrap().shape(), &[0, 1]);
            assert_eq!(x.sum(&[], false).unwrap().to_f64_vec().unwrap(), vec![0.0]);
            assert_eq!(x.max(&[1], false).unwrap().shape(), &[0]);
            assert_eq!(x.argmin(Some(1), false).unwrap().shape(), &[0]);
            for (what, r) in [
                ("max dim 0", x.max(&[0], false)),
                ("min of all", x.min(&[], false)),
                ("argmax dim 0", x.argmax(Some(0), false)),
                ("argmax of all", x.argmax(None, false)),
            ] {
                let e = r.expect_err(what);
                assert!(matches!(e, Error::Shape { .. }), "{what}: {e:?}");
                assert!(
                    e.to_string().contains("non-zero size")
                        || e.to_string().contains("numel() == 0"),
                    "{e}"
                );
            }
        }
        let mean = kiln::zeros(&[0, 3], DType::F16, &dev)
            .unwrap()
            .mean(&[0], true)
            .unwrap();
        assert_eq!(mean.shape(), &[1, 3]);
        assert!(
            mean.to_f64_vec().unwrap().iter().all(|v| v.is_nan()),
            "mean of nothing is NaN"
        );
    }
}

#[test]
fn zero_dim_inputs() {
    for dev in devices() {
        let x = tensor_of(&[3.0], &[], DType::F32, &dev).unwrap();
        for red in REDS {
            for (dims, keepdim) in [(&[][..], false), (&[0][..], true), (&[-1][..], false)] {
                let y = red.run(&x, dims, keepdim).unwrap();
                assert_eq!(
                    (y.shape(), y.to_f64_vec().unwrap()),
                    (&[][..], vec![3.0]),
                    "{red:?} {dims:?}"
                );
            }
        }
        for dim in [None, Some(0), Some(-1)] {
            let y = x.argmax(dim, true).unwrap();
            assert_eq!((y.shape(), y.to_vec::<i32>().unwrap()), (&[][..], vec![0]));
        }
        assert!(matches!(
            x.sum(&[1], false),
            Err(Error::DimOutOfRange { .. })
        ));
    }
}

#[test]
fn argmax_takes_the_first_of_ties_and_nan_as_the_extreme() {
    let nan = f32::NAN;
    let x = kiln::tensor(&[1.0f32, 3.0, 3.0, 2.0]).unwrap();
    assert_eq!(
        x.argmax(None, false).unwrap().to_scalar::<i32>().unwrap(),
        1
    );
    let x = kiln::tensor(&[2.0f32, 1.0, 5.0, 1.0]).unwrap();
    assert_eq!(
        x.argmin(Some(0), false)
            .unwrap()
            .to_scalar::<i32>()
            .unwrap(),
        1
    );
    let x = kiln::tensor(&[1.0f32, nan, 5.0, nan]).unwrap();
    assert_eq!(
        x.argmax(None, false).unwrap().to_scalar::<i32>().unwrap(),
        1
    );
    assert_eq!(
        x.argmin(None, false).unwrap().to_scalar::<i32>().unwrap(),
        1
    );
    assert!(x
        .max(&[], false)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .is_nan());
    assert!(x
        .min(&[0], false)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .is_nan());
    // all equal, and all -inf: index 0
    let x = kiln::tensor(&[f32::NEG_INFINITY; 3]).unwrap();
    assert_eq!(
        x.argmax(None, false).unwrap().to_scalar::<i32>().unwrap(),
        0
    );
    let x = kiln::tensor(&[i32::MAX, i32::MAX]).unwrap();
    assert_eq!(
        x.argmin(None, false).unwrap().to_scalar::<i32>().unwrap(),
        0
    );
    // ties along a column of a matrix: the first row wins
    let x = kiln::from_vec(vec![4i32, 1, 4, 7, 0, 7], &[3, 2], &Device::Cpu).unwrap();
    assert_eq!(
        x.argmax(Some(0), true).unwrap().to_vec::<i32>().unwrap(),
        vec![0, 1]
    );
    // NaN anywhere in a long slice reaches max (the vectorised path)
    let mut v = vec![0.5f32; 1000];
    v[777] = nan;
    assert!(kiln::tensor(&v)
        .unwrap()
        .max(&[], false)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .is_nan());
}

#[test]
fn sums_of_ints_and_bools_are_i32() {
    let x = kiln::from_vec(vec![true, false, true, true], &[2, 2], &Device::Cpu).unwrap();
    let s = x.sum(&[1], false).unwrap();
    assert_eq!(
        (s.dtype(), s.to_vec::<i32>().unwrap()),
        (DType::I32, vec![1, 2])
    );
    let m = x.max(&[0], false).unwrap();
    assert_eq!(
        (m.dtype(), m.to_vec::<bool>().unwrap()),
        (DType::Bool, vec![true, true])
    );
    let m = x.min(&[], false).unwrap();
    assert_eq!(m.to_vec::<bool>().unwrap(), vec![false]);
    let x = kiln::tensor(&[i32::MAX, 1]).unwrap();
    assert_eq!(
        x.sum_all().unwrap().to_scalar::<i32>().unwrap(),
        i32::MIN,
        "i32 sums wrap"
    );
}

#[test]
fn refused_dtypes_and_dims_name_the_op() {
    for dev in devices() {
        for dtype in [DType::I32, DType::Bool] {
            let x = kiln::zeros(&[2, 3], dtype, &dev).unwrap();
            let e = x.mean(&[0], false).unwrap_err();
            assert!(
                matches!(&e, Error::UnsupportedDType { op, dtype: d, .. } if op == "mean" && *d == dtype),
                "{e:?}"
            );
            assert!(
                e.to_string().contains("mean") && e.to_string().contains(dtype.name()),
                "{e}"
            );
        }
        let b = kiln::zeros(&[2, 3], DType::Bool, &dev).unwrap();
        for (name, e) in [
            ("argmax", b.argmax(None, false)),
            ("argmin", b.argmin(Some(1), false)),
        ] {
            let e = e.unwrap_err();
            assert!(
                matches!(&e, Error::UnsupportedDType { op, dtype: DType::Bool, .. } if op == name),
                "{e:?}"
            );
            assert!(
                e.to_string().contains(name) && e.to_string().contains("bool"),
                "{e}"
            );
        }
        let x = kiln::zeros(&[2, 3], DType::F32, &dev).unwrap();
        assert!(matches!(
            x.sum(&[2], false),
            Err(Error::DimOutOfRange {
                dim: 2,
                ndim: 2,
                ..
            })
        ));
        assert!(matches!(
            x.max(&[-3], false),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            x.argmax(Some(5), false),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(
            matches!(x.sum(&[1, -1], false), Err(Error::InvalidArgument { .. })),
            "repeated dim"
        );
    }
}

/// A random input: shape of rank 0-4 with dims 0-5, the dims to reduce,
/// keepdim, and whether the tensor is stored with its dims reversed.
fn input() -> impl Strategy<Value = (Vec<usize>, Vec<bool>, bool, bool, u64)> {
    (
        prop::collection::vec(0usize..=5, 0..=4),
        prop::collection::vec(any::<bool>(), 4),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
}

/// `shape` with logical `vals`, stored contiguously or with reversed dims.
fn make(vals: &[f64], shape: &[usize], dtype: DType, reversed: bool) -> Tensor {
    if !reversed || shape.len() < 2 {
        return tensor_of(vals, shape, dtype, &Device::Cpu).unwrap();
    }
    // store the transpose (all dims reversed) and view it back
    let nd = shape.len();
    let rshape: Vec<usize> = shape.iter().rev().copied().collect();
    let mut stored = vec![0.0; vals.len()];
    for (li, &v) in vals.iter().enumerate() {
        let (mut rem, mut ri, mut scale) = (li, 0, 1);
        let mut idx = vec![0; nd];
        for d in (0..nd).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        for (rd, &i) in idx.iter().enumerate() {
            ri += i * scale;
            scale *= rshape[nd - 1 - rd];
        }
        stored[ri] = v;
    }
    let perm: Vec<i64> = (0..nd as i64).rev().collect();
    tensor_of(&stored, &rshape, dtype, &Device::Cpu)
        .unwrap()
        .permute(&perm)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_reductions_match_the_reference((shape, pick, keepdim, reversed, seed) in input()) {
        kiln::init().unwrap();
        let nd = shape.len();
        let dims: Vec<i64> = (0..nd).filter(|&d| pick[d]).map(|d| if seed % 2 == 0 { d as i64 } else { d as i64 - nd as i64 }).collect();
        for dtype in [DType::F32, DType::BF16, DType::I32, DType::Bool] {
            let n: usize = shape.iter().product();
            let vals = values(n, seed, dtype, -8.0, 8.0);
            let x = make(&vals, &shape, dtype, reversed);
            let plain = tensor_of(&vals, &shape, dtype, &Device::Cpu).unwrap();
            prop_assert_eq!(x.to_f64_vec().unwrap(), plain.to_f64_vec().unwrap());
            let vals = x.to_f64_vec().unwrap();
            for red in REDS.into_iter().filter(|r| r.accepts(dtype)) {
                check(red, &x, &vals, &dims, keepdim, if reversed { "reversed" } else { "contiguous" });
            }
            if dtype != DType::Bool {
                let dim = dims.first().copied();
                check_arg(seed % 3 == 0, &x, &vals, dim, keepdim, "random");
            }
        }
    }
}
