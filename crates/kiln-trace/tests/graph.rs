//! The graph's outside: replay (same device, across devices, other
//! layouts, bad inputs), IR text, DOT, and the JSON round trip.

mod common;

use kiln::testing::{devices, layouts};
use kiln::{DType, Device, Error, Result, Tensor};
use kiln_trace::{trace, Graph, Node};

/// A program over two [2, 3] inputs that touches promotion, comparisons,
/// `where`, views, casts, constants and a factory op.
fn program(x: &Tensor, y: &Tensor, c: &Tensor) -> Result<Tensor> {
    let dev = x.device();
    let s = x.mul(y)?.add(c)?.div_scalar(3.0)?;
    let m = s.gt(x)?;
    let w = Tensor::where_cond(&m, &s, &y.mul_scalar(-1.0)?)?;
    let t = w.transpose(0, 1)?.contiguous()?.reshape(&[2, 3])?;
    let z = kiln::full(&[2, 3], 0.25, DType::F32, &dev)?;
    t.sub(&z)?
        .maximum(&x.slice(1, 0, 3)?)?
        .to_dtype(DType::F16)?
        .to_dtype(DType::F32)
}

fn inputs(dev: &Device, seed: u64) -> (Tensor, Tensor) {
    (
        kiln::from_vec(common::vals(6, seed), &[2, 3], dev).unwrap(),
        kiln::from_vec(common::vals(6, seed + 1), &[2, 3], dev).unwrap(),
    )
}

fn constant(dev: &Device) -> Tensor {
    kiln::from_vec(vec![0.5f32, -1.0, 2.0], &[3], dev).unwrap()
}

#[test]
fn replay_on_the_same_device_is_bit_identical_to_eager() {
    for dev in devices() {
        let c = constant(&dev);
        let (x, y) = inputs(&dev, 1);
        let (outs, g) = trace(|i| program(&i[0], &i[1], &c), &[x.clone(), y.clone()]).unwrap();
        assert_eq!(
            outs[0].to_bytes().unwrap(),
            program(&x, &y, &c).unwrap().to_bytes().unwrap()
        );
        for seed in [5, 9] {
            let (a, b) = inputs(&dev, seed);
            let got = g.run(&[a.clone(), b.clone()]).unwrap();
            let want = program(&a, &b, &c).unwrap();
            assert_eq!(
                got[0].to_bytes().unwrap(),
                want.to_bytes().unwrap(),
                "on {dev}, seed {seed}"
            );
        }
    }
}

#[test]
fn replay_takes_inputs_in_any_layout() {
    for dev in devices() {
        let c = constant(&dev);
        let (x, y) = inputs(&dev, 1);
        let (_, g) = trace(|i| program(&i[0], &i[1], &c), &[x, y.clone()]).unwrap();
        for case in layouts(&[2, 3], DType::F32, &dev, 3, -2.0, 2.0).unwrap() {
            let got = g.run(&[case.tensor.clone(), y.clone()]).unwrap();
            let want = program(&case.tensor, &y, &c).unwrap();
            assert_eq!(
                got[0].to_bytes().unwrap(),
                want.to_bytes().unwrap(),
                "{} on {dev}",
                case.layout
            );
        }
    }
}

#[test]
fn a_graph_traced_on_one_device_replays_on_every_other() {
    for from in devices() {
        let c = constant(&from);
        let (x, y) = inputs(&from, 1);
        let (_, g) = trace(|i| program(&i[0], &i[1], &c), &[x, y]).unwrap();
        for to in devices() {
            let (a, b) = inputs(&to, 4);
            let got = g.run(&[a.clone(), b.clone()]).unwrap();
            assert_eq!(got[0].device(), to, "replay runs on the inputs' device");
            let want = program(&a, &b, &c.to(&to).unwrap()).unwrap();
            let (atol, rtol) = kiln::testing::tolerance(DType::F16);
            kiln::testing::assert_close(
                &format!("traced on {from}, replayed on {to}"),
                &got[0].to_f64_vec().unwrap(),
                &want.to_f64_vec().unwrap(),
                atol,
                rtol,
            );
            if from == to {
                assert_eq!(got[0].to_bytes().unwrap(), want.to_bytes().unwrap());
            }
        }
    }
}

#[test]
fn replay_with_wrong_inputs_is_a_clear_error() {
    let dev = Device::Cpu;
    let (x, y) = inputs(&dev, 1);
    let (_, g) = trace(|i| i[0].add(&i[1]), &[x.clone(), y.clone()]).unwrap();
    let e = g.run(std::slice::from_ref(&x)).unwrap_err();
    assert_eq!(e.to_string(), "Graph::run: the graph takes 2 inputs, got 1");
    let e = g.run(&[x.clone(), y.clone(), x.clone()]).unwrap_err();
    assert_eq!(e.to_string(), "Graph::run: the graph takes 2 inputs, got 3");
    let xi = x.to_dtype(DType::I32).unwrap();
    let e = g.run(&[x.clone(), xi]).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }));
    assert_eq!(
        e.to_string(),
        "Graph::run (input 1): expected dtype f32, got i32"
    );
    let short = kiln::zeros(&[3, 2], DType::F32, &dev).unwrap();
    let e = g.run(&[short, y]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Graph::run: input 0 was traced with shape [2, 3], got shape [3, 2]"
    );
}

#[test]
fn replay_of_a_graph_with_several_outputs_and_a_returned_input() {
    for dev in devices() {
        let (x, y) = inputs(&dev, 1);
        let (_, g) = trace(
            |i| Ok((i[0].add(&i[1])?, i[1].clone(), i[0].mul(&i[0])?)),
            &[x, y],
        )
        .unwrap();
        assert!(g.to_string().ends_with("return (%2, %1, %3)\n"), "{g}");
        let (a, b) = inputs(&dev, 2);
        let out = g.run(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0].to_bytes().unwrap(),
            a.add(&b).unwrap().to_bytes().unwrap()
        );
        assert_eq!(out[1].to_bytes().unwrap(), b.to_bytes().unwrap());
        assert_eq!(
            out[2].to_bytes().unwrap(),
            a.mul(&a).unwrap().to_bytes().unwrap()
        );
    }
}

#[test]
fn ir_text_has_designs_format_with_named_inputs() {
    let dev = Device::Cpu;
    let (x, y) = inputs(&dev, 1);
    let (_, mut g) = trace(
        |i| {
            let p = i[0].mul(&i[1])?;
            Tensor::where_cond(&p.gt_scalar(0.0)?, &p, &i[0])
        },
        &[x, y],
    )
    .unwrap();
    g.set_input_names(&["x", "w"]).unwrap();
    assert_eq!(
        g.to_string(),
        "graph(%x : f32[2, 3] cpu, %w : f32[2, 3] cpu):
  %2 : f32[2, 3] = kiln::mul(%x, %w)
  %3 : bool[2, 3] = kiln::gt_scalar[other=0.0](%2)
  %4 : f32[2, 3] = kiln::where(%3, %2, %x)
  return (%4)
"
    );
}

#[test]
fn set_input_names_checks_names() {
    let (x, y) = inputs(&Device::Cpu, 1);
    let (_, mut g) = trace(|i| i[0].add(&i[1]), &[x, y]).unwrap();
    assert!(g.set_input_names(&["x"]).is_err());
    assert!(g.set_input_names(&["x", "x"]).is_err());
    assert!(g.set_input_names(&["x", "2"]).is_err());
    assert!(g.set_input_names(&["x", "a b"]).is_err());
    g.set_input_names(&["x", "y_1"]).unwrap();
    assert!(g.to_string().contains("kiln::add(%x, %y_1)"));
}

#[test]
fn scalar_constants_print_their_value() {
    let dev = Device::Cpu;
    let (x, _) = inputs(&dev, 1);
    let two = kiln::scalar(2.5f32).unwrap();
    let k = kiln::scalar(3i32).unwrap();
    let (_, g) = trace(|i| i[0].mul(&two)?.add(&k), &[x]).unwrap();
    let ir = g.to_string();
    assert!(
        ir.contains("%1 : f32[] = prim::Constant[value=2.5]()"),
        "{ir}"
    );
    assert!(
        ir.contains("%3 : i32[] = prim::Constant[value=3]()"),
        "{ir}"
    );
}

#[test]
fn dot_labels_nodes_with_op_names_and_shapes() {
    let dev = Device::Cpu;
    let c = constant(&dev);
    let (x, y) = inputs(&dev, 1);
    let (_, mut g) = trace(|i| i[0].mul(&i[1])?.add(&c), &[x, y]).unwrap();
    g.set_input_names(&["x", "y"]).unwrap();
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph {\n"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for label in [
        r#"label = "input 0 %x\lf32[2, 3] cpu""#,
        r#"label = "input 1 %y\lf32[2, 3] cpu""#,
        r#"label = "constant\lf32[3]""#,
        r#"label = "kiln::mul\lf32[2, 3]""#,
        r#"label = "kiln::add\lf32[2, 3]""#,
    ] {
        assert!(dot.contains(label), "missing {label} in\n{dot}");
    }
    assert_eq!(
        dot.matches(" -> ").count(),
        4 + 4,
        "four edges, each labelled 'out -> in':\n{dot}"
    );
    assert!(dot.contains(r#"[ label = "0 -> 1" ]"#), "{dot}");
}

/// Every node's constant bytes, in order.
fn constant_bytes(g: &Graph) -> Vec<(DType, Vec<usize>, Vec<u8>)> {
    g.nodes()
        .filter_map(|(_, n)| match n {
            Node::Constant(t) => Some((t.dtype(), t.shape().to_vec(), t.to_bytes().unwrap())),
            _ => None,
        })
        .collect()
}

#[test]
fn json_round_trips_exactly_with_constants_bit_for_bit() {
    for dev in devices() {
        let specials = kiln::from_vec(
            vec![f32::NAN, -0.0, f32::INFINITY, f32::NEG_INFINITY, 1e-45, 0.1],
            &[2, 3],
            &Device::Cpu,
        )
        .unwrap()
        .to(&dev)
        .unwrap();
        let halves = specials.to_dtype(DType::F16).unwrap();
        let bf = specials.to_dtype(DType::BF16).unwrap();
        let ints = kiln::from_vec(vec![i32::MIN, -1, 0, 1, 7, i32::MAX], &[2, 3], &dev).unwrap();
        let bools =
            kiln::from_vec(vec![true, false, true, true, false, false], &[2, 3], &dev).unwrap();
        let (x, y) = inputs(&dev, 1);
        let (_, mut g) = trace(
            |i| {
                let a = i[0].mul(&specials)?.add(&halves)?.sub(&bf)?;
                let b = Tensor::where_cond(&bools, &a, &i[1])?.add(&ints.to_dtype(DType::F32)?)?;
                let c = b
                    .mul_scalar(0.1)?
                    .add_scalar(f64::NAN)?
                    .maximum_scalar(-1e300)?;
                let d = c.unsqueeze(0)?.expand(&[2, 2, 3])?.slice_step(2, 0, 3, 2)?;
                Ok((d, kiln::arange(0, 4, 1, DType::I32, &dev)?))
            },
            &[x.clone(), y.clone()],
        )
        .unwrap();
        g.set_input_names(&["x", "y"]).unwrap();
        let json = g.to_json().unwrap();
        let loaded = Graph::from_json(&json).unwrap();
        assert_eq!(
            loaded.to_json().unwrap(),
            json,
            "JSON -> graph -> JSON is the identity"
        );
        assert_eq!(loaded.to_string(), g.to_string(), "the IR is unchanged");
        assert_eq!(
            constant_bytes(&loaded),
            constant_bytes(&g),
            "constants are bit-exact"
        );
        assert_eq!(loaded.num_constants(), 5);
        let a = g.run(&[x.clone(), y.clone()]).unwrap();
        let b = loaded.run(&[x, y]).unwrap();
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(
                a.to_bytes().unwrap(),
                b.to_bytes().unwrap(),
                "the loaded graph computes the same bits"
            );
        }
    }
}

#[test]
fn json_keeps_custom_names_and_float_attributes_exactly() {
    let (x, _) = inputs(&Device::Cpu, 1);
    let tricky = [
        0.1,
        1.0 / 3.0,
        -0.0,
        5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let (_, g) = trace(
        |i| {
            let mut a = i[0].clone();
            for v in tricky {
                a = a.maximum_scalar(v)?;
            }
            Ok(a)
        },
        &[x],
    )
    .unwrap();
    let loaded = Graph::from_json(&g.to_json().unwrap()).unwrap();
    let attrs = |g: &Graph| -> Vec<u64> {
        g.ops()
            .map(|(_, o)| match o.attribute("other") {
                Some(kiln::IValue::Float(f)) => f.to_bits(),
                other => panic!("unexpected attribute {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        attrs(&loaded),
        tricky.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(attrs(&loaded), attrs(&g));
}

#[test]
fn bad_json_is_an_error_not_a_panic() {
    kiln::init().unwrap();
    for text in [
        "",
        "{}",
        r#"{"format": "kiln-graph", "version": 1}"#,
        r#"{"format": "kiln-graph", "version": 1, "nodes": [{"kind": "op", "op": "no::such_op", "args": [], "outputs": []}], "outputs": []}"#,
        r#"{"format": "kiln-graph", "version": 1, "nodes": [{"kind": "op", "op": "kiln::add", "args": [{"tensor": [5, 0]}, {"tensor": [0, 0]}], "outputs": []}], "outputs": []}"#,
        r#"{"format": "kiln-graph", "version": 1, "nodes": [{"kind": "constant", "type": {"dtype": "f32", "shape": [2], "device": "cpu"}, "data": "00"}], "outputs": []}"#,
        r#"{"format": "kiln-graph", "version": 1, "nodes": [], "outputs": [[0, 0]]}"#,
    ] {
        assert!(Graph::from_json(text).is_err(), "{text:?} should not load");
    }
}

#[test]
fn kiln_registers_the_fallback_and_reexports_the_tracer() {
    kiln::init().unwrap();
    let table = kiln::Dispatcher::global().dump("kiln::add").unwrap();
    assert!(
        table.contains("Tracer:          fallback [kiln_trace::record]"),
        "{table}"
    );
    let x = kiln::from_vec(vec![1.0f32, 2.0], &[2], &Device::Cpu).unwrap();
    let (_, g) = kiln::trace::trace(|i| i[0].add(&i[0]), &[x]).unwrap();
    assert_eq!(g.op_names(), vec!["kiln::add"]);
}

#[test]
fn a_graph_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Graph>();
    let (x, y) = inputs(&Device::Cpu, 1);
    let (_, g) = trace(|i| i[0].mul(&i[1]), &[x.clone(), y.clone()]).unwrap();
    let want = x.mul(&y).unwrap().to_bytes().unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                assert_eq!(
                    g.run(&[x.clone(), y.clone()]).unwrap()[0]
                        .to_bytes()
                        .unwrap(),
                    want
                )
            });
        }
    });
}
