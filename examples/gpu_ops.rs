//! Tensor ops on the GPU: make tensors on a wgpu device, run a few ops,
//! read the results back, and check them against the CPU. Without a GPU
//! adapter it runs on the CPU and says why in one line.
//!
//! `cargo run -p kiln --example gpu_ops`

use kiln::prelude::*;

fn main() -> kiln::Result<()> {
    let dev = match Device::wgpu() {
        Ok(d) => d,
        Err(e) => {
            let reason = e.to_string();
            println!(
                "no GPU, running on the CPU: {}",
                reason.lines().next().unwrap_or("no adapter")
            );
            Device::Cpu
        }
    };
    println!("device: {dev}\n");

    // Tensors are made on the device; ops on them run there.
    let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3], &dev)?;
    let w = Tensor::randn(&[3, 4], 7, DType::F32, &dev)?;
    println!("x = {x}\n");
    println!("relu(x) = {}\n", x.relu()?);
    println!("x.t() (a view, no copy) = {}\n", x.t()?);
    println!("x + 10 = {}\n", x.add_scalar(10.0)?);
    println!("sum over dim 1 = {}\n", x.sum(&[1], false)?);
    println!("softmax(x, -1) = {}\n", x.softmax(-1)?);
    let y = x.matmul(&w)?.gelu()?;
    println!("gelu(x @ w) = {y}\n");

    // The CPU is the reference: the same ops on copies of the same data.
    let (xc, wc) = (x.to(&Device::Cpu)?, w.to(&Device::Cpu)?);
    let want = xc.matmul(&wc)?.gelu()?.to_vec::<f32>()?;
    let got = y.to_vec::<f32>()?;
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("max |{dev} - cpu| for gelu(x @ w): {diff:e}");
    if diff > 1e-4 {
        return Err(kiln::Error::invalid(
            "gpu_ops",
            format!("{dev} and the CPU differ by {diff}"),
        ));
    }
    Ok(())
}
