//! matmul f32 1024 x 1024: kiln's op (dispatch, checks, output allocation
//! and the GEMM) against the GEMM crates called directly on the same
//! buffers.
//!
//! `cargo bench -p kiln --bench matmul -- --warm-up-time 1 --measurement-time 5`

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::cpu::CpuStorage;
use kiln::{DType, Device, Tensor};

const N: usize = 1024;

fn f32_slice(t: &Tensor) -> &[f32] {
    t.storage()
        .as_any()
        .downcast_ref::<CpuStorage>()
        .and_then(|s| s.as_slice::<f32>().ok())
        .expect("a contiguous f32 CPU tensor")
}

fn matmul_f32_1024(c: &mut Criterion) {
    let a = kiln::rand(&[N, N], 1, DType::F32, &Device::Cpu).unwrap();
    let b = kiln::rand(&[N, N], 2, DType::F32, &Device::Cpu).unwrap();
    let (sa, sb) = (f32_slice(&a), f32_slice(&b));
    let mut out = vec![0f32; N * N];
    let n = N as isize;

    let mut g = c.benchmark_group("matmul_f32_1024");
    g.sample_size(20);
    g.bench_function("kiln", |bch| bch.iter(|| a.matmul(&b).unwrap()));
    g.bench_function("gemm", |bch| {
        bch.iter(|| unsafe {
            // SAFETY: three dense N x N buffers.
            gemm::gemm(
                N,
                N,
                N,
                out.as_mut_ptr(),
                1,
                n,
                false,
                sa.as_ptr(),
                1,
                n,
                sb.as_ptr(),
                1,
                n,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            )
        })
    });
    g.bench_function("matrixmultiply", |bch| {
        bch.iter(|| unsafe {
            // SAFETY: three dense N x N buffers.
            matrixmultiply::sgemm(
                N,
                N,
                N,
                1.0,
                sa.as_ptr(),
                n,
                1,
                sb.as_ptr(),
                n,
                1,
                0.0,
                out.as_mut_ptr(),
                n,
                1,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, matmul_f32_1024);
criterion_main!(benches);
