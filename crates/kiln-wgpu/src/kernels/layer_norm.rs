//! `layer_norm` over the trailing `normalized_shape` dims, as the CPU
//! backend: biased variance, `eps` inside the square root, optional
//! `weight` and `bias` of that shape (any float dtype), floats only, f32
//! math. One dispatch reads the input in place through its strides; the
//! weight and bias (one row's worth) are first made contiguous f32, as the
//! CPU backend does, so the kernel indexes them by position.

use super::cast;
use super::reduce::{finish, row_head, row_wg, written, Rows};
use crate::context::{Access, Arg};
use crate::shader::{self, Repr, LAYER_NORM};
use crate::storage::WgpuStorage;
use kiln_core::{
    meta, op, DType, DispatchKey, Dispatcher, Layout, Result, StackExt, StackResult, Tensor,
};

const NAME: &str = "layer_norm";

/// `weight` or `bias` as a contiguous f32 tensor.
fn affine(t: Option<&Tensor>) -> Result<Option<Tensor>> {
    match t {
        None => Ok(None),
        Some(t) if t.dtype() == DType::F32 => cast::contiguous(t).map(Some),
        Some(t) => cast::cast(t, DType::F32).map(Some),
    }
}

fn layer_norm(
    x: &Tensor,
    normalized_shape: &[i64],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    let meta = meta::layer_norm(x, normalized_shape, weight, bias, eps)?;
    let ns = meta.normalized;
    let dt = x.dtype();
    let shape = x.shape();
    let nd = shape.len();
    let w = affine(weight)?;
    let b = affine(bias)?;
    let ctx = WgpuStorage::of(NAME, x)?.context().clone();
    let native = ctx.native_f16();
    let wdt = written(dt, native);
    let out = WgpuStorage::tensor(NAME, &ctx, wdt, shape)?;
    if out.numel() == 0 {
        return finish(out, dt);
    }
    let reduced: Vec<bool> = (0..nd).map(|i| i >= nd - ns.len()).collect();
    let out_strides = Layout::contiguous(shape).strides().to_vec();
    let rows = Rows::new(
        shape,
        &[x.strides(), &out_strides],
        &reduced,
        x.layout().offset(),
        row_wg(&ctx),
    );
    let (at_in, at_out) = (rows.at(0), rows.at(1));
    let (in_repr, out_repr) = (Repr::new(dt, native), Repr::new(wdt, native));
    let (hw, hb) = (w.is_some(), b.is_some());
    let key = format!(
        "layer_norm:{dt}>{wdt}:{}:w{hw}:b{hb}:{at_in}:{at_out}:{}",
        if native { "f16" } else { "packed" },
        rows.rwg
    );
    let mut access = vec![Access::ReadWrite, Access::Read];
    access.extend(w.iter().chain(&b).map(|_| Access::Read));
    let kernel = ctx.kernel(&key, &access, || {
        let mut decls = String::new();
        let mut binding = 3;
        for (has, name) in [(hw, "weight"), (hb, "bias")] {
            if has {
                decls.push_str(&format!(
                    "@group(0) @binding({binding}) var<storage, read> {name}: array<f32>;\n"
                ));
                binding += 1;
            }
        }
        let apply = match (hw, hb) {
            (true, true) => "y * rstd * weight[i] + bias[i]",
            (true, false) => "y * rstd * weight[i]",
            (false, true) => "y * rstd + bias[i]",
            (false, false) => "y * rstd",
        };
        let body = shader::fill(
            LAYER_NORM,
            &[
                ("DST", out_repr.array_elem()),
                ("STORE", out_repr.store()),
                ("SRC", in_repr.array_elem()),
                ("LOAD", &in_repr.load("src", "j")),
                ("AFFINE", &decls),
                ("APPLY", apply),
                ("IN", &at_in),
                ("OUT", &at_out),
            ],
        );
        shader::module(native, &[&row_head(&ctx), &body])
    })?;
    let info = rows.info(NAME, meta.eps.to_bits())?;
    let src = WgpuStorage::of(NAME, x)?;
    let dst = WgpuStorage::of(NAME, &out)?;
    let mut args: Vec<Arg<'_>> = vec![dst.arg(), src.arg()];
    for t in w.iter().chain(&b) {
        args.push(WgpuStorage::of(NAME, t)?.arg());
    }
    ctx.dispatch(NAME, &kernel, &info, &args, rows.groups())?;
    finish(out, dt)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(
        op::LAYER_NORM,
        DispatchKey::Wgpu,
        "wgpu::layer_norm",
        |_, _, s| {
            let out = layer_norm(
                s.tensor(NAME, 0)?,
                s.int_list(NAME, 1)?,
                s.opt_tensor(NAME, 2)?,
                s.opt_tensor(NAME, 3)?,
                s.float(NAME, 4)?,
            )?;
            s.set_result(out);
            Ok(())
        },
    )
}
