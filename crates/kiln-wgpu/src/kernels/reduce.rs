//! Reductions, with the CPU backend's dtypes and semantics: `sum mean max
//! min` over a list of dims (every dim when the list is empty) and `argmax
//! argmin` over one dim (the flattened tensor when none), each with
//! `keepdim`. `sum` of `i32`/`bool` is `i32` (wrapping); float sums use a
//! compensated f32 pair (close to the CPU's f64 accumulator) and round
//! once; `mean` needs a float; `max`/`min` keep the dtype; `arg*` give
//! `i32` indices, the first on ties, NaN counting as the extreme.
//!
//! Also the row machinery softmax and layer_norm share (Note [Row info] in
//! `shaders/reduce.wgsl`): the input is read in place through its strides,
//! its dims split into row dims and element dims, each list collapsed.
//! Outputs of dtypes stored several per word (bf16, bool, f16 without
//! `SHADER_F16`) are written as f32/i32 and cast by one elementwise
//! dispatch, since neighbouring rows belong to different invocations.

use super::cast;
use super::elementwise::{collapse, word};
use crate::context::{Access, Arg, WgpuContext};
use crate::shader::{self, Repr, REDUCE};
use crate::storage::WgpuStorage;
use kiln_core::meta::{self, ArgOp, ReduceMeta, ReduceOp};
use kiln_core::{op, DType, DispatchKey, Dispatcher, Result, StackExt, StackResult, Tensor};
use std::sync::Arc;

/// Invocations per workgroup of the row kernels on `ctx` (`RWG` in
/// reduce.wgsl).
///
/// Note [Row workgroups]: a GPU wants a workgroup of many invocations and
/// a tree in workgroup memory. A CPU adapter (lavapipe) runs a workgroup on
/// one thread as SIMD lanes, 8 f32 wide with AVX2, and a workgroup larger
/// than that as several lane groups that must switch at every barrier. With
/// workgroups of 8 there, softmax of [1024, 1024] f32 took 42 ms instead of
/// 92 and a sum of all of it 13 ms instead of 63 (same loaded machine, one
/// run each).
pub(crate) fn row_wg(ctx: &WgpuContext) -> usize {
    if ctx.tuned_for_cpu() {
        8
    } else {
        128
    }
}

/// reduce.wgsl's head, with `RWG` for `ctx`: the row indexing every row
/// kernel's module starts with.
pub(crate) fn row_head(ctx: &WgpuContext) -> String {
    shader::fill(shader::head(REDUCE), &[("RWG", &row_wg(ctx).to_string())])
}

/// How a row kernel walks its operands (Note [Row info]).
pub(crate) struct Rows {
    /// Number of rows.
    pub rows: usize,
    /// Elements per row.
    pub m: usize,
    /// Invocations per workgroup (`row_wg`); kernel keys name it.
    pub rwg: usize,
    offset: usize,
    kept: Vec<usize>,
    kept_strides: Vec<Vec<usize>>,
    red: Vec<usize>,
    red_strides: Vec<Vec<usize>>,
}

impl Rows {
    /// The dims of `shape` split by `reduced` into row dims and element
    /// dims, with one `strides` row per operand (the input's first; its
    /// storage offset is `offset`), for workgroups of `rwg` invocations.
    pub fn new(
        shape: &[usize],
        strides: &[&[usize]],
        reduced: &[bool],
        offset: usize,
        rwg: usize,
    ) -> Rows {
        let pick = |want: bool| {
            let dims: Vec<usize> = (0..shape.len()).filter(|&d| reduced[d] == want).collect();
            let sizes: Vec<usize> = dims.iter().map(|&d| shape[d]).collect();
            let st: Vec<Vec<usize>> = strides
                .iter()
                .map(|s| dims.iter().map(|&d| s[d]).collect())
                .collect();
            (sizes.iter().product::<usize>(), collapse(&sizes, &st))
        };
        let (rows, (kept, kept_strides)) = pick(false);
        let (m, (red, red_strides)) = pick(true);
        Rows {
            rows,
            m,
            rwg,
            offset,
            kept,
            kept_strides,
            red,
            red_strides,
        }
    }

    /// Invocations per row: one for short rows, else about eight elements
    /// each, at most a workgroup.
    pub fn tpr(&self) -> usize {
        let per = self.m / 8;
        if self.m < 16 || per < 2 {
            return 1;
        }
        (1usize << (usize::BITS - 1 - per.leading_zeros())).min(self.rwg)
    }

    /// Whether each row is one run of consecutive elements in every operand
    /// (a kernel may then index `row start + i` without the stride walk).
    pub fn contiguous_rows(&self) -> bool {
        self.red.len() == 1 && self.red_strides.iter().all(|s| s[0] == 1)
    }

    /// Workgroups to dispatch.
    pub fn groups(&self) -> u64 {
        self.rows.div_ceil(self.rwg / self.tpr()) as u64
    }

    /// `i` when each row is contiguous in every operand, else the stride
    /// walk of operand `k`: the offset of element `i` within a row.
    pub fn at(&self, k: usize) -> String {
        if self.contiguous_rows() {
            "i".to_string()
        } else {
            format!("elem_off({k}u, i)")
        }
    }

    /// How many segments to cut each row into for the two-pass reduction
    /// (Note [Long rows]), or `None` to run one pass.
    fn segments(&self) -> Option<usize> {
        const MIN_GROUPS: usize = 64;
        const MIN_SEGMENT: usize = 2048;
        if self.groups() >= MIN_GROUPS as u64 || self.m < 2 * MIN_SEGMENT {
            return None;
        }
        let segs = (self.m / MIN_SEGMENT).min(MIN_GROUPS.div_ceil(self.rows));
        (segs > 1).then_some(segs)
    }

    /// The info words, with `param` in `info[3]`.
    pub fn info(&self, op: &str, param: u32) -> Result<Vec<u32>> {
        let mut info = vec![
            word(op, "row count", self.rows)?,
            word(op, "row length", self.m)?,
            self.tpr() as u32,
            param,
            self.kept.len() as u32,
            self.red.len() as u32,
            self.kept_strides.len() as u32,
            word(op, "offset", self.offset)?,
        ];
        for (sizes, strides) in [
            (&self.kept, &self.kept_strides),
            (&self.red, &self.red_strides),
        ] {
            for &d in sizes {
                info.push(word(op, "dimension", d)?);
            }
            for s in strides {
                for &v in s {
                    info.push(word(op, "stride", v)?);
                }
            }
        }
        Ok(info)
    }
}

/// The dtype a row kernel writes for an output of `dtype`: itself when one
/// invocation can store an element alone, else f32 (floats) or i32 (bool),
/// cast afterwards.
pub(crate) fn written(dtype: DType, native_f16: bool) -> DType {
    match dtype {
        DType::F32 | DType::I32 => dtype,
        DType::F16 if native_f16 => dtype,
        DType::F16 | DType::BF16 => DType::F32,
        DType::Bool => DType::I32,
    }
}

/// `t` (written as `written(dtype)`) as `dtype`.
pub(crate) fn finish(t: Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t)
    } else {
        cast::cast(&t, dtype)
    }
}

/// One reduction kernel: the chunk of reduce.wgsl, its fills, and its
/// result's dtype before any cast.
struct Spec {
    op: &'static str,
    chunk: &'static str,
    /// The chunk's `{{MEAN}}` / `{{HI}}` flag.
    flag: bool,
    /// The compute type elements are loaded as (`f32` or `i32`).
    ct: &'static str,
    /// The output dtype.
    out: DType,
}

/// Note [Long rows]: one workgroup per row (or per RWG / tpr rows) leaves
/// most of the device idle when there are few rows, worst for a whole-tensor
/// reduction, which is one row. When the one-pass grid has fewer than 64
/// workgroups and rows are long, each row is cut into segments of at least
/// 2048 elements, enough for 64 workgroups in all: pass 1 reduces each
/// segment into a partial accumulator in a scratch buffer, pass 2 merges a
/// row's partials in order (`split` and `merge` in reduce.wgsl). Partials
/// keep the compensated sum's error term and arg*'s first-index rule.
fn run(spec: &Spec, t: &Tensor, meta: &ReduceMeta) -> Result<Tensor> {
    let op = spec.op;
    let ctx: Arc<WgpuContext> = WgpuStorage::of(op, t)?.context().clone();
    let native = ctx.native_f16();
    let rows = Rows::new(
        t.shape(),
        &[t.strides()],
        &meta.reduced,
        t.layout().offset(),
        row_wg(&ctx),
    );
    let wdt = written(spec.out, native);
    let out = WgpuStorage::tensor(op, &ctx, wdt, &meta.out_shape)?;
    if rows.rows == 0 {
        return finish(out, spec.out);
    }
    let in_repr = Repr::new(t.dtype(), native);
    let out_repr = Repr::new(wdt, native);
    let segments = rows.segments();
    let at = rows.at(0);
    let kernel = |main: &str| {
        let key = format!(
            "reduce:{}:{}:{}>{}:{}:{main}:{at}:{}",
            spec.chunk,
            spec.flag,
            t.dtype(),
            wdt,
            if native { "f16" } else { "packed" },
            rows.rwg
        );
        let mut access = vec![Access::ReadWrite, Access::Read];
        if main != "main" {
            access.push(Access::ReadWrite);
        }
        ctx.kernel(&key, &access, || {
            let mut load = in_repr.load("src", "j");
            if t.dtype() == DType::Bool {
                load = format!("cast_bool_i32({load})");
            }
            let flag = if spec.flag { "true" } else { "false" };
            let body = [spec.chunk, "io", main]
                .map(|c| shader::chunk(REDUCE, c))
                .concat();
            let body = shader::fill(
                &body,
                &[
                    ("MEAN", flag),
                    ("HI", flag),
                    ("CT", spec.ct),
                    ("DST", out_repr.array_elem()),
                    ("SRC", in_repr.array_elem()),
                    ("STORE", out_repr.store()),
                    ("LOAD", &load),
                    ("IN", &at),
                ],
            );
            shader::module(native, &[&row_head(&ctx), &body])
        })
    };
    let src = WgpuStorage::of(op, t)?;
    let dst = WgpuStorage::of(op, &out)?;
    match segments {
        None => {
            let info = rows.info(op, 0)?;
            ctx.dispatch(
                op,
                &*kernel("main")?,
                &info,
                &[dst.arg(), src.arg()],
                rows.groups(),
            )?;
        }
        Some(segs) => {
            let info = rows.info(op, word(op, "segment count", segs)?)?;
            // the largest accumulator is two 4-byte words (sum_f32, arg)
            let parts = rows.rows * segs;
            let scratch = ctx.alloc(op, (parts * 8) as u64)?;
            let part = Arg {
                buffer: &scratch,
                bytes: scratch.size(),
            };
            let args = [dst.arg(), src.arg(), part];
            ctx.dispatch(op, &*kernel("split")?, &info, &args, parts as u64)?;
            let groups = rows.rows.div_ceil(rows.rwg) as u64;
            ctx.dispatch(op, &*kernel("merge")?, &info, &args, groups)?;
        }
    }
    finish(out, spec.out)
}

fn reduce(r: ReduceOp, t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let meta = meta::reduce(r, t, dims, keepdim)?;
    let float = t.dtype().is_float();
    let (chunk, flag) = match r {
        ReduceOp::Sum | ReduceOp::Mean => {
            let chunk = if float { "sum_f32" } else { "sum_i32" };
            (chunk, r == ReduceOp::Mean)
        }
        ReduceOp::Max | ReduceOp::Min => {
            let chunk = if float { "extreme_f32" } else { "extreme_i32" };
            (chunk, r == ReduceOp::Max)
        }
    };
    let spec = Spec {
        op: r.name(),
        chunk,
        flag,
        ct: if float { "f32" } else { "i32" },
        out: meta.dtype,
    };
    run(&spec, t, &meta)
}

fn arg_reduce(a: ArgOp, t: &Tensor, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
    let meta = meta::arg_reduce(a, t, dim, keepdim)?;
    let spec = Spec {
        op: a.name(),
        chunk: "arg",
        flag: a == ArgOp::ArgMax,
        ct: if t.dtype().is_float() { "f32" } else { "i32" },
        out: meta.dtype,
    };
    run(&spec, t, &meta)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let ops = [
        (op::SUM, ReduceOp::Sum),
        (op::MEAN, ReduceOp::Mean),
        (op::MAX, ReduceOp::Max),
        (op::MIN, ReduceOp::Min),
    ];
    for (id, r) in ops {
        d.register_kernel(
            id,
            DispatchKey::Wgpu,
            &format!("wgpu::{}", r.name()),
            move |_, _, s| {
                let n = r.name();
                let out = reduce(r, s.tensor(n, 0)?, s.int_list(n, 1)?, s.bool(n, 2)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    for (id, a) in [(op::ARGMAX, ArgOp::ArgMax), (op::ARGMIN, ArgOp::ArgMin)] {
        let n = a.name();
        d.register_kernel(
            id,
            DispatchKey::Wgpu,
            &format!("wgpu::{n}"),
            move |_, _, s| {
                let out = arg_reduce(a, s.tensor(n, 0)?, s.opt_int(n, 1)?, s.bool(n, 2)?)?;
                s.set_result(out);
                Ok(())
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Rows;

    #[test]
    fn rows_split_and_collapse_dims() {
        // [2, 3, 4] contiguous, reducing dims 1 and 2: one row dim, one element dim
        let r = Rows::new(&[2, 3, 4], &[&[12, 4, 1]], &[false, true, true], 5, 128);
        assert_eq!((r.rows, r.m), (2, 12));
        assert_eq!(
            r.info("t", 0).unwrap(),
            vec![2, 12, 1, 0, 1, 1, 1, 5, 2, 12, 12, 1]
        );
        // a column reduction of a [4, 64] matrix: 4 invocations per row
        let r = Rows::new(&[4, 64], &[&[64, 1]], &[true, false], 0, 128);
        assert_eq!((r.rows, r.m, r.tpr(), r.groups()), (64, 4, 1, 1));
        let r = Rows::new(&[1000, 3], &[&[3, 1]], &[true, false], 0, 128);
        assert_eq!((r.tpr(), r.groups()), (64, 2));
    }

    #[test]
    fn few_long_rows_are_cut_into_segments() {
        let seg = |shape: &[usize], rwg| {
            let st = [shape[1], 1];
            Rows::new(shape, &[&st], &[false, true], 0, rwg).segments()
        };
        // one row of 1M: 64 workgroups' worth of segments
        assert_eq!(seg(&[1, 1 << 20], 128), Some(64));
        assert_eq!(seg(&[3, 5000], 8), Some(2));
        // too short to cut, or rows enough to fill the device
        assert_eq!(seg(&[3, 4000], 8), None);
        assert_eq!(seg(&[1024, 1024], 8), None);
        assert_eq!(seg(&[1024, 8192], 128), None);
    }
}
