//! Reductions: `sum mean max min` over a list of dims (every dim when the
//! list is empty) and `argmax argmin` over one dim (the flattened tensor
//! when none), each with `keepdim`.
//!
//! Dtypes as PyTorch, with `i32` for its `int64`: `sum` of `i32` or `bool`
//! is `i32`; float sums accumulate in f64 and round once to the input
//! dtype; `mean` needs a float; `max`/`min` keep the dtype (bool included);
//! `arg*` give `i32` indices, the first on ties, NaN counting as the max
//! (and as the min for `argmin`). `max`/`min`/`arg*` over an empty
//! reduction are an error; `sum` of nothing is 0 and `mean` is NaN.
//!
//! Note [How a reduction walks its input]: the input is read in place
//! through its layout. Its dims split into kept dims (one output element
//! each) and reduced ones, each list coalesced (size-1 dims dropped,
//! neighbours that are contiguous to each other merged), so most layouts
//! become one or two `(size, stride)` pairs. When the innermost reduced
//! pair has stride 1, or no kept pair does, each output folds its own runs
//! ("row" order: a contiguous run is a vectorised slice fold). When the
//! innermost kept pair has stride 1 instead (say `sum(dim=0)` of a
//! row-major matrix), a task keeps one accumulator per output and adds
//! whole contiguous rows into them ("column" order). Outputs go to rayon
//! tasks of about `GRAIN` input elements; one output over one long
//! contiguous run splits the run instead.

use crate::iter::GRAIN;
use crate::kernels::vmath::{self, simd_fn, F32Block};
use crate::storage::{alloc, CpuElem};
use crate::tensor_io::{slice_of, wrap};
use half::{bf16, f16};
pub use kiln_core::meta::{ArgOp, ReduceOp};
use kiln_core::{
    meta, op, DType, DispatchKey, Dispatcher, Layout, Result, StackExt, StackResult, Tensor,
};
use rayon::prelude::*;

/// `(size, stride)` of one dim.
type Dim = (usize, usize);

/// Drops size-1 dims and merges neighbours that are contiguous to each
/// other; the row-major order of the elements is unchanged.
fn coalesce(dims: impl Iterator<Item = Dim>) -> Vec<Dim> {
    let mut out: Vec<Dim> = Vec::new();
    for (n, s) in dims {
        if n == 1 {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if last.1 == s * n {
                *last = (last.0 * n, s);
                continue;
            }
        }
        out.push((n, s));
    }
    out
}

/// Calls `f(offset, len, stride)` for the runs along the innermost of
/// `dims` that cover row-major positions `start..start + len`, from storage
/// offset `base`.
fn for_each_run(
    dims: &[Dim],
    base: usize,
    start: usize,
    len: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    if len == 0 {
        return;
    }
    match dims {
        [] => f(base, 1, 0),
        [(_, s)] => f(base + start * s, len, *s),
        _ => {
            let nd = dims.len();
            let mut idx = vec![0usize; nd];
            let (mut rem, mut off) = (start, base);
            for d in (0..nd).rev() {
                idx[d] = rem % dims[d].0;
                rem /= dims[d].0;
                off += idx[d] * dims[d].1;
            }
            let (last, inner) = dims[nd - 1];
            let mut k = 0;
            loop {
                let run = (last - idx[nd - 1]).min(len - k);
                f(off, run, inner);
                k += run;
                if k >= len {
                    return;
                }
                off -= idx[nd - 1] * inner;
                idx[nd - 1] = 0;
                let mut d = nd - 1;
                loop {
                    if d == 0 {
                        return;
                    }
                    d -= 1;
                    idx[d] += 1;
                    off += dims[d].1;
                    if idx[d] < dims[d].0 {
                        break;
                    }
                    off -= dims[d].1 * dims[d].0;
                    idx[d] = 0;
                }
            }
        }
    }
}

/// How a reduction reads its input (see Note [How a reduction walks its input]).
struct Plan {
    kept: Vec<Dim>,
    red: Vec<Dim>,
    offset: usize,
    /// Number of outputs.
    n_out: usize,
    /// Elements per output.
    m: usize,
}

impl Plan {
    fn new(l: &Layout, reduced: &[bool]) -> Plan {
        let dims = || {
            l.shape()
                .iter()
                .copied()
                .zip(l.strides().iter().copied())
                .zip(reduced.iter().copied())
        };
        Plan {
            kept: coalesce(dims().filter(|&(_, r)| !r).map(|(d, _)| d)),
            red: coalesce(dims().filter(|&(_, r)| r).map(|(d, _)| d)),
            offset: l.offset(),
            n_out: dims().filter(|&(_, r)| !r).map(|((n, _), _)| n).product(),
            m: dims().filter(|&(_, r)| r).map(|((n, _), _)| n).product(),
        }
    }
}

/// One kind of reduction over elements `T`.
trait Reducer<T: F32Block>: Sync {
    type Acc: Copy + Send + Sync;
    type Out: CpuElem;
    /// The accumulator before any element.
    fn init(&self) -> Self::Acc;
    /// Adds element `x`, the `i`-th of its reduction.
    fn step(&self, acc: Self::Acc, x: T, i: usize) -> Self::Acc;
    /// Combines the accumulators of two consecutive parts, `a` first.
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The result of a reduction over `m` elements.
    fn finish(&self, acc: Self::Acc, m: usize) -> Self::Out;
    /// Adds a contiguous run whose first element is the `i0`-th.
    #[inline]
    fn slice(&self, acc: Self::Acc, xs: &[T], i0: usize) -> Self::Acc {
        xs.iter()
            .enumerate()
            .fold(acc, |a, (j, &x)| self.step(a, x, i0 + j))
    }
}

#[inline(always)]
fn sum_f64_impl<const FMA: bool>(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] += c[l] as f64;
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| v as f64).sum::<f64>()
}

simd_fn! {
    /// Sum of `x` accumulated in f64.
    fn sum_f64(x: &[f32]) -> f64 => sum_f64_impl;
}

#[inline(always)]
fn extreme_f32_impl<const FMA: bool>(x: &[f32], max: bool) -> f32 {
    if max {
        vmath::extreme_lanes::<true>(x)
    } else {
        vmath::extreme_lanes::<false>(x)
    }
}

simd_fn! {
    /// Largest (`max`) or smallest element of `x`, NaN if any is NaN.
    fn extreme_f32(x: &[f32], max: bool) -> f32 => extreme_f32_impl;
}

/// Float `sum` (and `mean`): f64 accumulator, one rounding at the end.
struct FloatSum {
    mean: bool,
}

impl<T: F32Block> Reducer<T> for FloatSum {
    type Acc = f64;
    type Out = T;
    fn init(&self) -> f64 {
        0.0
    }
    #[inline]
    fn step(&self, acc: f64, x: T, _: usize) -> f64 {
        acc + x.to_f32() as f64
    }
    fn merge(&self, a: f64, b: f64) -> f64 {
        a + b
    }
    fn finish(&self, acc: f64, m: usize) -> T {
        T::from_f64(if self.mean { acc / m as f64 } else { acc })
    }
    fn slice(&self, acc: f64, xs: &[T], _: usize) -> f64 {
        if let Some(x) = T::as_f32(xs) {
            return acc + sum_f64(x);
        }
        let mut buf = [0f32; 256];
        xs.chunks(256).fold(acc, |s, c| {
            T::load_f32(c, &mut buf[..c.len()]);
            s + sum_f64(&buf[..c.len()])
        })
    }
}

/// `sum` of `i32` or `bool`: an `i32` result that wraps on overflow.
struct IntSum;

impl<T: F32Block> Reducer<T> for IntSum {
    type Acc = i64;
    type Out = i32;
    fn init(&self) -> i64 {
        0
    }
    #[inline]
    fn step(&self, acc: i64, x: T, _: usize) -> i64 {
        acc.wrapping_add(x.to_f64() as i64)
    }
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    fn finish(&self, acc: i64, _: usize) -> i32 {
        acc as i32
    }
}

/// The identities of `max` and `min`.
trait Bounds: Copy {
    const LOWEST: Self;
    const HIGHEST: Self;
}

macro_rules! bounds {
    ($($t:ty: $lo:expr, $hi:expr;)*) => {$(
        impl Bounds for $t {
            const LOWEST: Self = $lo;
            const HIGHEST: Self = $hi;
        }
    )*};
}
bounds! {
    f32: f32::NEG_INFINITY, f32::INFINITY;
    f16: f16::NEG_INFINITY, f16::INFINITY;
    bf16: bf16::NEG_INFINITY, bf16::INFINITY;
    i32: i32::MIN, i32::MAX;
    bool: false, true;
}

/// Whether `x` beats `best` for `max` (or `min`): strictly larger (smaller),
/// or the first NaN. A NaN `best` is never beaten.
#[inline(always)]
#[allow(clippy::eq_op)] // `x != x` is the NaN test for every element type
fn beats<T: PartialOrd>(x: T, best: T, max: bool) -> bool {
    let better = if max { x > best } else { x < best };
    better || (x != x && best == best)
}

/// `max` or `min`.
struct Extreme {
    max: bool,
}

impl<T: F32Block + Bounds + PartialOrd> Reducer<T> for Extreme {
    type Acc = T;
    type Out = T;
    fn init(&self) -> T {
        if self.max {
            T::LOWEST
        } else {
            T::HIGHEST
        }
    }
    #[inline]
    fn step(&self, acc: T, x: T, _: usize) -> T {
        if beats(x, acc, self.max) {
            x
        } else {
            acc
        }
    }
    fn merge(&self, a: T, b: T) -> T {
        Reducer::<T>::step(self, a, b, 0)
    }
    fn finish(&self, acc: T, _: usize) -> T {
        acc
    }
    fn slice(&self, acc: T, xs: &[T], _: usize) -> T {
        match T::as_f32(xs) {
            Some(x) => Reducer::<T>::step(self, acc, T::from_f32(extreme_f32(x, self.max)), 0),
            None => xs
                .iter()
                .fold(acc, |a, &x| Reducer::<T>::step(self, a, x, 0)),
        }
    }
}

/// `argmax` or `argmin`: the value and index of the best so far.
struct ArgExtreme {
    max: bool,
}

impl<T: F32Block + Bounds + PartialOrd> Reducer<T> for ArgExtreme {
    type Acc = (T, usize);
    type Out = i32;
    fn init(&self) -> (T, usize) {
        // Index 0 is right when nothing beats the bound: then the first
        // element equals it.
        (if self.max { T::LOWEST } else { T::HIGHEST }, 0)
    }
    #[inline]
    fn step(&self, acc: (T, usize), x: T, i: usize) -> (T, usize) {
        if beats(x, acc.0, self.max) {
            (x, i)
        } else {
            acc
        }
    }
    fn merge(&self, a: (T, usize), b: (T, usize)) -> (T, usize) {
        if beats(b.0, a.0, self.max) {
            b
        } else {
            a
        }
    }
    fn finish(&self, acc: (T, usize), _: usize) -> i32 {
        acc.1 as i32
    }
}

/// Reduces `src` by `r` as `p` says; the outputs in row-major order.
fn run<T: F32Block, R: Reducer<T>>(r: &R, src: &[T], p: &Plan) -> Vec<R::Out> {
    let (n_out, m) = (p.n_out, p.m);
    let mut out = alloc::<R::Out>(n_out);
    if n_out == 0 {
        return out;
    }
    if m == 0 {
        out.fill(r.finish(r.init(), 0));
        return out;
    }
    if n_out == 1 && m > GRAIN && matches!(p.red[..], [(_, 1)]) {
        let xs = &src[p.offset..p.offset + m];
        // partials combined in a fixed order, so the result does not depend
        // on how rayon split the work
        let parts: Vec<R::Acc> = xs
            .par_chunks(GRAIN)
            .enumerate()
            .map(|(c, x)| r.slice(r.init(), x, c * GRAIN))
            .collect();
        let acc = parts.into_iter().fold(r.init(), |a, b| r.merge(a, b));
        out[0] = r.finish(acc, m);
        return out;
    }
    let column = matches!(p.kept.last(), Some(&(_, 1))) && !matches!(p.red.last(), Some(&(_, 1)));
    let per_task = if column {
        (GRAIN / m).max(16)
    } else {
        (GRAIN / m).max(1)
    };
    let task = |start: usize, chunk: &mut [R::Out]| {
        if column {
            column_task(r, src, p, start, chunk)
        } else {
            row_task(r, src, p, start, chunk)
        }
    };
    if n_out.saturating_mul(m) <= GRAIN {
        task(0, &mut out);
    } else {
        out.par_chunks_mut(per_task)
            .enumerate()
            .for_each(|(c, chunk)| task(c * per_task, chunk));
    }
    out
}

/// Outputs `start..start + chunk.len()`, each folding its own runs.
fn row_task<T: F32Block, R: Reducer<T>>(
    r: &R,
    src: &[T],
    p: &Plan,
    start: usize,
    chunk: &mut [R::Out],
) {
    let mut k = 0;
    for_each_run(
        &p.kept,
        p.offset,
        start,
        chunk.len(),
        |koff, klen, kstride| {
            for j in 0..klen {
                let (mut acc, mut i) = (r.init(), 0);
                for_each_run(&p.red, koff + j * kstride, 0, p.m, |off, len, stride| {
                    acc = if stride == 1 {
                        r.slice(acc, &src[off..off + len], i)
                    } else {
                        (0..len).fold(acc, |a, q| r.step(a, src[off + q * stride], i + q))
                    };
                    i += len;
                });
                chunk[k] = r.finish(acc, p.m);
                k += 1;
            }
        },
    );
}

/// Outputs `start..start + chunk.len()`, adding each reduced position's
/// elements of all of them at once.
fn column_task<T: F32Block, R: Reducer<T>>(
    r: &R,
    src: &[T],
    p: &Plan,
    start: usize,
    chunk: &mut [R::Out],
) {
    let mut accs = vec![r.init(); chunk.len()];
    let mut runs = Vec::new();
    let mut pos = 0;
    for_each_run(&p.kept, 0, start, chunk.len(), |koff, klen, kstride| {
        runs.push((koff, klen, kstride, pos));
        pos += klen;
    });
    let mut i = 0;
    for_each_run(&p.red, p.offset, 0, p.m, |off, len, stride| {
        for q in 0..len {
            let base = off + q * stride;
            for &(koff, klen, kstride, pos) in &runs {
                let accs = &mut accs[pos..pos + klen];
                if kstride == 1 {
                    let xs = &src[base + koff..base + koff + klen];
                    for (a, &x) in accs.iter_mut().zip(xs) {
                        *a = r.step(*a, x, i);
                    }
                } else {
                    for (c, a) in accs.iter_mut().enumerate() {
                        *a = r.step(*a, src[base + koff + c * kstride], i);
                    }
                }
            }
            i += 1;
        }
    });
    for (o, a) in chunk.iter_mut().zip(accs) {
        *o = r.finish(a, p.m);
    }
}

/// Reduces `t` by `r` as `p` says, into a tensor of `shape`.
fn reduce_typed<T: F32Block, R: Reducer<T>>(
    op: &str,
    r: &R,
    t: &Tensor,
    p: &Plan,
    shape: &[usize],
) -> Result<Tensor> {
    let src = slice_of::<T>(op, t)?;
    wrap(run(r, src, p), shape)
}

/// `op` of `t` over `dims` (every dim when empty).
pub fn reduce(op: ReduceOp, t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let name = op.name();
    let meta = meta::reduce(op, t, dims, keepdim)?;
    let p = Plan::new(t.layout(), &meta.reduced);
    let shape = &meta.out_shape;
    match op {
        ReduceOp::Sum | ReduceOp::Mean => {
            let r = FloatSum {
                mean: op == ReduceOp::Mean,
            };
            // (the mean of an integer tensor was refused by the check)
            match t.dtype() {
                DType::F32 => reduce_typed::<f32, _>(name, &r, t, &p, shape),
                DType::F16 => reduce_typed::<f16, _>(name, &r, t, &p, shape),
                DType::BF16 => reduce_typed::<bf16, _>(name, &r, t, &p, shape),
                DType::I32 => reduce_typed::<i32, _>(name, &IntSum, t, &p, shape),
                DType::Bool => reduce_typed::<bool, _>(name, &IntSum, t, &p, shape),
            }
        }
        ReduceOp::Max | ReduceOp::Min => {
            let r = Extreme {
                max: op == ReduceOp::Max,
            };
            crate::with_dtype!(t.dtype(), T => reduce_typed::<T, _>(name, &r, t, &p, shape))
        }
    }
}

/// `op` of `t` along `dim` (the flattened tensor when `None`), as `i32`
/// indices.
pub fn arg_reduce(op: ArgOp, t: &Tensor, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
    let name = op.name();
    let meta = meta::arg_reduce(op, t, dim, keepdim)?;
    let p = Plan::new(t.layout(), &meta.reduced);
    let shape = &meta.out_shape;
    let r = ArgExtreme {
        max: op == ArgOp::ArgMax,
    };
    match t.dtype() {
        DType::F32 => reduce_typed::<f32, _>(name, &r, t, &p, shape),
        DType::F16 => reduce_typed::<f16, _>(name, &r, t, &p, shape),
        DType::BF16 => reduce_typed::<bf16, _>(name, &r, t, &p, shape),
        DType::I32 => reduce_typed::<i32, _>(name, &r, t, &p, shape),
        DType::Bool => unreachable!("bool was refused by the check"),
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let ops = [
        (op::SUM, ReduceOp::Sum),
        (op::MEAN, ReduceOp::Mean),
        (op::MAX, ReduceOp::Max),
        (op::MIN, ReduceOp::Min),
    ];
    for (id, r) in ops {
        d.register_kernel(
            id,
            DispatchKey::Cpu,
            &format!("cpu::{}", r.name()),
            move |_, _, s| {
                let n = r.name();
                let out = reduce(r, s.tensor(n, 0)?, s.int_list(n, 1)?, s.bool(n, 2)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    for (id, a) in [(op::ARGMAX, ArgOp::ArgMax), (op::ARGMIN, ArgOp::ArgMin)] {
        d.register_kernel(
            id,
            DispatchKey::Cpu,
            &format!("cpu::{}", a.name()),
            move |_, _, s| {
                let n = a.name();
                let out = arg_reduce(a, s.tensor(n, 0)?, s.opt_int(n, 1)?, s.bool(n, 2)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_merges_contiguous_neighbours_and_drops_ones() {
        assert_eq!(
            coalesce([(2, 12), (3, 4), (4, 1)].into_iter()),
            vec![(24, 1)]
        );
        assert_eq!(
            coalesce([(2, 1), (1, 7), (3, 2)].into_iter()),
            vec![(2, 1), (3, 2)]
        );
        assert_eq!(coalesce([(1, 5)].into_iter()), vec![]);
    }

    #[test]
    fn runs_cover_a_range_in_row_major_order() {
        // a [3, 4] matrix stored transposed: element (i, j) at j * 3 + i
        let dims = [(3, 1), (4, 3)];
        let mut got = Vec::new();
        for_each_run(&dims, 10, 2, 7, |off, len, st| {
            got.extend((0..len).map(|q| off + q * st))
        });
        let want: Vec<usize> = (2..9).map(|k| 10 + (k % 4) * 3 + k / 4).collect();
        assert_eq!(got, want);
    }
}
