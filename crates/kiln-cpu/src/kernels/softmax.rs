//! `softmax` and `log_softmax` over any dim, and the row loop that they and
//! `layer_norm` share.
//!
//! Floats only (PyTorch's softmax on integers is an error too); f16/bf16
//! compute in f32. The fast path is the last dim of a contiguous input:
//! rows go to rayon in tasks of about `GRAIN` elements, and each row takes
//! one pass for its max, one for `exp(x - max)` and its sum (the
//! vectorised `vmath::exp`), and one to scale. Another dim is moved last
//! by a strided copy, and the result moved back by another.

use crate::iter::{gather_contiguous, GRAIN};
use crate::kernels::cast;
use crate::kernels::vmath::{self, simd_fn, F32Block};
use crate::storage::alloc;
use crate::tensor_io::{slice_of, wrap};
use kiln_core::meta;
use kiln_core::{op, DispatchKey, Dispatcher, Error, Result, StackExt, StackResult, Tensor};
use rayon::prelude::*;

/// `y = exp(x - m)`, returning the sum of `y`: one pass, 8 lanes.
#[inline(always)]
fn exp_sum<const FMA: bool>(x: &[f32], m: f32, y: &mut [f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let n8 = x.len() / 8 * 8;
    for (y, x) in y[..n8].chunks_exact_mut(8).zip(x[..n8].chunks_exact(8)) {
        for l in 0..8 {
            let e = vmath::exp::<FMA>(x[l] - m);
            y[l] = e;
            lanes[l] += e;
        }
    }
    // a plain sum (see vmath::sum_lanes)
    let mut s: f32 = lanes.iter().sum();
    for (y, &v) in y[n8..].iter_mut().zip(&x[n8..]) {
        *y = vmath::exp::<FMA>(v - m);
        s += *y;
    }
    s
}

#[inline(always)]
fn softmax_row_impl<const FMA: bool>(x: &[f32], y: &mut [f32], log: bool) {
    let m = vmath::extreme_lanes::<true>(x);
    let s = exp_sum::<FMA>(x, m, y);
    if log {
        let ls = s.ln();
        for (y, &v) in y.iter_mut().zip(x) {
            *y = (v - m) - ls;
        }
    } else {
        let inv = 1.0 / s;
        for y in y.iter_mut() {
            *y *= inv;
        }
    }
}

simd_fn! {
    /// Softmax (or log-softmax) of the row `x` into `y`.
    pub fn softmax_row(x: &[f32], y: &mut [f32], log: bool) => softmax_row_impl;
}

/// Applies `f(x_row, y_row)` to each row of `n` elements of the contiguous
/// `x`, in f32, in parallel above `GRAIN` elements.
fn map_rows<T: F32Block>(x: &[T], n: usize, f: &(impl Fn(&[f32], &mut [f32]) + Sync)) -> Vec<T> {
    let mut out = alloc::<T>(x.len());
    if x.is_empty() || n == 0 {
        return out;
    }
    let task = |x: &[T], y: &mut [T], scratch: &mut Vec<f32>| match (T::as_f32(x), T::as_f32_mut(y))
    {
        (Some(x), Some(y)) => {
            for (x, y) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
                f(x, y);
            }
        }
        _ => {
            scratch.resize(2 * n, 0.0);
            let (a, b) = scratch.split_at_mut(n);
            for (x, y) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
                T::load_f32(x, a);
                f(a, b);
                T::store_f32(b, y);
            }
        }
    };
    if x.len() <= GRAIN {
        task(x, &mut out, &mut Vec::new());
    } else {
        let chunk = (GRAIN / n).max(1) * n;
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .for_each_init(Vec::new, |s, (y, x)| task(x, y, s));
    }
    out
}

/// A tensor shaped like the float tensor `t` whose rows (its trailing `n`
/// elements, in logical order) are `f` of `t`'s rows.
pub(crate) fn float_rows(
    op: &str,
    t: &Tensor,
    n: usize,
    f: &(impl Fn(&[f32], &mut [f32]) + Sync),
) -> Result<Tensor> {
    crate::with_float_dtype!(t.dtype(), T => {
        let src = slice_of::<T>(op, t)?;
        let l = t.layout();
        let copy;
        let x = if l.is_contiguous() {
            &src[l.offset()..l.offset() + l.numel()]
        } else {
            copy = gather_contiguous(src, l);
            &copy[..]
        };
        wrap(map_rows(x, n, f), l.shape())
    }, _ => Err(Error::dtype(op, t.dtype(), "needs a floating dtype; cast the input to one first")))
}

/// `softmax(t, dim)`, or `log_softmax` when `log`.
pub fn softmax(t: &Tensor, dim: i64, log: bool) -> Result<Tensor> {
    let name = if log { "log_softmax" } else { "softmax" };
    let d = meta::softmax(t, dim, log)?;
    let nd = t.ndim();
    let row = |x: &[f32], y: &mut [f32]| softmax_row(x, y, log);
    if nd == 0 {
        return float_rows(name, t, 1, &row);
    }
    let n = t.shape()[d];
    if d == nd - 1 {
        return float_rows(name, t, n, &row);
    }
    // move `d` last, run the rows, and move it back
    let perm: Vec<i64> = (0..nd)
        .filter(|&i| i != d)
        .chain([d])
        .map(|i| i as i64)
        .collect();
    let mut inv = vec![0i64; nd];
    for (pos, &i) in perm.iter().enumerate() {
        inv[i as usize] = pos as i64;
    }
    let moved = t.with_layout(name, t.layout().permute(name, &perm)?)?;
    let y = float_rows(name, &moved, n, &row)?;
    cast::contiguous(&y.with_layout(name, y.layout().permute(name, &inv)?)?)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    for (id, log) in [(op::SOFTMAX, false), (op::LOG_SOFTMAX, true)] {
        let name = if log { "log_softmax" } else { "softmax" };
        d.register_kernel(
            id,
            DispatchKey::Cpu,
            &format!("cpu::{name}"),
            move |_, _, s| {
                let out = softmax(s.tensor(name, 0)?, s.int(name, 1)?, log)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}
