//! `cat`, `index_select`, `gather` and `embedding` on every device against
//! the CPU backend: bit-exact for every dtype and layout, zero-size inputs,
//! mixed dtypes in `cat`, and out-of-range indices refused the same way.

mod gpu_support;

use gpu_support::{assert_same_outcome, devices_for};
use kiln::prelude::*;
use kiln::testing::{layouts, tensor_of};
use kiln::Error;

fn idx(v: &[f64], shape: &[usize], dev: &Device) -> Tensor {
    tensor_of(v, shape, DType::I32, dev).unwrap()
}

#[test]
fn cat_matches_cpu_for_every_dtype_layout_and_dim() {
    for dt in DType::ALL {
        for dev in devices_for(&[dt]) {
            let a = layouts(&[3, 4], dt, &dev, 1, -3.0, 3.0).unwrap();
            let b = layouts(&[3, 4], dt, &dev, 2, -3.0, 3.0).unwrap();
            for x in &a {
                for y in &b {
                    for dim in [0, 1, -1] {
                        let parts = [x.tensor.clone(), y.tensor.clone(), x.tensor.clone()];
                        let cpu: Vec<Tensor> =
                            parts.iter().map(|t| t.to(&Device::Cpu).unwrap()).collect();
                        let what = format!("cat {dt} {} {} dim {dim} on {dev}", x.layout, y.layout);
                        assert_same_outcome(
                            &what,
                            Tensor::cat(&parts, dim),
                            Tensor::cat(&cpu, dim),
                            (0.0, 0.0),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn cat_of_many_mixed_and_empty_inputs() {
    for dev in devices_for(&[DType::F16]) {
        // more inputs than one dispatch binds, mixed dtypes, an empty [0]
        let mut parts = Vec::new();
        for k in 0..11 {
            let dt = DType::ALL[k % DType::ALL.len()];
            let w = 1 + k % 3;
            parts.push(
                layouts(&[2, w], dt, &dev, k as u64, -2.0, 2.0).unwrap()[0]
                    .tensor
                    .clone(),
            );
        }
        parts.push(kiln::zeros(&[0], DType::F32, &dev).unwrap());
        parts.push(kiln::zeros(&[2, 0], DType::I32, &dev).unwrap());
        let cpu: Vec<Tensor> = parts.iter().map(|t| t.to(&Device::Cpu).unwrap()).collect();
        assert_same_outcome(
            &format!("cat of 13 on {dev}"),
            Tensor::cat(&parts, 1),
            Tensor::cat(&cpu, 1),
            (0.0, 0.0),
        );
        // errors
        let bad = [
            kiln::zeros(&[2, 3], DType::F32, &dev).unwrap(),
            kiln::zeros(&[3, 3], DType::F32, &dev).unwrap(),
        ];
        let cbad: Vec<Tensor> = bad.iter().map(|t| t.to(&Device::Cpu).unwrap()).collect();
        assert_same_outcome(
            "cat mismatch",
            Tensor::cat(&bad, 1),
            Tensor::cat(&cbad, 1),
            (0.0, 0.0),
        );
    }
}

#[test]
fn index_select_gather_embedding_match_cpu() {
    for dt in DType::ALL {
        for dev in devices_for(&[dt]) {
            for case in layouts(&[4, 5], dt, &dev, 9, -3.0, 3.0).unwrap() {
                let t = &case.tensor;
                let ct = t.to(&Device::Cpu).unwrap();
                let what = |op: &str| format!("{op} {dt} {} on {dev}", case.layout);
                for (dim, v) in [
                    (0, vec![3.0, 0.0, 3.0, 1.0]),
                    (1, vec![4.0, 2.0]),
                    (-1, vec![]),
                ] {
                    let n = v.len();
                    let (i, ci) = (idx(&v, &[n], &dev), idx(&v, &[n], &Device::Cpu));
                    assert_same_outcome(
                        &what("index_select"),
                        t.index_select(dim, &i),
                        ct.index_select(dim, &ci),
                        (0.0, 0.0),
                    );
                }
                let gv = [1.0, 0.0, 3.0, 2.0, 2.0, 1.0];
                let (g, cg) = (idx(&gv, &[2, 3], &dev), idx(&gv, &[2, 3], &Device::Cpu));
                assert_same_outcome(
                    &what("gather 0"),
                    t.gather(0, &g),
                    ct.gather(0, &cg),
                    (0.0, 0.0),
                );
                assert_same_outcome(
                    &what("gather 1"),
                    t.gather(1, &g),
                    ct.gather(1, &cg),
                    (0.0, 0.0),
                );
                // a transposed index
                let (gt, cgt) = (g.transpose(0, 1).unwrap(), cg.transpose(0, 1).unwrap());
                assert_same_outcome(
                    &what("gather t"),
                    t.gather(1, &gt),
                    ct.gather(1, &cgt),
                    (0.0, 0.0),
                );
                assert_same_outcome(
                    &what("embedding"),
                    t.embedding(&g),
                    ct.embedding(&cg),
                    (0.0, 0.0),
                );
                // out of range, negative
                for bad in [4.0, -1.0] {
                    let (b, cb) = (
                        idx(&[0.0, bad], &[2], &dev),
                        idx(&[0.0, bad], &[2], &Device::Cpu),
                    );
                    let got = t.index_select(0, &b);
                    assert!(matches!(got, Err(Error::IndexOutOfRange { .. })), "{got:?}");
                    assert_same_outcome(&what("oob"), got, ct.index_select(0, &cb), (0.0, 0.0));
                    let got = t.embedding(&b);
                    assert!(matches!(got, Err(Error::IndexOutOfRange { .. })), "{got:?}");
                }
            }
        }
    }
}
