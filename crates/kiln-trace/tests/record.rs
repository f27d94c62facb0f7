//! What the Tracer fallback records: ops, constants, attributes, custom ops,
//! factory ops and `empty`; and what `trace` does on errors, panics,
//! nesting and other threads.

mod common;

use kiln::core::factory;
use kiln::testing::devices;
use kiln::{
    is_dispatch_enabled, DType, Device, DispatchKey, Error, IValue, Library, NoTracerDispatchMode,
    Result, StackExt, StackResult, Tensor,
};
use kiln_trace::{is_tracing, trace, Node, TensorType};
use std::sync::OnceLock;

fn input(device: &Device) -> Tensor {
    kiln::from_vec(
        vec![-1.5f32, 0.0, 2.0, 3.5, -4.0, 5.0],
        &[2, 3],
        &Device::Cpu,
    )
    .unwrap()
    .to(device)
    .unwrap()
}

fn assert_no_tracing_left() {
    assert!(!is_tracing(), "the tracing state was left set");
    assert!(!is_dispatch_enabled(), "Tracer dispatch was left enabled");
}

#[test]
fn relu_is_one_input_one_node_one_output() {
    for dev in devices() {
        let x = input(&dev);
        let (outs, g) = trace(|i| i[0].relu(), std::slice::from_ref(&x)).unwrap();
        assert_eq!(g.inputs().len(), 1);
        assert_eq!(g.op_names(), vec!["kiln::relu"]);
        assert_eq!(g.outputs().len(), 1);
        assert_eq!(g.num_constants(), 0);
        let (ix, relu) = g.ops().next().unwrap();
        assert_eq!(relu.outputs, vec![TensorType::of(&outs[0])]);
        assert_eq!(relu.outputs[0].shape, vec![2, 3]);
        assert_eq!(relu.outputs[0].dtype, DType::F32);
        assert_eq!(relu.outputs[0].device, dev);
        assert_eq!(
            g.node_inputs(ix),
            vec![kiln_trace::Value {
                node: g.inputs()[0],
                slot: 0
            }]
        );
        assert_eq!(
            g.to_string(),
            format!(
                "graph(%0 : f32[2, 3] {dev}):\n  %1 : f32[2, 3] = kiln::relu(%0)\n  return (%1)\n"
            )
        );
        assert_no_tracing_left();
    }
}

#[test]
fn add_is_one_node_with_types_from_the_tensors() {
    for dev in devices() {
        let x = input(&dev);
        let y = kiln::from_vec(vec![1i32, 2, 3], &[3], &Device::Cpu)
            .unwrap()
            .to(&dev)
            .unwrap();
        let (outs, g) = trace(|i| i[0].add(&i[1]), &[x, y]).unwrap();
        assert_eq!(g.op_names(), vec!["kiln::add"]);
        assert_eq!(outs[0].dtype(), DType::F32);
        assert_eq!(
            g.to_string(),
            format!("graph(%0 : f32[2, 3] {dev}, %1 : i32[3] {dev}):\n  %2 : f32[2, 3] = kiln::add(%0, %1)\n  return (%2)\n")
        );
    }
}

#[test]
fn attributes_are_named_from_the_schema() {
    let x = input(&Device::Cpu);
    let (_, g) = trace(
        |i| {
            i[0].to_dtype(DType::F16)?
                .slice_step(1, 0, 3, 2)?
                .mul_scalar(0.5)
        },
        &[x],
    )
    .unwrap();
    assert_eq!(
        g.to_string(),
        "graph(%0 : f32[2, 3] cpu):
  %1 : f16[2, 3] = kiln::cast[dtype=f16](%0)
  %2 : f16[2, 2] = kiln::slice[dim=1, start=0, end=3, step=2](%1)
  %3 : f16[2, 2] = kiln::mul_scalar[other=0.5](%2)
  return (%3)
"
    );
    let (_, cast) = g.ops().next().unwrap();
    assert!(matches!(
        cast.attribute("dtype"),
        Some(IValue::DType(DType::F16))
    ));
}

#[test]
fn an_unseen_tensor_is_one_constant_reused_on_every_use() {
    for dev in devices() {
        let x = input(&dev);
        let w = kiln::from_vec(vec![2.0f32, 3.0, 4.0], &[3], &dev).unwrap();
        let (_, g) = trace(|i| i[0].mul(&w)?.add(&w)?.sub(&w), &[x]).unwrap();
        assert_eq!(g.num_constants(), 1, "{g}");
        assert_eq!(
            g.to_string(),
            format!(
                "graph(%0 : f32[2, 3] {dev}):
  %1 : f32[3] = prim::Constant[value=<Tensor>]()
  %2 : f32[2, 3] = kiln::mul(%0, %1)
  %3 : f32[2, 3] = kiln::add(%2, %1)
  %4 : f32[2, 3] = kiln::sub(%3, %1)
  return (%4)
"
            )
        );
        let constant = g.nodes().find_map(|(_, n)| match n {
            Node::Constant(t) => Some(t.clone()),
            _ => None,
        });
        assert_eq!(
            constant.unwrap().id(),
            w.id(),
            "the constant node holds the tensor itself"
        );
    }
}

#[test]
fn the_same_tensor_passed_twice_is_two_inputs() {
    for dev in devices() {
        let x = input(&dev);
        let (_, g) = trace(|i| i[0].sub(&i[1]), &[x.clone(), x.clone()]).unwrap();
        assert_eq!(g.inputs().len(), 2);
        assert!(g.to_string().contains("kiln::sub(%0, %1)"), "{g}");
        let a = kiln::full(&[2, 3], 5.0, DType::F32, &dev).unwrap();
        let b = kiln::full(&[2, 3], 2.0, DType::F32, &dev).unwrap();
        assert_eq!(
            g.run(&[a, b]).unwrap()[0].to_vec::<f32>().unwrap(),
            vec![3.0; 6]
        );
    }
}

#[test]
fn a_factory_op_called_inside_a_trace_is_recorded() {
    for dev in devices() {
        let x = input(&dev);
        let (_, g) = trace(
            |i| {
                let z = kiln::full(&[3], 2.0, DType::F32, &dev)?;
                let r = kiln::arange(0, 3, 1, DType::F32, &dev)?;
                i[0].mul(&z)?.add(&r)
            },
            &[x],
        )
        .unwrap();
        assert_eq!(
            g.op_names(),
            vec!["kiln::full", "kiln::arange", "kiln::mul", "kiln::add"]
        );
        assert_eq!(g.num_constants(), 0);
        assert!(
            g.to_string().contains(&format!(
                "%1 : f32[3] = kiln::full[size=[3], fill_value=2.0, dtype=f32, device={dev}]()"
            )),
            "{g}"
        );
    }
}

#[test]
fn an_output_made_only_by_a_recorded_factory_op_is_fine() {
    let x = input(&Device::Cpu);
    let (outs, g) = trace(|_| kiln::zeros(&[2], DType::I32, &Device::Cpu), &[x]).unwrap();
    assert_eq!(g.op_names(), vec!["kiln::zeros"]);
    assert_eq!(outs[0].to_vec::<i32>().unwrap(), vec![0, 0]);
}

#[test]
fn empty_called_inside_a_trace_is_recorded() {
    for dev in devices() {
        let x = input(&dev);
        let (_, g) = trace(
            |i| {
                let e = kiln::empty(&[2, 3], DType::F32, &dev)?;
                i[0].add(&e.mul_scalar(0.0)?)
            },
            &[x],
        )
        .unwrap();
        assert_eq!(
            g.op_names(),
            vec!["kiln::empty", "kiln::mul_scalar", "kiln::add"]
        );
        assert_eq!(g.num_constants(), 0);
    }
}

#[test]
fn empty_under_no_tracer_dispatch_mode_is_not_recorded_and_enters_as_a_constant() {
    for dev in devices() {
        let x = input(&dev);
        let (_, g) = trace(
            |i| {
                let e = {
                    let _guard = NoTracerDispatchMode::new();
                    kiln::empty(&[2, 3], DType::F32, &dev)?
                };
                assert_eq!(
                    kiln_trace::get_tracing_state()
                        .unwrap()
                        .borrow()
                        .graph
                        .op_names()
                        .len(),
                    0
                );
                i[0].add(&e)
            },
            &[x],
        )
        .unwrap();
        assert_eq!(g.count_op("kiln::empty"), 0);
        assert_eq!(g.num_constants(), 1);
        assert_eq!(
            g.to_string(),
            format!(
                "graph(%0 : f32[2, 3] {dev}):
  %1 : f32[2, 3] = prim::Constant[value=<Tensor>]()
  %2 : f32[2, 3] = kiln::add(%0, %1)
  return (%2)
"
            )
        );
    }
}

#[test]
fn from_vec_inside_a_trace_records_no_empty() {
    for dev in devices() {
        let x = input(&dev);
        let (_, g) = trace(
            |i| {
                let w = kiln::from_vec(vec![1.0f32, 2.0, 3.0], &[3], &dev)?;
                i[0].mul(&w)
            },
            &[x],
        )
        .unwrap();
        assert_eq!(g.op_names(), vec!["kiln::mul"]);
        assert_eq!(g.num_constants(), 1);
    }
}

/// `trace_test::fill_like(Tensor self, float value) -> Tensor`: allocates its
/// output through the dispatcher's `empty`, as a kernel of a backend that
/// has no allocator of its own would.
fn fill_like_op() -> &'static str {
    static DEF: OnceLock<()> = OnceLock::new();
    DEF.get_or_init(|| {
        kiln::init().unwrap();
        let lib = Library::new("trace_test").unwrap();
        lib.def("trace_test::fill_like(Tensor self, float value) -> Tensor")
            .unwrap();
        for key in [DispatchKey::Cpu, DispatchKey::Wgpu] {
            lib.impl_kernel("fill_like", key, |_, _, s| {
                let x = s.tensor("fill_like", 0)?.clone();
                let v = s.float("fill_like", 1)? as f32;
                let mut out = factory::empty(x.shape(), DType::F32, &x.device())?;
                let bytes: Vec<u8> = std::iter::repeat_n(v.to_le_bytes(), x.numel())
                    .flatten()
                    .collect();
                out.storage_mut()
                    .ok_or_else(|| Error::invalid("fill_like", "fresh tensor shared"))?
                    .write_bytes(&bytes)?;
                s.set_result(out);
                Ok(())
            })
            .unwrap();
        }
    });
    "trace_test::fill_like"
}

#[test]
fn a_kernel_that_allocates_via_empty_records_only_its_own_op() {
    let name = fill_like_op();
    for dev in devices() {
        let x = input(&dev);
        let (outs, g) = trace(
            |i| {
                let out = kiln::Dispatcher::global()
                    .call_boxed(name, vec![i[0].clone().into(), IValue::Float(7.0)])?;
                match out.into_iter().next() {
                    Some(IValue::Tensor(t)) => Ok(t),
                    _ => Err(Error::invalid("test", "no tensor")),
                }
            },
            &[x],
        )
        .unwrap();
        assert_eq!(g.op_names(), vec![name], "{g}");
        assert_eq!(outs[0].to_vec::<f32>().unwrap(), vec![7.0; 6]);
        assert!(
            g.to_string()
                .contains("trace_test::fill_like[value=7.0](%0)"),
            "{g}"
        );
    }
}

/// `trace_test::axpb(Tensor self, Tensor b, float a) -> Tensor` = `self * a + b`,
/// with only backend kernels (no Tracer kernel), written with other ops.
fn axpb_op() -> &'static str {
    static DEF: OnceLock<()> = OnceLock::new();
    DEF.get_or_init(|| {
        kiln::init().unwrap();
        let lib = Library::new("trace_test_axpb").unwrap();
        lib.def("trace_test_axpb::axpb(Tensor self, Tensor b, float a) -> Tensor")
            .unwrap();
        for key in [DispatchKey::Cpu, DispatchKey::Wgpu] {
            lib.impl_kernel("axpb", key, |_, _, s| {
                let x = s.tensor("axpb", 0)?.clone();
                let b = s.tensor("axpb", 1)?.clone();
                let a = s.float("axpb", 2)?;
                let out = x.mul_scalar(a)?.add(&b)?;
                s.set_result(out);
                Ok(())
            })
            .unwrap();
        }
    });
    "trace_test_axpb::axpb"
}

fn axpb(x: &Tensor, b: &Tensor, a: f64) -> Result<Tensor> {
    let out = kiln::Dispatcher::global()
        .call_boxed(axpb_op(), vec![x.into(), b.into(), IValue::Float(a)])?;
    match out.into_iter().next() {
        Some(IValue::Tensor(t)) => Ok(t),
        _ => Err(Error::invalid("test", "no tensor")),
    }
}

#[test]
fn a_custom_op_is_recorded_once_and_its_inner_ops_are_not() {
    for dev in devices() {
        let x = input(&dev);
        let b = kiln::full(&[3], 1.0, DType::F32, &dev).unwrap();
        let (outs, g) = trace(|i| axpb(&i[0], &i[1], 2.0), &[x.clone(), b.clone()]).unwrap();
        assert_eq!(g.op_names(), vec![axpb_op()], "{g}");
        assert_eq!(
            g.to_string(),
            format!(
                "graph(%0 : f32[2, 3] {dev}, %1 : f32[3] {dev}):\n  %2 : f32[2, 3] = trace_test_axpb::axpb[a=2.0](%0, %1)\n  return (%2)\n"
            )
        );
        // Replay calls the custom op again.
        let eager = x.mul_scalar(2.0).unwrap().add(&b).unwrap();
        assert_eq!(
            outs[0].to_vec::<f32>().unwrap(),
            eager.to_vec::<f32>().unwrap()
        );
        assert_eq!(
            g.run(&[x, b]).unwrap()[0].to_vec::<f32>().unwrap(),
            eager.to_vec::<f32>().unwrap()
        );
    }
}

#[test]
fn an_err_inside_the_traced_function_propagates_and_clears_the_state() {
    let x = input(&Device::Cpu);
    let bad = kiln::zeros(&[4], DType::F32, &Device::Cpu).unwrap();
    let e = trace(|i| i[0].add(&i[0])?.add(&bad), std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(e, Error::Broadcast { .. }), "{e}");
    assert_no_tracing_left();
    let e = trace(
        |_| -> Result<Tensor> { Err(Error::invalid("user", "my own error")) },
        std::slice::from_ref(&x),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "user: my own error");
    assert_no_tracing_left();
    // A later trace starts clean.
    let (_, g) = trace(|i| i[0].mul(&i[0]), &[x]).unwrap();
    assert_eq!(g.op_names(), vec!["kiln::mul"]);
}

#[test]
fn a_panic_inside_the_traced_function_propagates_and_clears_the_state() {
    let x = input(&Device::Cpu);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = trace(
            |i| -> Result<Tensor> {
                let _y = i[0].add(&i[0])?;
                panic!("boom inside the trace");
            },
            std::slice::from_ref(&x),
        );
    }));
    let msg = r.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"boom inside the trace"));
    assert_no_tracing_left();
    let (_, g) = trace(|i| i[0].mul(&i[0]), &[x]).unwrap();
    assert_eq!(g.op_names(), vec!["kiln::mul"]);
}

#[test]
fn a_failed_op_inside_a_trace_is_not_recorded_and_tracing_goes_on() {
    let x = input(&Device::Cpu);
    let bad = kiln::zeros(&[4], DType::F32, &Device::Cpu).unwrap();
    let (_, g) = trace(
        |i| {
            assert!(i[0].add(&bad).is_err());
            assert!(
                is_tracing() && is_dispatch_enabled(),
                "the state is restored after a failed redispatch"
            );
            i[0].mul(&i[0])
        },
        &[x],
    )
    .unwrap();
    assert_eq!(g.op_names(), vec!["kiln::mul"]);
    assert_eq!(
        g.num_constants(),
        0,
        "the failed op left no constant behind"
    );
}

#[test]
fn a_nested_trace_is_an_error_and_leaves_the_outer_trace_intact() {
    let x = input(&Device::Cpu);
    let (_, g) = trace(
        |i| {
            let a = i[0].add(&i[0])?;
            let inner = trace(|j| j[0].mul(&j[0]), std::slice::from_ref(&a));
            let e = inner.unwrap_err();
            assert!(matches!(e, Error::Tracing(_)), "{e}");
            assert!(e.to_string().contains("already tracing"), "{e}");
            assert!(
                is_tracing() && is_dispatch_enabled(),
                "the outer trace goes on"
            );
            a.sub(&i[0])
        },
        &[x],
    )
    .unwrap();
    assert_eq!(g.op_names(), vec!["kiln::add", "kiln::sub"]);
    assert_no_tracing_left();
}

#[test]
fn an_output_with_no_data_dependence_is_an_error() {
    let x = input(&Device::Cpu);
    let w = kiln::from_vec(vec![1.0f32, 2.0], &[2], &Device::Cpu).unwrap();
    let e = trace(
        |i| Ok(vec![i[0].add(&i[0])?, w.clone()]),
        std::slice::from_ref(&x),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "trace: output 1 of traced region did not have observable data dependence with trace inputs; \
         this probably indicates your program cannot be understood by the tracer"
    );
    assert_no_tracing_left();
    // A tensor made inside the trace by from_vec is not recorded either.
    let e = trace(|_| kiln::from_vec(vec![1.0f32], &[1], &Device::Cpu), &[x]).unwrap_err();
    assert!(
        e.to_string()
            .contains("output 0 of traced region did not have observable data dependence"),
        "{e}"
    );
}

#[test]
fn an_op_on_a_spawned_thread_is_not_recorded_and_that_thread_is_not_tracing() {
    let x = input(&Device::Cpu);
    let (outs, g) = trace(
        |i| {
            let a = i[0].clone();
            let (tracing, enabled, y) =
                std::thread::spawn(move || (is_tracing(), is_dispatch_enabled(), a.mul(&a)))
                    .join()
                    .unwrap();
            assert!(
                !tracing && !enabled,
                "a spawned thread starts with the defaults"
            );
            i[0].add(&y?)
        },
        std::slice::from_ref(&x),
    )
    .unwrap();
    assert_eq!(g.op_names(), vec!["kiln::add"], "{g}");
    assert_eq!(
        g.num_constants(),
        1,
        "the other thread's result enters as a constant"
    );
    let want = x.add(&x.mul(&x).unwrap()).unwrap();
    assert_eq!(
        outs[0].to_vec::<f32>().unwrap(),
        want.to_vec::<f32>().unwrap()
    );
}

#[test]
fn an_op_on_a_rayon_worker_is_not_recorded_and_the_worker_is_not_tracing() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let x = input(&Device::Cpu);
    let (_, g) = trace(
        |i| {
            let a = &i[0];
            let results: Vec<(bool, bool, Result<Tensor>)> = pool.install(|| {
                use rayon::prelude::*;
                (0..4)
                    .into_par_iter()
                    .map(|k| (is_tracing(), is_dispatch_enabled(), a.mul_scalar(k)))
                    .collect()
            });
            let mut acc = i[0].clone();
            for (tracing, enabled, r) in results {
                assert!(!tracing && !enabled, "a rayon worker sees the defaults");
                acc = acc.add(&r?)?;
            }
            Ok(acc)
        },
        &[x],
    )
    .unwrap();
    assert_eq!(g.op_names(), vec!["kiln::add"; 4], "{g}");
    assert_eq!(g.num_constants(), 4);
}
