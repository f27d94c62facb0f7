//! The wgpu kernels, one module per op family, registered under
//! `DispatchKey::Wgpu`.
//!
//! A kernel reads its tensors' [`WgpuStorage`](crate::storage::WgpuStorage),
//! allocates its output with `WgpuStorage::tensor`, gets a cached pipeline
//! from `WgpuContext::kernel` (WGSL assembled from `shaders/` by
//! [`crate::shader`]), and records one or more dispatches with
//! `WgpuContext::dispatch`; it returns as soon as they are encoded.

pub(crate) mod binary;
pub(crate) mod cast;
pub(crate) mod elementwise;
pub(crate) mod factory;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod random;
pub(crate) mod unary;

use kiln_core::{Dispatcher, Result};

/// Registers every wgpu kernel in `d`.
pub fn register(d: &Dispatcher) -> Result<()> {
    binary::register(d)?;
    unary::register(d)?;
    cast::register(d)?;
    factory::register(d)?;
    matmul::register(d)?;
    index::register(d)?;
    random::register(d)?;
    Ok(())
}
