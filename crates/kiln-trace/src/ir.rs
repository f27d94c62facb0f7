//! Printing a graph: IR text (`Display`) and Graphviz DOT (`to_dot`).
//!
//! IR text, one line per node, in DESIGN.md's format:
//! ```text
//! graph(%x : f32[2, 3] cpu, %w : f32[3, 4] cpu):
//!   %2 : f32[2, 4] = kiln::matmul(%x, %w)
//!   %3 : f32[2] = kiln::sum[dims=[1], keepdim=false](%2)
//!   return (%3)
//! ```
//! Inputs are named (`%x`) or numbered from 0; every other value is numbered
//! after the inputs, in node order. Non-tensor arguments are attributes in
//! `[...]`, named from the op's schema. A constant prints as
//! `prim::Constant[value=...]()`, with its value when it has one element.

use crate::graph::{Arg, Graph, Node, Value};
use kiln_core::IValue;
use petgraph::dot::{Config, Dot};
use std::collections::HashMap;
use std::fmt::{self, Write as _};

impl Graph {
    /// The IR name of every value (`x`, `0`, `2`, ...), without the `%`.
    pub(crate) fn value_names(&self) -> HashMap<Value, String> {
        let mut names = HashMap::new();
        let mut next = self.inputs.len();
        for (ix, node) in self.nodes() {
            match node {
                Node::Input { index, name, .. } => {
                    let n = name.clone().unwrap_or_else(|| index.to_string());
                    names.insert(Value { node: ix, slot: 0 }, n);
                }
                _ => {
                    for slot in 0..node.num_outputs() {
                        names.insert(Value { node: ix, slot }, next.to_string());
                        next += 1;
                    }
                }
            }
        }
        names
    }

    /// The graph in Graphviz DOT (petgraph's writer), each node labelled
    /// with its op name (or `input N` / `constant`) and result types, each
    /// edge with `output slot -> input slot`.
    pub fn to_dot(&self) -> String {
        struct DotView<'a>(&'a Graph);
        impl fmt::Display for DotView<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                Dot::with_config(&self.0.g, &[Config::RankDir(petgraph::dot::RankDir::TB)])
                    .graph_fmt(
                        f,
                        |node, f| {
                            match node {
                                Node::Input { index, name, ty } => {
                                    write!(f, "input {index}")?;
                                    if let Some(n) = name {
                                        write!(f, " %{n}")?;
                                    }
                                    return write!(f, "\n{ty} {}", ty.device);
                                }
                                Node::Constant(_) => f.write_str("constant")?,
                                Node::Op(o) => f.write_str(o.name())?,
                            }
                            for ty in node.output_types() {
                                write!(f, "\n{ty}")?;
                            }
                            Ok(())
                        },
                        |e, f| write!(f, "{} -> {}", e.output, e.input),
                    )
            }
        }
        DotView(self).to_string()
    }
}

fn constant_value(t: &kiln_core::Tensor) -> String {
    if t.numel() == 1 {
        if let Ok(v) = t.to_f64_vec() {
            let v = match t.dtype() {
                kiln_core::DType::Bool => IValue::Bool(v[0] != 0.0),
                kiln_core::DType::I32 => IValue::Int(v[0] as i64),
                _ => IValue::Float(v[0]),
            };
            return v.to_string();
        }
    }
    "<Tensor>".to_string()
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.value_names();
        let name = |v: &Value| names.get(v).map_or("?", String::as_str);
        f.write_str("graph(")?;
        for (i, &ix) in self.inputs.iter().enumerate() {
            if let Node::Input { ty, .. } = &self.g[ix] {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "%{} : {ty} {}",
                    name(&Value { node: ix, slot: 0 }),
                    ty.device
                )?;
            }
        }
        f.write_str("):\n")?;
        for (ix, node) in self.nodes() {
            let line = match node {
                Node::Input { .. } => continue,
                Node::Constant(t) => {
                    let v = Value { node: ix, slot: 0 };
                    let ty = crate::graph::TensorType::of(t);
                    format!(
                        "%{} : {ty} = prim::Constant[value={}]()",
                        name(&v),
                        constant_value(t)
                    )
                }
                Node::Op(o) => {
                    let mut line = String::new();
                    for (slot, ty) in o.outputs.iter().enumerate() {
                        if slot > 0 {
                            line.push_str(", ");
                        }
                        let _ = write!(line, "%{} : {ty}", name(&Value { node: ix, slot }));
                    }
                    line.push_str(if o.outputs.is_empty() { "= " } else { " = " });
                    line.push_str(o.name());
                    let attrs: Vec<String> =
                        o.attributes().map(|(n, v)| format!("{n}={v}")).collect();
                    if !attrs.is_empty() {
                        let _ = write!(line, "[{}]", attrs.join(", "));
                    }
                    let ins = self.node_inputs(ix);
                    let mut ins = ins.iter().map(|v| format!("%{}", name(v)));
                    let mut parts = Vec::new();
                    for a in &o.args {
                        match a {
                            Arg::Tensor => parts.push(ins.next().unwrap_or_else(|| "?".into())),
                            Arg::TensorList(n) => {
                                let l: Vec<String> = ins.by_ref().take(*n).collect();
                                parts.push(format!("[{}]", l.join(", ")));
                            }
                            Arg::Value(_) => {}
                        }
                    }
                    let _ = write!(line, "({})", parts.join(", "));
                    line
                }
            };
            writeln!(f, "  {line}")?;
        }
        let outs: Vec<String> = self
            .outputs
            .iter()
            .map(|v| format!("%{}", name(v)))
            .collect();
        writeln!(f, "  return ({})", outs.join(", "))
    }
}
