//! Property tests: view ops (which edit only the layout) and broadcasting,
//! against a plain row-major f64 reference, on every device present.

use kiln::testing::devices;
use kiln::{DType, Device, Tensor};
use proptest::prelude::*;

/// A plain n-d array: shape and row-major values.
#[derive(Clone, Debug)]
struct Nd {
    shape: Vec<usize>,
    vals: Vec<f64>,
}

impl Nd {
    fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.shape.len()];
        for i in (0..self.shape.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.shape[i + 1];
        }
        s
    }
    /// Builds a new array of `shape` whose element at multi-index `idx` is `f(idx)`.
    fn build(shape: Vec<usize>, f: impl Fn(&[usize]) -> f64) -> Nd {
        let n: usize = shape.iter().product();
        let mut vals = Vec::with_capacity(n);
        let mut idx = vec![0; shape.len()];
        for _ in 0..n {
            vals.push(f(&idx));
            for d in (0..shape.len()).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Nd { shape, vals }
    }
    fn at(&self, idx: &[usize]) -> f64 {
        let s = self.strides();
        self.vals[idx.iter().zip(&s).map(|(i, s)| i * s).sum::<usize>()]
    }
}

#[derive(Clone, Debug)]
enum ViewOp {
    Permute(Vec<usize>),
    Transpose(usize, usize),
    Slice(usize, usize, usize, usize),
    Unsqueeze(usize),
    Squeeze,
    Reshape,
    ExpandFirst(usize),
}

fn apply_ref(a: &Nd, op: &ViewOp) -> Option<Nd> {
    let nd = a.shape.len();
    Some(match op {
        ViewOp::Permute(p) if nd > 0 => {
            let p: Vec<usize> = p.iter().map(|&i| i % nd).collect();
            let mut seen = vec![false; nd];
            for &i in &p {
                if seen[i] {
                    return None;
                }
                seen[i] = true;
            }
            if p.len() != nd {
                return None;
            }
            let shape = p.iter().map(|&i| a.shape[i]).collect();
            Nd::build(shape, |idx| {
                let mut src = vec![0; nd];
                for (k, &i) in p.iter().enumerate() {
                    src[i] = idx[k];
                }
                a.at(&src)
            })
        }
        ViewOp::Transpose(x, y) if nd > 0 => {
            let (x, y) = (x % nd, y % nd);
            let mut shape = a.shape.clone();
            shape.swap(x, y);
            Nd::build(shape, |idx| {
                let mut src = idx.to_vec();
                src.swap(x, y);
                a.at(&src)
            })
        }
        ViewOp::Slice(d, s, len, step) if nd > 0 => {
            let d = d % nd;
            let size = a.shape[d];
            let start = s % (size + 1);
            let end = (start + len).min(size);
            let step = step + 1;
            let mut shape = a.shape.clone();
            shape[d] = (end - start).div_ceil(step);
            Nd::build(shape, |idx| {
                let mut src = idx.to_vec();
                src[d] = start + idx[d] * step;
                a.at(&src)
            })
        }
        ViewOp::Unsqueeze(d) => {
            let d = d % (nd + 1);
            let mut shape = a.shape.clone();
            shape.insert(d, 1);
            Nd {
                shape,
                vals: a.vals.clone(),
            }
        }
        ViewOp::Squeeze => Nd {
            shape: a.shape.iter().copied().filter(|&s| s != 1).collect(),
            vals: a.vals.clone(),
        },
        ViewOp::Reshape => Nd {
            shape: vec![a.vals.len()],
            vals: a.vals.clone(),
        },
        ViewOp::ExpandFirst(k) => {
            let mut shape = vec![k % 3 + 1];
            shape.extend(&a.shape);
            Nd::build(shape, |idx| a.at(&idx[1..]))
        }
        _ => return None,
    })
}

fn apply_kiln(t: &Tensor, op: &ViewOp) -> kiln::Result<Tensor> {
    let nd = t.ndim();
    match op {
        ViewOp::Permute(p) => t.permute(
            &p.iter()
                .map(|&i| (i % nd.max(1)) as i64)
                .collect::<Vec<_>>(),
        ),
        ViewOp::Transpose(x, y) => t.transpose((x % nd) as i64, (y % nd) as i64 - nd as i64),
        ViewOp::Slice(d, s, len, step) => {
            let d = d % nd;
            let size = t.shape()[d];
            let start = s % (size + 1);
            let end = (start + len).min(size);
            t.slice_step(d as i64, start as i64, end as i64, *step as i64 + 1)
        }
        ViewOp::Unsqueeze(d) => t.unsqueeze((d % (nd + 1)) as i64),
        ViewOp::Squeeze => t.squeeze(None),
        ViewOp::Reshape => t.reshape(&[-1]),
        ViewOp::ExpandFirst(k) => {
            let mut size = vec![(k % 3 + 1) as i64];
            size.extend(std::iter::repeat_n(-1, nd));
            t.unsqueeze(0)?.expand(&size)
        }
    }
}

fn view_op() -> impl Strategy<Value = ViewOp> {
    prop_oneof![
        prop::collection::vec(0usize..4, 0..5).prop_map(ViewOp::Permute),
        (0usize..4, 0usize..4).prop_map(|(a, b)| ViewOp::Transpose(a, b)),
        (0usize..4, 0usize..5, 0usize..5, 0usize..3)
            .prop_map(|(a, b, c, d)| ViewOp::Slice(a, b, c, d)),
        (0usize..5).prop_map(ViewOp::Unsqueeze),
        Just(ViewOp::Squeeze),
        Just(ViewOp::Reshape),
        (0usize..3).prop_map(ViewOp::ExpandFirst),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn view_chains_match_the_reference(shape in prop::collection::vec(0usize..4, 0..4), ops in prop::collection::vec(view_op(), 1..6)) {
        let n: usize = shape.iter().product();
        let vals: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for device in devices() {
            let mut r = Nd { shape: shape.clone(), vals: vals.clone() };
            let mut t = kiln::from_vec(vals.iter().map(|&v| v as f32).collect::<Vec<_>>(), &shape, &Device::Cpu).unwrap().to(&device).unwrap();
            for op in &ops {
                let Some(next) = apply_ref(&r, op) else { continue };
                t = apply_kiln(&t, op).unwrap();
                r = next;
                prop_assert_eq!(t.shape(), &r.shape[..], "{:?} on {}", op, device);
            }
            prop_assert_eq!(t.to_f64_vec().unwrap(), r.vals.clone(), "values after {:?} on {}", ops, device);
            // a non-view op on the result reads the strided layout in place
            let doubled = t.mul_scalar(2.0).unwrap();
            prop_assert_eq!(doubled.to_f64_vec().unwrap(), r.vals.iter().map(|v| v * 2.0).collect::<Vec<_>>());
        }
    }

    #[test]
    fn broadcasting_add_matches_the_reference(
        base in prop::collection::vec(1usize..4, 0..4),
        mask_a in prop::collection::vec(any::<bool>(), 4),
        mask_b in prop::collection::vec(any::<bool>(), 4),
        drop_a in 0usize..3,
        dtype in prop::sample::select(vec![DType::F32, DType::I32, DType::F16]),
    ) {
        // shapes: base with some dims set to 1, and a few leading dims dropped
        let sa: Vec<usize> = base.iter().zip(&mask_a).map(|(&d, &m)| if m { 1 } else { d }).collect();
        let sb: Vec<usize> = base.iter().zip(&mask_b).map(|(&d, &m)| if m { 1 } else { d }).collect();
        let sa = sa[drop_a.min(sa.len())..].to_vec();
        let va: Vec<f64> = (0..sa.iter().product::<usize>()).map(|i| (i % 7) as f64 - 3.0).collect();
        let vb: Vec<f64> = (0..sb.iter().product::<usize>()).map(|i| (i % 5) as f64 * 2.0).collect();
        let ra = Nd { shape: sa.clone(), vals: va.clone() };
        let rb = Nd { shape: sb.clone(), vals: vb.clone() };
        let n = sa.len().max(sb.len());
        let dim = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
        let out: Vec<usize> = (0..n).map(|i| dim(&sa, i).max(dim(&sb, i))).collect();
        let want = Nd::build(out.clone(), |idx| {
            let pick = |r: &Nd| {
                let off = idx.len() - r.shape.len();
                let i: Vec<usize> = r.shape.iter().enumerate().map(|(k, &s)| if s == 1 { 0 } else { idx[off + k] }).collect();
                r.at(&i)
            };
            pick(&ra) + pick(&rb)
        });
        for device in devices() {
            let a = kiln::testing::tensor_of(&va, &sa, dtype, &device).unwrap();
            let b = kiln::testing::tensor_of(&vb, &sb, dtype, &device).unwrap();
            let c = a.add(&b).unwrap();
            prop_assert_eq!(c.shape(), &out[..]);
            prop_assert_eq!(c.dtype(), dtype);
            prop_assert_eq!(c.to_f64_vec().unwrap(), want.vals.clone());
        }
    }
}

#[test]
fn non_broadcastable_shapes_are_an_error() {
    for device in devices() {
        let a = kiln::zeros(&[2, 3], DType::F32, &device).unwrap();
        let b = kiln::zeros(&[4], DType::F32, &device).unwrap();
        let e = a.add(&b).unwrap_err();
        assert!(matches!(e, kiln::Error::Broadcast { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "add: shapes [2, 3] and [4] are not broadcastable"
        );
    }
}
