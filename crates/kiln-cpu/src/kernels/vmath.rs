//! Vectorisable f32 math: `exp`, `tanh`, `erf`/`erfc` and the normal CDF
//! written branch-free so that a loop over a slice compiles to SIMD code,
//! plus the runtime switch that runs such loops compiled for AVX2 + FMA.
//!
//! Note [Runtime SIMD dispatch]: the default x86_64 target is SSE2 only.
//! `simd_fn!` defines a function twice, once for the base target and once
//! with `#[target_feature(enable = "avx2,fma")]`, and picks one per call
//! with `is_x86_feature_detected!` (a cached bit test). The body is a
//! generic `fn name_impl<const FMA: bool>`: with `FMA` the polynomials use
//! `mul_add`, which is one instruction there and a slow library call on a
//! CPU without FMA. The two versions may differ in the last bit; each is
//! tested against an f64 reference.

use crate::elem::Elem;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

/// Whether this CPU runs the AVX2 + FMA versions of the `simd_fn!` loops.
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `fn name(args) -> R => imp;` defines `name`, which runs `imp::<true>`
/// compiled for AVX2 + FMA when the CPU has them and `imp::<false>`
/// otherwise (see Note [Runtime SIMD dispatch]).
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty)? => $imp:ident;) => {
        $(#[$m])*
        $vis fn $name($($a: $t),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($a: $t),*) $(-> $r)? {
                    $imp::<true>($($a),*)
                }
                if $crate::kernels::vmath::has_avx2_fma() {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { avx2($($a),*) };
                }
            }
            $imp::<false>($($a),*)
        }
    };
}
pub(crate) use simd_fn;

/// `a * b + c`, fused when `FMA`.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^x` within 1 ulp (measured) for normal results; `inf` above `ln(f32::MAX)`,
/// subnormal results rounded once, NaN passes through.
///
/// Range reduction `x = n ln2 + r`, `|r| <= ln2 / 2` (Cody-Waite, two-part
/// ln2), a degree-7 polynomial for `e^r` (Cephes `expf`), and `2^n` built
/// from exponent bits in two factors so that neither overflows.
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    const HI: f32 = 88.8; // e^88.8 > f32::MAX: the result is inf
    const LO: f32 = -104.0; // e^-104 < half the smallest subnormal: 0
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // comparisons, not f32::max/min, so that NaN stays NaN
    let x = if x > HI { HI } else { x };
    let x = if x < LO { LO } else { x };
    let t = madd::<FMA>(x, std::f32::consts::LOG2_E, SHIFT);
    let n = t - SHIFT;
    let ni = (t.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    let r = madd::<FMA>(n, -LN2_HI, x);
    let r = madd::<FMA>(n, -LN2_LO, r);
    let mut p = 1.987_569_1e-4;
    p = madd::<FMA>(p, r, 1.398_199_9e-3);
    p = madd::<FMA>(p, r, 8.333_452e-3);
    p = madd::<FMA>(p, r, 4.166_579_6e-2);
    p = madd::<FMA>(p, r, 1.666_666_5e-1);
    p = madd::<FMA>(p, r, 0.5);
    let p = madd::<FMA>(p, r * r, r) + 1.0;
    let n1 = ni >> 1;
    let n2 = ni.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) << 23) as u32);
    let s2 = f32::from_bits((n2.wrapping_add(127) << 23) as u32);
    p * s1 * s2
}

/// `tanh(x)`: an odd polynomial below 0.625 (Cephes `tanhf`), else
/// `1 - 2 / (e^2|x| + 1)` with the sign of `x`.
#[inline(always)]
pub fn tanh<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = madd::<FMA>(p, z, 2.063_909e-2);
    p = madd::<FMA>(p, z, -5.373_971_6e-2);
    p = madd::<FMA>(p, z, 1.333_144_2e-1);
    p = madd::<FMA>(p, z, -3.333_328e-1);
    let small = madd::<FMA>(p * z, x, x);
    let e = exp::<FMA>(a + a);
    let big = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        big
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FMA>(-x))
}

/// `x / (1 + e^-x)` (PyTorch's formula, so `silu(-inf)` is NaN as there).
#[inline(always)]
pub fn silu<const FMA: bool>(x: f32) -> f32 {
    x / (1.0 + exp::<FMA>(-x))
}

/// Keeps the sign, exponent and top 11 mantissa bits: the square of the
/// result is exact in f32.
#[inline(always)]
fn split12(a: f32) -> f32 {
    f32::from_bits(a.to_bits() & 0xffff_f000)
}

/// `erfc(z)` for `0 <= z <= 11`, given `z^2 = sq_hi + sq_lo` with `sq_hi`
/// exact. Numerical Recipes' `erfcc` Chebyshev fit (relative error below
/// 1.2e-7 for every `z >= 0`), with `e^-z^2` taken in two factors so that
/// rounding `z^2` does not reach the exponent.
#[inline(always)]
fn erfc_core<const FMA: bool>(z: f32, sq_hi: f32, sq_lo: f32) -> f32 {
    let t = 1.0 / madd::<FMA>(0.5, z, 1.0);
    let mut p = 0.170_872_77;
    p = madd::<FMA>(p, t, -0.822_152_23);
    p = madd::<FMA>(p, t, 1.488_515_9);
    p = madd::<FMA>(p, t, -1.135_204);
    p = madd::<FMA>(p, t, 0.278_868_07);
    p = madd::<FMA>(p, t, -0.186_288_06);
    p = madd::<FMA>(p, t, 0.096_784_18);
    p = madd::<FMA>(p, t, 0.374_091_96);
    p = madd::<FMA>(p, t, 1.000_023_7);
    p = madd::<FMA>(p, t, -1.265_512_2);
    t * exp::<FMA>(-sq_hi) * exp::<FMA>(p - sq_lo)
}

/// `erfc(|x|)` with `|x|` clamped to 11, where it is already 0 in f32.
#[inline(always)]
fn erfc_abs<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 11.0 { 11.0 } else { a };
    let h = split12(a);
    erfc_core::<FMA>(a, h * h, (a - h) * (a + h))
}

/// `erfc(x)`, relative error below 1e-6 where the result is a normal f32.
#[inline(always)]
pub fn erfc<const FMA: bool>(x: f32) -> f32 {
    let q = erfc_abs::<FMA>(x);
    if x < 0.0 {
        2.0 - q
    } else {
        q
    }
}

/// `erf(x)`, relative error below 1e-6: an odd polynomial below 1 (Cephes
/// `erff`), else `1 - erfc(|x|)` with the sign of `x`.
#[inline(always)]
pub fn erf<const FMA: bool>(x: f32) -> f32 {
    let z = x * x;
    let mut p = 7.853_861_4e-5;
    p = madd::<FMA>(p, z, -8.010_193_6e-4);
    p = madd::<FMA>(p, z, 5.188_327_7e-3);
    p = madd::<FMA>(p, z, -2.685_381_2e-2);
    p = madd::<FMA>(p, z, 1.128_358_5e-1);
    p = madd::<FMA>(p, z, -3.761_262_6e-1);
    p = madd::<FMA>(p, z, std::f32::consts::FRAC_2_SQRT_PI);
    let small = x * p;
    let big = (1.0 - erfc_abs::<FMA>(x)).copysign(x);
    if x.abs() < 1.0 {
        small
    } else {
        big
    }
}

/// `gelu(x) = x Phi(x)` with the exact normal CDF (PyTorch's default
/// `approximate='none'`). `Phi(x) = erfc(-x / sqrt 2) / 2`, and the
/// exponent `x^2 / 2` is split from `x` itself, so the tail `x < 0` keeps
/// its relative accuracy.
#[inline(always)]
pub fn gelu<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 16.0 { 16.0 } else { a };
    let h = split12(a);
    let q = 0.5
        * erfc_core::<FMA>(
            a * std::f32::consts::FRAC_1_SQRT_2,
            0.5 * (h * h),
            0.5 * ((a - h) * (a + h)),
        );
    let cdf = if x < 0.0 { q } else { 1.0 - q };
    x * cdf
}

/// Moving blocks of elements to and from `f32`, where the float math
/// happens (half types through `half`'s SIMD slice conversions).
pub trait F32Block: Elem {
    /// Converts `src` into `dst` (equal lengths).
    #[inline]
    fn load_f32(src: &[Self], dst: &mut [f32]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
    }
    /// Converts `src` into `dst` (equal lengths), rounding to nearest.
    #[inline]
    fn store_f32(src: &[f32], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = Self::from_f32(s);
        }
    }
    /// The slice itself when `Self` is `f32`.
    #[inline]
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
    /// The slice itself when `Self` is `f32`.
    #[inline]
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

impl F32Block for f32 {
    #[inline]
    fn load_f32(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
    #[inline]
    fn store_f32(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
    #[inline]
    fn as_f32(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
    #[inline]
    fn as_f32_mut(s: &mut [f32]) -> Option<&mut [f32]> {
        Some(s)
    }
}

macro_rules! half_block {
    ($t:ty) => {
        impl F32Block for $t {
            #[inline]
            fn load_f32(src: &[$t], dst: &mut [f32]) {
                src.convert_to_f32_slice(dst);
            }
            #[inline]
            fn store_f32(src: &[f32], dst: &mut [$t]) {
                dst.convert_from_f32_slice(src);
            }
        }
    };
}
half_block!(f16);
half_block!(bf16);
impl F32Block for i32 {}
impl F32Block for bool {}

/// Largest (`MAX`) or smallest element of `x` in 8 lanes: NaN if any is
/// NaN, the identity (`-inf` or `inf`) if `x` is empty.
#[inline(always)]
pub fn extreme_lanes<const MAX: bool>(x: &[f32]) -> f32 {
    #[inline(always)]
    fn pick<const MAX: bool>(acc: f32, v: f32) -> f32 {
        // NaN sticks: once `acc` is NaN no comparison replaces it
        let better = if MAX { v > acc } else { v < acc };
        if better || v.is_nan() {
            v
        } else {
            acc
        }
    }
    let init = if MAX {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    let mut lanes = [init; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] = pick::<MAX>(lanes[l], c[l]);
        }
    }
    let mut m = rest.iter().fold(init, |a, &v| pick::<MAX>(a, v));
    for l in lanes {
        m = pick::<MAX>(m, l);
    }
    m
}

/// Sum of `x` in 8 f32 lanes.
#[inline(always)]
pub fn sum_lanes(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] += c[l];
        }
    }
    // a plain sum of the lanes: a pairwise tree here makes LLVM split the
    // loop into 4-wide halves
    let head: f32 = lanes.iter().sum();
    head + rest.iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place of `want` (rounded to f32).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w {
            return 0.0;
        }
        let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / ulp
    }

    /// Evenly spread samples of `[lo, hi]`, plus both ends.
    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * (i as f32 / n as f32))
    }

    fn check<const FMA: bool>() {
        let mut worst = 0.0f64;
        for x in grid(-87.0, 88.7, 400_000) {
            worst = worst.max(ulps(exp::<FMA>(x), (x as f64).exp()));
        }
        assert!(worst <= 1.5, "exp: worst {worst} ulp (fma {FMA})");
        // subnormal results: within one subnormal step
        for x in grid(-103.9, -87.4, 10_000) {
            let (g, w) = (exp::<FMA>(x) as f64, (x as f64).exp());
            assert!(
                (g - w).abs() <= 1.5 * 1.4e-45,
                "exp({x}) = {g}, expected {w}"
            );
        }
        assert_eq!(exp::<FMA>(89.0), f32::INFINITY);
        assert_eq!(exp::<FMA>(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp::<FMA>(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp::<FMA>(-200.0), 0.0);
        assert!(exp::<FMA>(f32::NAN).is_nan());
        assert_eq!(exp::<FMA>(0.0), 1.0);

        let mut worst = 0.0f64;
        for x in grid(-12.0, 12.0, 200_000) {
            worst = worst.max(ulps(tanh::<FMA>(x), (x as f64).tanh()));
        }
        assert!(worst <= 2.0, "tanh: worst {worst} ulp");
        assert_eq!(tanh::<FMA>(f32::INFINITY), 1.0);
        assert_eq!(tanh::<FMA>(f32::NEG_INFINITY), -1.0);
        assert!(tanh::<FMA>(f32::NAN).is_nan());

        let mut worst = 0.0f64;
        for x in grid(-9.0, 9.0, 200_000) {
            let w = libm::erf(x as f64);
            worst = worst.max(((erf::<FMA>(x) as f64 - w) / w.abs().max(1e-30)).abs());
        }
        assert!(worst < 1e-6, "erf: worst relative error {worst}");
        let mut worst = 0.0f64;
        for x in grid(-5.0, 9.0, 200_000) {
            let w = libm::erfc(x as f64);
            worst = worst.max(((erfc::<FMA>(x) as f64 - w) / w).abs());
        }
        assert!(worst < 1e-6, "erfc: worst relative error {worst}");

        let mut worst = 0.0f64;
        for x in grid(-12.0, 12.0, 200_000) {
            let w = 0.5 * x as f64 * libm::erfc(-(x as f64) / std::f64::consts::SQRT_2);
            if w.abs() > 1e-36 {
                worst = worst.max(((gelu::<FMA>(x) as f64 - w) / w).abs());
            }
        }
        assert!(worst < 1e-6, "gelu: worst relative error {worst}");
        assert_eq!(gelu::<FMA>(f32::INFINITY), f32::INFINITY);
        assert!(gelu::<FMA>(f32::NAN).is_nan());
    }

    #[test]
    fn math_is_accurate_without_fma() {
        check::<false>();
    }

    #[test]
    fn math_is_accurate_with_fma() {
        // `mul_add` is exact everywhere; it is only slow without the instruction
        check::<true>();
    }

    #[test]
    fn lanes_propagate_nan_and_sum() {
        let mut v: Vec<f32> = (0..37).map(|i| i as f32).collect();
        assert_eq!(extreme_lanes::<true>(&v), 36.0);
        assert_eq!(extreme_lanes::<false>(&v), 0.0);
        assert_eq!(sum_lanes(&v), (0..37).sum::<i32>() as f32);
        v[20] = f32::NAN;
        assert!(extreme_lanes::<true>(&v).is_nan());
        assert!(extreme_lanes::<false>(&v).is_nan());
        assert_eq!(extreme_lanes::<true>(&[]), f32::NEG_INFINITY);
    }
}
