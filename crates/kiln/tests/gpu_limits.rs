//! Device limits, checked before encoding: a tensor over
//! `max_storage_buffer_binding_size` is `Err(GpuLimit)`, a grid over
//! `max_compute_workgroups_per_dimension` is spread over two dimensions.
//! The limits are lowered for the test, so it runs in its own binary.

use kiln::prelude::*;
use kiln::wgpu::CheckedLimits;

#[test]
fn limits_are_checked_and_grids_spread() {
    let Some(dev) = kiln::testing::devices().into_iter().find(|d| !d.is_cpu()) else {
        return;
    };
    let real = kiln::wgpu::context_of("test", dev)
        .unwrap()
        .checked_limits();
    let set = |binding: u64, groups: u32| {
        kiln::wgpu::testing::set_limits(
            dev,
            Some(CheckedLimits {
                max_storage_buffer_binding_size: binding,
                max_compute_workgroups_per_dimension: groups,
            }),
        )
        .unwrap()
    };

    // 256 f32 fit in 1 KiB, 257 do not: refused, naming the limit and the size
    set(1024, real.max_compute_workgroups_per_dimension);
    let ok = kiln::ones(&[256], DType::F32, &dev).unwrap();
    assert_eq!(ok.to_vec::<f32>().unwrap(), vec![1.0; 256]);
    match kiln::zeros(&[257], DType::F32, &dev) {
        Err(kiln::Error::GpuLimit {
            op,
            limit,
            value,
            max,
        }) => {
            assert_eq!(
                (op.as_str(), limit.as_str(), value, max),
                ("zeros", "max_storage_buffer_binding_size", 1028, 1024)
            );
        }
        other => panic!("expected GpuLimit, got {other:?}"),
    }
    let host = kiln::zeros(&[300], DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(host.to(&dev), Err(kiln::Error::GpuLimit { .. })));
    let wide = ok.unsqueeze(0).unwrap().broadcast_as(&[2, 256]).unwrap();
    assert!(matches!(
        wide.add_scalar(1.0),
        Err(kiln::Error::GpuLimit { .. })
    ));

    // at most 5 workgroups per dimension: an add of 5000 f32 needs 5 on the
    // vec4 path; the bf16 copy of its transposed view below needs 10 (5 x 2)
    set(real.max_storage_buffer_binding_size, 5);
    let n = 5000usize;
    let host: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let x = kiln::from_vec(host.clone(), &[n], &dev).unwrap();
    let y = x.add_scalar(1.0).unwrap();
    assert_eq!(
        y.to_vec::<f32>().unwrap(),
        host.iter().map(|v| v + 1.0).collect::<Vec<_>>()
    );
    // strided input, packed output, and the word-writing factories
    let t = x.reshape(&[50, 100]).unwrap().t().unwrap();
    let b = t.to_dtype(DType::BF16).unwrap().to(&Device::Cpu).unwrap();
    let want = kiln::from_vec(host.clone(), &[50, 100], &Device::Cpu)
        .unwrap()
        .t()
        .unwrap()
        .to_dtype(DType::BF16)
        .unwrap();
    assert_eq!(b.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    let f = kiln::full(&[n], 3, DType::I32, &dev).unwrap();
    assert!(f.to_vec::<i32>().unwrap().iter().all(|&v| v == 3));
    let i = kiln::eye(80, 80, DType::F32, &dev)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert!(i
        .iter()
        .enumerate()
        .all(|(k, &v)| v == if k / 80 == k % 80 { 1.0 } else { 0.0 }));
    // 28 workgroups do not fit 5 x 5: the vec4 elementwise kernel's
    // workgroups are 256 vec4s as tuned for a GPU, 1024 for a CPU adapter
    for (cpu_tuned, per_group) in [(false, 256), (true, 1024)] {
        kiln::wgpu::testing::set_tuning(dev, Some(cpu_tuned)).unwrap();
        let big = kiln::zeros(&[28 * per_group * 4], DType::F32, &Device::Cpu)
            .unwrap()
            .to(&dev)
            .unwrap();
        match big.add_scalar(1.0) {
            Err(kiln::Error::GpuLimit {
                limit, value, max, ..
            }) => {
                assert!(
                    limit.starts_with("max_compute_workgroups_per_dimension"),
                    "{limit}"
                );
                assert_eq!((value, max), (28, 25));
            }
            other => panic!("expected GpuLimit, got {other:?}"),
        }
    }
    kiln::wgpu::testing::set_tuning(dev, None).unwrap();

    kiln::wgpu::testing::set_limits(dev, None).unwrap();
    assert_eq!(
        kiln::wgpu::context_of("test", dev)
            .unwrap()
            .checked_limits(),
        real
    );
    // with the real limits, the same add runs
    let big = kiln::zeros(&[28 * 1024 * 4], DType::F32, &dev).unwrap();
    assert_eq!(
        big.add_scalar(1.0).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 28 * 1024 * 4]
    );
}
