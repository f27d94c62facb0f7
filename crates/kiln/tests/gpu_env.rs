//! Adapter choice from the environment: `WGPU_ADAPTER_NAME` that matches
//! nothing and backends that have no adapter are `Err(NoAdapter)`, never a
//! panic. One test in its own binary, since it sets environment variables.

use kiln::prelude::*;
use kiln::wgpu::wgpu::Backends;
use kiln::WgpuOptions;

#[test]
fn adapter_choice_errors_are_no_adapter() {
    let gpu = kiln::testing::devices().into_iter().find(|d| !d.is_cpu());
    std::env::set_var("WGPU_ADAPTER_NAME", "surely no adapter has this name");
    let r = Device::wgpu_with(&WgpuOptions::default());
    std::env::remove_var("WGPU_ADAPTER_NAME");
    match r {
        Err(kiln::Error::NoAdapter(msg)) => assert!(msg.contains("surely no adapter"), "{msg}"),
        other => panic!("expected NoAdapter, got {other:?}"),
    }
    // a backend this platform does not have
    let none = WgpuOptions {
        backends: Some(Backends::METAL),
        ..Default::default()
    };
    assert!(matches!(
        Device::wgpu_with(&none),
        Err(kiln::Error::NoAdapter(_))
    ));
    // the environment no longer names an adapter: the default one opens again
    if let Some(d) = gpu {
        assert_eq!(Device::wgpu_with(&WgpuOptions::default()).unwrap(), d);
    }
}
