//! `rand` and `randn` on every device against the CPU backend: the same
//! stream (Note [The kiln random stream]); `rand` bit-equal, `randn` within
//! the last bits of the device's `log`, `sqrt`, `cos` and `sin`.

mod gpu_support;

use gpu_support::{assert_same_outcome, call, devices_for};
use kiln::prelude::*;
use kiln::IValue;

fn args(shape: &[i64], seed: i64, dt: DType, dev: Device) -> Vec<IValue> {
    vec![
        IValue::IntList(shape.to_vec()),
        IValue::Int(seed),
        IValue::DType(dt),
        IValue::Device(dev),
    ]
}

#[test]
fn rand_and_randn_follow_the_cpu_stream() {
    let shapes: [&[i64]; 5] = [&[], &[0], &[7], &[3, 5], &[1027]];
    for dt in [DType::F32, DType::F16, DType::BF16] {
        for dev in devices_for(&[dt]) {
            for shape in shapes {
                for seed in [0i64, 42, -1] {
                    let what = |op: &str| format!("{op} {dt} {shape:?} seed {seed} on {dev}");
                    let got = call("rand", args(shape, seed, dt, dev));
                    let want = call("rand", args(shape, seed, dt, Device::Cpu));
                    assert_same_outcome(&what("rand"), got, want, (0.0, 0.0));
                    let tol = match dt {
                        DType::F32 => (1e-5, 1e-5),
                        DType::F16 => (2e-3, 1e-3),
                        _ => (1.6e-2, 8e-3),
                    };
                    let got = call("randn", args(shape, seed, dt, dev));
                    let want = call("randn", args(shape, seed, dt, Device::Cpu));
                    assert_same_outcome(&what("randn"), got, want, tol);
                }
            }
        }
    }
    for dev in devices_for(&[]) {
        let got = call("rand", args(&[3], 1, DType::I32, dev));
        let want = call("rand", args(&[3], 1, DType::I32, Device::Cpu));
        assert_same_outcome("rand i32", got, want, (0.0, 0.0));
    }
}
