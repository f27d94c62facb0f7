//! The argument checks and output shapes of `conv2d` and `max_pool2d`,
//! shared by every backend so that each refuses the same calls with the
//! same errors. Inputs are `[N, C, H, W]`, or unbatched `[C, H, W]` (as
//! PyTorch accepts), described by their sizes and strides in place.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::{IValue, StackExt};

/// A 2-element parameter from an `int[]` of length 1 or 2, each `>= min`.
fn pair(op: &str, name: &str, v: &[i64], min: i64) -> Result<[usize; 2]> {
    let p = match *v {
        [a] => [a, a],
        [a, b] => [a, b],
        _ => {
            return Err(Error::invalid(
                op,
                format!("{name} must have 1 or 2 values, got {v:?}"),
            ))
        }
    };
    if p.iter().any(|&x| x < min) {
        return Err(Error::invalid(
            op,
            format!("{name} must be at least {min}, got {v:?}"),
        ));
    }
    Ok([p[0] as usize, p[1] as usize])
}

/// The input as `[N, C, H, W]` sizes and strides (an unbatched `[C, H, W]`
/// gets `N = 1`), and whether it was batched.
fn nchw(op: &str, t: &Tensor) -> Result<([usize; 4], [usize; 4], bool)> {
    let (sh, st) = (t.shape(), t.strides());
    match sh.len() {
        4 => Ok((
            [sh[0], sh[1], sh[2], sh[3]],
            [st[0], st[1], st[2], st[3]],
            true,
        )),
        3 => Ok(([1, sh[0], sh[1], sh[2]], [0, st[0], st[1], st[2]], false)),
        _ => Err(Error::shape(
            op,
            format!("expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape {sh:?}"),
        )),
    }
}

/// Output size of one spatial dim, or `None` when the (dilated) kernel
/// does not fit in the padded input.
fn out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * pad;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// A checked `conv2d` call: cross-correlation of `x` with `[O, C / groups,
/// kH, kW]` weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv2d {
    /// Input `[N, C, H, W]` sizes.
    pub x: [usize; 4],
    /// Input strides (0 along N when unbatched).
    pub xs: [usize; 4],
    /// The input's storage offset.
    pub offset: usize,
    /// Whether the input was 4-D (the output is then too).
    pub batched: bool,
    /// Output channels.
    pub out_c: usize,
    pub groups: usize,
    /// Kernel `[kH, kW]`.
    pub k: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dil: [usize; 2],
    /// Output `[Ho, Wo]`.
    pub out: [usize; 2],
}

/// A boxed `conv2d` call: its tensors, read from the stack, and the
/// checked parameters.
#[derive(Debug, Clone)]
pub struct Conv2dCall<'a> {
    pub x: &'a Tensor,
    pub weight: &'a Tensor,
    pub bias: Option<&'a Tensor>,
    pub conv: Conv2d,
}

impl Conv2d {
    /// Reads a boxed `conv2d` call's arguments in schema order (`input,
    /// weight, bias, stride, padding, dilation, groups`) and checks them
    /// with [`Conv2d::check`].
    pub fn from_stack(s: &[IValue]) -> Result<Conv2dCall<'_>> {
        const OP: &str = "conv2d";
        let (x, weight, bias) = (s.tensor(OP, 0)?, s.tensor(OP, 1)?, s.opt_tensor(OP, 2)?);
        let conv = Conv2d::check(
            x,
            weight,
            bias,
            s.int_list(OP, 3)?,
            s.int_list(OP, 4)?,
            s.int_list(OP, 5)?,
            s.int(OP, 6)?,
        )?;
        Ok(Conv2dCall {
            x,
            weight,
            bias,
            conv,
        })
    }

    /// Checks a call's dtypes (float, all the same), ranks, channel counts,
    /// groups, bias shape and parameters, with PyTorch's messages.
    pub fn check(
        x: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: &[i64],
        padding: &[i64],
        dilation: &[i64],
        groups: i64,
    ) -> Result<Conv2d> {
        const OP: &str = "conv2d";
        let dt = x.dtype();
        if !dt.is_float() {
            return Err(Error::dtype(
                OP,
                dt,
                "conv2d is defined for f32, f16 and bf16",
            ));
        }
        for t in std::iter::once(weight).chain(bias) {
            if t.dtype() != dt {
                return Err(Error::DTypeMismatch {
                    op: OP.into(),
                    expected: dt,
                    got: t.dtype(),
                });
            }
        }
        let (xd, xs, batched) = nchw(OP, x)?;
        let ws = weight.shape();
        if ws.len() != 4 {
            return Err(Error::shape(
                OP,
                format!("weight must be 4-D [O, C/groups, kH, kW], got shape {ws:?}"),
            ));
        }
        if groups < 1 {
            return Err(Error::invalid(
                OP,
                format!("groups must be positive, got {groups}"),
            ));
        }
        let g = groups as usize;
        if ws[0] / g * g != ws[0] {
            return Err(Error::shape(
                OP,
                format!(
                    "out_channels {} (weight shape {ws:?}) must be divisible by groups {g}",
                    ws[0]
                ),
            ));
        }
        if ws[1] * g != xd[1] {
            return Err(Error::shape(
                OP,
                format!(
                    "given groups={g}, weight of size {ws:?}, expected input {:?} to have {} channels, but got {} channels instead",
                    x.shape(),
                    ws[1] * g,
                    xd[1]
                ),
            ));
        }
        if let Some(b) = bias {
            if b.shape() != [ws[0]] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "bias must have shape [{}] (out_channels), got {:?}",
                        ws[0],
                        b.shape()
                    ),
                ));
            }
        }
        let stride = pair(OP, "stride", stride, 1)?;
        let pad = pair(OP, "padding", padding, 0)?;
        let dil = pair(OP, "dilation", dilation, 1)?;
        let k = [ws[2], ws[3]];
        let fits = |i: usize| {
            if k[i] == 0 {
                None
            } else {
                out_size(xd[2 + i], k[i], stride[i], pad[i], dil[i])
            }
        };
        let (Some(ho), Some(wo)) = (fits(0), fits(1)) else {
            return Err(Error::shape(
                OP,
                format!(
                    "calculated padded input size per channel: ({} x {}). Kernel size: ({} x {}). Kernel size can't be greater than actual input size (input {:?}, weight {ws:?})",
                    xd[2] + 2 * pad[0],
                    xd[3] + 2 * pad[1],
                    dil[0] * k[0].saturating_sub(1) + 1,
                    dil[1] * k[1].saturating_sub(1) + 1,
                    x.shape()
                ),
            ));
        };
        Ok(Conv2d {
            x: xd,
            xs,
            offset: x.layout().offset(),
            batched,
            out_c: ws[0],
            groups: g,
            k,
            stride,
            pad,
            dil,
            out: [ho, wo],
        })
    }

    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.x[1] / self.groups
    }
    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.out_c / self.groups
    }
    /// Rows of a group's unfolded input (`C/groups * kH * kW`).
    pub fn kdim(&self) -> usize {
        self.cg() * self.k[0] * self.k[1]
    }
    /// Output positions per channel (`Ho * Wo`).
    pub fn l(&self) -> usize {
        self.out[0] * self.out[1]
    }
    /// The output shape: `[N, O, Ho, Wo]`, or `[O, Ho, Wo]` unbatched.
    pub fn out_shape(&self) -> Vec<usize> {
        let [ho, wo] = self.out;
        if self.batched {
            vec![self.x[0], self.out_c, ho, wo]
        } else {
            vec![self.out_c, ho, wo]
        }
    }
}

/// A checked `max_pool2d` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Input `[N, C, H, W]` sizes.
    pub d: [usize; 4],
    /// Input strides (0 along N when unbatched).
    pub s: [usize; 4],
    /// The input's storage offset.
    pub offset: usize,
    /// Whether the input was 4-D (the output is then too).
    pub batched: bool,
    pub k: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    /// Output `[Ho, Wo]`.
    pub out: [usize; 2],
}

impl MaxPool2d {
    /// Reads a boxed `max_pool2d` call's arguments in schema order (`input,
    /// kernel_size, stride, padding`) and checks them with
    /// [`MaxPool2d::check`]; returns the input with the checked call.
    pub fn from_stack(s: &[IValue]) -> Result<(&Tensor, MaxPool2d)> {
        const OP: &str = "max_pool2d";
        let x = s.tensor(OP, 0)?;
        let pool = MaxPool2d::check(
            x,
            s.int_list(OP, 1)?,
            s.int_list(OP, 2)?,
            s.int_list(OP, 3)?,
        )?;
        Ok((x, pool))
    }

    /// Checks a call: any dtype but bool, an empty `stride` meaning the
    /// kernel size, padding at most half the kernel, an output of at least
    /// one element per dim.
    pub fn check(
        x: &Tensor,
        kernel_size: &[i64],
        stride: &[i64],
        padding: &[i64],
    ) -> Result<MaxPool2d> {
        const OP: &str = "max_pool2d";
        let dt = x.dtype();
        if dt == DType::Bool {
            return Err(Error::dtype(
                OP,
                dt,
                "max_pool2d is defined for f32, f16, bf16 and i32",
            ));
        }
        let (d, s, batched) = nchw(OP, x)?;
        let k = pair(OP, "kernel_size", kernel_size, 1)?;
        let stride = if stride.is_empty() {
            k
        } else {
            pair(OP, "stride", stride, 1)?
        };
        let pad = pair(OP, "padding", padding, 0)?;
        if pad[0] > k[0] / 2 || pad[1] > k[1] / 2 {
            return Err(Error::invalid(
                OP,
                format!("pad should be at most half of kernel size, but got padding={padding:?} and kernel_size={kernel_size:?}"),
            ));
        }
        let (Some(ho), Some(wo)) = (
            out_size(d[2], k[0], stride[0], pad[0], 1),
            out_size(d[3], k[1], stride[1], pad[1], 1),
        ) else {
            return Err(Error::shape(
                OP,
                format!(
                    "given input shape {:?}, kernel_size {k:?} and padding {pad:?}, the output size would be less than 1",
                    x.shape()
                ),
            ));
        };
        Ok(MaxPool2d {
            d,
            s,
            offset: x.layout().offset(),
            batched,
            k,
            stride,
            pad,
            out: [ho, wo],
        })
    }

    /// The output shape: `[N, C, Ho, Wo]`, or `[C, Ho, Wo]` unbatched.
    pub fn out_shape(&self) -> Vec<usize> {
        let [ho, wo] = self.out;
        if self.batched {
            vec![self.d[0], self.d[1], ho, wo]
        } else {
            vec![self.d[1], ho, wo]
        }
    }
}
