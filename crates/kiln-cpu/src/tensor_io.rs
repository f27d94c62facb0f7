//! Between `Tensor` handles and typed CPU slices.

use crate::elem::Elem;
use crate::storage::{CpuElem, CpuStorage};
use kiln_core::{DType, Error, Layout, Result, Tensor};
use std::borrow::Cow;
use std::sync::Arc;

/// The CPU storage under `t`; `Err` when `t` is not a CPU tensor.
pub fn cpu_storage<'a>(op: &str, t: &'a Tensor) -> Result<&'a CpuStorage> {
    t.storage()
        .as_any()
        .downcast_ref::<CpuStorage>()
        .ok_or_else(|| Error::DeviceMismatch {
            op: op.to_string(),
            lhs: kiln_core::Device::Cpu,
            rhs: t.device(),
        })
}

/// The whole storage of `t` as `&[T]` (index it through `t.layout()`).
pub fn slice_of<'a, T: CpuElem>(op: &str, t: &'a Tensor) -> Result<&'a [T]> {
    cpu_storage(op, t)?
        .as_slice::<T>()
        .map_err(|_| Error::DTypeMismatch {
            op: op.to_string(),
            expected: T::DTYPE,
            got: t.dtype(),
        })
}

/// A contiguous tensor of `shape` over `data`.
pub fn wrap<T: CpuElem>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_storage(
        Arc::new(CpuStorage::from_vec(data)),
        Layout::contiguous(shape),
    )
}

/// The elements of `t` in logical order, converted to `U` through `f32`
/// (or exactly, when the dtypes match).
pub fn to_contiguous_vec<T: Elem>(op: &str, t: &Tensor) -> Result<Vec<T>> {
    if t.dtype() == T::DTYPE {
        let s = slice_of::<T>(op, t)?;
        return Ok(crate::iter::gather_contiguous(s, t.layout()));
    }
    let c = crate::kernels::cast::cast(t, T::DTYPE)?;
    Ok(slice_of::<T>(op, &c)?.to_vec())
}

/// `t` converted to `dtype` (borrowed, with no copy, when it already is).
pub fn ensure_dtype(t: &Tensor, dtype: DType) -> Result<Cow<'_, Tensor>> {
    if t.dtype() == dtype {
        Ok(Cow::Borrowed(t))
    } else {
        crate::kernels::cast::cast(t, dtype).map(Cow::Owned)
    }
}
