//! kiln's one error type. Every variant names the op and carries the values
//! that were wrong, so a message can be read without the code at hand.

use crate::device::Device;
use crate::dtype::DType;
use crate::key::DispatchKey;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kiln.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that do not broadcast.
    #[error("{op}: shapes {lhs:?} and {rhs:?} are not broadcastable")]
    Broadcast {
        /// The op.
        op: String,
        /// First shape.
        lhs: Vec<usize>,
        /// Second shape.
        rhs: Vec<usize>,
    },
    /// Shapes that do not fit together (matmul inner dims, cat, reshape, ...).
    #[error("{op}: {msg}")]
    Shape {
        /// The op.
        op: String,
        /// What does not fit, with the values.
        msg: String,
    },
    /// A dimension index outside `[-ndim, ndim)`.
    #[error("{op}: dimension {dim} is out of range for a tensor of {ndim} dimensions (expected a value in [{lo}, {hi}])", lo = -(*.ndim as i64).max(1), hi = (*.ndim as i64).max(1) - 1)]
    DimOutOfRange {
        /// The op.
        op: String,
        /// The dimension asked for.
        dim: i64,
        /// The tensor's number of dimensions.
        ndim: usize,
    },
    /// An index outside `[0, size)` (slicing, index_select, gather, embedding).
    #[error("{op}: index {index} is out of bounds for size {size}")]
    IndexOutOfRange {
        /// The op.
        op: String,
        /// The index.
        index: i64,
        /// The size indexed into.
        size: usize,
    },
    /// An op given a dtype it is not defined for.
    #[error("{op}: not supported for dtype {dtype}{}", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    UnsupportedDType {
        /// The op.
        op: String,
        /// The dtype.
        dtype: DType,
        /// Why, or what is supported.
        detail: String,
    },
    /// Operands whose dtypes must agree but do not.
    #[error("{op}: expected dtype {expected}, got {got}")]
    DTypeMismatch {
        /// The op.
        op: String,
        /// The dtype needed.
        expected: DType,
        /// The dtype given.
        got: DType,
    },
    /// Tensors on different devices in one op.
    #[error("{op}: expected all tensors on one device, found {lhs} and {rhs}")]
    DeviceMismatch {
        /// The op.
        op: String,
        /// One device.
        lhs: Device,
        /// The other.
        rhs: Device,
    },
    /// The dispatcher found no kernel for the key it chose.
    #[error("{op}: no kernel for dispatch key {key}; keys with a kernel: [{}]", .available.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "))]
    NoKernel {
        /// The op.
        op: String,
        /// The key that had none.
        key: DispatchKey,
        /// The keys that do have one.
        available: Vec<DispatchKey>,
    },
    /// An op name the dispatcher does not know.
    #[error("unknown op {0:?}")]
    UnknownOp(String),
    /// A schema string that does not parse, or a boxed call whose arguments do
    /// not fit the schema.
    #[error("{op}: {msg}")]
    Schema {
        /// The op (or the schema text when it did not parse).
        op: String,
        /// What is wrong.
        msg: String,
    },
    /// Any other argument out of its domain.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op.
        op: String,
        /// What is wrong, with the value.
        msg: String,
    },
    /// `set_dispatch_enabled` inside `NoTracerDispatchMode`.
    #[error("Cannot enable tracing within the scope of NoTracerDispatchMode!")]
    TracerExcluded,
    /// Tracing misuse (nested trace, an output with no data dependence, ...).
    #[error("trace: {0}")]
    Tracing(String),
    /// A GPU limit that a call would exceed.
    #[error("{op}: {limit} is {max}, but the call needs {value}")]
    GpuLimit {
        /// The op.
        op: String,
        /// The limit's wgpu name.
        limit: String,
        /// What the call needs.
        value: u64,
        /// The device's limit.
        max: u64,
    },
    /// No GPU adapter could be found or opened.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// A GPU error caught from wgpu (validation, out of memory, device lost).
    #[error("GPU error in {op}: {msg}")]
    Gpu {
        /// The op or step.
        op: String,
        /// wgpu's text.
        msg: String,
    },
}

impl Error {
    /// Builds a [`Error::Shape`].
    pub fn shape(op: &str, msg: impl Into<String>) -> Self {
        Error::Shape {
            op: op.to_string(),
            msg: msg.into(),
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(op: &str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op: op.to_string(),
            msg: msg.into(),
        }
    }

    /// Builds an [`Error::UnsupportedDType`].
    pub fn dtype(op: &str, dtype: DType, detail: impl Into<String>) -> Self {
        Error::UnsupportedDType {
            op: op.to_string(),
            dtype,
            detail: detail.into(),
        }
    }
}
