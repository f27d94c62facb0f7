// softmax / log_softmax of each row (Note [Row info] in reduce.wgsl, with
// operand 1 the output): one pass folds a running max and the sum of
// exp(x - max), rescaled when the max grows; the row's partials combine by
// a tree; a second pass writes exp(x - max) / sum, or (x - max) - log(sum).
// A NaN anywhere makes the row NaN and +inf does too, as on the CPU.
//
// The host fills in DST, STORE (dst's array type and store function), SRC
// and LOAD (element j of src as f32), and LOG (true for log_softmax).

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

fn ms_step(a: Ms, x: f32) -> Ms {
    if (is_nan(x) || is_nan(a.m)) {
        return Ms(nan_f32(), nan_f32());
    }
    if (x == -inf_f32()) {
        // exp(-inf - max) adds nothing (a row of -inf ends as 0 / 0 = NaN)
        return a;
    }
    let m = max(a.m, x);
    return Ms(m, rescale(a.s, a.m, m) + exp(x - m));
}

fn ms_merge(a: Ms, b: Ms) -> Ms {
    if (is_nan(a.m) || is_nan(b.m)) {
        return Ms(nan_f32(), nan_f32());
    }
    let m = max(a.m, b.m);
    return Ms(m, rescale(a.s, a.m, m) + rescale(b.s, b.m, m));
}

@compute @workgroup_size(128)
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
        for (var i = lane; i < m; i += tpr) {
            acc = ms_step(acc, load(base + elem_off(0u, i)));
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
        let x = load(base + elem_off(0u, i));
        var y: f32;
        if ({{LOG}}) {
            y = (x - mx) - lsum;
        } else {
            y = exp(x - mx) * inv;
        }
        dst[obase + elem_off(1u, i)] = {{STORE}}(y);
    }
}
