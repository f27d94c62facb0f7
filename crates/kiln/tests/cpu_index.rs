//! index_select, gather and embedding against f64 references, over every
//! device, source dtype and layout, and index tensors in several layouts.

use kiln::testing::{layouts, tensor_of, values};
use kiln::{DType, Device, Error, Tensor};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[
        kiln::op::INDEX_SELECT,
        kiln::op::GATHER,
        kiln::op::EMBEDDING,
    ])
}

fn lo_hi(dt: DType) -> (f64, f64) {
    if dt == DType::I32 {
        (-100.0, 100.0)
    } else {
        (-4.0, 4.0)
    }
}

/// An i32 index tensor of `shape` holding `vals`: contiguous, and as a
/// strided view (every other element of a bigger tensor, with an offset).
fn index_tensors(vals: &[i32], shape: &[usize], dev: &Device) -> Vec<Tensor> {
    let f: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
    let plain = tensor_of(&f, shape, DType::I32, dev).unwrap();
    let mut spread = vec![-7.0; 2 * f.len() + 1];
    for (i, &v) in f.iter().enumerate() {
        spread[1 + 2 * i] = v;
    }
    let strided = tensor_of(&spread, &[spread.len()], DType::I32, dev)
        .unwrap()
        .slice_step(0, 1, spread.len() as i64, 2)
        .unwrap()
        .reshape(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>())
        .unwrap();
    vec![plain, strided]
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Multi-index of flat position `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn flat(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}

#[test]
fn index_select_every_dtype_dim_and_layout() {
    let shape = [4, 5, 3];
    for dev in devices() {
        for dt in DType::ALL {
            let (lo, hi) = lo_hi(dt);
            for case in layouts(&shape, dt, &dev, 1, lo, hi).unwrap() {
                for dim in [0i64, 1, 2, -1, -3] {
                    let d = dim.rem_euclid(3) as usize;
                    let size = shape[d] as i32;
                    let picks = [size - 1, 0, 1, size - 1, 0];
                    for index in index_tensors(&picks, &[5], &dev) {
                        let what = format!("index_select {dt} {} dim {dim} on {dev}", case.layout);
                        let got = case
                            .tensor
                            .index_select(dim, &index)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        let mut out_shape = shape.to_vec();
                        out_shape[d] = picks.len();
                        let want: Vec<f64> = (0..out_shape.iter().product())
                            .map(|i| {
                                let mut idx = unravel(i, &out_shape);
                                idx[d] = picks[idx[d]] as usize;
                                case.values[flat(&idx, &shape)]
                            })
                            .collect();
                        assert_eq!(got.shape(), &out_shape[..], "{what}");
                        assert_eq!(got.dtype(), dt, "{what}");
                        assert_eq!(got.to_f64_vec().unwrap(), want, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn index_select_edge_shapes() {
    for dev in devices() {
        let t = tensor_of(
            &values(12, 2, DType::F32, -1.0, 1.0),
            &[3, 4],
            DType::F32,
            &dev,
        )
        .unwrap();
        let v = t.to_f64_vec().unwrap();
        // a zero-dim index keeps the dim with size 1
        let one = tensor_of(&[2.0], &[], DType::I32, &dev).unwrap();
        let r = t.index_select(0, &one).unwrap();
        assert_eq!(
            (r.shape(), r.to_f64_vec().unwrap()),
            (&[1, 4][..], v[8..12].to_vec())
        );
        // an empty index
        let none = tensor_of(&[], &[0], DType::I32, &dev).unwrap();
        assert_eq!(t.index_select(1, &none).unwrap().shape(), &[3, 0]);
        // a zero-dim source
        let s = tensor_of(&[5.0], &[], DType::F32, &dev).unwrap();
        let zero = tensor_of(&[0.0, 0.0], &[2], DType::I32, &dev).unwrap();
        assert_eq!(
            s.index_select(0, &zero).unwrap().to_f64_vec().unwrap(),
            vec![5.0, 5.0]
        );
    }
}

fn check_gather(shape: &[usize], ishape: &[usize], dim: i64, dt: DType, dev: &Device) {
    let d = dim.rem_euclid(shape.len() as i64) as usize;
    let (lo, hi) = lo_hi(dt);
    let n: usize = ishape.iter().product();
    let picks: Vec<i32> = values(n, 5, DType::I32, 0.0, shape[d] as f64)
        .iter()
        .map(|&v| v as i32)
        .collect();
    for case in layouts(shape, dt, dev, 3, lo, hi).unwrap() {
        for index in index_tensors(&picks, ishape, dev) {
            let what = format!(
                "gather {shape:?} index {ishape:?} dim {dim} {dt} {} on {dev}",
                case.layout
            );
            let got = case
                .tensor
                .gather(dim, &index)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let want: Vec<f64> = (0..n)
                .map(|i| {
                    let mut idx = unravel(i, ishape);
                    idx[d] = picks[i] as usize;
                    case.values[flat(&idx, shape)]
                })
                .collect();
            assert_eq!(got.shape(), ishape, "{what}");
            assert_eq!(got.to_f64_vec().unwrap(), want, "{what}");
        }
    }
}

#[test]
fn gather_every_dtype_dim_and_layout() {
    for dev in devices() {
        for dt in DType::ALL {
            check_gather(&[4, 5], &[4, 5], 0, dt, &dev);
            check_gather(&[4, 5], &[3, 7], 1, dt, &dev);
            check_gather(&[3, 4, 5], &[2, 6, 5], 1, dt, &dev);
            check_gather(&[3, 4, 5], &[3, 2, 8], -1, dt, &dev);
            check_gather(&[3, 4, 5], &[0, 2, 3], 0, dt, &dev);
        }
    }
}

#[test]
fn embedding_every_dtype_and_layout() {
    for dev in devices() {
        for dt in DType::ALL {
            let (lo, hi) = lo_hi(dt);
            for case in layouts(&[10, 6], dt, &dev, 4, lo, hi).unwrap() {
                for ishape in [&[2, 3][..], &[4], &[], &[0, 2]] {
                    let n: usize = ishape.iter().product();
                    let picks: Vec<i32> = (0..n).map(|i| ((i * 7 + 3) % 10) as i32).collect();
                    for index in index_tensors(&picks, ishape, &dev) {
                        let what =
                            format!("embedding {dt} {} indices {ishape:?} on {dev}", case.layout);
                        let got = case
                            .tensor
                            .embedding(&index)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        let want: Vec<f64> = picks
                            .iter()
                            .flat_map(|&p| {
                                case.values[p as usize * 6..(p as usize + 1) * 6].to_vec()
                            })
                            .collect();
                        assert_eq!(got.shape(), &[ishape, &[6]].concat()[..], "{what}");
                        assert_eq!(got.to_f64_vec().unwrap(), want, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn indices_out_of_range_name_op_index_and_size() {
    for dev in devices() {
        let t = tensor_of(
            &values(12, 2, DType::F32, -1.0, 1.0),
            &[3, 4],
            DType::F32,
            &dev,
        )
        .unwrap();
        let idx = |v: &[f64], shape: &[usize]| tensor_of(v, shape, DType::I32, &dev).unwrap();
        let expect = |r: kiln::Result<Tensor>, op: &str, index: i64, size: usize| match r {
            Err(Error::IndexOutOfRange {
                op: o,
                index: i,
                size: s,
            }) => {
                assert_eq!((o.as_str(), i, s), (op, index, size))
            }
            other => panic!("{op}: expected IndexOutOfRange, got {other:?}"),
        };
        expect(
            t.index_select(1, &idx(&[0.0, 4.0], &[2])),
            "index_select",
            4,
            4,
        );
        expect(
            t.index_select(0, &idx(&[-1.0], &[1])),
            "index_select",
            -1,
            3,
        );
        expect(
            t.gather(0, &idx(&[0.0, 1.0, 3.0, 2.0], &[1, 4])),
            "gather",
            3,
            3,
        );
        expect(t.gather(1, &idx(&[-2.0], &[1, 1])), "gather", -2, 4);
        expect(t.embedding(&idx(&[1.0, 3.0], &[2])), "embedding", 3, 3);
        expect(t.embedding(&idx(&[-1.0], &[1])), "embedding", -1, 3);
    }
}

#[test]
fn bad_index_dtype_and_shapes() {
    for dev in devices() {
        let t = tensor_of(
            &values(12, 2, DType::F32, -1.0, 1.0),
            &[3, 4],
            DType::F32,
            &dev,
        )
        .unwrap();
        for dt in [DType::F32, DType::F16, DType::Bool] {
            let bad = tensor_of(&[0.0, 1.0], &[2], dt, &dev).unwrap();
            for (op, r) in [
                ("index_select", t.index_select(0, &bad)),
                ("gather", t.gather(0, &bad.reshape(&[1, 2]).unwrap())),
                ("embedding", t.embedding(&bad)),
            ] {
                match r {
                    Err(Error::DTypeMismatch {
                        op: o,
                        expected,
                        got,
                    }) => {
                        assert_eq!((o.as_str(), expected, got), (op, DType::I32, dt))
                    }
                    other => panic!("{op} with {dt} index: expected DTypeMismatch, got {other:?}"),
                }
            }
        }
        let i2 = tensor_of(&[0.0, 1.0], &[1, 2], DType::I32, &dev).unwrap();
        assert!(
            matches!(t.index_select(0, &i2), Err(Error::Shape { .. })),
            "2-D index"
        );
        let i1 = tensor_of(&[0.0, 1.0], &[2], DType::I32, &dev).unwrap();
        assert!(
            matches!(t.gather(0, &i1), Err(Error::Shape { .. })),
            "gather rank"
        );
        let wide = tensor_of(&[0.0; 5], &[1, 5], DType::I32, &dev).unwrap();
        match t.gather(0, &wide) {
            Err(e @ Error::Shape { .. }) => assert!(e.to_string().contains("[1, 5]"), "{e}"),
            other => panic!("gather with a too-wide index: expected a shape error, got {other:?}"),
        }
        let w3 = tensor_of(&[0.0; 8], &[2, 2, 2], DType::F32, &dev).unwrap();
        assert!(
            matches!(w3.embedding(&i1), Err(Error::Shape { .. })),
            "3-D embedding weight"
        );
        assert!(matches!(
            t.index_select(2, &i1),
            Err(Error::DimOutOfRange { .. })
        ));
    }
}
