//! Graph passes: dead-code elimination, common-subexpression elimination,
//! constant folding. Each leaves what `run` returns unchanged.
//!
//! Note [What the passes may assume]: kiln ops are pure functions of their
//! arguments (there are no in-place ops; `rand`/`randn` take their seed as an
//! argument), so two calls with equal arguments give equal results and a
//! call whose results nobody uses can go. The one exception is `empty`,
//! whose contents are unspecified: it is never merged or folded.

use crate::graph::{Arg, Graph, Node, TensorType, Value};
use crate::state::PausedTracing;
use kiln_core::{op, Dispatcher, IValue, OpId, Result, Tensor};
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{HashMap, HashSet};

impl Graph {
    /// Removes every node whose results cannot reach an output (inputs
    /// stay). Returns how many nodes went.
    pub fn eliminate_dead_code(&mut self) -> usize {
        let mut live: HashSet<NodeIndex> = self.inputs.iter().copied().collect();
        let mut work: Vec<NodeIndex> = self.outputs.iter().map(|v| v.node).collect();
        while let Some(ix) = work.pop() {
            if live.insert(ix) {
                work.extend(
                    self.g
                        .edges_directed(ix, Direction::Incoming)
                        .map(|e| e.source())
                        .filter(|s| !live.contains(s)),
                );
            }
        }
        let dead: Vec<NodeIndex> = self
            .order
            .iter()
            .copied()
            .filter(|ix| !live.contains(ix))
            .collect();
        for &ix in &dead {
            self.remove_node(ix);
        }
        dead.len()
    }

    /// Merges op nodes that call the same op on the same values with the
    /// same attributes, and constants with the same type and bytes, keeping
    /// the first. Returns how many nodes went.
    pub fn eliminate_common_subexpressions(&mut self) -> usize {
        let mut ops: HashMap<(OpId, Vec<Value>, String), NodeIndex> = HashMap::new();
        let mut constants: HashMap<(TensorType, Vec<u8>), NodeIndex> = HashMap::new();
        let mut removed = 0;
        for ix in self.order.clone() {
            let seen = match &self.g[ix] {
                Node::Input { .. } => continue,
                Node::Constant(t) => {
                    let Ok(bytes) = t.to_bytes() else { continue };
                    *constants.entry((TensorType::of(t), bytes)).or_insert(ix)
                }
                Node::Op(o) if o.op == op::EMPTY => continue,
                Node::Op(o) => {
                    let key = (o.op, self.node_inputs(ix), format!("{:?}", o.args));
                    *ops.entry(key).or_insert(ix)
                }
            };
            if seen != ix {
                self.redirect_uses(ix, |slot| Value { node: seen, slot });
                self.remove_node(ix);
                removed += 1;
            }
        }
        removed
    }

    /// Runs every op node whose tensor inputs are all constants (and that
    /// has at least one) now, and replaces it with constants of its results;
    /// constants left unused are removed. Factory ops are kept as ops.
    /// Returns how many op nodes were folded.
    pub fn fold_constants(&mut self) -> Result<usize> {
        // Nothing run here may be recorded into a trace in progress.
        let _paused = PausedTracing::new();
        let d = Dispatcher::global();
        let mut folded = 0;
        for ix in self.order.clone() {
            let Node::Op(o) = &self.g[ix] else { continue };
            if o.op == op::EMPTY || o.num_inputs() == 0 {
                continue;
            }
            let ins = self.node_inputs(ix);
            let consts: Option<Vec<Tensor>> = ins
                .iter()
                .map(|v| match &self.g[v.node] {
                    Node::Constant(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let Some(consts) = consts else { continue };
            let mut consts = consts.into_iter();
            let mut stack = Vec::with_capacity(o.args.len());
            for a in &o.args {
                stack.push(match a {
                    Arg::Tensor => IValue::Tensor(consts.next().ok_or_else(|| missing(o.name()))?),
                    Arg::TensorList(n) => IValue::TensorList(consts.by_ref().take(*n).collect()),
                    Arg::Value(v) => v.clone(),
                });
            }
            let results: Vec<Tensor> = d
                .call(o.op, stack)?
                .into_iter()
                .flat_map(|r| match r {
                    IValue::Tensor(t) => vec![t],
                    IValue::TensorList(l) => l,
                    _ => vec![],
                })
                .collect();
            let new: Vec<Value> = results.into_iter().map(|t| self.add_constant(t)).collect();
            for v in &new {
                self.move_before(v.node, ix);
            }
            self.redirect_uses(ix, |slot| {
                new.get(slot).copied().unwrap_or(Value { node: ix, slot })
            });
            self.remove_node(ix);
            folded += 1;
        }
        let unused: Vec<NodeIndex> = self
            .order
            .iter()
            .copied()
            .filter(|&ix| matches!(self.g[ix], Node::Constant(_)) && !self.is_used(ix))
            .collect();
        for ix in unused {
            self.remove_node(ix);
        }
        Ok(folded)
    }
}

fn missing(op: &str) -> kiln_core::Error {
    kiln_core::Error::invalid(
        "Graph::fold_constants",
        format!("{op} has fewer inputs than its arguments need"),
    )
}
