// Copies that pick their source element through an index: `cat`,
// `index_select`, `gather`, `embedding`. They run on the elementwise
// template (elementwise.wgsl) with raw words: dst and every source are
// array<u32> holding the dtype's bytes (Note [Element storage]), so a copy
// is bit-exact; a `cat` input of another dtype is loaded, cast, and turned
// back into the output dtype's bits (to_raw_*).
//
// Info: Note [Info layout] over the output shape; operand 0 is the source
// with its stride along the indexed dim set to 0, operand 1 the i32 index
// tensor (0 strides where the output dims are not its own); info[2] is the
// source's stride along the indexed dim. `cat` puts operand k at input k,
// its offset moved back by its start along the cat dim (mod 2^32: the
// element read lies past that start), info[2] the size of the dims after
// the cat dim, info[3] the cat dim's size, and after the operands the end
// of each input along the cat dim.

// The bits of a value of the output dtype.
fn to_raw_f32(v: f32) -> u32 { return bitcast<u32>(v); }
fn to_raw_i32(v: i32) -> u32 { return bitcast<u32>(v); }
fn to_raw_f16(v: f32) -> u32 { return pack2x16float(vec2<f32>(v, 0.0)) & 0xffffu; }
fn to_raw_bf16(v: f32) -> u32 { return bf16_bits(v); }
fn to_raw_bool(v: bool) -> u32 { return u32(v); }

//#chunk take
// The source element an index picks.
fn take(i: u32) -> u32 {
    let ix = bitcast<i32>(src1[strided_index(1u, i)]);
    return strided_index(0u, i) + u32(ix) * info[2];
}
