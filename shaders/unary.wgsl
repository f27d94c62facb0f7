// Unary op functions, <op>_<compute type>, called by elementwise.wgsl.
// Floats (f32, f16, bf16) compute in f32; neg/abs/relu also have an i32
// form; the other ops take integer inputs already cast to f32.

fn neg_f32(x: f32) -> f32 { return -x; }
fn neg_i32(x: i32) -> i32 { return -x; }
fn abs_f32(x: f32) -> f32 { return abs(x); }
fn abs_i32(x: i32) -> i32 { return abs(x); }
// relu keeps NaN (NaN > 0 is false, but so is NaN <= 0): max(x, 0) as torch.
fn relu_f32(x: f32) -> f32 { return select(x, 0.0, x < 0.0); }
fn relu_i32(x: i32) -> i32 { return max(x, 0); }
fn exp_f32(x: f32) -> f32 { return exp(x); }
fn log_f32(x: f32) -> f32 {
    if (x < 0.0) {
        return nan_f32();
    }
    if (x == 0.0) {
        return -inf_f32();
    }
    return log(x);
}
fn sqrt_f32(x: f32) -> f32 {
    if (x < 0.0) {
        return nan_f32();
    }
    return sqrt(x);
}
fn rsqrt_f32(x: f32) -> f32 {
    if (x < 0.0) {
        return nan_f32();
    }
    if (x == 0.0) {
        return select(inf_f32(), -inf_f32(), bitcast<u32>(x) != 0u);
    }
    return 1.0 / sqrt(x);
}
fn sin_f32(x: f32) -> f32 { return sin(x); }
fn cos_f32(x: f32) -> f32 { return cos(x); }
// tanh(x) is 1 to f32 precision beyond |x| = 9; clamping keeps an
// exp-based implementation away from inf/inf.
fn tanh_f32(x: f32) -> f32 { return tanh(clamp(x, -10.0, 10.0)); }
fn sigmoid_f32(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn silu_f32(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
fn recip_f32(x: f32) -> f32 { return 1.0 / x; }

// erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes'
// Chebyshev fit), so gelu keeps its relative precision for negative x too.
fn erfc_f32(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * exp(p);
    return select(r, 2.0 - r, x < 0.0);
}

// Exact gelu: x * Phi(x) = x * erfc(-x / sqrt(2)) / 2.
fn gelu_f32(x: f32) -> f32 {
    return 0.5 * x * erfc_f32(-x * 0.70710678118654752);
}
