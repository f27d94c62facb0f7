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
//! `vec4<f32>` and writes dst the same way, each invocation computing a
//! block of rows by vec4 columns (Note [Matmul tiles]). Transposed and
//! other strided operands take the scalar 4x4 kernel, still in place.
//! Outputs packed two per word (bf16, and f16 on devices without
//! `SHADER_F16`) are computed into an f32 tensor and cast, as the CPU does
//! for bf16: a 4x4 block's words may straddle rows.
//!
//! Note [Matmul tiles]: the vec4 kernel's block is R rows by C vec4
//! columns per invocation, WG invocations per workgroup. A CPU adapter
//! (lavapipe, SwiftShader) runs one workgroup per thread with the
//! invocations as SIMD lanes: a's loads are uniform (cheap) and b's are
//! per-lane gathers (expensive), so the block is as tall as possible and
//! the accumulators living on the stack costs less than the gathers saved.
//! On lavapipe, matmul 512 f32 (single runs of each unrolled block on a
//! shared machine): 4x1 ~0.9 GFLOP/s, 8x2 ~1.8, 16x4 ~3.2-3.7, 32x4 ~4.7. A GPU
//! keeps 4x1 (16 accumulators, no spills, many invocations in flight).
//! The block's lines are unrolled by the host: WGSL loops over arrays of
//! accumulators ran 1.6x slower on lavapipe.

use super::cast::cast;
use super::elementwise::word;
use crate::context::{Access, Arg};
use crate::shader::{self, compute_type, Repr, MATMUL};
use crate::storage::WgpuStorage;
use kiln_core::meta::{self, MatmulMeta};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, Layout, Result, StackExt, StackResult, Tensor,
};

/// Invocations per workgroup of the strided kernel (`@workgroup_size`).
const WG: u64 = 64;
/// Outputs per invocation along each of the two matrix dims (strided).
const BLOCK: usize = 4;

/// The vec4 kernel's block: rows, vec4 columns, and invocations per
/// workgroup (Note [Matmul tiles]).
#[derive(Debug, Clone, Copy)]
struct Tile {
    rows: usize,
    cols: usize,
    wg: usize,
}

impl Tile {
    /// The block for an `m` x `n` output, on a CPU adapter (`cpu`) or a GPU.
    /// On a CPU adapter, the block shrinks to the next power of two of a
    /// small `m` or `n / 4`: rows and columns past the edge are computed and
    /// dropped, so a 32-row block on a one-row product would do 32 times
    /// the work.
    fn new(cpu: bool, m: usize, n: usize) -> Tile {
        if cpu {
            Tile {
                rows: m.next_power_of_two().clamp(1, 32),
                cols: (n / 4).next_power_of_two().clamp(1, 4),
                wg: 16,
            }
        } else {
            Tile {
                rows: 4,
                cols: 1,
                wg: 64,
            }
        }
    }

    /// The values of the vec4 chunk's placeholders (matmul.wgsl): the
    /// block's unrolled lines.
    ///
    /// With `bt`, b is the transpose of a contiguous `[n, k]` matrix (as
    /// `linear` passes its weight): a column of b is then a run along k,
    /// read four k at a time, and each output is a dot product of vec4s.
    fn fills(self, bt: bool) -> Vec<(&'static str, String)> {
        use std::fmt::Write;
        let [mut rows, mut cols, mut acc, mut step, mut stores]: [String; 5] = Default::default();
        for r in 0..self.rows {
            let _ = writeln!(rows, "    let ra{r} = off.x + min(i0 + {r}u, m - 1u) * k4;");
        }
        for c in 0..self.cols {
            if bt {
                for t in 0..4 {
                    let _ = writeln!(
                        cols,
                        "    let cb{c}_{t} = off.y + min((j0 + {c}u) * 4u + {t}u, n4 * 4u - 1u) * k4;"
                    );
                    let _ = writeln!(step, "        let b{c}_{t} = b[cb{c}_{t} + q];");
                }
            } else {
                let _ = writeln!(cols, "    let cb{c} = off.y + min(j0 + {c}u, n4 - 1u);");
                for t in 0..4 {
                    let _ = writeln!(step, "        let b{c}_{t} = b[cb{c} + qb + {t}u * n4];");
                }
            }
        }
        for r in 0..self.rows {
            let _ = writeln!(step, "        let a{r} = a[ra{r} + q];");
            for c in 0..self.cols {
                let _ = writeln!(acc, "    var c{r}_{c} = vec4<f32>();");
                let _ = if bt {
                    writeln!(
                        step,
                        "        c{r}_{c} += vec4<f32>(dot(a{r}, b{c}_0), dot(a{r}, b{c}_1), \
                         dot(a{r}, b{c}_2), dot(a{r}, b{c}_3));"
                    )
                } else {
                    writeln!(
                        step,
                        "        c{r}_{c} += a{r}.x * b{c}_0 + a{r}.y * b{c}_1 \
                         + a{r}.z * b{c}_2 + a{r}.w * b{c}_3;"
                    )
                };
                let _ = writeln!(
                    stores,
                    "    if (i0 + {r}u < m && j0 + {c}u < n4) {{ \
                     dst[base + (i0 + {r}u) * n4 + j0 + {c}u] = c{r}_{c}; }}"
                );
            }
        }
        vec![
            ("WG", self.wg.to_string()),
            ("R", self.rows.to_string()),
            ("C", self.cols.to_string()),
            ("ROWS", rows),
            ("COLS", cols),
            ("ACC", acc),
            ("STEP", step),
            ("STORES", stores),
        ]
    }
}

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
        && (mb == [n, 1] || mb == [1, k])
        && fours(k)
        && fours(n)
        && fours(la.offset())
        && fours(lb.offset())
        && la.strides().iter().chain(lb.strides()).all(|&s| fours(s));
    // b as the transpose of a contiguous [n, k] (Tile::fills)
    let bt = vec4 && mb == [1, k];
    let tile = Tile::new(ctx.tuned_for_cpu(), m, n);
    let (col_blocks, row_blocks) = ((n / 4).div_ceil(tile.cols), m.div_ceil(tile.rows));
    if vec4 {
        // the vec4 chunk's own block counts (matmul.wgsl)
        info[5] = w("block count", col_blocks)?;
        info[6] = w("block count", row_blocks)?;
    }
    let (ra, rbr) = (Repr::new(a.dtype(), native), Repr::new(b.dtype(), native));
    let acc_repr = Repr::new(acc_dt, native);
    let key = format!(
        "matmul:{}x{}->{dt}->{acc_dt}:{}:{}",
        a.dtype(),
        b.dtype(),
        if native { "f16" } else { "packed" },
        if vec4 {
            format!("vec4:{}x{}x{}:bt{bt}", tile.rows, tile.cols, tile.wg)
        } else {
            "strided".to_string()
        }
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
        let mut fills = vec![
            ("DST", elems[0].to_string()),
            ("A", elems[1].to_string()),
            ("B", elems[2].to_string()),
            ("CT", compute_type(dt).to_string()),
            ("LOAD_A", load(ra, "a")),
            ("LOAD_B", load(rbr, "b")),
            ("STORE", acc_repr.store().to_string()),
        ];
        if vec4 {
            fills.extend(tile.fills(bt));
        }
        let fills: Vec<(&str, &str)> = fills.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let src = shader::fill(&template, &fills);
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
        // a workgroup per row block and WG column blocks (matmul.wgsl)
        (nbatch * row_blocks) as u64 * (col_blocks as u64).div_ceil(tile.wg as u64)
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
