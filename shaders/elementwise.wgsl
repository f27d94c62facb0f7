// Elementwise map: dst[i] = f(x0[i], x1[i], ...) over the output's logical
// elements, each input read in place through its offset and strides (see
// Note [Info layout] in common.wgsl), cast to the op's dtype, combined by
// an op function of unary.wgsl or binary.wgsl, and stored in dst's dtype.
//
// The host fills in (each marked with double braces below):
//   DST      dst's array element type (u32, or f16 with SHADER_F16)
//   INPUTS   one `var<storage, read> srcK` per tensor input (binding 2+K)
//   CT       the compute type of the result (f32, i32, bool, u32 raw)
//   BODY     the loads and the op call that return element i (on the
//            vec4 path: component `comp` of the vec4s main_vec4 loaded)
//   PARAMS   on the vec4 path, `, vK: vec4<u32>` per tensor input, and
//   ARGS     `, vK`, PRELOAD `let vK = srcK[i];`: each input's vec4 is
//            loaded once, not once per component
//   STORE    the store function of dst's dtype (common.wgsl)
// and picks the main chunk by how many elements one dst word holds, or
// main_vec4 for contiguous 4-byte operands (Note [Vector path] in
// elementwise.rs): dst and every input are then array<vec4<u32>>, and
// VWG is that chunk's workgroup size.

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
{{INPUTS}}

fn element(i: u32, comp: u32{{PARAMS}}) -> {{CT}} {
{{BODY}}
}

//#chunk main_1
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    dst[i] = {{STORE}}(element(i, 0u));
}

//#chunk main_vec4
@compute @workgroup_size({{VWG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * {{VWG}}u + lid;
    if (i >= info[0] / 4u) {
        return;
    }
{{PRELOAD}}
    dst[i] = vec4<u32>({{STORE}}(element(i, 0u{{ARGS}})), {{STORE}}(element(i, 1u{{ARGS}})),
                       {{STORE}}(element(i, 2u{{ARGS}})), {{STORE}}(element(i, 3u{{ARGS}})));
}

//#chunk main_2
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = invocation_index(wid, nwg, lid);
    let n = info[0];
    let i = w * 2u;
    if (i >= n) {
        return;
    }
    var b: {{CT}};
    if (i + 1u < n) {
        b = element(i + 1u, 0u);
    }
    dst[w] = {{STORE}}(element(i, 0u), b);
}

//#chunk main_4
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = invocation_index(wid, nwg, lid);
    let n = info[0];
    let i = w * 4u;
    if (i >= n) {
        return;
    }
    var v: array<{{CT}}, 4>;
    for (var j = 0u; j < 4u; j++) {
        if (i + j < n) {
            v[j] = element(i + j, 0u);
        }
    }
    dst[w] = {{STORE}}(v[0], v[1], v[2], v[3]);
}
