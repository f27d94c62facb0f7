// conv2d and max_pool2d: direct kernels, every tensor read in place through
// its offset and strides, the output written contiguous. The index
// arithmetic is u32 throughout: every sum below is a storage index or a
// coordinate of an element that exists (at most 2^32 - 1), and a padded
// coordinate is computed wrapping and compared against the input size (a
// coordinate left of the input wraps to a huge value and reads as padding).
//
// Note [Conv info]: info[0] the workgroups with work (the grid may have
// more), then
//   info[1]  Wo           info[2]  Ho           info[3]  tiles (per block)
//   info[4]  Cg (input channels per group)      info[5]  Og (output per group)
//   info[6]  kH           info[7]  kW
//   info[8]  stride h     info[9]  stride w     info[10] pad h   info[11] pad w
//   info[12] dilation h   info[13] dilation w   info[14] H       info[15] W
//   info[16] x offset     info[17..21] x strides (n, c, h, w; n is 0 unbatched)
//   info[21] w offset     info[22..26] w strides (o, c, h, w)
//   info[26] bias offset  info[27] bias stride
//   info[28] O (output channels)                info[29] blocks (groups * per group)
//
// One workgroup covers CWG runs of PW = 4 neighbouring outputs along a
// row (a run ends at its row's end) of one sample, and one block of OB
// output channels of one group, so that the channel block, and every
// weight index, is uniform over the workgroup. Each invocation keeps
// OB x PW f32 sums (register blocking: per kernel tap, PW input and OB
// weight loads feed OB x PW multiply-adds; no shared memory, no barriers,
// which are costly on lavapipe). A block past its group's channels reloads
// the group's last weight row and stores nothing there. Floats accumulate
// in f32 (as the CPU backend) and round once when stored.
//
// The host fills in DST and STORE (output array type and store function:
// f32, or f16 with SHADER_F16; packed dtypes are written as f32 and cast
// after), SRC (the inputs' array type), LOAD_X / LOAD_W / LOAD_B (element j
// of x, weight, bias as f32) and OB; the chunk `bias` or `no_bias`
// follows `conv`.
//
// Note [Pool info]: max_pool2d runs on the elementwise template (one
// output element per call of `element`, packed outputs one word per
// invocation); info[0] the output element count, then
//   info[1] Wo   info[2] Ho   info[3] C   info[4] kH   info[5] kW
//   info[6] stride h   info[7] stride w   info[8] pad h   info[9] pad w
//   info[10] H   info[11] W   info[12] x offset   info[13..17] x strides
// The window is clipped to the input (padding never wins) and is never
// empty, since padding is at most half the kernel. NaN wins, as on the CPU.

//#chunk conv
const CWG: u32 = 64u;
const OB: u32 = {{OB}}u;
const PW: u32 = 4u;

@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
@group(0) @binding(2) var<storage, read> x: array<{{SRC}}>;
@group(0) @binding(3) var<storage, read> w: array<{{SRC}}>;

fn load_x(j: u32) -> f32 {
    return {{LOAD_X}};
}
fn load_w(j: u32) -> f32 {
    return {{LOAD_W}};
}

// Input element iw of the row at xr, 0 in the padding. The load itself
// stays inside the row (the clamp), so it needs no branch.
fn x_at(xr: u32, iw: u32, xsw: u32, wd: u32) -> f32 {
    return select(0.0, load_x(xr + min(iw, max(wd, 1u) - 1u) * xsw), iw < wd);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wo = info[1];
    let ho = info[2];
    let tiles = info[3];
    let blocks = info[29];
    // workgroup-uniform: sample, group, channel block, tile
    let gw = wid.y * nwg.x + wid.x;
    let tile = gw % tiles;
    let rest = gw / tiles;
    let blk = rest % blocks;
    let n = rest / blocks;
    let og = info[5];
    let per_group = (og + OB - 1u) / OB;
    let g = blk / per_group;
    let j0 = (blk % per_group) * OB;
    let o0 = g * og + j0;
    let o_last = g * og + og - 1u;
    let cg = info[4];
    // this invocation's PW outputs: row oh, columns ow0 .. ow0 + PW
    let quads = (wo + PW - 1u) / PW;
    let p = tile * CWG + lid;
    if (gw >= info[0] || p >= ho * quads) {
        return;
    }
    let oh = p / quads;
    let ow0 = (p % quads) * PW;
    let kh = info[6];
    let kw = info[7];
    let sw = info[9];
    let dh = info[12];
    let dw = info[13];
    let h = info[14];
    let wd = info[15];
    let xsc = info[18];
    let xsh = info[19];
    let xsw = info[20];
    let wso = info[22];
    let wsc = info[23];
    let wsh = info[24];
    let wsw = info[25];
    let ih0 = oh * info[8] - info[10];
    let iw0 = ow0 * sw - info[11];
    let xn = info[16] + n * info[17] + g * cg * xsc;
    var acc: array<vec4<f32>, OB>;
    for (var c = 0u; c < cg; c++) {
        let xc = xn + c * xsc;
        let wc = info[21] + c * wsc;
        for (var ki = 0u; ki < kh; ki++) {
            let ih = ih0 + ki * dh;
            if (ih >= h) {
                continue;
            }
            let xr = xc + ih * xsh;
            let wr = wc + ki * wsh;
            for (var kj = 0u; kj < kw; kj++) {
                let iw = iw0 + kj * dw;
                let v = vec4<f32>(
                    x_at(xr, iw, xsw, wd),
                    x_at(xr, iw + sw, xsw, wd),
                    x_at(xr, iw + 2u * sw, xsw, wd),
                    x_at(xr, iw + 3u * sw, xsw, wd),
                );
                let wk = wr + kj * wsw;
                for (var j = 0u; j < OB; j++) {
                    acc[j] += v * load_w(wk + min(o0 + j, o_last) * wso);
                }
            }
        }
    }
    let plane = ho * wo;
    let out_c = info[28];
    for (var j = 0u; j < OB; j++) {
        if (j0 + j < og) {
            let o = o0 + j;
            let b = bias_of(o);
            let at = (n * out_c + o) * plane + oh * wo + ow0;
            for (var q = 0u; q < PW; q++) {
                if (ow0 + q < wo) {
                    dst[at + q] = {{STORE}}(acc[j][q] + b);
                }
            }
        }
    }
}

//#chunk bias
@group(0) @binding(4) var<storage, read> bias: array<{{SRC}}>;
fn bias_of(o: u32) -> f32 {
    let j = info[26] + o * info[27];
    return {{LOAD_B}};
}

//#chunk no_bias
fn bias_of(o: u32) -> f32 {
    return 0.0;
}

//#chunk pool
// The max over output element i's window (Note [Pool info]).
fn pool(i: u32) -> {{CT}} {
    let wo = info[1];
    let ho = info[2];
    let ch = info[3];
    let ow = i % wo;
    let t = i / wo;
    let oh = t % ho;
    let nc = t / ho;
    let base = info[12] + (nc / ch) * info[13] + (nc % ch) * info[14];
    let sh = oh * info[6];
    let sw = ow * info[7];
    let h0 = select(sh - info[8], 0u, sh < info[8]);
    let w0 = select(sw - info[9], 0u, sw < info[9]);
    let h1 = min(sh + info[4] - info[8], info[10]);
    let w1 = min(sw + info[5] - info[9], info[11]);
    var best = load_pool(base + h0 * info[15] + w0 * info[16]);
    for (var ih = h0; ih < h1; ih++) {
        let row = base + ih * info[15];
        for (var iw = w0; iw < w1; iw++) {
            let v = load_pool(row + iw * info[16]);
            if ({{BETTER}}) {
                best = v;
            }
        }
    }
    return best;
}
