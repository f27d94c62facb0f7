//! The kernels whose shapes depend on the adapter's kind (Note [Matmul
//! tiles], Note [Row workgroups] and Note [Vector path] in kiln-wgpu), run with the shapes
//! tuned for a CPU adapter and for a GPU on whatever adapter is here, each
//! against the CPU backend: CI's lavapipe then also runs the GPU shapes,
//! and a GPU the lavapipe ones.

mod gpu_support;

use gpu_support::{assert_same_outcome, devices_for};
use kiln::prelude::*;
use kiln::testing::{tensor_of, values};

fn gpus() -> Vec<Device> {
    devices_for(&[])
        .into_iter()
        .filter(|d| *d != Device::Cpu)
        .collect()
}

fn check(what: &str, got: kiln::Result<Tensor>, want: kiln::Result<Tensor>, tol: (f64, f64)) {
    assert_same_outcome(what, got, want, tol);
}

#[test]
fn kernels_agree_with_the_cpu_under_both_tunings() {
    for dev in gpus() {
        for cpu_tuned in [true, false] {
            kiln::wgpu::testing::set_tuning(dev, Some(cpu_tuned)).unwrap();
            let tag = if cpu_tuned { "CPU" } else { "GPU" };

            // matmul, vec4 path: block edges and a batch
            for (sa, sb) in [
                (&[1usize, 4][..], &[4usize, 4][..]),
                (&[33, 12], &[12, 20]),
                (&[70, 8], &[8, 36]),
                (&[2, 5, 8], &[8, 12]),
            ] {
                let a = kiln::rand(sa, 1, DType::F32, &Device::Cpu).unwrap();
                let b = kiln::rand(sb, 2, DType::F32, &Device::Cpu).unwrap();
                check(
                    &format!("matmul {sa:?} x {sb:?}, {tag} tuning, on {dev}"),
                    a.to(&dev).unwrap().matmul(&b.to(&dev).unwrap()),
                    a.matmul(&b),
                    (1e-5, 1e-5),
                );
            }

            // matmul against a transposed contiguous weight (linear's layout)
            let x = kiln::rand(&[37, 24], 8, DType::F32, &Device::Cpu).unwrap();
            let w = kiln::rand(&[20, 24], 9, DType::F32, &Device::Cpu).unwrap();
            check(
                &format!("x @ w.t(), {tag} tuning, on {dev}"),
                x.to(&dev)
                    .unwrap()
                    .matmul(&w.to(&dev).unwrap().t().unwrap()),
                x.matmul(&w.t().unwrap()),
                (1e-5, 1e-5),
            );

            // elementwise vec4 path (workgroups of 256 or 1024 vec4s), over
            // more than one workgroup and a partial last one
            let x = kiln::randn(&[5000 * 4], 6, DType::F32, &Device::Cpu).unwrap();
            let y = kiln::randn(&[5000 * 4], 7, DType::F32, &Device::Cpu).unwrap();
            check(
                &format!("mul of contiguous f32, {tag} tuning, on {dev}"),
                x.to(&dev).unwrap().mul(&y.to(&dev).unwrap()),
                x.mul(&y),
                (0.0, 0.0),
            );

            // reductions: short rows, long rows (two passes), columns
            for dt in [DType::F32, DType::I32] {
                for (shape, dims) in [
                    (vec![3usize, 5000], vec![1i64]),
                    (vec![20_003], vec![]),
                    (vec![700, 47], vec![0]),
                    (vec![40, 9], vec![1]),
                ] {
                    let n: usize = shape.iter().product();
                    let x = tensor_of(&values(n, 7, dt, -10.0, 10.0), &shape, dt, &dev).unwrap();
                    let c = x.to(&Device::Cpu).unwrap();
                    let what = |op: &str| format!("{op} {dt} {shape:?} {dims:?}, {tag} tuning");
                    let sum_tol = if dt == DType::F32 {
                        (1e-4, 1e-6)
                    } else {
                        (0.0, 0.0)
                    };
                    let d0 = dims.first().copied();
                    check(
                        &what("sum"),
                        x.sum(&dims, false),
                        c.sum(&dims, false),
                        sum_tol,
                    );
                    check(
                        &what("max"),
                        x.max(&dims, false),
                        c.max(&dims, false),
                        (0.0, 0.0),
                    );
                    check(
                        &what("min"),
                        x.min(&dims, true),
                        c.min(&dims, true),
                        (0.0, 0.0),
                    );
                    check(
                        &what("argmax"),
                        x.argmax(d0, false),
                        c.argmax(d0, false),
                        (0.0, 0.0),
                    );
                    check(
                        &what("argmin"),
                        x.argmin(d0, false),
                        c.argmin(d0, false),
                        (0.0, 0.0),
                    );
                    if dt == DType::F32 {
                        check(
                            &what("mean"),
                            x.mean(&dims, false),
                            c.mean(&dims, false),
                            sum_tol,
                        );
                    }
                }
            }

            // softmax and layer_norm: contiguous rows and strided ones
            let x = kiln::randn(&[6, 300], 3, DType::F32, &dev).unwrap();
            let c = x.to(&Device::Cpu).unwrap();
            for dim in [-1i64, 0] {
                check(
                    &format!("softmax dim {dim}, {tag} tuning"),
                    x.softmax(dim),
                    c.softmax(dim),
                    (1e-6, 1e-5),
                );
                check(
                    &format!("log_softmax dim {dim}, {tag} tuning"),
                    x.log_softmax(dim),
                    c.log_softmax(dim),
                    (1e-5, 1e-5),
                );
            }
            let w = kiln::randn(&[6], 4, DType::F32, &Device::Cpu).unwrap();
            let b = kiln::randn(&[6], 5, DType::F32, &Device::Cpu).unwrap();
            let (gw, gb) = (w.to(&dev).unwrap(), b.to(&dev).unwrap());
            for (what, g, cx) in [
                (
                    "contiguous",
                    x.t().unwrap().contiguous().unwrap(),
                    c.t().unwrap(),
                ),
                ("transposed", x.t().unwrap(), c.t().unwrap()),
            ] {
                check(
                    &format!("layer_norm of {what} [300, 6], {tag} tuning"),
                    g.layer_norm(&[6], Some(&gw), Some(&gb), 1e-5),
                    cx.layer_norm(&[6], Some(&w), Some(&b), 1e-5),
                    (1e-5, 1e-5),
                );
            }
        }
        kiln::wgpu::testing::set_tuning(dev, None).unwrap();
    }
}
