//! Unary ops. Result dtypes follow `kiln_core::unary_result_type`, the rule
//! the CPU uses too; floats compute in f32 and round once.

use super::elementwise::{Input, Map};
use crate::shader::{compute_type, UNARY};
use kiln_core::{op, DispatchKey, Dispatcher, OpId, Result, StackExt, StackResult, Tensor};

/// `(op, name)`.
const UNARY_OPS: [(OpId, &str); 14] = [
    (op::NEG, "neg"),
    (op::ABS, "abs"),
    (op::EXP, "exp"),
    (op::LOG, "log"),
    (op::SQRT, "sqrt"),
    (op::RSQRT, "rsqrt"),
    (op::SIN, "sin"),
    (op::COS, "cos"),
    (op::TANH, "tanh"),
    (op::SIGMOID, "sigmoid"),
    (op::RELU, "relu"),
    (op::GELU, "gelu"),
    (op::SILU, "silu"),
    (op::RECIP, "recip"),
];

fn unary(name: &'static str, x: &Tensor) -> Result<Tensor> {
    let dt = kiln_core::unary_result_type(name, x.dtype())?;
    Map {
        op: name,
        funcs: UNARY,
        func: Some(format!("{name}_{}", compute_type(dt))),
        inputs: vec![Input::tensor(x, dt)],
        out: dt,
        shape: x.shape().to_vec(),
    }
    .run()
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    for (id, name) in UNARY_OPS {
        d.register_kernel(
            id,
            DispatchKey::Wgpu,
            &format!("wgpu::{name}"),
            move |_, _, s| {
                let out = unary(name, s.tensor(name, 0)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}
