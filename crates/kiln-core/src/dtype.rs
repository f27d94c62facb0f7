//! Element types and PyTorch's type promotion (`result_type`).

use std::fmt;

/// The element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// `bool`, one byte per element (0 or 1).
    Bool,
    /// 32-bit signed integer.
    I32,
    /// IEEE half precision (`half::f16`).
    F16,
    /// bfloat16 (`half::bf16`).
    BF16,
    /// 32-bit float.
    F32,
}

/// The three promotion categories of PyTorch: bool < integral < floating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// `bool`.
    Bool,
    /// Integers.
    Integral,
    /// Floating point.
    Floating,
}

impl DType {
    /// Every dtype kiln has.
    pub const ALL: [DType; 5] = [DType::F32, DType::F16, DType::BF16, DType::I32, DType::Bool];
    /// The floating dtypes.
    pub const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

    /// Bytes per element.
    pub const fn size_in_bytes(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
        }
    }

    /// Short name as used in IR text (`f32`, `bf16`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I32 => "i32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
        }
    }

    /// Parses a short name.
    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.name() == s)
    }

    /// Whether this is a floating dtype.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32)
    }

    /// The promotion category.
    pub const fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::I32 => Category::Integral,
            _ => Category::Floating,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// PyTorch's `promote_types` on kiln's dtypes.
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (F16, BF16) | (BF16, F16) => F32,
        (F32, _) | (_, F32) => F32,
        (F16, _) | (_, F16) => F16,
        (BF16, _) | (_, BF16) => BF16,
        (I32, _) | (_, I32) => I32,
        _ => Bool,
    }
}

/// A Rust number passed to an op (`x.add_scalar(2.0)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A `bool`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

impl Scalar {
    /// The value as `f64`.
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as i64 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }

    /// The dtype a scalar of this kind takes when nothing else decides:
    /// PyTorch's wrapped-number rule with kiln's default float (`f32`) and
    /// default integer (`i32`).
    pub fn default_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I32,
            Scalar::Float(_) => DType::F32,
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}
impl From<f32> for Scalar {
    fn from(v: f32) -> Self {
        Scalar::Float(v as f64)
    }
}
impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}
impl From<i32> for Scalar {
    fn from(v: i32) -> Self {
        Scalar::Int(v as i64)
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}

/// Accumulates PyTorch's `result_type` over the operands of one op.
///
/// Operands fall in three priority classes: tensors with dimensions, zero-dim
/// tensors, and Rust scalars. A lower class changes the result only when it
/// is of a higher *category* (so `f16 tensor + 2.0` stays `f16`, `i32 tensor
/// + 2.5` becomes `f32`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ResultType {
    dim: Option<DType>,
    zero_dim: Option<DType>,
    scalar: Option<DType>,
}

fn promote_opt(acc: Option<DType>, d: DType) -> Option<DType> {
    Some(match acc {
        None => d,
        Some(a) => promote_types(a, d),
    })
}

fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (h, None) => h,
        (Some(h), Some(l)) => {
            if h.is_float() {
                Some(h)
            } else if h == DType::Bool || l.is_float() {
                Some(promote_types(h, l))
            } else {
                Some(h)
            }
        }
    }
}

impl ResultType {
    /// Starts with no operands.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor operand of `ndim` dimensions.
    #[must_use]
    pub fn tensor(mut self, dtype: DType, ndim: usize) -> Self {
        if ndim == 0 {
            self.zero_dim = promote_opt(self.zero_dim, dtype);
        } else {
            self.dim = promote_opt(self.dim, dtype);
        }
        self
    }

    /// Adds a Rust scalar operand.
    #[must_use]
    pub fn scalar(mut self, s: Scalar) -> Self {
        self.scalar = promote_opt(self.scalar, s.default_dtype());
        self
    }

    /// The promoted dtype (`f32` if there were no operands).
    pub fn finish(self) -> DType {
        combine_categories(self.dim, combine_categories(self.zero_dim, self.scalar))
            .unwrap_or(DType::F32)
    }
}

/// The result dtype of the elementwise unary op `op` (`neg`, `exp`, `gelu`,
/// ...) on a `dt` tensor, by PyTorch's rules, shared by every backend:
/// floats keep their dtype; on `i32`, `neg`, `abs` and `relu` stay `i32`,
/// `gelu` and `silu` are refused (PyTorch implements them for floats only)
/// and the others promote to `f32` (`torch.exp(int_tensor)` is float); every
/// one of them refuses `bool`.
pub fn unary_result_type(op: &'static str, dt: DType) -> crate::Result<DType> {
    match (dt, op) {
        (DType::Bool, "neg") => Err(crate::Error::dtype(
            op,
            dt,
            "negation, the `-` operator, on a bool tensor is not supported; to invert a mask use `logical_not`",
        )),
        (DType::Bool, _) => Err(crate::Error::dtype(
            op,
            dt,
            "cast the bool tensor to a floating dtype first",
        )),
        (DType::I32, "neg" | "abs" | "relu") => Ok(DType::I32),
        (DType::I32, "gelu" | "silu") => Err(crate::Error::dtype(
            op,
            dt,
            "defined for floating dtypes only, as in PyTorch; cast to f32 first",
        )),
        (DType::I32, _) => Ok(DType::F32),
        (d, _) => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_matches_pytorch() {
        assert_eq!(promote_types(F16, BF16), F32);
        assert_eq!(promote_types(I32, F16), F16);
        assert_eq!(promote_types(Bool, I32), I32);
        assert_eq!(promote_types(Bool, Bool), Bool);
        // a Rust scalar does not widen a tensor's dtype within its category
        assert_eq!(
            ResultType::new()
                .tensor(F16, 2)
                .scalar(Scalar::Float(2.0))
                .finish(),
            F16
        );
        assert_eq!(
            ResultType::new()
                .tensor(I32, 1)
                .scalar(Scalar::Int(7))
                .finish(),
            I32
        );
        // but a higher category does
        assert_eq!(
            ResultType::new()
                .tensor(I32, 1)
                .scalar(Scalar::Float(2.5))
                .finish(),
            F32
        );
        assert_eq!(
            ResultType::new()
                .tensor(Bool, 1)
                .scalar(Scalar::Int(1))
                .finish(),
            I32
        );
        // zero-dim tensors rank below dimensioned ones
        assert_eq!(
            ResultType::new().tensor(BF16, 2).tensor(F32, 0).finish(),
            BF16
        );
        assert_eq!(
            ResultType::new().tensor(I32, 2).tensor(F16, 0).finish(),
            F16
        );
        assert_eq!(
            ResultType::new().tensor(F16, 0).tensor(F32, 0).finish(),
            F32
        );
    }
}
