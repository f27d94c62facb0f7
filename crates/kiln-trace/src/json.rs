//! Saving and loading graphs as JSON.
//!
//! ```text
//! { "format": "kiln-graph", "version": 1,
//!   "nodes": [
//!     { "kind": "input", "name": "x", "type": { "dtype": "f32", "shape": [2, 3], "device": "cpu" } },
//!     { "kind": "constant", "type": { ... }, "data": "0000803f..." },
//!     { "kind": "op", "op": "kiln::sum", "outputs": [ { ... } ],
//!       "args": [ { "tensor": [0, 0] }, { "ints": [1] }, { "bool": false } ] } ],
//!   "outputs": [ [2, 0] ] }
//! ```
//! Nodes are listed in graph order and referred to by position; a tensor
//! argument is `[node, output slot]`. Constant data is the tensor's
//! little-endian element bytes in hex, so a round trip is bit-exact. Floats
//! are written with serde_json's `float_roundtrip`, and non-finite ones as
//! the strings `"nan"`, `"inf"`, `"-inf"`.
//!
//! Loading looks ops up by name in the global dispatcher (custom ops must be
//! defined first) and allocates constants through it, so the backends must
//! be registered (`kiln::init()`, or any kiln constructor).

use crate::graph::{Arg, Graph, Node, OpNode, TensorType, Value};
use kiln_core::{
    factory, DType, Device, Dispatcher, Error, IValue, NoTracerDispatchMode, Result, Tensor,
};
use petgraph::stable_graph::NodeIndex;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

const FORMAT: &str = "kiln-graph";
const VERSION: u64 = 1;

fn bad(msg: impl Into<String>) -> Error {
    Error::invalid("Graph::from_json", msg)
}

fn type_json(t: &TensorType) -> Json {
    json!({ "dtype": t.dtype.name(), "shape": t.shape, "device": t.device.to_string() })
}

fn type_from(j: &Json) -> Result<TensorType> {
    let dtype = j["dtype"]
        .as_str()
        .and_then(DType::from_name)
        .ok_or_else(|| bad(format!("bad dtype in {j}")))?;
    let shape = j["shape"]
        .as_array()
        .ok_or_else(|| bad(format!("bad shape in {j}")))?
        .iter()
        .map(|d| {
            d.as_u64()
                .map(|d| d as usize)
                .ok_or_else(|| bad(format!("bad dim in {j}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let device = j["device"]
        .as_str()
        .and_then(Device::parse)
        .ok_or_else(|| bad(format!("bad device in {j}")))?;
    Ok(TensorType {
        dtype,
        shape,
        device,
    })
}

fn float_json(x: f64) -> Json {
    if x.is_nan() {
        json!("nan")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}

fn float_from(j: &Json) -> Option<f64> {
    match j {
        Json::String(s) if s == "nan" => Some(f64::NAN),
        Json::String(s) if s == "inf" => Some(f64::INFINITY),
        Json::String(s) if s == "-inf" => Some(f64::NEG_INFINITY),
        _ => j.as_f64(),
    }
}

fn ivalue_json(v: &IValue) -> Json {
    match v {
        IValue::None => Json::Null,
        IValue::Int(i) => json!({ "int": i }),
        IValue::IntList(l) => json!({ "ints": l }),
        IValue::Float(x) => json!({ "float": float_json(*x) }),
        IValue::Bool(b) => json!({ "bool": b }),
        IValue::Str(s) => json!({ "str": s }),
        IValue::DType(d) => json!({ "dtype": d.name() }),
        IValue::Device(d) => json!({ "device": d.to_string() }),
        // Tensors are edges, never attributes.
        IValue::Tensor(_) | IValue::TensorList(_) => Json::Null,
    }
}

fn ivalue_from(j: &Json) -> Result<IValue> {
    if j.is_null() {
        return Ok(IValue::None);
    }
    let obj = j
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad(format!("bad argument {j}")))?;
    let (k, v) = obj
        .iter()
        .next()
        .ok_or_else(|| bad(format!("bad argument {j}")))?;
    let fail = || bad(format!("bad argument {j}"));
    Ok(match k.as_str() {
        "int" => IValue::Int(v.as_i64().ok_or_else(fail)?),
        "ints" => IValue::IntList(
            v.as_array()
                .ok_or_else(fail)?
                .iter()
                .map(|x| x.as_i64().ok_or_else(fail))
                .collect::<Result<_>>()?,
        ),
        "float" => IValue::Float(float_from(v).ok_or_else(fail)?),
        "bool" => IValue::Bool(v.as_bool().ok_or_else(fail)?),
        "str" => IValue::Str(v.as_str().ok_or_else(fail)?.to_string()),
        "dtype" => IValue::DType(v.as_str().and_then(DType::from_name).ok_or_else(fail)?),
        "device" => IValue::Device(v.as_str().and_then(Device::parse).ok_or_else(fail)?),
        _ => return Err(fail()),
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(bad("constant data is not lowercase hex")),
    };
    if s.len() & 1 == 1 {
        return Err(bad("constant data has an odd number of hex digits"));
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// A tensor of type `ty` holding `bytes`, allocated outside any trace.
fn constant_tensor(ty: &TensorType, bytes: &[u8]) -> Result<Tensor> {
    let n: usize = ty.shape.iter().product();
    if bytes.len() != n * ty.dtype.size_in_bytes() {
        return Err(bad(format!(
            "constant of type {ty} needs {} bytes, the data has {}",
            n * ty.dtype.size_in_bytes(),
            bytes.len()
        )));
    }
    let _guard = NoTracerDispatchMode::new();
    let mut t = factory::empty(&ty.shape, ty.dtype, &ty.device)?;
    t.storage_mut()
        .ok_or_else(|| bad("a freshly allocated tensor was shared (internal)"))?
        .write_bytes(bytes)?;
    Ok(t)
}

impl Graph {
    /// The graph as JSON (see the module docs for the format).
    pub fn to_json(&self) -> Result<String> {
        let pos: HashMap<NodeIndex, usize> = self
            .order
            .iter()
            .enumerate()
            .map(|(i, &ix)| (ix, i))
            .collect();
        let val = |v: &Value| json!([pos.get(&v.node).copied().unwrap_or(usize::MAX), v.slot]);
        let mut nodes = Vec::with_capacity(self.order.len());
        for (ix, node) in self.nodes() {
            nodes.push(match node {
                Node::Input { name, ty, .. } => json!({ "kind": "input", "name": name, "type": type_json(ty) }),
                Node::Constant(t) => json!({
                    "kind": "constant",
                    "type": type_json(&TensorType::of(t)),
                    "data": hex(&t.to_bytes()?),
                }),
                Node::Op(o) => {
                    let ins = self.node_inputs(ix);
                    let mut ins = ins.iter();
                    let args: Vec<Json> = o
                        .args
                        .iter()
                        .map(|a| match a {
                            Arg::Tensor => json!({ "tensor": ins.next().map(&val) }),
                            Arg::TensorList(n) => {
                                json!({ "tensors": ins.by_ref().take(*n).map(&val).collect::<Vec<_>>() })
                            }
                            Arg::Value(v) => ivalue_json(v),
                        })
                        .collect();
                    json!({
                        "kind": "op",
                        "op": o.name(),
                        "args": args,
                        "outputs": o.outputs.iter().map(type_json).collect::<Vec<_>>(),
                    })
                }
            });
        }
        let mut top = Map::new();
        top.insert("format".into(), json!(FORMAT));
        top.insert("version".into(), json!(VERSION));
        top.insert("nodes".into(), Json::Array(nodes));
        top.insert(
            "outputs".into(),
            Json::Array(self.outputs.iter().map(val).collect()),
        );
        serde_json::to_string_pretty(&Json::Object(top))
            .map_err(|e| Error::invalid("Graph::to_json", e.to_string()))
    }

    /// Loads a graph written by [`Graph::to_json`].
    pub fn from_json(text: &str) -> Result<Graph> {
        let j: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if j["format"] != FORMAT || j["version"] != VERSION {
            return Err(bad(format!("not a {FORMAT} version {VERSION} document")));
        }
        let mut g = Graph::new();
        let mut ixs: Vec<NodeIndex> = Vec::new();
        let nodes = j["nodes"]
            .as_array()
            .ok_or_else(|| bad("missing \"nodes\""))?;
        let value = |ixs: &[NodeIndex], g: &Graph, j: &Json| -> Result<Value> {
            let (n, s) = match j.as_array().map(|a| a.as_slice()) {
                Some([n, s]) => (n.as_u64(), s.as_u64()),
                _ => (None, None),
            };
            let (n, s) = n
                .zip(s)
                .ok_or_else(|| bad(format!("bad value reference {j}")))?;
            let node = *ixs.get(n as usize).ok_or_else(|| {
                bad(format!(
                    "value reference {j} points at a later or missing node"
                ))
            })?;
            let v = Value {
                node,
                slot: s as usize,
            };
            g.value_type(v)
                .ok_or_else(|| bad(format!("value reference {j} names no output")))?;
            Ok(v)
        };
        for n in nodes {
            let ix = match n["kind"].as_str() {
                Some("input") => {
                    let v = g.add_input(type_from(&n["type"])?);
                    if let (Some(name), Node::Input { name: slot, .. }) =
                        (n["name"].as_str(), &mut g.g[v.node])
                    {
                        *slot = Some(name.to_string());
                    }
                    v.node
                }
                Some("constant") => {
                    let ty = type_from(&n["type"])?;
                    let data = unhex(
                        n["data"]
                            .as_str()
                            .ok_or_else(|| bad("constant without \"data\""))?,
                    )?;
                    g.add_constant(constant_tensor(&ty, &data)?).node
                }
                Some("op") => {
                    let name = n["op"]
                        .as_str()
                        .ok_or_else(|| bad("op node without \"op\""))?;
                    let d = Dispatcher::global();
                    let op = d
                        .find(name)
                        .ok_or_else(|| Error::UnknownOp(name.to_string()))?;
                    let schema = d.schema(op)?;
                    let jargs = n["args"]
                        .as_array()
                        .ok_or_else(|| bad(format!("{name} without \"args\"")))?;
                    if jargs.len() != schema.args.len() {
                        return Err(bad(format!(
                            "{name} takes {} arguments, the node has {}",
                            schema.args.len(),
                            jargs.len()
                        )));
                    }
                    let mut args = Vec::with_capacity(jargs.len());
                    let mut inputs = Vec::new();
                    for a in jargs {
                        if let Some(t) = a.get("tensor") {
                            inputs.push(value(&ixs, &g, t)?);
                            args.push(Arg::Tensor);
                        } else if let Some(l) = a.get("tensors") {
                            let l = l
                                .as_array()
                                .ok_or_else(|| bad(format!("bad tensor list {l}")))?;
                            for t in l {
                                inputs.push(value(&ixs, &g, t)?);
                            }
                            args.push(Arg::TensorList(l.len()));
                        } else {
                            args.push(Arg::Value(ivalue_from(a)?));
                        }
                    }
                    let outputs = n["outputs"]
                        .as_array()
                        .ok_or_else(|| bad(format!("{name} without \"outputs\"")))?
                        .iter()
                        .map(type_from)
                        .collect::<Result<Vec<_>>>()?;
                    g.add_op(
                        OpNode {
                            op,
                            schema,
                            args,
                            outputs,
                        },
                        &inputs,
                    )
                }
                _ => return Err(bad(format!("node of unknown kind: {}", n["kind"]))),
            };
            ixs.push(ix);
        }
        let outputs = j["outputs"]
            .as_array()
            .ok_or_else(|| bad("missing \"outputs\""))?
            .iter()
            .map(|v| value(&ixs, &g, v))
            .collect::<Result<Vec<_>>>()?;
        g.set_outputs(outputs);
        Ok(g)
    }
}
