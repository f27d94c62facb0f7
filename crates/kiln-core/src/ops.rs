//! The op table: every built-in op, once, with its schema. The dispatcher,
//! the backends, the tracer and the README's op table all read it.
//!
//! Adding an op means one line here, its kernels in each backend, and a
//! `Tensor` method in `api.rs`.

/// An op's index in the dispatcher's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u32);

/// How an op's kernels are provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// No tensor arguments: reaches a backend through `BackendSelect`.
    Factory,
    /// Each backend has a kernel.
    Primitive,
    /// Edits the layout only; one kernel in core serves every backend.
    View,
    /// Written in terms of other ops; one kernel serves every backend that
    /// does not bring its own.
    Composite,
}

macro_rules! op_table {
    ($( $id:ident : $kind:ident = $schema:literal ),* $(,)?) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(u32)]
        enum Builtin { $($id),* }

        /// Handles of the built-in ops, by name.
        pub mod op {
            use super::{Builtin, OpId};
            $(
                #[doc = $schema]
                pub const $id: OpId = OpId(Builtin::$id as u32);
            )*
        }

        /// `(schema, kind)` of each built-in op, in `OpId` order.
        pub const BUILTIN_OPS: &[(&str, OpKind)] = &[$(($schema, OpKind::$kind)),*];
    };
}

op_table! {
    // factory
    EMPTY: Factory = "kiln::empty(int[] size, ScalarType dtype, Device device) -> Tensor",
    ZEROS: Factory = "kiln::zeros(int[] size, ScalarType dtype, Device device) -> Tensor",
    ONES: Factory = "kiln::ones(int[] size, ScalarType dtype, Device device) -> Tensor",
    FULL: Factory = "kiln::full(int[] size, Scalar fill_value, ScalarType dtype, Device device) -> Tensor",
    ARANGE: Factory = "kiln::arange(Scalar start, Scalar end, Scalar step, ScalarType dtype, Device device) -> Tensor",
    EYE: Factory = "kiln::eye(int n, int m, ScalarType dtype, Device device) -> Tensor",
    RAND: Factory = "kiln::rand(int[] size, int seed, ScalarType dtype, Device device) -> Tensor",
    RANDN: Factory = "kiln::randn(int[] size, int seed, ScalarType dtype, Device device) -> Tensor",
    // binary, broadcasting
    ADD: Primitive = "kiln::add(Tensor self, Tensor other) -> Tensor",
    SUB: Primitive = "kiln::sub(Tensor self, Tensor other) -> Tensor",
    MUL: Primitive = "kiln::mul(Tensor self, Tensor other) -> Tensor",
    DIV: Primitive = "kiln::div(Tensor self, Tensor other) -> Tensor",
    POW: Primitive = "kiln::pow(Tensor self, Tensor exponent) -> Tensor",
    MAXIMUM: Primitive = "kiln::maximum(Tensor self, Tensor other) -> Tensor",
    MINIMUM: Primitive = "kiln::minimum(Tensor self, Tensor other) -> Tensor",
    EQ: Primitive = "kiln::eq(Tensor self, Tensor other) -> Tensor",
    NE: Primitive = "kiln::ne(Tensor self, Tensor other) -> Tensor",
    LT: Primitive = "kiln::lt(Tensor self, Tensor other) -> Tensor",
    LE: Primitive = "kiln::le(Tensor self, Tensor other) -> Tensor",
    GT: Primitive = "kiln::gt(Tensor self, Tensor other) -> Tensor",
    GE: Primitive = "kiln::ge(Tensor self, Tensor other) -> Tensor",
    WHERE: Primitive = "kiln::where(Tensor condition, Tensor self, Tensor other) -> Tensor",
    // scalar forms: the scalar does not widen the tensor's dtype within its category
    ADD_SCALAR: Primitive = "kiln::add_scalar(Tensor self, Scalar other) -> Tensor",
    SUB_SCALAR: Primitive = "kiln::sub_scalar(Tensor self, Scalar other) -> Tensor",
    MUL_SCALAR: Primitive = "kiln::mul_scalar(Tensor self, Scalar other) -> Tensor",
    DIV_SCALAR: Primitive = "kiln::div_scalar(Tensor self, Scalar other) -> Tensor",
    POW_SCALAR: Primitive = "kiln::pow_scalar(Tensor self, Scalar exponent) -> Tensor",
    MAXIMUM_SCALAR: Primitive = "kiln::maximum_scalar(Tensor self, Scalar other) -> Tensor",
    MINIMUM_SCALAR: Primitive = "kiln::minimum_scalar(Tensor self, Scalar other) -> Tensor",
    EQ_SCALAR: Primitive = "kiln::eq_scalar(Tensor self, Scalar other) -> Tensor",
    NE_SCALAR: Primitive = "kiln::ne_scalar(Tensor self, Scalar other) -> Tensor",
    LT_SCALAR: Primitive = "kiln::lt_scalar(Tensor self, Scalar other) -> Tensor",
    LE_SCALAR: Primitive = "kiln::le_scalar(Tensor self, Scalar other) -> Tensor",
    GT_SCALAR: Primitive = "kiln::gt_scalar(Tensor self, Scalar other) -> Tensor",
    GE_SCALAR: Primitive = "kiln::ge_scalar(Tensor self, Scalar other) -> Tensor",
    // unary
    NEG: Primitive = "kiln::neg(Tensor self) -> Tensor",
    ABS: Primitive = "kiln::abs(Tensor self) -> Tensor",
    EXP: Primitive = "kiln::exp(Tensor self) -> Tensor",
    LOG: Primitive = "kiln::log(Tensor self) -> Tensor",
    SQRT: Primitive = "kiln::sqrt(Tensor self) -> Tensor",
    RSQRT: Primitive = "kiln::rsqrt(Tensor self) -> Tensor",
    SIN: Primitive = "kiln::sin(Tensor self) -> Tensor",
    COS: Primitive = "kiln::cos(Tensor self) -> Tensor",
    TANH: Primitive = "kiln::tanh(Tensor self) -> Tensor",
    SIGMOID: Primitive = "kiln::sigmoid(Tensor self) -> Tensor",
    RELU: Primitive = "kiln::relu(Tensor self) -> Tensor",
    GELU: Primitive = "kiln::gelu(Tensor self) -> Tensor",
    SILU: Primitive = "kiln::silu(Tensor self) -> Tensor",
    RECIP: Primitive = "kiln::recip(Tensor self) -> Tensor",
    CAST: Primitive = "kiln::cast(Tensor self, ScalarType dtype) -> Tensor",
    // reductions; an empty `dims` list reduces every dim
    SUM: Primitive = "kiln::sum(Tensor self, int[] dims=[], bool keepdim=False) -> Tensor",
    MEAN: Primitive = "kiln::mean(Tensor self, int[] dims=[], bool keepdim=False) -> Tensor",
    MAX: Primitive = "kiln::max(Tensor self, int[] dims=[], bool keepdim=False) -> Tensor",
    MIN: Primitive = "kiln::min(Tensor self, int[] dims=[], bool keepdim=False) -> Tensor",
    ARGMAX: Primitive = "kiln::argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor",
    ARGMIN: Primitive = "kiln::argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor",
    // linear algebra and nn
    MATMUL: Primitive = "kiln::matmul(Tensor self, Tensor other) -> Tensor",
    LINEAR: Composite = "kiln::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
    SOFTMAX: Primitive = "kiln::softmax(Tensor self, int dim) -> Tensor",
    LOG_SOFTMAX: Primitive = "kiln::log_softmax(Tensor self, int dim) -> Tensor",
    LAYER_NORM: Primitive = "kiln::layer_norm(Tensor input, int[] normalized_shape, Tensor? weight=None, Tensor? bias=None, float eps=1e-05) -> Tensor",
    CONV2D: Primitive = "kiln::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[] stride=[1, 1], int[] padding=[0, 0], int[] dilation=[1, 1], int groups=1) -> Tensor",
    MAX_POOL2D: Primitive = "kiln::max_pool2d(Tensor self, int[] kernel_size, int[] stride=[], int[] padding=[0, 0]) -> Tensor",
    // shape
    RESHAPE: View = "kiln::reshape(Tensor self, int[] shape) -> Tensor",
    VIEW: View = "kiln::view(Tensor self, int[] shape) -> Tensor",
    PERMUTE: View = "kiln::permute(Tensor self, int[] dims) -> Tensor",
    TRANSPOSE: View = "kiln::transpose(Tensor self, int dim0, int dim1) -> Tensor",
    SLICE: View = "kiln::slice(Tensor self, int dim, int start, int end, int step=1) -> Tensor",
    NARROW: View = "kiln::narrow(Tensor self, int dim, int start, int length) -> Tensor",
    EXPAND: View = "kiln::expand(Tensor self, int[] size) -> Tensor",
    SQUEEZE: View = "kiln::squeeze(Tensor self, int? dim=None) -> Tensor",
    UNSQUEEZE: View = "kiln::unsqueeze(Tensor self, int dim) -> Tensor",
    CONTIGUOUS: Primitive = "kiln::contiguous(Tensor self) -> Tensor",
    CAT: Primitive = "kiln::cat(Tensor[] tensors, int dim=0) -> Tensor",
    STACK: Composite = "kiln::stack(Tensor[] tensors, int dim=0) -> Tensor",
    // indexing
    INDEX_SELECT: Primitive = "kiln::index_select(Tensor self, int dim, Tensor index) -> Tensor",
    GATHER: Primitive = "kiln::gather(Tensor self, int dim, Tensor index) -> Tensor",
    EMBEDDING: Primitive = "kiln::embedding(Tensor weight, Tensor indices) -> Tensor",
    // devices
    TO: Primitive = "kiln::to(Tensor self, Device device) -> Tensor",
}

/// Number of built-in ops.
pub const NUM_BUILTIN_OPS: usize = BUILTIN_OPS.len();
