//! `cat`: concatenation along one dim, for every dtype. Mixed dtypes
//! promote (PyTorch's `result_type`); inputs are read in place through
//! their layouts. `stack` is a composite over `cat` (kiln-core's `views.rs`).

use crate::iter::{walk, Operand, GRAIN};
use crate::storage::{alloc, CpuElem};
use crate::tensor_io::{ensure_dtype, slice_of, wrap};
use kiln_core::{meta, op, DispatchKey, Dispatcher, Result, StackExt, StackResult, Tensor};
use rayon::prelude::*;

/// One input as `cat` copies it: per output row (the dims before `dim`),
/// `width` consecutive output elements starting at column `col`.
struct Part<'a, T> {
    data: &'a [T],
    /// Its strides from `dim` on, offset 0: the walk of one row.
    row: [Operand; 1],
    /// Its shape from `dim` on.
    row_shape: Vec<usize>,
    /// Its shape and strides before `dim`: where each row starts.
    outer: Vec<(usize, usize)>,
    offset: usize,
    contiguous: bool,
    width: usize,
    col: usize,
}

impl<T: CpuElem> Part<'_, T> {
    /// Storage index of the first element of output row `r`.
    fn row_start(&self, r: usize) -> usize {
        if self.contiguous {
            return self.offset + r * self.width;
        }
        let (mut rem, mut off) = (r, self.offset);
        for &(size, stride) in self.outer.iter().rev() {
            off += (rem % size) * stride;
            rem /= size;
        }
        off
    }

    fn copy_row(&self, r: usize, row: &mut [T]) {
        let dst = &mut row[self.col..self.col + self.width];
        let start = self.row_start(r);
        if self.contiguous {
            dst.copy_from_slice(&self.data[start..start + self.width]);
        } else {
            walk(&self.row_shape, &self.row, 0, self.width, |j, [o]| {
                dst[j] = self.data[start + o]
            });
        }
    }
}

fn cat_typed<T: CpuElem>(parts: &[Tensor], d: usize, out_shape: &[usize]) -> Result<Tensor> {
    let n: usize = out_shape.iter().product();
    let mut out = alloc::<T>(n);
    if n == 0 {
        return wrap(out, out_shape);
    }
    let inner: usize = out_shape[d + 1..].iter().product();
    let row_len = out_shape[d] * inner;
    let mut col = 0;
    let mut ps = Vec::with_capacity(parts.len());
    for t in parts {
        let l = t.layout();
        let width = t.shape()[d] * inner;
        ps.push(Part {
            data: slice_of::<T>("cat", t)?,
            row: [Operand {
                strides: l.strides()[d..].to_vec(),
                offset: 0,
            }],
            row_shape: l.shape()[d..].to_vec(),
            outer: l.shape()[..d]
                .iter()
                .copied()
                .zip(l.strides()[..d].iter().copied())
                .collect(),
            offset: l.offset(),
            contiguous: l.is_contiguous(),
            width,
            col,
        });
        col += width;
    }
    let fill = |(r, row): (usize, &mut [T])| {
        for p in ps.iter().filter(|p| p.width > 0) {
            p.copy_row(r, row);
        }
    };
    if n > GRAIN && n / row_len >= 2 {
        out.par_chunks_mut(row_len).enumerate().for_each(fill);
    } else {
        out.chunks_mut(row_len).enumerate().for_each(fill);
    }
    wrap(out, out_shape)
}

/// Concatenates `tensors` along `dim`. As in PyTorch, 1-D tensors of shape
/// `[0]` are skipped whatever the others' shapes (but still take part in
/// type promotion).
pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
    let m = meta::cat(tensors, dim)?;
    let parts = m
        .inputs
        .iter()
        .map(|&i| ensure_dtype(&tensors[i], m.dtype).map(std::borrow::Cow::into_owned))
        .collect::<Result<Vec<_>>>()?;
    cat_typed_dyn(&parts, m.dim, &m.out_shape, m.dtype)
}

fn cat_typed_dyn(
    parts: &[Tensor],
    d: usize,
    out_shape: &[usize],
    dt: kiln_core::DType,
) -> Result<Tensor> {
    crate::with_dtype!(dt, T => cat_typed::<T>(parts, d, out_shape))
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(op::CAT, DispatchKey::Cpu, "cpu::cat", |_, _, s| {
        let out = cat(s.tensor_list("cat", 0)?, s.int("cat", 1)?)?;
        s.set_result(out);
        Ok(())
    })
}
