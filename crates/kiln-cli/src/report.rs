//! What `kiln bench` shows: the progress bar on stderr, the markdown
//! tables on stdout, the CSV rows.

use crate::bench::Row;
use std::fs::File;
use std::io::{IsTerminal, Write};

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub(crate) struct Progress {
    on: bool,
    total: usize,
    done: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            on: std::io::stderr().is_terminal(),
            total,
            done: 0,
        }
    }

    pub fn show(&self, label: &str) {
        if !self.on {
            return;
        }
        const W: usize = 30;
        let filled = W * self.done / self.total.max(1);
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r[{}{}] {}/{} {:<40}",
            "#".repeat(filled),
            ".".repeat(W - filled),
            self.done,
            self.total,
            label
        );
        let _ = e.flush();
    }

    pub fn step(&mut self) {
        self.done += 1;
    }

    pub fn finish(&self) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{:<80}\r", "");
            let _ = e.flush();
        }
    }
}

fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn fmt_rate(r: Option<f64>) -> String {
    match r {
        None => "—".into(),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn fmt_x(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(v) if v >= 10.0 => format!("{v:.1}x"),
        Some(v) if v >= 0.1 => format!("{v:.2}x"),
        Some(v) => format!("{v:.4}x"),
    }
}

/// Prints `rows` as a markdown table with aligned columns: the columns in
/// `text` left-aligned, the others (numbers) right-aligned.
fn print_table(header: &[&str], rows: &[Vec<String>], text: &[usize]) {
    let left = |i: usize| text.contains(&i);
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = w[i] - c.chars().count();
                // text columns left, numbers right
                if left(i) {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|s| s.to_string()).collect());
    println!(
        "|{}|",
        w.iter()
            .enumerate()
            .map(|(i, n)| if left(i) {
                format!(":{}", "-".repeat(n + 1))
            } else {
                format!("{}:", "-".repeat(n + 1))
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in rows {
        line(r.clone());
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn write_csv(f: &mut File, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        f,
        "op,shape,dtype,cpu_ms,gpu_kernel_ms,gpu_readback_ms,unit,cpu_rate,gpu_rate,speedup,\
         cpu_first_ms,gpu_first_ms,gpu_pipelines_compiled,note"
    )?;
    let num = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    for r in rows {
        let fields = [
            r.op.to_string(),
            r.shape.clone(),
            r.dtype.to_string(),
            num(r.cpu.map(|t| t.median_ms)),
            num(r.gpu.map(|t| t.kernel_ms)),
            num(r.gpu.map(|t| t.readback_ms)),
            r.unit.name().to_string(),
            num(r.cpu.map(|t| r.rate(t.median_ms))),
            num(r.gpu.map(|t| r.rate(t.kernel_ms))),
            num(r.speedup()),
            num(r.cpu.map(|t| t.first_ms)),
            num(r.gpu.map(|t| t.first_ms)),
            r.gpu.map(|t| t.pipelines.to_string()).unwrap_or_default(),
            r.note.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|s| csv_field(s)).collect();
        writeln!(f, "{}", line.join(","))?;
    }
    f.flush()
}

/// The results table, then the first-use table.
pub(crate) fn print_tables(rows: &[Row]) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.op.to_string(),
                r.shape.clone(),
                r.dtype.to_string(),
                fmt_ms(r.cpu.map(|t| t.median_ms)),
                fmt_ms(r.gpu.map(|t| t.kernel_ms)),
                fmt_ms(r.gpu.map(|t| t.readback_ms)),
                fmt_rate(r.cpu.map(|t| r.rate(t.median_ms))),
                fmt_rate(r.gpu.map(|t| r.rate(t.kernel_ms))),
                r.unit.name().to_string(),
                fmt_x(r.speedup()),
                r.note.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "op",
            "shape",
            "dtype",
            "CPU ms",
            "GPU ms",
            "GPU+read ms",
            "CPU rate",
            "GPU rate",
            "unit",
            "GPU/CPU",
            "note",
        ],
        &table,
        &[0, 1, 2, 8, 10],
    );
    println!(
        "\nGPU ms: the op, then synchronize(); GPU+read ms: the op and its result read back.\n\
         GPU/CPU: CPU ms / GPU ms (above 1: the GPU is faster)."
    );

    let first: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.cpu.is_some() || r.gpu.is_some())
        .map(|r| {
            vec![
                r.op.to_string(),
                r.shape.clone(),
                r.dtype.to_string(),
                fmt_ms(r.cpu.map(|t| t.first_ms)),
                fmt_ms(r.gpu.map(|t| t.first_ms)),
                r.gpu
                    .map(|t| t.pipelines.to_string())
                    .unwrap_or_else(|| "—".into()),
                fmt_ms(r.gpu.map(|t| t.kernel_ms)),
            ]
        })
        .collect();
    if !first.is_empty() {
        println!("\nFirst use (the warm-up call: pipeline compiles and first dispatch), ms:\n");
        print_table(
            &[
                "op",
                "shape",
                "dtype",
                "CPU first",
                "GPU first",
                "pipelines compiled",
                "GPU warm",
            ],
            &first,
            &[0, 1, 2],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_commas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
