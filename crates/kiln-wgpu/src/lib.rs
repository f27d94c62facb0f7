//! kiln-wgpu: the wgpu compute backend.
//!
//! - [`adapter`]: choosing and opening adapters ([`open`], [`WgpuOptions`],
//!   [`default_device`]) and the registry that `Device::Wgpu(n)` indexes;
//! - [`context`]: one [`WgpuContext`] per adapter (device, queue, pipeline
//!   and layout caches, buffer pool, the pending batch ops encode into),
//!   shared by all threads;
//! - [`storage`]: [`WgpuStorage`], a tensor's bytes in a pooled buffer;
//! - [`shader`]: WGSL modules assembled from the repository's `shaders/`;
//! - [`kernels`]: the ops, registered under `DispatchKey::Wgpu`.
//!
//! Ops return as soon as their dispatches are encoded; a read-back or
//! [`synchronize`] submits (see Note [Batching] in `context.rs`).

pub mod adapter;
pub mod context;
pub mod kernels;
mod pool;
pub mod shader;
pub mod storage;

pub use adapter::{
    adapters, context, context_of, default_device, open, AdapterSummary, WgpuOptions,
};
pub use context::{Access, Arg, CheckedLimits, Kernel, WgpuContext};
pub use pool::Stats;
pub use storage::WgpuStorage;
pub use wgpu;

use kiln_core::{Device, Dispatcher, Result};

/// Registers the wgpu kernels in `d` (they need no adapter until called).
pub fn register(d: &Dispatcher) -> Result<()> {
    kernels::register(d)
}

/// Process-wide counters: submissions, dispatches, pipelines compiled,
/// buffers allocated and reused, live bytes, bytes up and down.
pub fn stats() -> Stats {
    pool::COUNTERS.snapshot()
}

/// Submits `device`'s pending work and waits for the GPU to finish it.
pub fn synchronize(device: Device) -> Result<()> {
    adapter::context_of("synchronize", device)?.synchronize()
}

/// Support for kiln's own tests.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// Lowers (or restores, with the device's values) the limits `device`'s
    /// ops check before encoding, to test the limit paths with small tensors.
    pub fn set_limits(device: Device, limits: Option<CheckedLimits>) -> Result<()> {
        let ctx = adapter::context_of("set_limits", device)?;
        let l = limits.unwrap_or(CheckedLimits {
            max_storage_buffer_binding_size: ctx.limits().max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: ctx.limits().max_compute_workgroups_per_dimension,
        });
        ctx.set_checked_limits(l);
        Ok(())
    }

    /// Makes `device`'s kernels take the shapes they take on a CPU adapter
    /// (`Some(true)`) or on a GPU (`Some(false)`), or the adapter's own
    /// (`None`), so that both kinds run in tests on either. Results are the
    /// same either way; only speed differs.
    pub fn set_tuning(device: Device, cpu: Option<bool>) -> Result<()> {
        adapter::context_of("set_tuning", device)?.set_tuning(cpu);
        Ok(())
    }
}
