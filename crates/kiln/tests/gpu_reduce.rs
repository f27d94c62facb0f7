//! Reductions on the GPU against the CPU backend: every dtype x layout
//! (contiguous, transposed, sliced, broadcast, zero-size), dim lists and
//! keepdim; exact for integers, bools, max/min and arg*, within a
//! tolerance for float sums and means (the GPU sums in a compensated f32
//! pair, the CPU in f64). Plus long rows, many short rows, NaN and ties,
//! and the refused cases.

mod gpu_support;

use gpu_support::{assert_near, assert_same_outcome, devices_for};
use kiln::prelude::*;
use kiln::testing::{layouts, tensor_of, tolerance, values};

/// `(atol, rtol)` of a float sum or mean of `dt` against the CPU's.
fn sum_tol(dt: DType) -> (f64, f64) {
    match dt {
        DType::F32 => (1e-5, 1e-6),
        // the GPU rounds f32 -> dtype after its own f32 rounding: one ulp apart
        d => tolerance(d),
    }
}

fn reduce(name: &str, x: &Tensor, dims: &[i64], keepdim: bool) -> kiln::Result<Tensor> {
    match name {
        "sum" => x.sum(dims, keepdim),
        "mean" => x.mean(dims, keepdim),
        "max" => x.max(dims, keepdim),
        "min" => x.min(dims, keepdim),
        "argmax" => x.argmax(dims.first().copied(), keepdim),
        _ => x.argmin(dims.first().copied(), keepdim),
    }
}

fn tol(name: &str, dt: DType) -> (f64, f64) {
    if matches!(name, "sum" | "mean") && dt.is_float() {
        sum_tol(dt)
    } else {
        (0.0, 0.0)
    }
}

const OPS: [&str; 6] = ["sum", "mean", "max", "min", "argmax", "argmin"];

fn gpus(dt: DType) -> Vec<Device> {
    devices_for(&[dt])
        .into_iter()
        .filter(|d| *d != Device::Cpu)
        .collect()
}

#[test]
fn reductions_match_the_cpu_on_every_dtype_and_layout() {
    for dt in DType::ALL {
        for dev in gpus(dt) {
            for shape in [&[3usize, 5][..], &[2, 3, 4], &[0, 3]] {
                for case in layouts(shape, dt, &dev, 11, -10.0, 10.0).unwrap() {
                    let cpu = case.tensor.to(&Device::Cpu).unwrap();
                    let mut lists = vec![vec![], vec![0], vec![-1], vec![1, 0]];
                    if shape.len() == 3 {
                        lists.extend([vec![0, 2], vec![2, 0, 1], vec![1]]);
                    }
                    for dims in &lists {
                        for keepdim in [false, true] {
                            for name in OPS {
                                if name.starts_with("arg") && dims.len() > 1 {
                                    continue;
                                }
                                let what = format!(
                                    "{name} {dt} {:?} {} dims {dims:?} keepdim {keepdim} on {dev}",
                                    shape, case.layout
                                );
                                assert_same_outcome(
                                    &what,
                                    reduce(name, &case.tensor, dims, keepdim),
                                    reduce(name, &cpu, dims, keepdim),
                                    tol(name, dt),
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
fn long_rows_columns_and_many_short_rows() {
    for dt in [DType::F32, DType::BF16, DType::I32, DType::F16] {
        for dev in gpus(dt) {
            for (shape, dims) in [
                (vec![3usize, 5000], vec![1i64]),
                (vec![700, 47], vec![0]),
                (vec![700, 47], vec![1]),
                (vec![4000, 3], vec![1]),
                (vec![20_003], vec![]),
            ] {
                let n: usize = shape.iter().product();
                let x = tensor_of(&values(n, 7, dt, -10.0, 10.0), &shape, dt, &dev).unwrap();
                let cpu = x.to(&Device::Cpu).unwrap();
                for name in OPS {
                    if name == "mean" && dt == DType::I32 {
                        continue;
                    }
                    let what = format!("{name} {dt} {shape:?} dims {dims:?} on {dev}");
                    let got = reduce(name, &x, &dims, false).unwrap();
                    let want = reduce(name, &cpu, &dims, false).unwrap();
                    let (atol, rtol) = tol(name, dt);
                    // a sum of thousands of values: its size, not each value's, sets the error
                    let atol = if matches!(name, "sum" | "mean") {
                        atol * 10.0
                    } else {
                        atol
                    };
                    assert_near(&what, &got, &want, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn nan_ties_infinities_and_wrapping() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    for dev in gpus(DType::F32) {
        let rows = [
            vec![1.0f32, 3.0, 3.0, 2.0],
            vec![1.0, nan, 5.0, nan],
            vec![-inf, -inf, -inf, -inf],
            vec![2.0, 1.0, 5.0, 1.0],
            vec![inf, 1.0, -2.0, inf],
            vec![inf, 1.0, -inf, 0.0],
        ];
        let flat: Vec<f32> = rows.concat();
        let x = kiln::from_vec(flat.clone(), &[rows.len(), 4], &dev).unwrap();
        let cpu = x.to(&Device::Cpu).unwrap();
        for name in OPS {
            for dims in [vec![1i64], vec![0], vec![]] {
                let what = format!("{name} dims {dims:?} of special values on {dev}");
                assert_same_outcome(
                    &what,
                    reduce(name, &x, &dims, false),
                    reduce(name, &cpu, &dims, false),
                    (0.0, 0.0),
                );
            }
        }
        // ties across the invocations of one long row: the first index wins
        let mut v = vec![0.0f32; 3000];
        v[2500] = 7.0;
        v[1234] = 7.0;
        v[2999] = 7.0;
        let x = kiln::from_vec(v, &[3000], &dev).unwrap();
        assert_eq!(
            x.argmax(None, false).unwrap().to_vec::<i32>().unwrap(),
            [1234]
        );
        assert_eq!(x.argmin(None, false).unwrap().to_vec::<i32>().unwrap(), [0]);
        // ties and NaNs in different segments of a row long enough for two
        // passes, read in place through a transposed view
        let mut v = vec![0.0f32; 2 * 12_000];
        for (at, val) in [(9000, 7.0), (4321, 7.0), (11_999, 7.0)] {
            v[2 * at] = val; // row 0: ties
            v[2 * at + 1] = -val; // row 1: ties of the minimum
        }
        v[2 * 8000 + 1] = nan; // row 1: NaNs, the first wins
        v[2 * 10_000 + 1] = nan;
        let x = kiln::from_vec(v, &[12_000, 2], &dev).unwrap().t().unwrap();
        let cpu = x.to(&Device::Cpu).unwrap();
        for name in OPS {
            assert_same_outcome(
                &format!("{name} of a long strided row with ties and NaNs on {dev}"),
                reduce(name, &x, &[1], false),
                reduce(name, &cpu, &[1], false),
                (0.0, 0.0),
            );
        }
        let i = kiln::from_vec(vec![i32::MAX, 1, 5, 5], &[4], &dev).unwrap();
        assert_eq!(
            i.sum(&[], false).unwrap().to_vec::<i32>().unwrap(),
            [i32::MIN + 10]
        );
        assert_eq!(i.argmin(None, false).unwrap().to_vec::<i32>().unwrap(), [1]);
        let b = kiln::from_vec(vec![true, false, true, true, false, false], &[2, 3], &dev).unwrap();
        let s = b.sum(&[1], false).unwrap();
        assert_eq!(
            (s.dtype(), s.to_vec::<i32>().unwrap()),
            (DType::I32, vec![2, 1])
        );
        assert_eq!(
            b.max(&[1], false).unwrap().to_vec::<bool>().unwrap(),
            [true, true]
        );
        assert_eq!(
            b.min(&[0], false).unwrap().to_vec::<bool>().unwrap(),
            [true, false, false]
        );
    }
}

#[test]
fn zero_dim_empty_reductions_and_refusals() {
    for dev in gpus(DType::F16) {
        let s = tensor_of(&[3.0], &[], DType::F32, &dev).unwrap();
        for name in OPS {
            let y = reduce(name, &s, &[], false).unwrap();
            let want = if name.starts_with("arg") { 0.0 } else { 3.0 };
            assert_eq!(
                (y.shape(), y.to_f64_vec().unwrap()),
                (&[][..], vec![want]),
                "{name}"
            );
        }
        let e = kiln::zeros(&[0, 3], DType::F16, &dev).unwrap();
        let m = e.mean(&[0], true).unwrap();
        assert_eq!((m.shape(), m.dtype()), (&[1usize, 3][..], DType::F16));
        assert!(m.to_f64_vec().unwrap().iter().all(|v| v.is_nan()));
        assert_eq!(e.sum(&[0], false).unwrap().to_f64_vec().unwrap(), [0.0; 3]);
        assert!(matches!(e.max(&[0], false), Err(kiln::Error::Shape { .. })));
        assert!(matches!(
            e.argmax(None, false),
            Err(kiln::Error::Shape { .. })
        ));
        assert_eq!(e.max(&[1], false).unwrap().shape(), &[0]);
        let i = kiln::zeros(&[2, 3], DType::I32, &dev).unwrap();
        assert!(matches!(
            i.mean(&[0], false),
            Err(kiln::Error::UnsupportedDType { .. })
        ));
        let b = kiln::zeros(&[2, 3], DType::Bool, &dev).unwrap();
        assert!(matches!(
            b.argmax(None, false),
            Err(kiln::Error::UnsupportedDType { .. })
        ));
        assert!(matches!(
            i.sum(&[2], false),
            Err(kiln::Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            i.sum(&[1, -1], false),
            Err(kiln::Error::InvalidArgument { .. })
        ));
    }
}
