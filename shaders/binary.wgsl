// Binary op functions, <op>_<compute type>, called by elementwise.wgsl,
// with the CPU backend's semantics: i32 arithmetic wraps, bool add/maximum
// are `or` and mul/minimum `and`, maximum/minimum propagate NaN, and
// comparisons of bools compare 0/1.

fn add_f32(a: f32, b: f32) -> f32 { return a + b; }
fn add_i32(a: i32, b: i32) -> i32 { return a + b; }
fn add_bool(a: bool, b: bool) -> bool { return a || b; }
fn sub_f32(a: f32, b: f32) -> f32 { return a - b; }
fn sub_i32(a: i32, b: i32) -> i32 { return a - b; }
fn mul_f32(a: f32, b: f32) -> f32 { return a * b; }
fn mul_i32(a: i32, b: i32) -> i32 { return a * b; }
fn mul_bool(a: bool, b: bool) -> bool { return a && b; }
fn div_f32(a: f32, b: f32) -> f32 { return a / b; }

fn maximum_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) {
        return nan_f32();
    }
    return select(b, a, a > b);
}
fn maximum_i32(a: i32, b: i32) -> i32 { return max(a, b); }
fn maximum_bool(a: bool, b: bool) -> bool { return a || b; }
fn minimum_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) {
        return nan_f32();
    }
    return select(b, a, a < b);
}
fn minimum_i32(a: i32, b: i32) -> i32 { return min(a, b); }
fn minimum_bool(a: bool, b: bool) -> bool { return a && b; }

// x^n by squaring, for an integer exponent |n| <= 64.
fn powi_f32(x: f32, n: i32) -> f32 {
    var base = x;
    var e = u32(abs(n));
    var r = 1.0;
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            r *= base;
        }
        base *= base;
        e >>= 1u;
    }
    return select(r, 1.0 / r, n < 0);
}

// powf with C's special cases (WGSL's pow is undefined for x < 0).
fn pow_f32(x: f32, y: f32) -> f32 {
    if (y == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (is_nan(x) || is_nan(y)) {
        return nan_f32();
    }
    if (abs(x) == 1.0 && abs(y) == inf_f32()) {
        return 1.0;
    }
    let y_int = floor(y) == y;
    if (y_int && abs(y) <= 64.0) {
        return powi_f32(x, i32(y));
    }
    let ax = abs(x);
    if (x < 0.0 && !y_int && ax != inf_f32()) {
        return nan_f32();
    }
    var r: f32;
    if (ax == 0.0) {
        r = select(0.0, inf_f32(), y < 0.0);
    } else if (ax == inf_f32()) {
        r = select(inf_f32(), 0.0, y < 0.0);
    } else {
        r = exp2(y * log2(ax));
    }
    // odd integer exponents keep the sign of x (|y| > 2^24 is always even)
    let odd = y_int && abs(y) < 16777216.0 && (i32(y) & 1) == 1;
    if (x < 0.0 || (x == 0.0 && bitcast<u32>(x) != 0u)) {
        if (odd) {
            r = -r;
        }
    }
    return r;
}

// Non-negative exponents wrap like i32::wrapping_pow; negative ones give
// 1, +-1 or 0 (the host rejects them before a dispatch, as the CPU does).
fn pow_i32(x: i32, y: i32) -> i32 {
    if (y < 0) {
        if (x == 1) {
            return 1;
        }
        if (x == -1) {
            return select(-1, 1, (y & 1) == 0);
        }
        return 0;
    }
    var base = x;
    var e = u32(y);
    var r = 1;
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            r *= base;
        }
        base *= base;
        e >>= 1u;
    }
    return r;
}

fn eq_f32(a: f32, b: f32) -> bool { return !is_nan(a) && !is_nan(b) && a == b; }
fn ne_f32(a: f32, b: f32) -> bool { return !eq_f32(a, b); }
fn lt_f32(a: f32, b: f32) -> bool { return !is_nan(a) && !is_nan(b) && a < b; }
fn le_f32(a: f32, b: f32) -> bool { return !is_nan(a) && !is_nan(b) && a <= b; }
fn gt_f32(a: f32, b: f32) -> bool { return !is_nan(a) && !is_nan(b) && a > b; }
fn ge_f32(a: f32, b: f32) -> bool { return !is_nan(a) && !is_nan(b) && a >= b; }
fn eq_i32(a: i32, b: i32) -> bool { return a == b; }
fn ne_i32(a: i32, b: i32) -> bool { return a != b; }
fn lt_i32(a: i32, b: i32) -> bool { return a < b; }
fn le_i32(a: i32, b: i32) -> bool { return a <= b; }
fn gt_i32(a: i32, b: i32) -> bool { return a > b; }
fn ge_i32(a: i32, b: i32) -> bool { return a >= b; }
fn eq_bool(a: bool, b: bool) -> bool { return a == b; }
fn ne_bool(a: bool, b: bool) -> bool { return a != b; }
fn lt_bool(a: bool, b: bool) -> bool { return u32(a) < u32(b); }
fn le_bool(a: bool, b: bool) -> bool { return u32(a) <= u32(b); }
fn gt_bool(a: bool, b: bool) -> bool { return u32(a) > u32(b); }
fn ge_bool(a: bool, b: bool) -> bool { return u32(a) >= u32(b); }

fn where_f32(c: bool, a: f32, b: f32) -> f32 { return select(b, a, c); }
fn where_i32(c: bool, a: i32, b: i32) -> i32 { return select(b, a, c); }
fn where_bool(c: bool, a: bool, b: bool) -> bool { return select(b, a, c); }
