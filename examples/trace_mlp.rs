//! Trace a small MLP: print its IR, write the graph as DOT (for Graphviz)
//! and JSON, load the JSON back, and replay it on a new input, checking
//! that the replay equals running the model eagerly.
//!
//! `cargo run -p kiln --example trace_mlp`

use kiln::nn::{Mlp, Module};
use kiln::prelude::*;
use kiln::trace::{trace, Graph};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    // 16 -> 32 -> 32 -> 4, relu between the layers, weights from seed 0.
    let mlp = Mlp::new(&[16, 32, 32, 4], 0, DType::F32, &dev)?;
    let x = Tensor::rand(&[8, 16], 1, DType::F32, &dev)?;

    // Record the forward pass. The weights enter the graph as constants.
    let (outs, mut graph) = trace(|i| mlp.forward(&i[0]), std::slice::from_ref(&x))?;
    graph.set_input_names(&["x"])?;
    println!("{graph}");

    let dir = std::env::temp_dir().join("kiln-trace-mlp");
    std::fs::create_dir_all(&dir)?;
    let (dot, json) = (dir.join("mlp.dot"), dir.join("mlp.json"));
    std::fs::write(&dot, graph.to_dot())?;
    std::fs::write(&json, graph.to_json()?)?;
    println!(
        "wrote {} (render: dot -Tsvg {} -o mlp.svg)",
        dot.display(),
        dot.display()
    );
    println!("wrote {}", json.display());

    // Replay, from the graph and from its JSON, on a new input.
    let loaded = Graph::from_json(&std::fs::read_to_string(&json)?)?;
    let x2 = Tensor::rand(&[8, 16], 2, DType::F32, &dev)?;
    let eager = mlp.forward(&x2)?.to_vec::<f32>()?;
    let replayed = graph.run(std::slice::from_ref(&x2))?[0].to_vec::<f32>()?;
    let from_json = loaded.run(std::slice::from_ref(&x2))?[0].to_vec::<f32>()?;
    let same_input = graph.run(std::slice::from_ref(&x))?[0].to_vec::<f32>()?;
    let ok = replayed == eager && from_json == eager && same_input == outs[0].to_vec::<f32>()?;
    println!("replay equals the eager run: {ok}");
    if !ok {
        return Err("the replayed graph differs from the eager run".into());
    }
    Ok(())
}
