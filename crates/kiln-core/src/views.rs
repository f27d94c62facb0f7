//! Kernels that serve every backend: the view ops (layout edits on a shared
//! storage) and the composites written in terms of other ops. They are
//! registered for each backend key; a backend may replace a composite with
//! a fused kernel of its own.

use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::key::{DispatchKey, DispatchKeySet};
use crate::layout::{infer_shape, normalize_insert_dim};
use crate::ops::{op, OpId};
use crate::stack;
use crate::value::{IValue, Stack, StackExt, StackResult};

const BACKENDS: [DispatchKey; 2] = [DispatchKey::Cpu, DispatchKey::Wgpu];

fn reg(
    d: &Dispatcher,
    id: OpId,
    name: &str,
    f: fn(OpId, DispatchKeySet, &mut Stack) -> Result<()>,
) -> Result<()> {
    for k in BACKENDS {
        d.register_kernel(id, k, name, f)?;
    }
    Ok(())
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    reg(d, op::RESHAPE, "view::reshape", reshape)?;
    reg(d, op::VIEW, "view::view", view)?;
    reg(d, op::PERMUTE, "view::permute", |_, _, s| {
        let t = s.tensor("permute", 0)?;
        let l = t.layout().permute("permute", s.int_list("permute", 1)?)?;
        let out = t.with_layout("permute", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::TRANSPOSE, "view::transpose", |_, _, s| {
        let t = s.tensor("transpose", 0)?;
        let l =
            t.layout()
                .transpose("transpose", s.int("transpose", 1)?, s.int("transpose", 2)?)?;
        let out = t.with_layout("transpose", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::SLICE, "view::slice", |_, _, s| {
        let t = s.tensor("slice", 0)?;
        let l = t.layout().slice(
            "slice",
            s.int("slice", 1)?,
            s.int("slice", 2)?,
            s.int("slice", 3)?,
            s.int("slice", 4)?,
        )?;
        let out = t.with_layout("slice", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::NARROW, "view::narrow", |_, _, s| {
        let t = s.tensor("narrow", 0)?;
        let l = t.layout().narrow(
            "narrow",
            s.int("narrow", 1)?,
            s.int("narrow", 2)?,
            s.int("narrow", 3)?,
        )?;
        let out = t.with_layout("narrow", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::EXPAND, "view::expand", |_, _, s| {
        let t = s.tensor("expand", 0)?;
        let l = t.layout().expand("expand", s.int_list("expand", 1)?)?;
        let out = t.with_layout("expand", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::SQUEEZE, "view::squeeze", |_, _, s| {
        let t = s.tensor("squeeze", 0)?;
        let l = t.layout().squeeze("squeeze", s.opt_int("squeeze", 1)?)?;
        let out = t.with_layout("squeeze", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::UNSQUEEZE, "view::unsqueeze", |_, _, s| {
        let t = s.tensor("unsqueeze", 0)?;
        let l = t.layout().unsqueeze("unsqueeze", s.int("unsqueeze", 1)?)?;
        let out = t.with_layout("unsqueeze", l)?;
        s.set_result(out);
        Ok(())
    })?;
    reg(d, op::LINEAR, "composite::linear", linear)?;
    reg(d, op::STACK, "composite::stack", stack)?;
    Ok(())
}

fn view(_: OpId, _: DispatchKeySet, s: &mut Stack) -> Result<()> {
    let t = s.tensor("view", 0)?;
    let shape = infer_shape("view", t.shape(), s.int_list("view", 1)?)?;
    let l = t.layout().view(&shape).ok_or_else(|| {
        Error::shape(
            "view",
            format!(
                "view shape {shape:?} is not compatible with input shape {:?} and strides {:?}; use reshape",
                t.shape(),
                t.strides()
            ),
        )
    })?;
    let out = t.with_layout("view", l)?;
    s.set_result(out);
    Ok(())
}

/// A view when one exists, else a contiguous copy reshaped.
fn reshape(_: OpId, ks: DispatchKeySet, s: &mut Stack) -> Result<()> {
    let t = s.tensor("reshape", 0)?.clone();
    let shape = infer_shape("reshape", t.shape(), s.int_list("reshape", 1)?)?;
    let src = match t.layout().view(&shape) {
        Some(l) => {
            let out = t.with_layout("reshape", l)?;
            s.set_result(out);
            return Ok(());
        }
        None => call1(op::CONTIGUOUS, ks, stack![IValue::Tensor(t)])?,
    };
    let l = src
        .layout()
        .view(&shape)
        .ok_or_else(|| Error::shape("reshape", "a contiguous tensor did not view (internal)"))?;
    let out = src.with_layout("reshape", l)?;
    s.set_result(out);
    Ok(())
}

/// Runs another op on the same backend key set and returns its one tensor.
pub(crate) fn call1(
    id: OpId,
    ks: DispatchKeySet,
    mut args: Stack,
) -> Result<crate::tensor::Tensor> {
    Dispatcher::global().redispatch(id, ks, &mut args)?;
    match args.into_iter().next() {
        Some(IValue::Tensor(t)) => Ok(t),
        _ => Err(Error::invalid("dispatch", "kernel did not return a tensor")),
    }
}

/// `linear(x, w, b) = x @ w^T + b`.
fn linear(_: OpId, ks: DispatchKeySet, s: &mut Stack) -> Result<()> {
    let x = s.tensor("linear", 0)?.clone();
    let w = s.tensor("linear", 1)?.clone();
    let b = s.opt_tensor("linear", 2)?.cloned();
    if w.ndim() != 2 {
        return Err(Error::shape(
            "linear",
            format!("weight must be 2-D [out, in], got shape {:?}", w.shape()),
        ));
    }
    let wt = call1(
        op::TRANSPOSE,
        ks,
        stack![w.into(), IValue::Int(0), IValue::Int(1)],
    )?;
    let mut y = call1(op::MATMUL, ks, stack![x.into(), wt.into()])?;
    if let Some(b) = b {
        y = call1(op::ADD, ks, stack![y.into(), b.into()])?;
    }
    s.set_result(y);
    Ok(())
}

/// `stack(ts, dim) = cat([t.unsqueeze(dim) for t in ts], dim)`.
fn stack(_: OpId, ks: DispatchKeySet, s: &mut Stack) -> Result<()> {
    let ts = s.tensor_list("stack", 0)?.to_vec();
    let dim = s.int("stack", 1)?;
    let first = ts
        .first()
        .ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
    for (i, t) in ts.iter().enumerate() {
        if t.shape() != first.shape() {
            return Err(Error::shape(
                "stack",
                format!("stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}", first.shape(), t.shape()),
            ));
        }
    }
    let d = normalize_insert_dim("stack", dim, first.ndim())? as i64;
    let parts = ts
        .into_iter()
        .map(|t| call1(op::UNSQUEEZE, ks, stack![t.into(), IValue::Int(d)]))
        .collect::<Result<Vec<_>>>()?;
    let out = call1(
        op::CAT,
        ks,
        stack![IValue::TensorList(parts), IValue::Int(d)],
    )?;
    s.set_result(out);
    Ok(())
}
