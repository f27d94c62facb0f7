//! The dispatcher's and the thread-local key sets' semantics, with fake
//! storage and private dispatchers so nothing depends on a backend.

use kiln_core::*;
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
struct FakeStorage(Device, usize);

impl Storage for FakeStorage {
    fn device(&self) -> Device {
        self.0
    }
    fn dtype(&self) -> DType {
        DType::F32
    }
    fn len(&self) -> usize {
        self.1
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn read_bytes(&self, _: usize, len: usize) -> Result<Vec<u8>> {
        Ok(vec![0; len * 4])
    }
    fn write_bytes(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

fn fake(device: Device) -> Tensor {
    Tensor::from_storage(Arc::new(FakeStorage(device, 4)), Layout::contiguous(&[4])).unwrap()
}

/// A private dispatcher with one op `t::f(Tensor x) -> Tensor` whose kernels
/// append their key's name to a log and return their input.
fn setup(keys: &[DispatchKey]) -> (Arc<Dispatcher>, OpId, Arc<Mutex<Vec<String>>>) {
    let d = Arc::new(Dispatcher::new());
    let op = d.define("t::f(Tensor x) -> Tensor").unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for &k in keys {
        let log = log.clone();
        d.register_kernel(op, k, &format!("f_{k}"), move |_, _, _| {
            log.lock().unwrap().push(k.to_string());
            Ok(())
        })
        .unwrap();
    }
    (d, op, log)
}

fn taken(log: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn fresh_thread_sees_the_defaults() {
    let _g = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
    let _x = ExcludeDispatchKeyGuard::new(DispatchKey::Cpu);
    let other = std::thread::spawn(tls_local_dispatch_key_set)
        .join()
        .unwrap();
    assert_eq!(other, LocalDispatchKeySet::DEFAULT);
    assert_eq!(
        other.included,
        DispatchKeySet::from_key(DispatchKey::BackendSelect)
    );
    assert!(other.excluded.is_empty());
    assert!(!std::thread::spawn(is_dispatch_enabled).join().unwrap());
}

#[test]
fn guards_nest_and_inner_never_undoes_outer() {
    assert!(!tls_is_dispatch_key_included(DispatchKey::Tracer));
    {
        let _outer = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
        assert!(tls_is_dispatch_key_included(DispatchKey::Tracer));
        {
            // already included: the inner guard adds nothing, so removes nothing
            let _inner = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
        }
        assert!(
            tls_is_dispatch_key_included(DispatchKey::Tracer),
            "inner guard undid the outer one"
        );
        {
            let _ex1 = ExcludeDispatchKeyGuard::new(DispatchKey::Tracer);
            let _ex2 = ExcludeDispatchKeyGuard::new(DispatchKey::Tracer);
            drop(_ex2);
            assert!(tls_is_dispatch_key_excluded(DispatchKey::Tracer));
        }
        assert!(!tls_is_dispatch_key_excluded(DispatchKey::Tracer));
    }
    assert!(!tls_is_dispatch_key_included(DispatchKey::Tracer));
    // a key included by hand outlives a guard that found it there
    tls_set_dispatch_key_included(DispatchKey::Autograd, true);
    drop(IncludeDispatchKeyGuard::new(DispatchKey::Autograd));
    assert!(tls_is_dispatch_key_included(DispatchKey::Autograd));
    tls_set_dispatch_key_included(DispatchKey::Autograd, false);
    // the default BackendSelect inclusion is never dropped by a guard
    drop(IncludeDispatchKeyGuard::new(DispatchKeySet::from_keys(&[
        DispatchKey::BackendSelect,
        DispatchKey::Tracer,
    ])));
    assert_eq!(tls_local_dispatch_key_set(), LocalDispatchKeySet::DEFAULT);
}

#[test]
fn exclusion_beats_inclusion() {
    let (d, op, log) = setup(&[DispatchKey::Tracer, DispatchKey::Cpu]);
    let x = fake(Device::Cpu);
    let _inc = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
    d.call(op, vec![x.clone().into()]).unwrap();
    assert_eq!(taken(&log), ["Tracer"]);
    let _exc = ExcludeDispatchKeyGuard::new(DispatchKey::Tracer);
    assert!(tls_is_dispatch_key_included(DispatchKey::Tracer));
    d.call(op, vec![x.into()]).unwrap();
    assert_eq!(
        taken(&log),
        ["CPU"],
        "an excluded key ran although it was also included"
    );
    assert!(!is_dispatch_enabled());
}

#[test]
fn tracer_switches_follow_the_seed() {
    assert!(!is_dispatch_enabled());
    set_dispatch_enabled(true).unwrap();
    assert!(is_dispatch_enabled());
    {
        let _no = NoTracerDispatchMode::new();
        assert!(!is_dispatch_enabled());
        let before = tls_local_dispatch_key_set();
        let e = set_dispatch_enabled(true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot enable tracing within the scope of NoTracerDispatchMode!"
        );
        assert!(matches!(e, Error::TracerExcluded));
        assert!(set_dispatch_enabled(false).is_err());
        assert_eq!(
            tls_local_dispatch_key_set(),
            before,
            "a refused switch changed the state"
        );
    }
    assert!(
        is_dispatch_enabled(),
        "NoTracerDispatchMode must restore dispatch on drop"
    );
    set_dispatch_enabled(false).unwrap();
    assert!(!is_dispatch_enabled());
}

#[test]
fn redispatch_uses_the_given_set_not_tls() {
    let d = Arc::new(Dispatcher::new());
    let op = d.define("t::g(Tensor x) -> Tensor").unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, d1) = (log.clone(), d.clone());
    d.register_kernel(op, DispatchKey::Tracer, "g_tracer", move |op, ks, s| {
        l1.lock().unwrap().push("Tracer".to_string());
        assert!(ks.contains(DispatchKey::Tracer));
        d1.redispatch(op, ks.after(DispatchKey::Tracer), s)
    })
    .unwrap();
    let l2 = log.clone();
    d.register_kernel(op, DispatchKey::Cpu, "g_cpu", move |_, ks, _| {
        l2.lock().unwrap().push(format!("CPU {ks:?}"));
        Ok(())
    })
    .unwrap();
    let _inc = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
    d.call(op, vec![fake(Device::Cpu).into()]).unwrap();
    // TLS still includes Tracer, yet the CPU kernel was reached once, with a
    // set that no longer holds Tracer: the set was not recomputed.
    assert_eq!(taken(&log), ["Tracer", "CPU DispatchKeySet(CPU)"]);
    let mut s = stack![fake(Device::Cpu).into()];
    d.redispatch(op, DispatchKeySet::from_key(DispatchKey::Cpu), &mut s)
        .unwrap();
    assert_eq!(taken(&log), ["CPU DispatchKeySet(CPU)"]);
}

#[test]
fn fallthrough_skips_and_fallback_runs() {
    let (d, op, log) = setup(&[DispatchKey::Cpu]);
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, d2) = (calls.clone(), d.clone());
    d.register_fallback(
        DispatchKey::Tracer,
        "recording_fallback",
        move |op, ks, s| {
            c.fetch_add(1, Ordering::SeqCst);
            d2.redispatch(op, ks.after(DispatchKey::Tracer), s)
        },
    )
    .unwrap();
    let x = fake(Device::Cpu);
    let _inc = IncludeDispatchKeyGuard::new(DispatchKey::Tracer);
    d.call(op, vec![x.clone().into()]).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the key's fallback did not run"
    );
    assert_eq!(taken(&log), ["CPU"]);
    // an op-level fallthrough beats the key's fallback
    d.register_fallthrough(op, DispatchKey::Tracer).unwrap();
    d.call(op, vec![x.into()]).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "fallthrough did not skip the fallback"
    );
    assert_eq!(taken(&log), ["CPU"]);
    let dump = d.dump("t::f").unwrap();
    assert!(
        dump.contains("Tracer:") && dump.contains("fallthrough [op]"),
        "{dump}"
    );
    assert!(
        dump.contains("BackendSelect:") && dump.contains("fallthrough [key]"),
        "{dump}"
    );
    let line = |k: &str| {
        dump.lines()
            .find(|l| l.starts_with(&format!("{k}:")))
            .map(|l| l.split_once(':').unwrap().1.trim().to_string())
    };
    assert_eq!(line("CPU").as_deref(), Some("kernel [f_CPU]"), "{dump}");
    assert_eq!(line("Wgpu").as_deref(), Some("missing"), "{dump}");
    assert_eq!(
        line("Tracer").as_deref(),
        Some("fallthrough [op]"),
        "{dump}"
    );
}

#[test]
fn no_kernel_names_op_key_and_available_keys() {
    let (d, op, _log) = setup(&[DispatchKey::Cpu]);
    let e = d.call(op, vec![fake(Device::Wgpu(0)).into()]).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::NoKernel {
                key: DispatchKey::Wgpu,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "t::f: no kernel for dispatch key Wgpu; keys with a kernel: [CPU]"
    );
}

#[test]
fn tensors_on_two_devices_are_a_device_mismatch() {
    let d = Dispatcher::new();
    let op = d.define("t::h(Tensor a, Tensor b) -> Tensor").unwrap();
    let e = d
        .call(
            op,
            vec![fake(Device::Cpu).into(), fake(Device::Wgpu(0)).into()],
        )
        .unwrap_err();
    assert!(matches!(e, Error::DeviceMismatch { .. }));
    assert!(
        e.to_string().contains("t::h")
            && e.to_string().contains("cpu")
            && e.to_string().contains("wgpu"),
        "{e}"
    );
}

#[test]
fn factory_ops_reach_backend_select() {
    // the global dispatcher routes a factory op to the backend its device names
    let lib = Library::new("factory_test").unwrap();
    lib.def("factory_test::make(int n, Device device) -> int")
        .unwrap();
    for (k, tag) in [(DispatchKey::Cpu, 1), (DispatchKey::Wgpu, 2)] {
        lib.impl_kernel("make", k, move |_, ks, s| {
            assert!(!ks.contains(DispatchKey::BackendSelect));
            let n = s.int("make", 0)?;
            s.clear();
            s.push(IValue::Int(n * 10 + tag));
            Ok(())
        })
        .unwrap();
    }
    let d = Dispatcher::global();
    let out = d
        .call_boxed(
            "factory_test::make",
            vec![IValue::Int(4), IValue::Device(Device::Cpu)],
        )
        .unwrap();
    assert!(matches!(out[0], IValue::Int(41)));
    let out = d
        .call_boxed(
            "factory_test::make",
            vec![IValue::Int(4), IValue::Device(Device::Wgpu(0))],
        )
        .unwrap();
    assert!(matches!(out[0], IValue::Int(42)));
}

#[test]
fn custom_op_with_wrong_argument_types_is_a_schema_error() {
    let lib = Library::new("schema_test").unwrap();
    lib.def("schema_test::scale(Tensor x, float alpha=1.0) -> Tensor")
        .unwrap();
    let d = Dispatcher::global();
    let e = d
        .call_boxed("schema_test::scale", vec![IValue::Int(3)])
        .unwrap_err();
    assert!(matches!(e, Error::Schema { .. }));
    assert!(
        e.to_string().contains("schema_test::scale") && e.to_string().contains("Tensor x"),
        "{e}"
    );
    let e = d
        .call_boxed(
            "schema_test::scale",
            vec![fake(Device::Cpu).into(), IValue::Str("two".into())],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("float alpha") && e.to_string().contains("str"),
        "{e}"
    );
    assert!(matches!(
        d.call_boxed("schema_test::nope", vec![]),
        Err(Error::UnknownOp(_))
    ));
    assert!(
        lib.def("other::x(Tensor a) -> Tensor").is_err(),
        "a library defined outside its namespace"
    );
    assert!(
        lib.def("schema_test::scale(Tensor x) -> Tensor").is_err(),
        "a name was defined twice"
    );
}
