// `rand` and `randn`: Note [The kiln random stream] (kiln-cpu's
// kernels/random.rs): element i takes word i % 4 of Philox 4x32-10 at
// counter (i / 4, 0, 0, 0) under key (seed lo, seed hi). One invocation
// computes one counter's four elements.
//
// Info: info[0] the element count, info[1] the counter (group) count,
// info[2], info[3] the seed's low and high words.
//
// The host fills in DST (dst's array element type), FUNC (the map from four
// words to four values) and STORE (dst's store function), and picks the
// main chunk by how many elements one dst word holds.

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;

// (high, low) words of the 64-bit product a * b.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let p0 = mul_wide(0xD2511F53u, c.x);
        let p1 = mul_wide(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// rand: a word's top BITS bits times 2^-BITS (exact in the dtype).
fn rand_f32(w: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(w >> vec4<u32>(8u)) * (1.0 / 16777216.0);
}
fn rand_f16(w: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(w >> vec4<u32>(21u)) * (1.0 / 2048.0);
}
fn rand_bf16(w: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(w >> vec4<u32>(24u)) * (1.0 / 256.0);
}

// Box-Muller in f32 on one pair of words.
fn normal_pair(wa: u32, wb: u32) -> vec2<f32> {
    let u1 = f32((wa >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = f32(wb >> 8u) * (1.0 / 16777216.0);
    let r = sqrt(-2.0 * log(u1));
    let t = 6.2831855 * u2;
    return vec2<f32>(r * cos(t), r * sin(t));
}
fn randn_any(w: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(normal_pair(w.x, w.y), normal_pair(w.z, w.w));
}

fn group_values(g: u32) -> vec4<f32> {
    return {{FUNC}}(philox4x32_10(vec4<u32>(g, 0u, 0u, 0u), vec2<u32>(info[2], info[3])));
}

//#chunk main_1
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = invocation_index(wid, nwg, lid);
    if (g >= info[1]) {
        return;
    }
    let v = group_values(g);
    for (var j = 0u; j < 4u; j++) {
        let i = g * 4u + j;
        if (i < info[0]) {
            dst[i] = {{STORE}}(v[j]);
        }
    }
}

//#chunk main_2
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = invocation_index(wid, nwg, lid);
    if (g >= info[1]) {
        return;
    }
    let v = group_values(g);
    dst[g * 2u] = {{STORE}}(v.x, v.y);
    if (g * 4u + 2u < info[0]) {
        dst[g * 2u + 1u] = {{STORE}}(v.z, v.w);
    }
}
