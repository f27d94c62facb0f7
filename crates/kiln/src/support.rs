//! Which op runs on which backend for which dtype, found by running it.
//!
//! [`probe`] calls every built-in op once per backend and dtype on a tiny
//! sample input and records whether it ran. README.md's op table is
//! [`markdown_table`]'s output; a test regenerates it and fails when the two
//! drift apart, so the table can only say what kiln actually does.

use crate::{DType, Device, Dispatcher, Error, IValue, Result};
use kiln_core::ops::{OpKind, BUILTIN_OPS};
use kiln_core::schema::{Argument, BaseType, OpSchema};

/// The dtypes a row reports, in column order.
pub const DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::BF16, DType::I32, DType::Bool];

/// One op's row: for each backend, the dtypes it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSupport {
    /// The op's name without its namespace (`add`).
    pub name: String,
    /// How its kernels are provided.
    pub kind: OpKind,
    /// `(backend name, dtypes the op ran with)`, one per probed device.
    pub backends: Vec<(String, Vec<DType>)>,
}

/// The sample value for one argument of `op` when its tensors are `dtype`.
fn sample_arg(op: &str, arg: &Argument, dtype: DType, dev: &Device) -> Result<Option<IValue>> {
    let t = |shape: &[usize], dt: DType| -> Result<IValue> {
        Ok(IValue::Tensor(kiln_core::factory::ones(shape, dt, dev)?))
    };
    let name = arg.name.as_str();
    let v = match (op, name, arg.ty.base) {
        // arguments whose dtype is fixed by the op, not the probed one
        (_, "condition", BaseType::Tensor) => t(&[2, 2], DType::Bool)?,
        ("index_select", "index", _) => {
            IValue::Tensor(kiln_core::factory::zeros(&[2], DType::I32, dev)?)
        }
        (_, "index" | "indices", _) => {
            IValue::Tensor(kiln_core::factory::zeros(&[2, 2], DType::I32, dev)?)
        }
        ("conv2d", "input", _) => t(&[1, 1, 3, 3], dtype)?,
        ("conv2d", "weight", _) => t(&[1, 1, 2, 2], dtype)?,
        ("max_pool2d", "self", _) => t(&[1, 1, 2, 2], dtype)?,
        ("max_pool2d", "kernel_size", _) => IValue::IntList(vec![2, 2]),
        ("layer_norm", "normalized_shape", _) => IValue::IntList(vec![2]),
        ("permute", "dims", _) => IValue::IntList(vec![1, 0]),
        ("eye", _, BaseType::Int) => IValue::Int(2),
        ("transpose", "dim1", _) => IValue::Int(1),
        ("slice", "end", _) => IValue::Int(1),
        ("narrow", "length", _) => IValue::Int(1),
        ("arange", "end", _) => IValue::Int(2),
        _ if arg.default.is_some() => return Ok(None),
        (_, _, BaseType::Tensor) => t(&[2, 2], dtype)?,
        (_, _, BaseType::TensorList) => {
            IValue::TensorList(vec![kiln_core::factory::ones(&[2, 2], dtype, dev)?; 2])
        }
        (_, _, BaseType::IntList) => IValue::IntList(vec![2, 2]),
        (_, _, BaseType::Int) => IValue::Int(0),
        (_, _, BaseType::Scalar) if dtype.is_float() => IValue::Float(1.0),
        (_, _, BaseType::Scalar) => IValue::Int(1),
        (_, _, BaseType::Float) => IValue::Float(1.0),
        (_, _, BaseType::Bool) => IValue::Bool(false),
        (_, _, BaseType::ScalarType) => IValue::DType(dtype),
        (_, _, BaseType::Device) => IValue::Device(*dev),
        (_, _, BaseType::Str) => IValue::Str(String::new()),
    };
    Ok(Some(v))
}

/// Runs `schema`'s op once on `dev` with `dtype` samples: `Ok(true)` when it
/// ran, `Ok(false)` when the backend refuses the dtype (or has no kernel),
/// and `Err` when the sample itself was wrong (a bug in this module).
fn runs(schema: &OpSchema, dtype: DType, dev: &Device) -> Result<bool> {
    let op = schema.name.rsplit("::").next().unwrap_or(&schema.name);
    let mut args = Vec::new();
    for a in &schema.args {
        match sample_arg(op, a, dtype, dev)? {
            Some(v) => args.push(v),
            None => break,
        }
    }
    match Dispatcher::global().call_boxed(&schema.name, args) {
        Ok(out) => {
            // make the GPU finish so a late error cannot hide
            for v in out {
                if let IValue::Tensor(t) = v {
                    t.to(&Device::Cpu)?;
                }
            }
            Ok(true)
        }
        Err(Error::UnsupportedDType { .. } | Error::NoKernel { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Probes every built-in op on every device in `devices`.
pub fn probe(devices: &[Device]) -> Result<Vec<OpSupport>> {
    crate::init()?;
    let mut rows = Vec::with_capacity(BUILTIN_OPS.len());
    for (text, kind) in BUILTIN_OPS {
        let schema = OpSchema::parse(text)?;
        let mut backends = Vec::new();
        for dev in devices {
            let mut ok = Vec::new();
            for dt in DTYPES {
                if runs(&schema, dt, dev)? {
                    ok.push(dt);
                }
            }
            backends.push((backend_name(dev).to_string(), ok));
        }
        rows.push(OpSupport {
            name: schema.name.rsplit("::").next().unwrap_or("").to_string(),
            kind: *kind,
            backends,
        });
    }
    Ok(rows)
}

fn backend_name(dev: &Device) -> &'static str {
    match dev {
        Device::Cpu => "CPU",
        _ => "wgpu",
    }
}

fn dtype_cell(dts: &[DType]) -> String {
    if dts.is_empty() {
        return "—".to_string();
    }
    dts.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The README's op table: one row per op, one column per backend, each cell
/// the dtypes the op runs with there.
pub fn markdown_table(rows: &[OpSupport]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let mut s = String::from("| op | kind |");
    let mut rule = String::from("|---|---|");
    for (b, _) in &first.backends {
        s.push_str(&format!(" {b} |"));
        rule.push_str("---|");
    }
    s.push('\n');
    s.push_str(&rule);
    s.push('\n');
    for r in rows {
        let kind = match r.kind {
            OpKind::Factory => "factory",
            OpKind::Primitive => "kernel",
            OpKind::View => "view",
            OpKind::Composite => "composite",
        };
        s.push_str(&format!("| `{}` | {kind} |", r.name));
        for (_, dts) in &r.backends {
            s.push_str(&format!(" {} |", dtype_cell(dts)));
        }
        s.push('\n');
    }
    s
}
