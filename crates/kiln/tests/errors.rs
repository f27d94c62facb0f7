//! Bad input gets a clear `kiln::Error` naming the op and the values, never
//! a panic: one test per case the core issue lists, on every device.

use kiln::op;
use kiln::testing::{devices, devices_for};
use kiln::{DType, Device, Error, Tensor};

fn t(shape: &[usize], device: &Device) -> Tensor {
    let n: usize = shape.iter().product();
    kiln::from_vec(
        (0..n).map(|i| i as f32).collect::<Vec<_>>(),
        shape,
        &Device::Cpu,
    )
    .unwrap()
    .to(device)
    .unwrap()
}

fn idx(v: &[i32], device: &Device) -> Tensor {
    kiln::from_slice(v, &[v.len()], &Device::Cpu)
        .unwrap()
        .to(device)
        .unwrap()
}

#[track_caller]
fn says(e: Error, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should mention {p:?}");
    }
}

#[test]
fn non_broadcastable_shapes() {
    for d in devices() {
        let e = t(&[2, 3], &d).mul(&t(&[2], &d)).unwrap_err();
        assert!(matches!(e, Error::Broadcast { .. }));
        says(e, &["mul", "[2, 3]", "[2]"]);
    }
}

#[test]
fn matmul_inner_dim_mismatch() {
    for d in devices_for(&[op::MATMUL]) {
        let e = t(&[2, 3], &d).matmul(&t(&[4, 5], &d)).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }), "{e:?}");
        says(e, &["matmul", "[2, 3]", "[4, 5]"]);
    }
}

#[test]
fn reshape_to_another_element_count() {
    for d in devices() {
        let e = t(&[2, 3], &d).reshape(&[4, 2]).unwrap_err();
        says(e, &["reshape", "[4, 2]", "6"]);
        let e = t(&[2, 3], &d).reshape(&[-1, -1]).unwrap_err();
        says(e, &["reshape", "-1"]);
        let e = t(&[2, 3], &d).t().unwrap().view(&[6]).unwrap_err();
        says(e, &["view", "reshape"]);
    }
}

#[test]
fn permute_with_repeated_or_missing_dim() {
    for d in devices() {
        says(
            t(&[2, 3, 4], &d).permute(&[0, 0, 1]).unwrap_err(),
            &["permute", "more than once"],
        );
        says(
            t(&[2, 3, 4], &d).permute(&[0, 1]).unwrap_err(),
            &["permute", "[0, 1]", "3 dims"],
        );
    }
}

#[test]
fn dim_out_of_range() {
    for d in devices_for(&[op::SUM, op::SOFTMAX, op::ARGMAX]) {
        let x = t(&[2, 3], &d);
        let e = x.sum(&[2], false).unwrap_err();
        assert!(
            matches!(
                e,
                Error::DimOutOfRange {
                    dim: 2,
                    ndim: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        says(e, &["sum", "dimension 2", "[-2, 1]"]);
        assert!(matches!(
            x.transpose(0, -3),
            Err(Error::DimOutOfRange { dim: -3, .. })
        ));
        assert!(matches!(
            x.softmax(5),
            Err(Error::DimOutOfRange { dim: 5, .. })
        ));
        assert!(matches!(
            x.unsqueeze(4),
            Err(Error::DimOutOfRange { dim: 4, .. })
        ));
        assert!(matches!(
            x.argmax(Some(-3), false),
            Err(Error::DimOutOfRange { .. })
        ));
    }
}

#[test]
fn slice_out_of_bounds() {
    for d in devices() {
        let e = t(&[4], &d).slice(0, 1, 9).unwrap_err();
        assert!(
            matches!(
                e,
                Error::IndexOutOfRange {
                    index: 9,
                    size: 4,
                    ..
                }
            ),
            "{e:?}"
        );
        says(e, &["slice", "9", "4"]);
        assert!(t(&[4], &d).narrow(0, 2, 3).is_err());
        assert!(t(&[4], &d).slice(0, 3, 1).is_err());
    }
}

#[test]
fn cat_and_stack_of_mismatched_shapes() {
    for d in devices_for(&[op::CAT]) {
        let e = Tensor::cat(&[t(&[2, 2], &d), t(&[3, 3], &d)], 0).unwrap_err();
        says(e, &["cat", "2", "3"]);
        let e = Tensor::stack(&[t(&[2, 2], &d), t(&[2, 3], &d)], 0).unwrap_err();
        says(e, &["stack", "[2, 2]", "[2, 3]"]);
        assert!(Tensor::cat(&[], 0).is_err());
    }
}

#[test]
fn from_vec_with_the_wrong_length() {
    let e = kiln::from_vec(vec![1.0f32; 5], &[2, 3], &Device::Cpu).unwrap_err();
    says(e, &["from_vec", "5", "[2, 3]"]);
}

#[test]
fn index_out_of_range() {
    for d in devices_for(&[op::INDEX_SELECT, op::GATHER, op::EMBEDDING]) {
        let x = t(&[3, 2], &d);
        let e = x.index_select(0, &idx(&[0, 3], &d)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::IndexOutOfRange {
                    index: 3,
                    size: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        says(e, &["index_select"]);
        let gi = kiln::from_slice(&[0i32, 5], &[1, 2], &Device::Cpu)
            .unwrap()
            .to(&d)
            .unwrap();
        says(x.gather(1, &gi).unwrap_err(), &["gather", "5", "2"]);
        says(
            x.embedding(&idx(&[-1], &d)).unwrap_err(),
            &["embedding", "-1"],
        );
        // index tensors must be integers
        let fi = t(&[2], &d);
        assert!(x.index_select(0, &fi).is_err());
    }
}

#[test]
fn op_on_a_dtype_it_does_not_support() {
    for d in devices_for(&[op::SOFTMAX, op::MEAN]) {
        let b = t(&[3], &d).gt_scalar(1.0).unwrap();
        let e = b.exp().unwrap_err();
        assert!(
            matches!(
                e,
                Error::UnsupportedDType {
                    dtype: DType::Bool,
                    ..
                }
            ),
            "{e:?}"
        );
        says(e, &["exp", "bool"]);
        assert!(matches!(b.neg(), Err(Error::UnsupportedDType { .. })));
        let i = t(&[3], &d).to_dtype(DType::I32).unwrap();
        assert!(matches!(i.softmax(0), Err(Error::UnsupportedDType { .. })));
        assert!(matches!(
            i.mean(&[], false),
            Err(Error::UnsupportedDType { .. })
        ));
    }
}

#[test]
fn tensors_on_different_devices() {
    let devs = devices();
    let Some(gpu) = devs.iter().find(|d| !d.is_cpu()) else {
        eprintln!("skipping: no GPU device, so no second device to mix with the CPU");
        return;
    };
    let e = t(&[2], &Device::Cpu).add(&t(&[2], gpu)).unwrap_err();
    assert!(matches!(e, Error::DeviceMismatch { .. }), "{e:?}");
    says(e, &["add", "cpu", "wgpu"]);
}

#[test]
fn errors_never_panic_on_zero_size_and_zero_dim_inputs() {
    for d in devices_for(&[op::SUM, op::MAX]) {
        let z = t(&[0, 3], &d);
        assert_eq!(
            z.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0; 3]
        );
        assert!(
            z.max(&[0], false).is_err(),
            "max over an empty dim has no value"
        );
        let s = t(&[], &d);
        assert_eq!(s.add(&s).unwrap().shape(), &[] as &[usize]);
        assert!(s.transpose(0, 0).is_ok());
        assert!(s.sum(&[0], false).is_ok());
    }
}
