//! Unary ops. Floats keep their dtype (computed in f32, rounded once);
//! `neg`, `abs` and `relu` keep `i32`, the other ops promote an `i32` input
//! to `f32`; `bool` is not supported.

use super::elementwise::{Input, Map};
use crate::shader::{compute_type, UNARY};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, OpId, Result, StackExt, StackResult, Tensor,
};

/// `(op, name, keeps i32)`.
const UNARY_OPS: [(OpId, &str, bool); 14] = [
    (op::NEG, "neg", true),
    (op::ABS, "abs", true),
    (op::EXP, "exp", false),
    (op::LOG, "log", false),
    (op::SQRT, "sqrt", false),
    (op::RSQRT, "rsqrt", false),
    (op::SIN, "sin", false),
    (op::COS, "cos", false),
    (op::TANH, "tanh", false),
    (op::SIGMOID, "sigmoid", false),
    (op::RELU, "relu", true),
    (op::GELU, "gelu", false),
    (op::SILU, "silu", false),
    (op::RECIP, "recip", false),
];

fn unary(name: &'static str, keeps_int: bool, x: &Tensor) -> Result<Tensor> {
    let dt = match x.dtype() {
        DType::Bool => {
            return Err(Error::dtype(
                name,
                DType::Bool,
                "unary math ops take numeric tensors",
            ));
        }
        DType::I32 if !keeps_int => DType::F32,
        d => d,
    };
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
    for (id, name, keeps_int) in UNARY_OPS {
        d.register_kernel(
            id,
            DispatchKey::Wgpu,
            &format!("wgpu::{name}"),
            move |_, _, s| {
                let out = unary(name, keeps_int, s.tensor(name, 0)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}
