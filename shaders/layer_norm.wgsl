// layer_norm of each row (Note [Row info] in reduce.wgsl, with operand 1
// the output; a row is the trailing normalized_shape elements): the mean,
// then the biased variance of the centred values, each summed by the
// row's invocations and a tree, then y = (x - mean) * rstd, times the
// weight and plus the bias when given (contiguous f32, indexed by the
// element's position in the row). eps is info[3]'s bits.
//
// The host fills in DST, STORE, SRC, LOAD (element j of src as f32),
// AFFINE (the weight/bias bindings), APPLY (the affine step on `y`), and
// IN / OUT as softmax.wgsl does.

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
@group(0) @binding(2) var<storage, read> src: array<{{SRC}}>;
{{AFFINE}}

var<workgroup> sh: array<f32, RWG>;

fn load(j: u32) -> f32 {
    return {{LOAD}};
}

// The sum of the row's partials (every invocation gets it).
fn row_sum(lid: u32, lane: u32, tpr: u32, v: f32) -> f32 {
    sh[lid] = v;
    workgroupBarrier();
    for (var s = tpr >> 1u; s > 0u; s >>= 1u) {
        if (lane < s) {
            sh[lid] += sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[lid - lane];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = info[0];
    let m = info[1];
    let tpr = info[2];
    let eps = bitcast<f32>(info[3]);
    let o = (wid.y * nwg.x + wid.x) * (RWG / tpr) + lid / tpr;
    let lane = lid % tpr;
    let live = o < rows;
    let base = info[7] + row_off(0u, o);
    let n = f32(m);
    var part = 0.0;
    if (live) {
        for (var i = lane; i < m; i += tpr) {
            part += load(base + {{IN}});
        }
    }
    let mean = row_sum(lid, lane, tpr, part) / n;
    part = 0.0;
    if (live) {
        for (var i = lane; i < m; i += tpr) {
            let d = load(base + {{IN}}) - mean;
            part += d * d;
        }
    }
    let rstd = 1.0 / sqrt(row_sum(lid, lane, tpr, part) / n + eps);
    if (!live) {
        return;
    }
    let obase = row_off(1u, o);
    for (var i = lane; i < m; i += tpr) {
        let y = load(base + {{IN}}) - mean;
        dst[obase + {{OUT}}] = {{STORE}}({{APPLY}});
    }
}
