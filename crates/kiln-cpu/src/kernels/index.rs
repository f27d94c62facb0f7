//! Indexing by integer tensors: `index_select`, `gather`, `embedding`.
//! Sources of any dtype are read in place through their layouts; index
//! tensors must be `i32`, and every index is checked against its size
//! before anything is read (negative indices are errors, as in PyTorch).

use crate::iter::{map_strided, Operand};
use crate::tensor_io::{slice_of, wrap};
use kiln_core::meta::{self, IndexMeta};
use kiln_core::{
    for_each_index, op, DispatchKey, Dispatcher, Error, Result, StackExt, StackResult, Tensor,
};

/// Checks every index of `index` against `[0, size)`.
fn check_range(op: &str, index: &Tensor, size: usize) -> Result<()> {
    let s = slice_of::<i32>(op, index)?;
    let mut bad = None;
    for_each_index(index.layout(), |i| {
        let v = s[i];
        if bad.is_none() && (v < 0 || v as usize >= size) {
            bad = Some(v);
        }
    });
    match bad {
        Some(v) => Err(Error::IndexOutOfRange {
            op: op.to_string(),
            index: v as i64,
            size,
        }),
        None => Ok(()),
    }
}

/// The indices of `index` in logical order, checked against `[0, size)`.
fn read_indices(op: &str, index: &Tensor, size: usize) -> Result<Vec<usize>> {
    check_range(op, index, size)?;
    let s = slice_of::<i32>(op, index)?;
    let mut out = Vec::with_capacity(index.numel());
    for_each_index(index.layout(), |i| out.push(s[i] as usize));
    Ok(out)
}

/// Entries of `t` along `dim` picked by the 0-D or 1-D `index`.
pub fn index_select(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    const OP: &str = "index_select";
    let IndexMeta {
        dim: d,
        size,
        out_shape,
    } = meta::index_select(t, dim, index)?;
    let l = t.layout();
    let nd = t.ndim();
    let idx = read_indices(OP, index, size)?;
    // A zero-dim source is a one-element vector along dim 0.
    let (shape, mut strides) = if nd == 0 {
        (vec![idx.len()], vec![0])
    } else {
        let mut shape = t.shape().to_vec();
        shape[d] = idx.len();
        (shape, l.strides().to_vec())
    };
    let sd = std::mem::replace(&mut strides[d], 0);
    let mut pick = vec![0; shape.len()];
    pick[d] = 1;
    let ops = [
        Operand {
            strides,
            offset: l.offset(),
        },
        Operand {
            strides: pick,
            offset: 0,
        },
    ];
    crate::with_dtype!(t.dtype(), T => {
        let src = slice_of::<T>(OP, t)?;
        wrap(map_strided(&shape, &ops, |[o, j]| src[o + idx[j] * sd]), &out_shape)
    })
}

/// `out[i][j][k] = t[index[i][j][k]][j][k]` for `dim = 0`, and so on: the
/// output has `index`'s shape.
pub fn gather(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    const OP: &str = "gather";
    let IndexMeta {
        dim: d,
        size,
        out_shape,
    } = meta::gather(t, dim, index)?;
    let nd = t.ndim();
    check_range(OP, index, size)?;
    let l = t.layout();
    let mut strides = l.strides().to_vec();
    let sd = if nd == 0 {
        0
    } else {
        std::mem::replace(&mut strides[d], 0)
    };
    let ops = [
        Operand {
            strides,
            offset: l.offset(),
        },
        Operand::of(index.layout()),
    ];
    let ix = slice_of::<i32>(OP, index)?;
    crate::with_dtype!(t.dtype(), T => {
        let src = slice_of::<T>(OP, t)?;
        wrap(map_strided(index.shape(), &ops, |[o, i]| src[o + ix[i] as usize * sd]), &out_shape)
    })
}

/// Rows of the `[num, dim]` `weight` picked by `indices` of any shape: the
/// output's shape is `indices.shape + [dim]`.
pub fn embedding(weight: &Tensor, indices: &Tensor) -> Result<Tensor> {
    const OP: &str = "embedding";
    let m = meta::embedding(weight, indices)?;
    let (num, dim) = (m.size, weight.shape()[1]);
    let idx = read_indices(OP, indices, num)?;
    let l = weight.layout();
    let (rs, cs) = (l.strides()[0], l.strides()[1]);
    let ops = [
        Operand {
            strides: vec![0, cs],
            offset: l.offset(),
        },
        Operand {
            strides: vec![1, 0],
            offset: 0,
        },
    ];
    crate::with_dtype!(weight.dtype(), T => {
        let src = slice_of::<T>(OP, weight)?;
        wrap(map_strided(&[idx.len(), dim], &ops, |[o, i]| src[o + idx[i] * rs]), &m.out_shape)
    })
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Cpu;
    d.register_kernel(op::INDEX_SELECT, k, "cpu::index_select", |_, _, s| {
        const OP: &str = "index_select";
        let out = index_select(s.tensor(OP, 0)?, s.int(OP, 1)?, s.tensor(OP, 2)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::GATHER, k, "cpu::gather", |_, _, s| {
        let out = gather(
            s.tensor("gather", 0)?,
            s.int("gather", 1)?,
            s.tensor("gather", 2)?,
        )?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::EMBEDDING, k, "cpu::embedding", |_, _, s| {
        let out = embedding(s.tensor("embedding", 0)?, s.tensor("embedding", 1)?)?;
        s.set_result(out);
        Ok(())
    })
}
