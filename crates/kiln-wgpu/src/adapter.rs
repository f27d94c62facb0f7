//! Choosing and opening an adapter, and the process-wide registry of
//! contexts that `Device::Wgpu(n)` indexes.
//!
//! The adapter comes from [`WgpuOptions`] and the environment
//! (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`). No adapter, or a
//! name that matches none, is `Err(NoAdapter)` with wgpu's reason or the
//! list of adapters there are: nothing here panics. The device asks for the
//! adapter's own limits, and for `SHADER_F16` and `TIMESTAMP_QUERY` when the
//! adapter has them.

use crate::context::WgpuContext;
use kiln_core::{Device, Error, Result};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// How to pick an adapter. A field left `None` is taken from the
/// environment (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`),
/// else wgpu's default; a field set in code wins over the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgpuOptions {
    /// Backends to look at (`WGPU_BACKEND`, e.g. `vulkan`).
    pub backends: Option<wgpu::Backends>,
    /// A case-insensitive substring of the adapter's name
    /// (`WGPU_ADAPTER_NAME`); no match is `Err(NoAdapter)`.
    pub adapter_name: Option<String>,
    /// Power preference (`WGPU_POWER_PREF`: `low`, `high`, `none`).
    pub power_preference: Option<wgpu::PowerPreference>,
    /// Use `SHADER_F16` when the adapter has it (f16 tensors as WGSL `f16`);
    /// `false` keeps f16 packed two per `u32` as on devices without it.
    pub shader_f16: bool,
}

impl Default for WgpuOptions {
    fn default() -> Self {
        WgpuOptions {
            backends: None,
            adapter_name: None,
            power_preference: None,
            shader_f16: true,
        }
    }
}

static REGISTRY: RwLock<Vec<Arc<WgpuContext>>> = RwLock::new(Vec::new());
static OPENING: Mutex<()> = Mutex::new(());

/// The context of `Device::Wgpu(index)`.
pub fn context(index: u32) -> Result<Arc<WgpuContext>> {
    let r = REGISTRY.read().map_err(|_| poisoned())?;
    r.get(index as usize).cloned().ok_or_else(|| {
        Error::invalid(
            "wgpu",
            format!("no wgpu device {index} has been opened (open one with Device::wgpu())"),
        )
    })
}

/// The context of a wgpu `device`.
pub fn context_of(op: &str, device: Device) -> Result<Arc<WgpuContext>> {
    match device {
        Device::Wgpu(n) => context(n),
        d => Err(Error::invalid(
            op,
            format!("expected a wgpu device, got {d}"),
        )),
    }
}

fn backend_list(adapters: &[wgpu::Adapter]) -> String {
    let names: Vec<String> = adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{:?} {:?} ({:?})", i.name, i.backend, i.device_type)
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn choose_adapter(opts: &WgpuOptions) -> Result<wgpu::Adapter> {
    let backends = opts
        .backends
        .or_else(wgpu::Backends::from_env)
        .unwrap_or(wgpu::Backends::all());
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
    let instance = wgpu::Instance::new(desc);
    let name = opts
        .adapter_name
        .clone()
        .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
        .filter(|n| !n.is_empty());
    if let Some(name) = name {
        let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let want = name.to_lowercase();
        let pos = adapters
            .iter()
            .position(|a| a.get_info().name.to_lowercase().contains(&want));
        return match pos {
            Some(i) => Ok(adapters.swap_remove(i)),
            None => Err(Error::NoAdapter(format!(
                "no adapter's name contains {name:?} (WGPU_ADAPTER_NAME); backends {backends:?} have: {}",
                backend_list(&adapters)
            ))),
        };
    }
    let power_preference = opts
        .power_preference
        .or_else(wgpu::PowerPreference::from_env)
        .unwrap_or_default();
    pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    }))
    .map_err(|e| Error::NoAdapter(format!("{e} (backends {backends:?})")))
}

fn same_adapter(a: &wgpu::AdapterInfo, b: &wgpu::AdapterInfo) -> bool {
    a.name == b.name && a.backend == b.backend && a.vendor == b.vendor && a.device == b.device
}

/// Opens (or finds already open) the context for the adapter `opts` picks.
pub fn open(opts: &WgpuOptions) -> Result<Device> {
    let _one_at_a_time = OPENING.lock().map_err(|_| poisoned())?;
    let adapter = choose_adapter(opts)?;
    let info = adapter.get_info();
    let features = adapter.features();
    let native_f16 = opts.shader_f16 && features.contains(wgpu::Features::SHADER_F16);
    {
        let r = REGISTRY.read().map_err(|_| poisoned())?;
        if let Some(c) = r
            .iter()
            .find(|c| same_adapter(c.adapter_info(), &info) && c.native_f16() == native_f16)
        {
            return Ok(c.kiln_device());
        }
    }
    let mut required_features = features & wgpu::Features::TIMESTAMP_QUERY;
    if native_f16 {
        required_features |= wgpu::Features::SHADER_F16;
    }
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("kiln"),
        required_features,
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|e| {
        Error::NoAdapter(format!(
            "adapter {:?} ({:?}) was found but opening it failed: {e}",
            info.name, info.backend
        ))
    })?;
    let mut r = REGISTRY.write().map_err(|_| poisoned())?;
    let index = r.len() as u32;
    let ctx = Arc::new(WgpuContext::new(index, device, queue, info, native_f16));
    r.push(ctx);
    Ok(Device::Wgpu(index))
}

/// The first adapter by the usual preference (and the environment),
/// opened once per process.
pub fn default_device() -> Result<Device> {
    static DEFAULT: OnceLock<Result<Device>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| open(&WgpuOptions::default()))
        .clone()
}

fn poisoned() -> Error {
    Error::Gpu {
        op: "wgpu".into(),
        msg: "the device registry's lock was poisoned by a panic in another thread".into(),
    }
}

/// One adapter wgpu finds, as [`adapters`] reports it: what it is, the
/// features and limits kiln uses, and whether kiln would pick it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name (e.g. `llvmpipe (LLVM 19.1.7, 256 bits)`).
    pub name: String,
    /// The backend it was found on (Vulkan, Metal, Dx12, Gl).
    pub backend: wgpu::Backend,
    /// Discrete, integrated, virtual GPU, or CPU (a software rasteriser).
    pub device_type: wgpu::DeviceType,
    /// The driver's name (may be empty).
    pub driver: String,
    /// The driver's version text (may be empty).
    pub driver_info: String,
    /// `SHADER_F16`: f16 tensors computed as WGSL `f16`.
    pub shader_f16: bool,
    /// `TIMESTAMP_QUERY`.
    pub timestamp_query: bool,
    /// `max_storage_buffer_binding_size`: the largest tensor, in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// `max_buffer_size`.
    pub max_buffer_size: u64,
    /// `max_compute_workgroups_per_dimension`.
    pub max_compute_workgroups_per_dimension: u32,
    /// `max_compute_invocations_per_workgroup`.
    pub max_compute_invocations_per_workgroup: u32,
    /// Whether [`open`] with the same options would pick this adapter.
    pub picked: bool,
    /// Why not, when it would not.
    pub not_picked: Option<String>,
}

/// Every adapter wgpu finds on every backend, each with whether [`open`]
/// with `opts` (and the environment) would pick it, and why not. An empty
/// list means no adapter at all; nothing here fails or panics.
pub fn adapters(opts: &WgpuOptions) -> Vec<AdapterSummary> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::all();
    desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
    let instance = wgpu::Instance::new(desc);
    let found = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let chosen = choose_adapter(opts).map(|a| a.get_info());
    let backends = opts
        .backends
        .or_else(wgpu::Backends::from_env)
        .unwrap_or(wgpu::Backends::all());
    let name = opts
        .adapter_name
        .clone()
        .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
        .filter(|n| !n.is_empty());
    found
        .iter()
        .map(|a| {
            let info = a.get_info();
            let features = a.features();
            let limits = a.limits();
            let picked = matches!(&chosen, Ok(c) if same_adapter(c, &info));
            let not_picked = if picked {
                None
            } else if !backends.contains(wgpu::Backends::from(info.backend)) {
                Some(format!(
                    "its backend is not among {backends:?} (WGPU_BACKEND)"
                ))
            } else if let Some(n) = name
                .as_ref()
                .filter(|n| !info.name.to_lowercase().contains(&n.to_lowercase()))
            {
                Some(format!(
                    "its name does not contain {n:?} (WGPU_ADAPTER_NAME)"
                ))
            } else {
                Some(match &chosen {
                    Ok(c) => format!("kiln picks {:?} ({}) before it", c.name, c.backend),
                    Err(e) => format!("opening fails: {e}"),
                })
            };
            AdapterSummary {
                name: info.name.clone(),
                backend: info.backend,
                device_type: info.device_type,
                driver: info.driver.clone(),
                driver_info: info.driver_info.clone(),
                shader_f16: features.contains(wgpu::Features::SHADER_F16),
                timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
                picked,
                not_picked,
            }
        })
        .collect()
}
