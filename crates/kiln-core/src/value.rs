//! Boxed values: what sits on the dispatcher's stack, and what a traced
//! graph keeps as node attributes.

use crate::device::Device;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::fmt;

/// One boxed argument or result of an op.
#[derive(Clone, Debug)]
pub enum IValue {
    /// An absent optional.
    None,
    /// A tensor.
    Tensor(Tensor),
    /// A list of tensors (`cat`, `stack`).
    TensorList(Vec<Tensor>),
    /// An integer.
    Int(i64),
    /// A list of integers (shapes, dims).
    IntList(Vec<i64>),
    /// A float.
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A string.
    Str(String),
    /// A dtype (`ScalarType` in a schema).
    DType(DType),
    /// A device.
    Device(Device),
}

/// The stack an op's kernel works on: its arguments on entry (schema order,
/// defaults filled in), its results on exit.
///
/// Inline up to 4 values, so most calls allocate nothing for their arguments.
pub type Stack = smallvec::SmallVec<[IValue; 4]>;

/// Builds a [`Stack`] like `vec!`.
#[macro_export]
macro_rules! stack {
    ($($x:expr),* $(,)?) => {{
        let items: [$crate::value::IValue; $crate::stack!(@count $($x),*)] = [$($x),*];
        $crate::value::Stack::from_iter(items)
    }};
    (@count) => { 0 };
    (@count $head:expr $(, $tail:expr)*) => { 1 + $crate::stack!(@count $($tail),*) };
}

impl IValue {
    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            IValue::None => "None",
            IValue::Tensor(_) => "Tensor",
            IValue::TensorList(_) => "Tensor[]",
            IValue::Int(_) => "int",
            IValue::IntList(_) => "int[]",
            IValue::Float(_) => "float",
            IValue::Bool(_) => "bool",
            IValue::Str(_) => "str",
            IValue::DType(_) => "ScalarType",
            IValue::Device(_) => "Device",
        }
    }

    /// A scalar from an `Int`, `Float` or `Bool` value.
    pub fn to_scalar(&self) -> Option<Scalar> {
        match *self {
            IValue::Int(i) => Some(Scalar::Int(i)),
            IValue::Float(f) => Some(Scalar::Float(f)),
            IValue::Bool(b) => Some(Scalar::Bool(b)),
            _ => None,
        }
    }
}

impl From<Scalar> for IValue {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => IValue::Bool(b),
            Scalar::Int(i) => IValue::Int(i),
            Scalar::Float(f) => IValue::Float(f),
        }
    }
}

impl From<Tensor> for IValue {
    fn from(t: Tensor) -> Self {
        IValue::Tensor(t)
    }
}

impl From<&Tensor> for IValue {
    fn from(t: &Tensor) -> Self {
        IValue::Tensor(t.clone())
    }
}

impl fmt::Display for IValue {
    /// Writes the value as IR attributes show it (`[1, 2]`, `f32`, `true`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IValue::None => f.write_str("None"),
            IValue::Tensor(t) => write!(f, "<tensor {} {:?}>", t.dtype(), t.shape()),
            IValue::TensorList(l) => write!(f, "<{} tensors>", l.len()),
            IValue::Int(i) => write!(f, "{i}"),
            IValue::IntList(l) => write!(f, "{l:?}"),
            IValue::Float(x) => {
                if x.fract() == 0.0 && x.is_finite() {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            IValue::Bool(b) => write!(f, "{b}"),
            IValue::Str(s) => write!(f, "{s:?}"),
            IValue::DType(d) => write!(f, "{d}"),
            IValue::Device(d) => write!(f, "{d}"),
        }
    }
}

fn wrong(op: &str, i: usize, want: &str, got: &IValue) -> Error {
    Error::Schema {
        op: op.to_string(),
        msg: format!("argument {i} should be {want}, got {}", got.kind()),
    }
}

/// Typed reads of a kernel's stack, each an `Err(Schema)` on a wrong type.
pub trait StackExt {
    /// The tensor at `i`.
    fn tensor(&self, op: &str, i: usize) -> Result<&Tensor>;
    /// The tensor at `i`, or `None`.
    fn opt_tensor(&self, op: &str, i: usize) -> Result<Option<&Tensor>>;
    /// The tensor list at `i`.
    fn tensor_list(&self, op: &str, i: usize) -> Result<&[Tensor]>;
    /// The int at `i`.
    fn int(&self, op: &str, i: usize) -> Result<i64>;
    /// The int at `i`, or `None`.
    fn opt_int(&self, op: &str, i: usize) -> Result<Option<i64>>;
    /// The int list at `i`.
    fn int_list(&self, op: &str, i: usize) -> Result<&[i64]>;
    /// The int list at `i` as a size: every entry non-negative.
    fn size(&self, op: &str, i: usize) -> Result<Vec<usize>>;
    /// The float at `i` (an int is widened).
    fn float(&self, op: &str, i: usize) -> Result<f64>;
    /// The bool at `i`.
    fn bool(&self, op: &str, i: usize) -> Result<bool>;
    /// The scalar at `i`.
    fn scalar(&self, op: &str, i: usize) -> Result<Scalar>;
    /// The dtype at `i`.
    fn dtype(&self, op: &str, i: usize) -> Result<DType>;
    /// The dtype at `i`, or `None`.
    fn opt_dtype(&self, op: &str, i: usize) -> Result<Option<DType>>;
    /// The device at `i`.
    fn device(&self, op: &str, i: usize) -> Result<Device>;
}

const MISSING: IValue = IValue::None;

impl StackExt for [IValue] {
    fn tensor(&self, op: &str, i: usize) -> Result<&Tensor> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Tensor(t) => Ok(t),
            v => Err(wrong(op, i, "Tensor", v)),
        }
    }
    fn opt_tensor(&self, op: &str, i: usize) -> Result<Option<&Tensor>> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Tensor(t) => Ok(Some(t)),
            IValue::None => Ok(None),
            v => Err(wrong(op, i, "Tensor?", v)),
        }
    }
    fn tensor_list(&self, op: &str, i: usize) -> Result<&[Tensor]> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::TensorList(t) => Ok(t),
            v => Err(wrong(op, i, "Tensor[]", v)),
        }
    }
    fn int(&self, op: &str, i: usize) -> Result<i64> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Int(v) => Ok(*v),
            v => Err(wrong(op, i, "int", v)),
        }
    }
    fn opt_int(&self, op: &str, i: usize) -> Result<Option<i64>> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Int(v) => Ok(Some(*v)),
            IValue::None => Ok(None),
            v => Err(wrong(op, i, "int?", v)),
        }
    }
    fn int_list(&self, op: &str, i: usize) -> Result<&[i64]> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::IntList(v) => Ok(v),
            v => Err(wrong(op, i, "int[]", v)),
        }
    }
    fn size(&self, op: &str, i: usize) -> Result<Vec<usize>> {
        let dims = self.int_list(op, i)?;
        dims.iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| {
                    Error::invalid(op, format!("negative dimension {d} in size {dims:?}"))
                })
            })
            .collect()
    }
    fn float(&self, op: &str, i: usize) -> Result<f64> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Float(v) => Ok(*v),
            IValue::Int(v) => Ok(*v as f64),
            v => Err(wrong(op, i, "float", v)),
        }
    }
    fn bool(&self, op: &str, i: usize) -> Result<bool> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Bool(v) => Ok(*v),
            v => Err(wrong(op, i, "bool", v)),
        }
    }
    fn scalar(&self, op: &str, i: usize) -> Result<Scalar> {
        let v = self.get(i).unwrap_or(&MISSING);
        v.to_scalar().ok_or_else(|| wrong(op, i, "Scalar", v))
    }
    fn dtype(&self, op: &str, i: usize) -> Result<DType> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::DType(v) => Ok(*v),
            v => Err(wrong(op, i, "ScalarType", v)),
        }
    }
    fn opt_dtype(&self, op: &str, i: usize) -> Result<Option<DType>> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::DType(v) => Ok(Some(*v)),
            IValue::None => Ok(None),
            v => Err(wrong(op, i, "ScalarType?", v)),
        }
    }
    fn device(&self, op: &str, i: usize) -> Result<Device> {
        match self.get(i).unwrap_or(&MISSING) {
            IValue::Device(v) => Ok(*v),
            v => Err(wrong(op, i, "Device", v)),
        }
    }
}

/// Writing a kernel's results onto its stack.
pub trait StackResult {
    /// Replaces the stack's contents with one tensor result.
    fn set_result(&mut self, t: Tensor);
}

impl StackResult for Stack {
    fn set_result(&mut self, t: Tensor) {
        self.clear();
        self.push(IValue::Tensor(t));
    }
}
