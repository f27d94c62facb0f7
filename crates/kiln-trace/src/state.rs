//! The tracing state and its thread-local slot: PyTorch's
//! `setTracingState` / `getTracingState` / `isTracing`.
//!
//! Note [Two switches move together]: recording needs a tracing state *and*
//! `Tracer` in the thread's included key set (and not excluded). As in
//! PyTorch, [`set_tracing_state`] flips the second switch too
//! (`set_dispatch_enabled(state.is_some())`), so user code never sees one
//! without the other. `NoTracerDispatchMode` only excludes the key: the
//! state stays set, `is_tracing()` stays true, nothing is recorded.

use crate::graph::{Graph, Node, TensorType, Value};
use kiln_core::{
    set_dispatch_enabled, tls_is_dispatch_key_included, tls_set_dispatch_key_included, DispatchKey,
    Result, Tensor, TensorId,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// Tensor ids are distinct `u64`s from a counter: one multiply spreads them
/// well enough, and hashing them is on the recording hot path.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type IdMap<V> = HashMap<TensorId, V, BuildHasherDefault<IdHasher>>;

/// What a trace in progress knows: the graph so far, which graph value each
/// tensor it has seen is, and the constant node of each tensor that entered
/// from outside.
#[derive(Default)]
pub struct TracingState {
    /// The graph recorded so far.
    pub graph: Graph,
    /// Tensor identity -> the graph value it is (inputs and op results).
    values: IdMap<Value>,
    /// Tensor identity -> its constant node's value (tensors that did not
    /// come from an input or a recorded op), so a second use reuses it.
    constants: IdMap<Value>,
}

impl TracingState {
    /// An empty state.
    pub fn new() -> TracingState {
        TracingState::default()
    }

    /// Makes `t` a new graph input.
    pub fn add_input(&mut self, t: &Tensor) -> Value {
        let v = self.graph.add_input(TensorType::of(t));
        self.values.insert(t.id(), v);
        v
    }

    /// The graph value of `t`, if it came from an input or a recorded op.
    pub fn value_of(&self, t: &Tensor) -> Option<Value> {
        self.values.get(&t.id()).copied()
    }

    /// Records that `t` is graph value `v`.
    pub fn set_value(&mut self, t: &Tensor, v: Value) {
        self.values.insert(t.id(), v);
    }

    /// The value of `t` as an op argument: its traced value, or its
    /// constant node (made on first use; `true` when made now).
    pub fn value_or_constant(&mut self, t: &Tensor) -> (Value, bool) {
        if let Some(v) = self.value_of(t) {
            return (v, false);
        }
        if let Some(&v) = self.constants.get(&t.id()) {
            return (v, false);
        }
        let v = self.graph.add_constant(t.clone());
        self.constants.insert(t.id(), v);
        (v, true)
    }

    /// Removes constant nodes made for an op that then failed.
    pub(crate) fn forget_constants(&mut self, made: &[Value]) {
        for v in made {
            if let Some(Node::Constant(t)) = self.graph.node(v.node) {
                self.constants.remove(&t.id());
            }
            self.graph.remove_node(v.node);
        }
    }
}

/// A handle to a tracing state, shared between `trace` and the thread's slot.
pub type TracingStateRef = Rc<RefCell<TracingState>>;

thread_local! {
    static STATE: RefCell<Option<TracingStateRef>> = const { RefCell::new(None) };
}

/// This thread's tracing state, if a trace is in progress.
pub fn get_tracing_state() -> Option<TracingStateRef> {
    STATE.with(|s| s.borrow().clone())
}

/// Sets (or with `None` clears) this thread's tracing state, and turns
/// Tracer dispatch on or off with it (see Note [Two switches move
/// together]). Inside `NoTracerDispatchMode` this fails as
/// `set_dispatch_enabled` does and changes nothing.
pub fn set_tracing_state(state: Option<TracingStateRef>) -> Result<()> {
    set_dispatch_enabled(state.is_some())?;
    STATE.with(|s| *s.borrow_mut() = state);
    Ok(())
}

/// Whether this thread has a tracing state (true inside
/// `NoTracerDispatchMode` too: the mode pauses recording, not the trace).
pub fn is_tracing() -> bool {
    STATE.with(|s| s.borrow().is_some())
}

/// Sets both switches without the `NoTracerDispatchMode` check: for the
/// internal pause/restore around a redispatch and for cleanup on unwind,
/// which must not fail.
pub(crate) fn swap_state_unchecked(state: Option<TracingStateRef>) -> Option<TracingStateRef> {
    tls_set_dispatch_key_included(DispatchKey::Tracer, state.is_some());
    STATE.with(|s| std::mem::replace(&mut *s.borrow_mut(), state))
}

/// RAII: the tracing state is `None` (and Tracer dispatch off) while it
/// lives; both switches come back as they were on drop, on an error or a
/// panic too.
pub(crate) struct PausedTracing {
    saved: Option<TracingStateRef>,
    was_included: bool,
}

impl PausedTracing {
    pub(crate) fn new() -> PausedTracing {
        let was_included = tls_is_dispatch_key_included(DispatchKey::Tracer);
        PausedTracing {
            saved: swap_state_unchecked(None),
            was_included,
        }
    }
}

impl Drop for PausedTracing {
    fn drop(&mut self) {
        STATE.with(|s| *s.borrow_mut() = self.saved.take());
        tls_set_dispatch_key_included(DispatchKey::Tracer, self.was_included);
    }
}
