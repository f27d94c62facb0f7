//! `rand` and `randn`: seeded, counter-based random numbers from Philox
//! 4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
//! as 1, 2, 3", SC 2011), with the constants of Random123 and PyTorch.
//!
//! Note [The kiln random stream]: every backend produces the same numbers
//! for a seed, so the stream is defined per output element, with no state
//! carried between elements:
//!
//! - key = `(seed & 0xffff_ffff, seed >> 32)` (the seed as a `u64`);
//! - element `i` (row-major) takes word `i % 4` of
//!   `philox4x32_10(counter, key)` with
//!   `counter = ((i / 4) & 0xffff_ffff, (i / 4) >> 32, 0, 0)`;
//! - `rand`: the word's top `d` bits times `2^-d`, where `d` is the
//!   dtype's significand width (24 for f32, 11 for f16, 8 for bf16). Every
//!   value is exact in its dtype and lies in `[0, 1)`; f32 is
//!   `(word >> 8) * 2^-24`. (Rounding that f32 to a half type could give
//!   1.0; taking fewer bits cannot.)
//! - `randn`: Box-Muller in f32 on the two pairs of words of one counter.
//!   For the counter of group `g = i / 4`, words `(w0, w1)` give elements
//!   `4g` and `4g + 1`, words `(w2, w3)` give `4g + 2` and `4g + 3`:
//!   `u1 = ((wa >> 8) + 1) * 2^-24` (in `(0, 1]`, so `ln u1` is finite),
//!   `u2 = (wb >> 8) * 2^-24`, `r = sqrt(-2 ln u1)`, `t = 2 pi u2`, and the
//!   pair is `(r cos t, r sin t)`; half types round that f32 to nearest.
//!   `rand` is bit-exact across backends; `randn` agrees up to the last
//!   bits of each backend's `ln`, `sqrt`, `cos` and `sin`.

use crate::elem::Elem;
use crate::iter::GRAIN;
use crate::storage::alloc;
use crate::tensor_io::wrap;
use half::{bf16, f16};
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, Result, Stack, StackExt, StackResult, Tensor,
};
use rayon::prelude::*;

/// Philox round multipliers.
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
/// Key schedule increments (the golden ratio and `sqrt(3) - 1`).
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// One Philox 4x32 block with 10 rounds: the four output words for
/// `counter` under `key`.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// The four words of group `g` (elements `4g..4g + 4`) of `seed`'s stream.
#[inline]
pub fn block(seed: u64, g: u64) -> [u32; 4] {
    philox4x32_10(
        [g as u32, (g >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// A floating type `rand` fills: its significand width.
trait RandElem: Elem {
    /// Significand bits, the leading one included (at most 24).
    const BITS: u32;
    /// `word`'s top `BITS` bits times `2^-BITS`: exact in `Self`, in `[0, 1)`.
    #[inline]
    fn uniform(word: u32) -> Self {
        Self::from_f32((word >> (32 - Self::BITS)) as f32 / (1u32 << Self::BITS) as f32)
    }
}

impl RandElem for f32 {
    const BITS: u32 = 24;
}
impl RandElem for f16 {
    const BITS: u32 = 11;
}
impl RandElem for bf16 {
    const BITS: u32 = 8;
}

/// Box-Muller on one pair of words.
#[inline]
fn normal_pair(wa: u32, wb: u32) -> [f32; 2] {
    const TWO_POW_M24: f32 = 1.0 / (1u32 << 24) as f32;
    let u1 = ((wa >> 8) + 1) as f32 * TWO_POW_M24;
    let u2 = (wb >> 8) as f32 * TWO_POW_M24;
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f32::consts::TAU * u2;
    [r * t.cos(), r * t.sin()]
}

/// `n` elements, group by group: `f` maps one block of words to four
/// elements. Parallel above `GRAIN` (a multiple of 4, so chunks start on
/// a group).
fn fill<T: Elem>(n: usize, seed: u64, f: impl Fn([u32; 4]) -> [T; 4] + Sync) -> Vec<T> {
    let mut out = alloc::<T>(n);
    let run = |start: usize, chunk: &mut [T]| {
        for (j, quad) in chunk.chunks_mut(4).enumerate() {
            let vals = f(block(seed, ((start / 4) + j) as u64));
            quad.copy_from_slice(&vals[..quad.len()]);
        }
    };
    if n <= GRAIN {
        run(0, &mut out);
    } else {
        out.par_chunks_mut(GRAIN)
            .enumerate()
            .for_each(|(c, chunk)| run(c * GRAIN, chunk));
    }
    out
}

fn rand_typed<T: RandElem>(n: usize, seed: u64) -> Vec<T> {
    fill(n, seed, |w| w.map(T::uniform))
}

fn randn_typed<T: Elem>(n: usize, seed: u64) -> Vec<T> {
    fill(n, seed, |w| {
        let [a, b] = normal_pair(w[0], w[1]);
        let [c, d] = normal_pair(w[2], w[3]);
        [a, b, c, d].map(T::from_f32)
    })
}

/// Uniform `[0, 1)` samples of `seed`'s stream.
pub fn rand(shape: &[usize], seed: u64, dtype: DType) -> Result<Tensor> {
    let n = shape.iter().product();
    match dtype {
        DType::F32 => wrap(rand_typed::<f32>(n, seed), shape),
        DType::F16 => wrap(rand_typed::<f16>(n, seed), shape),
        DType::BF16 => wrap(rand_typed::<bf16>(n, seed), shape),
        d => Err(Error::dtype(
            "rand",
            d,
            "rand is defined for floating dtypes (f32, f16, bf16)",
        )),
    }
}

/// Standard normal samples of `seed`'s stream.
pub fn randn(shape: &[usize], seed: u64, dtype: DType) -> Result<Tensor> {
    let n = shape.iter().product();
    crate::with_float_dtype!(dtype, T => wrap(randn_typed::<T>(n, seed), shape),
        _ => Err(Error::dtype("randn", dtype, "randn is defined for floating dtypes (f32, f16, bf16)")))
}

/// The `size`, `seed` and `dtype` arguments of a random factory op.
fn args(op: &str, s: &Stack) -> Result<(Vec<usize>, u64, DType)> {
    let size = s.int_list(op, 0)?;
    let shape = size
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::invalid(op, format!("negative dimension {d} in size {size:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    // The seed travels as an i64; its bits are the u64 seed.
    Ok((shape, s.int(op, 1)? as u64, s.dtype(op, 2)?))
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    d.register_kernel(op::RAND, DispatchKey::Cpu, "cpu::rand", |_, _, s| {
        let (shape, seed, dt) = args("rand", s)?;
        let t = rand(&shape, seed, dt)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::RANDN, DispatchKey::Cpu, "cpu::randn", |_, _, s| {
        let (shape, seed, dt) = args("randn", s)?;
        let t = randn(&shape, seed, dt)?;
        s.set_result(t);
        Ok(())
    })
}
