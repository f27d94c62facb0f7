//! `Display` for tensors, in the style of PyTorch's printer: values aligned
//! to one width, 4 decimals (or scientific when magnitudes are far apart),
//! and the middle elided with `...` past 1000 elements (3 at each edge).

use crate::dtype::DType;
use crate::tensor::Tensor;
use std::fmt;

const THRESHOLD: usize = 1000;
const EDGE: usize = 3;

struct Formatter {
    dtype: DType,
    int_mode: bool,
    sci: bool,
}

impl Formatter {
    fn new(dtype: DType, values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let int_mode = finite.iter().all(|v| v.fract() == 0.0);
        let abs: Vec<f64> = finite
            .iter()
            .map(|v| v.abs())
            .filter(|&v| v != 0.0)
            .collect();
        let (mn, mx) = abs
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let sci = !abs.is_empty()
            && dtype.is_float()
            && (mx / mn > 1000.0 || mx > 1e8 || mn < 1e-4)
            && !(int_mode && mx <= 1e8);
        Formatter {
            dtype,
            int_mode,
            sci,
        }
    }

    fn fmt(&self, v: f64) -> String {
        match self.dtype {
            DType::Bool => (if v != 0.0 { "True" } else { "False" }).to_string(),
            DType::I32 => format!("{}", v as i64),
            _ if v.is_nan() => "nan".to_string(),
            _ if v.is_infinite() => (if v > 0.0 { "inf" } else { "-inf" }).to_string(),
            _ if self.sci => sci(v),
            _ if self.int_mode => format!("{v:.0}."),
            _ => format!("{v:.4}"),
        }
    }
}

/// `1.2340e-05`, as Python's `{:.4e}` writes it (sign and two exponent digits).
fn sci(v: f64) -> String {
    let s = format!("{v:.4e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Indices printed along a dim of `size`: all, or the edges with a gap.
fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((size - EDGE..size).map(Some))
            .collect()
    } else {
        (0..size).map(Some).collect()
    }
}

/// What every level of the recursive printer shares.
struct Printer<'a> {
    vals: &'a [f64],
    f: Formatter,
    width: usize,
    summarize: bool,
}

fn write_dim(out: &mut String, p: &Printer<'_>, shape: &[usize], base: usize, indent: usize) {
    let (vals, f, width, summarize) = (p.vals, &p.f, p.width, p.summarize);
    if shape.is_empty() {
        out.push_str(&format!("{:>width$}", f.fmt(vals[base])));
        return;
    }
    let inner: usize = shape[1..].iter().product();
    out.push('[');
    let items = shown(shape[0], summarize);
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push(',');
            if shape.len() == 1 {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match item {
            Some(i) => write_dim(out, p, &shape[1..], base + i * inner, indent + 1),
            None => out.push_str(if shape.len() == 1 { " ..." } else { "..." }),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals = match self.to_f64_vec() {
            Ok(v) => v,
            Err(e) => return write!(fm, "tensor(<unreadable: {e}>)"),
        };
        let summarize = vals.len() > THRESHOLD;
        // Only the shown values decide the format, as in PyTorch.
        let shape = self.shape();
        let mut shown_vals = Vec::new();
        collect_shown(&vals, shape, 0, summarize, &mut shown_vals);
        let f = Formatter::new(self.dtype(), &shown_vals);
        let width = shown_vals
            .iter()
            .map(|&v| f.fmt(v).len())
            .max()
            .unwrap_or(0);
        let mut s = String::from("tensor(");
        if vals.is_empty() {
            s.push_str("[]");
        } else {
            let p = Printer {
                vals: &vals,
                f,
                width,
                summarize,
            };
            write_dim(&mut s, &p, shape, 0, 7);
        }
        let mut extras = Vec::new();
        if vals.is_empty() && shape.len() != 1 {
            extras.push(format!("size={shape:?}"));
        }
        if self.dtype() != DType::F32 {
            extras.push(format!("dtype={}", self.dtype()));
        }
        if !self.device().is_cpu() {
            extras.push(format!("device={}", self.device()));
        }
        for e in extras {
            s.push_str(", ");
            s.push_str(&e);
        }
        s.push(')');
        fm.write_str(&s)
    }
}

fn collect_shown(vals: &[f64], shape: &[usize], base: usize, summarize: bool, out: &mut Vec<f64>) {
    if vals.is_empty() {
        return;
    }
    if shape.is_empty() {
        out.push(vals[base]);
        return;
    }
    let inner: usize = shape[1..].iter().product();
    for i in shown(shape[0], summarize).into_iter().flatten() {
        collect_shown(vals, &shape[1..], base + i * inner, summarize, out);
    }
}
