//! The elementwise map every unary, binary, comparison, `where`, `cast` and
//! copy kernel runs through: inputs read in place through their layouts
//! (broadcast dims have stride 0), each cast to the dtype the op computes
//! in, one op function applied, the result stored in the output dtype.

use crate::context::{Access, Arg, WgpuContext};
use crate::shader::{self, compute_type, Repr};
use crate::storage::WgpuStorage;
use kiln_core::{DType, Error, Result, Tensor};
use std::fmt::Write as _;
use std::sync::Arc;

/// Invocations per workgroup of the elementwise kernels (`WG` in common.wgsl).
pub(crate) const WG: u64 = 256;

/// Where an input's values come from.
pub(crate) enum Src<'a> {
    /// A wgpu tensor, read through its layout broadcast to the output shape.
    Tensor(&'a Tensor),
    /// A scalar of dtype `DType`, passed as the bits of its compute type
    /// in `info[2]` / `info[3]` (at most two per map).
    Param(DType, u32),
}

/// One input of a map: its values, cast to `to` before the op function.
pub(crate) struct Input<'a> {
    pub src: Src<'a>,
    pub to: DType,
}

impl<'a> Input<'a> {
    /// Tensor `t`, cast to `to`.
    pub fn tensor(t: &'a Tensor, to: DType) -> Self {
        Input {
            src: Src::Tensor(t),
            to,
        }
    }
}

/// An elementwise map over `shape`.
pub(crate) struct Map<'a> {
    /// The op, for errors and the kernel key.
    pub op: &'static str,
    /// The WGSL file that defines `func`.
    pub funcs: &'static str,
    /// The op function applied to the cast inputs (`add_f32`, ...); `None`
    /// returns the one input as it is.
    pub func: Option<String>,
    pub inputs: Vec<Input<'a>>,
    /// The output dtype; `func` returns its compute type.
    pub out: DType,
    pub shape: Vec<usize>,
}

/// Drops size-1 dims and merges dims that are contiguous in every operand
/// (one `strides` row per operand). Returns at least one dim.
pub(crate) fn collapse(shape: &[usize], strides: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for d in (0..shape.len()).filter(|&d| shape[d] != 1) {
        let merge = !out_shape.is_empty()
            && strides
                .iter()
                .zip(&out_strides)
                .all(|(s, o)| o[o.len() - 1] == s[d] * shape[d]);
        if merge {
            let last = out_shape.len() - 1;
            out_shape[last] *= shape[d];
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                o[last] = s[d];
            }
        } else {
            out_shape.push(shape[d]);
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                o.push(s[d]);
            }
        }
    }
    if out_shape.is_empty() {
        return (vec![1], vec![vec![0]; strides.len()]);
    }
    (out_shape, out_strides)
}

/// How the kernel indexes its tensor inputs, part of the kernel key:
/// `strided` when the collapsed shape has several dims, else one letter per
/// input: `z` contiguous from offset 0, `c` contiguous from an offset, `b`
/// one element broadcast, `f` a flat stride.
///
/// Note [Contiguous loads]: lavapipe (LLVM) turns `src[i]` into vector
/// loads but `src[offset + i]` into gathers (the sum may wrap), and a
/// runtime stride of 1 it cannot see at all: on an add of 2M f32 the
/// `z` form runs twice as fast as `c`, which beats the strided walk.
fn index_plan(cshape: &[usize], cstrides: &[Vec<usize>], offsets: &[usize]) -> String {
    if cshape.len() > 1 {
        return "strided".into();
    }
    cstrides
        .iter()
        .zip(offsets)
        .map(|(s, &off)| match s[0] {
            1 if off == 0 => 'z',
            1 => 'c',
            0 => 'b',
            _ => 'f',
        })
        .collect()
}

/// elementwise.wgsl's head and its chunk `chunk`, filled with `values`:
/// the map template, which the index and pooling kernels reuse with a BODY
/// of their own. The placeholders only the vec4 chunk uses are left empty
/// unless given.
pub(crate) fn map_template(chunk: &str, values: &[(&str, &str)]) -> String {
    let template = format!(
        "{}{}",
        shader::head(shader::ELEMENTWISE),
        shader::chunk(shader::ELEMENTWISE, chunk)
    );
    let filled = shader::fill(&template, values);
    shader::fill(&filled, &[("PARAMS", ""), ("ARGS", ""), ("PRELOAD", "")])
}

/// Invocations per workgroup of the vec4 chunk (Note [Vector path]).
fn vec4_workgroup(ctx: &WgpuContext) -> u64 {
    let most = ctx.limits().max_compute_invocations_per_workgroup as u64;
    if ctx.tuned_for_cpu() {
        most.clamp(WG, 1024)
    } else {
        WG
    }
}

/// Whether a map can run four elements per invocation through `vec4`
/// loads and stores (Note [Vector path]): every tensor input read from
/// element 0 contiguously (plan all `z`), every tensor and the output of a
/// 4-byte dtype, and a whole number of `vec4`s.
///
/// Note [Vector path]: on lavapipe an add of 16M f32 runs about a quarter
/// faster with one `vec4` per invocation than with one element, and slower
/// again with loops of several per invocation (measured; LLVM vectorises
/// across invocations, so extra work per invocation only adds loop
/// overhead). Packed dtypes and views keep the one-word path. On a CPU
/// adapter the vec4 chunk's workgroups are 1024 invocations (the most
/// lavapipe allows), which cuts its per-workgroup cost: the 16M add took
/// 144-146 ms instead of 154-160 (three runs each, idle machine). GPUs keep
/// 256.
fn vec4_plan(plan: &str, n: usize, out: DType, tensors: &[&Tensor]) -> bool {
    n.is_multiple_of(4)
        && !tensors.is_empty()
        && plan.bytes().all(|c| c == b'z')
        && out.size_in_bytes() == 4
        && tensors.iter().all(|t| t.dtype().size_in_bytes() == 4)
}

/// The WGSL index of logical element `i` in tensor input `t` under `plan`.
fn index_expr(plan: &str, t: usize) -> String {
    match plan.as_bytes().get(t) {
        _ if plan == "strided" => format!("strided_index({t}u, i)"),
        Some(b'z') => "i".to_string(),
        Some(b'c') => format!("info[{}u] + i", 5 + 2 * t),
        Some(b'b') => format!("info[{}u]", 5 + 2 * t),
        _ => format!("flat_index({t}u, i)"),
    }
}

/// `v` as a `u32` for the info buffer, or `GpuLimit`.
pub(crate) fn word(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::GpuLimit {
        op: op.to_string(),
        limit: format!("u32 {what}"),
        value: v as u64,
        max: u32::MAX as u64,
    })
}

impl Map<'_> {
    fn context(&self) -> Result<Arc<WgpuContext>> {
        for i in &self.inputs {
            if let Src::Tensor(t) = i.src {
                return Ok(WgpuStorage::of(self.op, t)?.context().clone());
            }
        }
        Err(Error::invalid(
            self.op,
            "an elementwise map needs a tensor input (internal)",
        ))
    }

    /// Encodes the map and returns its output (contiguous, new storage).
    pub fn run(&self) -> Result<Tensor> {
        let ctx = self.context()?;
        self.run_on(&ctx, false)
    }

    /// A copy of the one input's bytes (no cast: bit-exact for every dtype).
    pub fn run_raw(&self, ctx: &Arc<WgpuContext>) -> Result<Tensor> {
        self.run_on(ctx, true)
    }

    fn run_on(&self, ctx: &Arc<WgpuContext>, raw: bool) -> Result<Tensor> {
        let op = self.op;
        let out = WgpuStorage::tensor(op, ctx, self.out, &self.shape)?;
        let n = out.numel();
        if n == 0 {
            return Ok(out);
        }
        let tensors: Vec<&Tensor> = self
            .inputs
            .iter()
            .filter_map(|i| match i.src {
                Src::Tensor(t) => Some(t),
                Src::Param(..) => None,
            })
            .collect();
        let mut layouts = Vec::with_capacity(tensors.len());
        for t in &tensors {
            layouts.push(t.layout().broadcast_to(op, &self.shape)?);
        }
        let strides: Vec<Vec<usize>> = layouts.iter().map(|l| l.strides().to_vec()).collect();
        let (cshape, cstrides) = collapse(&self.shape, &strides);
        let offsets: Vec<usize> = layouts.iter().map(|l| l.offset()).collect();
        let mut plan = index_plan(&cshape, &cstrides, &offsets);
        if !raw && vec4_plan(&plan, n, self.out, &tensors) {
            plan = "vec4".into();
        }

        let mut info = vec![word(op, "element count", n)?, cshape.len() as u32, 0, 0];
        let mut params = self.inputs.iter().filter_map(|i| match i.src {
            Src::Param(_, bits) => Some(bits),
            Src::Tensor(_) => None,
        });
        info[2] = params.next().unwrap_or(0);
        info[3] = params.next().unwrap_or(0);
        for &d in &cshape {
            info.push(word(op, "dimension", d)?);
        }
        for (l, s) in layouts.iter().zip(&cstrides) {
            info.push(word(op, "offset", l.offset())?);
            for &st in s {
                info.push(word(op, "stride", st)?);
            }
        }

        let native = ctx.native_f16();
        let out_repr = Repr::new(self.out, native);
        let esize = self.out.size_in_bytes();
        let per_word = if raw {
            4 / esize as u32
        } else if plan == "vec4" {
            4
        } else {
            out_repr.per_word()
        };
        let vwg = vec4_workgroup(ctx);
        let key = self.key(raw, &plan, native, vwg);
        let mut access = vec![Access::ReadWrite];
        access.extend(tensors.iter().map(|_| Access::Read));
        let kernel = ctx.kernel(&key, &access, || {
            self.source(raw, &plan, native, per_word, vwg)
        })?;

        let storages: Vec<&WgpuStorage> = tensors
            .iter()
            .map(|t| WgpuStorage::of(op, t))
            .collect::<Result<_>>()?;
        let out_storage = WgpuStorage::of(op, &out)?;
        let mut args: Vec<Arg<'_>> = vec![out_storage.arg()];
        args.extend(storages.iter().map(|s| s.arg()));
        let words = (n as u64).div_ceil(per_word as u64);
        let wg = if plan == "vec4" { vwg } else { WG };
        ctx.dispatch(op, &kernel, &info, &args, words.div_ceil(wg))?;
        Ok(out)
    }

    /// The pipeline key: everything `source` depends on.
    fn key(&self, raw: bool, plan: &str, native: bool, vwg: u64) -> String {
        let mut k = format!(
            "ew:{}:",
            self.func
                .as_deref()
                .unwrap_or(if raw { "raw" } else { "id" })
        );
        for i in &self.inputs {
            let _ = match i.src {
                Src::Tensor(t) => write!(k, "t{}>{},", t.dtype(), i.to),
                Src::Param(d, _) => write!(k, "p{d}>{},", i.to),
            };
        }
        let f16 = if native { "f16" } else { "packed" };
        let _ = write!(k, "->{}:{plan}:{f16}", self.out);
        if plan == "vec4" {
            let _ = write!(k, ":{vwg}");
        }
        k
    }

    fn source(&self, raw: bool, plan: &str, native: bool, per_word: u32, vwg: u64) -> String {
        let esize = self.out.size_in_bytes();
        let vec4 = plan == "vec4";
        let mut decls = String::new();
        let mut body = String::new();
        let mut t = 0usize;
        let mut p = 2usize;
        let mut args = Vec::new();
        let (mut params, mut pass, mut preload) = (String::new(), String::new(), String::new());
        for (k, inp) in self.inputs.iter().enumerate() {
            let (from, value) = match inp.src {
                Src::Tensor(tensor) => {
                    let repr = Repr::new(tensor.dtype(), native);
                    let elem = match (raw, vec4) {
                        (true, _) => "u32",
                        (false, true) => "vec4<u32>",
                        (false, false) => repr.array_elem(),
                    };
                    let _ = writeln!(
                        decls,
                        "@group(0) @binding({}) var<storage, read> src{t}: array<{elem}>;",
                        t + 2
                    );
                    if !vec4 {
                        let _ = writeln!(body, "    let j{k} = {};", index_expr(plan, t));
                    }
                    let buf = format!("src{t}");
                    let j = format!("j{k}");
                    t += 1;
                    let load = if raw {
                        shader::raw_load(esize, &buf, &j)
                    } else if vec4 {
                        // component `comp` of the vec4 main_vec4 loaded
                        // (a 4-byte dtype, vec4_plan)
                        let _ = write!(params, ", v{k}: vec4<u32>");
                        let _ = write!(pass, ", v{k}");
                        let _ = writeln!(preload, "    let v{k} = {buf}[i];");
                        format!("bitcast<{}>(v{k}[comp])", compute_type(tensor.dtype()))
                    } else {
                        repr.load(&buf, &j)
                    };
                    (tensor.dtype(), load)
                }
                Src::Param(d, _) => {
                    p += 1;
                    (d, format!("param_{}({}u)", compute_type(d), p - 1))
                }
            };
            if raw {
                let _ = writeln!(body, "    let x{k} = {value};");
            } else {
                let _ = writeln!(
                    body,
                    "    let x{k} = cast_{}_{}({value});",
                    from.name(),
                    inp.to.name()
                );
            }
            args.push(format!("x{k}"));
        }
        match &self.func {
            Some(f) => {
                let _ = write!(body, "    return {f}({});", args.join(", "));
            }
            None => body.push_str("    return x0;"),
        }
        let out_repr = Repr::new(self.out, native);
        let (dst, ct, store) = if raw {
            ("u32", "u32", shader::raw_store(esize))
        } else if vec4 {
            ("vec4<u32>", compute_type(self.out), out_repr.store())
        } else {
            (
                out_repr.array_elem(),
                compute_type(self.out),
                out_repr.store(),
            )
        };
        let chunk = if vec4 {
            "main_vec4".to_string()
        } else {
            format!("main_{per_word}")
        };
        let vwg = vwg.to_string();
        let kernel = map_template(
            &chunk,
            &[
                ("DST", dst),
                ("INPUTS", &decls),
                ("CT", ct),
                ("BODY", &body),
                ("STORE", store),
                ("PARAMS", &params),
                ("ARGS", &pass),
                ("PRELOAD", &preload),
                ("VWG", &vwg),
            ],
        );
        shader::module(native, &[self.funcs, &kernel])
    }
}

#[cfg(test)]
mod tests {
    use super::collapse;

    #[test]
    fn collapse_merges_what_every_operand_allows() {
        // contiguous [2, 3, 4] and a broadcast row: the row stays apart
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![0, 0, 1]]);
        assert_eq!(s, vec![6, 4]);
        assert_eq!(st, vec![vec![4, 1], vec![0, 1]]);
        // both contiguous: one dim
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![12, 4, 1]]);
        assert_eq!((s, st), (vec![24], vec![vec![1], vec![1]]));
        // transposed: no merge
        let (s, _) = collapse(&[3, 2], &[vec![1, 3]]);
        assert_eq!(s, vec![3, 2]);
        // size-1 dims vanish; a scalar becomes one element of stride 0
        let (s, st) = collapse(&[1, 1], &[vec![5, 7]]);
        assert_eq!((s, st), (vec![1], vec![vec![0]]));
        let (s, st) = collapse(&[4, 1, 5], &[vec![5, 99, 1]]);
        assert_eq!((s, st), (vec![20], vec![vec![1]]));
    }
}
