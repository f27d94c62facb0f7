//! The wgpu counters: one submission per chain, pipelines compiled once,
//! buffers reused from the pool, live bytes back to zero. One test in its
//! own binary, so no other test moves the process-wide counters meanwhile.

use kiln::prelude::*;

#[test]
fn counters_show_batching_caching_and_pooling() {
    let Some(dev) = kiln::testing::devices().into_iter().find(|d| !d.is_cpu()) else {
        return;
    };
    kiln::wgpu::synchronize(dev).unwrap();
    {
        let x = kiln::from_vec(
            (0..1000).map(|i| i as f32).collect::<Vec<_>>(),
            &[1000],
            &dev,
        )
        .unwrap();
        let y = x.mul_scalar(0.5).unwrap().add(&x).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap()[10], 15.0); // warms the pipelines used below

        // a chain of elementwise ops and one read-back: one submission
        let s0 = kiln::wgpu::stats();
        let mut z = x.clone();
        for _ in 0..20 {
            z = z.mul_scalar(0.5).unwrap().add(&x).unwrap();
        }
        let s1 = kiln::wgpu::stats();
        assert_eq!(
            s1.submissions, s0.submissions,
            "ops encode without submitting"
        );
        let v = z.to_vec::<f32>().unwrap();
        let s2 = kiln::wgpu::stats();
        assert_eq!(s2.submissions - s0.submissions, 1, "{s0:?} -> {s2:?}");
        assert_eq!(s2.dispatches - s0.dispatches, 40);
        assert_eq!(
            s2.pipelines_compiled, s0.pipelines_compiled,
            "pipelines are compiled once"
        );
        assert_eq!(s2.bytes_down - s0.bytes_down, 4000);
        assert!((v[10] - 20.0).abs() < 1e-4, "{}", v[10]);

        // a new dtype compiles one pipeline, once
        let h = x.to_dtype(DType::F16).unwrap();
        let s3 = kiln::wgpu::stats();
        assert_eq!(s3.pipelines_compiled - s2.pipelines_compiled, 1);
        let _h2 = x.to_dtype(DType::F16).unwrap();
        assert_eq!(
            kiln::wgpu::stats().pipelines_compiled,
            s3.pipelines_compiled
        );
        drop(h);

        // uploads count their bytes
        let s4 = kiln::wgpu::stats();
        let _u = kiln::from_vec(vec![1u8 != 0; 37], &[37], &dev).unwrap();
        assert_eq!(kiln::wgpu::stats().bytes_up - s4.bytes_up, 37);
    }
    // everything dropped; once the GPU is done, nothing is live
    kiln::wgpu::synchronize(dev).unwrap();
    assert_eq!(
        kiln::wgpu::stats().live_bytes,
        0,
        "{:?}",
        kiln::wgpu::stats()
    );

    // a buffer of a size seen before comes from the pool
    let s5 = kiln::wgpu::stats();
    let a = kiln::zeros(&[1000], DType::F32, &dev).unwrap();
    let s6 = kiln::wgpu::stats();
    assert_eq!(
        s6.buffers_allocated, s5.buffers_allocated,
        "{s5:?} -> {s6:?}"
    );
    assert!(s6.buffers_reused > s5.buffers_reused);
    assert!(s6.live_bytes >= 4000);
    drop(a);
    kiln::wgpu::synchronize(dev).unwrap();
    assert_eq!(kiln::wgpu::stats().live_bytes, 0);
}
