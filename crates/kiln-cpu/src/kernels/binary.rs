//! Broadcasting binary ops (arithmetic, comparisons, `where`) and their
//! scalar forms. Inputs are promoted to a common dtype (PyTorch's
//! `result_type`) and then read in place through their layouts.

use crate::elem::Elem;
use crate::iter::{map_contiguous, map_strided, zip_contiguous, Operand};
use crate::storage::CpuElem;
use crate::tensor_io::{ensure_dtype, slice_of, wrap};
use half::{bf16, f16};
use kiln_core::layout::broadcast_shapes;
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, OpId, Result, ResultType, Scalar, Stack, StackExt,
    StackResult, Tensor,
};

/// Maps `f` over the broadcast of `a` and `b` (both already of dtype `A`).
pub fn zip_map<A: Elem, U: CpuElem>(
    op: &str,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    f: impl Fn(A, A) -> U + Sync + Copy,
) -> Result<Tensor> {
    let (sa, sb) = (slice_of::<A>(op, a)?, slice_of::<A>(op, b)?);
    let (la, lb) = (a.layout(), b.layout());
    let n: usize = shape.iter().product();
    if n == 0 {
        return wrap(Vec::<U>::new(), shape);
    }
    let dense = |l: &kiln_core::Layout| l.is_contiguous() && l.shape() == shape;
    let out = if dense(la) && dense(lb) {
        zip_contiguous(
            &sa[la.offset()..la.offset() + n],
            &sb[lb.offset()..lb.offset() + n],
            f,
        )
    } else if dense(la) && lb.numel() == 1 {
        let y = sb[lb.offset()];
        map_contiguous(&sa[la.offset()..la.offset() + n], move |x| f(x, y))
    } else if dense(lb) && la.numel() == 1 {
        let x = sa[la.offset()];
        map_contiguous(&sb[lb.offset()..lb.offset() + n], move |y| f(x, y))
    } else {
        let oa = Operand::of(&la.broadcast_to(op, shape)?);
        let ob = Operand::of(&lb.broadcast_to(op, shape)?);
        map_strided(shape, &[oa, ob], |[i, j]| f(sa[i], sb[j]))
    };
    wrap(out, shape)
}

/// Which arithmetic op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

/// Which comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
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
}

impl Cmp {
    fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
        }
    }
}

fn maxf(a: f32, b: f32) -> f32 {
    // NaN propagates, as in torch.maximum
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a > b {
        a
    } else {
        b
    }
}

fn minf(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a < b {
        a
    } else {
        b
    }
}

fn float_arith<T: Elem>(op: Arith, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let n = op.name();
    macro_rules! go {
        ($f:expr) => {
            zip_map::<T, T>(n, a, b, shape, |x, y| {
                T::from_f32($f(x.to_f32(), y.to_f32()))
            })
        };
    }
    match op {
        Arith::Add => go!(|x: f32, y: f32| x + y),
        Arith::Sub => go!(|x: f32, y: f32| x - y),
        Arith::Mul => go!(|x: f32, y: f32| x * y),
        Arith::Div => go!(|x: f32, y: f32| x / y),
        Arith::Pow => go!(|x: f32, y: f32| x.powf(y)),
        Arith::Maximum => go!(maxf),
        Arith::Minimum => go!(minf),
    }
}

fn int_pow(x: i32, y: i32) -> i32 {
    match y {
        y if y >= 0 => x.wrapping_pow(y as u32),
        _ => match x {
            1 => 1,
            -1 => {
                if y % 2 == 0 {
                    1
                } else {
                    -1
                }
            }
            _ => 0,
        },
    }
}

fn int_arith(op: Arith, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let n = op.name();
    match op {
        Arith::Add => zip_map::<i32, i32>(n, a, b, shape, |x, y| x.wrapping_add(y)),
        Arith::Sub => zip_map::<i32, i32>(n, a, b, shape, |x, y| x.wrapping_sub(y)),
        Arith::Mul => zip_map::<i32, i32>(n, a, b, shape, |x, y| x.wrapping_mul(y)),
        Arith::Pow => {
            let exps = slice_of::<i32>(n, b)?;
            let mut neg = None;
            kiln_core::for_each_index(b.layout(), |i| {
                if exps[i] < 0 && neg.is_none() {
                    neg = Some(exps[i]);
                }
            });
            if let Some(e) = neg {
                return Err(Error::invalid(
                    n,
                    format!("integers to negative integer powers are not allowed (exponent {e})"),
                ));
            }
            zip_map::<i32, i32>(n, a, b, shape, int_pow)
        }
        Arith::Maximum => zip_map::<i32, i32>(n, a, b, shape, |x, y| x.max(y)),
        Arith::Minimum => zip_map::<i32, i32>(n, a, b, shape, |x, y| x.min(y)),
        Arith::Div => unreachable!("integer division is computed in f32"),
    }
}

fn bool_arith(op: Arith, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let n = op.name();
    match op {
        Arith::Add | Arith::Maximum => zip_map::<bool, bool>(n, a, b, shape, |x, y| x | y),
        Arith::Mul | Arith::Minimum => zip_map::<bool, bool>(n, a, b, shape, |x, y| x & y),
        Arith::Sub => Err(Error::dtype(
            n,
            DType::Bool,
            "subtraction of bool tensors is not supported; use logical ops",
        )),
        Arith::Pow | Arith::Div => unreachable!("bool pow/div are computed in a wider dtype"),
    }
}

/// The dtype `op` computes in, given the promoted input dtype.
fn compute_dtype(op: Arith, promoted: DType) -> DType {
    match (op, promoted) {
        (Arith::Div, d) if !d.is_float() => DType::F32,
        (Arith::Pow, DType::Bool) => DType::I32,
        (_, d) => d,
    }
}

/// `a op b` with broadcasting; `dtype` is the promoted dtype of the operands.
pub fn arith(op: Arith, a: &Tensor, b: &Tensor, promoted: DType) -> Result<Tensor> {
    let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    let dt = compute_dtype(op, promoted);
    let (a, b) = (ensure_dtype(a, dt)?, ensure_dtype(b, dt)?);
    match dt {
        DType::F32 => float_arith::<f32>(op, &a, &b, &shape),
        DType::F16 => float_arith::<f16>(op, &a, &b, &shape),
        DType::BF16 => float_arith::<bf16>(op, &a, &b, &shape),
        DType::I32 => int_arith(op, &a, &b, &shape),
        DType::Bool => bool_arith(op, &a, &b, &shape),
    }
}

fn cmp_typed<T: Elem + PartialOrd>(
    op: Cmp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
) -> Result<Tensor> {
    let n = op.name();
    match op {
        Cmp::Eq => zip_map::<T, bool>(n, a, b, shape, |x, y| x == y),
        Cmp::Ne => zip_map::<T, bool>(n, a, b, shape, |x, y| x != y),
        Cmp::Lt => zip_map::<T, bool>(n, a, b, shape, |x, y| x < y),
        Cmp::Le => zip_map::<T, bool>(n, a, b, shape, |x, y| x <= y),
        Cmp::Gt => zip_map::<T, bool>(n, a, b, shape, |x, y| x > y),
        Cmp::Ge => zip_map::<T, bool>(n, a, b, shape, |x, y| x >= y),
    }
}

/// `a cmp b` with broadcasting, a `bool` tensor.
pub fn compare(op: Cmp, a: &Tensor, b: &Tensor, promoted: DType) -> Result<Tensor> {
    let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    let (a, b) = (ensure_dtype(a, promoted)?, ensure_dtype(b, promoted)?);
    match promoted {
        DType::F32 => cmp_typed::<f32>(op, &a, &b, &shape),
        DType::F16 => cmp_typed::<f16>(op, &a, &b, &shape),
        DType::BF16 => cmp_typed::<bf16>(op, &a, &b, &shape),
        DType::I32 => cmp_typed::<i32>(op, &a, &b, &shape),
        DType::Bool => cmp_typed::<bool>(op, &a, &b, &shape),
    }
}

fn where_typed<T: Elem>(c: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (sc, sa, sb) = (
        slice_of::<bool>("where", c)?,
        slice_of::<T>("where", a)?,
        slice_of::<T>("where", b)?,
    );
    let ops = [
        Operand::of(&c.layout().broadcast_to("where", shape)?),
        Operand::of(&a.layout().broadcast_to("where", shape)?),
        Operand::of(&b.layout().broadcast_to("where", shape)?),
    ];
    let out = map_strided(shape, &ops, |[i, j, k]| if sc[i] { sa[j] } else { sb[k] });
    wrap(out, shape)
}

/// `where(condition, a, b)`: `condition` must be `bool`.
pub fn where_(c: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
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
    let (a, b) = (ensure_dtype(a, dt)?, ensure_dtype(b, dt)?);
    crate::with_dtype!(dt, T => where_typed::<T>(c, &a, &b, &shape))
}

/// A zero-dim CPU tensor holding `s` as `dtype`.
pub fn scalar_tensor(s: Scalar, dtype: DType) -> Result<Tensor> {
    crate::with_dtype!(dtype, T => wrap(vec![<T as Elem>::from_f64(s.to_f64())], &[]))
}

enum Kind {
    Arith(Arith),
    Cmp(Cmp),
}

fn binary_kernel(
    kind: Kind,
    scalar: bool,
) -> impl Fn(OpId, kiln_core::DispatchKeySet, &mut Stack) -> Result<()> {
    move |_, _, s: &mut Stack| {
        let name = match &kind {
            Kind::Arith(a) => a.name(),
            Kind::Cmp(c) => c.name(),
        };
        let a = s.tensor(name, 0)?;
        let (b, promoted) = if scalar {
            let v = s.scalar(name, 1)?;
            let dt = ResultType::new()
                .tensor(a.dtype(), a.ndim())
                .scalar(v)
                .finish();
            (scalar_tensor(v, dt)?, dt)
        } else {
            let b = s.tensor(name, 1)?.clone();
            let dt = ResultType::new()
                .tensor(a.dtype(), a.ndim())
                .tensor(b.dtype(), b.ndim())
                .finish();
            (b, dt)
        };
        let out = match &kind {
            Kind::Arith(op) => arith(*op, a, &b, promoted)?,
            Kind::Cmp(op) => compare(*op, a, &b, promoted)?,
        };
        s.set_result(out);
        Ok(())
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
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
            DispatchKey::Cpu,
            &format!("cpu::{}", a.name()),
            binary_kernel(Kind::Arith(a), false),
        )?;
        d.register_kernel(
            sc,
            DispatchKey::Cpu,
            &format!("cpu::{}_scalar", a.name()),
            binary_kernel(Kind::Arith(a), true),
        )?;
    }
    let cmp_ops = [
        (op::EQ, op::EQ_SCALAR, Cmp::Eq),
        (op::NE, op::NE_SCALAR, Cmp::Ne),
        (op::LT, op::LT_SCALAR, Cmp::Lt),
        (op::LE, op::LE_SCALAR, Cmp::Le),
        (op::GT, op::GT_SCALAR, Cmp::Gt),
        (op::GE, op::GE_SCALAR, Cmp::Ge),
    ];
    for (t, sc, c) in cmp_ops {
        d.register_kernel(
            t,
            DispatchKey::Cpu,
            &format!("cpu::{}", c.name()),
            binary_kernel(Kind::Cmp(c), false),
        )?;
        d.register_kernel(
            sc,
            DispatchKey::Cpu,
            &format!("cpu::{}_scalar", c.name()),
            binary_kernel(Kind::Cmp(c), true),
        )?;
    }
    d.register_kernel(op::WHERE, DispatchKey::Cpu, "cpu::where", |_, _, s| {
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
