//! The CPU kernels, one module per op family.

pub mod binary;
pub mod cast;
pub mod conv;
pub mod factory;
pub mod index;
pub mod layer_norm;
pub mod matmul;
pub mod random;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod unary;
pub mod vmath;

use kiln_core::{op, DispatchKey, Dispatcher, Result, StackExt, StackResult};

/// Registers every CPU kernel under `DispatchKey::Cpu`.
pub fn register(d: &Dispatcher) -> Result<()> {
    binary::register(d)?;
    factory::register(d)?;
    unary::register(d)?;
    reduce::register(d)?;
    softmax::register(d)?;
    layer_norm::register(d)?;
    matmul::register(d)?;
    random::register(d)?;
    shape::register(d)?;
    index::register(d)?;
    conv::register(d)?;
    d.register_kernel(op::CAST, DispatchKey::Cpu, "cpu::cast", |_, _, s| {
        let t = cast::cast(s.tensor("cast", 0)?, s.dtype("cast", 1)?)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(
        op::CONTIGUOUS,
        DispatchKey::Cpu,
        "cpu::contiguous",
        |_, _, s| {
            let t = cast::contiguous(s.tensor("contiguous", 0)?)?;
            s.set_result(t);
            Ok(())
        },
    )?;
    Ok(())
}
