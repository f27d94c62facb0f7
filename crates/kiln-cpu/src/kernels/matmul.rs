//! `matmul` as `torch.matmul`: 1-D x 1-D is a dot product, 2-D x 2-D a
//! matrix product, a 1-D operand is promoted to a matrix and its dim
//! squeezed from the result, and leading (batch) dims broadcast.
//!
//! Note [Matmul reads operands in place]: every operand is read through
//! its row and column strides (a transposed or sliced matrix needs no
//! copy) and each batch through its own storage offset, with stride 0 for
//! a broadcast batch dim.
//!
//! Kernels: f32 on `gemm`'s f32 kernel (at 64 x 512 x 512, the MLP
//! layer of the `model` bench, it took 330-370 us against 420-570 us for
//! `matrixmultiply` split over rayon rows; at 1024 the two were even);
//! f16 on `gemm`'s f16 kernel, which packs to f32 and accumulates in f32,
//! rounding to f16 once per depth block of a few hundred; bf16, which
//! neither crate has, is converted to f32, multiplied, and rounded once;
//! i32 is a plain wrapping loop, as PyTorch's integer matmul on CPU.
//! `linear` on f32 adds its bias inside the GEMM (Note [Fused f32 linear]).
//!
//! Threads: many small products run in parallel over the batch. One big
//! product runs on `gemm`'s own threads (f32, f16), or is split into
//! blocks of rows over rayon (i32), each block one single-threaded product.

use crate::elem::Elem;
use crate::iter::{walk, Operand, GRAIN};
use crate::kernels::cast::cast;
use crate::storage::alloc;
use crate::tensor_io::{slice_of, wrap};
use half::f16;
use kiln_core::meta::{self, MatmulMeta};
use kiln_core::{
    op, stack, DType, DispatchKey, DispatchKeySet, Dispatcher, Error, IValue, Layout, Result,
    Stack, StackExt, StackResult, Tensor,
};
use rayon::prelude::*;

/// Multiply-adds below which a batch of products runs serially.
const PAR_WORK: usize = 1 << 18;

/// One operand matrix: row and column strides in elements.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat {
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

/// The sizes and strides of one `m x k` by `k x n` product.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: Mat,
    pub b: Mat,
}

/// Everything a batched product needs, derived from the two layouts.
struct Plan {
    dims: Dims,
    /// Storage offsets of each batch's `a` and `b` matrices.
    batches: Vec<(usize, usize)>,
    /// The result's shape (1-D operands' dims squeezed).
    out_shape: Vec<usize>,
}

/// Splits `l` into batch dims and one matrix; `vector_is_row` says how a
/// 1-D operand is promoted (`[k]` -> `[1, k]` on the left, `[k, 1]` on the right).
fn as_matrix(l: &Layout, vector_is_row: bool) -> (Layout, usize, usize, Mat) {
    let (sh, st) = (l.shape(), l.strides());
    let nd = sh.len();
    if nd == 1 {
        let batch = Layout::new(vec![], vec![], l.offset());
        return if vector_is_row {
            (batch, 1, sh[0], Mat { rs: 0, cs: st[0] })
        } else {
            (batch, sh[0], 1, Mat { rs: st[0], cs: 0 })
        };
    }
    let batch = Layout::new(sh[..nd - 2].to_vec(), st[..nd - 2].to_vec(), l.offset());
    (
        batch,
        sh[nd - 2],
        sh[nd - 1],
        Mat {
            rs: st[nd - 2],
            cs: st[nd - 1],
        },
    )
}

/// The batches of `meta`'s products over the operand layouts `a`, `b`.
fn plan(meta: &MatmulMeta, a: &Layout, b: &Layout) -> Result<Plan> {
    let (ba, _, _, ma) = as_matrix(a, true);
    let (bb, _, _, mb) = as_matrix(b, false);
    let batch = &meta.batch;
    let ops = [
        Operand::of(&ba.broadcast_to("matmul", batch)?),
        Operand::of(&bb.broadcast_to("matmul", batch)?),
    ];
    let count: usize = batch.iter().product();
    let mut batches = Vec::with_capacity(count);
    walk(batch, &ops, 0, count, |_, [oa, ob]| batches.push((oa, ob)));
    Ok(Plan {
        dims: Dims {
            m: meta.m,
            k: meta.k,
            n: meta.n,
            a: ma,
            b: mb,
        },
        batches,
        out_shape: meta.out_shape.clone(),
    })
}

/// The largest index a `rows x cols` matrix at `off` with strides `mat`
/// reads, plus one (0 when it is empty).
fn extent(off: usize, rows: usize, cols: usize, mat: Mat) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    off + (rows - 1) * mat.rs + (cols - 1) * mat.cs + 1
}

/// One operand: its storage slice and the offset of its matrix.
pub(crate) type Src<'a, T> = (&'a [T], usize);

/// An element type with a matrix product kernel.
trait MatElem: Elem {
    /// Whether `product` can use threads of its own; the other kernels get
    /// theirs from [`split_rows`].
    const OWN_THREADS: bool;
    /// `dst` (row-major `m x n`) = `a` (`m x k`) times `b` (`k x n`). The
    /// caller has checked that both matrices lie inside their slices and
    /// that `k > 0`.
    fn product(d: &Dims, dst: &mut [Self], a: Src<'_, Self>, b: Src<'_, Self>, threads: bool);
}

/// `dst = alpha * dst + beta * (a @ b)` on `gemm`'s kernel for `T`, `dst`
/// row-major `m x n`, on gemm's own rayon threads when `threads`. `dst` is
/// read only when `read_dst`.
///
/// # Safety
/// `a[oa..]` and `b[ob..]` hold the whole matrices at `d`'s strides, and
/// `dst` has `m * n` elements.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: 'static>(
    d: &Dims,
    dst: &mut [T],
    (a, oa): Src<'_, T>,
    (b, ob): Src<'_, T>,
    read_dst: bool,
    alpha: T,
    beta: T,
    threads: bool,
) {
    let par = if threads {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    debug_assert_eq!(dst.len(), d.m * d.n);
    // SAFETY: the caller's contract covers every pointer gemm reads and
    // writes.
    unsafe {
        gemm::gemm(
            d.m,
            d.n,
            d.k,
            dst.as_mut_ptr(),
            1,
            d.n as isize,
            read_dst,
            a.as_ptr().add(oa),
            d.a.cs as isize,
            d.a.rs as isize,
            b.as_ptr().add(ob),
            d.b.cs as isize,
            d.b.rs as isize,
            alpha,
            beta,
            false,
            false,
            false,
            par,
        )
    }
}

impl MatElem for f32 {
    const OWN_THREADS: bool = true;
    fn product(d: &Dims, dst: &mut [f32], a: Src<'_, f32>, b: Src<'_, f32>, threads: bool) {
        // SAFETY: `run` checked the operands' extents and `dst`'s length;
        // with `read_dst = false` its stale contents are never read.
        unsafe { gemm_into(d, dst, a, b, false, 0.0, 1.0, threads) }
    }
}

impl MatElem for f16 {
    const OWN_THREADS: bool = true;
    fn product(d: &Dims, dst: &mut [f16], a: Src<'_, f16>, b: Src<'_, f16>, threads: bool) {
        // SAFETY: as for f32.
        unsafe { gemm_into(d, dst, a, b, false, f16::ZERO, f16::ONE, threads) }
    }
}

impl MatElem for i32 {
    const OWN_THREADS: bool = false;
    fn product(d: &Dims, dst: &mut [i32], (a, oa): Src<'_, i32>, (b, ob): Src<'_, i32>, _: bool) {
        // i-p-j order: the inner loop walks a row of `b` and of `dst`.
        for (i, row) in dst.chunks_mut(d.n).enumerate().take(d.m) {
            row.fill(0);
            for q in 0..d.k {
                let x = a[oa + i * d.a.rs + q * d.a.cs];
                let bq = ob + q * d.b.rs;
                for (j, o) in row.iter_mut().enumerate() {
                    *o = o.wrapping_add(x.wrapping_mul(b[bq + j * d.b.cs]));
                }
            }
        }
    }
}

/// One product split into blocks of rows, one single-threaded product per
/// block, in parallel.
fn split_rows<T: MatElem>(d: &Dims, dst: &mut [T], (a, oa): Src<'_, T>, b: Src<'_, T>) {
    // About one block per thread, none under `GRAIN` multiply-adds, and a
    // multiple of 16 rows so no block ends inside a microkernel's tile.
    let per_thread = d.m.div_ceil(rayon::current_num_threads());
    let rows = per_thread
        .max(GRAIN / (d.n * d.k))
        .next_multiple_of(16)
        .min(d.m);
    dst.par_chunks_mut(rows * d.n)
        .enumerate()
        .for_each(|(c, block)| {
            let sub = Dims {
                m: block.len() / d.n,
                ..*d
            };
            T::product(&sub, block, (a, oa + c * rows * d.a.rs), b, false);
        });
}

/// One f32 product into a row-major `dst`, split over rayon when `threads`
/// and big (for `conv2d`). Both matrices must lie inside their slices.
pub(crate) fn product_f32(
    d: &Dims,
    dst: &mut [f32],
    a: Src<'_, f32>,
    b: Src<'_, f32>,
    threads: bool,
) {
    assert!(
        dst.len() == d.m * d.n
            && extent(a.1, d.m, d.k, d.a) <= a.0.len()
            && extent(b.1, d.k, d.n, d.b) <= b.0.len(),
        "matmul: operand layout outside its storage (internal)"
    );
    if d.m * d.n == 0 {
        return;
    }
    if d.k == 0 {
        dst.fill(0.0);
    } else if threads && d.m * d.n * d.k >= PAR_WORK {
        split_rows(d, dst, a, b);
    } else {
        f32::product(d, dst, a, b, false);
    }
}

/// Runs the plan over operands of one dtype.
fn run<T: MatElem>(p: &Plan, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (sa, sb) = (slice_of::<T>("matmul", a)?, slice_of::<T>("matmul", b)?);
    let d = &p.dims;
    let mn = d.m * d.n;
    let mut out = alloc::<T>(p.batches.len() * mn);
    if mn == 0 {
        return wrap(out, &p.out_shape);
    }
    if d.k == 0 {
        out.fill(T::ZERO);
        return wrap(out, &p.out_shape);
    }
    // Note: the unsafe GEMM calls rely on this check of every batch.
    for &(oa, ob) in &p.batches {
        assert!(
            extent(oa, d.m, d.k, d.a) <= sa.len() && extent(ob, d.k, d.n, d.b) <= sb.len(),
            "matmul: operand layout outside its storage (internal)"
        );
    }
    let work = mn * d.k;
    let nb = p.batches.len();
    if nb > 1 && work * nb >= PAR_WORK && (work < PAR_WORK || nb >= rayon::current_num_threads()) {
        out.par_chunks_mut(mn)
            .zip(p.batches.par_iter())
            .for_each(|(dst, &(oa, ob))| T::product(d, dst, (sa, oa), (sb, ob), false));
    } else {
        let big = work >= PAR_WORK;
        for (dst, &(oa, ob)) in out.chunks_mut(mn).zip(&p.batches) {
            if big && !T::OWN_THREADS {
                split_rows(d, dst, (sa, oa), (sb, ob));
            } else {
                T::product(d, dst, (sa, oa), (sb, ob), big);
            }
        }
    }
    wrap(out, &p.out_shape)
}

/// `a @ b` with `torch.matmul`'s shape rules; mixed dtypes promote.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    // Errors come from the caller's tensors, before any cast.
    let meta = meta::matmul(a, b)?;
    let dt = meta.dtype;
    let p = plan(&meta, a.layout(), b.layout())?;
    // bf16 computes in f32 (an operand promoted to bf16 rounds first).
    let cdt = if dt == DType::BF16 { DType::F32 } else { dt };
    if a.dtype() == cdt && b.dtype() == cdt {
        return run_as(dt, &p, a, b);
    }
    let promote = |t: &Tensor| -> Result<Tensor> {
        match t.dtype() {
            d if d == cdt => Ok(t.clone()),
            d if d == dt => cast(t, cdt),
            _ => cast(&cast(t, dt)?, cdt),
        }
    };
    // A cast is a contiguous copy with a layout of its own: plan again.
    let (a, b) = (promote(a)?, promote(b)?);
    run_as(dt, &plan(&meta, a.layout(), b.layout())?, &a, &b)
}

/// Runs `p` on operands already in `dt`'s compute dtype.
fn run_as(dt: DType, p: &Plan, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match dt {
        DType::F32 => run::<f32>(p, a, b),
        DType::F16 => run::<f16>(p, a, b),
        DType::BF16 => cast(&run::<f32>(p, a, b)?, DType::BF16),
        DType::I32 => run::<i32>(p, a, b),
        DType::Bool => Err(Error::dtype(
            "matmul",
            dt,
            "matmul is defined for f32, f16, bf16 and i32",
        )),
    }
}

/// Note [Fused f32 linear]: `linear(x, w, b) = x @ w^T + b` on f32 starts
/// the output as `b` repeated on every row and lets the GEMM accumulate
/// into it (`read_dst`), so the bias costs no pass of its own over the
/// output (it was a third of a 64 x 512 layer's time apart from the
/// product). Other dtypes and layouts run as the composite does, through
/// the dispatcher below this key.
fn linear(ks: DispatchKeySet, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    if w.ndim() != 2 {
        return Err(Error::shape(
            "linear",
            format!("weight must be 2-D [out, in], got shape {:?}", w.shape()),
        ));
    }
    if let Some(out) = linear_f32(x, w, b)? {
        return Ok(out);
    }
    let d = Dispatcher::global();
    let call = |op, mut st: Stack| -> Result<Tensor> {
        d.redispatch(op, ks, &mut st)?;
        match st.into_iter().next() {
            Some(IValue::Tensor(t)) => Ok(t),
            _ => Err(Error::invalid("linear", "kernel did not return a tensor")),
        }
    };
    let wt = call(
        op::TRANSPOSE,
        stack![w.clone().into(), IValue::Int(0), IValue::Int(1)],
    )?;
    let y = call(op::MATMUL, stack![x.clone().into(), wt.into()])?;
    match b {
        Some(b) => call(op::ADD, stack![y.into(), b.clone().into()]),
        None => Ok(y),
    }
}

/// The fused path of [`linear`], or `None` where it does not apply: every
/// operand f32, `w` 2-D `[n, k]`, `x`'s leading dims flattening to rows
/// without a copy, `b` of shape `[n]`.
fn linear_f32(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Option<Tensor>> {
    let f32s = x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && b.is_none_or(|b| b.dtype() == DType::F32);
    if !f32s || w.ndim() != 2 || x.ndim() == 0 || x.device() != w.device() {
        return Ok(None);
    }
    let (n, k) = (w.shape()[0], w.shape()[1]);
    if x.shape()[x.ndim() - 1] != k || k == 0 || b.is_some_and(|b| b.shape() != [n]) {
        return Ok(None);
    }
    if b.is_some_and(|b| b.device() != x.device()) {
        return Ok(None);
    }
    let m = x.numel() / k;
    let Some(xl) = x.layout().view(&[m, k]) else {
        return Ok(None);
    };
    let mut out_shape = x.shape().to_vec();
    out_shape[x.ndim() - 1] = n;
    let mut out = alloc::<f32>(m * n);
    if m * n == 0 {
        return Ok(Some(wrap(out, &out_shape)?));
    }
    if let Some(b) = b {
        let bs = slice_of::<f32>("linear", b)?;
        let (st, off) = (b.strides()[0], b.layout().offset());
        let row: Vec<f32> = (0..n).map(|j| bs[off + j * st]).collect();
        out.chunks_mut(n).for_each(|r| r.copy_from_slice(&row));
    }
    let d = Dims {
        m,
        k,
        n,
        a: Mat {
            rs: xl.strides()[0],
            cs: xl.strides()[1],
        },
        // w^T: element (q, j) is w[j, q]
        b: Mat {
            rs: w.strides()[1],
            cs: w.strides()[0],
        },
    };
    let (sx, sw) = (slice_of::<f32>("linear", x)?, slice_of::<f32>("linear", w)?);
    let (ox, ow) = (xl.offset(), w.layout().offset());
    assert!(
        extent(ox, m, k, d.a) <= sx.len() && extent(ow, k, n, d.b) <= sw.len(),
        "linear: operand layout outside its storage (internal)"
    );
    // SAFETY: both matrices lie inside their slices (checked above) and
    // `out` has `m * n` elements; `read_dst` is set only when `out` holds
    // the bias rows (without a bias its stale contents are never read).
    unsafe {
        gemm_into(
            &d,
            &mut out,
            (sx, ox),
            (sw, ow),
            b.is_some(),
            1.0,
            1.0,
            m * n * k >= PAR_WORK,
        )
    };
    Ok(Some(wrap(out, &out_shape)?))
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(op::MATMUL, DispatchKey::Cpu, "cpu::matmul", |_, _, s| {
        let out = matmul(s.tensor("matmul", 0)?, s.tensor("matmul", 1)?)?;
        s.set_result(out);
        Ok(())
    })?;
    d.register_kernel(op::LINEAR, DispatchKey::Cpu, "cpu::linear", |_, ks, s| {
        let (x, w) = (
            s.tensor("linear", 0)?.clone(),
            s.tensor("linear", 1)?.clone(),
        );
        let b = s.opt_tensor("linear", 2)?.cloned();
        let out = linear(ks, &x, &w, b.as_ref())?;
        s.set_result(out);
        Ok(())
    })
}
