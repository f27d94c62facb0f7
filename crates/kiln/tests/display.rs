//! `Display` prints values the way PyTorch's printer does.

use kiln::{DType, Device};

fn show(vals: &[f32], shape: &[usize]) -> String {
    kiln::from_slice(vals, shape, &Device::Cpu)
        .unwrap()
        .to_string()
}

#[test]
fn floats_align_and_use_four_decimals() {
    assert_eq!(
        show(&[1.0, 2.0, 3.0, 4.0], &[2, 2]),
        "tensor([[1., 2.],\n        [3., 4.]])"
    );
    assert_eq!(show(&[1.5, -2.25], &[2]), "tensor([ 1.5000, -2.2500])");
    assert_eq!(show(&[3.5], &[]), "tensor(3.5000)");
    assert_eq!(show(&[1e-5, 1e3], &[2]), "tensor([1.0000e-05, 1.0000e+03])");
    assert_eq!(show(&[], &[0]), "tensor([])");
    assert_eq!(show(&[], &[0, 3]), "tensor([], size=[0, 3])");
}

#[test]
fn other_dtypes_say_their_dtype() {
    let t = kiln::from_vec(vec![1i32, -20, 300], &[3], &Device::Cpu).unwrap();
    assert_eq!(t.to_string(), "tensor([  1, -20, 300], dtype=i32)");
    let b = kiln::from_vec(vec![true, false], &[2], &Device::Cpu).unwrap();
    assert_eq!(b.to_string(), "tensor([ True, False], dtype=bool)");
    let h = kiln::from_vec(vec![1.0f32, 0.5], &[2], &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F16)
        .unwrap();
    assert_eq!(h.to_string(), "tensor([1.0000, 0.5000], dtype=f16)");
}

#[test]
fn large_tensors_are_elided_in_the_middle() {
    let v: Vec<f32> = (0..2000).map(|i| i as f32).collect();
    assert_eq!(
        show(&v, &[2000]),
        "tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])"
    );
    let m = show(&v, &[40, 50]);
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(lines.len(), 7, "{m}");
    assert_eq!(lines[3].trim(), "...,");
    assert!(
        lines[0].starts_with("tensor([[   0.,    1.,    2.,  ...,   47.,   48.,   49.],"),
        "{m}"
    );
    assert!(lines[6].ends_with("1997., 1998., 1999.]])"), "{m}");
}
