//! Where a tensor's storage lives.

use crate::key::DispatchKey;
use std::fmt;

/// A device: the CPU, or a wgpu adapter by its index in kiln's adapter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Device {
    /// Host memory, the CPU backend.
    Cpu,
    /// A wgpu adapter; the number is kiln's index of its context.
    Wgpu(u32),
}

impl Device {
    /// The backend dispatch key of tensors on this device.
    pub const fn key(self) -> DispatchKey {
        match self {
            Device::Cpu => DispatchKey::Cpu,
            Device::Wgpu(_) => DispatchKey::Wgpu,
        }
    }

    /// Whether this is the CPU.
    pub const fn is_cpu(self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// Parses `cpu`, `wgpu` or `wgpu:N` (as `Display` writes them).
    pub fn parse(s: &str) -> Option<Device> {
        match s {
            "cpu" => Some(Device::Cpu),
            "wgpu" | "gpu" => Some(Device::Wgpu(0)),
            _ => s
                .strip_prefix("wgpu:")
                .and_then(|n| n.parse().ok())
                .map(Device::Wgpu),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Wgpu(0) => f.write_str("wgpu"),
            Device::Wgpu(n) => write!(f, "wgpu:{n}"),
        }
    }
}
