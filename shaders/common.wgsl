// Shared by every kiln kernel: the per-dispatch info buffer, invocation
// indexing, and the dtype helpers (element loads from packed words,
// rounding, the casts of `kiln::cast`, stores into packed words).
//
// Note [Info layout]: binding 0 of every kernel is a read-only array<u32>
// the host writes for that one dispatch:
//   info[0]            n, the number of logical elements the dispatch covers
//   info[1]            ndim (>= 1) of the collapsed iteration shape
//   info[2], info[3]   two op parameters (scalar bits, see param_*)
//   info[4 .. 4+ndim]  the iteration shape
//   operand k          info[4+ndim+k*(ndim+1)] its element offset, then its
//                      ndim strides in elements (0 along a broadcast dim)
// Kernels with another shape of work (factories, phase-2 kernels) keep
// info[0..4] and define what follows themselves.
//
// Note [Element storage]: a buffer holds the dtype's little-endian bytes,
// exactly as on the host: f32/i32 one per u32 word; bf16, and f16 when the
// device lacks SHADER_F16, two per word (low half first); bool one byte per
// element, four per word. With SHADER_F16, f16 buffers are array<f16>.
// Floats compute in f32 and round once when stored.

@group(0) @binding(0) var<storage, read> info: array<u32>;

const WG: u32 = 256u;

// The invocation's index over a 2-D grid of workgroups (a grid larger than
// max_compute_workgroups_per_dimension is spread over y).
fn invocation_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// Storage index of logical element i of operand k when the iteration shape
// collapsed to one dim.
fn flat_index(k: u32, i: u32) -> u32 {
    return info[5u + 2u * k] + i * info[6u + 2u * k];
}

// The storage offset of row-major index `i` over `n` dims whose sizes
// start at info[sizes] and whose strides start at info[strides]: the one
// stride walk every kernel uses.
fn walk(sizes: u32, strides: u32, n: u32, i: u32) -> u32 {
    if (n == 1u) {
        return i * info[strides];
    }
    var rem = i;
    var off = 0u;
    var d = n;
    loop {
        if (d == 0u) {
            break;
        }
        d -= 1u;
        let size = info[sizes + d];
        off += (rem % size) * info[strides + d];
        rem /= size;
    }
    return off;
}

// Storage index of logical element i of operand k, any shape and strides.
fn strided_index(k: u32, i: u32) -> u32 {
    let nd = info[1];
    let b = 4u + nd + k * (nd + 1u);
    return info[b] + walk(4u, b + 1u, nd, i);
}

fn param_f32(k: u32) -> f32 {
    return bitcast<f32>(info[k]);
}
fn param_i32(k: u32) -> i32 {
    return bitcast<i32>(info[k]);
}
fn param_bool(k: u32) -> bool {
    return info[k] != 0u;
}

// ---- loads: element i out of the word that holds it

fn f16_of(w: u32, i: u32) -> f32 {
    return unpack2x16float(w)[i & 1u];
}
fn bf16_of(w: u32, i: u32) -> f32 {
    return bitcast<f32>(((w >> ((i & 1u) * 16u)) & 0xffffu) << 16u);
}
fn bool_of(w: u32, i: u32) -> bool {
    return ((w >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}
fn raw16_of(w: u32, i: u32) -> u32 {
    return (w >> ((i & 1u) * 16u)) & 0xffffu;
}
fn raw8_of(w: u32, i: u32) -> u32 {
    return (w >> ((i & 3u) * 8u)) & 0xffu;
}

// ---- float helpers

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn nan_f32() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}
fn inf_f32() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

// bf16 bits of x, rounded to nearest even; NaN stays a quiet NaN (as the
// `half` crate does).
fn bf16_bits(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return (b >> 16u) | 0x40u;
    }
    return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}
fn round_bf16(x: f32) -> f32 {
    return bitcast<f32>(bf16_bits(x) << 16u);
}
fn round_f16(x: f32) -> f32 {
    return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
}

// f32 -> i32 as Rust's `as`: toward zero, saturating, NaN -> 0.
fn f32_to_i32(x: f32) -> i32 {
    if (is_nan(x)) {
        return 0;
    }
    if (x >= 2147483648.0) {
        return 2147483647;
    }
    if (x <= -2147483648.0) {
        return -2147483647 - 1;
    }
    return i32(x);
}

// i32 -> bf16 rounded once, to nearest even (through f32 it would round
// twice above 2^24).
fn i32_to_bf16(x: i32) -> f32 {
    let neg = x < 0;
    let m = select(bitcast<u32>(x), 0u - bitcast<u32>(x), neg);
    if (m < 256u) {
        return f32(x);
    }
    let shift = firstLeadingBit(m) - 7u;
    var q = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u) == 1u)) {
        q += 1u;
    }
    let v = ldexp(f32(q), i32(shift));
    return select(v, -v, neg);
}

// ---- casts: cast_<from>_<to> maps a value of dtype <from> (in its compute
// type: f32 for floats, i32, bool) to the value of dtype <to>, exactly as
// the CPU backend's `cast` does.

fn cast_f32_f32(x: f32) -> f32 { return x; }
fn cast_f32_f16(x: f32) -> f32 { return round_f16(x); }
fn cast_f32_bf16(x: f32) -> f32 { return round_bf16(x); }
fn cast_f32_i32(x: f32) -> i32 { return f32_to_i32(x); }
fn cast_f32_bool(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) != 0u; }
fn cast_f16_f32(x: f32) -> f32 { return x; }
fn cast_f16_f16(x: f32) -> f32 { return x; }
fn cast_f16_bf16(x: f32) -> f32 { return round_bf16(x); }
fn cast_f16_i32(x: f32) -> i32 { return f32_to_i32(x); }
fn cast_f16_bool(x: f32) -> bool { return cast_f32_bool(x); }
fn cast_bf16_f32(x: f32) -> f32 { return x; }
fn cast_bf16_f16(x: f32) -> f32 { return round_f16(x); }
fn cast_bf16_bf16(x: f32) -> f32 { return x; }
fn cast_bf16_i32(x: f32) -> i32 { return f32_to_i32(x); }
fn cast_bf16_bool(x: f32) -> bool { return cast_f32_bool(x); }
fn cast_i32_f32(x: i32) -> f32 { return f32(x); }
fn cast_i32_f16(x: i32) -> f32 { return round_f16(f32(x)); }
fn cast_i32_bf16(x: i32) -> f32 { return i32_to_bf16(x); }
fn cast_i32_i32(x: i32) -> i32 { return x; }
fn cast_i32_bool(x: i32) -> bool { return x != 0; }
fn cast_bool_f32(x: bool) -> f32 { return select(0.0, 1.0, x); }
fn cast_bool_f16(x: bool) -> f32 { return select(0.0, 1.0, x); }
fn cast_bool_bf16(x: bool) -> f32 { return select(0.0, 1.0, x); }
fn cast_bool_i32(x: bool) -> i32 { return select(0, 1, x); }
fn cast_bool_bool(x: bool) -> bool { return x; }

// ---- stores: the word (or native f16) written for one output position

fn store_f32(v: f32) -> u32 { return bitcast<u32>(v); }
fn store_i32(v: i32) -> u32 { return bitcast<u32>(v); }
fn store2_f16(a: f32, b: f32) -> u32 { return pack2x16float(vec2<f32>(a, b)); }
fn store2_bf16(a: f32, b: f32) -> u32 { return bf16_bits(a) | (bf16_bits(b) << 16u); }
fn store4_bool(a: bool, b: bool, c: bool, d: bool) -> u32 {
    return u32(a) | (u32(b) << 8u) | (u32(c) << 16u) | (u32(d) << 24u);
}
fn store_raw(v: u32) -> u32 { return v; }
fn store2_raw(a: u32, b: u32) -> u32 { return a | (b << 16u); }
fn store4_raw(a: u32, b: u32, c: u32, d: u32) -> u32 {
    return a | (b << 8u) | (c << 16u) | (d << 24u);
}

//#chunk f16
// Only in modules of a device with SHADER_F16 (after `enable f16;`).
fn store_f16(v: f32) -> f16 { return f16(v); }
