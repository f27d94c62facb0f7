//! `rand` and `randn` from the stream of Note [The kiln random stream]
//! (kiln-cpu's `kernels/random.rs`), one Philox counter per invocation
//! (`shaders/random.wgsl`): `rand` is bit-equal to the CPU backend's;
//! `randn` agrees up to the last bits of the GPU's `log`, `sqrt`, `cos`
//! and `sin`.

use super::elementwise::{word, WG};
use crate::adapter::context_of;
use crate::context::Access;
use crate::shader::{self, Repr, RANDOM};
use crate::storage::WgpuStorage;
use kiln_core::{op, DispatchKey, Dispatcher, Error, Result, Stack, StackExt, StackResult, Tensor};

fn random(op: &'static str, s: &Stack) -> Result<Tensor> {
    let size = s.int_list(op, 0)?;
    let shape = size
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::invalid(op, format!("negative dimension {d} in size {size:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    // the seed travels as an i64; its bits are the u64 seed
    let seed = s.int(op, 1)? as u64;
    let dt = s.dtype(op, 2)?;
    if !dt.is_float() {
        return Err(Error::dtype(
            op,
            dt,
            format!("{op} is defined for floating dtypes (f32, f16, bf16)"),
        ));
    }
    let ctx = context_of(op, s.device(op, 3)?)?;
    let out = WgpuStorage::tensor(op, &ctx, dt, &shape)?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    let groups = n.div_ceil(4);
    let info = [
        word(op, "element count", n)?,
        word(op, "group count", groups)?,
        seed as u32,
        (seed >> 32) as u32,
    ];
    let native = ctx.native_f16();
    let repr = Repr::new(dt, native);
    let func = if op == "rand" {
        format!("rand_{}", dt.name())
    } else {
        "randn_any".to_string()
    };
    let per_word = repr.per_word();
    let key = format!("random:{func}:{dt}:{per_word}");
    let kernel = ctx.kernel(&key, &[Access::ReadWrite], || {
        let src = shader::fill(
            &format!(
                "{}{}",
                shader::head(RANDOM),
                shader::chunk(RANDOM, &format!("main_{per_word}"))
            ),
            &[
                ("DST", repr.array_elem()),
                ("FUNC", &func),
                ("STORE", repr.store()),
            ],
        );
        shader::module(native, &[&src])
    })?;
    ctx.dispatch(
        op,
        &kernel,
        &info,
        &[WgpuStorage::of(op, &out)?.arg()],
        (groups as u64).div_ceil(WG),
    )?;
    Ok(out)
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Wgpu;
    d.register_kernel(op::RAND, k, "wgpu::rand", |_, _, s| {
        let t = random("rand", s)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::RANDN, k, "wgpu::randn", |_, _, s| {
        let t = random("randn", s)?;
        s.set_result(t);
        Ok(())
    })
}
