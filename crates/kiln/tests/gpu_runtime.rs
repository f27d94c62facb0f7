//! The wgpu runtime: threads sharing one context, adapter choice errors,
//! GPU validation errors as `Err(Gpu)`.

use kiln::prelude::*;
use kiln::wgpu::{Access, WgpuOptions};
use std::sync::Arc;

fn gpu() -> Option<Device> {
    kiln::testing::devices().into_iter().find(|d| !d.is_cpu())
}

#[test]
fn tensors_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tensor>();
    check::<kiln::wgpu::WgpuStorage>();
    check::<kiln::wgpu::WgpuContext>();
}

#[test]
fn two_threads_running_gpu_ops_at_once_get_correct_results() {
    let Some(dev) = gpu() else { return };
    let shared = Arc::new(kiln::arange(0, 1000, 1, DType::F32, &dev).unwrap());
    let workers: Vec<_> = (0..2)
        .map(|k| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let host: Vec<f32> = (0..1000).map(|i| (i * (k + 2)) as f32).collect();
                for round in 0..25 {
                    let mine = kiln::from_vec(host.clone(), &[1000], &dev).unwrap();
                    // a chain of a few ops on this thread's data and the shared tensor
                    let mut x = mine.mul_scalar(2.0).unwrap();
                    for _ in 0..4 {
                        x = x.add(&shared).unwrap().sub_scalar(1.0).unwrap();
                    }
                    let got = x.to_vec::<f32>().unwrap();
                    let want: Vec<f32> = (0..1000)
                        .map(|i| host[i] * 2.0 + 4.0 * (i as f32 - 1.0))
                        .collect();
                    assert_eq!(got, want, "thread {k}, round {round}");
                    let flags = x.gt_scalar(1000.0).unwrap().to_vec::<bool>().unwrap();
                    assert_eq!(
                        flags,
                        want.iter().map(|&v| v > 1000.0).collect::<Vec<_>>(),
                        "thread {k}, round {round}"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker thread panicked");
    }
}

#[test]
fn an_adapter_name_that_matches_nothing_is_no_adapter() {
    kiln::init().unwrap();
    let opts = WgpuOptions {
        adapter_name: Some("no adapter is called this".into()),
        ..Default::default()
    };
    match Device::wgpu_with(&opts) {
        Err(kiln::Error::NoAdapter(msg)) => {
            assert!(msg.contains("no adapter is called this"), "{msg}");
            if let Some(dev) = gpu() {
                // the message lists what exists
                let ctx = kiln::wgpu::context::context_of("test", dev).unwrap();
                assert!(msg.contains(&ctx.adapter_info().name), "{msg}");
            }
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}

#[test]
fn an_adapter_name_that_matches_opens_the_same_context() {
    let Some(dev) = gpu() else { return };
    let ctx = kiln::wgpu::context::context_of("test", dev).unwrap();
    let name = ctx.adapter_info().name.to_uppercase();
    let opts = WgpuOptions {
        adapter_name: Some(name[..name.len().min(6)].to_string()),
        ..Default::default()
    };
    assert_eq!(Device::wgpu_with(&opts).unwrap(), dev);
}

#[test]
fn a_validation_error_becomes_err_gpu_and_the_device_keeps_working() {
    let Some(dev) = gpu() else { return };
    let ctx = kiln::wgpu::context::context_of("test", dev).unwrap();
    let bad = ctx.kernel("test:not-wgsl", &[Access::ReadWrite], || {
        "this is not WGSL".to_string()
    });
    match bad {
        Err(kiln::Error::Gpu { op, msg }) => {
            assert!(op.contains("test:not-wgsl"), "{op}");
            assert!(
                msg.contains("parsing error") || msg.contains("expected"),
                "{msg}"
            );
        }
        other => panic!("expected Err(Gpu), got {:?}", other.map(|_| ())),
    }
    // a shader that binds fewer buffers than its layout declares still compiles;
    // one that declares a binding the layout lacks is a validation error
    let mismatch = ctx.kernel("test:binding-mismatch", &[Access::Read], || {
        "@group(0) @binding(0) var<storage, read> info: array<u32>;\n\
         @group(0) @binding(1) var<storage, read_write> dst: array<u32>;\n\
         @compute @workgroup_size(1) fn main() { dst[0] = info[0]; }"
            .to_string()
    });
    assert!(
        matches!(mismatch, Err(kiln::Error::Gpu { .. })),
        "{:?}",
        mismatch.map(|_| ())
    );
    let x = kiln::from_vec(vec![1i32, 2, 3], &[3], &dev).unwrap();
    assert_eq!(
        x.add_scalar(1).unwrap().to_vec::<i32>().unwrap(),
        vec![2, 3, 4]
    );
}

#[test]
fn factory_ops_on_an_unopened_device_index_are_an_error() {
    kiln::init().unwrap();
    let r = kiln::zeros(&[2], DType::F32, &Device::Wgpu(999));
    assert!(
        matches!(r, Err(kiln::Error::InvalidArgument { .. })),
        "{r:?}"
    );
}
