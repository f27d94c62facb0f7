//! The argument checks of the ops every backend implements: which calls
//! are refused (with which error), the output shape, the result dtype and
//! the normalised dims. Each backend calls these before it touches any
//! storage, so the CPU and the GPU refuse the same calls with the same
//! messages (`crates/kiln/tests/errors_agree.rs` holds them to it).
//! Nothing here reads an element: checks of index *values* stay in the
//! backends. `conv2d` and `max_pool2d` have theirs in [`crate::conv`].

use crate::dtype::{promote_types, DType, ResultType};
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, normalize_dim, normalize_dims};
use crate::tensor::Tensor;

/// A checked `matmul` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatmulMeta {
    /// The promoted dtype of the two operands: the result's.
    pub dtype: DType,
    /// The broadcast batch dims.
    pub batch: Vec<usize>,
    /// Rows of each product (1 for a 1-D left operand).
    pub m: usize,
    /// The shared inner dim.
    pub k: usize,
    /// Columns of each product (1 for a 1-D right operand).
    pub n: usize,
    /// The result's shape: `batch`, then `m` unless `a` is 1-D, then `n`
    /// unless `b` is 1-D.
    pub out_shape: Vec<usize>,
}

/// `(batch dims, rows, cols)` of one `matmul` operand; a 1-D operand is a
/// row (`[1, k]`) on the left and a column (`[k, 1]`) on the right.
fn as_matrix(shape: &[usize], left: bool) -> (&[usize], usize, usize) {
    match *shape {
        [k] if left => (&[], 1, k),
        [k] => (&[], k, 1),
        _ => {
            let nd = shape.len();
            (&shape[..nd - 2], shape[nd - 2], shape[nd - 1])
        }
    }
}

/// Checks `a @ b` with `torch.matmul`'s rules: 1-D x 1-D is a dot product,
/// a 1-D operand is promoted to a matrix and its dim dropped from the
/// result, batch dims broadcast; mixed dtypes promote, bool is refused.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<MatmulMeta> {
    const OP: &str = "matmul";
    let dtype = promote_types(a.dtype(), b.dtype());
    if dtype == DType::Bool {
        return Err(Error::dtype(
            OP,
            dtype,
            "matmul is defined for f32, f16, bf16 and i32",
        ));
    }
    let (sa, sb) = (a.shape(), b.shape());
    if sa.is_empty() || sb.is_empty() {
        return Err(Error::shape(
            OP,
            format!("both arguments to matmul need to be at least 1-D, but they are shapes {sa:?} and {sb:?}"),
        ));
    }
    let (ba, m, k) = as_matrix(sa, true);
    let (bb, kb, n) = as_matrix(sb, false);
    if k != kb {
        return Err(Error::shape(
            OP,
            format!("shapes {sa:?} and {sb:?} cannot be multiplied ({m}x{k} and {kb}x{n}): inner dimensions {k} and {kb} differ"),
        ));
    }
    let batch = broadcast_shapes(OP, ba, bb)
        .map_err(|_| {
            Error::shape(
                OP,
                format!(
                    "batch dims {ba:?} and {bb:?} of shapes {sa:?} and {sb:?} are not broadcastable"
                ),
            )
        })?
        .to_vec();
    let mut out_shape = batch.clone();
    if sa.len() > 1 {
        out_shape.push(m);
    }
    if sb.len() > 1 {
        out_shape.push(n);
    }
    Ok(MatmulMeta {
        dtype,
        batch,
        m,
        k,
        n,
        out_shape,
    })
}

/// Checks `softmax` (or `log_softmax` when `log`) of `t` along `dim`:
/// floats only (an integer softmax is an error in PyTorch too). Returns the
/// normalised dim (0 for a zero-dim tensor).
pub fn softmax(t: &Tensor, dim: i64, log: bool) -> Result<usize> {
    let op = if log { "log_softmax" } else { "softmax" };
    if !t.dtype().is_float() {
        return Err(Error::dtype(
            op,
            t.dtype(),
            "needs a floating dtype; cast the input to one first",
        ));
    }
    normalize_dim(op, dim, t.ndim())
}

/// `sum`, `mean`, `max` or `min`: a reduction over a list of dims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
}

impl ReduceOp {
    /// The op's name.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }
}

/// `argmax` or `argmin`: a reduction to indices along one dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgOp {
    ArgMax,
    ArgMin,
}

impl ArgOp {
    /// The op's name.
    pub fn name(self) -> &'static str {
        match self {
            ArgOp::ArgMax => "argmax",
            ArgOp::ArgMin => "argmin",
        }
    }
}

/// A checked reduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceMeta {
    /// Per input dim, whether it is reduced.
    pub reduced: Vec<bool>,
    /// The result's shape: the kept dims, and the reduced ones as 1 with
    /// `keepdim`.
    pub out_shape: Vec<usize>,
    /// The result's dtype.
    pub dtype: DType,
    /// Elements reduced into each output.
    pub len: usize,
}

impl ReduceMeta {
    fn new(shape: &[usize], reduced: Vec<bool>, keepdim: bool, dtype: DType) -> ReduceMeta {
        let dims = || shape.iter().copied().zip(reduced.iter().copied());
        let out_shape = dims()
            .filter(|&(_, r)| keepdim || !r)
            .map(|(n, r)| if r { 1 } else { n })
            .collect();
        let len = dims().filter(|&(_, r)| r).map(|(n, _)| n).product();
        ReduceMeta {
            out_shape,
            dtype,
            len,
            reduced,
        }
    }

    /// `Err` for a `max`/`min`/`arg*` over no elements, naming the first
    /// empty reduced dim (PyTorch's wording); `all` when no dim was given.
    fn refuse_empty(&self, op: &str, shape: &[usize], all: bool) -> Result<()> {
        if self.len > 0 {
            return Ok(());
        }
        let dim = shape
            .iter()
            .zip(&self.reduced)
            .position(|(&n, &r)| r && n == 0);
        Err(match dim {
            Some(d) if !all => Error::shape(
                op,
                format!("Expected reduction dim {d} to have non-zero size (input shape {shape:?})"),
            ),
            _ => Error::shape(
                op,
                format!("Expected reduction dim to be specified for input.numel() == 0 (input shape {shape:?})"),
            ),
        })
    }
}

/// Checks `op` of `t` over `dims` (every dim when empty; repeats are an
/// error). Result dtypes as PyTorch's, with `i32` for its `int64`: `sum`
/// of `i32` or `bool` is `i32`, of a float the float; `mean` needs a
/// float; `max`/`min` keep the dtype and refuse an empty reduction.
pub fn reduce(op: ReduceOp, t: &Tensor, dims: &[i64], keepdim: bool) -> Result<ReduceMeta> {
    let name = op.name();
    let nd = t.ndim();
    let ds = normalize_dims(name, dims, nd)?;
    let mut reduced = vec![dims.is_empty(); nd];
    if nd > 0 {
        // (dims 0 and -1 of a zero-dim tensor name the tensor itself)
        for d in ds {
            reduced[d] = true;
        }
    }
    let dt = t.dtype();
    let dtype = match op {
        ReduceOp::Sum if !dt.is_float() => DType::I32,
        ReduceOp::Mean if !dt.is_float() => {
            return Err(Error::dtype(
                name,
                dt,
                "mean needs a floating dtype; cast the input to one first",
            ))
        }
        _ => dt,
    };
    let meta = ReduceMeta::new(t.shape(), reduced, keepdim, dtype);
    if matches!(op, ReduceOp::Max | ReduceOp::Min) {
        meta.refuse_empty(name, t.shape(), dims.is_empty())?;
    }
    Ok(meta)
}

/// Checks `op` of `t` along `dim` (the flattened tensor when `None`): any
/// dtype but bool, a non-empty reduction, `i32` indices.
pub fn arg_reduce(op: ArgOp, t: &Tensor, dim: Option<i64>, keepdim: bool) -> Result<ReduceMeta> {
    let name = op.name();
    let nd = t.ndim();
    let reduced = match dim {
        None => vec![true; nd],
        Some(d) => {
            let d = normalize_dim(name, d, nd)?;
            (0..nd).map(|i| i == d).collect()
        }
    };
    if t.dtype() == DType::Bool {
        return Err(Error::dtype(
            name,
            DType::Bool,
            "cast the bool tensor to i32 or a float first",
        ));
    }
    let meta = ReduceMeta::new(t.shape(), reduced, keepdim, DType::I32);
    meta.refuse_empty(name, t.shape(), dim.is_none())?;
    Ok(meta)
}

/// A checked `layer_norm` call.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormMeta {
    /// `normalized_shape` as sizes: the input's trailing dims.
    pub normalized: Vec<usize>,
    /// Elements per normalised row (the product of `normalized`).
    pub row: usize,
    /// `eps`, as the f32 the rows are computed in.
    pub eps: f32,
}

/// Checks `layer_norm(x, normalized_shape, weight, bias, eps)`: a float
/// input whose trailing dims are `normalized_shape` (at least one dim),
/// and `weight` / `bias`, when given, of that shape and a float dtype
/// (any float: they are read as f32).
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[i64],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<LayerNormMeta> {
    const OP: &str = "layer_norm";
    if !x.dtype().is_float() {
        return Err(Error::dtype(
            OP,
            x.dtype(),
            "needs a floating dtype; cast the input to one first",
        ));
    }
    let ns = normalized_shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| {
            Error::shape(
                OP,
                format!("normalized_shape {normalized_shape:?} has a negative size"),
            )
        })?;
    if ns.is_empty() {
        return Err(Error::shape(
            OP,
            "expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got normalized_shape = []",
        ));
    }
    let shape = x.shape();
    if shape.len() < ns.len() || shape[shape.len() - ns.len()..] != ns[..] {
        return Err(Error::shape(
            OP,
            format!(
                "given normalized_shape {ns:?}, expected an input of shape [*, {}], but got {shape:?}",
                ns.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for (which, t) in [("weight", weight), ("bias", bias)] {
        let Some(t) = t else { continue };
        if t.shape() != ns {
            return Err(Error::shape(
                OP,
                format!(
                    "{which} of shape {:?} does not match normalized_shape {ns:?}",
                    t.shape()
                ),
            ));
        }
        if !t.dtype().is_float() {
            return Err(Error::dtype(
                OP,
                t.dtype(),
                format!("{which} needs a floating dtype"),
            ));
        }
    }
    Ok(LayerNormMeta {
        row: ns.iter().product(),
        normalized: ns,
        eps: eps as f32,
    })
}

/// A checked `cat` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatMeta {
    /// The result's dtype: PyTorch's `result_type` of every input (the
    /// skipped empty vectors included).
    pub dtype: DType,
    /// The normalised dim (0 when every input is skipped).
    pub dim: usize,
    /// The positions of the inputs that are concatenated: all but the 1-D
    /// tensors of shape `[0]`, which PyTorch skips whatever the others'
    /// shapes.
    pub inputs: Vec<usize>,
    /// The result's shape.
    pub out_shape: Vec<usize>,
}

/// Checks `cat(tensors, dim)`: a non-empty list, no zero-dim tensor, and
/// the inputs that take part of one rank, with equal sizes but along `dim`.
pub fn cat(tensors: &[Tensor], dim: i64) -> Result<CatMeta> {
    const OP: &str = "cat";
    let first = tensors
        .first()
        .ok_or_else(|| Error::invalid(OP, "expected a non-empty list of tensors"))?;
    let dtype = tensors
        .iter()
        .fold(ResultType::new(), |r, t| {
            r.tensor(t.dtype(), t.ndim().max(1))
        })
        .finish();
    if let Some(i) = tensors.iter().position(|t| t.ndim() == 0) {
        return Err(Error::invalid(
            OP,
            format!("zero-dimensional tensor (at position {i}) cannot be concatenated"),
        ));
    }
    let inputs: Vec<usize> = (0..tensors.len())
        .filter(|&i| !(tensors[i].ndim() == 1 && tensors[i].numel() == 0))
        .collect();
    let Some(&i0) = inputs.first() else {
        return Ok(CatMeta {
            dtype,
            dim: 0,
            inputs,
            out_shape: first.shape().to_vec(),
        });
    };
    let t0 = &tensors[i0];
    let nd = t0.ndim();
    let d = normalize_dim(OP, dim, nd)?;
    let mut out_shape = t0.shape().to_vec();
    out_shape[d] = 0;
    for &i in &inputs {
        let t = &tensors[i];
        if t.ndim() != nd {
            return Err(Error::shape(
                OP,
                format!(
                    "Tensors must have same number of dimensions: got {nd} and {} (tensor number {i0} of shape {:?} and tensor number {i} of shape {:?} in the list)",
                    t.ndim(),
                    t0.shape(),
                    t.shape()
                ),
            ));
        }
        for k in (0..nd).filter(|&k| k != d) {
            if t.shape()[k] != t0.shape()[k] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list (shapes {:?} and {:?})",
                        t0.shape()[k],
                        t.shape()[k],
                        t0.shape(),
                        t.shape()
                    ),
                ));
            }
        }
        out_shape[d] += t.shape()[d];
    }
    Ok(CatMeta {
        dtype,
        dim: d,
        inputs,
        out_shape,
    })
}

/// A checked `index_select`, `gather` or `embedding` call. The index
/// *values* are the backend's to check against `size`: they live in
/// storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMeta {
    /// The normalised dim indexed along (0 for `embedding`'s rows and for
    /// a zero-dim source).
    pub dim: usize,
    /// Every index must lie in `[0, size)`.
    pub size: usize,
    /// The result's shape.
    pub out_shape: Vec<usize>,
}

/// `Err(DTypeMismatch)` unless `index` is `i32` (kiln's `int64`).
fn index_dtype(op: &str, index: &Tensor) -> Result<()> {
    if index.dtype() != DType::I32 {
        return Err(Error::DTypeMismatch {
            op: op.to_string(),
            expected: DType::I32,
            got: index.dtype(),
        });
    }
    Ok(())
}

/// Checks `index_select(t, dim, index)`: an `i32` index of at most one
/// dim. The result is `t` with `index.numel()` entries along `dim` (a
/// zero-dim `t` is a one-element vector: the result has `index`'s shape).
pub fn index_select(t: &Tensor, dim: i64, index: &Tensor) -> Result<IndexMeta> {
    const OP: &str = "index_select";
    index_dtype(OP, index)?;
    if index.ndim() > 1 {
        return Err(Error::shape(
            OP,
            format!("index must be 0-D or 1-D, got shape {:?}", index.shape()),
        ));
    }
    let dim = normalize_dim(OP, dim, t.ndim())?;
    if t.ndim() == 0 {
        return Ok(IndexMeta {
            dim,
            size: 1,
            out_shape: index.shape().to_vec(),
        });
    }
    let mut out_shape = t.shape().to_vec();
    out_shape[dim] = index.numel();
    Ok(IndexMeta {
        dim,
        size: t.shape()[dim],
        out_shape,
    })
}

/// Checks `gather(t, dim, index)`: an `i32` index of `t`'s rank, no
/// larger than `t` along every other dim. The result has `index`'s shape.
pub fn gather(t: &Tensor, dim: i64, index: &Tensor) -> Result<IndexMeta> {
    const OP: &str = "gather";
    index_dtype(OP, index)?;
    let nd = t.ndim();
    if index.ndim() != nd {
        return Err(Error::shape(
            OP,
            format!(
                "index tensor must have the same number of dimensions as the input: index shape {:?}, input shape {:?}",
                index.shape(),
                t.shape()
            ),
        ));
    }
    let d = normalize_dim(OP, dim, nd)?;
    for k in (0..nd).filter(|&k| k != d) {
        if index.shape()[k] > t.shape()[k] {
            return Err(Error::shape(
                OP,
                format!(
                    "size does not match at dimension {k}: expected index shape {:?} to be no larger than input shape {:?} apart from dimension {d}",
                    index.shape(),
                    t.shape()
                ),
            ));
        }
    }
    Ok(IndexMeta {
        dim: d,
        size: if nd == 0 { 1 } else { t.shape()[d] },
        out_shape: index.shape().to_vec(),
    })
}

/// Checks `embedding(weight, indices)`: `i32` indices of any shape into
/// the rows of a 2-D `[num_embeddings, embedding_dim]` weight. The result
/// is `indices.shape + [embedding_dim]`.
pub fn embedding(weight: &Tensor, indices: &Tensor) -> Result<IndexMeta> {
    const OP: &str = "embedding";
    index_dtype(OP, indices)?;
    let &[num, width] = weight.shape() else {
        return Err(Error::shape(
            OP,
            format!(
                "weight must be 2-D [num_embeddings, embedding_dim], got shape {:?}",
                weight.shape()
            ),
        ));
    };
    let mut out_shape = indices.shape().to_vec();
    out_shape.push(width);
    Ok(IndexMeta {
        dim: 0,
        size: num,
        out_shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::layout::Layout;
    use crate::tensor::Storage;
    use std::any::Any;
    use std::sync::Arc;

    /// Storage with a dtype and a length and no elements: the checks read
    /// neither.
    #[derive(Debug)]
    struct NoData(DType, usize);

    impl Storage for NoData {
        fn device(&self) -> Device {
            Device::Cpu
        }
        fn dtype(&self) -> DType {
            self.0
        }
        fn len(&self) -> usize {
            self.1
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
        fn read_bytes(&self, _: usize, _: usize) -> Result<Vec<u8>> {
            Err(Error::invalid("read_bytes", "shape-only test storage"))
        }
        fn write_bytes(&mut self, _: &[u8]) -> Result<()> {
            Err(Error::invalid("write_bytes", "shape-only test storage"))
        }
    }

    fn t(shape: &[usize], dtype: DType) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_storage(Arc::new(NoData(dtype, n)), Layout::contiguous(shape))
            .expect("contiguous layout fits")
    }

    fn f(shape: &[usize]) -> Tensor {
        t(shape, DType::F32)
    }

    #[test]
    fn matmul_shapes_follow_torch() {
        let mm = |a: &[usize], b: &[usize]| {
            let r = matmul(&f(a), &f(b)).expect("valid matmul");
            (r.out_shape, r.batch, [r.m, r.k, r.n])
        };
        assert_eq!(mm(&[3], &[3]), (vec![], vec![], [1, 3, 1]));
        assert_eq!(mm(&[2, 3], &[3]), (vec![2], vec![], [2, 3, 1]));
        assert_eq!(mm(&[3], &[3, 4]), (vec![4], vec![], [1, 3, 4]));
        assert_eq!(mm(&[2, 3], &[3, 4]), (vec![2, 4], vec![], [2, 3, 4]));
        // batch dims broadcast, a 1-D operand has none
        assert_eq!(
            mm(&[5, 1, 2, 3], &[6, 3, 4]),
            (vec![5, 6, 2, 4], vec![5, 6], [2, 3, 4])
        );
        assert_eq!(mm(&[3], &[7, 3, 4]), (vec![7, 4], vec![7], [1, 3, 4]));
        assert_eq!(mm(&[7, 2, 3], &[3]), (vec![7, 2], vec![7], [2, 3, 1]));
        assert_eq!(mm(&[0, 2, 0], &[0, 5]), (vec![0, 2, 5], vec![0], [2, 0, 5]));
    }

    #[test]
    fn matmul_refusals_and_dtypes() {
        let e = matmul(&f(&[2, 3]), &f(&[4, 5])).unwrap_err().to_string();
        assert!(e.contains("inner dimensions 3 and 4 differ"), "{e}");
        let e = matmul(&f(&[2, 2, 3]), &f(&[3, 3, 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch dims [2] and [3]"), "{e}");
        let e = matmul(&f(&[]), &f(&[3])).unwrap_err().to_string();
        assert!(e.contains("at least 1-D"), "{e}");
        let b = t(&[3], DType::Bool);
        assert!(matches!(
            matmul(&b, &b),
            Err(Error::UnsupportedDType { .. })
        ));
        let r = matmul(&t(&[3], DType::I32), &t(&[3], DType::F16)).unwrap();
        assert_eq!(r.dtype, DType::F16);
    }

    #[test]
    fn reductions_keepdim_and_dtypes() {
        let x = f(&[2, 3, 4]);
        let r = reduce(ReduceOp::Sum, &x, &[-1, 0], false).unwrap();
        assert_eq!(r.reduced, [true, false, true]);
        assert_eq!((r.out_shape, r.len, r.dtype), (vec![3], 8, DType::F32));
        let r = reduce(ReduceOp::Max, &x, &[1], true).unwrap();
        assert_eq!((r.out_shape, r.len), (vec![2, 1, 4], 3));
        // no dims: every dim
        let r = reduce(ReduceOp::Mean, &x, &[], true).unwrap();
        assert_eq!((r.out_shape, r.len), (vec![1, 1, 1], 24));
        assert_eq!(reduce(ReduceOp::Min, &x, &[], false).unwrap().out_shape, []);
        // a zero-dim tensor reduces over itself with dim 0 or -1
        let r = reduce(ReduceOp::Sum, &f(&[]), &[-1], true).unwrap();
        assert_eq!((r.reduced, r.out_shape, r.len), (vec![], vec![], 1));
        let i = t(&[2, 3], DType::Bool);
        assert_eq!(
            reduce(ReduceOp::Sum, &i, &[0], false).unwrap().dtype,
            DType::I32
        );
        assert_eq!(
            reduce(ReduceOp::Max, &i, &[0], false).unwrap().dtype,
            DType::Bool
        );
        assert!(reduce(ReduceOp::Mean, &i, &[0], false).is_err());
        let e = reduce(ReduceOp::Sum, &x, &[1, -2], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than once"), "{e}");
        // sum of nothing is fine, max of nothing is not
        let empty = f(&[2, 0]);
        assert_eq!(
            reduce(ReduceOp::Sum, &empty, &[1], true).unwrap().out_shape,
            [2, 1]
        );
        let e = reduce(ReduceOp::Max, &empty, &[1], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("reduction dim 1"), "{e}");
    }

    #[test]
    fn arg_reductions() {
        let x = t(&[2, 3], DType::F16);
        let r = arg_reduce(ArgOp::ArgMax, &x, Some(-1), true).unwrap();
        assert_eq!((r.out_shape, r.len, r.dtype), (vec![2, 1], 3, DType::I32));
        let r = arg_reduce(ArgOp::ArgMin, &x, None, false).unwrap();
        assert_eq!((r.out_shape, r.len), (vec![], 6));
        let r = arg_reduce(ArgOp::ArgMin, &x, None, true).unwrap();
        assert_eq!(r.out_shape, [1, 1]);
        assert!(arg_reduce(ArgOp::ArgMax, &t(&[2], DType::Bool), None, false).is_err());
        assert!(arg_reduce(ArgOp::ArgMax, &f(&[0, 2]), Some(0), false).is_err());
    }

    #[test]
    fn cat_skips_empty_vectors_and_promotes() {
        let i = t(&[2, 1], DType::I32);
        let r = cat(&[f(&[0]), f(&[2, 3]), i], -1).unwrap();
        assert_eq!((r.dim, r.inputs, r.out_shape), (1, vec![1, 2], vec![2, 4]));
        assert_eq!(r.dtype, DType::F32);
        // only empty vectors: nothing to check, an empty result
        let r = cat(&[f(&[0]), t(&[0], DType::F16)], 5).unwrap();
        assert_eq!(
            (r.inputs, r.out_shape, r.dtype),
            (vec![], vec![0], DType::F32)
        );
        let e = cat(&[f(&[2, 3]), f(&[3, 3])], 1).unwrap_err().to_string();
        assert!(
            e.contains("Expected size 2 but got size 3 for tensor number 1"),
            "{e}"
        );
    }

    #[test]
    fn index_shapes() {
        let i = |shape: &[usize]| t(shape, DType::I32);
        let r = index_select(&f(&[3, 4]), -1, &i(&[5])).unwrap();
        assert_eq!((r.dim, r.size, r.out_shape), (1, 4, vec![3, 5]));
        let r = index_select(&f(&[]), 0, &i(&[])).unwrap();
        assert_eq!((r.dim, r.size, r.out_shape), (0, 1, vec![]));
        let r = gather(&f(&[3, 4]), 0, &i(&[5, 2])).unwrap();
        assert_eq!((r.dim, r.size, r.out_shape), (0, 3, vec![5, 2]));
        assert!(gather(&f(&[3, 4]), 0, &i(&[5, 5])).is_err());
        let r = embedding(&f(&[10, 3]), &i(&[2, 4])).unwrap();
        assert_eq!((r.size, r.out_shape), (10, vec![2, 4, 3]));
        assert!(matches!(
            embedding(&f(&[10, 3]), &f(&[2])),
            Err(Error::DTypeMismatch { .. })
        ));
    }
}
