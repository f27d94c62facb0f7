//! A pre-norm transformer block: multi-head self-attention, then an MLP,
//! each behind a layer norm and inside a residual connection.

use super::{sub_seed, LayerNorm, Linear, Module};
use crate::{DType, Device, Error, Result, Tensor};

/// `x + attn(ln1(x))`, then `h + fc2(gelu(fc1(ln2(h))))`, on `[S, D]` or
/// `[B, S, D]` input (GPT-2's block without dropout or a causal mask).
///
/// Attention: one `[D, 3D]` projection gives queries, keys and values;
/// each of the `n_heads` heads of size `D / n_heads` computes
/// `softmax(q k^T / sqrt(D / n_heads)) v`; the heads are concatenated and
/// projected by a `[D, D]` linear layer.
#[derive(Clone, Debug)]
pub struct TransformerBlock {
    n_heads: usize,
    ln1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// PyTorch's default layer norm epsilon.
const EPS: f64 = 1e-5;

impl TransformerBlock {
    /// A block of width `d_model`, `n_heads` heads and an MLP of hidden
    /// size `d_ff`, seeded from `seed`.
    pub fn new(
        d_model: usize,
        n_heads: usize,
        d_ff: usize,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<TransformerBlock> {
        check_heads(d_model, n_heads)?;
        let s = |k| sub_seed(seed, k);
        Ok(TransformerBlock {
            n_heads,
            ln1: LayerNorm::new(&[d_model], EPS, dtype, device)?,
            qkv: Linear::new(d_model, 3 * d_model, true, s(0), dtype, device)?,
            proj: Linear::new(d_model, d_model, true, s(1), dtype, device)?,
            ln2: LayerNorm::new(&[d_model], EPS, dtype, device)?,
            fc1: Linear::new(d_model, d_ff, true, s(2), dtype, device)?,
            fc2: Linear::new(d_ff, d_model, true, s(3), dtype, device)?,
        })
    }

    /// A block from its layers: `qkv` maps `D -> 3D`, `proj` `D -> D`,
    /// `fc1` `D -> F`, `fc2` `F -> D`, both layer norms over `[D]`.
    pub fn from_layers(
        n_heads: usize,
        ln1: LayerNorm,
        qkv: Linear,
        proj: Linear,
        ln2: LayerNorm,
        fc1: Linear,
        fc2: Linear,
    ) -> Result<TransformerBlock> {
        let d = qkv.in_features();
        check_heads(d, n_heads)?;
        let want = [
            ("ln1", ln1.normalized_shape().to_vec(), vec![d]),
            ("qkv", qkv.weight().shape().to_vec(), vec![3 * d, d]),
            ("proj", proj.weight().shape().to_vec(), vec![d, d]),
            ("ln2", ln2.normalized_shape().to_vec(), vec![d]),
            (
                "fc1",
                fc1.weight().shape().to_vec(),
                vec![fc1.out_features(), d],
            ),
            (
                "fc2",
                fc2.weight().shape().to_vec(),
                vec![d, fc1.out_features()],
            ),
        ];
        for (name, got, want) in want {
            if got != want {
                return Err(Error::shape(
                    "nn::TransformerBlock",
                    format!("{name} has shape {got:?}, expected {want:?} for d_model = {d}"),
                ));
            }
        }
        Ok(TransformerBlock {
            n_heads,
            ln1,
            qkv,
            proj,
            ln2,
            fc1,
            fc2,
        })
    }

    /// The model width `D`.
    pub fn d_model(&self) -> usize {
        self.qkv.in_features()
    }

    /// The number of attention heads.
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Multi-head self-attention of `h` (`[B, S, D]`), before the residual.
    fn attention(&self, h: &Tensor) -> Result<Tensor> {
        let (b, s, d) = (
            h.shape()[0] as i64,
            h.shape()[1] as i64,
            self.d_model() as i64,
        );
        let (nh, dh) = (
            self.n_heads as i64,
            self.d_model() as i64 / self.n_heads as i64,
        );
        let qkv = self.qkv.forward(h)?;
        // [B, S, D] -> [B, H, S, dh]: views, no copy.
        let head = |i: i64| -> Result<Tensor> {
            qkv.narrow(-1, i * d, d)?
                .reshape(&[b, s, nh, dh])?
                .permute(&[0, 2, 1, 3])
        };
        let (q, k, v) = (head(0)?, head(1)?, head(2)?);
        let scores = q
            .matmul(&k.transpose(-1, -2)?)?
            .mul_scalar(1.0 / (dh as f64).sqrt())?;
        let ctx = scores.softmax(-1)?.matmul(&v)?;
        let ctx = ctx.permute(&[0, 2, 1, 3])?.reshape(&[b, s, d])?;
        self.proj.forward(&ctx)
    }
}

fn check_heads(d_model: usize, n_heads: usize) -> Result<()> {
    if n_heads == 0 || !d_model.is_multiple_of(n_heads) {
        return Err(Error::invalid(
            "nn::TransformerBlock",
            format!("d_model = {d_model} must be a positive multiple of n_heads = {n_heads}"),
        ));
    }
    Ok(())
}

impl Module for TransformerBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let d = self.d_model();
        if !(x.ndim() == 2 || x.ndim() == 3) || x.shape().last() != Some(&d) {
            return Err(Error::shape(
                "nn::TransformerBlock",
                format!(
                    "input must be [S, {d}] or [B, S, {d}], got shape {:?}",
                    x.shape()
                ),
            ));
        }
        let x3 = if x.ndim() == 2 {
            x.unsqueeze(0)?
        } else {
            x.clone()
        };
        let h = x3.add(&self.attention(&self.ln1.forward(&x3)?)?)?;
        let m = self
            .fc2
            .forward(&self.fc1.forward(&self.ln2.forward(&h)?)?.gelu()?)?;
        let out = h.add(&m)?;
        if x.ndim() == 2 {
            out.squeeze(Some(0))
        } else {
            Ok(out)
        }
    }

    fn parameters(&self) -> Vec<Tensor> {
        [
            self.ln1.parameters(),
            self.qkv.parameters(),
            self.proj.parameters(),
            self.ln2.parameters(),
            self.fc1.parameters(),
            self.fc2.parameters(),
        ]
        .concat()
    }

    fn to(&self, device: &Device) -> Result<TransformerBlock> {
        Ok(TransformerBlock {
            n_heads: self.n_heads,
            ln1: self.ln1.to(device)?,
            qkv: self.qkv.to(device)?,
            proj: self.proj.to(device)?,
            ln2: self.ln2.to(device)?,
            fc1: self.fc1.to(device)?,
            fc2: self.fc2.to(device)?,
        })
    }
}
