//! What the CPU kernels need to know about each element type, and the
//! macro that writes a kernel once for every dtype.

use crate::storage::CpuElem;
use half::{bf16, f16};

/// An element the CPU kernels compute with: conversions through `f32`
/// (floats compute in `f32`, as PyTorch does for half types on CPU) and
/// `f64` (for references and integer-exact paths).
pub trait Elem: CpuElem {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// To `f32`.
    fn to_f32(self) -> f32;
    /// From `f32` (rounding to nearest; saturating for ints).
    fn from_f32(v: f32) -> Self;
    /// From `f64`.
    fn from_f64(v: f64) -> Self;
}

impl Elem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Elem for f16 {
    const ZERO: Self = f16::ZERO;
    const ONE: Self = f16::ONE;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}

impl Elem for bf16 {
    const ZERO: Self = bf16::ZERO;
    const ONE: Self = bf16::ONE;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
}

impl Elem for i32 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as i32
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as i32
    }
}

impl Elem for bool {
    const ZERO: Self = false;
    const ONE: Self = true;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as u8 as f32
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            kiln_core::DType::F32 => {
                type $T = f32;
                $body
            }
            kiln_core::DType::F16 => {
                type $T = half::f16;
                $body
            }
            kiln_core::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            kiln_core::DType::I32 => {
                type $T = i32;
                $body
            }
            kiln_core::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to the Rust type of a floating `$dtype`;
/// other dtypes evaluate `$other`.
#[macro_export]
macro_rules! with_float_dtype {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dtype {
            kiln_core::DType::F32 => {
                type $T = f32;
                $body
            }
            kiln_core::DType::F16 => {
                type $T = half::f16;
                $body
            }
            kiln_core::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            _ => $other,
        }
    };
}
