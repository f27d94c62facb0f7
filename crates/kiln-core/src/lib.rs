//! kiln-core: the parts of kiln that know no backend.
//!
//! - [`DispatchKey`] / [`DispatchKeySet`]: which layer handles a call;
//! - thread-local include/exclude sets, their RAII guards, and the tracer
//!   mode switches of PyTorch's `TracerMode.h` ([`is_dispatch_enabled`],
//!   [`set_dispatch_enabled`], [`NoTracerDispatchMode`]);
//! - [`Dispatcher`]: the op table, kernels per key, fallbacks, fallthroughs,
//!   custom ops through [`Library`];
//! - [`Tensor`]: the handle (storage, [`Layout`], [`DType`], [`Device`]) and
//!   its op methods, which call the dispatcher;
//! - [`meta`] and [`conv`]: the argument checks, output shapes and result
//!   dtypes that every backend shares.

pub mod api;
pub mod conv;
pub mod device;
pub mod dispatcher;
mod display;
pub mod dtype;
pub mod error;
pub mod key;
pub mod layout;
pub mod meta;
pub mod ops;
pub mod schema;
pub mod tensor;
pub mod tls;
pub mod value;
mod views;

pub use api::{call_tensor, factory};
pub use device::Device;
pub use dispatcher::{Dispatcher, KernelFn, Library};
pub use dtype::{promote_types, unary_result_type, DType, ResultType, Scalar};
pub use error::{Error, Result};
pub use key::{DispatchKey, DispatchKeySet, NUM_DISPATCH_KEYS};
pub use layout::Layout;
pub use ops::{op, OpId, OpKind, BUILTIN_OPS};
pub use schema::{ArgType, Argument, BaseType, OpSchema};
pub use tensor::{for_each_index, Element, Storage, Tensor, TensorId};
pub use tls::{
    is_dispatch_enabled, set_dispatch_enabled, tls_is_dispatch_key_excluded,
    tls_is_dispatch_key_included, tls_local_dispatch_key_set, tls_set_dispatch_key_excluded,
    tls_set_dispatch_key_included, ExcludeDispatchKeyGuard, IncludeDispatchKeyGuard,
    LocalDispatchKeySet, NoTracerDispatchMode,
};
pub use value::{IValue, Stack, StackExt, StackResult};
