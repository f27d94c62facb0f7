//! The size-bucketed buffer pool and the process-wide counters.
//!
//! Note [Buffer lifetime]: a [`GpuBuffer`] is shared through `Arc`: by the
//! tensors' storage and by the pending batch that encoded a command using it
//! (see `context.rs`). When the last `Arc` drops, the `wgpu::Buffer` goes
//! back to its bucket's free list instead of being destroyed. Because the
//! pending batch holds its buffers until it is submitted, a pooled buffer is
//! never handed out while an unsubmitted command still refers to it, and
//! everything submitted later is ordered after that command by the queue.

use kiln_core::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of GPU work and memory, summed over every context of the
/// process. Tests and benches read them through [`crate::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Command buffers submitted to a queue.
    pub submissions: u64,
    /// Compute dispatches encoded.
    pub dispatches: u64,
    /// Compute pipelines created (each (kernel, dtype, specialisation) once).
    pub pipelines_compiled: u64,
    /// Buffers created with wgpu.
    pub buffers_allocated: u64,
    /// Buffer requests served from the pool.
    pub buffers_reused: u64,
    /// Bytes of GPU buffers in use now (handed out, not back in the pool).
    pub live_bytes: u64,
    /// Bytes written from the host.
    pub bytes_up: u64,
    /// Bytes read back to the host.
    pub bytes_down: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub submissions: AtomicU64,
    pub dispatches: AtomicU64,
    pub pipelines_compiled: AtomicU64,
    pub buffers_allocated: AtomicU64,
    pub buffers_reused: AtomicU64,
    pub live_bytes: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    submissions: AtomicU64::new(0),
    dispatches: AtomicU64::new(0),
    pipelines_compiled: AtomicU64::new(0),
    buffers_allocated: AtomicU64::new(0),
    buffers_reused: AtomicU64::new(0),
    live_bytes: AtomicU64::new(0),
    bytes_up: AtomicU64::new(0),
    bytes_down: AtomicU64::new(0),
};

impl Counters {
    pub fn snapshot(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            submissions: l(&self.submissions),
            dispatches: l(&self.dispatches),
            pipelines_compiled: l(&self.pipelines_compiled),
            buffers_allocated: l(&self.buffers_allocated),
            buffers_reused: l(&self.buffers_reused),
            live_bytes: l(&self.live_bytes),
            bytes_up: l(&self.bytes_up),
            bytes_down: l(&self.bytes_down),
        }
    }
}

pub(crate) fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// What a pooled buffer is for; each kind has its own free lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BufferKind {
    /// Tensor data and per-dispatch info: `STORAGE | COPY_SRC | COPY_DST`.
    Storage,
    /// Read-back: `MAP_READ | COPY_DST`.
    Staging,
}

impl BufferKind {
    fn usage(self) -> wgpu::BufferUsages {
        use wgpu::BufferUsages as U;
        match self {
            BufferKind::Storage => U::STORAGE | U::COPY_SRC | U::COPY_DST,
            BufferKind::Staging => U::MAP_READ | U::COPY_DST,
        }
    }
}

/// Free buffers kept for reuse are capped at this many bytes; beyond it a
/// released buffer is destroyed.
const POOL_MAX_FREE_BYTES: u64 = 512 << 20;
/// The smallest bucket.
const MIN_BUCKET: u64 = 256;

/// Rounds a byte size up to its bucket: at most 1/8 waste, a multiple of 16.
pub(crate) fn bucket(bytes: u64) -> u64 {
    if bytes <= MIN_BUCKET {
        return MIN_BUCKET;
    }
    let shift = (64 - bytes.leading_zeros()).saturating_sub(4).max(4);
    bytes.div_ceil(1 << shift) << shift
}

#[derive(Default)]
struct FreeLists {
    lists: HashMap<(BufferKind, u64), Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// One context's pool.
pub(crate) struct Pool {
    device: wgpu::Device,
    free: Mutex<FreeLists>,
}

/// A pooled buffer; returns to its pool when dropped (Note [Buffer lifetime]).
pub(crate) struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    kind: BufferKind,
    size: u64,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuBuffer({:?}, {} bytes)", self.kind, self.size)
    }
}

impl GpuBuffer {
    /// The wgpu buffer.
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer
            .as_ref()
            .expect("a GpuBuffer holds its buffer until dropped")
    }
    /// Its size in bytes (the bucket, at least what was asked for).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Destroys the buffer instead of pooling it (one left in a bad state).
    pub fn forget_buffer(mut self) {
        self.buffer = None;
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        COUNTERS.live_bytes.fetch_sub(self.size, Ordering::Relaxed);
        if let Some(b) = self.buffer.take() {
            self.pool.give_back(self.kind, self.size, b);
        }
    }
}

impl Pool {
    pub fn new(device: wgpu::Device) -> Arc<Pool> {
        Arc::new(Pool {
            device,
            free: Mutex::new(FreeLists::default()),
        })
    }

    /// A buffer of at least `bytes` bytes, from the free list of its bucket
    /// or newly created. Its contents are unspecified.
    pub fn take(self: &Arc<Self>, kind: BufferKind, bytes: u64) -> Result<Arc<GpuBuffer>> {
        let size = bucket(bytes);
        let reused = {
            let mut f = self.free.lock().map_err(|_| poisoned())?;
            let b = f.lists.get_mut(&(kind, size)).and_then(Vec::pop);
            if b.is_some() {
                f.bytes -= size;
            }
            b
        };
        let buffer = match reused {
            Some(b) => {
                count(&COUNTERS.buffers_reused, 1);
                b
            }
            None => {
                let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln"),
                    size,
                    usage: kind.usage(),
                    mapped_at_creation: false,
                });
                if let Some(e) = pollster::block_on(scope.pop()) {
                    return Err(Error::Gpu {
                        op: "alloc".into(),
                        msg: format!(
                            "creating a buffer of {size} bytes: {}",
                            crate::context::error_text(&e)
                        ),
                    });
                }
                count(&COUNTERS.buffers_allocated, 1);
                b
            }
        };
        count(&COUNTERS.live_bytes, size);
        Ok(Arc::new(GpuBuffer {
            buffer: Some(buffer),
            kind,
            size,
            pool: self.clone(),
        }))
    }

    fn give_back(&self, kind: BufferKind, size: u64, b: wgpu::Buffer) {
        let Ok(mut f) = self.free.lock() else { return };
        if f.bytes + size > POOL_MAX_FREE_BYTES {
            return; // dropped: wgpu destroys it once no command uses it
        }
        f.bytes += size;
        f.lists.entry((kind, size)).or_default().push(b);
    }

    /// Destroys every free buffer.
    pub fn clear(&self) {
        if let Ok(mut f) = self.free.lock() {
            f.lists.clear();
            f.bytes = 0;
        }
    }
}

fn poisoned() -> Error {
    Error::Gpu {
        op: "pool".into(),
        msg: "the buffer pool's lock was poisoned by a panic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_round_up_by_at_most_an_eighth() {
        assert_eq!(bucket(0), 256);
        assert_eq!(bucket(256), 256);
        for b in [300u64, 1000, 4097, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let k = bucket(b);
            assert!(
                k >= b && k.is_multiple_of(16) && (k - b) * 8 <= b,
                "{b} -> {k}"
            );
            assert_eq!(bucket(k), k, "a bucket size is its own bucket");
        }
    }
}
