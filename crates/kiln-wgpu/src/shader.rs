//! Assembling WGSL modules from the files in `shaders/`.
//!
//! A shader file is a head (everything before its first `//#chunk NAME`
//! line) and named chunks. A module is `enable f16;` (on devices with
//! `SHADER_F16`), `common.wgsl` (with its `f16` chunk there), the op family's
//! files, then the kernel's head and the chunk it picked. Kernel templates
//! mark what the host fills in with `{{NAME}}`.

use kiln_core::DType;

/// Shared helpers, the info binding, casts, loads and stores.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");
/// The elementwise map template.
pub const ELEMENTWISE: &str = include_str!("../../../shaders/elementwise.wgsl");
/// Unary op functions.
pub const UNARY: &str = include_str!("../../../shaders/unary.wgsl");
/// Binary op functions.
pub const BINARY: &str = include_str!("../../../shaders/binary.wgsl");
/// Factory kernels.
pub const FACTORY: &str = include_str!("../../../shaders/factory.wgsl");
/// Row indexing and the reduction kernels.
pub const REDUCE: &str = include_str!("../../../shaders/reduce.wgsl");
/// The softmax / log_softmax kernel.
pub const SOFTMAX: &str = include_str!("../../../shaders/softmax.wgsl");
/// The layer_norm kernel.
pub const LAYER_NORM: &str = include_str!("../../../shaders/layer_norm.wgsl");
/// Index-picking copies (cat, index_select, gather, embedding).
pub const INDEX: &str = include_str!("../../../shaders/index.wgsl");
/// `rand` and `randn` (Philox 4x32-10).
pub const RANDOM: &str = include_str!("../../../shaders/random.wgsl");
/// conv2d and max_pool2d.
pub const CONV: &str = include_str!("../../../shaders/conv.wgsl");
/// The matmul kernel.
pub const MATMUL: &str = include_str!("../../../shaders/matmul.wgsl");

const CHUNK: &str = "//#chunk ";

/// The part of `file` before its first chunk.
pub fn head(file: &str) -> &str {
    file.find(CHUNK).map_or(file, |i| &file[..i])
}

/// The chunk `name` of `file` (up to the next chunk); empty if absent.
pub fn chunk<'a>(file: &'a str, name: &str) -> &'a str {
    let mut rest = file;
    while let Some(i) = rest.find(CHUNK) {
        let after = &rest[i + CHUNK.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let body = &after[line_end..];
        let end = body.find(CHUNK).unwrap_or(body.len());
        if after[..line_end].trim() == name {
            return &body[..end];
        }
        rest = body;
    }
    ""
}

/// Replaces each `{{NAME}}` of `template` by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in values {
        s = s.replace(&format!("{{{{{k}}}}}"), v);
    }
    s
}

/// A whole module: the prelude for the device, then `parts` in order.
pub fn module(native_f16: bool, parts: &[&str]) -> String {
    let mut s = String::new();
    if native_f16 {
        s.push_str("enable f16;\n\n");
    }
    s.push_str(head(COMMON));
    if native_f16 {
        s.push_str(chunk(COMMON, "f16"));
    }
    for p in parts {
        s.push('\n');
        s.push_str(p);
    }
    s
}

/// How a tensor of one dtype sits in a buffer on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The dtype.
    pub dtype: DType,
    /// f16 as WGSL `f16` (the device has `SHADER_F16`).
    pub native_f16: bool,
}

impl Repr {
    /// For `dtype` on a device with or without native f16.
    pub fn new(dtype: DType, native_f16: bool) -> Self {
        Repr { dtype, native_f16 }
    }

    fn is_native_f16(self) -> bool {
        self.native_f16 && self.dtype == DType::F16
    }

    /// The WGSL array element type of its bindings.
    pub fn array_elem(self) -> &'static str {
        if self.is_native_f16() {
            "f16"
        } else {
            "u32"
        }
    }

    /// Elements per array element (1, or 2 / 4 when packed in `u32`s).
    pub fn per_word(self) -> u32 {
        if self.is_native_f16() {
            return 1;
        }
        4 / self.dtype.size_in_bytes() as u32
    }

    /// The WGSL expression loading element `j` of `buf` as a value of the
    /// dtype's compute type (f32 for floats, i32, bool).
    pub fn load(self, buf: &str, j: &str) -> String {
        match self.dtype {
            DType::F32 => format!("bitcast<f32>({buf}[{j}])"),
            DType::I32 => format!("bitcast<i32>({buf}[{j}])"),
            DType::F16 if self.native_f16 => format!("f32({buf}[{j}])"),
            DType::F16 => format!("f16_of({buf}[{j} >> 1u], {j})"),
            DType::BF16 => format!("bf16_of({buf}[{j} >> 1u], {j})"),
            DType::Bool => format!("bool_of({buf}[{j} >> 2u], {j})"),
        }
    }

    /// The store function of common.wgsl for a dst of this dtype.
    pub fn store(self) -> &'static str {
        match self.dtype {
            DType::F32 => "store_f32",
            DType::I32 => "store_i32",
            DType::F16 if self.native_f16 => "store_f16",
            DType::F16 => "store2_f16",
            DType::BF16 => "store2_bf16",
            DType::Bool => "store4_bool",
        }
    }
}

/// The WGSL type a dtype computes in.
pub fn compute_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => "f32",
        DType::I32 => "i32",
        DType::Bool => "bool",
    }
}

/// The raw load of element `j` of a `u32` buffer of `esize`-byte elements.
pub fn raw_load(esize: usize, buf: &str, j: &str) -> String {
    match esize {
        4 => format!("{buf}[{j}]"),
        2 => format!("raw16_of({buf}[{j} >> 1u], {j})"),
        _ => format!("raw8_of({buf}[{j} >> 2u], {j})"),
    }
}

/// The raw store function for `esize`-byte elements.
pub fn raw_store(esize: usize) -> &'static str {
    match esize {
        4 => "store_raw",
        2 => "store2_raw",
        _ => "store4_raw",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_files() {
        let f = "head\n//#chunk a\nA1\nA2\n//#chunk b\nB\n";
        assert_eq!(head(f), "head\n");
        assert_eq!(chunk(f, "a"), "\nA1\nA2\n");
        assert_eq!(chunk(f, "b"), "\nB\n");
        assert_eq!(chunk(f, "c"), "");
        assert_eq!(
            fill("x {{A}} {{B}} {{A}}", &[("A", "1"), ("B", "2")]),
            "x 1 2 1"
        );
        assert!(chunk(ELEMENTWISE, "main_4").contains("fn main"));
        assert!(chunk(FACTORY, "eye").contains("fn main"));
    }
}
