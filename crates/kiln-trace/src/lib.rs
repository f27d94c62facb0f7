//! kiln-trace: records the ops a piece of code runs into a graph, through
//! the `Tracer` dispatch key, the way PyTorch's tracer does (see
//! `TracerMode.h` and DESIGN.md's "Tracing").
//!
//! - [`trace`] runs a closure under a fresh [`TracingState`] and returns its
//!   results and the [`Graph`];
//! - one boxed fallback for the `Tracer` key ([`register`]) records every
//!   op, custom ops included, then redispatches below itself with tracing
//!   paused, so nothing a kernel calls inside is recorded;
//! - the switches: [`get_tracing_state`], [`set_tracing_state`] (which moves
//!   `set_dispatch_enabled` with it), [`is_tracing`]; `NoTracerDispatchMode`
//!   (from kiln-core) pauses recording without ending the trace;
//! - a [`Graph`] prints as IR text (`{}`), exports to DOT
//!   ([`Graph::to_dot`]) and JSON ([`Graph::to_json`], [`Graph::from_json`]),
//!   replays on any backend ([`Graph::run`]), and has three passes
//!   ([`Graph::eliminate_dead_code`], [`Graph::eliminate_common_subexpressions`],
//!   [`Graph::fold_constants`]).
//!
//! ```
//! use kiln::Device;
//! use kiln_trace::{trace, Graph};
//!
//! let x = kiln::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &Device::Cpu)?;
//! // A weight made outside the traced code enters the graph as a constant.
//! let w = kiln::from_vec(vec![0.5f32, -1.0, 2.0], &[3], &Device::Cpu)?;
//! let (out, mut graph) = trace(|i| i[0].mul(&w)?.add(&i[0])?.sub_scalar(1.0), std::slice::from_ref(&x))?;
//! graph.set_input_names(&["x"])?;
//!
//! // IR text: one line per node, types from the concrete tensors.
//! assert_eq!(
//!     graph.to_string(),
//!     "graph(%x : f32[2, 3] cpu):
//!   %1 : f32[3] = prim::Constant[value=<Tensor>]()
//!   %2 : f32[2, 3] = kiln::mul(%x, %1)
//!   %3 : f32[2, 3] = kiln::add(%2, %x)
//!   %4 : f32[2, 3] = kiln::sub_scalar[other=1.0](%3)
//!   return (%4)
//! "
//! );
//!
//! // DOT, for Graphviz: nodes labelled with op names and result types.
//! let dot = graph.to_dot();
//! assert!(dot.starts_with("digraph {"));
//! assert!(dot.contains(r#"label = "kiln::sub_scalar\lf32[2, 3]""#));
//!
//! // JSON round-trips exactly, constants included.
//! let json = graph.to_json()?;
//! assert!(json.contains(r#""op": "kiln::mul""#));
//! let loaded = Graph::from_json(&json)?;
//! assert_eq!(loaded.to_json()?, json);
//!
//! // Replay on new inputs of the same type: equal to running the code eagerly.
//! let y = kiln::from_vec(vec![-1.0f32, 0.0, 1.0, 2.0, 3.0, 4.0], &[2, 3], &Device::Cpu)?;
//! let eager = y.mul(&w)?.add(&y)?.sub_scalar(1.0)?;
//! assert_eq!(loaded.run(&[y])?[0].to_vec::<f32>()?, eager.to_vec::<f32>()?);
//! assert_eq!(out[0].to_vec::<f32>()?, vec![0.5, -1.0, 8.0, 5.0, -1.0, 17.0]);
//! # Ok::<(), kiln::Error>(())
//! ```

mod graph;
mod ir;
mod json;
mod passes;
mod record;
mod replay;
mod state;
mod trace;

pub use graph::{Arg, Edge, Graph, Node, OpNode, TensorType, Value};
pub use petgraph::stable_graph::NodeIndex;
pub use record::{register, tracer_fallback};
pub use state::{get_tracing_state, is_tracing, set_tracing_state, TracingState, TracingStateRef};
pub use trace::{trace, TraceOutputs};
