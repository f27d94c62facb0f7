//! `cast`, `contiguous`, the factory ops and `to(device)` on every device,
//! bit-exact against the CPU backend for every dtype and layout.

mod gpu_support;

use gpu_support::{assert_same, devices_for};
use half::{bf16, f16};
use kiln::prelude::*;
use kiln::testing::layouts;

#[test]
fn cast_matches_cpu_for_every_pair_and_layout() {
    for from in DType::ALL {
        let cpu = layouts(&[5, 7], from, &Device::Cpu, 9, -300.0, 300.0).unwrap();
        for dev in devices_for(&[from, DType::F16]) {
            for (case, cc) in layouts(&[5, 7], from, &dev, 9, -300.0, 300.0)
                .unwrap()
                .iter()
                .zip(&cpu)
            {
                for to in DType::ALL {
                    let what = format!("cast {from} -> {to} {} on {dev}", case.layout);
                    assert_same(
                        &what,
                        &case.tensor.to_dtype(to).unwrap(),
                        &cc.tensor.to_dtype(to).unwrap(),
                    );
                }
            }
        }
    }
}

/// Values where rounding, saturation and special cases differ.
fn special_f32() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        0.1,
        -1.5,
        2.5,
        3.5,
        0.5,
        65504.0,
        65519.0,
        65520.0,
        1e5,
        -1e5,
        3e38,
        -3e38,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        5.96e-8,
        3e-8,
        1e-3,
        2.5e9,
        -2.5e9,
        2147483520.0,
        2147483648.0,
        -2147483648.0,
        16777217.0,
        1.0 + 1.0 / 256.0,
        1.0 + 3.0 / 256.0,
        255.5,
    ]
}

fn special_i32() -> Vec<i32> {
    vec![
        0,
        1,
        -1,
        2,
        255,
        256,
        257,
        259,
        2049,
        65504,
        65519,
        65520,
        70000,
        16777217,
        16777219,
        33554435,
        -33554435,
        1_000_001,
        i32::MAX,
        i32::MIN,
        i32::MIN + 1,
        -7,
    ]
}

#[test]
fn cast_special_values_match_cpu() {
    let f = special_f32();
    let i = special_i32();
    let sources = [
        kiln::from_vec(f.clone(), &[f.len()], &Device::Cpu).unwrap(),
        kiln::from_vec(
            f.iter().map(|&x| f16::from_f32(x)).collect(),
            &[f.len()],
            &Device::Cpu,
        )
        .unwrap(),
        kiln::from_vec(
            f.iter().map(|&x| bf16::from_f32(x)).collect(),
            &[f.len()],
            &Device::Cpu,
        )
        .unwrap(),
        kiln::from_vec(i.clone(), &[i.len()], &Device::Cpu).unwrap(),
        kiln::from_vec(
            i.iter().map(|&x| x % 3 == 0).collect(),
            &[i.len()],
            &Device::Cpu,
        )
        .unwrap(),
    ];
    for src in &sources {
        for dev in devices_for(&[src.dtype(), DType::F16]) {
            let g = src.to(&dev).unwrap();
            for to in DType::ALL {
                let what = format!("cast {} -> {to} of special values on {dev}", src.dtype());
                assert_same(&what, &g.to_dtype(to).unwrap(), &src.to_dtype(to).unwrap());
            }
        }
    }
}

#[test]
fn contiguous_and_reshape_copy_every_layout() {
    for dt in DType::ALL {
        for dev in devices_for(&[dt]) {
            for case in layouts(&[3, 4, 5], dt, &dev, 2, -9.0, 9.0).unwrap() {
                let what = format!("contiguous {dt} {} on {dev}", case.layout);
                let c = case.tensor.contiguous().unwrap();
                assert!(c.is_contiguous() && c.layout().offset() == 0, "{what}");
                assert_eq!(c.to_f64_vec().unwrap(), case.values, "{what}");
                let flat = case.tensor.reshape(&[-1]).unwrap();
                assert_eq!(flat.to_f64_vec().unwrap(), case.values, "{what} (reshape)");
                // a cast to the same dtype copies too
                assert_eq!(
                    case.tensor.to_dtype(dt).unwrap().to_f64_vec().unwrap(),
                    case.values,
                    "{what} (cast)"
                );
            }
        }
    }
}

#[test]
fn factories_match_cpu() {
    for dt in DType::ALL {
        for dev in devices_for(&[dt]) {
            let on = |d: &Device| {
                let mut v = vec![
                    kiln::zeros(&[3, 5], dt, d).unwrap(),
                    kiln::ones(&[7], dt, d).unwrap(),
                    kiln::full(&[2, 3], 0.1, dt, d).unwrap(),
                    kiln::full(&[5], -2.5, dt, d).unwrap(),
                    kiln::full(&[3], Scalar::Int(100_000), dt, d).unwrap(),
                    kiln::full(&[4], true, dt, d).unwrap(),
                    kiln::full(&[], 7, dt, d).unwrap(),
                    kiln::zeros(&[0, 2], dt, d).unwrap(),
                    kiln::eye(3, 3, dt, d).unwrap(),
                    kiln::eye(2, 5, dt, d).unwrap(),
                    kiln::eye(5, 2, dt, d).unwrap(),
                    kiln::eye(0, 4, dt, d).unwrap(),
                ];
                if dt != DType::Bool {
                    v.push(kiln::arange(0, 10, 1, dt, d).unwrap());
                    v.push(kiln::arange(0.0, 1.0, 0.1, dt, d).unwrap());
                    v.push(kiln::arange(5, -7, -3, dt, d).unwrap());
                    v.push(kiln::arange(1, 1, 1, dt, d).unwrap());
                }
                v
            };
            for (k, (g, c)) in on(&dev).iter().zip(on(&Device::Cpu)).enumerate() {
                assert_same(&format!("factory #{k} {dt} on {dev}"), g, &c);
            }
            let e = kiln::empty(&[2, 3], dt, &dev).unwrap();
            assert_eq!(
                (e.shape(), e.dtype(), e.device()),
                (&[2usize, 3][..], dt, dev)
            );
            assert!(kiln::arange(0, 3, 0, dt, &dev).is_err());
            assert!(kiln::arange(0, 3, -1, dt, &dev).is_err());
        }
    }
}

#[test]
fn transfers_round_trip_every_dtype_and_layout() {
    for dt in DType::ALL {
        for dev in devices_for(&[dt]) {
            // host layouts to the device, and device layouts to the host
            for (here, there) in [(Device::Cpu, dev), (dev, Device::Cpu)] {
                for case in layouts(&[4, 3, 5], dt, &here, 4, -50.0, 50.0).unwrap() {
                    let moved = case.tensor.to(&there).unwrap();
                    let what = format!("{dt} {} from {here} to {there}", case.layout);
                    assert_eq!(
                        (moved.device(), moved.dtype(), moved.shape()),
                        (there, dt, case.tensor.shape()),
                        "{what}"
                    );
                    assert_eq!(moved.to_f64_vec().unwrap(), case.values, "{what}");
                    assert_same(&what, &moved.to(&here).unwrap(), &case.tensor);
                }
            }
            let z = kiln::zeros(&[0, 3], dt, &Device::Cpu)
                .unwrap()
                .to(&dev)
                .unwrap();
            assert_eq!(z.shape(), &[0, 3]);
            assert!(z.to(&Device::Cpu).unwrap().to_f64_vec().unwrap().is_empty());
            // odd element counts of 1- and 2-byte dtypes end inside a word
            for n in [1usize, 2, 3, 5] {
                let c = kiln::testing::tensor_of(
                    &kiln::testing::values(n, 3, dt, -5.0, 5.0),
                    &[n],
                    dt,
                    &Device::Cpu,
                )
                .unwrap();
                let g = c.to(&dev).unwrap();
                assert_same(
                    &format!("{dt} x{n} to {dev}"),
                    &g.to(&Device::Cpu).unwrap(),
                    &c,
                );
                assert_same(
                    &format!("{dt} x{n} tail on {dev}"),
                    &g.slice(0, (n - 1) as i64, n as i64).unwrap(),
                    &c.slice(0, (n - 1) as i64, n as i64).unwrap(),
                );
            }
        }
    }
}
