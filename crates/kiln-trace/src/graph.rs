//! The traced graph: a petgraph `StableDiGraph` of inputs, constants and op
//! nodes, whose edges carry the producer's output slot and the consumer's
//! input slot.
//!
//! Note [Node order]: `Graph::order` lists the nodes in the order they were
//! recorded, which is a topological order (a node's inputs exist before it
//! does). Petgraph's stable indices are not an order: a pass that removes a
//! node leaves a hole that a later `add_node` may reuse. The IR printer, the
//! JSON writer and replay all walk `order`; every pass keeps it up to date.

use crate::replay::Plan;
use kiln_core::{DType, Device, Error, IValue, OpId, OpSchema, Result, Tensor};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The type of a tensor value in the graph, taken from the concrete tensor
/// seen while tracing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Dims.
    pub shape: Vec<usize>,
    /// Device.
    pub device: Device,
}

impl TensorType {
    /// The type of `t`.
    pub fn of(t: &Tensor) -> TensorType {
        TensorType {
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            device: t.device(),
        }
    }
}

impl fmt::Display for TensorType {
    /// `f32[2, 3]` (the device is written only for graph inputs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.dtype)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// One value of the graph: output `slot` of `node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    /// The producing node.
    pub node: NodeIndex,
    /// Which of its outputs.
    pub slot: usize,
}

/// An edge: output `output` of the source feeds input `input` of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The producer's output slot.
    pub output: usize,
    /// The consumer's input slot (tensor arguments numbered in schema order,
    /// the tensors of a `Tensor[]` argument one by one).
    pub input: usize,
}

/// One argument of a recorded op, in schema order. Tensor arguments are
/// placeholders filled from the node's incoming edges; everything else is
/// an attribute kept by value.
#[derive(Debug, Clone)]
pub enum Arg {
    /// A tensor: the next input slot.
    Tensor,
    /// A `Tensor[]` of this many tensors: the next that many input slots.
    TensorList(usize),
    /// A non-tensor argument (an attribute), `None` for an absent optional.
    Value(IValue),
}

/// A recorded op call.
#[derive(Debug, Clone)]
pub struct OpNode {
    /// The op.
    pub op: OpId,
    /// Its schema (argument names, for attributes).
    pub schema: Arc<OpSchema>,
    /// Its arguments in schema order.
    pub args: Vec<Arg>,
    /// The types of its tensor results, one per output slot.
    pub outputs: Vec<TensorType>,
}

impl OpNode {
    /// The op's qualified name (`kiln::add`).
    pub fn name(&self) -> &str {
        &self.schema.name
    }

    /// The non-tensor arguments with their schema names, in schema order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &IValue)> {
        self.args
            .iter()
            .enumerate()
            .filter_map(move |(i, a)| match a {
                Arg::Value(v) => {
                    Some((self.schema.args.get(i).map_or("?", |a| a.name.as_str()), v))
                }
                _ => None,
            })
    }

    /// The attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&IValue> {
        self.attributes().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Number of input slots.
    pub fn num_inputs(&self) -> usize {
        self.args
            .iter()
            .map(|a| match a {
                Arg::Tensor => 1,
                Arg::TensorList(n) => *n,
                Arg::Value(_) => 0,
            })
            .sum()
    }
}

/// A node of the graph.
#[derive(Debug, Clone)]
pub enum Node {
    /// Graph input number `index`.
    Input {
        /// Position among the graph's inputs.
        index: usize,
        /// Name in the IR (`%x`), or `None` for a number.
        name: Option<String>,
        /// Its type.
        ty: TensorType,
    },
    /// A tensor the traced code used without computing it from an input
    /// (a weight made with `from_vec`, say); it holds the tensor.
    Constant(Tensor),
    /// An op call.
    Op(OpNode),
}

impl Node {
    /// The types of the node's outputs.
    pub fn output_types(&self) -> Vec<TensorType> {
        match self {
            Node::Input { ty, .. } => vec![ty.clone()],
            Node::Constant(t) => vec![TensorType::of(t)],
            Node::Op(o) => o.outputs.clone(),
        }
    }

    /// Number of outputs.
    pub fn num_outputs(&self) -> usize {
        match self {
            Node::Input { .. } | Node::Constant(_) => 1,
            Node::Op(o) => o.outputs.len(),
        }
    }

    /// The op node, if this is one.
    pub fn as_op(&self) -> Option<&OpNode> {
        match self {
            Node::Op(o) => Some(o),
            _ => None,
        }
    }
}

/// A recorded program: inputs, constants and op nodes in a petgraph
/// `StableDiGraph`, and the values it returns.
///
/// Print it as IR with `{}`, draw it with [`Graph::to_dot`], save it with
/// [`Graph::to_json`], run it with [`Graph::run`].
#[derive(Default)]
pub struct Graph {
    pub(crate) g: StableDiGraph<Node, Edge>,
    /// See Note [Node order].
    pub(crate) order: Vec<NodeIndex>,
    pub(crate) inputs: Vec<NodeIndex>,
    pub(crate) outputs: Vec<Value>,
    /// Replay's precomputed steps; reset by every change to the graph.
    pub(crate) plan: OnceLock<Arc<Plan>>,
}

impl Clone for Graph {
    fn clone(&self) -> Self {
        Graph {
            g: self.g.clone(),
            order: self.order.clone(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            plan: OnceLock::new(),
        }
    }
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The underlying petgraph graph.
    pub fn petgraph(&self) -> &StableDiGraph<Node, Edge> {
        &self.g
    }

    /// The input nodes, in order.
    pub fn inputs(&self) -> &[NodeIndex] {
        &self.inputs
    }

    /// The values the graph returns.
    pub fn outputs(&self) -> &[Value] {
        &self.outputs
    }

    /// The node at `ix`.
    pub fn node(&self, ix: NodeIndex) -> Option<&Node> {
        self.g.node_weight(ix)
    }

    /// Every node in recorded (topological) order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, &Node)> {
        self.order.iter().map(move |&ix| (ix, &self.g[ix]))
    }

    /// The op nodes in order.
    pub fn ops(&self) -> impl Iterator<Item = (NodeIndex, &OpNode)> {
        self.nodes()
            .filter_map(|(ix, n)| n.as_op().map(|o| (ix, o)))
    }

    /// The names of the op nodes in order (`["kiln::add", ...]`).
    pub fn op_names(&self) -> Vec<&str> {
        self.ops().map(|(_, o)| o.name()).collect()
    }

    /// How many op nodes call `name`.
    pub fn count_op(&self, name: &str) -> usize {
        self.ops().filter(|(_, o)| o.name() == name).count()
    }

    /// Number of constant nodes.
    pub fn num_constants(&self) -> usize {
        self.nodes()
            .filter(|(_, n)| matches!(n, Node::Constant(_)))
            .count()
    }

    /// The type of value `v`.
    pub fn value_type(&self, v: Value) -> Option<TensorType> {
        self.node(v.node)?.output_types().into_iter().nth(v.slot)
    }

    /// The values feeding `ix`, by input slot.
    pub fn node_inputs(&self, ix: NodeIndex) -> Vec<Value> {
        let mut ins: Vec<(usize, Value)> = self
            .g
            .edges_directed(ix, Direction::Incoming)
            .map(|e| {
                (
                    e.weight().input,
                    Value {
                        node: e.source(),
                        slot: e.weight().output,
                    },
                )
            })
            .collect();
        ins.sort_by_key(|(slot, _)| *slot);
        ins.into_iter().map(|(_, v)| v).collect()
    }

    /// Names the inputs in the IR (`%x` instead of `%0`). Names must be
    /// identifiers (a letter or `_`, then letters, digits, `_`) and distinct.
    pub fn set_input_names(&mut self, names: &[&str]) -> Result<()> {
        if names.len() != self.inputs.len() {
            return Err(Error::invalid(
                "Graph::set_input_names",
                format!(
                    "the graph has {} inputs, got {} names",
                    self.inputs.len(),
                    names.len()
                ),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            let ident = n
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident || names[..i].contains(n) {
                return Err(Error::invalid(
                    "Graph::set_input_names",
                    format!("input name {n:?} is not an identifier or is used twice"),
                ));
            }
        }
        for (&ix, n) in self.inputs.iter().zip(names) {
            if let Node::Input { name, .. } = &mut self.g[ix] {
                *name = Some(n.to_string());
            }
        }
        Ok(())
    }

    pub(crate) fn touched(&mut self) {
        self.plan = OnceLock::new();
    }

    pub(crate) fn add_input(&mut self, ty: TensorType) -> Value {
        let index = self.inputs.len();
        let ix = self.g.add_node(Node::Input {
            index,
            name: None,
            ty,
        });
        self.inputs.push(ix);
        self.order.push(ix);
        self.touched();
        Value { node: ix, slot: 0 }
    }

    pub(crate) fn add_constant(&mut self, t: Tensor) -> Value {
        let ix = self.g.add_node(Node::Constant(t));
        self.order.push(ix);
        self.touched();
        Value { node: ix, slot: 0 }
    }

    /// Adds an op node fed by `inputs` (one per input slot, in order).
    pub(crate) fn add_op(&mut self, node: OpNode, inputs: &[Value]) -> NodeIndex {
        let ix = self.g.add_node(Node::Op(node));
        for (input, v) in inputs.iter().enumerate() {
            self.g.add_edge(
                v.node,
                ix,
                Edge {
                    output: v.slot,
                    input,
                },
            );
        }
        self.order.push(ix);
        self.touched();
        ix
    }

    pub(crate) fn set_outputs(&mut self, outputs: Vec<Value>) {
        self.outputs = outputs;
        self.touched();
    }

    /// Removes node `ix` and its edges.
    pub(crate) fn remove_node(&mut self, ix: NodeIndex) {
        self.g.remove_node(ix);
        self.order.retain(|&n| n != ix);
        self.touched();
    }

    /// Points every use of `from`'s outputs (edges and graph outputs) at
    /// `to(slot)`.
    pub(crate) fn redirect_uses(&mut self, from: NodeIndex, to: impl Fn(usize) -> Value) {
        let uses: Vec<_> = self
            .g
            .edges_directed(from, Direction::Outgoing)
            .map(|e| (e.id(), e.target(), *e.weight()))
            .collect();
        for (id, target, e) in uses {
            self.g.remove_edge(id);
            let v = to(e.output);
            self.g.add_edge(
                v.node,
                target,
                Edge {
                    output: v.slot,
                    input: e.input,
                },
            );
        }
        for o in &mut self.outputs {
            if o.node == from {
                *o = to(o.slot);
            }
        }
        self.touched();
    }

    /// Moves node `ix` in the order to just before `before`.
    pub(crate) fn move_before(&mut self, ix: NodeIndex, before: NodeIndex) {
        self.order.retain(|&n| n != ix);
        let at = self
            .order
            .iter()
            .position(|&n| n == before)
            .unwrap_or(self.order.len());
        self.order.insert(at, ix);
    }

    /// Whether any edge or graph output uses a value of `ix`.
    pub(crate) fn is_used(&self, ix: NodeIndex) -> bool {
        self.g
            .edges_directed(ix, Direction::Outgoing)
            .next()
            .is_some()
            || self.outputs.iter().any(|o| o.node == ix)
    }
}
