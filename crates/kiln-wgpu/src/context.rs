//! One context per adapter: the device and queue, the pipeline and
//! bind-group-layout caches, the buffer pool, and the pending batch that ops
//! encode into. Contexts are shared by every thread; `adapter.rs` opens them
//! and keeps them in the registry that `Device::Wgpu(n)` indexes.
//!
//! Note [Batching]: an op records its dispatch into the context's pending
//! command encoder, inside one compute pass that stays open across ops, and
//! returns at once. The batch is submitted when the host needs results (a
//! read-back, `synchronize()`, or a write into a buffer the batch uses).
//! The per-dispatch info words go to a host-side arena while encoding and
//! reach the GPU with one `write_buffer` per arena chunk at submit time,
//! which the queue orders before the batch's commands.
//!
//! Note [Errors]: wgpu reports validation errors asynchronously through
//! error scopes, which are per thread. Each step that can fail (creating a
//! pipeline, a bind group, a buffer; finishing and submitting a batch) runs
//! inside a scope, and what the scope caught becomes `Err(Error::Gpu)`.
//! Anything that still escapes lands in the uncaptured-error handler, which
//! keeps the message for the next submit to report instead of letting wgpu
//! abort the process. Limits are checked before encoding, so these paths
//! are a last resort.

use crate::pool::{count, BufferKind, GpuBuffer, Pool, COUNTERS};
use kiln_core::{Device, Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

/// How a kernel binds a buffer (bindings 1, 2, ...; binding 0 is always
/// the read-only info buffer of Note [Info layout] in `common.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// A compiled compute pipeline and its bind group layout.
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: Arc<wgpu::BindGroupLayout>,
    access: Vec<Access>,
}

/// A buffer bound to a dispatch: `bytes` from its start.
#[derive(Clone, Copy)]
pub struct Arg<'a> {
    pub(crate) buffer: &'a Arc<GpuBuffer>,
    pub(crate) bytes: u64,
}

/// The limits kiln checks before encoding (the device's, unless a test
/// lowered them with [`crate::testing::set_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedLimits {
    /// `max_storage_buffer_binding_size`: the largest tensor, in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// `max_compute_workgroups_per_dimension`.
    pub max_compute_workgroups_per_dimension: u32,
}

struct InfoChunk {
    buffer: Arc<GpuBuffer>,
    words: Vec<u32>,
}

/// The batch being encoded (Note [Batching]).
#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    /// Every buffer a recorded command uses (Note [Buffer lifetime]).
    keep: Vec<Arc<GpuBuffer>>,
    info: Vec<InfoChunk>,
}

const INFO_CHUNK_BYTES: u64 = 64 << 10;

impl Pending {
    fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.pass = None; // ends the open pass, if any
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln"),
            })
        })
    }

    fn pass(&mut self, device: &wgpu::Device) -> &mut wgpu::ComputePass<'static> {
        let pass = match self.pass.take() {
            Some(pass) => pass,
            None => self
                .encoder(device)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kiln"),
                    timestamp_writes: None,
                })
                .forget_lifetime(),
        };
        self.pass.insert(pass)
    }

    /// Appends one dispatch's info words; returns the chunk and byte offset.
    fn push_info(
        &mut self,
        pool: &Arc<Pool>,
        align: u64,
        words: &[u32],
    ) -> Result<(Arc<GpuBuffer>, u64)> {
        let align_words = (align / 4).max(1) as usize;
        if let Some(c) = self.info.last_mut() {
            let off = c.words.len().div_ceil(align_words) * align_words;
            if ((off + words.len()) * 4) as u64 <= c.buffer.size() {
                c.words.resize(off, 0);
                c.words.extend_from_slice(words);
                return Ok((c.buffer.clone(), off as u64 * 4));
            }
        }
        let buffer = pool.take(
            BufferKind::Storage,
            INFO_CHUNK_BYTES.max(words.len() as u64 * 4),
        )?;
        self.info.push(InfoChunk {
            buffer: buffer.clone(),
            words: words.to_vec(),
        });
        Ok((buffer, 0))
    }
}

/// A bind group layout and the pipeline layout over it.
type Layouts = (Arc<wgpu::BindGroupLayout>, Arc<wgpu::PipelineLayout>);

/// One adapter's device, queue, caches, pool and pending batch.
pub struct WgpuContext {
    index: u32,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    native_f16: bool,
    max_binding: AtomicU64,
    max_groups: AtomicU32,
    /// 0: tune kernels for the adapter's type; 1: as for a CPU adapter;
    /// 2: as for a GPU (`testing::set_tuning`).
    tuning: AtomicU8,
    pool: Arc<Pool>,
    kernels: Mutex<HashMap<String, Arc<Kernel>>>,
    layouts: Mutex<HashMap<Vec<Access>, Layouts>>,
    pending: Mutex<Pending>,
    uncaptured: Arc<Mutex<Option<String>>>,
}

/// The useful text of a wgpu error (its description, without the banner).
pub(crate) fn error_text(e: &wgpu::Error) -> String {
    let text = match e {
        wgpu::Error::Validation { description, .. } => description.as_str(),
        wgpu::Error::Internal { description, .. } => description.as_str(),
        wgpu::Error::OutOfMemory { source } => return format!("out of memory: {source}"),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            !l.trim().is_empty()
                && !matches!(
                    l.trim(),
                    "Validation Error" | "Internal Error" | "Caused by:"
                )
        })
        .collect();
    lines.join("\n")
}

fn gpu_err(op: &str, msg: impl Into<String>) -> Error {
    Error::Gpu {
        op: op.to_string(),
        msg: msg.into(),
    }
}

fn scope_result(op: &str, e: Option<wgpu::Error>) -> Result<()> {
    match e {
        None => Ok(()),
        Some(e) => Err(gpu_err(op, error_text(&e))),
    }
}

fn poisoned(what: &str) -> Error {
    gpu_err(what, "a lock was poisoned by a panic in another thread")
}

impl WgpuContext {
    /// A context over an opened device; it becomes `Device::Wgpu(index)`.
    /// Installs the uncaptured-error handler (Note [Errors]).
    pub(crate) fn new(
        index: u32,
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        native_f16: bool,
    ) -> WgpuContext {
        let limits = device.limits();
        let uncaptured = Arc::new(Mutex::new(None));
        let slot = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut s) = slot.lock() {
                s.get_or_insert_with(|| error_text(&e));
            }
        }));
        WgpuContext {
            index,
            pool: Pool::new(device.clone()),
            max_binding: AtomicU64::new(limits.max_storage_buffer_binding_size),
            max_groups: AtomicU32::new(limits.max_compute_workgroups_per_dimension),
            tuning: AtomicU8::new(0),
            device,
            queue,
            info,
            limits,
            native_f16,
            kernels: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending::default()),
            uncaptured,
        }
    }

    /// Its index: tensors on it are on `Device::Wgpu(index)`.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// The kiln device.
    pub fn kiln_device(&self) -> Device {
        Device::Wgpu(self.index)
    }
    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }
    /// The queue (work submitted here bypasses kiln's pending batch).
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }
    /// The adapter's name, backend and type.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }
    /// The device's limits (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }
    /// Whether f16 tensors are WGSL `f16` (else packed two per `u32`).
    pub fn native_f16(&self) -> bool {
        self.native_f16
    }
    /// The limits ops check against before encoding.
    pub fn checked_limits(&self) -> CheckedLimits {
        CheckedLimits {
            max_storage_buffer_binding_size: self.max_binding.load(Ordering::Relaxed),
            max_compute_workgroups_per_dimension: self.max_groups.load(Ordering::Relaxed),
        }
    }
    pub(crate) fn set_checked_limits(&self, l: CheckedLimits) {
        self.max_binding
            .store(l.max_storage_buffer_binding_size, Ordering::Relaxed);
        self.max_groups
            .store(l.max_compute_workgroups_per_dimension, Ordering::Relaxed);
    }

    /// Whether kernels take their shapes for a CPU adapter (lavapipe,
    /// SwiftShader), which runs a workgroup on one thread with the
    /// invocations as SIMD lanes, rather than for a GPU. The adapter's type
    /// decides, unless a test chose (`testing::set_tuning`).
    pub fn tuned_for_cpu(&self) -> bool {
        match self.tuning.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => self.info.device_type == wgpu::DeviceType::Cpu,
        }
    }
    pub(crate) fn set_tuning(&self, cpu: Option<bool>) {
        let v = match cpu {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        };
        self.tuning.store(v, Ordering::Relaxed);
    }

    fn lock_pending(&self) -> Result<MutexGuard<'_, Pending>> {
        self.pending.lock().map_err(|_| poisoned("pending batch"))
    }

    /// A buffer for `bytes` bytes of tensor data, refused with `GpuLimit`
    /// when a kernel could not bind it.
    pub(crate) fn alloc(&self, op: &str, bytes: u64) -> Result<Arc<GpuBuffer>> {
        let max = self
            .max_binding
            .load(Ordering::Relaxed)
            .min(self.limits.max_buffer_size);
        if bytes > max {
            return Err(Error::GpuLimit {
                op: op.to_string(),
                limit: "max_storage_buffer_binding_size".into(),
                value: bytes,
                max,
            });
        }
        self.pool.take(BufferKind::Storage, bytes)
    }

    /// The (x, y) workgroup grid for `groups` workgroups: x up to
    /// `max_compute_workgroups_per_dimension`, the rest spread over y.
    /// Kernels recover the linear index as `wid.y * nwg.x + wid.x`.
    pub fn grid(&self, op: &str, groups: u64) -> Result<(u32, u32)> {
        let max = self.max_groups.load(Ordering::Relaxed).max(1) as u64;
        if groups <= max {
            return Ok((groups as u32, 1));
        }
        let y = groups.div_ceil(max);
        if y > max {
            return Err(Error::GpuLimit {
                op: op.to_string(),
                limit: "max_compute_workgroups_per_dimension (squared, over a 2-D grid)".into(),
                value: groups,
                max: max * max,
            });
        }
        Ok((groups.div_ceil(y) as u32, y as u32))
    }

    fn layout_for(&self, access: &[Access]) -> Result<Layouts> {
        let mut cache = self.layouts.lock().map_err(|_| poisoned("layout cache"))?;
        if let Some(l) = cache.get(access) {
            return Ok(l.clone());
        }
        let entry = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![entry(0, true)];
        entries.extend(
            access
                .iter()
                .enumerate()
                .map(|(i, a)| entry(i as u32 + 1, *a == Access::Read)),
        );
        let bgl = Arc::new(self.device.create_bind_group_layout(
            &wgpu::BindGroupLayoutDescriptor {
                label: Some("kiln"),
                entries: &entries,
            },
        ));
        let pl = Arc::new(
            self.device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("kiln"),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                }),
        );
        cache.insert(access.to_vec(), (bgl.clone(), pl.clone()));
        Ok((bgl, pl))
    }

    /// The kernel cached under `key`, compiled from `source()` (entry point
    /// `main`) on first use. `key` must name everything the source depends
    /// on: kernel, dtypes, specialisation.
    pub fn kernel(
        &self,
        key: &str,
        access: &[Access],
        source: impl FnOnce() -> String,
    ) -> Result<Arc<Kernel>> {
        let mut cache = self.kernels.lock().map_err(|_| poisoned("kernel cache"))?;
        if let Some(k) = cache.get(key) {
            return Ok(k.clone());
        }
        let (bgl, pl) = self.layout_for(access)?;
        let src = source();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(key),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(key),
                layout: Some(&pl),
                module: &module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[],
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        scope_result(
            &format!("compiling kernel {key}"),
            pollster::block_on(scope.pop()),
        )?;
        count(&COUNTERS.pipelines_compiled, 1);
        let k = Arc::new(Kernel {
            pipeline,
            layout: bgl,
            access: access.to_vec(),
        });
        cache.insert(key.to_string(), k.clone());
        Ok(k)
    }

    /// Records one dispatch of `kernel` over `groups` workgroups into the
    /// pending batch: `info` becomes binding 0, `args[i]` binding `i + 1`.
    /// Returns once encoded (Note [Batching]).
    pub fn dispatch(
        &self,
        op: &str,
        kernel: &Kernel,
        info: &[u32],
        args: &[Arg<'_>],
        groups: u64,
    ) -> Result<()> {
        if args.len() != kernel.access.len() {
            return Err(gpu_err(
                op,
                format!(
                    "kernel takes {} buffers, given {}",
                    kernel.access.len(),
                    args.len()
                ),
            ));
        }
        if args.len() as u32 + 1 > self.limits.max_storage_buffers_per_shader_stage {
            return Err(Error::GpuLimit {
                op: op.to_string(),
                limit: "max_storage_buffers_per_shader_stage".into(),
                value: args.len() as u64 + 1,
                max: self.limits.max_storage_buffers_per_shader_stage as u64,
            });
        }
        if groups == 0 {
            return Ok(());
        }
        let (x, y) = self.grid(op, groups)?;
        let mut p = self.lock_pending()?;
        let align = self.limits.min_storage_buffer_offset_alignment as u64;
        let (info_buf, info_off) = p.push_info(&self.pool, align, info)?;
        fn binding(i: u32, b: &GpuBuffer, offset: u64, bytes: u64) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding: i,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.raw(),
                    offset,
                    size: wgpu::BufferSize::new(bytes.max(4).next_multiple_of(4)),
                }),
            }
        }
        let mut entries = vec![binding(0, &info_buf, info_off, info.len() as u64 * 4)];
        entries.extend(
            args.iter()
                .enumerate()
                .map(|(i, a)| binding(i as u32 + 1, a.buffer, 0, a.bytes)),
        );
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &kernel.layout,
            entries: &entries,
        });
        scope_result(op, pollster::block_on(scope.pop()))?;
        let pass = p.pass(&self.device);
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
        p.keep.extend(args.iter().map(|a| a.buffer.clone()));
        count(&COUNTERS.dispatches, 1);
        Ok(())
    }

    /// Submits the pending batch (which must have an encoder).
    fn submit_locked(&self, p: &mut Pending, op: &str) -> Result<wgpu::SubmissionIndex> {
        p.pass = None; // a pass must end before its encoder finishes
        let encoder = match p.encoder.take() {
            Some(e) => e,
            None => self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln"),
                }),
        };
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        for c in &p.info {
            self.queue
                .write_buffer(c.buffer.raw(), 0, bytemuck::cast_slice(&c.words));
        }
        let index = self.queue.submit([encoder.finish()]);
        let caught = pollster::block_on(scope.pop());
        p.info.clear();
        p.keep.clear();
        count(&COUNTERS.submissions, 1);
        scope_result(op, caught)?;
        if let Some(msg) = self.uncaptured.lock().ok().and_then(|mut m| m.take()) {
            return Err(gpu_err(op, msg));
        }
        Ok(index)
    }

    /// Submits whatever is pending; returns its submission, if any.
    pub fn flush(&self, op: &str) -> Result<Option<wgpu::SubmissionIndex>> {
        let mut p = self.lock_pending()?;
        if p.encoder.is_none() {
            return Ok(None);
        }
        self.submit_locked(&mut p, op).map(Some)
    }

    /// Submits the pending batch and waits until the GPU has run it.
    pub fn synchronize(&self) -> Result<()> {
        let index = self.flush("synchronize")?;
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: index,
                timeout: None,
            })
            .map_err(|e| gpu_err("synchronize", e.to_string()))?;
        Ok(())
    }

    /// Copies bytes `start..start + len` of `src` to the host: submits the
    /// pending batch with a copy into a staging buffer, waits, maps.
    pub(crate) fn read(&self, src: &Arc<GpuBuffer>, start: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let (a, b) = (start & !3, (start + len).next_multiple_of(4));
        let size = b - a;
        let staging = self.pool.take(BufferKind::Staging, size)?;
        let index = {
            let mut p = self.lock_pending()?;
            p.encoder(&self.device)
                .copy_buffer_to_buffer(src.raw(), a, staging.raw(), 0, size);
            p.keep.push(src.clone());
            self.submit_locked(&mut p, "read")?
        };
        let (tx, rx) = mpsc::channel();
        let slice = staging.raw().slice(0..size);
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let waited = self
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| gpu_err("read", e.to_string()));
        let mapped = waited.and_then(|_| match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(gpu_err("read", format!("mapping the staging buffer: {e}"))),
            Err(_) => Err(gpu_err("read", "the mapping callback was dropped")),
        });
        if let Err(e) = mapped {
            discard(staging);
            return Err(e);
        }
        let out = match slice.get_mapped_range() {
            Ok(view) => {
                let off = (start - a) as usize;
                view[off..off + len as usize].to_vec()
            }
            Err(e) => {
                staging.raw().unmap();
                return Err(gpu_err("read", format!("reading the staging buffer: {e}")));
            }
        };
        staging.raw().unmap();
        count(&COUNTERS.bytes_down, len);
        Ok(out)
    }

    /// Overwrites `dst` from its start with `bytes` (in queue order: after
    /// everything submitted, and after the pending batch if it uses `dst`).
    pub(crate) fn write(&self, dst: &Arc<GpuBuffer>, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if Arc::strong_count(dst) > 1 {
            // the pending batch refers to dst: its commands must run first
            self.flush("write")?;
        }
        let padded;
        let data = if bytes.len().is_multiple_of(4) {
            bytes
        } else {
            padded = [bytes, &[0u8; 3][..4 - bytes.len() % 4]].concat();
            &padded[..]
        };
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue.write_buffer(dst.raw(), 0, data);
        scope_result("write", pollster::block_on(scope.pop()))?;
        count(&COUNTERS.bytes_up, bytes.len() as u64);
        Ok(())
    }

    /// Drops the pool's free buffers (after a synchronize, nothing is lost).
    pub fn release_free_buffers(&self) {
        self.pool.clear();
    }
}

/// A staging buffer whose mapping failed must not go back to the pool.
fn discard(b: Arc<GpuBuffer>) {
    if let Ok(b) = Arc::try_unwrap(b) {
        b.forget_buffer();
    }
}
