//! conv2d against a direct f64 convolution and max_pool2d against a direct
//! f64 window maximum, over every device, supported dtype and layout.

use kiln::testing::{assert_close, layouts, round_to, tensor_of, tolerance, values};
use kiln::{DType, Device, Error, Tensor};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::CONV2D, kiln::op::MAX_POOL2D])
}

struct ConvCase {
    x: [usize; 4],
    out_c: usize,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    groups: usize,
    bias: bool,
}

impl ConvCase {
    fn out(&self) -> [usize; 2] {
        let f = |i: usize| {
            (self.x[2 + i] + 2 * self.pad[i] - self.dil[i] * (self.k[i] - 1) - 1) / self.stride[i]
                + 1
        };
        [f(0), f(1)]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.out_c, self.x[1] / self.groups, self.k[0], self.k[1]]
    }
}

/// Direct convolution in f64 (`[N, O, Ho, Wo]`, row-major).
fn ref_conv(c: &ConvCase, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let [n, ch, h, wd] = c.x;
    let [ho, wo] = c.out();
    let (cg, og) = (ch / c.groups, c.out_c / c.groups);
    let mut out = Vec::with_capacity(n * c.out_c * ho * wo);
    for ni in 0..n {
        for o in 0..c.out_c {
            let g = o / og;
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for ci in 0..cg {
                        for ki in 0..c.k[0] {
                            for kj in 0..c.k[1] {
                                let ih =
                                    (oh * c.stride[0] + ki * c.dil[0]) as i64 - c.pad[0] as i64;
                                let iw =
                                    (ow * c.stride[1] + kj * c.dil[1]) as i64 - c.pad[1] as i64;
                                if ih < 0 || iw < 0 || ih >= h as i64 || iw >= wd as i64 {
                                    continue;
                                }
                                let xi =
                                    ((ni * ch + g * cg + ci) * h + ih as usize) * wd + iw as usize;
                                let wi = ((o * cg + ci) * c.k[0] + ki) * c.k[1] + kj;
                                acc += x[xi] * w[wi];
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    out
}

fn check_conv(c: &ConvCase, dt: DType, dev: &Device) {
    let (atol, rtol) = match dt {
        DType::F32 => (1e-4, 1e-4),
        d => tolerance(d),
    };
    let ws = c.w_shape();
    let bias = c
        .bias
        .then(|| tensor_of(&values(c.out_c, 9, dt, -1.0, 1.0), &[c.out_c], dt, dev).unwrap());
    let bv = bias.as_ref().map(|b| b.to_f64_vec().unwrap());
    let [ho, wo] = c.out();
    for cx in layouts(&c.x, dt, dev, 1, -1.0, 1.0).unwrap() {
        for cw in layouts(&ws, dt, dev, 2, -1.0, 1.0).unwrap() {
            let what = format!(
                "conv2d x {:?} {} w {ws:?} {} stride {:?} pad {:?} dil {:?} groups {} {dt} on {dev}",
                c.x, cx.layout, cw.layout, c.stride, c.pad, c.dil, c.groups
            );
            let got = cx
                .tensor
                .conv2d(&cw.tensor, bias.as_ref(), c.stride, c.pad, c.dil, c.groups)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(got.shape(), &[c.x[0], c.out_c, ho, wo], "{what}");
            assert_eq!(got.dtype(), dt, "{what}");
            let want: Vec<f64> = ref_conv(c, &cx.values, &cw.values, bv.as_deref())
                .iter()
                .map(|&v| round_to(v, dt))
                .collect();
            assert_close(&what, &got.to_f64_vec().unwrap(), &want, atol, rtol);
        }
    }
}

fn conv_cases() -> Vec<ConvCase> {
    let c = |x, out_c, k, stride, pad, dil, groups, bias| ConvCase {
        x,
        out_c,
        k,
        stride,
        pad,
        dil,
        groups,
        bias,
    };
    vec![
        c([2, 3, 7, 6], 4, [3, 3], [1, 1], [0, 0], [1, 1], 1, true),
        c([1, 4, 8, 8], 6, [3, 2], [2, 1], [1, 2], [1, 1], 2, false),
        c([2, 4, 9, 9], 4, [3, 3], [1, 2], [2, 1], [2, 2], 4, true),
        c([3, 2, 5, 5], 3, [1, 1], [1, 1], [0, 0], [1, 1], 1, true),
        c([2, 2, 4, 4], 2, [4, 4], [1, 1], [0, 0], [1, 1], 1, true),
    ]
}

#[test]
fn conv2d_every_float_dtype_and_layout() {
    for dev in devices() {
        for dt in DType::FLOATS {
            for c in conv_cases() {
                check_conv(&c, dt, &dev);
            }
        }
    }
}

#[test]
fn conv2d_one_big_sample_uses_threads() {
    // enough multiply-adds for one sample to split over rayon
    let c = ConvCase {
        x: [1, 8, 32, 32],
        out_c: 32,
        k: [3, 3],
        stride: [1, 1],
        pad: [1, 1],
        dil: [1, 1],
        groups: 1,
        bias: true,
    };
    for dev in devices() {
        check_conv(&c, DType::F32, &dev);
    }
}

#[test]
fn conv2d_unbatched_and_zero_size() {
    for dev in devices() {
        let x = tensor_of(
            &values(3 * 36, 1, DType::F32, -1.0, 1.0),
            &[3, 6, 6],
            DType::F32,
            &dev,
        )
        .unwrap();
        let w = tensor_of(
            &values(2 * 27, 2, DType::F32, -1.0, 1.0),
            &[2, 3, 3, 3],
            DType::F32,
            &dev,
        )
        .unwrap();
        let got = x.conv2d(&w, None, [1, 1], [1, 1], [1, 1], 1).unwrap();
        let batched = x
            .unsqueeze(0)
            .unwrap()
            .conv2d(&w, None, [1, 1], [1, 1], [1, 1], 1)
            .unwrap();
        assert_eq!(got.shape(), &[2, 6, 6]);
        assert_eq!(
            got.to_vec::<f32>().unwrap(),
            batched.to_vec::<f32>().unwrap()
        );
        let empty = tensor_of(&[], &[0, 3, 6, 6], DType::F32, &dev).unwrap();
        assert_eq!(
            empty
                .conv2d(&w, None, [1, 1], [0, 0], [1, 1], 1)
                .unwrap()
                .shape(),
            &[0, 2, 4, 4]
        );
    }
}

#[test]
fn conv2d_errors() {
    for dev in devices() {
        let t = |shape: &[usize], dt: DType| {
            let n = shape.iter().product();
            tensor_of(&values(n, 3, dt, -1.0, 1.0), shape, dt, &dev).unwrap()
        };
        let x = t(&[1, 4, 5, 5], DType::F32);
        let shape_err = |r: kiln::Result<Tensor>, needle: &str| match r {
            Err(e @ Error::Shape { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with("conv2d:") && msg.contains(needle), "{msg}");
            }
            other => panic!("expected a shape error containing {needle:?}, got {other:?}"),
        };
        // channels: weight wants 3 * 1 channels
        shape_err(
            x.conv2d(
                &t(&[2, 3, 3, 3], DType::F32),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
            "[2, 3, 3, 3]",
        );
        // groups must divide the output channels
        shape_err(
            x.conv2d(
                &t(&[3, 2, 3, 3], DType::F32),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                2,
            ),
            "groups 2",
        );
        // kernel larger than the padded input
        shape_err(
            x.conv2d(
                &t(&[2, 4, 6, 6], DType::F32),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
            "Kernel size",
        );
        shape_err(
            x.conv2d(
                &t(&[2, 4, 3, 3], DType::F32),
                None,
                [1, 1],
                [0, 0],
                [3, 3],
                1,
            ),
            "Kernel size",
        );
        // ranks
        shape_err(
            t(&[4, 5], DType::F32).conv2d(
                &t(&[2, 4, 3, 3], DType::F32),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
            "[4, 5]",
        );
        shape_err(
            x.conv2d(&t(&[2, 4, 3], DType::F32), None, [1, 1], [0, 0], [1, 1], 1),
            "[2, 4, 3]",
        );
        // bias
        let w = t(&[2, 4, 3, 3], DType::F32);
        shape_err(
            x.conv2d(&w, Some(&t(&[3], DType::F32)), [1, 1], [0, 0], [1, 1], 1),
            "[3]",
        );
        // stride 0, groups 0
        assert!(matches!(
            x.conv2d(&w, None, [0, 1], [0, 0], [1, 1], 1),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            x.conv2d(&w, None, [1, 1], [0, 0], [1, 1], 0),
            Err(Error::InvalidArgument { .. })
        ));
        // dtypes
        let xi = t(&[1, 4, 5, 5], DType::I32);
        assert!(matches!(
            xi.conv2d(
                &t(&[2, 4, 3, 3], DType::I32),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ),
            Err(Error::UnsupportedDType {
                dtype: DType::I32,
                ..
            })
        ));
        assert!(matches!(
            x.conv2d(
                &t(&[2, 4, 3, 3], DType::F16),
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ),
            Err(Error::DTypeMismatch {
                expected: DType::F32,
                got: DType::F16,
                ..
            })
        ));
    }
}

/// Direct max pooling in f64; padded cells never win.
fn ref_pool(
    x: &[f64],
    d: [usize; 4],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
) -> (Vec<f64>, [usize; 2]) {
    let [n, c, h, w] = d;
    let ho = (h + 2 * p[0] - k[0]) / s[0] + 1;
    let wo = (w + 2 * p[1] - k[1]) / s[1] + 1;
    let mut out = Vec::new();
    for plane in 0..n * c {
        for oh in 0..ho {
            for ow in 0..wo {
                let mut best = f64::NEG_INFINITY;
                for ki in 0..k[0] {
                    for kj in 0..k[1] {
                        let ih = (oh * s[0] + ki) as i64 - p[0] as i64;
                        let iw = (ow * s[1] + kj) as i64 - p[1] as i64;
                        if ih >= 0 && iw >= 0 && (ih as usize) < h && (iw as usize) < w {
                            let v = x[(plane * h + ih as usize) * w + iw as usize];
                            if v > best || v.is_nan() {
                                best = v;
                            }
                        }
                    }
                }
                out.push(best);
            }
        }
    }
    (out, [ho, wo])
}

/// Input shape, kernel size, stride (`None`: the kernel size), padding.
type PoolCase = ([usize; 4], [usize; 2], Option<[usize; 2]>, [usize; 2]);

#[test]
fn max_pool2d_every_dtype_and_layout() {
    let cases: [PoolCase; 5] = [
        ([2, 3, 7, 6], [2, 2], None, [0, 0]),
        ([1, 2, 8, 7], [3, 3], Some([2, 2]), [1, 1]),
        ([2, 2, 5, 5], [3, 2], Some([1, 2]), [1, 1]),
        ([2, 2, 6, 6], [1, 1], None, [0, 0]),
        ([1, 64, 16, 16], [2, 2], Some([1, 1]), [1, 1]),
    ];
    for dev in devices() {
        for dt in [DType::F32, DType::F16, DType::BF16, DType::I32] {
            let (lo, hi) = if dt == DType::I32 {
                (-100.0, 100.0)
            } else {
                (-4.0, 4.0)
            };
            for (d, k, s, p) in cases {
                for cx in layouts(&d, dt, &dev, 6, lo, hi).unwrap() {
                    let what = format!(
                        "max_pool2d {d:?} {} k {k:?} s {s:?} p {p:?} {dt} on {dev}",
                        cx.layout
                    );
                    let got = cx
                        .tensor
                        .max_pool2d(k, s, p)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    let (want, [ho, wo]) = ref_pool(&cx.values, d, k, s.unwrap_or(k), p);
                    assert_eq!(got.shape(), &[d[0], d[1], ho, wo], "{what}");
                    assert_eq!(got.dtype(), dt, "{what}");
                    assert_eq!(got.to_f64_vec().unwrap(), want, "{what}");
                }
            }
        }
    }
}

#[test]
fn max_pool2d_nan_unbatched_and_errors() {
    for dev in devices() {
        let mut v = values(16, 2, DType::F32, -1.0, 1.0);
        v[5] = f64::NAN;
        let x = tensor_of(&v, &[1, 4, 4], DType::F32, &dev).unwrap();
        let got = x.max_pool2d([2, 2], None, [0, 0]).unwrap();
        assert_eq!(got.shape(), &[1, 2, 2]);
        let g = got.to_f64_vec().unwrap();
        assert!(g[0].is_nan() && g[1..].iter().all(|x| !x.is_nan()), "{g:?}");
        let b = tensor_of(&[0.0; 16], &[1, 1, 4, 4], DType::Bool, &dev).unwrap();
        assert!(matches!(
            b.max_pool2d([2, 2], None, [0, 0]),
            Err(Error::UnsupportedDType {
                dtype: DType::Bool,
                ..
            })
        ));
        let f = tensor_of(&v, &[1, 1, 4, 4], DType::F32, &dev).unwrap();
        assert!(
            matches!(
                f.max_pool2d([2, 2], None, [2, 0]),
                Err(Error::InvalidArgument { .. })
            ),
            "pad > k/2"
        );
        assert!(
            matches!(f.max_pool2d([5, 5], None, [0, 0]), Err(Error::Shape { .. })),
            "kernel > input"
        );
        assert!(matches!(
            f.reshape(&[4, 4]).unwrap().max_pool2d([2, 2], None, [0, 0]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            f.max_pool2d([0, 2], None, [0, 0]),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
