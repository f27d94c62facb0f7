//! `conv2d` and `max_pool2d` on the GPU against the CPU backend: every
//! dtype, inputs read in place in several layouts (contiguous, channels-last
//! permuted, transposed, sliced with an offset, broadcast batch), weight and
//! bias as non-contiguous views, stride / padding / dilation / groups / bias
//! combinations, zero-size batches, the refused calls (the same error kind
//! as the CPU), and grids spread over two dimensions under small fake
//! limits.

mod gpu_support;

use gpu_support::{assert_same_outcome, devices_for};
use kiln::prelude::*;
use kiln::testing::{tensor_of, tolerance, values};
use kiln::wgpu::CheckedLimits;
use std::sync::{RwLock, RwLockReadGuard};

/// The limits test lowers the device's limits: every other test of this
/// binary holds the read side while it runs.
static LIMITS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    LIMITS.read().unwrap_or_else(|e| e.into_inner())
}

fn gpus(dt: DType) -> Vec<Device> {
    devices_for(&[dt])
        .into_iter()
        .filter(|d| *d != Device::Cpu)
        .collect()
}

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

/// `(atol, rtol)` of a conv2d result of `dt` against the CPU's: both sum in
/// f32, in different orders, and round once.
fn tol(dt: DType) -> (f64, f64) {
    match dt {
        DType::F32 => (1e-5, 1e-5),
        d => tolerance(d),
    }
}

/// A `[N, C, H, W]` input in one layout on `dev`, values in [-1, 1) (i32:
/// small integers, so that windows hold ties).
fn input(layout: &str, d: [usize; 4], dt: DType, dev: &Device, seed: u64) -> Tensor {
    let [n, c, h, w] = d;
    let r = if dt == DType::I32 { 6.0 } else { 1.0 };
    let t = |shape: &[usize]| {
        let m = shape.iter().product();
        tensor_of(&values(m, seed, dt, -r, r), shape, dt, dev).unwrap()
    };
    match layout {
        "contiguous" => t(&d),
        // stored [N, H, W, C]
        "channels_last" => t(&[n, h, w, c]).permute(&[0, 3, 1, 2]).unwrap(),
        "transposed" => t(&[n, c, w, h]).transpose(-1, -2).unwrap(),
        // an offset in every dim, and a step along W
        "sliced" => t(&[n + 1, c + 1, h + 2, 2 * w + 1])
            .slice(0, 1, n as i64 + 1)
            .unwrap()
            .slice(1, 1, c as i64 + 1)
            .unwrap()
            .slice(2, 1, h as i64 + 1)
            .unwrap()
            .slice_step(3, 1, 2 * w as i64 + 1, 2)
            .unwrap(),
        "broadcast" => t(&[1, c, h, w]).broadcast_as(&d).unwrap(),
        _ => unreachable!("{layout}"),
    }
}

const X_LAYOUTS: [&str; 5] = [
    "contiguous",
    "channels_last",
    "transposed",
    "sliced",
    "broadcast",
];

/// A `[O, Cg, kH, kW]` weight in one layout on `dev`.
fn weight(layout: &str, s: [usize; 4], dt: DType, dev: &Device) -> Tensor {
    let [o, c, kh, kw] = s;
    let t = |shape: &[usize]| {
        let m = shape.iter().product();
        tensor_of(&values(m, 7, dt, -1.0, 1.0), shape, dt, dev).unwrap()
    };
    match layout {
        "contiguous" => t(&s),
        // stored [Cg, O, kW, kH]
        "permuted" => t(&[c, o, kw, kh]).permute(&[1, 0, 3, 2]).unwrap(),
        "sliced" => t(&[o + 2, c, kh, kw]).slice(0, 2, o as i64 + 2).unwrap(),
        _ => unreachable!("{layout}"),
    }
}

/// A bias of `o` values: contiguous, or every other element of a slice.
fn bias(strided: bool, o: usize, dt: DType, dev: &Device) -> Tensor {
    let m = if strided { 2 * o + 1 } else { o };
    let t = tensor_of(&values(m, 9, dt, -1.0, 1.0), &[m], dt, dev).unwrap();
    if strided {
        t.slice_step(0, 1, m as i64, 2).unwrap()
    } else {
        t
    }
}

/// Input, output channels, kernel, stride, padding, dilation, groups.
type Case = (
    [usize; 4],
    usize,
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
);

const CASES: [Case; 7] = [
    ([2, 3, 7, 6], 4, [3, 3], [1, 1], [0, 0], [1, 1], 1),
    ([1, 4, 8, 8], 6, [3, 2], [2, 1], [1, 2], [1, 1], 2),
    ([2, 4, 9, 9], 4, [3, 3], [1, 2], [2, 1], [2, 2], 4),
    ([3, 2, 5, 5], 3, [1, 1], [1, 1], [0, 0], [1, 1], 1),
    // 20 output channels: blocks of 8, the last one partial
    ([1, 3, 10, 9], 20, [2, 3], [3, 2], [1, 1], [2, 1], 1),
    // more than 64 runs of 4 outputs (20 rows of 5): two tiles
    ([2, 2, 20, 17], 5, [3, 3], [1, 1], [1, 1], [1, 1], 1),
    ([2, 6, 6, 6], 9, [3, 3], [1, 1], [1, 1], [1, 1], 3),
];

#[test]
fn conv2d_matches_the_cpu_on_every_dtype_layout_and_parameter() {
    let _g = shared();
    for dt in FLOATS {
        for dev in gpus(dt) {
            for (d, o, k, s, p, dl, g) in CASES {
                let ws = [o, d[1] / g, k[0], k[1]];
                for (i, xl) in X_LAYOUTS.iter().enumerate() {
                    let x = input(xl, d, dt, &dev, i as u64 + 1);
                    let xc = x.to(&Device::Cpu).unwrap();
                    for (j, wl) in ["contiguous", "permuted", "sliced"].iter().enumerate() {
                        let w = weight(wl, ws, dt, &dev);
                        let wc = w.to(&Device::Cpu).unwrap();
                        // no bias, a contiguous one, a strided one
                        let b = match (i + j) % 3 {
                            0 => None,
                            r => Some(bias(r == 2, o, dt, &dev)),
                        };
                        let bc = b.as_ref().map(|b| b.to(&Device::Cpu).unwrap());
                        let what = format!(
                            "conv2d {dt} x {d:?} {xl} w {ws:?} {wl} bias {} s {s:?} p {p:?} d {dl:?} g {g} on {dev}",
                            if b.is_some() { "yes" } else { "no" }
                        );
                        assert_same_outcome(
                            &what,
                            x.conv2d(&w, b.as_ref(), s, p, dl, g),
                            xc.conv2d(&wc, bc.as_ref(), s, p, dl, g),
                            tol(dt),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn conv2d_unbatched_zero_size_and_bigger() {
    let _g = shared();
    for dt in FLOATS {
        for dev in gpus(dt) {
            let cpu = |t: &Tensor| t.to(&Device::Cpu).unwrap();
            let w = weight("contiguous", [5, 3, 3, 3], dt, &dev);
            let b = bias(false, 5, dt, &dev);
            // unbatched [C, H, W], and a batch of zero
            for x in [
                input("contiguous", [1, 3, 6, 7], dt, &dev, 1)
                    .squeeze(Some(0))
                    .unwrap(),
                input("contiguous", [0, 3, 6, 7], dt, &dev, 1),
                input("sliced", [0, 3, 6, 7], dt, &dev, 1),
            ] {
                let what = format!("conv2d {dt} x {:?} on {dev}", x.shape());
                assert_same_outcome(
                    &what,
                    x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1),
                    cpu(&x).conv2d(&cpu(&w), Some(&cpu(&b)), [1, 1], [1, 1], [1, 1], 1),
                    tol(dt),
                );
            }
            // an input of zero height or width: the output is all padding
            for d in [[2, 3, 0, 4], [2, 3, 4, 0]] {
                let x = input("sliced", d, dt, &dev, 1);
                assert_same_outcome(
                    &format!("conv2d {dt} x {d:?} padded on {dev}"),
                    x.conv2d(&w, Some(&b), [1, 1], [2, 2], [1, 1], 1),
                    cpu(&x).conv2d(&cpu(&w), Some(&cpu(&b)), [1, 1], [2, 2], [1, 1], 1),
                    tol(dt),
                );
            }
            // no output channels
            let x = input("contiguous", [2, 3, 6, 7], dt, &dev, 1);
            let w0 = weight("contiguous", [0, 3, 3, 3], dt, &dev);
            let got = x.conv2d(&w0, None, [1, 1], [0, 0], [1, 1], 1).unwrap();
            assert_eq!(got.shape(), &[2, 0, 4, 5]);
            assert_eq!(got.dtype(), dt);
        }
    }
    // a small network layer's size
    for dev in gpus(DType::F32) {
        let x = input("contiguous", [2, 16, 24, 24], DType::F32, &dev, 3);
        let w = weight("contiguous", [32, 16, 3, 3], DType::F32, &dev);
        let b = bias(false, 32, DType::F32, &dev);
        let cpu = |t: &Tensor| t.to(&Device::Cpu).unwrap();
        assert_same_outcome(
            &format!("conv2d [2, 16, 24, 24] x [32, 16, 3, 3] on {dev}"),
            x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1),
            cpu(&x).conv2d(&cpu(&w), Some(&cpu(&b)), [1, 1], [1, 1], [1, 1], 1),
            (1e-5, 1e-5),
        );
    }
}

#[test]
fn conv2d_refuses_what_the_cpu_refuses() {
    let _g = shared();
    type Call = (
        [usize; 4],
        Vec<usize>,
        Option<usize>,
        [usize; 2],
        [usize; 2],
        [usize; 2],
        usize,
    );
    let calls: Vec<(&str, Call)> = vec![
        (
            "channels",
            (
                [1, 4, 5, 5],
                vec![2, 3, 3, 3],
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
        ),
        (
            "groups divide O",
            (
                [1, 4, 5, 5],
                vec![3, 2, 3, 3],
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                2,
            ),
        ),
        (
            "groups 0",
            (
                [1, 4, 5, 5],
                vec![2, 4, 3, 3],
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                0,
            ),
        ),
        (
            "kernel too big",
            (
                [1, 4, 5, 5],
                vec![2, 4, 6, 6],
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
        ),
        (
            "dilated too big",
            (
                [1, 4, 5, 5],
                vec![2, 4, 3, 3],
                None,
                [1, 1],
                [0, 0],
                [3, 3],
                1,
            ),
        ),
        (
            "padding rescues",
            (
                [1, 4, 5, 5],
                vec![2, 4, 6, 6],
                None,
                [1, 1],
                [1, 1],
                [1, 1],
                1,
            ),
        ),
        (
            "kernel 0",
            (
                [1, 4, 5, 5],
                vec![2, 4, 0, 3],
                None,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
        ),
        (
            "weight rank",
            ([1, 4, 5, 5], vec![2, 4, 3], None, [1, 1], [0, 0], [1, 1], 1),
        ),
        (
            "bias shape",
            (
                [1, 4, 5, 5],
                vec![2, 4, 3, 3],
                Some(3),
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            ),
        ),
        (
            "stride 0",
            (
                [1, 4, 5, 5],
                vec![2, 4, 3, 3],
                None,
                [0, 1],
                [0, 0],
                [1, 1],
                1,
            ),
        ),
        (
            "dilation 0",
            (
                [1, 4, 5, 5],
                vec![2, 4, 3, 3],
                None,
                [1, 1],
                [0, 0],
                [1, 0],
                1,
            ),
        ),
    ];
    for dev in gpus(DType::F32) {
        let t = |shape: &[usize], dt: DType, dev: &Device| {
            let n = shape.iter().product();
            tensor_of(&values(n, 3, dt, -1.0, 1.0), shape, dt, dev).unwrap()
        };
        for (name, (xs, ws, bs, s, p, d, g)) in &calls {
            let run = |dev: &Device| {
                let b = bs.map(|n| t(&[n], DType::F32, dev));
                t(xs, DType::F32, dev).conv2d(&t(ws, DType::F32, dev), b.as_ref(), *s, *p, *d, *g)
            };
            assert_same_outcome(
                &format!("conv2d {name} on {dev}"),
                run(&dev),
                run(&Device::Cpu),
                tol(DType::F32),
            );
        }
        // input rank, dtypes
        for (name, x, w) in [
            ("input rank", vec![4, 5], vec![2, 4, 3, 3]),
            ("input rank 5", vec![1, 1, 4, 5, 5], vec![2, 4, 3, 3]),
        ] {
            assert_same_outcome(
                &format!("conv2d {name} on {dev}"),
                t(&x, DType::F32, &dev).conv2d(
                    &t(&w, DType::F32, &dev),
                    None,
                    [1, 1],
                    [0, 0],
                    [1, 1],
                    1,
                ),
                t(&x, DType::F32, &Device::Cpu).conv2d(
                    &t(&w, DType::F32, &Device::Cpu),
                    None,
                    [1, 1],
                    [0, 0],
                    [1, 1],
                    1,
                ),
                tol(DType::F32),
            );
        }
        for (xd, wd) in [
            (DType::I32, DType::I32),
            (DType::F32, DType::F16),
            (DType::BF16, DType::F32),
        ] {
            let run = |dev: &Device| {
                t(&[1, 4, 5, 5], xd, dev).conv2d(
                    &t(&[2, 4, 3, 3], wd, dev),
                    None,
                    [1, 1],
                    [0, 0],
                    [1, 1],
                    1,
                )
            };
            assert_same_outcome(
                &format!("conv2d {xd} x {wd} weight on {dev}"),
                run(&dev),
                run(&Device::Cpu),
                (0.0, 0.0),
            );
        }
        // a weight on another device
        let x = t(&[1, 4, 5, 5], DType::F32, &dev);
        let w = t(&[2, 4, 3, 3], DType::F32, &Device::Cpu);
        assert!(matches!(
            x.conv2d(&w, None, [1, 1], [0, 0], [1, 1], 1),
            Err(kiln::Error::DeviceMismatch { .. })
        ));
    }
}

/// Kernel, stride (`None`: the kernel), padding.
type PoolArgs = ([usize; 2], Option<[usize; 2]>, [usize; 2]);

/// Input, kernel, stride (`None`: the kernel), padding.
type PoolCase = ([usize; 4], [usize; 2], Option<[usize; 2]>, [usize; 2]);

const POOLS: [PoolCase; 6] = [
    ([2, 3, 7, 6], [2, 2], None, [0, 0]),
    ([1, 2, 8, 7], [3, 3], Some([2, 2]), [1, 1]),
    ([2, 2, 5, 5], [3, 2], Some([1, 2]), [1, 1]),
    ([2, 2, 6, 6], [1, 1], None, [0, 0]),
    ([1, 3, 16, 17], [2, 3], Some([1, 1]), [1, 1]),
    ([2, 3, 9, 9], [5, 4], Some([3, 2]), [2, 2]),
];

#[test]
fn max_pool2d_matches_the_cpu_exactly() {
    let _g = shared();
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I32] {
        for dev in gpus(dt) {
            for (d, k, s, p) in POOLS {
                for (i, xl) in X_LAYOUTS.iter().enumerate() {
                    let x = input(xl, d, dt, &dev, i as u64 + 11);
                    let xc = x.to(&Device::Cpu).unwrap();
                    assert_same_outcome(
                        &format!("max_pool2d {dt} {d:?} {xl} k {k:?} s {s:?} p {p:?} on {dev}"),
                        x.max_pool2d(k, s, p),
                        xc.max_pool2d(k, s, p),
                        (0.0, 0.0),
                    );
                }
            }
        }
    }
}

#[test]
fn max_pool2d_nan_unbatched_zero_size_and_errors() {
    let _g = shared();
    for dt in FLOATS {
        for dev in gpus(dt) {
            let mut v = values(2 * 36, 2, dt, -1.0, 1.0);
            v[5] = f64::NAN;
            v[40] = f64::INFINITY;
            v[41] = f64::NEG_INFINITY;
            let x = tensor_of(&v, &[2, 6, 6], dt, &dev).unwrap();
            let xc = x.to(&Device::Cpu).unwrap();
            let empty = tensor_of(&[], &[0, 2, 6, 6], dt, &dev).unwrap();
            let ec = empty.to(&Device::Cpu).unwrap();
            let calls: [(&str, PoolArgs); 6] = [
                ("2x2", ([2, 2], None, [0, 0])),
                ("3x3 padded", ([3, 3], Some([1, 1]), [1, 1])),
                ("pad over half", ([2, 2], None, [2, 0])),
                ("kernel over input", ([7, 7], None, [0, 0])),
                ("kernel 0", ([0, 2], None, [0, 0])),
                ("stride 0", ([2, 2], Some([0, 1]), [0, 0])),
            ];
            for (name, (k, s, p)) in calls {
                let what = format!("max_pool2d {name} {dt} on {dev}");
                assert_same_outcome(
                    &what,
                    x.max_pool2d(k, s, p),
                    xc.max_pool2d(k, s, p),
                    (0.0, 0.0),
                );
                assert_same_outcome(
                    &format!("{what}, zero batch"),
                    empty.max_pool2d(k, s, p),
                    ec.max_pool2d(k, s, p),
                    (0.0, 0.0),
                );
            }
        }
    }
    for dev in gpus(DType::Bool) {
        for (dt, shape) in [(DType::Bool, vec![1, 1, 4, 4]), (DType::F32, vec![4, 4])] {
            let x = tensor_of(&[0.0; 16], &shape, dt, &dev).unwrap();
            assert_same_outcome(
                &format!("max_pool2d {dt} {shape:?} on {dev}"),
                x.max_pool2d([2, 2], None, [0, 0]),
                x.to(&Device::Cpu).unwrap().max_pool2d([2, 2], None, [0, 0]),
                (0.0, 0.0),
            );
        }
    }
}

#[test]
fn conv2d_and_max_pool2d_spread_grids_over_two_dimensions() {
    let _g = LIMITS.write().unwrap_or_else(|e| e.into_inner());
    let Some(dev) = kiln::testing::devices().into_iter().find(|d| !d.is_cpu()) else {
        return;
    };
    let real = kiln::wgpu::context_of("test", dev)
        .unwrap()
        .checked_limits();
    let set = |limits| kiln::wgpu::testing::set_limits(dev, limits).unwrap();
    set(Some(CheckedLimits {
        max_storage_buffer_binding_size: real.max_storage_buffer_binding_size,
        max_compute_workgroups_per_dimension: 5,
    }));
    let cpu = |t: &Tensor| t.to(&Device::Cpu).unwrap();
    let result = std::panic::catch_unwind(|| {
        for dt in [DType::F32, DType::BF16] {
            // 7 samples x 2 channel blocks x 1 tile: 14 workgroups on a 5 x 3
            // grid, one past the end (bf16: the cast after it, 14 more)
            let x = input("sliced", [7, 4, 8, 8], dt, &dev, 5);
            let w = weight("permuted", [16, 4, 3, 3], dt, &dev);
            let b = bias(true, 16, dt, &dev);
            assert_same_outcome(
                &format!("conv2d {dt} on a 4-wide grid"),
                x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1),
                cpu(&x).conv2d(&cpu(&w), Some(&cpu(&b)), [1, 1], [1, 1], [1, 1], 1),
                tol(dt),
            );
            // 7 * 4 * 7 * 7 = 1372 outputs: 6 workgroups of 256 on a 3 x 2
            // grid (bf16: 3, two outputs per word)
            assert_same_outcome(
                &format!("max_pool2d {dt} on a 4-wide grid"),
                x.max_pool2d([2, 2], Some([1, 1]), [0, 0]),
                cpu(&x).max_pool2d([2, 2], Some([1, 1]), [0, 0]),
                (0.0, 0.0),
            );
        }
        // over 2 x 2 workgroups: refused, naming the limit
        let x = input("contiguous", [5, 3, 14, 14], DType::F32, &dev, 6);
        let w = weight("contiguous", [1, 3, 1, 1], DType::F32, &dev);
        set(Some(CheckedLimits {
            max_storage_buffer_binding_size: real.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: 2,
        }));
        // conv2d: 5 samples x 1 block x 1 tile = 5 workgroups; max_pool2d:
        // 5 * 3 * 14 * 14 = 2940 outputs, 12 workgroups
        for r in [
            x.conv2d(&w, None, [1, 1], [0, 0], [1, 1], 1),
            x.max_pool2d([1, 1], None, [0, 0]),
        ] {
            assert!(
                matches!(r, Err(kiln::Error::GpuLimit { ref limit, .. }) if limit.starts_with("max_compute_workgroups_per_dimension")),
                "{r:?}"
            );
        }
    });
    set(None);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
