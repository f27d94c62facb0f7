//! `trace(f, inputs)`: the entry point that runs `f` under a fresh tracing
//! state and returns its results with the recorded graph.

use crate::graph::Graph;
use crate::record::ensure_registered;
use crate::state::{is_tracing, set_tracing_state, swap_state_unchecked, TracingState};
use kiln_core::{Error, Result, Tensor};
use std::cell::RefCell;
use std::rc::Rc;

/// What a traced function may return: one tensor, or several.
pub trait TraceOutputs {
    /// The tensors, in output order.
    fn into_tensors(self) -> Vec<Tensor>;
}

impl TraceOutputs for Tensor {
    fn into_tensors(self) -> Vec<Tensor> {
        vec![self]
    }
}

impl TraceOutputs for Vec<Tensor> {
    fn into_tensors(self) -> Vec<Tensor> {
        self
    }
}

impl<const N: usize> TraceOutputs for [Tensor; N] {
    fn into_tensors(self) -> Vec<Tensor> {
        self.into()
    }
}

impl TraceOutputs for (Tensor, Tensor) {
    fn into_tensors(self) -> Vec<Tensor> {
        vec![self.0, self.1]
    }
}

impl TraceOutputs for (Tensor, Tensor, Tensor) {
    fn into_tensors(self) -> Vec<Tensor> {
        vec![self.0, self.1, self.2]
    }
}

/// Clears the thread's tracing state when dropped: the one way out of
/// `trace` for `Ok`, `Err` and panic alike.
struct ClearOnExit;

impl Drop for ClearOnExit {
    fn drop(&mut self) {
        swap_state_unchecked(None);
    }
}

/// Runs `f` on `inputs` while recording every op it dispatches, and returns
/// `f`'s results with the graph.
///
/// Each input becomes a graph input; `f` receives fresh handles to the same
/// storage, so the same tensor passed twice gives two distinct inputs (use
/// the handles `f` is given: a tensor captured from outside enters the
/// graph as a constant). Any tensor `f` uses without computing it from an
/// input becomes a constant node. The thread's tracing state is cleared on
/// every way out, including `Err` from `f` and a panic.
///
/// Errors: a trace already in progress on this thread (the outer trace is
/// left as it was), a call inside `NoTracerDispatchMode`, `f`'s own error,
/// and a result that depends on no input and no recorded op ("output N of
/// traced region did not have observable data dependence with trace
/// inputs").
pub fn trace<F, O>(f: F, inputs: &[Tensor]) -> Result<(Vec<Tensor>, Graph)>
where
    F: FnOnce(&[Tensor]) -> Result<O>,
    O: TraceOutputs,
{
    ensure_registered()?;
    if is_tracing() {
        return Err(Error::Tracing(
            "trace() was called while this thread is already tracing; nested traces are not supported \
             (the outer trace is left running)"
                .into(),
        ));
    }
    let handles = inputs
        .iter()
        .map(|t| t.with_layout("trace", t.layout().clone()))
        .collect::<Result<Vec<_>>>()?;
    let state = Rc::new(RefCell::new(TracingState::new()));
    {
        let mut st = state.borrow_mut();
        for t in &handles {
            st.add_input(t);
        }
    }
    set_tracing_state(Some(state.clone()))?;
    let outputs = {
        let _clear = ClearOnExit;
        f(&handles)?.into_tensors()
    };

    let mut st = state.borrow_mut();
    let mut values = Vec::with_capacity(outputs.len());
    for (i, t) in outputs.iter().enumerate() {
        match st.value_of(t) {
            Some(v) => values.push(v),
            None => {
                return Err(Error::Tracing(format!(
                    "output {i} of traced region did not have observable data dependence with trace inputs; \
                     this probably indicates your program cannot be understood by the tracer"
                )))
            }
        }
    }
    let mut graph = std::mem::take(&mut st.graph);
    graph.set_outputs(values);
    Ok((outputs, graph))
}
