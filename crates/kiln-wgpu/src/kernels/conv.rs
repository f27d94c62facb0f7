//! `conv2d` and `max_pool2d` (`shaders/conv.wgsl`), with the CPU backend's
//! dtypes, checks and errors (`kiln_core::conv`). Input, weight and bias
//! are read in place through their offsets and strides; the output is
//! contiguous.
//!
//! conv2d is direct: a workgroup covers 64 runs of 4 outputs along a row
//! of one sample and one block of up to 8 output channels of one group,
//! each invocation accumulating its 4 x block outputs in f32 (Note [Conv
//! info]). Outputs of packed
//! dtypes (bf16, f16 without `SHADER_F16`) are written as f32 and cast by
//! one elementwise dispatch, since neighbouring elements belong to
//! different invocations. max_pool2d runs on the elementwise template, one
//! output word per invocation (Note [Pool info]).

use super::elementwise::{map_template, word, WG};
use super::reduce::{finish, written};
use crate::context::{Access, Arg};
use crate::shader::{self, compute_type, Repr, CONV};
use crate::storage::WgpuStorage;
use kiln_core::conv::{Conv2d, Conv2dCall, MaxPool2d};
use kiln_core::{op, DType, DispatchKey, Dispatcher, Result, StackResult, Tensor};

/// Invocations per conv2d workgroup (`CWG` in conv.wgsl).
const CWG: usize = 64;
/// Neighbouring outputs along a row per conv2d invocation (`PW`).
const PW: usize = 4;

/// Output channels one conv2d invocation accumulates: up to 8, the
/// group's channel count rounded up to a power of two below that.
fn channel_block(og: usize) -> usize {
    og.next_power_of_two().clamp(1, 8)
}

fn conv2d(call: Conv2dCall<'_>) -> Result<Tensor> {
    const OP: &str = "conv2d";
    let Conv2dCall {
        x,
        weight,
        bias,
        conv: cv,
    } = call;
    let dt = x.dtype();
    let xs = WgpuStorage::of(OP, x)?;
    let ws = WgpuStorage::of(OP, weight)?;
    let bs = bias.map(|b| WgpuStorage::of(OP, b)).transpose()?;
    let ctx = xs.context().clone();
    let native = ctx.native_f16();
    let wdt = written(dt, native);
    let out = WgpuStorage::tensor(OP, &ctx, wdt, &cv.out_shape())?;
    if out.numel() == 0 {
        return finish(out, dt);
    }
    let og = cv.og();
    let ob = channel_block(og);
    let blocks = cv.groups * og.div_ceil(ob);
    let tiles = (cv.out[0] * cv.out[1].div_ceil(PW)).div_ceil(CWG);
    let groups_total = (cv.x[0] as u64) * (blocks as u64) * (tiles as u64);
    let wl = weight.layout();
    let mut info = vec![
        word(OP, "workgroup count", groups_total as usize)?,
        word(OP, "dimension", cv.out[1])?,
        word(OP, "dimension", cv.out[0])?,
        word(OP, "dimension", tiles)?,
        word(OP, "dimension", cv.cg())?,
        word(OP, "dimension", og)?,
        word(OP, "dimension", cv.k[0])?,
        word(OP, "dimension", cv.k[1])?,
    ];
    for v in [cv.stride, cv.pad, cv.dil].into_iter().flatten() {
        info.push(word(OP, "parameter", v)?);
    }
    // padded coordinates (computed wrapping) stay below 2^32
    word(
        OP,
        "padded input size",
        cv.x[2].max(cv.x[3]) + 2 * cv.pad[0].max(cv.pad[1]),
    )?;
    info.push(word(OP, "dimension", cv.x[2])?);
    info.push(word(OP, "dimension", cv.x[3])?);
    info.push(word(OP, "offset", cv.offset)?);
    for s in cv.xs {
        info.push(word(OP, "stride", s)?);
    }
    info.push(word(OP, "offset", wl.offset())?);
    for &s in wl.strides() {
        info.push(word(OP, "stride", s)?);
    }
    match bias {
        Some(b) => {
            info.push(word(OP, "offset", b.layout().offset())?);
            info.push(word(OP, "stride", b.layout().strides()[0])?);
        }
        None => info.extend([0, 0]),
    }
    info.push(word(OP, "dimension", cv.out_c)?);
    info.push(word(OP, "dimension", blocks)?);

    let (in_repr, out_repr) = (Repr::new(dt, native), Repr::new(wdt, native));
    let mut access = vec![Access::ReadWrite, Access::Read, Access::Read];
    if bias.is_some() {
        access.push(Access::Read);
    }
    let key = format!(
        "conv2d:{dt}>{wdt}:ob{ob}:{}:{}",
        if bias.is_some() { "bias" } else { "nobias" },
        if native { "f16" } else { "packed" }
    );
    let kernel = ctx.kernel(&key, &access, || {
        let bias_part = if bias.is_some() {
            shader::chunk(CONV, "bias")
        } else {
            shader::chunk(CONV, "no_bias")
        };
        let src = shader::fill(
            &format!("{}{bias_part}", shader::chunk(CONV, "conv")),
            &[
                ("OB", &ob.to_string()),
                ("DST", out_repr.array_elem()),
                ("STORE", out_repr.store()),
                ("SRC", in_repr.array_elem()),
                ("LOAD_X", &in_repr.load("x", "j")),
                ("LOAD_W", &in_repr.load("w", "j")),
                ("LOAD_B", &in_repr.load("bias", "j")),
            ],
        );
        shader::module(native, &[shader::head(CONV), &src])
    })?;
    let ds = WgpuStorage::of(OP, &out)?;
    let mut args: Vec<Arg<'_>> = vec![ds.arg(), xs.arg(), ws.arg()];
    args.extend(bs.map(|b| b.arg()));
    ctx.dispatch(OP, &kernel, &info, &args, groups_total)?;
    finish(out, dt)
}

fn max_pool2d(x: &Tensor, pl: MaxPool2d) -> Result<Tensor> {
    const OP: &str = "max_pool2d";
    let dt = x.dtype();
    let xs = WgpuStorage::of(OP, x)?;
    let ctx = xs.context().clone();
    let native = ctx.native_f16();
    let out = WgpuStorage::tensor(OP, &ctx, dt, &pl.out_shape())?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    let mut info = vec![
        word(OP, "element count", n)?,
        word(OP, "dimension", pl.out[1])?,
        word(OP, "dimension", pl.out[0])?,
        word(OP, "dimension", pl.d[1])?,
    ];
    for v in [pl.k, pl.stride, pl.pad].into_iter().flatten() {
        info.push(word(OP, "parameter", v)?);
    }
    // window ends stay below 2^32
    word(
        OP,
        "padded input size",
        pl.d[2].max(pl.d[3]) + 2 * pl.pad[0].max(pl.pad[1]),
    )?;
    info.push(word(OP, "dimension", pl.d[2])?);
    info.push(word(OP, "dimension", pl.d[3])?);
    info.push(word(OP, "offset", pl.offset)?);
    for s in pl.s {
        info.push(word(OP, "stride", s)?);
    }

    let repr = Repr::new(dt, native);
    let per_word = repr.per_word();
    let ct = compute_type(dt);
    let key = format!("max_pool2d:{dt}:{}", if native { "f16" } else { "packed" });
    let kernel = ctx.kernel(&key, &[Access::ReadWrite, Access::Read], || {
        let inputs = format!(
            "@group(0) @binding(2) var<storage, read> src0: array<{}>;\nfn load_pool(j: u32) -> {ct} {{\n    return {};\n}}\n",
            repr.array_elem(),
            repr.load("src0", "j")
        );
        let better = if dt == DType::I32 {
            "v > best"
        } else {
            "is_nan(v) || (!is_nan(best) && v > best)"
        };
        let pool = shader::fill(
            shader::chunk(CONV, "pool"),
            &[("CT", ct), ("BETTER", better)],
        );
        let main = map_template(
            &format!("main_{per_word}"),
            &[
                ("DST", repr.array_elem()),
                ("INPUTS", &inputs),
                ("CT", ct),
                ("BODY", "    return pool(i);"),
                ("STORE", repr.store()),
            ],
        );
        shader::module(native, &[shader::head(CONV), &pool, &main])
    })?;
    let ds = WgpuStorage::of(OP, &out)?;
    let words = (n as u64).div_ceil(per_word as u64);
    ctx.dispatch(
        OP,
        &kernel,
        &info,
        &[ds.arg(), xs.arg()],
        words.div_ceil(WG),
    )?;
    Ok(out)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Wgpu;
    d.register_kernel(op::CONV2D, k, "wgpu::conv2d", |_, _, s| {
        let out = conv2d(Conv2d::from_stack(s)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::MAX_POOL2D, k, "wgpu::max_pool2d", |_, _, s| {
        let (x, pool) = MaxPool2d::from_stack(s)?;
        let out = max_pool2d(x, pool)?;
        s.set_result(out);
        Ok(())
    })
}
