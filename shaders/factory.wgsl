// Factory kernels. They write whole u32 words of dst's bytes, so one
// pipeline serves every dtype: the host passes the bit patterns.
//
// info[0] = number of dst words, info[1] = 1,
// fill: info[2] = the word to write (the value's bits repeated to fill it)
// eye:  info[2] = the bits of one element equal to 1,
//       info[3] = bits per element (32, 16 or 8),
//       info[4] = rows * cols (elements), info[5] = cols

@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

//#chunk fill
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = invocation_index(wid, nwg, lid);
    if (w >= info[0]) {
        return;
    }
    dst[w] = info[2];
}

//#chunk eye
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = invocation_index(wid, nwg, lid);
    if (w >= info[0]) {
        return;
    }
    let bits = info[3];
    let per_word = 32u / bits;
    let n = info[4];
    let cols = info[5];
    var word = 0u;
    for (var j = 0u; j < per_word; j++) {
        let e = w * per_word + j;
        if (e < n && e / cols == e % cols) {
            word |= info[2] << (j * bits);
        }
    }
    dst[w] = word;
}
