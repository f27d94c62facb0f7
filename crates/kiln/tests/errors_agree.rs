//! Every backend refuses the same bad calls with the same error: the
//! argument checks live once in kiln-core (`kiln_core::meta`,
//! `kiln_core::conv`) and each backend calls them. For each op family, a
//! list of bad calls runs on every device; each must fail, and the error's
//! text must be identical on all of them.

use kiln::core::call_tensor;
use kiln::testing::devices;
use kiln::{op, DType, Device, IValue, Result, Stack, Tensor};

/// A bad call, built on the device it is given.
type Call = Box<dyn Fn(&Device) -> Result<Tensor>>;

/// A tensor of `shape` and `dtype` on `d` (zeros: the values do not matter).
fn z(shape: &[usize], dtype: DType, d: &Device) -> Tensor {
    kiln::zeros(shape, dtype, d).expect("zeros")
}

fn f(shape: &[usize], d: &Device) -> Tensor {
    z(shape, DType::F32, d)
}

/// An i32 index tensor holding `v`, of shape `shape`, on `d`.
fn idx(v: &[i32], shape: &[usize], d: &Device) -> Tensor {
    kiln::from_slice(v, shape, &Device::Cpu)
        .and_then(|t| t.to(d))
        .expect("index tensor")
}

fn ints(v: &[i64]) -> IValue {
    IValue::IntList(v.to_vec())
}

/// Runs each call on every device: it must fail everywhere, with one text.
#[track_caller]
fn agree(family: &str, calls: Vec<(&str, Call)>) {
    let devs = devices();
    for (name, call) in calls {
        let msgs: Vec<String> = devs
            .iter()
            .map(|d| match call(d) {
                Ok(t) => panic!(
                    "{family}: {name} on {d} should fail, got a tensor of shape {:?}",
                    t.shape()
                ),
                Err(e) => e.to_string(),
            })
            .collect();
        eprintln!("{family}: {name}: {}", msgs[0]);
        for (d, m) in devs.iter().zip(&msgs).skip(1) {
            assert_eq!(
                m, &msgs[0],
                "{family}: {name} fails differently on {d} and on {}",
                devs[0]
            );
        }
    }
}

/// Boxes a call (a function, so that the closure takes any `&Device`).
fn call(f: impl Fn(&Device) -> Result<Tensor> + 'static) -> Call {
    Box::new(f)
}

macro_rules! calls {
    ($($name:literal => $f:expr),* $(,)?) => {
        vec![$(($name, call($f))),*]
    };
}

#[test]
fn matmul_errors_agree() {
    agree(
        "matmul",
        calls![
            "inner dims" => |d| f(&[2, 3], d).matmul(&f(&[4, 5], d)),
            "vector inner dims" => |d| f(&[3], d).matmul(&f(&[4], d)),
            "matrix @ vector" => |d| f(&[2, 3], d).matmul(&f(&[2], d)),
            "batch dims" => |d| f(&[2, 2, 3], d).matmul(&f(&[3, 3, 4], d)),
            "zero-dim left" => |d| f(&[], d).matmul(&f(&[3], d)),
            "zero-dim right" => |d| f(&[3], d).matmul(&f(&[], d)),
            "bool" => |d| z(&[2, 2], DType::Bool, d).matmul(&z(&[2, 2], DType::Bool, d)),
            "bool before shape" => |d| z(&[2], DType::Bool, d).matmul(&z(&[3], DType::Bool, d)),
            "linear 1-D weight" => |d| f(&[2, 3], d).linear(&f(&[3], d), None),
            "linear inner dims" => |d| f(&[2, 3], d).linear(&f(&[4, 2], d), None),
            "linear bias" => |d| f(&[2, 3], d).linear(&f(&[4, 3], d), Some(&f(&[3], d))),
        ],
    );
}

#[test]
fn softmax_errors_agree() {
    agree(
        "softmax",
        calls![
            "dim too big" => |d| f(&[2, 3], d).softmax(2),
            "dim too small" => |d| f(&[2, 3], d).softmax(-3),
            "zero-dim, dim 1" => |d| f(&[], d).softmax(1),
            "i32" => |d| z(&[2, 3], DType::I32, d).softmax(1),
            "bool" => |d| z(&[2], DType::Bool, d).softmax(0),
            "log dim" => |d| f(&[2, 3], d).log_softmax(5),
            "log i32" => |d| z(&[2, 3], DType::I32, d).log_softmax(-1),
            "log i32 and bad dim" => |d| z(&[2, 3], DType::I32, d).log_softmax(7),
        ],
    );
}

#[test]
fn reduction_errors_agree() {
    agree(
        "reductions",
        calls![
            "sum dim" => |d| f(&[2, 3], d).sum(&[2], false),
            "sum repeated dim" => |d| f(&[2, 3], d).sum(&[1, -1], true),
            "mean i32" => |d| z(&[2, 3], DType::I32, d).mean(&[0], false),
            "mean bool" => |d| z(&[2, 3], DType::Bool, d).mean(&[], false),
            "mean dim before dtype" => |d| z(&[2, 3], DType::I32, d).mean(&[4], false),
            "max dim" => |d| f(&[2, 3], d).max(&[-3], false),
            "max empty dim" => |d| f(&[2, 0], d).max(&[1], true),
            "min of nothing" => |d| f(&[0, 3], d).min(&[], false),
            "min zero-dim dim 1" => |d| f(&[], d).min(&[1], false),
            "argmax dim" => |d| f(&[2, 3], d).argmax(Some(2), false),
            "argmax bool" => |d| z(&[2, 3], DType::Bool, d).argmax(None, false),
            "argmin empty dim" => |d| f(&[3, 0], d).argmin(Some(1), false),
            "argmin of nothing" => |d| f(&[0], d).argmin(None, true),
        ],
    );
}

#[test]
fn layer_norm_errors_agree() {
    let ln = |x: Tensor, ns: &[i64], w: Option<Tensor>, b: Option<Tensor>| {
        call_tensor(
            op::LAYER_NORM,
            Stack::from_iter([
                x.into(),
                ints(ns),
                w.map_or(IValue::None, IValue::from),
                b.map_or(IValue::None, IValue::from),
                IValue::Float(1e-5),
            ]),
        )
    };
    agree(
        "layer_norm",
        calls![
            "i32 input" => move |d| ln(z(&[2, 3], DType::I32, d), &[3], None, None),
            "trailing dims" => move |d| ln(f(&[2, 3], d), &[2], None, None),
            "longer than input" => move |d| ln(f(&[3], d), &[2, 3], None, None),
            "empty shape" => move |d| ln(f(&[2, 3], d), &[], None, None),
            "negative size" => move |d| ln(f(&[2, 3], d), &[-3], None, None),
            "weight shape" => move |d| ln(f(&[2, 3], d), &[3], Some(f(&[2], d)), None),
            "bias shape" => move |d| ln(f(&[2, 3], d), &[3], None, Some(f(&[3, 1], d))),
            "weight dtype" => move |d| {
                ln(f(&[2, 3], d), &[3], Some(z(&[3], DType::I32, d)), None)
            },
            "bias dtype" => move |d| {
                ln(f(&[2, 3], d), &[3], Some(f(&[3], d)), Some(z(&[3], DType::Bool, d)))
            },
        ],
    );
}

#[test]
fn cat_errors_agree() {
    agree(
        "cat",
        calls![
            "no tensors" => |_| Tensor::cat(&[], 0),
            "zero-dim" => |d| Tensor::cat(&[f(&[2], d), f(&[], d)], 0),
            "dim" => |d| Tensor::cat(&[f(&[2, 3], d), f(&[2, 3], d)], 2),
            "negative dim" => |d| Tensor::cat(&[f(&[2, 3], d)], -3),
            "ranks" => |d| Tensor::cat(&[f(&[2, 3], d), f(&[2, 3, 1], d)], 0),
            "sizes" => |d| Tensor::cat(&[f(&[2, 3], d), f(&[2, 4], d)], 0),
            "sizes after an empty vector" => {
                |d| Tensor::cat(&[f(&[0], d), f(&[2, 3], d), z(&[3, 3], DType::I32, d)], 1)
            },
        ],
    );
}

#[test]
fn index_errors_agree() {
    agree(
        "index_select / gather / embedding",
        calls![
            "index_select f32 index" => |d| f(&[3, 4], d).index_select(0, &f(&[2], d)),
            "index_select 2-D index" => |d| f(&[3, 4], d).index_select(0, &idx(&[0; 4], &[2, 2], d)),
            "index_select dim" => |d| f(&[3, 4], d).index_select(2, &idx(&[0], &[1], d)),
            "index_select out of range" => |d| f(&[3, 4], d).index_select(1, &idx(&[1, 4], &[2], d)),
            "index_select negative" => |d| f(&[3, 4], d).index_select(0, &idx(&[-1], &[1], d)),
            "index_select zero-dim source" => |d| f(&[], d).index_select(0, &idx(&[1], &[1], d)),
            "gather i32 required" => |d| f(&[3, 4], d).gather(0, &z(&[3, 4], DType::Bool, d)),
            "gather ranks" => |d| f(&[3, 4], d).gather(0, &idx(&[0; 3], &[3], d)),
            "gather dim" => |d| f(&[3, 4], d).gather(-3, &idx(&[0; 4], &[2, 2], d)),
            "gather sizes" => |d| f(&[3, 4], d).gather(0, &idx(&[0; 5], &[1, 5], d)),
            "gather out of range" => |d| f(&[3, 4], d).gather(1, &idx(&[0, 4], &[1, 2], d)),
            "embedding i32 required" => |d| f(&[5, 2], d).embedding(&f(&[3], d)),
            "embedding 1-D weight" => |d| f(&[5], d).embedding(&idx(&[0], &[1], d)),
            "embedding out of range" => |d| f(&[5, 2], d).embedding(&idx(&[2, 5, 9], &[3], d)),
        ],
    );
}

#[test]
fn conv_errors_agree() {
    let conv = |x: Tensor, w: Tensor, b: Option<Tensor>, p: [&[i64]; 3], groups: i64| {
        call_tensor(
            op::CONV2D,
            Stack::from_iter([
                x.into(),
                w.into(),
                b.map_or(IValue::None, IValue::from),
                ints(p[0]),
                ints(p[1]),
                ints(p[2]),
                IValue::Int(groups),
            ]),
        )
    };
    let pool = |x: Tensor, k: &[i64], s: &[i64], p: &[i64]| {
        call_tensor(
            op::MAX_POOL2D,
            Stack::from_iter([x.into(), ints(k), ints(s), ints(p)]),
        )
    };
    let ones: [&[i64]; 3] = [&[1], &[0], &[1]];
    agree(
        "conv2d / max_pool2d",
        calls![
            "conv i32" => move |d| {
                conv(z(&[1, 2, 4, 4], DType::I32, d), z(&[3, 2, 3, 3], DType::I32, d), None, ones, 1)
            },
            "conv weight dtype" => move |d| {
                conv(f(&[1, 2, 4, 4], d), z(&[3, 2, 3, 3], DType::F16, d), None, ones, 1)
            },
            "conv 2-D input" => move |d| conv(f(&[4, 4], d), f(&[3, 2, 3, 3], d), None, ones, 1),
            "conv channels" => move |d| conv(f(&[1, 2, 4, 4], d), f(&[3, 3, 3, 3], d), None, ones, 1),
            "conv groups" => move |d| conv(f(&[1, 4, 4, 4], d), f(&[3, 2, 3, 3], d), None, ones, 2),
            "conv groups zero" => move |d| conv(f(&[1, 2, 4, 4], d), f(&[3, 2, 3, 3], d), None, ones, 0),
            "conv bias" => move |d| {
                conv(f(&[1, 2, 4, 4], d), f(&[3, 2, 3, 3], d), Some(f(&[2], d)), ones, 1)
            },
            "conv stride 0" => move |d| {
                conv(f(&[1, 2, 4, 4], d), f(&[3, 2, 3, 3], d), None, [&[0], &[0], &[1]], 1)
            },
            "conv kernel too big" => move |d| {
                conv(f(&[1, 2, 4, 4], d), f(&[3, 2, 5, 5], d), None, ones, 1)
            },
            "pool bool" => move |d| pool(z(&[1, 1, 4, 4], DType::Bool, d), &[2], &[], &[0]),
            "pool padding" => move |d| pool(f(&[1, 1, 4, 4], d), &[2], &[], &[2]),
            "pool kernel 3 values" => move |d| pool(f(&[1, 1, 4, 4], d), &[2, 2, 2], &[], &[0]),
            "pool output empty" => move |d| pool(f(&[1, 1, 2, 2], d), &[3], &[], &[0]),
        ],
    );
}
