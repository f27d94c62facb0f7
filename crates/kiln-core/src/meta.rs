//! The argument checks of the ops every backend implements: which calls
//! are refused (with which error), the output shape, the result dtype and
//! the normalised dims. Each backend calls these before it touches any
//! storage, so the CPU and the GPU refuse the same calls with the same
//! messages (`crates/kiln/tests/errors_agree.rs` holds them to it).
//! Nothing here reads an element: checks of index *values* stay in the
//! backends. `conv2d` and `max_pool2d` have theirs in [`crate::conv`].

use crate::dtype::{promote_types, DType};
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, normalize_dim};
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
}
