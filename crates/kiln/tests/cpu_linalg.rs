//! matmul, conv2d and max_pool2d against plain f64 references, over every
//! device, supported dtype and input layout.

use kiln::testing::{assert_close, layouts, round_to, tensor_of, tolerance, values};
use kiln::{DType, Device, Error, Tensor};

/// The devices whose backend has these tests' ops (see `testing::devices_for`).
fn devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::MATMUL])
}

/// Tolerance of a matmul result: the default for the dtype, loosened for
/// f32 accumulation over `k` terms.
fn matmul_tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-4, 1e-4),
        DType::F16 => (2e-3, 2e-3),
        d => tolerance(d),
    }
}

/// `torch.matmul` in f64: promotes 1-D operands, broadcasts batch dims,
/// squeezes the promoted dims. Returns the values and the shape.
fn ref_matmul(a: &[f64], sa: &[usize], b: &[f64], sb: &[usize]) -> (Vec<f64>, Vec<usize>) {
    let (sa2, sb2) = (
        if sa.len() == 1 {
            vec![1, sa[0]]
        } else {
            sa.to_vec()
        },
        if sb.len() == 1 {
            vec![sb[0], 1]
        } else {
            sb.to_vec()
        },
    );
    let (m, k, n) = (sa2[sa2.len() - 2], sa2[sa2.len() - 1], sb2[sb2.len() - 1]);
    let (ba, bb) = (&sa2[..sa2.len() - 2], &sb2[..sb2.len() - 2]);
    let nd = ba.len().max(bb.len());
    let pad = |s: &[usize]| [vec![1; nd - s.len()], s.to_vec()].concat();
    let (pa, pb) = (pad(ba), pad(bb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let count: usize = batch.iter().product();
    let mut out = vec![0.0; count * m * n];
    for bi in 0..count {
        // multi-index of the batch, then each operand's batch number
        let mut rem = bi;
        let mut idx = vec![0; nd];
        for d in (0..nd).rev() {
            idx[d] = rem % batch[d];
            rem /= batch[d];
        }
        let flat = |s: &[usize]| {
            idx.iter()
                .zip(s)
                .fold(0, |acc, (&i, &d)| acc * d + if d == 1 { 0 } else { i })
        };
        let (xa, xb) = (flat(&pa), flat(&pb));
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0;
                for q in 0..k {
                    acc += a[xa * m * k + i * k + q] * b[xb * k * n + q * n + j];
                }
                out[bi * m * n + i * n + j] = acc;
            }
        }
    }
    let mut shape = batch;
    if sa.len() > 1 {
        shape.push(m);
    }
    if sb.len() > 1 {
        shape.push(n);
    }
    (out, shape)
}

fn check_matmul(sa: &[usize], sb: &[usize], dtypes: &[DType]) {
    for dev in devices() {
        for &dt in dtypes {
            let (lo, hi) = if dt == DType::I32 {
                (-5.0, 5.0)
            } else {
                (-1.0, 1.0)
            };
            let (atol, rtol) = matmul_tolerance(dt);
            for ca in layouts(sa, dt, &dev, 1, lo, hi).unwrap() {
                for cb in layouts(sb, dt, &dev, 7, lo, hi).unwrap() {
                    let what = format!(
                        "matmul {sa:?} {} x {sb:?} {} {dt} on {dev}",
                        ca.layout, cb.layout
                    );
                    let got = ca
                        .tensor
                        .matmul(&cb.tensor)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    let (want, shape) = ref_matmul(&ca.values, sa, &cb.values, sb);
                    assert_eq!(got.shape(), &shape[..], "{what}: shape");
                    assert_eq!(got.dtype(), dt, "{what}: dtype");
                    let want: Vec<f64> = want.iter().map(|&v| round_to(v, dt)).collect();
                    assert_close(&what, &got.to_f64_vec().unwrap(), &want, atol, rtol);
                }
            }
        }
    }
}

const MATMUL_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::I32];

#[test]
fn matmul_2d() {
    check_matmul(&[3, 4], &[4, 5], &MATMUL_DTYPES);
    check_matmul(&[1, 7], &[7, 1], &MATMUL_DTYPES);
    check_matmul(&[33, 64], &[64, 17], &MATMUL_DTYPES);
}

#[test]
fn matmul_big_single_matrix_uses_threads() {
    // 64^3 multiply-adds: row blocks over rayon (f32, bf16, i32), gemm's own threads (f16)
    check_matmul(&[64, 64], &[64, 64], &MATMUL_DTYPES);
}

#[test]
fn matmul_vectors() {
    check_matmul(&[5], &[5], &MATMUL_DTYPES);
    check_matmul(&[4], &[4, 5], &MATMUL_DTYPES);
    check_matmul(&[3, 4], &[4], &MATMUL_DTYPES);
    check_matmul(&[4], &[2, 4, 5], &MATMUL_DTYPES);
    check_matmul(&[2, 3, 4], &[4], &MATMUL_DTYPES);
}

#[test]
fn matmul_batched_with_broadcast() {
    check_matmul(&[2, 3, 4], &[4, 5], &MATMUL_DTYPES);
    check_matmul(&[3, 4], &[2, 4, 5], &MATMUL_DTYPES);
    check_matmul(&[2, 1, 3, 4], &[3, 4, 5], &MATMUL_DTYPES);
    check_matmul(&[3, 2, 4], &[3, 4, 2], &MATMUL_DTYPES);
}

#[test]
fn matmul_many_batches_in_parallel() {
    // enough total work to split over batches
    check_matmul(&[64, 16, 16], &[64, 16, 16], &[DType::F32, DType::I32]);
    check_matmul(&[64, 16, 16], &[16, 16], &[DType::F16]);
}

#[test]
fn matmul_zero_size() {
    for dev in devices() {
        for dt in MATMUL_DTYPES {
            // k = 0: a sum of nothing
            let a = tensor_of(&[], &[3, 0], dt, &dev).unwrap();
            let b = tensor_of(&[], &[0, 4], dt, &dev).unwrap();
            let c = a.matmul(&b).unwrap();
            assert_eq!(c.shape(), &[3, 4]);
            assert_eq!(c.to_f64_vec().unwrap(), vec![0.0; 12], "{dt}");
            let d = tensor_of(&[], &[0], dt, &dev).unwrap();
            let dot = d.matmul(&d).unwrap();
            assert_eq!(
                (dot.shape(), dot.to_f64_vec().unwrap()),
                (&[][..], vec![0.0])
            );
            // m = 0, batch = 0
            let e = tensor_of(&[], &[2, 0, 3], dt, &dev).unwrap();
            let f = tensor_of(&values(15, 3, dt, -1.0, 1.0), &[3, 5], dt, &dev).unwrap();
            assert_eq!(e.matmul(&f).unwrap().shape(), &[2, 0, 5]);
            let g = tensor_of(&[], &[0, 4, 3], dt, &dev).unwrap();
            assert_eq!(g.matmul(&f).unwrap().shape(), &[0, 4, 5]);
        }
    }
}

#[test]
fn matmul_mixed_dtypes_promote() {
    for dev in devices() {
        let a = tensor_of(&[1.0, 2.0, 3.0, 4.0], &[2, 2], DType::F16, &dev).unwrap();
        let b = tensor_of(&[1.0, 0.0, 0.0, 1.0], &[2, 2], DType::F32, &dev).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.dtype(), DType::F32);
        assert_eq!(c.to_f64_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        let i = tensor_of(&[1.0, 2.0], &[2], DType::I32, &dev).unwrap();
        let d = i.matmul(&b).unwrap();
        assert_eq!(
            (d.dtype(), d.to_f64_vec().unwrap()),
            (DType::F32, vec![1.0, 2.0])
        );
        let e = tensor_of(&[1.0, 2.0], &[2], DType::BF16, &dev)
            .unwrap()
            .matmul(&a)
            .unwrap();
        assert_eq!(e.dtype(), DType::F32, "bf16 with f16 promotes to f32");
    }
}

#[test]
fn matmul_mixed_dtypes_in_every_layout() {
    // a cast operand is a fresh contiguous copy: the product must follow it
    let pairs = [
        (DType::F16, DType::F32, DType::F32),
        (DType::I32, DType::F32, DType::F32),
        (DType::BF16, DType::I32, DType::BF16),
        (DType::I32, DType::F16, DType::F16),
        (DType::BF16, DType::F16, DType::F32),
    ];
    let (sa, sb) = ([2, 3, 4], [4, 5]);
    for dev in devices() {
        for (da, db, want_dt) in pairs {
            let (atol, rtol) = matmul_tolerance(want_dt);
            for ca in layouts(&sa, da, &dev, 1, -4.0, 4.0).unwrap() {
                for cb in layouts(&sb, db, &dev, 2, -4.0, 4.0).unwrap() {
                    let what = format!("matmul {da} {} x {db} {} on {dev}", ca.layout, cb.layout);
                    let got = ca
                        .tensor
                        .matmul(&cb.tensor)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(got.dtype(), want_dt, "{what}");
                    let round =
                        |v: &[f64]| v.iter().map(|&x| round_to(x, want_dt)).collect::<Vec<_>>();
                    let (want, shape) =
                        ref_matmul(&round(&ca.values), &sa, &round(&cb.values), &sb);
                    assert_eq!(got.shape(), &shape[..], "{what}");
                    assert_close(&what, &got.to_f64_vec().unwrap(), &round(&want), atol, rtol);
                }
            }
        }
    }
}

#[test]
fn matmul_errors_name_the_shapes() {
    for dev in devices() {
        let a = tensor_of(
            &values(6, 1, DType::F32, -1.0, 1.0),
            &[2, 3],
            DType::F32,
            &dev,
        )
        .unwrap();
        let b = tensor_of(
            &values(20, 2, DType::F32, -1.0, 1.0),
            &[4, 5],
            DType::F32,
            &dev,
        )
        .unwrap();
        match a.matmul(&b) {
            Err(e @ Error::Shape { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with("matmul:") && msg.contains("[2, 3]") && msg.contains("[4, 5]"),
                    "{msg}"
                );
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        let v = tensor_of(&[1.0, 2.0], &[2], DType::F32, &dev).unwrap();
        assert!(matches!(v.matmul(&b), Err(Error::Shape { .. })));
        let s = tensor_of(&[1.0], &[], DType::F32, &dev).unwrap();
        assert!(
            matches!(s.matmul(&a), Err(Error::Shape { .. })),
            "zero-dim operand"
        );
        let x = tensor_of(
            &values(24, 1, DType::F32, -1.0, 1.0),
            &[2, 3, 4],
            DType::F32,
            &dev,
        )
        .unwrap();
        let y = tensor_of(
            &values(60, 1, DType::F32, -1.0, 1.0),
            &[3, 4, 5],
            DType::F32,
            &dev,
        )
        .unwrap();
        match x.matmul(&y) {
            Err(e @ Error::Shape { .. }) => assert!(e.to_string().contains("[2, 3, 4]"), "{e}"),
            other => panic!("expected a shape error for batch dims, got {other:?}"),
        }
        let t = tensor_of(&[1.0, 0.0, 1.0, 1.0], &[2, 2], DType::Bool, &dev).unwrap();
        match t.matmul(&t) {
            Err(Error::UnsupportedDType { op, dtype, .. }) => {
                assert_eq!((op.as_str(), dtype), ("matmul", DType::Bool))
            }
            other => panic!("expected UnsupportedDType, got {other:?}"),
        }
    }
}

#[test]
fn matmul_reads_transposed_views_in_place() {
    // a.t() @ b.t() against the contiguous copies
    let dev = Device::Cpu;
    let a = tensor_of(
        &values(12, 4, DType::F32, -1.0, 1.0),
        &[4, 3],
        DType::F32,
        &dev,
    )
    .unwrap();
    let b = tensor_of(
        &values(20, 5, DType::F32, -1.0, 1.0),
        &[5, 4],
        DType::F32,
        &dev,
    )
    .unwrap();
    let got = a.t().unwrap().matmul(&b.t().unwrap()).unwrap();
    let want = a
        .t()
        .unwrap()
        .contiguous()
        .unwrap()
        .matmul(&b.t().unwrap().contiguous().unwrap())
        .unwrap();
    assert_eq!(got.to_vec::<f32>().unwrap(), want.to_vec::<f32>().unwrap());
    let _: &Tensor = &got;
}

/// `linear(x, w, b) = x @ w^T + b` in f64, `x` as `[m, k]` rows.
fn ref_linear(x: &[f64], w: &[f64], b: Option<&[f64]>, m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|q| x[i * k + q] * w[j * k + q]).sum();
            out[i * n + j] = dot + b.map_or(0.0, |b| b[j]);
        }
    }
    out
}

#[test]
fn linear_matches_the_reference_for_every_layout_of_its_operands() {
    // The CPU fuses the bias into its f32 GEMM when the rows of `x` flatten
    // without a copy, and runs matmul + add otherwise: both paths, every
    // dtype, 2-D and 3-D inputs, weight and bias as views.
    let (k, n) = (24, 10);
    for dev in devices() {
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let (atol, rtol) = matmul_tolerance(dtype);
            for lead in [vec![6usize], vec![2, 3]] {
                let mut xs = lead.clone();
                xs.push(k);
                let m: usize = lead.iter().product();
                for x in layouts(&xs, dtype, &dev, 21, -1.0, 1.0).unwrap() {
                    // w as stored [n, k], and as the transpose of a [k, n] tensor
                    let wv = values(n * k, 22, dtype, -1.0, 1.0);
                    let w_plain = tensor_of(&wv, &[n, k], dtype, &dev).unwrap();
                    let wt_vals: Vec<f64> = (0..k * n).map(|i| wv[(i % n) * k + i / n]).collect();
                    let w_view = tensor_of(&wt_vals, &[k, n], dtype, &dev)
                        .unwrap()
                        .t()
                        .unwrap();
                    // bias contiguous, strided (every other element), or none
                    let bv = values(n, 23, dtype, -1.0, 1.0);
                    let b2: Vec<f64> = bv.iter().flat_map(|&v| [v, 9.0]).collect();
                    let b_strided = tensor_of(&b2, &[2 * n], dtype, &dev)
                        .unwrap()
                        .slice_step(0, 0, 2 * n as i64, 2)
                        .unwrap();
                    let biases = [
                        Some(tensor_of(&bv, &[n], dtype, &dev).unwrap()),
                        Some(b_strided),
                        None,
                    ];
                    for w in [&w_plain, &w_view] {
                        for b in &biases {
                            let what = format!(
                                "linear {dtype} x {} {xs:?}, w strides {:?}, bias {:?} on {dev}",
                                x.layout,
                                w.strides(),
                                b.as_ref().map(|b| b.strides().to_vec())
                            );
                            let y = x
                                .tensor
                                .linear(w, b.as_ref())
                                .unwrap_or_else(|e| panic!("{what}: {e}"));
                            let mut ys = lead.clone();
                            ys.push(n);
                            assert_eq!((y.shape(), y.dtype()), (&ys[..], dtype), "{what}");
                            let want: Vec<f64> =
                                ref_linear(&x.values, &wv, b.as_ref().map(|_| &bv[..]), m, k, n)
                                    .into_iter()
                                    .map(|v| round_to(v, dtype))
                                    .collect();
                            assert_close(&what, &y.to_f64_vec().unwrap(), &want, atol, rtol);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn linear_refuses_bad_shapes_naming_the_op() {
    let dev = Device::Cpu;
    let x = kiln::zeros(&[4, 3], DType::F32, &dev).unwrap();
    let w3 = kiln::zeros(&[2, 3, 1], DType::F32, &dev).unwrap();
    let w = kiln::zeros(&[5, 3], DType::F32, &dev).unwrap();
    let bad_k = kiln::zeros(&[5, 4], DType::F32, &dev).unwrap();
    let bad_b = kiln::zeros(&[4], DType::F32, &dev).unwrap();
    assert!(matches!(x.linear(&w3, None), Err(Error::Shape { op, .. }) if op == "linear"));
    assert!(matches!(x.linear(&bad_k, None), Err(Error::Shape { .. })));
    assert!(x.linear(&w, Some(&bad_b)).is_err());
    assert_eq!(x.linear(&w, None).unwrap().shape(), &[4, 5]);
}
