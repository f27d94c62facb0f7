// Matmul: each invocation computes a 4x4 block of one batch's output,
// accumulating in registers (no workgroup memory: barriers cost more than
// they save on software rasterisers, see WGPU-NOTES). Operands are read in
// place through their offsets and strides; edge blocks clamp their loads
// to the last row/column and skip the stores outside the output.
//
// Info (Note [Info layout] keeps info[0]):
//   info[0]            invocations: batches * row blocks * column blocks
//   info[1]            nb, the number of batch dims
//   info[2..5]         m, n, k
//   info[5], info[6]   column blocks, blocks per batch
//   info[7..11]        a's row and column strides, b's row and column strides
//   info[11], info[12] a's and b's offsets
//   info[13..]         the nb batch sizes, a's nb batch strides (0 where it
//                      broadcasts), b's nb batch strides
//
// The host fills in:
//   DST, A, B          the array element types of dst, a, b
//   CT                 the compute type (f32 or i32)
//   LOAD_A, LOAD_B     element j of a / b, cast to the op's dtype, as CT
//   STORE              the store function of dst's dtype
// and picks the `strided` chunk, or `vec4` (Note [Matmul vec4 path] in
// matmul.rs) where dst, a and b are all array<vec4<f32>>.

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
@group(0) @binding(2) var<storage, read> a: array<{{A}}>;
@group(0) @binding(3) var<storage, read> b: array<{{B}}>;

// The element offsets of a's and b's matrices for batch `batch`.
fn batch_offsets(batch: u32) -> vec2<u32> {
    let nb = info[1];
    return vec2<u32>(info[11] + walk(13u, 13u + nb, nb, batch),
                     info[12] + walk(13u, 13u + 2u * nb, nb, batch));
}

//#chunk strided
fn load_a(j: u32) -> {{CT}} {
    return {{LOAD_A}};
}
fn load_b(j: u32) -> {{CT}} {
    return {{LOAD_B}};
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.y * nwg.x + wid.x) * 64u + lid;
    if (t >= info[0]) {
        return;
    }
    let m = info[2];
    let n = info[3];
    let k = info[4];
    let batch = t / info[6];
    let r = t % info[6];
    let i0 = (r / info[5]) * 4u;
    let j0 = (r % info[5]) * 4u;

    let off = batch_offsets(batch);
    let oa = off.x;
    let ob = off.y;
    let ars = info[7];
    let acs = info[8];
    let brs = info[9];
    let bcs = info[10];
    let ra = vec4<u32>(
        oa + min(i0, m - 1u) * ars,
        oa + min(i0 + 1u, m - 1u) * ars,
        oa + min(i0 + 2u, m - 1u) * ars,
        oa + min(i0 + 3u, m - 1u) * ars,
    );
    let cb = vec4<u32>(
        ob + min(j0, n - 1u) * bcs,
        ob + min(j0 + 1u, n - 1u) * bcs,
        ob + min(j0 + 2u, n - 1u) * bcs,
        ob + min(j0 + 3u, n - 1u) * bcs,
    );
    var c0 = vec4<{{CT}}>();
    var c1 = vec4<{{CT}}>();
    var c2 = vec4<{{CT}}>();
    var c3 = vec4<{{CT}}>();
    for (var q = 0u; q < k; q++) {
        let qa = q * acs;
        let qb = q * brs;
        let bv = vec4<{{CT}}>(load_b(cb.x + qb), load_b(cb.y + qb), load_b(cb.z + qb),
                              load_b(cb.w + qb));
        c0 += load_a(ra.x + qa) * bv;
        c1 += load_a(ra.y + qa) * bv;
        c2 += load_a(ra.z + qa) * bv;
        c3 += load_a(ra.w + qa) * bv;
    }
    var c = array<vec4<{{CT}}>, 4>(c0, c1, c2, c3);
    let base = batch * m * n;
    for (var x = 0u; x < 4u; x++) {
        let i = i0 + x;
        if (i >= m) {
            break;
        }
        for (var y = 0u; y < 4u; y++) {
            if (j0 + y < n) {
                dst[base + i * n + j0 + y] = {{STORE}}(c[x][y]);
            }
        }
    }
}

//#chunk vec4
// Contiguous f32 rows, k and n multiples of 4, offsets and batch strides
// multiples of 4. Each invocation computes a block of R rows by C vec4
// columns of one batch's output; a workgroup takes one block of R rows and
// WG consecutive column blocks, one per invocation, so a's row addresses
// depend on the workgroup alone: uniform loads, where per-invocation
// addresses are gathers on a SIMD software rasteriser. Per step of four
// along k: R vec4 loads of a, 4C vec4 loads of b, 16RC multiply-adds.
// R, C and WG are picked per adapter (Note [Matmul tiles] in matmul.rs);
// the host writes the unrolled per-block lines:
//   ROWS    `let raR = ...;` a's clamped row starts (vec4 index)
//   COLS    `let cbC = ...;` b's clamped column starts (vec4 index)
//   ACC     the R x C accumulators `cR_C`
//   STEP    one step of four along k: the b loads, then per row one a load
//           and C vec4 multiply-adds
//   STORES  the guarded stores
// Info: info[5] column blocks (n/4 over C, rounded up), info[6] row blocks
// (m over R, rounded up).
@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let m = info[2];
    let n4 = info[3] / 4u;
    let k4 = info[4] / 4u;
    let chunks = (info[5] + {{WG}}u - 1u) / {{WG}}u;
    let w = wid.y * nwg.x + wid.x;
    let per_batch = info[6] * chunks;
    let batch = w / per_batch;
    let r = w % per_batch;
    let i0 = (r / chunks) * {{R}}u;
    let jb = (r % chunks) * {{WG}}u + lid;
    if (jb >= info[5]) {
        return;
    }
    let j0 = jb * {{C}}u;
    let off = batch_offsets(batch) / 4u;
{{ROWS}}
{{COLS}}
{{ACC}}
    var qb = 0u;
    for (var q = 0u; q < k4; q++) {
{{STEP}}
        qb += 4u * n4;
    }
    let base = batch * m * n4;
{{STORES}}
}
