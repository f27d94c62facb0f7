//! `kiln::nn` layers on every device against plain f64 references written
//! out here, shape errors that name the layer and the shapes, and `to`.

use kiln::nn::models::{self, Model};
use kiln::nn::{Conv2d, LayerNorm, Linear, MaxPool2d, Mlp, Module, TransformerBlock};
use kiln::testing::{assert_close, devices, devices_for, layouts, tensor_of, values};
use kiln::{op, DType, Device, Tensor};

/// Accumulation over a few dozen terms in f32.
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-4;

fn vals(n: usize, seed: u64) -> Vec<f64> {
    // f32-representable, so the reference sees exactly the tensor's values
    values(n, seed, DType::F32, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32 as f64)
        .collect()
}

fn t(v: &[f64], shape: &[usize], dev: &Device) -> Tensor {
    tensor_of(v, shape, DType::F32, dev).unwrap()
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

/// `x [m, k] @ w[n, k]^T + b[n]`.
fn linear_ref(x: &[f64], w: &[f64], b: Option<&[f64]>, m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut y = vec![0.0; m * n];
    for i in 0..m {
        for o in 0..n {
            let dot: f64 = (0..k).map(|q| x[i * k + q] * w[o * k + q]).sum();
            y[i * n + o] = dot + b.map_or(0.0, |b| b[o]);
        }
    }
    y
}

/// Layer norm of each row of `x` (`rows x d`), then `* w + b`.
fn layer_norm_ref(x: &[f64], w: &[f64], b: &[f64], d: usize, eps: f64) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|r| {
            let mean = r.iter().sum::<f64>() / d as f64;
            let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            let inv = 1.0 / (var + eps).sqrt();
            r.iter()
                .enumerate()
                .map(move |(j, v)| (v - mean) * inv * w[j] + b[j])
                .collect::<Vec<_>>()
        })
        .collect()
}

fn gelu_ref(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

#[test]
fn linear_matches_reference_on_every_device_and_layout() {
    let (m, k, n) = (4, 5, 3);
    let (w, b) = (vals(n * k, 1), vals(n, 2));
    for dev in devices() {
        let layer = Linear::from_weights(t(&w, &[n, k], &dev), Some(t(&b, &[n], &dev))).unwrap();
        for case in layouts(&[m, k], DType::F32, &dev, 3, -1.0, 1.0).unwrap() {
            let y = layer.forward(&case.tensor).unwrap();
            assert_eq!(y.shape(), &[m, n]);
            assert_eq!(y.device(), dev);
            let want = linear_ref(&case.values, &w, Some(&b), m, k, n);
            assert_close(
                &format!("Linear on {dev}, {} input", case.layout),
                &f64s(&y),
                &want,
                ATOL,
                RTOL,
            );
        }
        // no bias, batched [2, m, k] input
        let layer = Linear::from_weights(t(&w, &[n, k], &dev), None).unwrap();
        let x = vals(2 * m * k, 4);
        let y = layer.forward(&t(&x, &[2, m, k], &dev)).unwrap();
        assert_eq!(y.shape(), &[2, m, n]);
        let want = linear_ref(&x, &w, None, 2 * m, k, n);
        assert_close(
            &format!("Linear without bias on {dev}"),
            &f64s(&y),
            &want,
            ATOL,
            RTOL,
        );
    }
}

#[test]
fn seeded_linear_has_pytorch_scale_and_the_same_weights_everywhere() {
    let cpu = Linear::new(16, 8, true, 42, DType::F32, &Device::Cpu).unwrap();
    let bound = 1.0 / 4.0;
    for p in cpu.parameters() {
        let v = f64s(&p);
        assert!(v.iter().all(|x| (-bound..bound).contains(x)), "{v:?}");
        // spread over the range, not a constant
        let (lo, hi) = v
            .iter()
            .fold((1.0f64, -1.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        assert!(hi - lo > bound, "range {lo}..{hi}");
    }
    assert_eq!(cpu.weight().shape(), &[8, 16]);
    assert_eq!(cpu.bias().unwrap().shape(), &[8]);
    let (w, b) = (f64s(cpu.weight()), f64s(cpu.bias().unwrap()));
    assert_ne!(w[..8], b[..], "weight and bias draw different streams");
    for dev in devices() {
        let l = Linear::new(16, 8, true, 42, DType::F32, &dev).unwrap();
        assert_eq!(l.weight().device(), dev);
        assert_eq!(f64s(l.weight()), w, "on {dev}");
        assert_eq!(f64s(l.bias().unwrap()), b, "on {dev}");
    }
    let other = Linear::new(16, 8, true, 43, DType::F32, &Device::Cpu).unwrap();
    assert_ne!(f64s(other.weight()), w, "another seed, other weights");
    let no_bias = Linear::new(16, 8, false, 42, DType::BF16, &Device::Cpu).unwrap();
    assert_eq!(no_bias.parameters().len(), 1);
    assert_eq!(no_bias.weight().dtype(), DType::BF16);
}

#[test]
fn mlp_matches_reference_on_every_device() {
    let sizes = [4, 6, 5, 3];
    let m = 3;
    let x = vals(m * sizes[0], 9);
    for dev in devices() {
        let mlp = Mlp::new(&sizes, 5, DType::F32, &dev).unwrap();
        assert_eq!(mlp.layers().len(), 3);
        let y = mlp.forward(&t(&x, &[m, sizes[0]], &dev)).unwrap();
        let mut h = x.clone();
        for (i, l) in mlp.layers().iter().enumerate() {
            let (k, n) = (sizes[i], sizes[i + 1]);
            h = linear_ref(
                &h,
                &f64s(l.weight()),
                Some(&f64s(l.bias().unwrap())),
                m,
                k,
                n,
            );
            if i + 1 < sizes.len() - 1 {
                h.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        assert!(h.iter().any(|&v| v != 0.0));
        assert_eq!(y.shape(), &[m, 3]);
        assert_close(&format!("Mlp on {dev}"), &f64s(&y), &h, ATOL, RTOL);
    }
}

#[test]
fn layer_norm_matches_reference_on_every_device() {
    let (rows, d) = (3, 6);
    let (x, w, b) = (vals(rows * d, 11), vals(d, 12), vals(d, 13));
    for dev in devices() {
        let ln = LayerNorm::from_weights(t(&w, &[d], &dev), t(&b, &[d], &dev), 1e-5).unwrap();
        for case in layouts(&[rows, d], DType::F32, &dev, 14, -2.0, 2.0).unwrap() {
            let y = ln.forward(&case.tensor).unwrap();
            let want = layer_norm_ref(&case.values, &w, &b, d, 1e-5);
            assert_close(
                &format!("LayerNorm on {dev}, {} input", case.layout),
                &f64s(&y),
                &want,
                ATOL,
                RTOL,
            );
        }
        // the default affine parameters are ones and zeros
        let plain = LayerNorm::new(&[d], 1e-5, DType::F32, &dev).unwrap();
        let y = plain.forward(&t(&x, &[rows, d], &dev)).unwrap();
        let want = layer_norm_ref(&x, &[1.0; 6], &[0.0; 6], d, 1e-5);
        assert_close(
            &format!("default LayerNorm on {dev}"),
            &f64s(&y),
            &want,
            ATOL,
            RTOL,
        );
    }
}

/// `conv2d` of `x [n, c, h, w]` with `k [o, c, kh, kw]`, stride and padding.
#[allow(clippy::too_many_arguments)]
fn conv_ref(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    k: &[f64],
    [o, kh, kw]: [usize; 3],
    b: &[f64],
    stride: usize,
    pad: usize,
) -> (Vec<f64>, [usize; 4]) {
    let oh = (h + 2 * pad - kh) / stride + 1;
    let ow = (w + 2 * pad - kw) / stride + 1;
    let mut y = vec![0.0; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[oi];
                    for ci in 0..c {
                        for p in 0..kh {
                            for q in 0..kw {
                                let (r, s) = (
                                    (i * stride + p) as i64 - pad as i64,
                                    (j * stride + q) as i64 - pad as i64,
                                );
                                if r < 0 || s < 0 || r >= h as i64 || s >= w as i64 {
                                    continue;
                                }
                                let xv = x[((ni * c + ci) * h + r as usize) * w + s as usize];
                                acc += xv * k[((oi * c + ci) * kh + p) * kw + q];
                            }
                        }
                    }
                    y[((ni * o + oi) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    (y, [n, o, oh, ow])
}

#[test]
fn conv2d_matches_reference_on_every_device() {
    let xs = [2, 3, 5, 6];
    let (o, kh, kw) = (4, 3, 3);
    let x = vals(xs.iter().product(), 21);
    let k = vals(o * xs[1] * kh * kw, 22);
    let b = vals(o, 23);
    for dev in devices_for(&[op::CONV2D]) {
        for (stride, pad) in [(1, 0), (2, 1)] {
            let conv =
                Conv2d::from_weights(t(&k, &[o, xs[1], kh, kw], &dev), Some(t(&b, &[o], &dev)))
                    .unwrap()
                    .with_stride(stride)
                    .with_padding(pad);
            let y = conv.forward(&t(&x, &xs, &dev)).unwrap();
            let (want, shape) = conv_ref(&x, xs, &k, [o, kh, kw], &b, stride, pad);
            assert_eq!(y.shape(), &shape);
            assert_close(
                &format!("Conv2d stride {stride} padding {pad} on {dev}"),
                &f64s(&y),
                &want,
                ATOL,
                RTOL,
            );
        }
        // seeded: PyTorch's scale 1/sqrt(C * kH * kW)
        let seeded = Conv2d::new(3, 4, 3, 1, DType::F32, &dev).unwrap();
        let bound = 1.0 / 27f64.sqrt();
        assert!(f64s(seeded.weight()).iter().all(|v| v.abs() <= bound));
        assert_eq!(seeded.parameters().len(), 2);
    }
}

#[test]
fn max_pool2d_matches_reference_on_every_device() {
    let (c, h, w) = (2, 4, 6);
    let x = vals(c * h * w, 31);
    for dev in devices_for(&[op::MAX_POOL2D]) {
        let y = MaxPool2d::new(2)
            .forward(&t(&x, &[1, c, h, w], &dev))
            .unwrap();
        assert_eq!(y.shape(), &[1, c, 2, 3]);
        let mut want = Vec::new();
        for ci in 0..c {
            for i in 0..2 {
                for j in 0..3 {
                    let at = |p: usize, q: usize| x[(ci * h + 2 * i + p) * w + 2 * j + q];
                    want.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
                }
            }
        }
        assert_close(&format!("MaxPool2d on {dev}"), &f64s(&y), &want, 0.0, 0.0);
        // stride 1: overlapping windows
        let y = MaxPool2d::new(2)
            .with_stride(1)
            .forward(&t(&x, &[1, c, h, w], &dev))
            .unwrap();
        assert_eq!(y.shape(), &[1, c, 3, 5]);
        assert!(MaxPool2d::new(2).parameters().is_empty());
    }
}

/// The transformer block in f64, from its parameters (in `parameters()` order).
fn transformer_ref(
    x: &[f64],
    p: &[Vec<f64>],
    s: usize,
    d: usize,
    heads: usize,
    ff: usize,
) -> Vec<f64> {
    let (ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fc1w, fc1b, fc2w, fc2b) = (
        &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7], &p[8], &p[9], &p[10], &p[11],
    );
    let h = layer_norm_ref(x, ln1w, ln1b, d, 1e-5);
    let qkv = linear_ref(&h, qkvw, Some(qkvb), s, d, 3 * d);
    let dh = d / heads;
    let mut ctx = vec![0.0; s * d];
    for hd in 0..heads {
        let q = |i: usize, j: usize| qkv[i * 3 * d + hd * dh + j];
        let k = |i: usize, j: usize| qkv[i * 3 * d + d + hd * dh + j];
        let v = |i: usize, j: usize| qkv[i * 3 * d + 2 * d + hd * dh + j];
        for i in 0..s {
            let scores: Vec<f64> = (0..s)
                .map(|r| (0..dh).map(|j| q(i, j) * k(r, j)).sum::<f64>() / (dh as f64).sqrt())
                .collect();
            let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = scores.iter().map(|v| (v - mx).exp()).collect();
            let z: f64 = e.iter().sum();
            for j in 0..dh {
                ctx[i * d + hd * dh + j] = (0..s).map(|r| e[r] / z * v(r, j)).sum();
            }
        }
    }
    let attn = linear_ref(&ctx, projw, Some(projb), s, d, d);
    let h1: Vec<f64> = x.iter().zip(&attn).map(|(a, b)| a + b).collect();
    let h2 = layer_norm_ref(&h1, ln2w, ln2b, d, 1e-5);
    let f: Vec<f64> = linear_ref(&h2, fc1w, Some(fc1b), s, d, ff)
        .into_iter()
        .map(gelu_ref)
        .collect();
    let m = linear_ref(&f, fc2w, Some(fc2b), s, ff, d);
    h1.iter().zip(&m).map(|(a, b)| a + b).collect()
}

#[test]
fn transformer_block_matches_reference_on_every_device() {
    let (s, d, heads, ff) = (5, 8, 2, 16);
    let x = vals(s * d, 41);
    for dev in devices() {
        let block = TransformerBlock::new(d, heads, ff, 3, DType::F32, &dev).unwrap();
        // non-trivial layer norm parameters, so they are checked too
        let p = block.parameters();
        let (ln1, ln2) = (
            LayerNorm::from_weights(
                t(&vals(d, 42), &[d], &dev),
                t(&vals(d, 43), &[d], &dev),
                1e-5,
            )
            .unwrap(),
            LayerNorm::from_weights(
                t(&vals(d, 44), &[d], &dev),
                t(&vals(d, 45), &[d], &dev),
                1e-5,
            )
            .unwrap(),
        );
        let lin = |w: usize| Linear::from_weights(p[w].clone(), Some(p[w + 1].clone())).unwrap();
        let block = TransformerBlock::from_layers(heads, ln1, lin(2), lin(4), ln2, lin(8), lin(10))
            .unwrap();
        assert_eq!((block.d_model(), block.n_heads()), (d, heads));
        let params: Vec<Vec<f64>> = block.parameters().iter().map(f64s).collect();
        assert_eq!(params.len(), 12);
        let want = transformer_ref(&x, &params, s, d, heads, ff);
        let y = block.forward(&t(&x, &[s, d], &dev)).unwrap();
        assert_eq!(y.shape(), &[s, d]);
        assert_close(
            &format!("TransformerBlock on {dev}"),
            &f64s(&y),
            &want,
            1e-4,
            1e-4,
        );
        // batched: each sequence on its own
        let x2 = vals(s * d, 46);
        let both: Vec<f64> = [x.clone(), x2.clone()].concat();
        let y = block.forward(&t(&both, &[2, s, d], &dev)).unwrap();
        assert_eq!(y.shape(), &[2, s, d]);
        let want = [want, transformer_ref(&x2, &params, s, d, heads, ff)].concat();
        assert_close(
            &format!("batched TransformerBlock on {dev}"),
            &f64s(&y),
            &want,
            1e-4,
            1e-4,
        );
    }
}

#[track_caller]
fn assert_err_names<T: std::fmt::Debug>(r: kiln::Result<T>, parts: &[&str]) {
    let msg = r.expect_err("expected an error").to_string();
    for p in parts {
        assert!(msg.contains(p), "{msg:?} does not mention {p:?}");
    }
}

#[test]
fn shape_errors_name_the_layer_and_the_shapes() {
    let cpu = Device::Cpu;
    let z = |shape: &[usize]| kiln::zeros(shape, DType::F32, &cpu).unwrap();
    assert_err_names(Linear::from_weights(z(&[3]), None), &["nn::Linear", "[3]"]);
    assert_err_names(
        Linear::from_weights(z(&[3, 4]), Some(z(&[4]))),
        &["nn::Linear", "[3, 4]", "[4]"],
    );
    assert_err_names(
        Linear::from_weights(
            z(&[3, 4]),
            Some(kiln::zeros(&[3], DType::F16, &cpu).unwrap()),
        ),
        &["nn::Linear", "f16", "f32"],
    );
    let l = Linear::from_weights(z(&[3, 4]), None).unwrap();
    assert_err_names(l.forward(&z(&[2, 5])), &["nn::Linear", "[2, 5]", "[3, 4]"]);
    assert_err_names(l.forward(&z(&[])), &["nn::Linear", "[]"]);
    let l2 = Linear::from_weights(z(&[2, 4]), None).unwrap();
    assert_err_names(
        Mlp::from_layers(vec![l.clone(), l2]),
        &["nn::Mlp", "[3, 4]", "[2, 4]"],
    );
    assert_err_names(Mlp::from_layers(vec![]), &["nn::Mlp"]);
    assert_err_names(Mlp::new(&[4], 0, DType::F32, &cpu), &["nn::Mlp", "[4]"]);
    assert_err_names(
        LayerNorm::from_weights(z(&[4]), z(&[5]), 1e-5),
        &["nn::LayerNorm", "[4]", "[5]"],
    );
    let ln = LayerNorm::new(&[4], 1e-5, DType::F32, &cpu).unwrap();
    assert_err_names(ln.forward(&z(&[2, 3])), &["nn::LayerNorm", "[2, 3]", "[4]"]);
    assert_err_names(
        Conv2d::from_weights(z(&[2, 3, 3]), None),
        &["nn::Conv2d", "[2, 3, 3]"],
    );
    assert_err_names(
        Conv2d::from_weights(z(&[2, 3, 3, 3]), Some(z(&[3]))),
        &["nn::Conv2d", "[3]"],
    );
    let conv = Conv2d::new(3, 2, 3, 0, DType::F32, &cpu).unwrap();
    assert_err_names(
        conv.forward(&z(&[1, 2, 5, 5])),
        &["nn::Conv2d", "[1, 2, 5, 5]", "[2, 3, 3, 3]"],
    );
    assert_err_names(
        TransformerBlock::new(10, 3, 8, 0, DType::F32, &cpu),
        &["nn::TransformerBlock", "10", "3"],
    );
    let block = TransformerBlock::new(8, 2, 16, 0, DType::F32, &cpu).unwrap();
    assert_err_names(
        block.forward(&z(&[5, 6])),
        &["nn::TransformerBlock", "[5, 6]"],
    );
    assert_err_names(
        Model::by_name("resnet", 0, DType::F32, &cpu),
        &["resnet", "mlp"],
    );
}

#[test]
fn to_moves_every_parameter_and_keeps_the_result() {
    let cpu = Device::Cpu;
    let block = TransformerBlock::new(8, 2, 16, 7, DType::F32, &cpu).unwrap();
    let mlp = Mlp::new(&[4, 6, 3], 8, DType::F32, &cpu).unwrap();
    let (xb, xm) = (vals(5 * 8, 51), vals(2 * 4, 52));
    let (yb, ym) = (
        f64s(&block.forward(&t(&xb, &[5, 8], &cpu)).unwrap()),
        f64s(&mlp.forward(&t(&xm, &[2, 4], &cpu)).unwrap()),
    );
    for dev in devices() {
        let moved = block.to(&dev).unwrap();
        assert_eq!(moved.parameters().len(), block.parameters().len());
        assert!(
            moved.parameters().iter().all(|p| p.device() == dev),
            "on {dev}"
        );
        let y = moved.forward(&t(&xb, &[5, 8], &dev)).unwrap();
        assert_eq!(y.device(), dev);
        assert_close(&format!("moved block on {dev}"), &f64s(&y), &yb, 1e-5, 1e-4);
        let moved = mlp.to(&dev).unwrap();
        assert!(moved.parameters().iter().all(|p| p.device() == dev));
        let y = moved.forward(&t(&xm, &[2, 4], &dev)).unwrap();
        assert_close(&format!("moved mlp on {dev}"), &f64s(&y), &ym, 1e-5, 1e-4);
        // and back
        let back = moved.to(&cpu).unwrap();
        assert!(back.parameters().iter().all(|p| p.device() == cpu));
    }
    // a device mismatch between layer and input is an error, not a copy
    for dev in devices().into_iter().filter(|d| !d.is_cpu()) {
        let moved = mlp.to(&dev).unwrap();
        assert!(moved.forward(&t(&xm, &[2, 4], &cpu)).is_err());
    }
}

#[test]
fn the_cli_models_run_with_their_shapes() {
    let cpu = Device::Cpu;
    assert_eq!(models::NAMES, ["mlp", "cnn", "transformer"]);
    for name in models::NAMES {
        let m = Model::by_name(name, 1, DType::F32, &cpu).unwrap();
        assert_eq!(m.name(), name);
        let x = m.input(2, DType::F32, &cpu).unwrap();
        assert_eq!(x.shape(), m.input_shape());
        let y = m.forward(&x).unwrap();
        let want: &[usize] = match name {
            "mlp" => &[64, 512],
            "cnn" => &[8, 10],
            _ => &[1, 128, 256],
        };
        assert_eq!(y.shape(), want, "{name}");
        assert!(f64s(&y).iter().all(|v| v.is_finite()), "{name}");
    }
    assert_eq!(
        models::mlp(0, DType::F32, &cpu).unwrap().num_parameters(),
        3 * (512 * 512 + 512)
    );
    assert_eq!(
        models::transformer(0, DType::F32, &cpu)
            .unwrap()
            .num_parameters(),
        2 * 2 * 256
            + (256 * 768 + 768)
            + (256 * 256 + 256)
            + (256 * 1024 + 1024)
            + (1024 * 256 + 256)
    );
}
