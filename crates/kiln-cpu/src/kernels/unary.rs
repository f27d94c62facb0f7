//! Elementwise unary ops: `neg abs exp log sqrt rsqrt sin cos tanh sigmoid
//! relu gelu silu recip`.
//!
//! Dtypes follow PyTorch (`kiln_core::unary_result_type`, shared with the
//! GPU): floats compute in f32 and round once; on `i32`, `neg`, `abs` and
//! `relu` stay `i32`, `gelu` and `silu` are refused and the others promote to
//! `f32`; on `bool` every one of them is an `UnsupportedDType` error.
//!
//! The float math runs on f32 slices (`unary_f32`), compiled twice (see
//! Note [Runtime SIMD dispatch]); other dtypes and strided inputs go through
//! a stack block of f32 on the way in and out.

use crate::iter::{map_contiguous, map_strided, walk, Operand, GRAIN};
use crate::kernels::vmath::{self, simd_fn, F32Block};
use crate::storage::alloc;
use crate::tensor_io::{slice_of, wrap};
use half::{bf16, f16};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, OpId, Result, StackExt, StackResult, Tensor,
};
use rayon::prelude::*;

/// Which unary op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    Gelu,
    Silu,
    Recip,
}

impl Unary {
    /// Every unary op with its op-table id.
    pub const ALL: [(Unary, OpId); 14] = [
        (Unary::Neg, op::NEG),
        (Unary::Abs, op::ABS),
        (Unary::Exp, op::EXP),
        (Unary::Log, op::LOG),
        (Unary::Sqrt, op::SQRT),
        (Unary::Rsqrt, op::RSQRT),
        (Unary::Sin, op::SIN),
        (Unary::Cos, op::COS),
        (Unary::Tanh, op::TANH),
        (Unary::Sigmoid, op::SIGMOID),
        (Unary::Relu, op::RELU),
        (Unary::Gelu, op::GELU),
        (Unary::Silu, op::SILU),
        (Unary::Recip, op::RECIP),
    ];

    /// The op's name.
    pub fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Abs => "abs",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Rsqrt => "rsqrt",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Relu => "relu",
            Unary::Gelu => "gelu",
            Unary::Silu => "silu",
            Unary::Recip => "recip",
        }
    }

    /// The `i32` version, for the ops that keep integers integral.
    fn on_int(self) -> Option<fn(i32) -> i32> {
        match self {
            Unary::Neg => Some(i32::wrapping_neg),
            Unary::Abs => Some(i32::wrapping_abs),
            Unary::Relu => Some(|x: i32| x.max(0)),
            _ => None,
        }
    }
}

#[inline(always)]
fn unary_f32_impl<const FMA: bool>(op: Unary, x: &[f32], y: &mut [f32]) {
    macro_rules! map {
        ($f:expr) => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = $f(x);
            }
        };
    }
    match op {
        Unary::Neg => map!(|v: f32| -v),
        Unary::Abs => map!(f32::abs),
        Unary::Exp => map!(vmath::exp::<FMA>),
        Unary::Log => map!(f32::ln),
        Unary::Sqrt => map!(f32::sqrt),
        Unary::Rsqrt => map!(|v: f32| 1.0 / v.sqrt()),
        Unary::Sin => map!(f32::sin),
        Unary::Cos => map!(f32::cos),
        Unary::Tanh => map!(vmath::tanh::<FMA>),
        Unary::Sigmoid => map!(vmath::sigmoid::<FMA>),
        // NaN is not < 0 and passes through, as in PyTorch
        Unary::Relu => map!(|v: f32| if v < 0.0 { 0.0 } else { v }),
        Unary::Gelu => map!(vmath::gelu::<FMA>),
        Unary::Silu => map!(vmath::silu::<FMA>),
        Unary::Recip => map!(|v: f32| 1.0 / v),
    }
}

simd_fn! {
    /// `y[i] = op(x[i])` over equal-length f32 slices.
    pub fn unary_f32(op: Unary, x: &[f32], y: &mut [f32]) => unary_f32_impl;
}

/// Elements per stack block on the converting path.
const BLOCK: usize = 256;

/// `op` on a float result: reads `S`, computes in f32, writes `D`.
fn float_unary<S: F32Block, D: F32Block>(op: Unary, t: &Tensor) -> Result<Tensor> {
    let src = slice_of::<S>(op.name(), t)?;
    let l = t.layout();
    let n = l.numel();
    let dense = l.is_contiguous().then(|| &src[l.offset()..l.offset() + n]);
    let ops = [Operand::of(l)];
    let run = |start: usize, out: &mut [D]| {
        if let (Some(x), Some(y)) = (dense.and_then(S::as_f32), D::as_f32_mut(out)) {
            return unary_f32(op, &x[start..start + y.len()], y);
        }
        let (mut xb, mut yb) = ([0f32; BLOCK], [0f32; BLOCK]);
        for (b, out) in out.chunks_mut(BLOCK).enumerate() {
            let (s0, len) = (start + b * BLOCK, out.len());
            match dense {
                Some(x) => S::load_f32(&x[s0..s0 + len], &mut xb[..len]),
                None => walk(l.shape(), &ops, s0, len, |k, [o]| xb[k] = src[o].to_f32()),
            }
            unary_f32(op, &xb[..len], &mut yb[..len]);
            D::store_f32(&yb[..len], out);
        }
    };
    let mut out = alloc::<D>(n);
    if n <= GRAIN {
        run(0, &mut out);
    } else {
        out.par_chunks_mut(GRAIN)
            .enumerate()
            .for_each(|(c, chunk)| run(c * GRAIN, chunk));
    }
    wrap(out, l.shape())
}

fn int_unary(op: Unary, t: &Tensor, f: fn(i32) -> i32) -> Result<Tensor> {
    let src = slice_of::<i32>(op.name(), t)?;
    let l = t.layout();
    let out = if l.is_contiguous() {
        map_contiguous(&src[l.offset()..l.offset() + l.numel()], f)
    } else {
        map_strided(l.shape(), &[Operand::of(l)], |[o]| f(src[o]))
    };
    wrap(out, l.shape())
}

/// `op(t)` elementwise, as a new contiguous tensor.
pub fn unary(op: Unary, t: &Tensor) -> Result<Tensor> {
    let out = kiln_core::unary_result_type(op.name(), t.dtype())?;
    match t.dtype() {
        DType::F32 => float_unary::<f32, f32>(op, t),
        DType::F16 => float_unary::<f16, f16>(op, t),
        DType::BF16 => float_unary::<bf16, bf16>(op, t),
        DType::I32 => match op.on_int() {
            Some(f) if out == DType::I32 => int_unary(op, t, f),
            _ => float_unary::<i32, f32>(op, t),
        },
        // refused by `unary_result_type`
        DType::Bool => Err(Error::dtype(op.name(), DType::Bool, "not a numeric dtype")),
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    for (u, id) in Unary::ALL {
        d.register_kernel(
            id,
            DispatchKey::Cpu,
            &format!("cpu::{}", u.name()),
            move |_, _, s| {
                let out = unary(u, s.tensor(u.name(), 0)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}
