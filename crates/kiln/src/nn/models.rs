//! The three small models the `kiln` command traces and benchmarks, with
//! the input shapes they are run on.

use super::{Conv2d, Linear, MaxPool2d, Mlp, Module, TransformerBlock};
use crate::{DType, Device, Error, Result, Tensor};

/// The names [`Model::by_name`] knows.
pub const NAMES: [&str; 3] = ["mlp", "cnn", "transformer"];

/// Three `512 -> 512` linear layers with relu between them; run on `[64, 512]`.
pub fn mlp(seed: u64, dtype: DType, device: &Device) -> Result<Mlp> {
    Mlp::new(&[512, 512, 512, 512], seed, dtype, device)
}

/// A small conv net for `[N, 1, 28, 28]` images: (conv 3x3 pad 1, relu,
/// max-pool 2x2) twice (1 -> 8 -> 16 channels), flatten, linear 784 -> 10.
#[derive(Clone, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
}

/// See [`Cnn`]; run on `[8, 1, 28, 28]`.
pub fn cnn(seed: u64, dtype: DType, device: &Device) -> Result<Cnn> {
    let s = |k| super::sub_seed(seed, k);
    Ok(Cnn {
        conv1: Conv2d::new(1, 8, 3, s(0), dtype, device)?.with_padding(1),
        conv2: Conv2d::new(8, 16, 3, s(1), dtype, device)?.with_padding(1),
        pool: MaxPool2d::new(2),
        fc: Linear::new(16 * 7 * 7, 10, true, s(2), dtype, device)?,
    })
}

impl Module for Cnn {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.pool.forward(&self.conv1.forward(x)?.relu()?)?;
        let h = self.pool.forward(&self.conv2.forward(&h)?.relu()?)?;
        let n = h.shape()[0] as i64;
        self.fc.forward(&h.reshape(&[n, -1])?)
    }

    fn parameters(&self) -> Vec<Tensor> {
        [
            self.conv1.parameters(),
            self.conv2.parameters(),
            self.fc.parameters(),
        ]
        .concat()
    }

    fn to(&self, device: &Device) -> Result<Cnn> {
        Ok(Cnn {
            conv1: self.conv1.to(device)?,
            conv2: self.conv2.to(device)?,
            pool: self.pool.clone(),
            fc: self.fc.to(device)?,
        })
    }
}

/// One transformer block, `d_model` 256, 4 heads, MLP hidden size 1024;
/// run on `[1, 128, 256]` (a sequence of 128).
pub fn transformer(seed: u64, dtype: DType, device: &Device) -> Result<TransformerBlock> {
    TransformerBlock::new(256, 4, 1024, seed, dtype, device)
}

/// One of the three models, picked by name.
#[derive(Clone, Debug)]
pub enum Model {
    /// [`mlp`].
    Mlp(Mlp),
    /// [`cnn`].
    Cnn(Cnn),
    /// [`transformer`].
    Transformer(TransformerBlock),
}

impl Model {
    /// `mlp`, `cnn` or `transformer` (see [`NAMES`]).
    pub fn by_name(name: &str, seed: u64, dtype: DType, device: &Device) -> Result<Model> {
        Ok(match name {
            "mlp" => Model::Mlp(mlp(seed, dtype, device)?),
            "cnn" => Model::Cnn(cnn(seed, dtype, device)?),
            "transformer" => Model::Transformer(transformer(seed, dtype, device)?),
            _ => {
                return Err(Error::invalid(
                    "nn::models",
                    format!(
                        "unknown model {name:?}; expected one of {}",
                        NAMES.join(", ")
                    ),
                ))
            }
        })
    }

    /// The model's name.
    pub fn name(&self) -> &'static str {
        match self {
            Model::Mlp(_) => "mlp",
            Model::Cnn(_) => "cnn",
            Model::Transformer(_) => "transformer",
        }
    }

    /// The input shape the model is traced and benchmarked on.
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            Model::Mlp(_) => vec![64, 512],
            Model::Cnn(_) => vec![8, 1, 28, 28],
            Model::Transformer(_) => vec![1, 128, 256],
        }
    }

    /// A seeded input of [`Model::input_shape`], uniform in `[-1, 1)`.
    pub fn input(&self, seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
        super::uniform(&self.input_shape(), 1.0, seed, dtype, device)
    }
}

impl Module for Model {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Model::Mlp(m) => m.forward(x),
            Model::Cnn(m) => m.forward(x),
            Model::Transformer(m) => m.forward(x),
        }
    }

    fn parameters(&self) -> Vec<Tensor> {
        match self {
            Model::Mlp(m) => m.parameters(),
            Model::Cnn(m) => m.parameters(),
            Model::Transformer(m) => m.parameters(),
        }
    }

    fn to(&self, device: &Device) -> Result<Model> {
        Ok(match self {
            Model::Mlp(m) => Model::Mlp(m.to(device)?),
            Model::Cnn(m) => Model::Cnn(m.to(device)?),
            Model::Transformer(m) => Model::Transformer(m.to(device)?),
        })
    }
}
