//! rand and randn: Philox 4x32-10 against Random123's known answers, the
//! element-wise stream definition, determinism, and sample statistics.

use kiln::cpu::kernels::random::{block, philox4x32_10};
use kiln::{DType, Dispatcher, Error, IValue};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::RAND, kiln::op::RANDN])
}

#[test]
fn philox_known_answers() {
    // Random123 kat_vectors, philox4x32 with 10 rounds
    assert_eq!(
        philox4x32_10([0; 4], [0; 2]),
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    );
    assert_eq!(
        philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
    );
    assert_eq!(
        philox4x32_10(
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0]
        ),
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
    );
}

/// Enough elements for several parallel chunks, not a multiple of 4.
const N: usize = 100_003;
const SEED: u64 = 0x1234_5678_9abc_def0;

fn word(seed: u64, i: usize) -> u32 {
    let g = (i / 4) as u64;
    philox4x32_10(
        [g as u32, (g >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )[i % 4]
}

#[test]
fn rand_follows_the_stream_definition() {
    assert_eq!(
        block(SEED, 5),
        philox4x32_10([5, 0, 0, 0], [0x9abc_def0, 0x1234_5678])
    );
    for dev in devices() {
        for (dt, bits) in [(DType::F32, 24), (DType::F16, 11), (DType::BF16, 8)] {
            let got = kiln::rand(&[N], SEED, dt, &dev)
                .unwrap()
                .to_f64_vec()
                .unwrap();
            for (i, &g) in got.iter().enumerate() {
                let want = (word(SEED, i) >> (32 - bits)) as f64 / (1u64 << bits) as f64;
                assert_eq!(g, want, "rand {dt} on {dev} at {i}");
                assert!((0.0..1.0).contains(&g));
            }
        }
    }
}

fn normal_ref(seed: u64, i: usize) -> f64 {
    let base = i - i % 2;
    let (wa, wb) = (word(seed, base), word(seed, base + 1));
    let u1 = ((wa >> 8) + 1) as f64 / (1u64 << 24) as f64;
    let u2 = (wb >> 8) as f64 / (1u64 << 24) as f64;
    let r = (-2.0 * u1.ln()).sqrt();
    let t = 2.0 * std::f64::consts::PI * u2;
    if i & 1 == 0 {
        r * t.cos()
    } else {
        r * t.sin()
    }
}

#[test]
fn randn_follows_the_stream_definition() {
    for dev in devices() {
        for dt in DType::FLOATS {
            let got = kiln::randn(&[N], SEED, dt, &dev)
                .unwrap()
                .to_f64_vec()
                .unwrap();
            let (atol, rtol) = match dt {
                DType::F32 => (1e-5, 1e-5),
                DType::F16 => (1e-3, 1e-3),
                _ => (1e-2, 8e-3),
            };
            for (i, &g) in got.iter().enumerate() {
                let w = normal_ref(SEED, i);
                assert!(
                    (g - w).abs() <= atol + rtol * w.abs(),
                    "randn {dt} on {dev} at {i}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_numbers_whatever_the_shape() {
    for dev in devices() {
        for dt in DType::FLOATS {
            for f in [kiln::rand, kiln::randn] {
                let a = f(&[6, 7], 42, dt, &dev).unwrap().to_f64_vec().unwrap();
                let b = f(&[42], 42, dt, &dev).unwrap().to_f64_vec().unwrap();
                let c = f(&[42], 43, dt, &dev).unwrap().to_f64_vec().unwrap();
                assert_eq!(a, b, "{dt}");
                assert_ne!(a, c, "{dt}: another seed");
                assert!(f(&[0, 3], 1, dt, &dev)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap()
                    .is_empty());
                assert_eq!(f(&[], 1, dt, &dev).unwrap().shape(), &[] as &[usize]);
            }
        }
    }
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (
        mean,
        v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n,
    )
}

#[test]
fn sample_statistics() {
    for dev in devices() {
        for dt in DType::FLOATS {
            for seed in [0, 1, u64::MAX] {
                // uniform: mean 1/2, variance 1/12 (std of the mean ~ 9e-4)
                let u = kiln::rand(&[100_000], seed, dt, &dev)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                let (m, v) = mean_var(&u);
                assert!(
                    (m - 0.5).abs() < 0.01 && (v - 1.0 / 12.0).abs() < 0.005,
                    "rand {dt} seed {seed}: {m} {v}"
                );
                // normal: mean 0, variance 1 (std of the mean ~ 3e-3)
                let z = kiln::randn(&[100_000], seed, dt, &dev)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                assert!(z.iter().all(|x| x.is_finite()));
                let (m, v) = mean_var(&z);
                assert!(
                    m.abs() < 0.02 && (v - 1.0).abs() < 0.03,
                    "randn {dt} seed {seed}: {m} {v}"
                );
                let tail = z.iter().filter(|x| x.abs() > 1.96).count() as f64 / z.len() as f64;
                assert!(
                    (tail - 0.05).abs() < 0.005,
                    "randn {dt} seed {seed}: {tail} beyond 1.96"
                );
            }
        }
    }
}

#[test]
fn integer_and_bool_dtypes_are_refused() {
    for dev in devices() {
        for dt in [DType::I32, DType::Bool] {
            for (name, f) in [
                ("rand", kiln::rand as fn(_, _, _, _) -> _),
                ("randn", kiln::randn),
            ] {
                match f(&[3], 0, dt, &dev) {
                    Err(Error::UnsupportedDType { op, dtype, .. }) => {
                        assert_eq!((op.as_str(), dtype), (name, dt))
                    }
                    other => panic!("{name} {dt}: expected UnsupportedDType, got {other:?}"),
                }
            }
        }
    }
    let r = Dispatcher::global().call_boxed(
        "kiln::rand",
        vec![
            IValue::IntList(vec![2, -1]),
            IValue::Int(0),
            IValue::DType(DType::F32),
            IValue::Device(kiln::Device::Cpu),
        ],
    );
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}
