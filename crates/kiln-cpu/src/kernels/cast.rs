//! `cast` between every pair of dtypes, and `contiguous`.

use crate::elem::Elem;
use crate::iter::{map_contiguous, map_strided, Operand};
use crate::tensor_io::{slice_of, wrap};
use crate::with_dtype;
use kiln_core::{DType, Result, Tensor};

fn convert<S: Elem, D: Elem>(x: S) -> D {
    // Note: ints and bools convert exactly through f64; floats through f32
    // (the widest float kiln has), so no value takes a double rounding.
    if S::DTYPE.is_float() && D::DTYPE.is_float() {
        D::from_f32(x.to_f32())
    } else {
        D::from_f64(x.to_f64())
    }
}

/// `t` as `dtype`, contiguous.
pub fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    with_dtype!(t.dtype(), S => with_dtype!(dtype, D => {
        let src = slice_of::<S>("cast", t)?;
        let l = t.layout();
        let out: Vec<D> = if l.numel() == 0 {
            Vec::new()
        } else if l.is_contiguous() {
            map_contiguous(&src[l.offset()..l.offset() + l.numel()], convert::<S, D>)
        } else {
            map_strided(l.shape(), &[Operand::of(l)], |[o]| convert::<S, D>(src[o]))
        };
        wrap(out, l.shape())
    }))
}

/// `t` itself when contiguous, else a contiguous copy.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.layout().offset() == 0 && t.storage().len() == t.numel() {
        return Ok(t.clone());
    }
    cast(t, t.dtype())
}
