//! The wgpu kernels, one module per op family, registered under
//! `DispatchKey::Wgpu`.
//!
//! # Writing a kernel
//!
//! A kernel is a boxed `fn(OpId, DispatchKeySet, &mut Stack) -> Result<()>`
//! like the CPU's: it reads its arguments with `StackExt`, checks them
//! (shapes, dtypes, limits: every bad input is an `Err`, never a wgpu
//! validation error), and leaves its result with `set_result`. An op with
//! a shared check in `kiln_core::meta` or `kiln_core::conv` calls it first
//! and takes its output shape and dtype from it, so that both backends
//! refuse the same calls with the same errors. On the GPU:
//!
//! 1. **Buffers.** `WgpuStorage::of(op, &t)?` is a tensor's storage;
//!    `.context()` its [`WgpuContext`](crate::WgpuContext) (or
//!    `context_of(op, device)` for factories). The output comes from
//!    `WgpuStorage::tensor(op, &ctx, dtype, &shape)?` (pooled; refused with
//!    `GpuLimit` over `max_storage_buffer_binding_size`). `storage.arg()` is
//!    the whole buffer as a dispatch argument. Buffers hold the host bytes
//!    of the dtype (Note [Element storage] in `shaders/common.wgsl`).
//! 2. **Views in place.** A kernel never makes an input contiguous: it
//!    passes each input's offset and strides (broadcast dims stride 0) in
//!    the info words (Note [Info layout] in `common.wgsl`) and indexes with
//!    `strided_index(k, i)` / `flat_index(k, i)` (see
//!    `elementwise::collapse` to merge dims first). Elements load through
//!    [`Repr::load`](crate::shader::Repr::load) (packed f16/bf16/bool
//!    included) and store through [`Repr::store`](crate::shader::Repr::store)
//!    a whole `u32` word (or native `f16`) per invocation.
//! 3. **WGSL.** The kernel's file lives in `shaders/` (one per op family)
//!    and is included in [`crate::shader`]; `shader::module(native_f16,
//!    &[parts])` prepends `enable f16;` and `common.wgsl`. Entry point
//!    `main`; the linear workgroup index is `wid.y * nwg.x + wid.x`
//!    (`invocation_index` for 256-wide groups), because large grids are
//!    spread over y.
//! 4. **Pipeline.** `ctx.kernel(key, &[Access::ReadWrite, Access::Read, ..],
//!    || source)` compiles once per context and caches by `key`, which must
//!    name everything the source depends on (kernel, dtypes,
//!    specialisation). Binding 0 is always the info buffer; `access[i]` is
//!    binding `i + 1`.
//! 5. **Dispatch.** `ctx.dispatch(op, &kernel, &info, &[args], groups)`
//!    records into the pending batch and returns; `groups` workgroups are
//!    laid out on a 2-D grid within `max_compute_workgroups_per_dimension`.
//!    Several dispatches in a row are ordered (wgpu inserts the barriers).
//!    Nothing waits until a read-back or `synchronize()`.
//! 6. **Register** it in this module's `register` under `DispatchKey::Wgpu`.
//! 7. **Shapes per adapter kind.** A CPU adapter (lavapipe) runs a
//!    workgroup on one thread with the invocations as SIMD lanes: loads the
//!    whole workgroup shares are cheap, per-lane loads are gathers, and a
//!    barrier switches between groups of 8 lanes. Where that calls for
//!    other workgroup sizes or blocks than a GPU wants, pick them from
//!    `ctx.tuned_for_cpu()`, name them in the key, and add the kernel to
//!    `tests/gpu_tuning.rs`, which runs both choices on whatever adapter
//!    is present (Note [Matmul tiles], Note [Row workgroups], Note [Vector
//!    path]).
//!
//! `elementwise::Map` does all of this for ops that map inputs to an output
//! of the broadcast shape (with casts to the compute dtype inside the
//! kernel); `factory.rs` shows a kernel with its own info layout.

pub(crate) mod binary;
pub(crate) mod cast;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod factory;
pub(crate) mod index;
pub(crate) mod layer_norm;
pub(crate) mod matmul;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod unary;

use kiln_core::{Dispatcher, Result};

/// Registers every wgpu kernel in `d`.
pub fn register(d: &Dispatcher) -> Result<()> {
    binary::register(d)?;
    unary::register(d)?;
    cast::register(d)?;
    factory::register(d)?;
    reduce::register(d)?;
    softmax::register(d)?;
    layer_norm::register(d)?;
    matmul::register(d)?;
    index::register(d)?;
    random::register(d)?;
    conv::register(d)?;
    Ok(())
}
