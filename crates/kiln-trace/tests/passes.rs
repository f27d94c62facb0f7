//! Graph passes: each has a golden IR test and leaves replay results
//! unchanged, on every device.

mod common;

use common::assert_golden;
use kiln::testing::devices;
use kiln::{DType, Device, Tensor};
use kiln_trace::{trace, Graph};

fn inputs(dev: &Device, seed: u64) -> Vec<Tensor> {
    vec![
        kiln::from_vec(common::vals(4, seed), &[4], dev).unwrap(),
        kiln::from_vec(common::vals(4, seed + 1), &[4], dev).unwrap(),
    ]
}

/// Runs `before` and `after` on fresh inputs; the results must be equal bit for bit.
fn assert_same_results(before: &Graph, after: &Graph, dev: &Device) {
    for seed in [10, 20] {
        let ins = inputs(dev, seed);
        let a = before.run(&ins).unwrap();
        let b = after.run(&ins).unwrap();
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(
                a.to_bytes().unwrap(),
                b.to_bytes().unwrap(),
                "the pass changed a result on {dev}"
            );
        }
    }
}

fn dce_graph(dev: &Device) -> Graph {
    let (_, g) = trace(
        |i| {
            let dead = i[0].mul(&i[1])?;
            let _also_dead = dead.add_scalar(1.0)?;
            let _unused_factory = kiln::zeros(&[4], DType::F32, dev)?;
            i[0].add(&i[1])
        },
        &inputs(dev, 1),
    )
    .unwrap();
    g
}

#[test]
fn dead_code_elimination_golden_ir() {
    let mut g = dce_graph(&Device::Cpu);
    assert_eq!(
        g.op_names(),
        vec!["kiln::mul", "kiln::add_scalar", "kiln::zeros", "kiln::add"]
    );
    assert_eq!(g.eliminate_dead_code(), 3);
    assert_golden("dce", &g.to_string());
    assert_eq!(g.eliminate_dead_code(), 0, "a second run finds nothing");
}

#[test]
fn dead_code_elimination_keeps_results() {
    for dev in devices() {
        let before = dce_graph(&dev);
        let mut after = before.clone();
        after.eliminate_dead_code();
        assert_same_results(&before, &after, &dev);
    }
}

#[test]
fn dead_code_elimination_keeps_unused_inputs() {
    let (_, mut g) = trace(|i| i[0].add_scalar(1.0), &inputs(&Device::Cpu, 1)).unwrap();
    g.eliminate_dead_code();
    assert_eq!(g.inputs().len(), 2);
    assert_eq!(g.run(&inputs(&Device::Cpu, 2)).unwrap().len(), 1);
}

fn cse_graph(dev: &Device) -> Graph {
    let c1 = kiln::from_vec(vec![2.0f32; 4], &[4], dev).unwrap();
    let c2 = kiln::from_vec(vec![2.0f32; 4], &[4], dev).unwrap();
    let (_, g) = trace(
        |i| {
            let a = i[0].add(&i[1])?;
            let b = i[0].add(&i[1])?;
            let s1 = a.mul_scalar(0.5)?;
            let s2 = b.mul_scalar(0.5)?;
            let s3 = b.mul_scalar(0.25)?; // a different attribute: kept
            let d = i[1].add(&i[0])?; // operands swapped: kept
            let p = s1.mul(&c1)?.add(&s2.mul(&c2)?)?;
            Ok((p.add(&s3)?.add(&d)?, kiln::zeros(&[4], DType::F32, dev)?))
        },
        &inputs(dev, 1),
    )
    .unwrap();
    g
}

#[test]
fn common_subexpression_elimination_golden_ir() {
    let mut g = cse_graph(&Device::Cpu);
    assert_eq!(g.op_names().len(), 12);
    // The second add, the second mul_scalar, the second constant and then
    // the second mul by it.
    assert_eq!(g.eliminate_common_subexpressions(), 4);
    assert_golden("cse", &g.to_string());
    assert_eq!(g.eliminate_common_subexpressions(), 0);
}

#[test]
fn common_subexpression_elimination_keeps_results() {
    for dev in devices() {
        let before = cse_graph(&dev);
        let mut after = before.clone();
        after.eliminate_common_subexpressions();
        assert_same_results(&before, &after, &dev);
    }
}

#[test]
fn common_subexpression_elimination_never_merges_empty() {
    let dev = Device::Cpu;
    let (_, mut g) = trace(
        |i| {
            let a = kiln::empty(&[4], DType::F32, &dev)?.mul_scalar(0.0)?;
            let b = kiln::empty(&[4], DType::F32, &dev)?.mul_scalar(0.0)?;
            i[0].add(&a)?.add(&b)
        },
        &inputs(&dev, 1),
    )
    .unwrap();
    assert_eq!(g.eliminate_common_subexpressions(), 0);
    assert_eq!(g.count_op("kiln::empty"), 2);
}

fn fold_graph(dev: &Device) -> Graph {
    let w1 = kiln::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4], dev).unwrap();
    let w2 = kiln::from_vec(vec![0.5f32, 0.25, -1.0, 8.0], &[4], dev).unwrap();
    let (_, g) = trace(
        |i| {
            let c = w1.add(&w2)?;
            let k = w1.mul_scalar(3.0)?.to_dtype(DType::F16)?;
            let z = kiln::full(&[4], 1.5, DType::F32, dev)?;
            i[0].mul(&c)?.add(&k)?.add(&z)?.sub(&i[1])
        },
        &inputs(dev, 1),
    )
    .unwrap();
    g
}

#[test]
fn constant_folding_golden_ir() {
    let mut g = fold_graph(&Device::Cpu);
    assert_eq!(
        g.op_names(),
        vec![
            "kiln::add",
            "kiln::mul_scalar",
            "kiln::cast",
            "kiln::full",
            "kiln::mul",
            "kiln::add",
            "kiln::add",
            "kiln::sub"
        ]
    );
    // add(w1, w2), mul_scalar(w1), and then the cast of the folded mul_scalar.
    assert_eq!(g.fold_constants().unwrap(), 3);
    assert_golden("fold", &g.to_string());
    assert_eq!(g.fold_constants().unwrap(), 0);
}

#[test]
fn constant_folding_keeps_results() {
    for dev in devices() {
        let before = fold_graph(&dev);
        let mut after = before.clone();
        after.fold_constants().unwrap();
        assert_same_results(&before, &after, &dev);
    }
}

#[test]
fn constant_folding_inside_a_trace_records_nothing() {
    let dev = Device::Cpu;
    let mut g = fold_graph(&dev);
    let (_, outer) = trace(
        |i| {
            g.fold_constants()?;
            i[0].add(&i[1])
        },
        &inputs(&dev, 3),
    )
    .unwrap();
    assert_eq!(outer.op_names(), vec!["kiln::add"]);
    assert!(!kiln_trace::is_tracing());
    assert_eq!(g.count_op("kiln::cast"), 0, "the fold did happen");
}

#[test]
fn the_three_passes_together_keep_results() {
    for dev in devices() {
        let before = cse_graph(&dev);
        let mut after = before.clone();
        after.fold_constants().unwrap();
        after.eliminate_common_subexpressions();
        after.eliminate_dead_code();
        assert_same_results(&before, &after, &dev);
        let json = after.to_json().unwrap();
        assert_eq!(Graph::from_json(&json).unwrap().to_json().unwrap(), json);
    }
}
