//! Replay: `graph.run(&inputs)` dispatches every op node in order through
//! `Dispatcher::global().call`, on the inputs' device.
//!
//! Note [Replay plan]: the first `run` turns the graph into a flat plan
//! (value slots instead of graph lookups, each op's id and argument
//! template, the slots to free after each step) and caches it in the graph;
//! any change to the graph drops it. A run then costs one stack build and one
//! dispatch per node, which keeps replay within a few percent of eager.
//!
//! Note [Replay device]: a graph runs on the device of its inputs. Factory
//! ops recorded with the traced device get the run device instead, and
//! constants are copied to the run device once (cached per device), so a
//! graph traced on the CPU replays on a GPU and the reverse.

use crate::graph::{Arg, Graph, Node, TensorType, Value};
use crate::state::IdMap;
use kiln_core::{Device, Dispatcher, Error, IValue, OpId, Result, Tensor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

enum PArg {
    Tensor(usize),
    TensorList(Vec<usize>),
    Value(IValue),
    /// A `Device` argument that was the traced device: the run device.
    RunDevice,
}

enum Step {
    Const {
        index: usize,
        out: usize,
    },
    Op {
        op: OpId,
        args: Vec<PArg>,
        outs: Vec<usize>,
    },
}

/// The precomputed form of a graph (see Note [Replay plan]).
pub(crate) struct Plan {
    traced_device: Option<Device>,
    input_types: Vec<TensorType>,
    steps: Vec<Step>,
    /// Slots whose last use is step `i`, freed after it.
    frees: Vec<Vec<usize>>,
    num_slots: usize,
    outputs: Vec<usize>,
    constants: Vec<Tensor>,
    /// Constants copied to other devices (see Note [Replay device]).
    moved: Mutex<HashMap<Device, Arc<Vec<Tensor>>>>,
}

fn internal(msg: impl Into<String>) -> Error {
    Error::invalid("Graph::run", msg)
}

impl Plan {
    fn build(g: &Graph) -> Result<Plan> {
        let mut slot_of: HashMap<Value, usize> = HashMap::new();
        let mut num_slots = 0;
        let mut input_types = Vec::new();
        for &ix in &g.inputs {
            match &g.g[ix] {
                Node::Input { ty, .. } => input_types.push(ty.clone()),
                _ => return Err(internal("an input entry is not an input node")),
            }
            slot_of.insert(Value { node: ix, slot: 0 }, num_slots);
            num_slots += 1;
        }
        let traced_device = input_types.first().map(|t| t.device).or_else(|| {
            g.nodes().find_map(|(_, n)| match n {
                Node::Constant(t) => Some(t.device()),
                Node::Op(o) => o.outputs.first().map(|t| t.device),
                Node::Input { .. } => None,
            })
        });
        let mut steps = Vec::new();
        let mut constants = Vec::new();
        for (ix, node) in g.nodes() {
            let slot = |v: &Value| {
                slot_of.get(v).copied().ok_or_else(|| {
                    internal(format!("a node uses value {v:?} before it is defined"))
                })
            };
            match node {
                Node::Input { .. } => {}
                Node::Constant(t) => {
                    constants.push(t.clone());
                    steps.push(Step::Const {
                        index: constants.len() - 1,
                        out: num_slots,
                    });
                    slot_of.insert(Value { node: ix, slot: 0 }, num_slots);
                    num_slots += 1;
                }
                Node::Op(o) => {
                    let ins = g.node_inputs(ix);
                    if ins.len() != o.num_inputs() {
                        return Err(internal(format!(
                            "{} has {} inputs connected, its arguments need {}",
                            o.name(),
                            ins.len(),
                            o.num_inputs()
                        )));
                    }
                    let mut ins = ins.iter();
                    let mut args = Vec::with_capacity(o.args.len());
                    for a in &o.args {
                        args.push(match a {
                            Arg::Tensor => PArg::Tensor(slot(
                                ins.next().ok_or_else(|| internal("missing input"))?,
                            )?),
                            Arg::TensorList(n) => PArg::TensorList(
                                ins.by_ref()
                                    .take(*n)
                                    .map(&slot)
                                    .collect::<Result<Vec<_>>>()?,
                            ),
                            Arg::Value(IValue::Device(d)) if Some(*d) == traced_device => {
                                PArg::RunDevice
                            }
                            Arg::Value(v) => PArg::Value(v.clone()),
                        });
                    }
                    let outs: Vec<usize> = (num_slots..num_slots + o.outputs.len()).collect();
                    for (s, &out) in outs.iter().enumerate() {
                        slot_of.insert(Value { node: ix, slot: s }, out);
                    }
                    num_slots += outs.len();
                    steps.push(Step::Op {
                        op: o.op,
                        args,
                        outs,
                    });
                }
            }
        }
        let outputs = g
            .outputs
            .iter()
            .map(|v| {
                slot_of
                    .get(v)
                    .copied()
                    .ok_or_else(|| internal(format!("output {v:?} is not a value")))
            })
            .collect::<Result<Vec<_>>>()?;
        // Free each slot after its last use, except the outputs.
        let mut last_use: Vec<Option<usize>> = vec![None; num_slots];
        for (i, s) in steps.iter().enumerate() {
            if let Step::Op { args, .. } = s {
                for a in args {
                    match a {
                        PArg::Tensor(x) => last_use[*x] = Some(i),
                        PArg::TensorList(l) => l.iter().for_each(|&x| last_use[x] = Some(i)),
                        _ => {}
                    }
                }
            }
        }
        let mut frees = vec![Vec::new(); steps.len()];
        for (x, lu) in last_use.iter().enumerate() {
            if let Some(i) = lu {
                if !outputs.contains(&x) {
                    frees[*i].push(x);
                }
            }
        }
        Ok(Plan {
            traced_device,
            input_types,
            steps,
            frees,
            num_slots,
            outputs,
            constants,
            moved: Mutex::new(HashMap::new()),
        })
    }

    fn constants_on(&self, device: Device) -> Result<Arc<Vec<Tensor>>> {
        let mut moved = self
            .moved
            .lock()
            .map_err(|_| internal("constant cache lock poisoned"))?;
        if let Some(c) = moved.get(&device) {
            return Ok(c.clone());
        }
        // Copies of one tensor stay one tensor.
        let mut seen: IdMap<Tensor> = IdMap::default();
        let mut out = Vec::with_capacity(self.constants.len());
        for t in &self.constants {
            let c = match seen.get(&t.id()) {
                Some(c) => c.clone(),
                None => {
                    let c = t.to(&device)?;
                    seen.insert(t.id(), c.clone());
                    c
                }
            };
            out.push(c);
        }
        let out = Arc::new(out);
        moved.insert(device, out.clone());
        Ok(out)
    }
}

impl Graph {
    fn plan(&self) -> Result<Arc<Plan>> {
        if let Some(p) = self.plan.get() {
            return Ok(p.clone());
        }
        let p = Arc::new(Plan::build(self)?);
        Ok(self.plan.get_or_init(|| p).clone())
    }

    /// Runs the graph on `inputs` and returns its outputs, dispatching each
    /// op node through the global dispatcher on the inputs' device (see Note
    /// [Replay device]). On the backend it was traced on, the results equal
    /// eager execution bit for bit.
    ///
    /// The inputs must match the traced ones in number, dtype and shape, and
    /// share one device; anything else is an `Err` naming the input.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let plan = self.plan()?;
        if inputs.len() != plan.input_types.len() {
            return Err(Error::invalid(
                "Graph::run",
                format!(
                    "the graph takes {} inputs, got {}",
                    plan.input_types.len(),
                    inputs.len()
                ),
            ));
        }
        for (i, (t, ty)) in inputs.iter().zip(&plan.input_types).enumerate() {
            if t.dtype() != ty.dtype {
                return Err(Error::DTypeMismatch {
                    op: format!("Graph::run (input {i})"),
                    expected: ty.dtype,
                    got: t.dtype(),
                });
            }
            if t.shape() != ty.shape.as_slice() {
                return Err(Error::shape(
                    "Graph::run",
                    format!(
                        "input {i} was traced with shape {:?}, got shape {:?}",
                        ty.shape,
                        t.shape()
                    ),
                ));
            }
            if t.device() != inputs[0].device() {
                return Err(Error::DeviceMismatch {
                    op: format!("Graph::run (input {i})"),
                    lhs: inputs[0].device(),
                    rhs: t.device(),
                });
            }
        }
        let traced = plan.traced_device.unwrap_or(Device::Cpu);
        let device = inputs.first().map_or(traced, |t| t.device());
        let constants = if device == traced {
            None
        } else {
            Some(plan.constants_on(device)?)
        };
        let constants = constants.as_deref().unwrap_or(&plan.constants);

        let d = Dispatcher::global();
        let mut slots: Vec<Option<Tensor>> = vec![None; plan.num_slots];
        for (s, t) in slots.iter_mut().zip(inputs) {
            *s = Some(t.clone());
        }
        let take = |slots: &[Option<Tensor>], x: usize| {
            slots[x]
                .clone()
                .ok_or_else(|| internal(format!("value slot {x} is empty")))
        };
        for (step, frees) in plan.steps.iter().zip(&plan.frees) {
            match step {
                Step::Const { index, out } => slots[*out] = Some(constants[*index].clone()),
                Step::Op { op, args, outs } => {
                    let mut stack = Vec::with_capacity(args.len());
                    for a in args {
                        stack.push(match a {
                            PArg::Tensor(x) => IValue::Tensor(take(&slots, *x)?),
                            PArg::TensorList(l) => IValue::TensorList(
                                l.iter().map(|&x| take(&slots, x)).collect::<Result<_>>()?,
                            ),
                            PArg::Value(v) => v.clone(),
                            PArg::RunDevice => IValue::Device(device),
                        });
                    }
                    let results = d.call(*op, stack)?;
                    let mut outs = outs.iter();
                    for r in results {
                        match r {
                            IValue::Tensor(t) => {
                                if let Some(&o) = outs.next() {
                                    slots[o] = Some(t);
                                }
                            }
                            IValue::TensorList(l) => {
                                for t in l {
                                    if let Some(&o) = outs.next() {
                                        slots[o] = Some(t);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            for &x in frees {
                slots[x] = None;
            }
        }
        plan.outputs.iter().map(|&x| take(&slots, x)).collect()
    }
}
