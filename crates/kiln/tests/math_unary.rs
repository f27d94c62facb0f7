//! Unary ops against an f64 reference: every op x every dtype it accepts x
//! every layout x every device, plus zero-size and zero-dim inputs, the
//! dtypes that promote, and the ones that are refused.

use kiln::testing::{assert_close, devices, layouts, round_to, tolerance};
use kiln::{DType, Device, Error, Result, Tensor};

type Op = fn(&Tensor) -> Result<Tensor>;

struct Case {
    name: &'static str,
    op: Op,
    reference: fn(f64) -> f64,
    /// Input range `[lo, hi)`.
    range: (f64, f64),
    /// Whether `i32` input stays `i32` (else it promotes to `f32`).
    int_stays_int: bool,
}

/// The ops PyTorch defines for floating dtypes only: `i32` input is refused.
fn float_only(name: &str) -> bool {
    matches!(name, "gelu" | "silu")
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn cases() -> Vec<Case> {
    let c = |name, op: Op, reference: fn(f64) -> f64, range, int_stays_int| Case {
        name,
        op,
        reference,
        range,
        int_stays_int,
    };
    vec![
        c("neg", Tensor::neg, |x| -x, (-10.0, 10.0), true),
        c("abs", Tensor::abs, f64::abs, (-10.0, 10.0), true),
        c("exp", Tensor::exp, f64::exp, (-10.0, 10.0), false),
        c("log", Tensor::log, f64::ln, (0.05, 20.0), false),
        c("sqrt", Tensor::sqrt, f64::sqrt, (0.0, 20.0), false),
        c(
            "rsqrt",
            Tensor::rsqrt,
            |x| 1.0 / x.sqrt(),
            (0.05, 20.0),
            false,
        ),
        c("sin", Tensor::sin, f64::sin, (-10.0, 10.0), false),
        c("cos", Tensor::cos, f64::cos, (-10.0, 10.0), false),
        c("tanh", Tensor::tanh, f64::tanh, (-6.0, 6.0), false),
        c("sigmoid", Tensor::sigmoid, sigmoid, (-12.0, 12.0), false),
        c("relu", Tensor::relu, |x| x.max(0.0), (-10.0, 10.0), true),
        c("gelu", Tensor::gelu, gelu, (-6.0, 6.0), false),
        c(
            "silu",
            Tensor::silu,
            |x| x * sigmoid(x),
            (-12.0, 12.0),
            false,
        ),
        c("recip", Tensor::recip, |x| 1.0 / x, (0.25, 8.0), false),
    ]
}

/// Checks `case` on every layout of `shape` for `dtype` on `dev`.
fn check(case: &Case, shape: &[usize], dtype: DType, dev: &Device) {
    if dtype == DType::I32 && float_only(case.name) {
        let x = kiln::zeros(shape, dtype, dev).unwrap();
        let got = (case.op)(&x);
        assert!(
            matches!(&got, Err(kiln::Error::UnsupportedDType { op, .. }) if op == case.name),
            "{} of i32 on {dev}: {got:?}",
            case.name
        );
        return;
    }
    let (lo, hi) = case.range;
    // integer inputs: keep them away from 0 where the op is singular there
    let (lo, hi) = if dtype == DType::I32 && lo > 0.0 {
        (1.0, hi)
    } else {
        (lo, hi)
    };
    let out_dtype = if dtype == DType::I32 && !case.int_stays_int {
        DType::F32
    } else {
        dtype
    };
    let (atol, rtol) = tolerance(out_dtype);
    for input in layouts(shape, dtype, dev, 7, lo, hi).unwrap() {
        let what = format!("{} {dtype} {} {shape:?} on {dev}", case.name, input.layout);
        let y = (case.op)(&input.tensor).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(y.dtype(), out_dtype, "{what}: dtype");
        assert_eq!(y.shape(), shape, "{what}: shape");
        assert_eq!(y.device(), *dev, "{what}: device");
        let want: Vec<f64> = input
            .values
            .iter()
            .map(|&v| round_to((case.reference)(v), out_dtype))
            .collect();
        assert_close(&what, &y.to_f64_vec().unwrap(), &want, atol, rtol);
    }
}

#[test]
fn every_op_dtype_and_layout_matches_the_reference() {
    for dev in devices() {
        for case in cases() {
            for dtype in [DType::F32, DType::F16, DType::BF16, DType::I32] {
                check(&case, &[3, 5], dtype, &dev);
                check(&case, &[2, 3, 4], dtype, &dev);
            }
        }
    }
}

#[test]
fn large_inputs_take_the_parallel_path() {
    // more elements than one parallel chunk, odd sizes so no block is full
    for dev in devices() {
        for case in cases() {
            for dtype in [DType::F32, DType::BF16] {
                check(&case, &[257, 131], dtype, &dev);
            }
        }
    }
}

#[test]
fn zero_size_and_zero_dim_inputs() {
    for dev in devices() {
        for case in cases() {
            for dtype in [DType::F32, DType::F16, DType::I32] {
                if dtype == DType::I32 && float_only(case.name) {
                    continue; // refused: checked in `check`
                }
                let out_dtype = if dtype == DType::I32 && !case.int_stays_int {
                    DType::F32
                } else {
                    dtype
                };
                let empty = kiln::zeros(&[0, 3], dtype, &dev).unwrap();
                let y = (case.op)(&empty).unwrap();
                assert_eq!(
                    (y.shape(), y.dtype()),
                    (&[0usize, 3][..], out_dtype),
                    "{} {dtype} of [0, 3]",
                    case.name
                );
                assert!(y.to_f64_vec().unwrap().is_empty());

                let x = kiln::testing::tensor_of(&[2.0], &[], dtype, &dev).unwrap();
                let y = (case.op)(&x).unwrap();
                assert_eq!(
                    (y.shape(), y.dtype()),
                    (&[][..], out_dtype),
                    "{} {dtype} of a zero-dim tensor",
                    case.name
                );
                let (atol, rtol) = tolerance(out_dtype);
                let want = round_to((case.reference)(2.0), out_dtype);
                assert_close(case.name, &y.to_f64_vec().unwrap(), &[want], atol, rtol);
            }
        }
    }
}

#[test]
fn bool_inputs_are_refused_with_the_op_and_dtype_named() {
    for dev in devices() {
        let x = kiln::testing::tensor_of(&[1.0, 0.0], &[2], DType::Bool, &dev).unwrap();
        for case in cases() {
            let err = (case.op)(&x).expect_err(case.name);
            assert!(
                matches!(&err, Error::UnsupportedDType { op, dtype: DType::Bool, .. } if op == case.name),
                "{}: {err:?}",
                case.name
            );
            let msg = err.to_string();
            assert!(msg.contains(case.name) && msg.contains("bool"), "{msg}");
        }
    }
}

#[test]
fn integer_results_wrap_and_clamp_like_pytorch() {
    for dev in devices() {
        let x =
            kiln::testing::tensor_of(&[-3.0, 0.0, 4.0, i32::MIN as f64], &[4], DType::I32, &dev)
                .unwrap();
        assert_eq!(
            x.neg().unwrap().to_vec::<i32>().unwrap(),
            vec![3, 0, -4, i32::MIN]
        );
        assert_eq!(
            x.abs().unwrap().to_vec::<i32>().unwrap(),
            vec![3, 0, 4, i32::MIN]
        );
        assert_eq!(x.relu().unwrap().to_vec::<i32>().unwrap(), vec![0, 0, 4, 0]);
        let y = x.exp().unwrap();
        assert_eq!(y.dtype(), DType::F32);
        let want = [(-3f64).exp(), 1.0, 4f64.exp(), (i32::MIN as f64).exp()];
        assert_close("exp of i32", &y.to_f64_vec().unwrap(), &want, 1e-6, 1e-6);
    }
}

#[test]
fn special_values_follow_ieee_and_pytorch() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let x = kiln::tensor(&[inf, -inf, nan, 0.0, -0.0, 100.0, -100.0]).unwrap();
    let get = |t: Result<Tensor>| t.unwrap().to_vec::<f32>().unwrap();
    let same = |got: Vec<f32>, want: &[f32], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!(
                g == w || (g.is_nan() && w.is_nan()),
                "{what}: got {got:?}, expected {want:?}"
            );
        }
    };
    // e^-100 is a subnormal f32
    same(
        get(x.exp()),
        &[inf, 0.0, nan, 1.0, 1.0, inf, (-100f64).exp() as f32],
        "exp",
    );
    same(
        get(x.tanh()),
        &[1.0, -1.0, nan, 0.0, -0.0, 1.0, -1.0],
        "tanh",
    );
    same(
        get(x.sigmoid()),
        &[1.0, 0.0, nan, 0.5, 0.5, 1.0, 0.0],
        "sigmoid",
    );
    same(
        get(x.relu()),
        &[inf, 0.0, nan, 0.0, -0.0, 100.0, 0.0],
        "relu",
    );
    same(get(x.gelu())[..1].to_vec(), &[inf], "gelu(inf)");
    assert!(get(x.gelu())[2].is_nan(), "gelu(nan)");
    same(get(x.gelu())[5..].to_vec(), &[100.0, -0.0], "gelu(+-100)");
    same(
        get(x.log()),
        &[inf, nan, nan, -inf, -inf, 100f32.ln(), nan],
        "log",
    );
    same(get(x.rsqrt())[3..4].to_vec(), &[inf], "rsqrt(0)");
    same(
        get(x.recip())[..5].to_vec(),
        &[0.0, -0.0, nan, inf, -inf],
        "recip",
    );
}
