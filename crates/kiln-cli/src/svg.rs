//! The `kiln bench --svg` chart: GPU/CPU speed-ups as horizontal bars on a
//! log scale, with the parity line at 1x.

use plotters::prelude::*;
use std::fs::File;
use std::io::Write;

fn speedup_text(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}x")
    } else if v >= 0.1 {
        format!("{v:.2}x")
    } else {
        format!("{v:.3}x")
    }
}

/// Draws `bars` (label, speed-up) titled `title` as an SVG into `file`.
pub fn speedups(mut file: File, title: &str, bars: &[(String, f64)]) -> Result<(), String> {
    let bars: Vec<&(String, f64)> = bars
        .iter()
        .filter(|(_, v)| v.is_finite() && *v > 0.0)
        .collect();
    let height = 140 + 26 * bars.len().max(1) as u32;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if bars.is_empty() {
            root.draw(&Text::new(
                format!("{title}: no op ran on both the CPU and the GPU"),
                (20, 40),
                ("sans-serif", 18),
            ))
            .map_err(|e| e.to_string())?;
        } else {
            let (mut lo, mut hi) = (1.0f64, 1.0f64);
            for (_, v) in &bars {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
            let (lo, hi) = (lo / 2.0, hi * 2.0);
            let n = bars.len();
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(300)
                .build_cartesian_2d((lo..hi).log_scale(), (0..n - 1).into_segmented())
                .map_err(|e| e.to_string())?;
            // The first row at the top.
            let row = |i: usize| n - 1 - i;
            let label = |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) if *i < n => bars[row(*i)].0.clone(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(n)
                .y_label_formatter(&label)
                .x_label_formatter(&|x| format!("{x}x"))
                .x_desc("GPU/CPU speed-up, log scale (right of 1x: the GPU is faster)")
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                    let color = if *v >= 1.0 { GREEN } else { RED };
                    let y = row(i);
                    let mut r = Rectangle::new(
                        [
                            (lo, SegmentValue::Exact(y)),
                            (*v, SegmentValue::Exact(y + 1)),
                        ],
                        color.mix(0.7).filled(),
                    );
                    r.set_margin(3, 3, 0, 0);
                    r
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                    Text::new(
                        format!(" {}", speedup_text(*v)),
                        (*v, SegmentValue::CenterOf(row(i))),
                        ("sans-serif", 13),
                    )
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
                    BLACK.stroke_width(2),
                )))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    file.flush().map_err(|e| e.to_string())
}
