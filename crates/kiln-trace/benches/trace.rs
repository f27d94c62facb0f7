//! Tracer overhead on a chain of 100 `add`s over a [4] f32 tensor: running
//! it eagerly, tracing it, and replaying the traced graph.
//!
//! `cargo bench -p kiln-trace --bench trace`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kiln::{Device, Result, Tensor};
use kiln_trace::trace;

const CHAIN: usize = 100;

fn chain(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let mut acc = x.clone();
    for _ in 0..CHAIN {
        acc = acc.add(y)?;
    }
    Ok(acc)
}

fn bench(c: &mut Criterion) {
    let x = kiln::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4], &Device::Cpu).unwrap();
    let y = kiln::from_vec(vec![0.5f32, 0.25, 0.125, 1.0], &[4], &Device::Cpu).unwrap();
    let inputs = [x.clone(), y.clone()];
    let (_, graph) = trace(|i| chain(&i[0], &i[1]), &inputs).unwrap();
    assert_eq!(graph.op_names().len(), CHAIN);
    assert_eq!(
        graph.run(&inputs).unwrap()[0].to_vec::<f32>().unwrap(),
        chain(&x, &y).unwrap().to_vec::<f32>().unwrap()
    );

    let mut g = c.benchmark_group("add_chain_100");
    g.bench_function("eager", |b| {
        b.iter(|| chain(black_box(&x), black_box(&y)).unwrap())
    });
    g.bench_function("trace", |b| {
        b.iter(|| trace(|i| chain(&i[0], &i[1]), black_box(&inputs)).unwrap())
    });
    g.bench_function("replay", |b| {
        b.iter(|| graph.run(black_box(&inputs)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
