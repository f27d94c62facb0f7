//! # kiln
//!
//! A small tensor runtime. Every op goes through a dispatch-key-set
//! dispatcher modelled on PyTorch's c10; a CPU backend sits under it (and a
//! wgpu backend and a tracer above it as they land).
//!
//! ```
//! use kiln::{DType, Device};
//! let x = kiln::from_vec(vec![1.0f32, -2.0, 3.0, -4.0], &[2, 2], &Device::Cpu)?;
//! let y = x.relu()?.matmul(&x.t()?)?;
//! assert_eq!(y.to_vec::<f32>()?, vec![1.0, 3.0, 3.0, 9.0]);
//! let z = kiln::zeros(&[3], DType::I32, &Device::Cpu)?.add_scalar(2)?;
//! assert_eq!(z.to_vec::<i32>()?, vec![2, 2, 2]);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! Tensors are made with this crate's functions (`from_vec`, `zeros`,
//! `rand`, ...), which make sure every backend is registered; after that,
//! `Tensor`'s methods run any op.
//!
//! ## Custom ops
//!
//! A [`Library`] defines an op from a schema string and registers a kernel
//! per dispatch key. The op is then callable with boxed arguments (checked
//! against the schema, defaults filled in), and the tracer records it like
//! any built-in op.
//!
//! ```
//! use kiln::{Device, DispatchKey, Dispatcher, IValue, Library, StackExt, StackResult};
//! kiln::init()?;
//! let lib = Library::new("my")?;
//! lib.def("my::scale(Tensor x, float alpha=1.0) -> Tensor")?;
//! lib.impl_kernel("scale", DispatchKey::Cpu, |_op, _ks, stack| {
//!     let (x, alpha) = (stack.tensor("my::scale", 0)?.clone(), stack.float("my::scale", 1)?);
//!     stack.set_result(x.mul_scalar(alpha)?);
//!     Ok(())
//! })?;
//! let x = kiln::from_vec(vec![1.0f32, 2.0], &[2], &Device::Cpu)?;
//! let out = Dispatcher::global().call_boxed("my::scale", vec![x.clone().into(), IValue::Float(3.0)])?;
//! let IValue::Tensor(y) = &out[0] else { unreachable!() };
//! assert_eq!(y.to_vec::<f32>()?, vec![3.0, 6.0]);
//! // the default alpha=1.0 is filled in; a wrong argument type is an error
//! assert!(Dispatcher::global().call_boxed("my::scale", vec![x.clone().into()]).is_ok());
//! assert!(Dispatcher::global().call_boxed("my::scale", vec![IValue::Str("x".into())]).is_err());
//! # Ok::<(), kiln::Error>(())
//! ```

#[doc(hidden)]
pub mod testing;

/// The README's code, compiled and run as a doctest so it cannot drift.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub mod nn;
pub mod support;
mod transfer;

pub use kiln_core::{
    self as core, is_dispatch_enabled, op, set_dispatch_enabled, DType, Device, DispatchKey,
    DispatchKeySet, Dispatcher, Element, Error, ExcludeDispatchKeyGuard, IValue,
    IncludeDispatchKeyGuard, Layout, Library, NoTracerDispatchMode, OpId, Result, Scalar, Stack,
    StackExt, StackResult, Tensor,
};
pub use kiln_cpu as cpu;
pub use kiln_trace as trace;
pub use kiln_wgpu as wgpu;
pub use kiln_wgpu::WgpuOptions;

use kiln_core::factory;
use std::sync::OnceLock;

static INIT: OnceLock<std::result::Result<(), Error>> = OnceLock::new();

/// Registers every backend kiln was built with in the global dispatcher.
/// Idempotent and cheap after the first call; every constructor in this
/// crate calls it, so user code rarely needs to.
pub fn init() -> Result<()> {
    INIT.get_or_init(|| {
        let d = Dispatcher::global();
        kiln_cpu::register(d)?;
        kiln_wgpu::register(d)?;
        transfer::register(d)?;
        kiln_trace::register(d)?;
        Ok(())
    })
    .clone()
}

/// A tensor of `shape` from `data` (row-major); `data.len()` must be the
/// number of elements.
pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Tensor> {
    init()?;
    factory::from_vec(data, shape, device)
}

/// Like [`from_vec`], from a slice.
pub fn from_slice<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Tensor> {
    init()?;
    factory::from_slice(data, shape, device)
}

/// A 1-D CPU tensor of `data`.
pub fn tensor<T: Element>(data: &[T]) -> Result<Tensor> {
    from_slice(data, &[data.len()], &Device::Cpu)
}

/// A zero-dim CPU tensor holding `v`.
pub fn scalar<T: Element>(v: T) -> Result<Tensor> {
    from_slice(&[v], &[], &Device::Cpu)
}

/// Storage of `shape` with unspecified contents.
pub fn empty(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::empty(shape, dtype, device)
}

/// Zeros.
pub fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::zeros(shape, dtype, device)
}

/// Ones.
pub fn ones(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::ones(shape, dtype, device)
}

/// Every element `value`.
pub fn full(
    shape: &[usize],
    value: impl Into<Scalar>,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    init()?;
    factory::full(shape, value, dtype, device)
}

/// `start, start + step, ...` below `end`.
pub fn arange(
    start: impl Into<Scalar>,
    end: impl Into<Scalar>,
    step: impl Into<Scalar>,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    init()?;
    factory::arange(start, end, step, dtype, device)
}

/// `n x m` identity.
pub fn eye(n: usize, m: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::eye(n, m, dtype, device)
}

/// Uniform `[0, 1)` samples from the Philox 4x32-10 stream of `seed`
/// (the same numbers on every backend).
pub fn rand(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::rand(shape, seed, dtype, device)
}

/// Standard normal samples from the Philox stream of `seed`.
pub fn randn(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
    init()?;
    factory::randn(shape, seed, dtype, device)
}

/// `use kiln::prelude::*;` brings the types and the constructor traits
/// (`Tensor::from_vec`, `Tensor::zeros`, ...) into scope.
pub mod prelude {
    pub use crate::{DType, Device, DeviceExt, Scalar, Tensor, TensorExt};
}

/// GPU devices as associated functions of `Device`: `Device::wgpu()`.
pub trait DeviceExt: Sized {
    /// The default wgpu adapter (honouring `WGPU_BACKEND`,
    /// `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`), opened once per process;
    /// `Err(NoAdapter)` with wgpu's reason when there is none.
    fn wgpu() -> Result<Self>;
    /// The wgpu adapter `options` picks (opened once, then found again).
    fn wgpu_with(options: &WgpuOptions) -> Result<Self>;
}

impl DeviceExt for Device {
    fn wgpu() -> Result<Self> {
        init()?;
        kiln_wgpu::default_device()
    }
    fn wgpu_with(options: &WgpuOptions) -> Result<Self> {
        init()?;
        kiln_wgpu::open(options)
    }
}

/// Constructors as associated functions of `Tensor` (`Tensor::from_vec`,
/// `Tensor::zeros`, ...): the same as this crate's free functions.
pub trait TensorExt: Sized {
    /// See [`from_vec`].
    fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Self>;
    /// See [`from_slice`].
    fn from_slice<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Self>;
    /// See [`empty`].
    fn empty(shape: &[usize], dtype: DType, device: &Device) -> Result<Self>;
    /// See [`zeros`].
    fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Self>;
    /// See [`ones`].
    fn ones(shape: &[usize], dtype: DType, device: &Device) -> Result<Self>;
    /// See [`full`].
    fn full(
        shape: &[usize],
        value: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self>;
    /// See [`arange`].
    fn arange(
        start: impl Into<Scalar>,
        end: impl Into<Scalar>,
        step: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self>;
    /// See [`eye`].
    fn eye(n: usize, m: usize, dtype: DType, device: &Device) -> Result<Self>;
    /// See [`rand`].
    fn rand(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Self>;
    /// See [`randn`].
    fn randn(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Self>;
}

impl TensorExt for Tensor {
    fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Self> {
        from_vec(data, shape, device)
    }
    fn from_slice<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Self> {
        from_slice(data, shape, device)
    }
    fn empty(shape: &[usize], dtype: DType, device: &Device) -> Result<Self> {
        empty(shape, dtype, device)
    }
    fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Self> {
        zeros(shape, dtype, device)
    }
    fn ones(shape: &[usize], dtype: DType, device: &Device) -> Result<Self> {
        ones(shape, dtype, device)
    }
    fn full(
        shape: &[usize],
        value: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        full(shape, value, dtype, device)
    }
    fn arange(
        start: impl Into<Scalar>,
        end: impl Into<Scalar>,
        step: impl Into<Scalar>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        arange(start, end, step, dtype, device)
    }
    fn eye(n: usize, m: usize, dtype: DType, device: &Device) -> Result<Self> {
        eye(n, m, dtype, device)
    }
    fn rand(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        rand(shape, seed, dtype, device)
    }
    fn randn(shape: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        randn(shape, seed, dtype, device)
    }
}
