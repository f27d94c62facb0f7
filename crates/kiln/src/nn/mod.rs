//! Neural-network layers built from kiln ops: [`Linear`], [`Mlp`],
//! [`LayerNorm`], [`Conv2d`], [`MaxPool2d`] and a pre-norm
//! [`TransformerBlock`], plus the three small models the `kiln` command
//! traces and benchmarks ([`models`]).
//!
//! A layer holds its parameters as tensors and runs `forward` through the
//! ordinary `Tensor` methods, so it works on every backend that has the ops
//! and a trace of it records those ops. Weights come from a seed (PyTorch's
//! default initialisation scale) or from tensors the caller made
//! (`from_weights`, which checks shapes, dtypes and devices).
//!
//! ```
//! use kiln::nn::{Linear, Module};
//! use kiln::{DType, Device};
//! let layer = Linear::new(4, 3, true, 7, DType::F32, &Device::Cpu)?;
//! let x = kiln::rand(&[2, 4], 1, DType::F32, &Device::Cpu)?;
//! assert_eq!(layer.forward(&x)?.shape(), &[2, 3]);
//! assert_eq!(layer.num_parameters(), 4 * 3 + 3);
//! # Ok::<(), kiln::Error>(())
//! ```

mod layers;
pub mod models;
mod transformer;

pub use layers::{Conv2d, LayerNorm, Linear, MaxPool2d, Mlp};
pub use transformer::TransformerBlock;

use crate::{DType, Device, Error, Result, Tensor};

/// A layer or model: a function of one tensor with parameters.
pub trait Module {
    /// Runs the layer on `x`.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// The parameters, in a fixed order (for each sub-layer in order: its
    /// weight, then its bias).
    fn parameters(&self) -> Vec<Tensor>;

    /// The same layer with every parameter on `device` (a parameter already
    /// there is shared, not copied).
    fn to(&self, device: &Device) -> Result<Self>
    where
        Self: Sized;

    /// The number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }
}

/// A seed for part `k` of a layer seeded with `seed` (splitmix64), so the
/// parts of a model draw independent streams.
pub(crate) fn sub_seed(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform samples in `[-bound, bound)` of `shape`: drawn in f32 on the CPU
/// (the same numbers whatever the target), then cast and moved.
pub(crate) fn uniform(
    shape: &[usize],
    bound: f64,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    crate::rand(shape, seed, DType::F32, &Device::Cpu)?
        .mul_scalar(2.0 * bound)?
        .sub_scalar(bound)?
        .to_dtype(dtype)?
        .to(device)
}

/// Checks that every parameter of layer `layer` has the dtype and device of
/// the first.
pub(crate) fn check_same_kind(layer: &str, params: &[(&str, &Tensor)]) -> Result<()> {
    let Some((first_name, first)) = params.first() else {
        return Ok(());
    };
    for (name, t) in &params[1..] {
        if t.dtype() != first.dtype() {
            return Err(Error::invalid(
                layer,
                format!(
                    "{name} is {} but {first_name} is {}",
                    t.dtype(),
                    first.dtype()
                ),
            ));
        }
        if t.device() != first.device() {
            return Err(Error::invalid(
                layer,
                format!(
                    "{name} is on {} but {first_name} is on {}",
                    t.device(),
                    first.device()
                ),
            ));
        }
    }
    Ok(())
}

/// `t` moved to `device`, or `None` moved as `None`.
pub(crate) fn opt_to(t: &Option<Tensor>, device: &Device) -> Result<Option<Tensor>> {
    t.as_ref().map(|t| t.to(device)).transpose()
}
