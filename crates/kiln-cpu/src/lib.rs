//! kiln-cpu: the CPU backend. Typed storage with a caching allocator,
//! strided kernels written once over dtypes, rayon above a grain size, and
//! a GEMM crate under `matmul` and `conv2d`.

pub mod elem;
pub mod iter;
pub mod kernels;
pub mod storage;
pub mod tensor_io;

pub use storage::{CpuData, CpuStorage};

/// Registers the CPU backend's kernels in `d` (the `Cpu` key).
pub fn register(d: &kiln_core::Dispatcher) -> kiln_core::Result<()> {
    kernels::register(d)
}
