//! The basic layers: `Linear`, `Mlp`, `LayerNorm`, `Conv2d`, `MaxPool2d`.

use super::{check_same_kind, opt_to, sub_seed, uniform, Module};
use crate::{DType, Device, Error, Result, Tensor};

/// `y = x @ weight^T + bias`, weight `[out_features, in_features]`
/// (`torch.nn.Linear`).
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer with weight and bias drawn uniformly from
    /// `[-1/sqrt(in_features), 1/sqrt(in_features))`, PyTorch's default
    /// scale, from the stream of `seed`.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Linear> {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight = uniform(
            &[out_features, in_features],
            bound,
            sub_seed(seed, 0),
            dtype,
            device,
        )?;
        let bias = if bias {
            Some(uniform(
                &[out_features],
                bound,
                sub_seed(seed, 1),
                dtype,
                device,
            )?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// A layer from a `[out, in]` weight and an optional `[out]` bias of the
    /// same dtype and device.
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        check_weight_bias(
            "nn::Linear",
            &weight,
            bias.as_ref(),
            2,
            "[out_features, in_features]",
        )?;
        Ok(Linear { weight, bias })
    }

    /// The `[out_features, in_features]` weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The `[out_features]` bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The size of an input's last dim.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The size of the output's last dim.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.shape().last() != Some(&self.in_features()) {
            return Err(Error::shape(
                "nn::Linear",
                format!(
                    "input of shape {:?} does not end in in_features = {} (weight {:?})",
                    x.shape(),
                    self.in_features(),
                    self.weight.shape()
                ),
            ));
        }
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn parameters(&self) -> Vec<Tensor> {
        std::iter::once(self.weight.clone())
            .chain(self.bias.clone())
            .collect()
    }

    fn to(&self, device: &Device) -> Result<Linear> {
        Ok(Linear {
            weight: self.weight.to(device)?,
            bias: opt_to(&self.bias, device)?,
        })
    }
}

/// Linear layers with `relu` between them (not after the last).
#[derive(Clone, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Layers `sizes[0] -> sizes[1] -> ... -> sizes[n]`, each with a bias,
    /// seeded from `seed` (layer `i` from its own sub-stream).
    pub fn new(sizes: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Mlp> {
        if sizes.len() < 2 {
            return Err(Error::invalid(
                "nn::Mlp",
                format!("needs at least an input and an output size, got sizes {sizes:?}"),
            ));
        }
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(w[0], w[1], true, sub_seed(seed, i as u64), dtype, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Mlp { layers })
    }

    /// An MLP of the given layers; each layer's `in_features` must be the
    /// previous layer's `out_features`.
    pub fn from_layers(layers: Vec<Linear>) -> Result<Mlp> {
        if layers.is_empty() {
            return Err(Error::invalid("nn::Mlp", "needs at least one layer"));
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[0].out_features() != pair[1].in_features() {
                return Err(Error::shape(
                    "nn::Mlp",
                    format!(
                        "layer {i} has weight {:?} ({} outputs) but layer {} has weight {:?} ({} inputs)",
                        pair[0].weight().shape(),
                        pair[0].out_features(),
                        i + 1,
                        pair[1].weight().shape(),
                        pair[1].in_features()
                    ),
                ));
            }
        }
        Ok(Mlp { layers })
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    fn parameters(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(Linear::parameters).collect()
    }

    fn to(&self, device: &Device) -> Result<Mlp> {
        Ok(Mlp {
            layers: self
                .layers
                .iter()
                .map(|l| l.to(device))
                .collect::<Result<_>>()?,
        })
    }
}

/// Layer norm over the trailing `normalized_shape` dims, with a weight
/// (initially ones) and a bias (initially zeros) of that shape
/// (`torch.nn.LayerNorm`).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Weight ones, bias zeros, as PyTorch initialises them.
    pub fn new(
        normalized_shape: &[usize],
        eps: f64,
        dtype: DType,
        device: &Device,
    ) -> Result<LayerNorm> {
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            weight: crate::ones(normalized_shape, dtype, device)?,
            bias: crate::zeros(normalized_shape, dtype, device)?,
            eps,
        })
    }

    /// A layer norm over the shape of `weight`; `bias` must have the same
    /// shape, dtype and device.
    pub fn from_weights(weight: Tensor, bias: Tensor, eps: f64) -> Result<LayerNorm> {
        if weight.ndim() == 0 || bias.shape() != weight.shape() {
            return Err(Error::shape(
                "nn::LayerNorm",
                format!(
                    "weight and bias must have the same non-empty normalized shape, got {:?} and {:?}",
                    weight.shape(),
                    bias.shape()
                ),
            ));
        }
        check_same_kind("nn::LayerNorm", &[("weight", &weight), ("bias", &bias)])?;
        Ok(LayerNorm {
            normalized_shape: weight.shape().to_vec(),
            weight,
            bias,
            eps,
        })
    }

    /// The trailing dims normalised over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.normalized_shape.len();
        if x.ndim() < n || x.shape()[x.ndim() - n..] != self.normalized_shape[..] {
            return Err(Error::shape(
                "nn::LayerNorm",
                format!(
                    "input of shape {:?} does not end in the normalized shape {:?}",
                    x.shape(),
                    self.normalized_shape
                ),
            ));
        }
        x.layer_norm(
            &self.normalized_shape,
            Some(&self.weight),
            Some(&self.bias),
            self.eps,
        )
    }

    fn parameters(&self) -> Vec<Tensor> {
        vec![self.weight.clone(), self.bias.clone()]
    }

    fn to(&self, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm {
            normalized_shape: self.normalized_shape.clone(),
            weight: self.weight.to(device)?,
            bias: self.bias.to(device)?,
            eps: self.eps,
        })
    }
}

/// 2-D convolution of `[N, C, H, W]` input with a `[O, C, kH, kW]` weight
/// and a `[O]` bias (`torch.nn.Conv2d` with `groups = 1`, `dilation = 1`).
#[derive(Clone, Debug)]
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
}

impl Conv2d {
    /// A square `kernel_size` convolution with a bias, stride 1 and no
    /// padding (see [`Conv2d::with_stride`], [`Conv2d::with_padding`]);
    /// weight and bias drawn uniformly from `[-1/sqrt(fan_in),
    /// 1/sqrt(fan_in))` with `fan_in = in_channels * kernel_size^2`, PyTorch's
    /// default scale.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Conv2d> {
        let fan_in = in_channels * kernel_size * kernel_size;
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let weight = uniform(
            &[out_channels, in_channels, kernel_size, kernel_size],
            bound,
            sub_seed(seed, 0),
            dtype,
            device,
        )?;
        let bias = uniform(&[out_channels], bound, sub_seed(seed, 1), dtype, device)?;
        Ok(Conv2d {
            weight,
            bias: Some(bias),
            stride: [1, 1],
            padding: [0, 0],
        })
    }

    /// A convolution of a `[O, C, kH, kW]` weight and an optional `[O]`
    /// bias, stride 1, no padding.
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Result<Conv2d> {
        check_weight_bias(
            "nn::Conv2d",
            &weight,
            bias.as_ref(),
            4,
            "[out_channels, in_channels, kH, kW]",
        )?;
        Ok(Conv2d {
            weight,
            bias,
            stride: [1, 1],
            padding: [0, 0],
        })
    }

    /// The same layer with `stride` in both spatial dims.
    pub fn with_stride(mut self, stride: usize) -> Conv2d {
        self.stride = [stride, stride];
        self
    }

    /// The same layer with `padding` zeros on every side.
    pub fn with_padding(mut self, padding: usize) -> Conv2d {
        self.padding = [padding, padding];
        self
    }

    /// The `[O, C, kH, kW]` weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The `[O]` bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.weight.shape()[1];
        if x.ndim() != 4 || x.shape()[1] != c {
            return Err(Error::shape(
                "nn::Conv2d",
                format!(
                    "input must be [N, {c}, H, W] for weight {:?}, got shape {:?}",
                    self.weight.shape(),
                    x.shape()
                ),
            ));
        }
        x.conv2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            [1, 1],
            1,
        )
    }

    fn parameters(&self) -> Vec<Tensor> {
        std::iter::once(self.weight.clone())
            .chain(self.bias.clone())
            .collect()
    }

    fn to(&self, device: &Device) -> Result<Conv2d> {
        Ok(Conv2d {
            weight: self.weight.to(device)?,
            bias: opt_to(&self.bias, device)?,
            ..self.clone()
        })
    }
}

/// 2-D max pooling of `[N, C, H, W]` (`torch.nn.MaxPool2d`); no parameters.
#[derive(Clone, Debug)]
pub struct MaxPool2d {
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
}

impl MaxPool2d {
    /// A square window of `kernel_size`, stride `kernel_size`, no padding.
    pub fn new(kernel_size: usize) -> MaxPool2d {
        MaxPool2d {
            kernel_size: [kernel_size; 2],
            stride: [kernel_size; 2],
            padding: [0, 0],
        }
    }

    /// The same pooling with `stride` in both spatial dims.
    pub fn with_stride(mut self, stride: usize) -> MaxPool2d {
        self.stride = [stride, stride];
        self
    }

    /// The same pooling with `padding` (of `-inf`) on every side.
    pub fn with_padding(mut self, padding: usize) -> MaxPool2d {
        self.padding = [padding, padding];
        self
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d(self.kernel_size, Some(self.stride), self.padding)
    }

    fn parameters(&self) -> Vec<Tensor> {
        Vec::new()
    }

    fn to(&self, _device: &Device) -> Result<MaxPool2d> {
        Ok(self.clone())
    }
}

/// A layer's weight of rank `rank` (its dims named by `dims`), and its
/// bias, when given, of shape `[weight.shape()[0]]` and the weight's dtype
/// and device.
fn check_weight_bias(
    layer: &str,
    weight: &Tensor,
    bias: Option<&Tensor>,
    rank: usize,
    dims: &str,
) -> Result<()> {
    if weight.ndim() != rank {
        return Err(Error::shape(
            layer,
            format!(
                "weight must be {rank}-D {dims}, got shape {:?}",
                weight.shape()
            ),
        ));
    }
    if let Some(b) = bias {
        if b.shape() != [weight.shape()[0]] {
            return Err(Error::shape(
                layer,
                format!(
                    "bias must have shape [{}] to match weight {:?}, got {:?}",
                    weight.shape()[0],
                    weight.shape(),
                    b.shape()
                ),
            ));
        }
        check_same_kind(layer, &[("weight", weight), ("bias", b)])?;
    }
    Ok(())
}
