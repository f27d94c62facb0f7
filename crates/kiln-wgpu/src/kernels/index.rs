//! `cat`, `index_select`, `gather` and `embedding`: copies whose source
//! element is picked through an index, bit-exact for every dtype (raw
//! words, `shaders/index.wgsl`), every tensor read in place through its
//! layout.
//!
//! Index tensors must be i32. Out-of-range indices are an
//! `Error::IndexOutOfRange`, as on the CPU: the index tensor is read back
//! and checked on the host before anything is encoded (a kernel cannot
//! report an error), then the kernel reads it in place on the GPU.

use super::elementwise::{collapse, map_template, word, WG};
use crate::context::{Access, Arg, WgpuContext};
use crate::shader::{self, Repr, INDEX};
use crate::storage::WgpuStorage;
use kiln_core::{
    meta, op, DType, DispatchKey, Dispatcher, Error, Result, StackExt, StackResult, Tensor,
};
use std::fmt::Write as _;
use std::sync::Arc;

/// An operand of a pick: a tensor read through `strides` over the output
/// shape, from `offset` (wrapping: see index.wgsl).
struct Operand<'a> {
    t: &'a Tensor,
    strides: Vec<usize>,
    offset: u32,
}

/// Encodes one elementwise-template dispatch over `shape` whose element
/// function is `body`, reading `ops` (bindings 2, 3, ...), writing a new
/// tensor of `dt`; `params` are info[2], info[3]; `extra` follows the
/// operands in info.
#[allow(clippy::too_many_arguments)]
fn run(
    op: &str,
    ctx: &Arc<WgpuContext>,
    key: &str,
    dt: DType,
    shape: &[usize],
    ops: &[Operand<'_>],
    params: [u32; 2],
    extra: &[u32],
    body: &str,
) -> Result<Tensor> {
    let out = WgpuStorage::tensor(op, ctx, dt, shape)?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    let strides: Vec<Vec<usize>> = ops.iter().map(|o| o.strides.clone()).collect();
    // `cat` reads the output coordinates itself: no collapse there
    let (cshape, cstrides) = if extra.is_empty() {
        collapse(shape, &strides)
    } else {
        (shape.to_vec(), strides)
    };
    let mut info = vec![word(op, "element count", n)?, cshape.len() as u32];
    info.extend(params);
    for &d in &cshape {
        info.push(word(op, "dimension", d)?);
    }
    for (o, s) in ops.iter().zip(&cstrides) {
        info.push(o.offset);
        for &st in s {
            info.push(word(op, "stride", st)?);
        }
    }
    info.extend_from_slice(extra);
    let esize = dt.size_in_bytes();
    let per_word = 4 / esize as u32;
    let mut access = vec![Access::ReadWrite];
    access.extend(ops.iter().map(|_| Access::Read));
    let key = format!("index:{key}:{dt}");
    let kernel = ctx.kernel(&key, &access, || {
        let mut decls = String::new();
        for k in 0..ops.len() {
            let _ = writeln!(
                decls,
                "@group(0) @binding({}) var<storage, read> src{k}: array<u32>;",
                k + 2
            );
        }
        let src = map_template(
            &format!("main_{per_word}"),
            &[
                ("DST", "u32"),
                ("INPUTS", &decls),
                ("CT", "u32"),
                ("BODY", body),
                ("STORE", shader::raw_store(esize)),
            ],
        );
        // `take` (binding src1) for the index kernels, not for `cat`
        let take = if extra.is_empty() {
            shader::chunk(INDEX, "take")
        } else {
            ""
        };
        shader::module(ctx.native_f16(), &[shader::head(INDEX), take, &src])
    })?;
    let storages: Vec<&WgpuStorage> = ops
        .iter()
        .map(|o| WgpuStorage::of(op, o.t))
        .collect::<Result<_>>()?;
    let out_storage = WgpuStorage::of(op, &out)?;
    let mut args: Vec<Arg<'_>> = vec![out_storage.arg()];
    args.extend(storages.iter().map(|s| s.arg()));
    let words = (n as u64).div_ceil(per_word as u64);
    ctx.dispatch(op, &kernel, &info, &args, words.div_ceil(WG))?;
    Ok(out)
}

/// The body of the pick kernels: the source element `take` picks.
fn take_body(dt: DType) -> String {
    format!(
        "    let j = take(i);\n    return {};",
        shader::raw_load(dt.size_in_bytes(), "src0", "j")
    )
}

/// Reads `index` back and checks every value is in `0..size`.
fn check_range(op: &str, index: &Tensor, size: usize) -> Result<()> {
    if index.numel() == 0 {
        return Ok(());
    }
    match index
        .to_vec::<i32>()?
        .into_iter()
        .find(|&v| v < 0 || v as usize >= size)
    {
        Some(v) => Err(Error::IndexOutOfRange {
            op: op.to_string(),
            index: v as i64,
            size,
        }),
        None => Ok(()),
    }
}

fn offset(op: &str, t: &Tensor) -> Result<u32> {
    word(op, "offset", t.layout().offset())
}

/// Index `t` along `dim` by the 0-D or 1-D `index`.
fn index_select(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    const OP: &str = "index_select";
    let m = meta::index_select(t, dim, index)?;
    let (d, nd) = (m.dim, t.ndim());
    check_range(OP, index, m.size)?;
    // a 0-D `t` is one element picked as often as `index` has values
    let (strides, pick, sd) = if nd == 0 {
        (vec![0; index.ndim()], index.layout().strides().to_vec(), 0)
    } else {
        let mut strides = t.layout().strides().to_vec();
        let sd = std::mem::replace(&mut strides[d], 0);
        let mut pick = vec![0; nd];
        pick[d] = index.layout().strides().first().copied().unwrap_or(0);
        (strides, pick, sd)
    };
    let ctx = WgpuStorage::of(OP, t)?.context().clone();
    let ops = [
        Operand {
            t,
            strides,
            offset: offset(OP, t)?,
        },
        Operand {
            t: index,
            strides: pick,
            offset: offset(OP, index)?,
        },
    ];
    run(
        OP,
        &ctx,
        "take",
        t.dtype(),
        &m.out_shape,
        &ops,
        [word(OP, "stride", sd)?, 0],
        &[],
        &take_body(t.dtype()),
    )
}

fn gather(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    const OP: &str = "gather";
    let m = meta::gather(t, dim, index)?;
    let (d, nd) = (m.dim, t.ndim());
    check_range(OP, index, m.size)?;
    let mut strides = t.layout().strides().to_vec();
    let sd = if nd == 0 {
        0
    } else {
        std::mem::replace(&mut strides[d], 0)
    };
    let ctx = WgpuStorage::of(OP, t)?.context().clone();
    let ops = [
        Operand {
            t,
            strides,
            offset: offset(OP, t)?,
        },
        Operand {
            t: index,
            strides: index.layout().strides().to_vec(),
            offset: offset(OP, index)?,
        },
    ];
    run(
        OP,
        &ctx,
        "take",
        t.dtype(),
        &m.out_shape,
        &ops,
        [word(OP, "stride", sd)?, 0],
        &[],
        &take_body(t.dtype()),
    )
}

fn embedding(weight: &Tensor, indices: &Tensor) -> Result<Tensor> {
    const OP: &str = "embedding";
    let m = meta::embedding(weight, indices)?;
    check_range(OP, indices, m.size)?;
    let (rs, cs) = (weight.layout().strides()[0], weight.layout().strides()[1]);
    let mut wstrides = vec![0; indices.ndim()];
    wstrides.push(cs);
    let mut istrides = indices.layout().strides().to_vec();
    istrides.push(0);
    let ctx = WgpuStorage::of(OP, weight)?.context().clone();
    let ops = [
        Operand {
            t: weight,
            strides: wstrides,
            offset: offset(OP, weight)?,
        },
        Operand {
            t: indices,
            strides: istrides,
            offset: offset(OP, indices)?,
        },
    ];
    run(
        OP,
        &ctx,
        "take",
        weight.dtype(),
        &m.out_shape,
        &ops,
        [word(OP, "stride", rs)?, 0],
        &[],
        &take_body(weight.dtype()),
    )
}

/// Concatenates `tensors` along `dim`, with the CPU backend's promotion,
/// checks and messages (1-D tensors of shape `[0]` are skipped).
fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
    let m = meta::cat(tensors, dim)?;
    let ctx = WgpuStorage::of("cat", &tensors[0])?.context().clone();
    for &i in &m.inputs {
        WgpuStorage::of("cat", &tensors[i])?;
    }
    let d = m.dim;
    // inputs with nothing along `dim` add nothing
    let parts: Vec<&Tensor> = m
        .inputs
        .iter()
        .map(|&i| &tensors[i])
        .filter(|t| t.shape()[d] > 0)
        .collect();
    if parts.is_empty() {
        return WgpuStorage::tensor("cat", &ctx, m.dtype, &m.out_shape);
    }
    cat_parts(&ctx, &parts, d, &m.out_shape, m.dtype)
}

/// Inputs one `cat` dispatch binds at most (info and dst take two more).
fn max_parts(ctx: &WgpuContext) -> usize {
    (ctx.limits().max_storage_buffers_per_shader_stage as usize)
        .saturating_sub(2)
        .clamp(1, 8)
}

/// `cat` of inputs that all have a nonzero size along `d`: one dispatch
/// for up to `max_parts`, else groups concatenated first.
fn cat_parts(
    ctx: &Arc<WgpuContext>,
    parts: &[&Tensor],
    d: usize,
    out_shape: &[usize],
    dt: DType,
) -> Result<Tensor> {
    let max = max_parts(ctx);
    if parts.len() > max {
        let mut groups = Vec::new();
        for g in parts.chunks(max) {
            let mut shape = out_shape.to_vec();
            shape[d] = g.iter().map(|t| t.shape()[d]).sum();
            groups.push(cat_parts(ctx, g, d, &shape, dt)?);
        }
        let refs: Vec<&Tensor> = groups.iter().collect();
        return cat_parts(ctx, &refs, d, out_shape, dt);
    }
    let inner: usize = out_shape[d + 1..].iter().product();
    let mut ops = Vec::with_capacity(parts.len());
    let mut ends = Vec::with_capacity(parts.len());
    let mut body = String::from("    let c = (i / info[2]) % info[3];\n    let nd = info[1];\n");
    let _ = writeln!(
        body,
        "    let ends = 4u + nd + {}u * (nd + 1u);",
        parts.len()
    );
    let mut key = String::from("cat");
    let mut start = 0usize;
    for (k, t) in parts.iter().enumerate() {
        let l = t.layout();
        let sd = l.strides()[d];
        let off = (l.offset() as u64).wrapping_sub(start as u64 * sd as u64) as u32;
        ops.push(Operand {
            t,
            strides: l.strides().to_vec(),
            offset: off,
        });
        start += t.shape()[d];
        ends.push(word("cat", "dimension", start)?);
        let j = format!("strided_index({k}u, i)");
        let value = if t.dtype() == dt {
            shader::raw_load(dt.size_in_bytes(), &format!("src{k}"), &j)
        } else {
            // the buffers are bound as words: f16 loads as packed
            let load = Repr::new(t.dtype(), false).load(&format!("src{k}"), &j);
            format!(
                "to_raw_{}(cast_{}_{}({load}))",
                dt.name(),
                t.dtype().name(),
                dt.name()
            )
        };
        let _ = writeln!(
            body,
            "    if (c < info[ends + {k}u]) {{\n        return {value};\n    }}"
        );
        let _ = write!(key, ",{}", t.dtype());
    }
    body.push_str("    return 0u;");
    run(
        "cat",
        ctx,
        &key,
        dt,
        out_shape,
        &ops,
        [
            word("cat", "dimension", inner)?,
            word("cat", "dimension", out_shape[d])?,
        ],
        &ends,
        &body,
    )
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Wgpu;
    d.register_kernel(op::CAT, k, "wgpu::cat", |_, _, s| {
        let out = cat(s.tensor_list("cat", 0)?, s.int("cat", 1)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::INDEX_SELECT, k, "wgpu::index_select", |_, _, s| {
        const OP: &str = "index_select";
        let out = index_select(s.tensor(OP, 0)?, s.int(OP, 1)?, s.tensor(OP, 2)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::GATHER, k, "wgpu::gather", |_, _, s| {
        let out = gather(
            s.tensor("gather", 0)?,
            s.int("gather", 1)?,
            s.tensor("gather", 2)?,
        )?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::EMBEDDING, k, "wgpu::embedding", |_, _, s| {
        let out = embedding(s.tensor("embedding", 0)?, s.tensor("embedding", 1)?)?;
        s.set_result(out);
        Ok(())
    })
}
