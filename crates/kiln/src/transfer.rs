//! `to(device)`: moves a tensor between backends through host memory. It
//! lives here because only this crate sees every backend. The allocation on
//! the target and the copy run inside `NoTracerDispatchMode`, so a trace
//! records one `kiln::to` node and never the `empty` under it.

use kiln_core::{
    factory, op, DispatchKey, Dispatcher, NoTracerDispatchMode, Result, Stack, StackExt,
    StackResult, Tensor,
};

fn to_device(t: &Tensor, device: &kiln_core::Device) -> Result<Tensor> {
    if t.device() == *device {
        return Ok(t.clone());
    }
    let _guard = NoTracerDispatchMode::new();
    let bytes = t.to_bytes()?;
    let mut out = factory::empty(t.shape(), t.dtype(), device)?;
    out.storage_mut()
        .ok_or_else(|| {
            kiln_core::Error::invalid("to", "a freshly allocated tensor was shared (internal)")
        })?
        .write_bytes(&bytes)?;
    Ok(out)
}

fn kernel(_: kiln_core::OpId, _: kiln_core::DispatchKeySet, s: &mut Stack) -> Result<()> {
    let out = to_device(s.tensor("to", 0)?, &s.device("to", 1)?)?;
    s.set_result(out);
    Ok(())
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    for k in [DispatchKey::Cpu, DispatchKey::Wgpu] {
        d.register_kernel(op::TO, k, "kiln::to", kernel)?;
    }
    Ok(())
}
