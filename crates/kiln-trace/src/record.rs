//! The Tracer kernel: one boxed fallback for the `Tracer` key that records
//! every op, custom ops included, and redispatches below itself.
//!
//! Note [Nothing below the tracer is recorded]: the redispatch runs with the
//! tracing state set to `None` (which also takes `Tracer` out of the
//! thread's included set), so an op that a kernel calls internally (the
//! `empty` for its output, the `transpose` and `matmul` of the `linear`
//! composite, a custom op's helpers) computes a key set without `Tracer` and
//! is not recorded. The state is restored when the redispatch returns, on
//! `Err` and on panic as well (`PausedTracing` is a drop guard).
//!
//! Tensor arguments are looked up before the redispatch (while they are
//! still on the stack, with no copy of the handles); if the op then fails,
//! the constants made for it are removed again, so a failed op leaves
//! nothing in the graph.

use crate::graph::{Arg, OpNode, TensorType, Value};
use crate::state::{get_tracing_state, PausedTracing};
use kiln_core::{
    is_dispatch_enabled, DispatchKey, DispatchKeySet, Dispatcher, IValue, OpId, Result, Stack,
    Tensor,
};
use std::sync::OnceLock;

/// Registers the Tracer fallback in `d`. `kiln::init()` calls this for the
/// global dispatcher; [`crate::trace`] makes sure of it too.
pub fn register(d: &Dispatcher) -> Result<()> {
    d.register_fallback(DispatchKey::Tracer, "kiln_trace::record", tracer_fallback)
}

/// Registers the fallback in the global dispatcher once.
pub(crate) fn ensure_registered() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(|| register(Dispatcher::global())).clone()
}

/// The boxed kernel of the `Tracer` key (see Note [Nothing below the tracer
/// is recorded]).
pub fn tracer_fallback(op: OpId, ks: DispatchKeySet, stack: &mut Stack) -> Result<()> {
    let d = Dispatcher::global();
    let below = ks.after(DispatchKey::Tracer);
    // The dispatcher only comes here with `Tracer` in the call's key set;
    // recording also needs a state and the key not excluded right now.
    let state = match get_tracing_state() {
        Some(s) if is_dispatch_enabled() => s,
        _ => return d.redispatch(op, below, stack),
    };
    let schema = d.schema(op)?;

    // Look the tensor arguments up now (an unseen one becomes a constant)
    // and keep the rest as attributes.
    let mut args: Vec<Arg> = Vec::with_capacity(stack.len());
    let mut in_values: Vec<Value> = Vec::with_capacity(stack.len());
    let mut new_constants: Vec<Value> = Vec::new();
    {
        let mut st = state.borrow_mut();
        let mut see = |t: &Tensor| {
            let (v, new) = st.value_or_constant(t);
            if new {
                new_constants.push(v);
            }
            in_values.push(v);
        };
        for v in stack.iter() {
            match v {
                IValue::Tensor(t) => {
                    see(t);
                    args.push(Arg::Tensor);
                }
                IValue::TensorList(l) => {
                    l.iter().for_each(&mut see);
                    args.push(Arg::TensorList(l.len()));
                }
                other => args.push(Arg::Value(other.clone())),
            }
        }
    }

    let result = {
        let _paused = PausedTracing::new();
        d.redispatch(op, below, stack)
    };
    let mut st = state.borrow_mut();
    if let Err(e) = result {
        // A failed op leaves no trace, not even the constants made for it.
        st.forget_constants(&new_constants);
        return Err(e);
    }

    let mut outputs = Vec::with_capacity(1);
    for v in stack.iter() {
        match v {
            IValue::Tensor(t) => outputs.push(TensorType::of(t)),
            IValue::TensorList(l) => outputs.extend(l.iter().map(TensorType::of)),
            _ => {}
        }
    }
    let node = OpNode {
        op,
        schema,
        args,
        outputs,
    };
    let ix = st.graph.add_op(node, &in_values);
    let mut slot = 0;
    for v in stack.iter() {
        let mut map = |t: &Tensor| {
            st.set_value(t, Value { node: ix, slot });
            slot += 1;
        };
        match v {
            IValue::Tensor(t) => map(t),
            IValue::TensorList(l) => l.iter().for_each(map),
            _ => {}
        }
    }
    Ok(())
}
