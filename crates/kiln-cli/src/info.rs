//! `kiln info`: what kiln finds on this machine.

use crate::args::{parse, CliResult};
use kiln::wgpu::AdapterSummary;

pub const USAGE: &str = "usage: kiln info

Prints the CPU (model, threads kiln's thread pool uses) and every GPU
adapter wgpu finds on every backend: name, backend, device type, driver,
whether kiln would pick it (and why not), and the features and limits kiln
uses. WGPU_BACKEND, WGPU_ADAPTER_NAME and WGPU_POWER_PREF steer the pick.";

/// The lavapipe hint, for machines without a GPU adapter.
pub const LAVAPIPE_HINT: &str = "for a software GPU on Linux, install lavapipe: \
`apt-get install mesa-vulkan-drivers` (then run with WGPU_BACKEND=vulkan)";

/// The CPU's model name from /proc/cpuinfo, when there is one.
pub fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// "AMD EPYC ..., 2 threads".
pub fn cpu_line() -> String {
    format!(
        "{}, {} threads",
        cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        rayon::current_num_threads()
    )
}

fn bytes(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if n >= GIB {
        format!("{:.2} GiB ({n} B)", n as f64 / GIB as f64)
    } else if n >= MIB {
        format!("{:.1} MiB ({n} B)", n as f64 / MIB as f64)
    } else {
        format!("{n} B")
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_adapter(a: &AdapterSummary) {
    let pick = if a.picked {
        "kiln picks this one".to_string()
    } else {
        format!(
            "not picked: {}",
            a.not_picked
                .as_deref()
                .unwrap_or("another adapter comes first")
        )
    };
    println!("  {} ({}, {:?})", a.name, a.backend, a.device_type);
    println!("    {pick}");
    let driver = match (a.driver.is_empty(), a.driver_info.is_empty()) {
        (true, true) => "not reported".to_string(),
        (false, true) => a.driver.clone(),
        (true, false) => a.driver_info.clone(),
        (false, false) => format!("{} ({})", a.driver, a.driver_info),
    };
    println!("    driver: {driver}");
    println!(
        "    features: SHADER_F16 {}, TIMESTAMP_QUERY {}",
        yes(a.shader_f16),
        yes(a.timestamp_query)
    );
    println!(
        "    limits: max storage buffer binding {}, max buffer {}",
        bytes(a.max_storage_buffer_binding_size),
        bytes(a.max_buffer_size)
    );
    println!(
        "            max workgroups per dimension {}, max invocations per workgroup {}",
        a.max_compute_workgroups_per_dimension, a.max_compute_invocations_per_workgroup
    );
    if matches!(a.device_type, kiln::wgpu::wgpu::DeviceType::Cpu) {
        println!("    (a software rasteriser: correct, but far slower than kiln's CPU backend)");
    }
}

pub fn run(args: &[String]) -> CliResult {
    let p = parse("info", args, &[])?;
    if p.help {
        println!("{USAGE}");
        return Ok(());
    }
    kiln::init()?;
    println!("kiln {}", env!("CARGO_PKG_VERSION"));
    println!("CPU: {}", cpu_line());
    for var in ["WGPU_BACKEND", "WGPU_ADAPTER_NAME", "WGPU_POWER_PREF"] {
        if let Ok(v) = std::env::var(var) {
            println!("{var}={v}");
        }
    }
    let adapters = kiln::wgpu::adapters(&kiln::WgpuOptions::default());
    if adapters.is_empty() {
        println!("GPU: no adapter found on any backend; kiln runs on the CPU only.");
        println!("     {LAVAPIPE_HINT}");
        return Ok(());
    }
    println!("GPU adapters (every backend wgpu finds):");
    for a in &adapters {
        print_adapter(a);
    }
    if !adapters.iter().any(|a| a.picked) {
        println!("kiln picks none of them (the reasons are above), so it runs on the CPU only.");
    }
    Ok(())
}
