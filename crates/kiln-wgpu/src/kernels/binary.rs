//! Broadcasting binary ops, comparisons, `where`, and the scalar forms, with
//! the CPU backend's promotion (PyTorch's `result_type`) and semantics:
//! the same dtypes and the same values. Inputs of another dtype are cast
//! inside the kernel, not by a separate copy.

use super::elementwise::{Input, Map, Src};
use crate::shader::{compute_type, BINARY};
use half::{bf16, f16};
use kiln_core::layout::broadcast_shapes;
use kiln_core::{
    op, DType, DispatchKey, DispatchKeySet, Dispatcher, Error, OpId, Result, ResultType, Scalar,
    Stack, StackExt, StackResult, Tensor,
};

/// Which arithmetic op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

impl Arith {
    fn name(self) -> &'static str {
        match self {
            Arith::Add => "add",
            Arith::Sub => "sub",
            Arith::Mul => "mul",
            Arith::Div => "div",
            Arith::Pow => "pow",
            Arith::Maximum => "maximum",
            Arith::Minimum => "minimum",
        }
    }

    /// The dtype the op computes in, given the promoted input dtype.
    fn compute_dtype(self, promoted: DType) -> DType {
        match (self, promoted) {
            (Arith::Div, d) if !d.is_float() => DType::F32,
            (Arith::Pow, DType::Bool) => DType::I32,
            (_, d) => d,
        }
    }
}

/// The second operand: a tensor or a Rust scalar.
enum Rhs<'a> {
    Tensor(&'a Tensor),
    Scalar(Scalar),
}

/// `s` as a value of `dtype` (the CPU's `from_f64`), as the bits of the
/// dtype's compute type.
pub(crate) fn scalar_bits(s: Scalar, dtype: DType) -> u32 {
    let v = s.to_f64();
    match dtype {
        DType::F32 => (v as f32).to_bits(),
        DType::F16 => f16::from_f64(v).to_f32().to_bits(),
        DType::BF16 => bf16::from_f64(v).to_f32().to_bits(),
        DType::I32 => (v as i32) as u32,
        DType::Bool => (v != 0.0) as u32,
    }
}

impl Rhs<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            Rhs::Tensor(t) => t.shape(),
            Rhs::Scalar(_) => &[],
        }
    }

    fn input(&self, dt: DType) -> Input<'_> {
        match self {
            Rhs::Tensor(t) => Input::tensor(t, dt),
            Rhs::Scalar(s) => Input {
                src: Src::Param(dt, scalar_bits(*s, dt)),
                to: dt,
            },
        }
    }
}

/// Integer `pow` rejects negative exponents, as the CPU backend does.
fn check_int_pow(b: &Rhs<'_>) -> Result<()> {
    let neg = match b {
        Rhs::Scalar(s) => Some(s.to_f64() as i32).filter(|&e| e < 0),
        // a bool exponent is 0 or 1; an i32 tensor is read back to check
        Rhs::Tensor(t) if t.dtype() == DType::I32 => {
            t.to_vec::<i32>()?.into_iter().find(|&e| e < 0)
        }
        Rhs::Tensor(_) => None,
    };
    match neg {
        Some(e) => Err(Error::invalid(
            "pow",
            format!("integers to negative integer powers are not allowed (exponent {e})"),
        )),
        None => Ok(()),
    }
}

fn arith(op: Arith, a: &Tensor, b: &Rhs<'_>, promoted: DType) -> Result<Tensor> {
    let name = op.name();
    let shape = broadcast_shapes(name, a.shape(), b.shape())?;
    let dt = op.compute_dtype(promoted);
    match (op, dt) {
        (Arith::Sub, DType::Bool) => {
            return Err(Error::dtype(
                name,
                DType::Bool,
                "subtraction of bool tensors is not supported; use logical ops",
            ))
        }
        (Arith::Pow, DType::I32) => check_int_pow(b)?,
        _ => {}
    }
    Map {
        op: name,
        funcs: BINARY,
        func: Some(format!("{name}_{}", compute_type(dt))),
        inputs: vec![Input::tensor(a, dt), b.input(dt)],
        out: dt,
        shape: shape.to_vec(),
    }
    .run()
}

fn compare(name: &'static str, a: &Tensor, b: &Rhs<'_>, promoted: DType) -> Result<Tensor> {
    let shape = broadcast_shapes(name, a.shape(), b.shape())?;
    Map {
        op: name,
        funcs: BINARY,
        func: Some(format!("{name}_{}", compute_type(promoted))),
        inputs: vec![Input::tensor(a, promoted), b.input(promoted)],
        out: DType::Bool,
        shape: shape.to_vec(),
    }
    .run()
}

/// `where(condition, a, b)`: `condition` must be `bool`.
fn where_(c: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if c.dtype() != DType::Bool {
        return Err(Error::DTypeMismatch {
            op: "where".into(),
            expected: DType::Bool,
            got: c.dtype(),
        });
    }
    let shape = broadcast_shapes(
        "where",
        &broadcast_shapes("where", c.shape(), a.shape())?,
        b.shape(),
    )?;
    let dt = ResultType::new()
        .tensor(a.dtype(), a.ndim())
        .tensor(b.dtype(), b.ndim())
        .finish();
    Map {
        op: "where",
        funcs: BINARY,
        func: Some(format!("where_{}", compute_type(dt))),
        inputs: vec![
            Input::tensor(c, DType::Bool),
            Input::tensor(a, dt),
            Input::tensor(b, dt),
        ],
        out: dt,
        shape: shape.to_vec(),
    }
    .run()
}

#[derive(Clone, Copy)]
enum Kind {
    Arith(Arith),
    Cmp(&'static str),
}

fn binary_kernel(
    kind: Kind,
    scalar: bool,
) -> impl Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> {
    move |_, _, s: &mut Stack| {
        let name = match kind {
            Kind::Arith(a) => a.name(),
            Kind::Cmp(c) => c,
        };
        let a = s.tensor(name, 0)?;
        let (b, promoted) = if scalar {
            let v = s.scalar(name, 1)?;
            (
                Rhs::Scalar(v),
                ResultType::new()
                    .tensor(a.dtype(), a.ndim())
                    .scalar(v)
                    .finish(),
            )
        } else {
            let b = s.tensor(name, 1)?;
            (
                Rhs::Tensor(b),
                ResultType::new()
                    .tensor(a.dtype(), a.ndim())
                    .tensor(b.dtype(), b.ndim())
                    .finish(),
            )
        };
        let out = match kind {
            Kind::Arith(op) => arith(op, a, &b, promoted)?,
            Kind::Cmp(c) => compare(c, a, &b, promoted)?,
        };
        s.set_result(out);
        Ok(())
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Wgpu;
    let arith_ops = [
        (op::ADD, op::ADD_SCALAR, Arith::Add),
        (op::SUB, op::SUB_SCALAR, Arith::Sub),
        (op::MUL, op::MUL_SCALAR, Arith::Mul),
        (op::DIV, op::DIV_SCALAR, Arith::Div),
        (op::POW, op::POW_SCALAR, Arith::Pow),
        (op::MAXIMUM, op::MAXIMUM_SCALAR, Arith::Maximum),
        (op::MINIMUM, op::MINIMUM_SCALAR, Arith::Minimum),
    ];
    for (t, sc, a) in arith_ops {
        d.register_kernel(
            t,
            k,
            &format!("wgpu::{}", a.name()),
            binary_kernel(Kind::Arith(a), false),
        )?;
        d.register_kernel(
            sc,
            k,
            &format!("wgpu::{}_scalar", a.name()),
            binary_kernel(Kind::Arith(a), true),
        )?;
    }
    let cmp_ops = [
        (op::EQ, op::EQ_SCALAR, "eq"),
        (op::NE, op::NE_SCALAR, "ne"),
        (op::LT, op::LT_SCALAR, "lt"),
        (op::LE, op::LE_SCALAR, "le"),
        (op::GT, op::GT_SCALAR, "gt"),
        (op::GE, op::GE_SCALAR, "ge"),
    ];
    for (t, sc, c) in cmp_ops {
        d.register_kernel(
            t,
            k,
            &format!("wgpu::{c}"),
            binary_kernel(Kind::Cmp(c), false),
        )?;
        d.register_kernel(
            sc,
            k,
            &format!("wgpu::{c}_scalar"),
            binary_kernel(Kind::Cmp(c), true),
        )?;
    }
    d.register_kernel(op::WHERE, k, "wgpu::where", |_, _, s| {
        let out = where_(
            s.tensor("where", 0)?,
            s.tensor("where", 1)?,
            s.tensor("where", 2)?,
        )?;
        s.set_result(out);
        Ok(())
    })?;
    Ok(())
}
