//! Factory kernels: `empty`, `zeros`, `ones`, `full`, `arange`, `eye`.
//!
//! `full` (and `zeros`, `ones`) and `eye` write whole words of bit patterns
//! the host computes, so one pipeline each serves every dtype. `arange`
//! computes its values on the host in f64, as the CPU backend does, and
//! uploads them: the same numbers, bit for bit.

use super::elementwise::{word, WG};
use crate::adapter::context_of;
use crate::context::{Access, WgpuContext};
use crate::shader::{self, FACTORY};
use crate::storage::WgpuStorage;
use half::{bf16, f16};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, Result, Scalar, StackExt, StackResult, Storage,
    Tensor,
};
use std::sync::Arc;

/// The bits of `v` as one element of `dtype` (the CPU's `from_f64`).
fn element_bits(v: f64, dtype: DType) -> u32 {
    match dtype {
        DType::F32 => (v as f32).to_bits(),
        DType::I32 => (v as i32) as u32,
        DType::F16 => f16::from_f64(v).to_bits() as u32,
        DType::BF16 => bf16::from_f64(v).to_bits() as u32,
        DType::Bool => (v != 0.0) as u32,
    }
}

/// A word filled with copies of `bits`, an element of `dtype`.
fn fill_word(bits: u32, dtype: DType) -> u32 {
    match dtype.size_in_bytes() {
        4 => bits,
        2 => bits | (bits << 16),
        _ => bits * 0x0101_0101,
    }
}

fn run_words(
    op: &str,
    ctx: &Arc<WgpuContext>,
    out: &Tensor,
    chunk: &str,
    info: Vec<u32>,
) -> Result<()> {
    let key = format!("factory:{chunk}");
    let kernel = ctx.kernel(&key, &[Access::ReadWrite], || {
        let k = format!("{}{}", shader::head(FACTORY), shader::chunk(FACTORY, chunk));
        shader::module(ctx.native_f16(), &[&k])
    })?;
    let words = info[0] as u64;
    ctx.dispatch(
        op,
        &kernel,
        &info,
        &[WgpuStorage::of(op, out)?.arg()],
        words.div_ceil(WG),
    )
}

/// A tensor of `shape` with every element `v`.
pub(crate) fn full(
    op: &str,
    ctx: &Arc<WgpuContext>,
    shape: &[usize],
    v: Scalar,
    dtype: DType,
) -> Result<Tensor> {
    let out = WgpuStorage::tensor(op, ctx, dtype, shape)?;
    let bytes = out.numel() * dtype.size_in_bytes();
    if bytes > 0 {
        let words = word(op, "word count", bytes.div_ceil(4))?;
        let info = vec![
            words,
            1,
            fill_word(element_bits(v.to_f64(), dtype), dtype),
            0,
        ];
        run_words(op, ctx, &out, "fill", info)?;
    }
    Ok(out)
}

fn arange(
    ctx: &Arc<WgpuContext>,
    start: Scalar,
    end: Scalar,
    step: Scalar,
    dtype: DType,
) -> Result<Tensor> {
    let (a, b, st) = (start.to_f64(), end.to_f64(), step.to_f64());
    if st == 0.0 || !st.is_finite() || !a.is_finite() || !b.is_finite() {
        return Err(Error::invalid(
            "arange",
            format!("step must be finite and nonzero and bounds finite, got start={a}, end={b}, step={st}"),
        ));
    }
    if (b - a) * st < 0.0 {
        return Err(Error::invalid(
            "arange",
            format!("upper bound and larger bound inconsistent with step sign: start={a}, end={b}, step={st}"),
        ));
    }
    if dtype == DType::Bool {
        return Err(Error::dtype(
            "arange",
            dtype,
            "arange is defined for numeric dtypes",
        ));
    }
    let n = ((b - a) / st).ceil().max(0.0) as usize;
    let mut bytes = Vec::with_capacity(n * dtype.size_in_bytes());
    for i in 0..n {
        let bits = element_bits(a + i as f64 * st, dtype);
        bytes.extend_from_slice(&bits.to_le_bytes()[..dtype.size_in_bytes()]);
    }
    let mut s = WgpuStorage::new("arange", ctx, dtype, n)?;
    s.write_bytes(&bytes)?;
    Tensor::from_storage(Arc::new(s), kiln_core::Layout::contiguous(&[n]))
}

fn eye(ctx: &Arc<WgpuContext>, n: i64, m: i64, dtype: DType) -> Result<Tensor> {
    if n < 0 || m < 0 {
        return Err(Error::invalid(
            "eye",
            format!("n and m must be non-negative, got n={n}, m={m}"),
        ));
    }
    let (n, m) = (n as usize, m as usize);
    let out = WgpuStorage::tensor("eye", ctx, dtype, &[n, m])?;
    let elems = n * m;
    if elems > 0 {
        let esize = dtype.size_in_bytes();
        let info = vec![
            word("eye", "word count", (elems * esize).div_ceil(4))?,
            1,
            element_bits(1.0, dtype),
            8 * esize as u32,
            word("eye", "element count", elems)?,
            m as u32,
        ];
        run_words("eye", ctx, &out, "eye", info)?;
    }
    Ok(out)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Wgpu;
    d.register_kernel(op::EMPTY, k, "wgpu::empty", |_, _, s| {
        let ctx = context_of("empty", s.device("empty", 2)?)?;
        let t = WgpuStorage::tensor("empty", &ctx, s.dtype("empty", 1)?, &s.size("empty", 0)?)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ZEROS, k, "wgpu::zeros", |_, _, s| {
        let ctx = context_of("zeros", s.device("zeros", 2)?)?;
        let t = full(
            "zeros",
            &ctx,
            &s.size("zeros", 0)?,
            Scalar::Int(0),
            s.dtype("zeros", 1)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ONES, k, "wgpu::ones", |_, _, s| {
        let ctx = context_of("ones", s.device("ones", 2)?)?;
        let t = full(
            "ones",
            &ctx,
            &s.size("ones", 0)?,
            Scalar::Int(1),
            s.dtype("ones", 1)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::FULL, k, "wgpu::full", |_, _, s| {
        let ctx = context_of("full", s.device("full", 3)?)?;
        let t = full(
            "full",
            &ctx,
            &s.size("full", 0)?,
            s.scalar("full", 1)?,
            s.dtype("full", 2)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ARANGE, k, "wgpu::arange", |_, _, s| {
        let ctx = context_of("arange", s.device("arange", 4)?)?;
        let t = arange(
            &ctx,
            s.scalar("arange", 0)?,
            s.scalar("arange", 1)?,
            s.scalar("arange", 2)?,
            s.dtype("arange", 3)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::EYE, k, "wgpu::eye", |_, _, s| {
        let ctx = context_of("eye", s.device("eye", 3)?)?;
        let t = eye(&ctx, s.int("eye", 0)?, s.int("eye", 1)?, s.dtype("eye", 2)?)?;
        s.set_result(t);
        Ok(())
    })?;
    Ok(())
}
