//! `matmul` on every device against the CPU backend: 2-D, batched with
//! broadcast batch dims, 1-D operands, zero-size and empty inner dims, every
//! layout of each operand (read in place), every dtype and mixed dtypes.

mod gpu_support;

use gpu_support::{assert_same_outcome, devices_for};
use kiln::prelude::*;
use kiln::testing::layouts;

/// GPU-vs-CPU tolerance: i32 is exact; floats sum in another order (and
/// f16 on the CPU may round partial sums).
fn tol(dt: DType) -> (f64, f64) {
    match dt {
        DType::F32 => (1e-5, 1e-5),
        DType::F16 => (2e-2, 1e-2),
        DType::BF16 => (2e-2, 1.6e-2),
        _ => (0.0, 0.0),
    }
}

const SHAPES: [(&[usize], &[usize]); 9] = [
    (&[5, 7], &[7, 6]),
    (&[9, 3], &[3, 10]),
    (&[2, 3, 4], &[4, 5]),
    (&[2, 1, 3, 4], &[3, 4, 5]),
    (&[4], &[4, 3]),
    (&[3, 4], &[4]),
    (&[4], &[4]),
    (&[0, 3], &[3, 4]),
    (&[3, 0], &[0, 4]),
];

#[test]
fn matmul_matches_cpu_for_every_dtype_layout_and_shape() {
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I32] {
        for (sa, sb) in SHAPES {
            let ca = layouts(sa, dt, &Device::Cpu, 3, -2.0, 2.0).unwrap();
            let cb = layouts(sb, dt, &Device::Cpu, 5, -2.0, 2.0).unwrap();
            for dev in devices_for(&[dt]) {
                let ga = layouts(sa, dt, &dev, 3, -2.0, 2.0).unwrap();
                let gb = layouts(sb, dt, &dev, 5, -2.0, 2.0).unwrap();
                for i in 0..ga.len() {
                    for j in 0..gb.len() {
                        let what = format!(
                            "matmul {dt} {sa:?} {} x {sb:?} {} on {dev}",
                            ga[i].layout, gb[j].layout
                        );
                        let got = ga[i].tensor.matmul(&gb[j].tensor);
                        let want = ca[i].tensor.matmul(&cb[j].tensor);
                        assert_same_outcome(&what, got, want, tol(dt));
                    }
                }
            }
        }
    }
}

#[test]
fn matmul_edges_of_the_blocks_and_mixed_dtypes() {
    // sizes that are not multiples of the 4x4 blocks, and mixed dtypes
    // cast as they load
    let (sa, sb): (&[usize], &[usize]) = (&[13, 9], &[9, 6]);
    for da in DType::ALL {
        for db in DType::ALL {
            let a = layouts(sa, da, &Device::Cpu, 7, -3.0, 3.0).unwrap();
            let b = layouts(sb, db, &Device::Cpu, 8, -3.0, 3.0).unwrap();
            let dt = kiln::core::promote_types(da, db);
            for dev in devices_for(&[da, db]) {
                let got = a[0]
                    .tensor
                    .to(&dev)
                    .unwrap()
                    .matmul(&b[1].tensor.to(&dev).unwrap());
                let want = a[0].tensor.matmul(&b[1].tensor);
                assert_same_outcome(&format!("matmul {da} x {db} on {dev}"), got, want, tol(dt));
            }
        }
    }
}

#[test]
fn matmul_vector_path_blocks_and_edges() {
    // f32 with contiguous rows and k, n multiples of 4 take the vec4
    // kernel, whose block (up to 32 rows by 4 vec4 columns on a CPU
    // adapter) shrinks with m and n: sizes around each block edge, row
    // slices (offsets that are multiples of 4), and broadcast batches
    let cases: [(&[usize], &[usize]); 9] = [
        (&[1, 4], &[4, 4]),
        (&[3, 8], &[8, 12]),
        (&[33, 12], &[12, 20]),
        (&[70, 4], &[4, 36]),
        (&[2, 16], &[16, 64]),
        (&[31, 8], &[8, 8]),
        (&[2, 5, 8], &[8, 12]),
        (&[5, 8], &[3, 8, 16]),
        (&[2, 1, 6, 4], &[3, 4, 8]),
    ];
    for (sa, sb) in cases {
        let a = kiln::rand(sa, 1, DType::F32, &Device::Cpu).unwrap();
        let b = kiln::rand(sb, 2, DType::F32, &Device::Cpu).unwrap();
        // a's rows again, from row 1 of a taller tensor (an offset), and b
        // as the transpose of a contiguous [.., n, k] (as linear passes its
        // weight; a vec4 path of its own); views are taken on the device,
        // since `to` copies into a contiguous tensor
        let mut tall = sa.to_vec();
        let r = tall.len() - 2;
        tall[r] += 1;
        let at = kiln::rand(&tall, 3, DType::F32, &Device::Cpu).unwrap();
        let nd = sb.len();
        let mut sbt = sb.to_vec();
        sbt.swap(nd - 2, nd - 1);
        let bt = kiln::rand(&sbt, 4, DType::F32, &Device::Cpu).unwrap();
        let row_slice = |t: &Tensor| t.slice(r as i64, 1, tall[r] as i64).unwrap();
        let transposed = |t: &Tensor| t.transpose(-1, -2).unwrap();
        for dev in devices_for(&[]) {
            let (ga, gat, gb, gbt) = (
                a.to(&dev).unwrap(),
                at.to(&dev).unwrap(),
                b.to(&dev).unwrap(),
                bt.to(&dev).unwrap(),
            );
            let cases = [
                (
                    "contiguous",
                    (ga.clone(), gb.clone()),
                    (a.clone(), b.clone()),
                ),
                (
                    "row slice",
                    (row_slice(&gat), gb.clone()),
                    (row_slice(&at), b.clone()),
                ),
                (
                    "transposed b",
                    (ga, transposed(&gbt)),
                    (a.clone(), transposed(&bt)),
                ),
                (
                    "row slice, transposed b",
                    (row_slice(&gat), transposed(&gbt)),
                    (row_slice(&at), transposed(&bt)),
                ),
            ];
            for (what, (x, y), (cx, cy)) in cases {
                assert_same_outcome(
                    &format!("matmul {sa:?} x {sb:?} ({what}) on {dev}"),
                    x.matmul(&y),
                    cx.matmul(&cy),
                    tol(DType::F32),
                );
            }
        }
    }
}

#[test]
fn matmul_shape_errors_match_cpu() {
    let bad: [(&[usize], &[usize]); 3] =
        [(&[2, 3], &[4, 5]), (&[], &[3]), (&[2, 2, 3], &[3, 3, 4])];
    for dev in devices_for(&[]) {
        for (sa, sb) in bad {
            let a = kiln::zeros(sa, DType::F32, &dev).unwrap();
            let b = kiln::zeros(sb, DType::F32, &dev).unwrap();
            let (ca, cb) = (a.to(&Device::Cpu).unwrap(), b.to(&Device::Cpu).unwrap());
            assert_same_outcome(
                &format!("matmul {sa:?} x {sb:?} on {dev}"),
                a.matmul(&b),
                ca.matmul(&cb),
                (0.0, 0.0),
            );
        }
    }
}
