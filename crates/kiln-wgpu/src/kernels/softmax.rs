//! `softmax` and `log_softmax` over any dim, as the CPU backend: floats
//! only, f16/bf16 computed in f32. One dispatch: the rows along `dim` are
//! read in place through the input's strides and written straight into a
//! contiguous output, whatever the dim (no moved copies).

use super::reduce::{finish, row_head, row_wg, written, Rows};
use crate::context::Access;
use crate::shader::{self, Repr, SOFTMAX};
use crate::storage::WgpuStorage;
use kiln_core::meta;
use kiln_core::{op, DispatchKey, Dispatcher, Layout, Result, StackExt, StackResult, Tensor};

fn softmax(t: &Tensor, dim: i64, log: bool) -> Result<Tensor> {
    let name = if log { "log_softmax" } else { "softmax" };
    let d = meta::softmax(t, dim, log)?;
    let dt = t.dtype();
    let nd = t.ndim();
    let ctx = WgpuStorage::of(name, t)?.context().clone();
    let native = ctx.native_f16();
    let wdt = written(dt, native);
    let out = WgpuStorage::tensor(name, &ctx, wdt, t.shape())?;
    if out.numel() == 0 {
        return finish(out, dt);
    }
    let reduced: Vec<bool> = (0..nd).map(|i| i == d).collect();
    let out_strides = Layout::contiguous(t.shape()).strides().to_vec();
    let rows = Rows::new(
        t.shape(),
        &[t.strides(), &out_strides],
        &reduced,
        t.layout().offset(),
        row_wg(&ctx),
    );
    let (in_repr, out_repr) = (Repr::new(dt, native), Repr::new(wdt, native));
    let (at_in, at_out) = (rows.at(0), rows.at(1));
    let key = format!(
        "{name}:{dt}>{wdt}:{}:{at_in}:{}",
        if native { "f16" } else { "packed" },
        rows.rwg
    );
    let kernel = ctx.kernel(&key, &[Access::ReadWrite, Access::Read], || {
        let body = shader::fill(
            SOFTMAX,
            &[
                ("DST", out_repr.array_elem()),
                ("STORE", out_repr.store()),
                ("SRC", in_repr.array_elem()),
                ("LOAD", &in_repr.load("src", "j")),
                ("LOG", if log { "true" } else { "false" }),
                ("IN", &at_in),
                ("OUT", &at_out),
            ],
        );
        shader::module(native, &[&row_head(&ctx), &body])
    })?;
    let info = rows.info(name, 0)?;
    let src = WgpuStorage::of(name, t)?;
    let dst = WgpuStorage::of(name, &out)?;
    ctx.dispatch(name, &kernel, &info, &[dst.arg(), src.arg()], rows.groups())?;
    finish(out, dt)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    for (id, log) in [(op::SOFTMAX, false), (op::LOG_SOFTMAX, true)] {
        let name = if log { "log_softmax" } else { "softmax" };
        d.register_kernel(
            id,
            DispatchKey::Wgpu,
            &format!("wgpu::{name}"),
            move |_, _, s| {
                let out = softmax(s.tensor(name, 0)?, s.int(name, 1)?, log)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}
