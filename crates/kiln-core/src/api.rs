//! `Tensor`'s op methods: each builds the op's boxed arguments in schema
//! order and calls the global dispatcher. Nothing here knows a backend.

use crate::device::Device;
use crate::dispatcher::Dispatcher;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{op, OpId};
use crate::stack;
use crate::tensor::{Element, Tensor};
use crate::tls::NoTracerDispatchMode;
use crate::value::{IValue, Stack};

/// Calls `op` and returns its one tensor result.
#[inline]
pub fn call_tensor(id: OpId, args: Stack) -> Result<Tensor> {
    let out = Dispatcher::global().call(id, args)?;
    match out.into_iter().next() {
        Some(IValue::Tensor(t)) => Ok(t),
        other => Err(Error::invalid(
            "dispatch",
            format!(
                "op #{} returned {:?} instead of a tensor",
                id.0,
                other.map(|v| v.kind())
            ),
        )),
    }
}

fn ints(v: &[usize]) -> IValue {
    IValue::IntList(v.iter().map(|&d| d as i64).collect())
}

macro_rules! binary {
    ($($name:ident, $sname:ident => $op:ident, $sop:ident;)*) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting and type promotion.")]
        pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
            call_tensor(op::$op, stack![self.into(), other.into()])
        }
        #[doc = concat!("`", stringify!($name), "` with a Rust scalar (which does not widen the dtype within its category).")]
        pub fn $sname(&self, other: impl Into<Scalar>) -> Result<Tensor> {
            call_tensor(op::$sop, stack![self.into(), other.into().into()])
        }
    )*};
}

macro_rules! unary {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "`.")]
        pub fn $name(&self) -> Result<Tensor> {
            call_tensor(op::$op, stack![self.into()])
        }
    )*};
}

macro_rules! reduce {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "` over `dims` (every dim when empty).")]
        pub fn $name(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
            call_tensor(op::$op, stack![self.into(), IValue::IntList(dims.to_vec()), IValue::Bool(keepdim)])
        }
    )*};
}

impl Tensor {
    binary! {
        add, add_scalar => ADD, ADD_SCALAR;
        sub, sub_scalar => SUB, SUB_SCALAR;
        mul, mul_scalar => MUL, MUL_SCALAR;
        div, div_scalar => DIV, DIV_SCALAR;
        pow, pow_scalar => POW, POW_SCALAR;
        maximum, maximum_scalar => MAXIMUM, MAXIMUM_SCALAR;
        minimum, minimum_scalar => MINIMUM, MINIMUM_SCALAR;
        eq, eq_scalar => EQ, EQ_SCALAR;
        ne, ne_scalar => NE, NE_SCALAR;
        lt, lt_scalar => LT, LT_SCALAR;
        le, le_scalar => LE, LE_SCALAR;
        gt, gt_scalar => GT, GT_SCALAR;
        ge, ge_scalar => GE, GE_SCALAR;
    }

    unary! {
        neg => NEG; abs => ABS; exp => EXP; log => LOG; sqrt => SQRT; rsqrt => RSQRT;
        sin => SIN; cos => COS; tanh => TANH; sigmoid => SIGMOID; relu => RELU;
        gelu => GELU; silu => SILU; recip => RECIP; contiguous => CONTIGUOUS;
    }

    reduce! { sum => SUM; mean => MEAN; max => MAX; min => MIN; }

    /// Sum of every element (a zero-dim tensor).
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// `self` where `condition` holds, else `other` (`torch.where(condition, self, other)`).
    pub fn where_cond(condition: &Tensor, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        call_tensor(
            op::WHERE,
            stack![condition.into(), on_true.into(), on_false.into()],
        )
    }

    /// Converts to `dtype` (`cast`).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        call_tensor(op::CAST, stack![self.into(), IValue::DType(dtype)])
    }

    /// Index of the largest element along `dim` (of the flattened tensor
    /// when `None`), as `i32`.
    pub fn argmax(&self, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
        call_tensor(
            op::ARGMAX,
            stack![
                self.into(),
                dim.map_or(IValue::None, IValue::Int),
                IValue::Bool(keepdim),
            ],
        )
    }

    /// Index of the smallest element along `dim` (flattened when `None`).
    pub fn argmin(&self, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
        call_tensor(
            op::ARGMIN,
            stack![
                self.into(),
                dim.map_or(IValue::None, IValue::Int),
                IValue::Bool(keepdim),
            ],
        )
    }

    /// Matrix product: 2-D, or batched with broadcast batch dims (1-D
    /// operands are promoted as in `torch.matmul`).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        call_tensor(op::MATMUL, stack![self.into(), other.into()])
    }

    /// `self @ weight^T + bias`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        call_tensor(
            op::LINEAR,
            stack![
                self.into(),
                weight.into(),
                bias.map_or(IValue::None, IValue::from),
            ],
        )
    }

    /// Softmax along `dim`.
    pub fn softmax(&self, dim: i64) -> Result<Tensor> {
        call_tensor(op::SOFTMAX, stack![self.into(), IValue::Int(dim)])
    }

    /// Log-softmax along `dim`.
    pub fn log_softmax(&self, dim: i64) -> Result<Tensor> {
        call_tensor(op::LOG_SOFTMAX, stack![self.into(), IValue::Int(dim)])
    }

    /// Layer norm over the trailing `normalized_shape` dims.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        call_tensor(
            op::LAYER_NORM,
            stack![
                self.into(),
                ints(normalized_shape),
                weight.map_or(IValue::None, IValue::from),
                bias.map_or(IValue::None, IValue::from),
                IValue::Float(eps),
            ],
        )
    }

    /// 2-D convolution of `[N, C, H, W]` input with `[O, C/groups, kH, kW]` weight.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        call_tensor(
            op::CONV2D,
            stack![
                self.into(),
                weight.into(),
                bias.map_or(IValue::None, IValue::from),
                ints(&stride),
                ints(&padding),
                ints(&dilation),
                IValue::Int(groups as i64),
            ],
        )
    }

    /// 2-D max pooling of `[N, C, H, W]` (stride defaults to the kernel size).
    pub fn max_pool2d(
        &self,
        kernel_size: [usize; 2],
        stride: Option<[usize; 2]>,
        padding: [usize; 2],
    ) -> Result<Tensor> {
        call_tensor(
            op::MAX_POOL2D,
            stack![
                self.into(),
                ints(&kernel_size),
                stride.map_or(IValue::IntList(vec![]), |s| ints(&s)),
                ints(&padding),
            ],
        )
    }

    /// A tensor of `shape` (one dim may be `-1`): a view when possible, else a copy.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        call_tensor(
            op::RESHAPE,
            stack![self.into(), IValue::IntList(shape.to_vec())],
        )
    }

    /// A view of `shape`; an error when the layout does not allow one.
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        call_tensor(
            op::VIEW,
            stack![self.into(), IValue::IntList(shape.to_vec())],
        )
    }

    /// Flattens to 1-D.
    pub fn flatten(&self) -> Result<Tensor> {
        self.reshape(&[-1])
    }

    /// Reorders the dims.
    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        call_tensor(
            op::PERMUTE,
            stack![self.into(), IValue::IntList(dims.to_vec())],
        )
    }

    /// Swaps two dims.
    pub fn transpose(&self, dim0: i64, dim1: i64) -> Result<Tensor> {
        call_tensor(
            op::TRANSPOSE,
            stack![self.into(), IValue::Int(dim0), IValue::Int(dim1)],
        )
    }

    /// Transpose of a 2-D tensor.
    pub fn t(&self) -> Result<Tensor> {
        self.transpose(0, 1)
    }

    /// Elements `start..end` along `dim` (negative values count from the end).
    pub fn slice(&self, dim: i64, start: i64, end: i64) -> Result<Tensor> {
        self.slice_step(dim, start, end, 1)
    }

    /// Elements `start..end` step `step` along `dim`.
    pub fn slice_step(&self, dim: i64, start: i64, end: i64, step: i64) -> Result<Tensor> {
        call_tensor(
            op::SLICE,
            stack![
                self.into(),
                IValue::Int(dim),
                IValue::Int(start),
                IValue::Int(end),
                IValue::Int(step),
            ],
        )
    }

    /// `length` elements from `start` along `dim`.
    pub fn narrow(&self, dim: i64, start: i64, length: i64) -> Result<Tensor> {
        call_tensor(
            op::NARROW,
            stack![
                self.into(),
                IValue::Int(dim),
                IValue::Int(start),
                IValue::Int(length),
            ],
        )
    }

    /// Broadcasts to `size` (`-1` keeps a dim) without copying.
    pub fn expand(&self, size: &[i64]) -> Result<Tensor> {
        call_tensor(
            op::EXPAND,
            stack![self.into(), IValue::IntList(size.to_vec())],
        )
    }

    /// Broadcasts to `shape` without copying.
    pub fn broadcast_as(&self, shape: &[usize]) -> Result<Tensor> {
        self.expand(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>())
    }

    /// Removes `dim` if it has size 1 (every size-1 dim when `None`).
    pub fn squeeze(&self, dim: Option<i64>) -> Result<Tensor> {
        call_tensor(
            op::SQUEEZE,
            stack![self.into(), dim.map_or(IValue::None, IValue::Int)],
        )
    }

    /// Inserts a size-1 dim at `dim`.
    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        call_tensor(op::UNSQUEEZE, stack![self.into(), IValue::Int(dim)])
    }

    /// Concatenates along `dim`.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        call_tensor(
            op::CAT,
            stack![IValue::TensorList(tensors.to_vec()), IValue::Int(dim)],
        )
    }

    /// Stacks along a new dim `dim`.
    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        call_tensor(
            op::STACK,
            stack![IValue::TensorList(tensors.to_vec()), IValue::Int(dim)],
        )
    }

    /// Picks entries along `dim` by the 1-D integer `index`.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        call_tensor(
            op::INDEX_SELECT,
            stack![self.into(), IValue::Int(dim), index.into()],
        )
    }

    /// `out[i][j] = self[index[i][j]][j]` for `dim = 0`, and so on (`torch.gather`).
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        call_tensor(
            op::GATHER,
            stack![self.into(), IValue::Int(dim), index.into()],
        )
    }

    /// Rows of this `[num, dim]` weight picked by integer `indices`.
    pub fn embedding(&self, indices: &Tensor) -> Result<Tensor> {
        call_tensor(op::EMBEDDING, stack![self.into(), indices.into()])
    }

    /// The tensor on `device` (itself when already there).
    pub fn to(&self, device: &Device) -> Result<Tensor> {
        if self.device() == *device {
            return Ok(self.clone());
        }
        call_tensor(op::TO, stack![self.into(), IValue::Device(*device)])
    }
}

/// Raw factory functions. They need a backend registered in the global
/// dispatcher; the `kiln` crate's functions of the same names make sure of
/// that and are what users call.
pub mod factory {
    use super::*;

    fn size(shape: &[usize]) -> IValue {
        ints(shape)
    }

    /// Uninitialised storage of `shape`.
    pub fn empty(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::EMPTY,
            stack![size(shape), IValue::DType(dtype), IValue::Device(*device)],
        )
    }
    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::ZEROS,
            stack![size(shape), IValue::DType(dtype), IValue::Device(*device)],
        )
    }
    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::ONES,
            stack![size(shape), IValue::DType(dtype), IValue::Device(*device)],
        )
    }
    /// Every element `value`.
    pub fn full(
        shape: &[usize],
        value: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        call_tensor(
            op::FULL,
            stack![
                size(shape),
                value.into().into(),
                IValue::DType(dtype),
                IValue::Device(*device),
            ],
        )
    }
    /// `start, start + step, ...` below `end`.
    pub fn arange(
        start: impl Into<Scalar>,
        end: impl Into<Scalar>,
        step: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        call_tensor(
            op::ARANGE,
            stack![
                start.into().into(),
                end.into().into(),
                step.into().into(),
                IValue::DType(dtype),
                IValue::Device(*device),
            ],
        )
    }
    /// `n x m` identity.
    pub fn eye(n: usize, m: usize, dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::EYE,
            stack![
                IValue::Int(n as i64),
                IValue::Int(m as i64),
                IValue::DType(dtype),
                IValue::Device(*device),
            ],
        )
    }
    /// Uniform `[0, 1)` from the Philox stream of `seed`.
    pub fn rand(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::RAND,
            stack![
                size(shape),
                IValue::Int(seed as i64),
                IValue::DType(dtype),
                IValue::Device(*device),
            ],
        )
    }
    /// Standard normal from the Philox stream of `seed`.
    pub fn randn(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
        call_tensor(
            op::RANDN,
            stack![
                size(shape),
                IValue::Int(seed as i64),
                IValue::DType(dtype),
                IValue::Device(*device),
            ],
        )
    }

    /// kiln's `tensor_new`: allocates through `empty` and fills from host
    /// data, inside `NoTracerDispatchMode` so that a trace never records the
    /// allocation.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Tensor> {
        from_slice(&data, shape, device)
    }

    /// Like [`from_vec`], from a slice.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(Error::shape(
                "from_vec",
                format!(
                    "{} values do not fill shape {shape:?} ({n} elements)",
                    data.len()
                ),
            ));
        }
        let _guard = NoTracerDispatchMode::new();
        let mut t = empty(shape, T::DTYPE, device)?;
        let storage = t.storage_mut().ok_or_else(|| {
            Error::invalid(
                "from_vec",
                "a freshly allocated tensor was shared (internal)",
            )
        })?;
        storage.write_bytes(&T::to_bytes(data))?;
        Ok(t)
    }
}
