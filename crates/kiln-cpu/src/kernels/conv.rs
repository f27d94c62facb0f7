//! `conv2d` by im2col + GEMM, and `max_pool2d`. Inputs are `[N, C, H, W]`
//! (or unbatched `[C, H, W]`, as PyTorch accepts) read in place through
//! their layouts.
//!
//! conv2d computes in f32 for every float dtype and rounds once: per
//! sample and group, the input patches are unfolded into a
//! `[C/groups * kH * kW, Ho * Wo]` f32 matrix (padding reads as 0) and
//! multiplied by the group's `[O/groups, C/groups * kH * kW]` weight rows.

use crate::elem::Elem;
use crate::kernels::matmul::{product_f32, Dims, Mat};
use crate::storage::alloc;
use crate::tensor_io::{slice_of, to_contiguous_vec, wrap};
use kiln_core::conv::{Conv2d, Conv2dCall, MaxPool2d};
use kiln_core::{op, DType, DispatchKey, Dispatcher, Result, StackResult, Tensor};
use rayon::prelude::*;

/// A checked conv2d call (the shape facts live in kiln-core).
type Conv = Conv2d;

/// The CPU's im2col + GEMM steps of a conv2d.
trait ConvSteps {
    fn im2col<T: Elem>(&self, src: &[T], n: usize, g: usize, col: &mut [f32]);
    fn sample<T: Elem>(
        &self,
        src: &[T],
        wb: &Weights<'_>,
        n: usize,
        scratch: (&mut [f32], &mut [f32]),
        threads: bool,
    );
}

impl ConvSteps for Conv {
    /// Unfolds sample `n`, group `g` of `src` into `col` (`kdim x l`).
    fn im2col<T: Elem>(&self, src: &[T], n: usize, g: usize, col: &mut [f32]) {
        let [_, _, h, w] = self.x;
        let [ho, wo] = self.out;
        let l = self.l();
        let mut r = 0;
        for c in 0..self.cg() {
            let base = self.offset + n * self.xs[0] + (g * self.cg() + c) * self.xs[1];
            for ki in 0..self.k[0] {
                for kj in 0..self.k[1] {
                    let row = &mut col[r * l..(r + 1) * l];
                    r += 1;
                    for oh in 0..ho {
                        let ih = (oh * self.stride[0] + ki * self.dil[0]).wrapping_sub(self.pad[0]);
                        let dst = &mut row[oh * wo..(oh + 1) * wo];
                        if ih >= h {
                            dst.fill(0.0);
                            continue;
                        }
                        let line = base + ih * self.xs[2];
                        for (ow, o) in dst.iter_mut().enumerate() {
                            let iw =
                                (ow * self.stride[1] + kj * self.dil[1]).wrapping_sub(self.pad[1]);
                            *o = if iw < w {
                                src[line + iw * self.xs[3]].to_f32()
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
        }
    }

    /// Sample `n`'s output (`[O, Ho * Wo]`, f32) into `acc`; `col` is
    /// scratch for one group's unfolded input.
    fn sample<T: Elem>(
        &self,
        src: &[T],
        wb: &Weights<'_>,
        n: usize,
        (col, acc): (&mut [f32], &mut [f32]),
        threads: bool,
    ) {
        let (og, kd, l) = (self.og(), self.kdim(), self.l());
        for g in 0..self.groups {
            self.im2col(src, n, g, col);
            let d = Dims {
                m: og,
                k: kd,
                n: l,
                a: Mat { rs: kd, cs: 1 },
                b: Mat { rs: l, cs: 1 },
            };
            product_f32(
                &d,
                &mut acc[g * og * l..(g + 1) * og * l],
                (wb.w, g * og * kd),
                (col, 0),
                threads,
            );
        }
        if let Some(b) = wb.bias {
            for (row, &bo) in acc.chunks_mut(l).zip(b) {
                row.iter_mut().for_each(|v| *v += bo);
            }
        }
    }
}

/// The weight as `[O, C/groups * kH * kW]` f32 rows, and the bias.
struct Weights<'a> {
    w: &'a [f32],
    bias: Option<&'a [f32]>,
}

fn conv_typed<T: Elem>(cv: &Conv, x: &Tensor, wb: &Weights<'_>, shape: &[usize]) -> Result<Tensor> {
    let src = slice_of::<T>("conv2d", x)?;
    let per = cv.out_c * cv.l();
    let mut out = alloc::<T>(cv.x[0] * per);
    if out.is_empty() {
        return wrap(out, shape);
    }
    let col_len = cv.kdim() * cv.l();
    let sample =
        |n: usize, dst: &mut [T], col: &mut Vec<f32>, acc: &mut Vec<f32>, threads: bool| {
            col.resize(col_len, 0.0);
            acc.resize(per, 0.0);
            cv.sample(src, wb, n, (col, acc), threads);
            dst.iter_mut()
                .zip(acc.iter())
                .for_each(|(d, &v)| *d = T::from_f32(v));
        };
    if cv.x[0] > 1 {
        out.par_chunks_mut(per).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(col, acc), (n, dst)| sample(n, dst, col, acc, false),
        );
    } else {
        sample(0, &mut out, &mut Vec::new(), &mut Vec::new(), true);
    }
    wrap(out, shape)
}

/// 2-D convolution (cross-correlation, as PyTorch) of `[N, C, H, W]` input
/// with `[O, C / groups, kH, kW]` weight and optional `[O]` bias, as
/// checked by [`Conv2d::from_stack`].
pub fn conv2d(call: Conv2dCall<'_>) -> Result<Tensor> {
    const OP: &str = "conv2d";
    let Conv2dCall {
        x,
        weight,
        bias,
        conv: cv,
    } = call;
    let w = to_contiguous_vec::<f32>(OP, weight)?;
    let b = bias.map(|b| to_contiguous_vec::<f32>(OP, b)).transpose()?;
    let wb = Weights {
        w: &w,
        bias: b.as_deref(),
    };
    let shape = cv.out_shape();
    crate::with_float_dtype!(x.dtype(), T => conv_typed::<T>(&cv, x, &wb, &shape), _ => unreachable!("checked float above"))
}

fn pool_typed<T: Elem + PartialOrd>(x: &Tensor, pl: &MaxPool2d, shape: &[usize]) -> Result<Tensor> {
    let MaxPool2d {
        d,
        s,
        k,
        stride,
        pad,
        out,
        ..
    } = *pl;
    let src = slice_of::<T>("max_pool2d", x)?;
    let off = x.layout().offset();
    let [_, c, h, w] = d;
    let [ho, wo] = out;
    let mut dst = alloc::<T>(d[0] * c * ho * wo);
    if dst.is_empty() {
        return wrap(dst, shape);
    }
    let plane = |p: usize, o: &mut [T]| {
        let base = off + (p / c) * s[0] + (p % c) * s[1];
        for oh in 0..ho {
            // padded cells are -inf: only the window's part inside the input counts
            let h0 = (oh * stride[0]).saturating_sub(pad[0]);
            let h1 = (oh * stride[0] + k[0] - pad[0]).min(h);
            for ow in 0..wo {
                let w0 = (ow * stride[1]).saturating_sub(pad[1]);
                let w1 = (ow * stride[1] + k[1] - pad[1]).min(w);
                let mut best = src[base + h0 * s[2] + w0 * s[3]];
                for ih in h0..h1 {
                    for iw in w0..w1 {
                        let v = src[base + ih * s[2] + iw * s[3]];
                        // NaN propagates, as in PyTorch (`v != v` only for NaN)
                        #[allow(clippy::eq_op)]
                        if v > best || v != v {
                            best = v;
                        }
                    }
                }
                o[oh * wo + ow] = best;
            }
        }
    };
    let per = ho * wo;
    if dst.len() * k[0] * k[1] > crate::iter::GRAIN {
        dst.par_chunks_mut(per)
            .enumerate()
            .for_each(|(p, o)| plane(p, o));
    } else {
        dst.chunks_mut(per)
            .enumerate()
            .for_each(|(p, o)| plane(p, o));
    }
    wrap(dst, shape)
}

/// 2-D max pooling of `[N, C, H, W]` (or `[C, H, W]`); an empty `stride`
/// means the kernel size; padding is at most half the kernel. `pl` is
/// [`MaxPool2d::check`]'s answer for `x`.
pub fn max_pool2d(x: &Tensor, pl: MaxPool2d) -> Result<Tensor> {
    let shape = pl.out_shape();
    match x.dtype() {
        DType::F32 => pool_typed::<f32>(x, &pl, &shape),
        DType::F16 => pool_typed::<half::f16>(x, &pl, &shape),
        DType::BF16 => pool_typed::<half::bf16>(x, &pl, &shape),
        DType::I32 => pool_typed::<i32>(x, &pl, &shape),
        DType::Bool => unreachable!("bool refused above"),
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Cpu;
    d.register_kernel(op::CONV2D, k, "cpu::conv2d", |_, _, s| {
        let out = conv2d(Conv2d::from_stack(s)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::MAX_POOL2D, k, "cpu::max_pool2d", |_, _, s| {
        let (x, pool) = MaxPool2d::from_stack(s)?;
        let out = max_pool2d(x, pool)?;
        s.set_result(out);
        Ok(())
    })
}
