// Row kernels: reductions here, softmax.wgsl and layer_norm.wgsl on the
// same indexing. The work is `rows` rows of `m` elements; a row's elements
// are read in place through the input's strides.
//
// Note [Row info]: the info words (after common.wgsl's Note [Info layout],
// whose first four words row kernels redefine):
//   info[0] rows     info[1] m, elements per row
//   info[2] tpr      invocations per row: a power of two <= RWG
//   info[3] param    an op parameter (layer_norm's eps bits)
//   info[4] nk       info[5] nr: dims of the row index and of the element
//                    index within a row (each >= 1, size-1 dims dropped)
//   info[6] nops     operands described (input, then output if strided)
//   info[7] offset   the input's element offset
//   info[8 ..]       the nk row sizes, then nk row strides per operand,
//                    then the nr element sizes, then nr element strides
//                    per operand.
// A workgroup of RWG invocations takes RWG / tpr consecutive rows; the tpr
// invocations of a row each fold every tpr-th element of it, then combine
// their partials in workgroup memory by a tree. RWG is the host's per
// adapter (Note [Row workgroups] in kernels/reduce.rs).

const RWG: u32 = {{RWG}}u;

// The storage offset of row `o` of operand `k` (without its own offset);
// `walk` is in common.wgsl.
fn row_off(k: u32, o: u32) -> u32 {
    let nk = info[4];
    return walk(8u, 8u + nk * (1u + k), nk, o);
}

// The storage offset of element `i` of a row of operand `k`, from its row.
fn elem_off(k: u32, i: u32) -> u32 {
    let nk = info[4];
    let nr = info[5];
    let sizes = 8u + nk * (1u + info[6]);
    return walk(sizes, sizes + nr * (1u + k), nr, i);
}

fn not_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// Whether x beats best for max (`hi`) or min: strictly beyond it, or the
// first NaN (a NaN best is never beaten), as the CPU backend's `beats`.
fn beats_f32(x: f32, best: f32, hi: bool) -> bool {
    let better = select((x < best), (x > best), hi);
    return better || (is_nan(x) && !is_nan(best));
}
fn beats_i32(x: i32, best: i32, hi: bool) -> bool {
    return select((x < best), (x > best), hi);
}

const NONE: u32 = 0xffffffffu;

//#chunk sum_f32
// Float sums: a compensated (two-sum) f32 pair per partial, close to the
// CPU backend's f64 accumulator; rounded once at the end.
struct Acc {
    hi: f32,
    lo: f32,
}
fn two_sum(a: f32, b: f32) -> Acc {
    let s = a + b;
    let bb = s - a;
    return Acc(s, (a - (s - bb)) + (b - bb));
}
fn acc_init() -> Acc {
    return Acc(0.0, 0.0);
}
fn acc_step(a: Acc, x: f32, i: u32) -> Acc {
    let t = two_sum(a.hi, x);
    return Acc(t.hi, a.lo + t.lo);
}
fn acc_merge(a: Acc, b: Acc) -> Acc {
    let t = two_sum(a.hi, b.hi);
    return Acc(t.hi, a.lo + b.lo + t.lo);
}
fn acc_total(a: Acc) -> f32 {
    // past overflow (or with inf / NaN inputs) the error term is meaningless
    return select(a.hi + a.lo, a.hi, not_finite(a.hi));
}
fn acc_out(a: Acc, m: u32) -> f32 {
    if ({{MEAN}}) {
        if (m == 0u) {
            return nan_f32();
        }
        return acc_total(a) / f32(m);
    }
    return acc_total(a);
}

//#chunk sum_i32
// Integer sums wrap, as i32 arithmetic does.
alias Acc = i32;
fn acc_init() -> Acc {
    return 0;
}
fn acc_step(a: Acc, x: i32, i: u32) -> Acc {
    return a + x;
}
fn acc_merge(a: Acc, b: Acc) -> Acc {
    return a + b;
}
fn acc_out(a: Acc, m: u32) -> i32 {
    return a;
}

//#chunk extreme_f32
alias Acc = f32;
fn acc_init() -> Acc {
    return select(inf_f32(), -inf_f32(), {{HI}});
}
fn acc_step(a: Acc, x: f32, i: u32) -> Acc {
    return select(a, x, beats_f32(x, a, {{HI}}));
}
fn acc_merge(a: Acc, b: Acc) -> Acc {
    return acc_step(a, b, 0u);
}
fn acc_out(a: Acc, m: u32) -> f32 {
    return a;
}

//#chunk extreme_i32
alias Acc = i32;
fn acc_init() -> Acc {
    return select(2147483647, -2147483647 - 1, {{HI}});
}
fn acc_step(a: Acc, x: i32, i: u32) -> Acc {
    return select(min(a, x), max(a, x), {{HI}});
}
fn acc_merge(a: Acc, b: Acc) -> Acc {
    return acc_step(a, b, 0u);
}
fn acc_out(a: Acc, m: u32) -> i32 {
    return a;
}

//#chunk arg
// argmax / argmin: the best value and its index (NONE before any element);
// each invocation sees its elements in order, and ties between partials go
// to the smaller index, so the first occurrence wins.
struct Acc {
    v: {{CT}},
    i: u32,
}
fn acc_init() -> Acc {
    return Acc({{CT}}(0), NONE);
}
fn acc_step(a: Acc, x: {{CT}}, i: u32) -> Acc {
    if (a.i == NONE || beats_{{CT}}(x, a.v, {{HI}})) {
        return Acc(x, i);
    }
    return a;
}
fn acc_merge(a: Acc, b: Acc) -> Acc {
    if (b.i == NONE) {
        return a;
    }
    if (a.i == NONE || beats_{{CT}}(b.v, a.v, {{HI}})) {
        return b;
    }
    if (beats_{{CT}}(a.v, b.v, {{HI}})) {
        return a;
    }
    if (b.i < a.i) {
        return b;
    }
    return a;
}
fn acc_out(a: Acc, m: u32) -> i32 {
    return i32(a.i);
}

//#chunk io
// The reduction kernels' bindings. The host fills in DST (dst's array
// type), STORE, SRC (the input's array type), CT, LOAD (element j of src
// as the compute type), and IN, the offset of element i within a row of
// src: `i` when rows are contiguous, else the stride walk `elem_off`.
@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
@group(0) @binding(2) var<storage, read> src: array<{{SRC}}>;

var<workgroup> sh: array<Acc, RWG>;

fn load(j: u32) -> {{CT}} {
    return {{LOAD}};
}

// The tree over a workgroup's partials: sh[lid] becomes the merge of the
// tpr partials from lid on, for each lane 0 of a row.
fn tree(lid: u32, lane: u32, tpr: u32) {
    workgroupBarrier();
    for (var s = tpr >> 1u; s > 0u; s >>= 1u) {
        if (lane < s) {
            sh[lid] = acc_merge(sh[lid], sh[lid + s]);
        }
        workgroupBarrier();
    }
}

//#chunk main
// dst[o] = the reduction of row o.
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = info[0];
    let m = info[1];
    let tpr = info[2];
    let o = (wid.y * nwg.x + wid.x) * (RWG / tpr) + lid / tpr;
    let lane = lid % tpr;
    var acc = acc_init();
    if (o < rows) {
        let base = info[7] + row_off(0u, o);
        for (var i = lane; i < m; i += tpr) {
            acc = acc_step(acc, load(base + {{IN}}), i);
        }
    }
    sh[lid] = acc;
    tree(lid, lane, tpr);
    if (o < rows && lane == 0u) {
        dst[o] = {{STORE}}(acc_out(sh[lid], m));
    }
}

//#chunk split
// Few long rows (Note [Long rows] in kernels/reduce.rs): a row is cut into
// info[3] segments of ceil(m / segments) elements. Pass 1 (`main`) gives
// each segment a workgroup, whose RWG invocations fold every RWG-th
// element of it and merge by the tree into part[w]; pass 2 (`merge`)
// folds a row's segment partials, in order, into dst.
@group(0) @binding(3) var<storage, read_write> part: array<Acc>;

@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let m = info[1];
    let segs = info[3];
    let w = wid.y * nwg.x + wid.x;
    if (w >= info[0] * segs) {
        return;
    }
    let o = w / segs;
    let len = (m + segs - 1u) / segs;
    let start = (w % segs) * len;
    let end = min(start + len, m);
    let base = info[7] + row_off(0u, o);
    var acc = acc_init();
    for (var i = start + lid; i < end; i += RWG) {
        acc = acc_step(acc, load(base + {{IN}}), i);
    }
    sh[lid] = acc;
    tree(lid, lid, RWG);
    if (lid == 0u) {
        part[w] = sh[0];
    }
}

//#chunk merge
@group(0) @binding(3) var<storage, read_write> part: array<Acc>;

@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = (wid.y * nwg.x + wid.x) * RWG + lid;
    if (o >= info[0]) {
        return;
    }
    let segs = info[3];
    var acc = part[o * segs];
    for (var s = 1u; s < segs; s++) {
        acc = acc_merge(acc, part[o * segs + s]);
    }
    dst[o] = {{STORE}}(acc_out(acc, info[1]));
}
