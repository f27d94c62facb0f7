//! Strided walks over layouts, serial and parallel: the loops under every
//! elementwise kernel.
//!
//! Note [Kernels take layouts]: inputs are read in place through their
//! shape, strides and offset (broadcast dims have stride 0), so views never
//! cost a copy. Contiguous inputs take a slice fast path that the compiler
//! vectorises. Above `GRAIN` output elements the work is split over rayon
//! in chunks of the output; each chunk starts its walk from its own linear
//! index.

use crate::storage::{self, CpuElem};
use kiln_core::Layout;
use rayon::prelude::*;

/// Output elements per parallel chunk.
pub const GRAIN: usize = 1 << 15;

/// Strides of one operand seen through an output shape.
#[derive(Clone, Debug)]
pub struct Operand {
    /// Strides per output dim (0 for broadcast).
    pub strides: Vec<usize>,
    /// Storage offset of element 0.
    pub offset: usize,
}

impl Operand {
    /// The operand of `l`, whose shape must already equal the output's.
    pub fn of(l: &Layout) -> Self {
        Operand {
            strides: l.strides().to_vec(),
            offset: l.offset(),
        }
    }
}

/// Calls `f(k, [offsets])` for output elements `start..start + len` of
/// `shape`, `k` counting from 0 within the range.
#[inline]
pub fn walk<const N: usize>(
    shape: &[usize],
    ops: &[Operand; N],
    start: usize,
    len: usize,
    mut f: impl FnMut(usize, [usize; N]),
) {
    if len == 0 {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(0, std::array::from_fn(|i| ops[i].offset));
        return;
    }
    // multi-index of `start`
    let mut idx = vec![0usize; nd];
    let mut rem = start;
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
    }
    let mut off: [usize; N] = std::array::from_fn(|i| {
        ops[i].offset + (0..nd).map(|d| idx[d] * ops[i].strides[d]).sum::<usize>()
    });
    let last = shape[nd - 1];
    let inner: [usize; N] = std::array::from_fn(|i| ops[i].strides[nd - 1]);
    let mut k = 0;
    while k < len {
        let run = (last - idx[nd - 1]).min(len - k);
        for j in 0..run {
            f(k + j, std::array::from_fn(|i| off[i] + j * inner[i]));
        }
        k += run;
        if k >= len {
            break;
        }
        // carry into the outer dims
        for (i, o) in off.iter_mut().enumerate() {
            *o -= idx[nd - 1] * inner[i];
        }
        idx[nd - 1] = 0;
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for (i, o) in off.iter_mut().enumerate() {
                *o += ops[i].strides[d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for (i, o) in off.iter_mut().enumerate() {
                *o -= ops[i].strides[d] * shape[d];
            }
            idx[d] = 0;
        }
    }
}

/// Fills a new vector of `numel(shape)` outputs with `f([offsets])`,
/// in parallel above `GRAIN`.
pub fn map_strided<const N: usize, U: CpuElem>(
    shape: &[usize],
    ops: &[Operand; N],
    f: impl Fn([usize; N]) -> U + Sync,
) -> Vec<U> {
    let n: usize = shape.iter().product();
    let mut out = storage::alloc::<U>(n);
    if n <= GRAIN {
        walk(shape, ops, 0, n, |k, o| out[k] = f(o));
    } else {
        out.par_chunks_mut(GRAIN)
            .enumerate()
            .for_each(|(c, chunk)| {
                walk(shape, ops, c * GRAIN, chunk.len(), |k, o| chunk[k] = f(o));
            });
    }
    out
}

/// Maps a contiguous slice, in parallel above `GRAIN`.
pub fn map_contiguous<T: Copy + Sync, U: CpuElem>(src: &[T], f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let mut out = storage::alloc::<U>(src.len());
    if src.len() <= GRAIN {
        out.iter_mut().zip(src).for_each(|(o, &x)| *o = f(x));
    } else {
        out.par_chunks_mut(GRAIN)
            .zip(src.par_chunks(GRAIN))
            .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &x)| *o = f(x)));
    }
    out
}

/// Maps two contiguous slices of equal length, in parallel above `GRAIN`.
pub fn zip_contiguous<A: Copy + Sync, B: Copy + Sync, U: CpuElem>(
    a: &[A],
    b: &[B],
    f: impl Fn(A, B) -> U + Sync,
) -> Vec<U> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = storage::alloc::<U>(a.len());
    if a.len() <= GRAIN {
        out.iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (&x, &y))| *o = f(x, y));
    } else {
        out.par_chunks_mut(GRAIN)
            .zip(a.par_chunks(GRAIN).zip(b.par_chunks(GRAIN)))
            .for_each(|(o, (a, b))| {
                o.iter_mut()
                    .zip(a.iter().zip(b))
                    .for_each(|(o, (&x, &y))| *o = f(x, y))
            });
    }
    out
}

/// Reads `l`'s elements from `src` in logical order into a new vector.
pub fn gather_contiguous<T: CpuElem>(src: &[T], l: &Layout) -> Vec<T> {
    if l.numel() == 0 {
        return Vec::new();
    }
    if l.is_contiguous() {
        let mut out = storage::alloc::<T>(l.numel());
        out.copy_from_slice(&src[l.offset()..l.offset() + l.numel()]);
        return out;
    }
    map_strided(l.shape(), &[Operand::of(l)], |[o]| src[o])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_matches_for_each_index_from_any_start() {
        let l = Layout::contiguous(&[3, 4, 5]).transpose("t", 0, 2).unwrap();
        let mut all = Vec::new();
        kiln_core::for_each_index(&l, |i| all.push(i));
        for start in [0, 1, 4, 7, 30, 59] {
            let mut got = Vec::new();
            walk(
                l.shape(),
                &[Operand::of(&l)],
                start,
                60 - start,
                |_, [o]| got.push(o),
            );
            assert_eq!(got, all[start..], "start {start}");
        }
    }
}
