//! `layer_norm` over the trailing `normalized_shape` dims, with optional
//! elementwise `weight` and `bias` of that shape; biased variance and
//! `eps` inside the square root, as PyTorch. Each row is normalised in f32
//! (two passes: mean, then the variance of the centred values).

use crate::kernels::softmax::float_rows;
use crate::kernels::vmath::{self, simd_fn};
use crate::tensor_io::to_contiguous_vec;
use kiln_core::{meta, op, DispatchKey, Dispatcher, Result, StackExt, StackResult, Tensor};

#[inline(always)]
fn layer_norm_row_impl<const FMA: bool>(
    x: &[f32],
    y: &mut [f32],
    w: Option<&[f32]>,
    b: Option<&[f32]>,
    eps: f32,
) {
    let n = x.len() as f32;
    let mean = vmath::sum_lanes(x) / n;
    let mut lanes = [0.0f32; 8];
    for (c, d) in y.chunks_mut(8).zip(x.chunks(8)) {
        for (l, (y, &v)) in c.iter_mut().zip(d).enumerate() {
            *y = v - mean;
            lanes[l] = vmath::madd::<FMA>(*y, *y, lanes[l]);
        }
    }
    let var = lanes.iter().sum::<f32>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    match (w, b) {
        (Some(w), Some(b)) => {
            for ((y, &w), &b) in y.iter_mut().zip(w).zip(b) {
                *y = vmath::madd::<FMA>(*y * rstd, w, b);
            }
        }
        (Some(w), None) => {
            for (y, &w) in y.iter_mut().zip(w) {
                *y = *y * rstd * w;
            }
        }
        (None, Some(b)) => {
            for (y, &b) in y.iter_mut().zip(b) {
                *y = vmath::madd::<FMA>(*y, rstd, b);
            }
        }
        (None, None) => {
            for y in y.iter_mut() {
                *y *= rstd;
            }
        }
    }
}

simd_fn! {
    /// Layer norm of the row `x` into `y`.
    fn layer_norm_row(x: &[f32], y: &mut [f32], w: Option<&[f32]>, b: Option<&[f32]>, eps: f32) => layer_norm_row_impl;
}

const NAME: &str = "layer_norm";

/// `layer_norm(x, normalized_shape, weight, bias, eps)`.
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[i64],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    let m = meta::layer_norm(x, normalized_shape, weight, bias, eps)?;
    let f32s = |t: Option<&Tensor>| t.map(|t| to_contiguous_vec::<f32>(NAME, t)).transpose();
    let (w, b) = (f32s(weight)?, f32s(bias)?);
    let eps = m.eps;
    float_rows(NAME, x, m.row, &|x: &[f32], y: &mut [f32]| {
        layer_norm_row(x, y, w.as_deref(), b.as_deref(), eps)
    })
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(
        op::LAYER_NORM,
        DispatchKey::Cpu,
        "cpu::layer_norm",
        |_, _, s| {
            let out = layer_norm(
                s.tensor(NAME, 0)?,
                s.int_list(NAME, 1)?,
                s.opt_tensor(NAME, 2)?,
                s.opt_tensor(NAME, 3)?,
                s.float(NAME, 4)?,
            )?;
            s.set_result(out);
            Ok(())
        },
    )
}
