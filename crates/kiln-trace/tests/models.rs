//! Whole models: golden IR of an MLP and a small conv net, no `empty` node
//! in a traced model, and replay of a traced model equal to eager.

mod common;

use common::{assert_golden, vals};
use kiln::{Device, Result, Tensor};
use kiln_trace::trace;

/// The devices whose backend has the MLP's ops (see `testing::devices_for`).
fn mlp_devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::MATMUL, kiln::op::RELU])
}

/// The devices whose backend has the conv net's ops.
fn conv_devices() -> Vec<kiln::Device> {
    kiln::testing::devices_for(&[kiln::op::MATMUL, kiln::op::CONV2D, kiln::op::MAX_POOL2D])
}

struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    fn new(out: usize, inp: usize, seed: u64, dev: &Device) -> Result<Linear> {
        Ok(Linear {
            w: kiln::from_vec(vals(out * inp, seed), &[out, inp], dev)?,
            b: kiln::from_vec(vals(out, seed + 100), &[out], dev)?,
        })
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.linear(&self.w, Some(&self.b))
    }
}

/// A 3-layer MLP with bias: 4 -> 8 -> 8 -> 3, relu between the layers.
struct Mlp([Linear; 3]);

impl Mlp {
    fn new(dev: &Device) -> Result<Mlp> {
        Ok(Mlp([
            Linear::new(8, 4, 1, dev)?,
            Linear::new(8, 8, 2, dev)?,
            Linear::new(3, 8, 3, dev)?,
        ]))
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.0[0].forward(x)?.relu()?;
        let h = self.0[1].forward(&h)?.relu()?;
        self.0[2].forward(&h)
    }
}

/// conv(1 -> 2, 3x3, padding 1) -> relu -> max_pool 2x2 -> flatten -> linear(18 -> 4).
struct ConvNet {
    w: Tensor,
    b: Tensor,
    fc: Linear,
}

impl ConvNet {
    fn new(dev: &Device) -> Result<ConvNet> {
        Ok(ConvNet {
            w: kiln::from_vec(vals(18, 7), &[2, 1, 3, 3], dev)?,
            b: kiln::from_vec(vals(2, 8), &[2], dev)?,
            fc: Linear::new(4, 18, 9, dev)?,
        })
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = x
            .conv2d(&self.w, Some(&self.b), [1, 1], [1, 1], [1, 1], 1)?
            .relu()?;
        let h = h.max_pool2d([2, 2], None, [0, 0])?.reshape(&[1, -1])?;
        self.fc.forward(&h)
    }
}

#[test]
fn mlp_golden_ir() {
    let dev = Device::Cpu;
    let mlp = Mlp::new(&dev).unwrap();
    let x = kiln::from_vec(vals(8, 11), &[2, 4], &dev).unwrap();
    let (_, mut g) = trace(|i| mlp.forward(&i[0]), &[x]).unwrap();
    g.set_input_names(&["x"]).unwrap();
    assert_golden("mlp", &g.to_string());
}

#[test]
fn conv_net_golden_ir() {
    let dev = Device::Cpu;
    let net = ConvNet::new(&dev).unwrap();
    let x = kiln::from_vec(vals(36, 12), &[1, 1, 6, 6], &dev).unwrap();
    let (_, mut g) = trace(|i| net.forward(&i[0]), &[x]).unwrap();
    g.set_input_names(&["x"]).unwrap();
    assert_golden("conv_net", &g.to_string());
}

#[test]
fn traced_mlp_has_no_empty_node_on_every_device() {
    for dev in mlp_devices() {
        let mlp = Mlp::new(&dev).unwrap();
        let x = kiln::from_vec(vals(8, 11), &[2, 4], &dev).unwrap();
        let (_, g) = trace(|i| mlp.forward(&i[0]), &[x]).unwrap();
        assert_eq!(g.count_op("kiln::empty"), 0, "on {dev}:\n{g}");
        assert_eq!(
            g.op_names(),
            vec![
                "kiln::linear",
                "kiln::relu",
                "kiln::linear",
                "kiln::relu",
                "kiln::linear"
            ],
            "on {dev}"
        );
        assert_eq!(
            g.num_constants(),
            6,
            "three weights and three biases, on {dev}"
        );
    }
}

#[test]
fn traced_mlp_replays_equal_to_eager_on_every_device() {
    for dev in mlp_devices() {
        let mlp = Mlp::new(&dev).unwrap();
        let x = kiln::from_vec(vals(8, 11), &[2, 4], &dev).unwrap();
        let (outs, g) = trace(|i| mlp.forward(&i[0]), std::slice::from_ref(&x)).unwrap();
        assert_eq!(
            outs[0].to_bytes().unwrap(),
            mlp.forward(&x).unwrap().to_bytes().unwrap()
        );
        let x2 = kiln::from_vec(vals(8, 12), &[2, 4], &dev).unwrap();
        let replay = g.run(std::slice::from_ref(&x2)).unwrap();
        assert_eq!(
            replay[0].to_bytes().unwrap(),
            mlp.forward(&x2).unwrap().to_bytes().unwrap(),
            "on {dev}"
        );
    }
}

#[test]
fn traced_conv_net_replays_equal_to_eager_on_every_device() {
    for dev in conv_devices() {
        let net = ConvNet::new(&dev).unwrap();
        let x = kiln::from_vec(vals(36, 12), &[1, 1, 6, 6], &dev).unwrap();
        let (_, g) = trace(|i| net.forward(&i[0]), &[x]).unwrap();
        assert_eq!(g.count_op("kiln::empty"), 0, "on {dev}");
        let x2 = kiln::from_vec(vals(36, 13), &[1, 1, 6, 6], &dev).unwrap();
        let replay = g.run(std::slice::from_ref(&x2)).unwrap();
        assert_eq!(
            replay[0].to_bytes().unwrap(),
            net.forward(&x2).unwrap().to_bytes().unwrap(),
            "on {dev}"
        );
    }
}
