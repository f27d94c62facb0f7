//! `WgpuStorage`: a tensor's elements in a pooled GPU buffer.
//!
//! The buffer holds the dtype's host bytes unchanged (Note [Element
//! storage] in `shaders/common.wgsl`): f32/i32 4 bytes, f16/bf16 2 bytes
//! (two per `u32` word), bool one byte 0/1 (four per word). So reads and
//! writes are plain byte copies, with the buffer padded to whole words.

use crate::context::{context_of, Arg, WgpuContext};
use crate::pool::GpuBuffer;
use kiln_core::{DType, Device, Error, Layout, Result, Storage, Tensor};
use std::any::Any;
use std::sync::Arc;

/// A wgpu tensor's storage.
pub struct WgpuStorage {
    ctx: Arc<WgpuContext>,
    buffer: Arc<GpuBuffer>,
    dtype: DType,
    len: usize,
}

impl std::fmt::Debug for WgpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WgpuStorage({} x {}, {:?})",
            self.len, self.dtype, self.buffer
        )
    }
}

impl WgpuStorage {
    /// Room for `len` elements of `dtype` (contents unspecified);
    /// `Err(GpuLimit)` when a kernel could not bind that many bytes.
    pub fn new(op: &str, ctx: &Arc<WgpuContext>, dtype: DType, len: usize) -> Result<WgpuStorage> {
        let bytes = (len as u64)
            .checked_mul(dtype.size_in_bytes() as u64)
            .ok_or_else(|| {
                Error::invalid(
                    op,
                    format!("{len} elements of {dtype} overflow a byte count"),
                )
            })?;
        Ok(WgpuStorage {
            buffer: ctx.alloc(op, bytes)?,
            ctx: ctx.clone(),
            dtype,
            len,
        })
    }

    /// A contiguous tensor of `shape` over new storage.
    pub fn tensor(
        op: &str,
        ctx: &Arc<WgpuContext>,
        dtype: DType,
        shape: &[usize],
    ) -> Result<Tensor> {
        let s = WgpuStorage::new(op, ctx, dtype, shape.iter().product())?;
        Tensor::from_storage(Arc::new(s), Layout::contiguous(shape))
    }

    /// The context it lives on.
    pub fn context(&self) -> &Arc<WgpuContext> {
        &self.ctx
    }

    /// The whole storage as a dispatch argument.
    pub fn arg(&self) -> Arg<'_> {
        Arg {
            buffer: &self.buffer,
            bytes: self.len as u64 * self.dtype.size_in_bytes() as u64,
        }
    }

    /// The storage of a wgpu tensor; `Err` for a tensor of another backend.
    pub fn of<'a>(op: &str, t: &'a Tensor) -> Result<&'a WgpuStorage> {
        t.storage()
            .as_any()
            .downcast_ref::<WgpuStorage>()
            .ok_or_else(|| {
                Error::invalid(
                    op,
                    format!("expected a wgpu tensor, got one on {}", t.device()),
                )
            })
    }
}

impl Storage for WgpuStorage {
    fn device(&self) -> Device {
        self.ctx.kiln_device()
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn len(&self) -> usize {
        self.len
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn read_bytes(&self, start: usize, len: usize) -> Result<Vec<u8>> {
        if start.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Error::invalid(
                "read_bytes",
                format!(
                    "elements {start}..{} are outside a storage of {}",
                    start.saturating_add(len),
                    self.len
                ),
            ));
        }
        let es = self.dtype.size_in_bytes() as u64;
        self.ctx
            .read(&self.buffer, start as u64 * es, len as u64 * es)
    }
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let want = self.len * self.dtype.size_in_bytes();
        if bytes.len() != want {
            return Err(Error::invalid(
                "write_bytes",
                format!(
                    "{} bytes for {} elements of {} ({want} bytes)",
                    bytes.len(),
                    self.len,
                    self.dtype
                ),
            ));
        }
        self.ctx.write(&self.buffer, bytes)
    }
}

/// The context of a wgpu tensor.
pub fn context_of_tensor(op: &str, t: &Tensor) -> Result<Arc<WgpuContext>> {
    context_of(op, t.device())
}
