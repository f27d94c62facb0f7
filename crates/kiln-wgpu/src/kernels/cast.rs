//! `cast` between every pair of dtypes, and `contiguous`. A cast to the
//! same dtype and `contiguous` copy the element bytes unchanged.

use super::elementwise::{Input, Map};
use crate::storage::WgpuStorage;
use kiln_core::{op, DType, DispatchKey, Dispatcher, Result, StackExt, StackResult, Tensor};

/// `t` as `dtype`, contiguous.
pub(crate) fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    let map = Map {
        op: "cast",
        funcs: "",
        func: None,
        inputs: vec![Input::tensor(t, dtype)],
        out: dtype,
        shape: t.shape().to_vec(),
    };
    if t.dtype() == dtype {
        map.run_raw(WgpuStorage::of("cast", t)?.context())
    } else {
        map.run()
    }
}

/// `t` itself when contiguous from the start of its storage, else a copy.
pub(crate) fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.layout().offset() == 0 && t.storage().len() == t.numel() {
        return Ok(t.clone());
    }
    cast(t, t.dtype())
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(op::CAST, DispatchKey::Wgpu, "wgpu::cast", |_, _, s| {
        let t = cast(s.tensor("cast", 0)?, s.dtype("cast", 1)?)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(
        op::CONTIGUOUS,
        DispatchKey::Wgpu,
        "wgpu::contiguous",
        |_, _, s| {
            let t = contiguous(s.tensor("contiguous", 0)?)?;
            s.set_result(t);
            Ok(())
        },
    )?;
    Ok(())
}
