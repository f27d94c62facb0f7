// softmax / log_softmax of each row (Note [Row info] in reduce.wgsl, with
// operand 1 the output). Each invocation first takes the max of its own
// elements, then the sum of exp(x - that max) (one exp per element, no
// branches in the loops); the row's (max, sum) partials combine by a tree,
// rescaling sums to the larger max; a last pass writes exp(x - max) / sum,
// or (x - max) - log(sum). A NaN anywhere makes the row NaN and +inf does
// too, as on the CPU.
//
// The host fills in DST, STORE (dst's array type and store function), SRC
// and LOAD (element j of src as f32), LOG (true for log_softmax), and IN /
// OUT, the offset of element i within a row of src / dst: `i` when rows are
// contiguous (Rows::contiguous_rows), else the stride walk `elem_off`.

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
@group(0) @binding(2) var<storage, read> src: array<{{SRC}}>;

var<workgroup> shm: array<f32, RWG>;
var<workgroup> shs: array<f32, RWG>;

fn load(j: u32) -> f32 {
    return {{LOAD}};
}

// The running max and sum of exp(x - max).
struct Ms {
    m: f32,
    s: f32,
}

// s, a sum of exp(x - mo), as a sum of exp(x - mn) (mn >= mo).
fn rescale(s: f32, mo: f32, mn: f32) -> f32 {
    if (s == 0.0) {
        return 0.0;
    }
    return s * exp(mo - mn);
}

fn ms_merge(a: Ms, b: Ms) -> Ms {
    if (is_nan(a.m) || is_nan(b.m)) {
        return Ms(nan_f32(), nan_f32());
    }
    let m = max(a.m, b.m);
    return Ms(m, rescale(a.s, a.m, m) + rescale(b.s, b.m, m));
}

@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = info[0];
    let m = info[1];
    let tpr = info[2];
    let o = (wid.y * nwg.x + wid.x) * (RWG / tpr) + lid / tpr;
    let lane = lid % tpr;
    let base = info[7] + row_off(0u, o);
    var acc = Ms(-inf_f32(), 0.0);
    if (o < rows) {
        var mx = -inf_f32();
        var nan = false;
        for (var i = lane; i < m; i += tpr) {
            let x = load(base + {{IN}});
            nan = nan || is_nan(x);
            mx = max(mx, x);
        }
        if (nan) {
            acc = Ms(nan_f32(), nan_f32());
        } else if (mx != -inf_f32()) {
            // exp(-inf - mx) adds nothing; mx = +inf makes the sum NaN
            var s = 0.0;
            for (var i = lane; i < m; i += tpr) {
                s += exp(load(base + {{IN}}) - mx);
            }
            acc = Ms(mx, s);
        }
    }
    shm[lid] = acc.m;
    shs[lid] = acc.s;
    workgroupBarrier();
    for (var s = tpr >> 1u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let r = ms_merge(Ms(shm[lid], shs[lid]), Ms(shm[lid + s], shs[lid + s]));
            shm[lid] = r.m;
            shs[lid] = r.s;
        }
        workgroupBarrier();
    }
    if (o >= rows) {
        return;
    }
    let mx = shm[lid - lane];
    let sum = shs[lid - lane];
    let inv = 1.0 / sum;
    let lsum = log(sum);
    let obase = row_off(1u, o);
    for (var i = lane; i < m; i += tpr) {
        let x = load(base + {{IN}});
        var y: f32;
        if ({{LOG}}) {
            y = (x - mx) - lsum;
        } else {
            y = exp(x - mx) * inv;
        }
        dst[obase + {{OUT}}] = {{STORE}}(y);
    }
}
