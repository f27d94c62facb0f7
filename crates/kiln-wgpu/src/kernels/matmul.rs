//! `matmul` with `torch.matmul`'s shape rules (1-D operands promoted and
//! their dim dropped, batch dims broadcast) and the CPU backend's dtypes:
//! mixed dtypes promote, f16/bf16 compute in f32 and round once, i32 wraps.
//!
//! Operands are read in place through their offsets and strides, including
//! broadcast batch dims (stride 0) and transposed views; an operand of
//! another dtype is cast to the promoted one as it is loaded, with the
//! CPU's rounding. One invocation computes a 4x4 block of outputs in
//! registers (`shaders/matmul.wgsl`).
//!
//! Note [Matmul vec4 path]: when both operands are f32 with contiguous
//! rows (column stride 1, row stride k / n), k and n are multiples of 4 and
//! every offset and batch stride is too, the kernel reads a and b as
//! `vec4<f32>` and writes dst the same way: 8 vector loads per 64
//! multiply-adds instead of 32 scalar (gathered) loads. Transposed and
//! other strided operands take the scalar kernel, still in place. Outputs packed two per word (bf16, and
//! f16 on devices without `SHADER_F16`) are computed into an f32 tensor and
//! cast, as the CPU does for bf16: a 4x4 block's words may straddle rows.

use super::cast::cast;
use super::elementwise::word;
use crate::context::{Access, Arg};
use crate::shader::{self, compute_type, Repr, MATMUL};
use crate::storage::WgpuStorage;
use kiln_core::meta::{self, MatmulMeta};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, Layout, Result, StackExt, StackResult, Tensor,
};

/// Invocations per workgroup (`@workgroup_size` in matmul.wgsl).
const WG: u64 = 64;
/// Outputs per invocation along each of the two matrix dims.
const BLOCK: usize = 4;

/// Rows, columns, and the (row, column) strides of one operand's matrices,
/// with its batch dims as a layout of their own.
fn as_matrix(l: &Layout, vector_is_row: bool) -> (Layout, usize, usize, [usize; 2]) {
    let (sh, st) = (l.shape(), l.strides());
    let nd = sh.len();
    if nd == 1 {
        let batch = Layout::new(vec![], vec![], l.offset());
        return if vector_is_row {
            (batch, 1, sh[0], [0, st[0]])
        } else {
            (batch, sh[0], 1, [st[0], 0])
        };
    }
    let batch = Layout::new(sh[..nd - 2].to_vec(), st[..nd - 2].to_vec(), l.offset());
    (batch, sh[nd - 2], sh[nd - 1], [st[nd - 2], st[nd - 1]])
}

/// `a @ b` on the GPU.
pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let MatmulMeta {
        dtype: dt,
        batch,
        m,
        k,
        n,
        out_shape,
    } = meta::matmul(a, b)?;
    let (ba, _, _, ma) = as_matrix(a.layout(), true);
    let (bb, _, _, mb) = as_matrix(b.layout(), false);
    let la = ba.broadcast_to("matmul", &batch)?;
    let lb = bb.broadcast_to("matmul", &batch)?;

    let ctx = WgpuStorage::of("matmul", a)?.context().clone();
    let native = ctx.native_f16();
    let out_repr = Repr::new(dt, native);
    // packed outputs go through f32 (module doc)
    let acc_dt = if out_repr.per_word() == 1 {
        dt
    } else {
        DType::F32
    };
    let out = WgpuStorage::tensor("matmul", &ctx, acc_dt, &out_shape)?;
    if out.numel() == 0 {
        return if acc_dt == dt {
            Ok(out)
        } else {
            cast(&out, dt)
        };
    }

    let nbatch: usize = batch.iter().product();
    let (rb, cb) = (m.div_ceil(BLOCK), n.div_ceil(BLOCK));
    let per_batch = rb * cb;
    let total = nbatch
        .checked_mul(per_batch)
        .ok_or_else(|| Error::invalid("matmul", "too many output blocks"))?;
    let w = |what: &str, v: usize| word("matmul", what, v);
    let mut info = vec![
        w("invocation count", total)?,
        batch.len() as u32,
        w("dimension", m)?,
        w("dimension", n)?,
        w("dimension", k)?,
        w("block count", cb)?,
        w("block count", per_batch)?,
        w("stride", ma[0])?,
        w("stride", ma[1])?,
        w("stride", mb[0])?,
        w("stride", mb[1])?,
        w("offset", la.offset())?,
        w("offset", lb.offset())?,
    ];
    for &d in batch.iter() {
        info.push(w("dimension", d)?);
    }
    for l in [&la, &lb] {
        for &s in l.strides() {
            info.push(w("stride", s)?);
        }
    }

    let fours = |v: usize| v.is_multiple_of(4);
    let vec4 = a.dtype() == DType::F32
        && b.dtype() == DType::F32
        && ma == [k, 1]
        && mb == [n, 1]
        && fours(k)
        && fours(n)
        && fours(la.offset())
        && fours(lb.offset())
        && la.strides().iter().chain(lb.strides()).all(|&s| fours(s));
    let (ra, rbr) = (Repr::new(a.dtype(), native), Repr::new(b.dtype(), native));
    let acc_repr = Repr::new(acc_dt, native);
    let key = format!(
        "matmul:{}x{}->{dt}->{acc_dt}:{}:{}",
        a.dtype(),
        b.dtype(),
        if native { "f16" } else { "packed" },
        if vec4 { "vec4" } else { "strided" }
    );
    let load = |r: Repr, buf: &str| {
        format!(
            "cast_{}_{}({})",
            r.dtype.name(),
            dt.name(),
            r.load(buf, "j")
        )
    };
    let access = [Access::ReadWrite, Access::Read, Access::Read];
    let kernel = ctx.kernel(&key, &access, || {
        let (main, elems) = if vec4 {
            ("vec4", ["vec4<f32>"; 3])
        } else {
            (
                "strided",
                [acc_repr.array_elem(), ra.array_elem(), rbr.array_elem()],
            )
        };
        let template = format!("{}{}", shader::head(MATMUL), shader::chunk(MATMUL, main));
        let src = shader::fill(
            &template,
            &[
                ("DST", elems[0]),
                ("A", elems[1]),
                ("B", elems[2]),
                ("CT", compute_type(dt)),
                ("LOAD_A", &load(ra, "a")),
                ("LOAD_B", &load(rbr, "b")),
                ("STORE", acc_repr.store()),
            ],
        );
        shader::module(native, &[&src])
    })?;
    let (sta, stb) = (WgpuStorage::of("matmul", a)?, WgpuStorage::of("matmul", b)?);
    let mut args = [WgpuStorage::of("matmul", &out)?.arg(), sta.arg(), stb.arg()];
    if vec4 {
        // whole vec4s, at least one: pool buffers are multiples of 16 bytes
        args = args.map(|a| Arg {
            bytes: a.bytes.max(16).next_multiple_of(16),
            ..a
        });
    }
    let groups = if vec4 {
        // a workgroup per row block and 64 column blocks (matmul.wgsl)
        (nbatch * rb) as u64 * (cb as u64).div_ceil(WG)
    } else {
        (total as u64).div_ceil(WG)
    };
    ctx.dispatch("matmul", &kernel, &info, &args, groups)?;
    if acc_dt == dt {
        Ok(out)
    } else {
        cast(&out, dt)
    }
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(op::MATMUL, DispatchKey::Wgpu, "wgpu::matmul", |_, _, s| {
        let out = matmul(s.tensor("matmul", 0)?, s.tensor("matmul", 1)?)?;
        s.set_result(out);
        Ok(())
    })
}
