//! The `Tensor` handle: an `Arc` over storage, layout, dtype, device, key set
//! and identity. Backends own the storage types; core sees them through the
//! [`Storage`] trait only.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::key::DispatchKeySet;
use crate::layout::Layout;
use half::{bf16, f16};
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A backend's buffer of elements of one dtype.
pub trait Storage: Any + Send + Sync + fmt::Debug {
    /// Where the bytes live.
    fn device(&self) -> Device;
    /// The element type.
    fn dtype(&self) -> DType;
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether it holds no element.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Downcasting to the backend's type.
    fn as_any(&self) -> &dyn Any;
    /// Downcasting to the backend's type, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Copies elements `start..start + len` to host memory (little-endian
    /// element bytes; `bool` as one byte 0/1).
    fn read_bytes(&self, start: usize, len: usize) -> Result<Vec<u8>>;
    /// Overwrites the storage from host bytes (exactly `len()` elements).
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()>;
}

/// A Rust type that is the element of one kiln dtype.
pub trait Element: Copy + Send + Sync + fmt::Debug + PartialEq + 'static {
    /// Its dtype.
    const DTYPE: DType;
    /// Decodes little-endian element bytes.
    fn from_bytes(bytes: &[u8]) -> Vec<Self>;
    /// Encodes to little-endian element bytes.
    fn to_bytes(v: &[Self]) -> Vec<u8>;
    /// The value as `f64` (for printing and tests).
    fn to_f64(self) -> f64;
}

macro_rules! pod_element {
    ($t:ty, $d:expr, $to:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            fn from_bytes(bytes: &[u8]) -> Vec<Self> {
                bytemuck::pod_collect_to_vec(bytes)
            }
            fn to_bytes(v: &[Self]) -> Vec<u8> {
                bytemuck::cast_slice(v).to_vec()
            }
            fn to_f64(self) -> f64 {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
        }
    };
}
pod_element!(f32, DType::F32, |x: f32| x as f64);
pod_element!(i32, DType::I32, |x: i32| x as f64);
pod_element!(f16, DType::F16, |x: f16| x.to_f64());
pod_element!(bf16, DType::BF16, |x: bf16| x.to_f64());

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn from_bytes(bytes: &[u8]) -> Vec<Self> {
        bytes.iter().map(|&b| b != 0).collect()
    }
    fn to_bytes(v: &[Self]) -> Vec<u8> {
        v.iter().map(|&b| b as u8).collect()
    }
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
}

/// A tensor's identity: unique for the life of the process, different for
/// two views of one storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct TensorImpl {
    id: TensorId,
    storage: Arc<dyn Storage>,
    layout: Layout,
    dtype: DType,
    device: Device,
    keys: DispatchKeySet,
}

/// A cheap, clonable handle to a tensor. `Send + Sync`.
#[derive(Clone)]
pub struct Tensor(Arc<TensorImpl>);

impl Tensor {
    /// Wraps a backend's storage with a layout. The layout must fit in the
    /// storage (checked).
    pub fn from_storage(storage: Arc<dyn Storage>, layout: Layout) -> Result<Tensor> {
        if layout.storage_extent() > storage.len() {
            return Err(Error::shape(
                "from_storage",
                format!(
                    "layout {:?} needs {} elements, storage has {}",
                    layout,
                    layout.storage_extent(),
                    storage.len()
                ),
            ));
        }
        let device = storage.device();
        Ok(Tensor(Arc::new(TensorImpl {
            id: TensorId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            dtype: storage.dtype(),
            keys: DispatchKeySet::from_key(device.key()),
            device,
            storage,
            layout,
        })))
    }

    /// A new tensor sharing this one's storage under another layout (a view).
    pub fn with_layout(&self, op: &str, layout: Layout) -> Result<Tensor> {
        Tensor::from_storage(self.0.storage.clone(), layout).map_err(|e| match e {
            Error::Shape { msg, .. } => Error::shape(op, msg),
            e => e,
        })
    }

    /// The identity, for the tracer's value map.
    pub fn id(&self) -> TensorId {
        self.0.id
    }
    /// The dims.
    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }
    /// The dims (same as [`Tensor::shape`]).
    pub fn dims(&self) -> &[usize] {
        self.0.layout.shape()
    }
    /// Size of dim `d` (negative counts from the end).
    pub fn size(&self, d: i64) -> Result<usize> {
        let d = crate::layout::normalize_dim("size", d, self.ndim())?;
        Ok(self.shape().get(d).copied().unwrap_or(1))
    }
    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        self.0.layout.strides()
    }
    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    /// Number of dims.
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    /// Whether the layout is dense row-major.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// The device.
    pub fn device(&self) -> Device {
        self.0.device
    }
    /// The dispatch keys this tensor carries (its backend).
    pub fn key_set(&self) -> DispatchKeySet {
        self.0.keys
    }
    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.0.storage
    }
    /// Whether two tensors share one storage.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    /// The storage for writing, when this handle and its storage are the
    /// only references (a tensor just allocated); `None` otherwise.
    pub fn storage_mut(&mut self) -> Option<&mut dyn Storage> {
        let imp = Arc::get_mut(&mut self.0)?;
        Arc::get_mut(&mut imp.storage)
    }

    /// The elements in logical (row-major) order as host bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let l = self.layout();
        let n = l.numel();
        let esize = self.dtype().size_in_bytes();
        if n == 0 {
            return Ok(Vec::new());
        }
        let extent = l.storage_extent();
        let raw = self.0.storage.read_bytes(l.offset(), extent - l.offset())?;
        if l.is_contiguous() {
            return Ok(raw[..n * esize].to_vec());
        }
        let local = Layout::new(l.shape().to_vec(), l.strides().to_vec(), 0);
        let mut out = Vec::with_capacity(n * esize);
        for_each_index(&local, |i| {
            out.extend_from_slice(&raw[i * esize..(i + 1) * esize])
        });
        Ok(out)
    }

    /// The elements in logical order; `T` must match the dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::DTypeMismatch {
                op: "to_vec".into(),
                expected: self.dtype(),
                got: T::DTYPE,
            });
        }
        Ok(T::from_bytes(&self.to_bytes()?))
    }

    /// The one element of a tensor of one element.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "to_scalar",
                format!(
                    "expected a tensor with one element, got shape {:?}",
                    self.shape()
                ),
            ));
        }
        Ok(self.to_vec::<T>()?[0])
    }

    /// The elements as `f64` in logical order, whatever the dtype.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let b = self.to_bytes()?;
        Ok(match self.dtype() {
            DType::F32 => f32::from_bytes(&b)
                .into_iter()
                .map(Element::to_f64)
                .collect(),
            DType::F16 => f16::from_bytes(&b)
                .into_iter()
                .map(Element::to_f64)
                .collect(),
            DType::BF16 => bf16::from_bytes(&b)
                .into_iter()
                .map(Element::to_f64)
                .collect(),
            DType::I32 => i32::from_bytes(&b)
                .into_iter()
                .map(Element::to_f64)
                .collect(),
            DType::Bool => bool::from_bytes(&b)
                .into_iter()
                .map(Element::to_f64)
                .collect(),
        })
    }
}

/// Calls `f` with the storage index of every element of `l`, in row-major
/// logical order.
pub fn for_each_index(l: &Layout, mut f: impl FnMut(usize)) {
    let n = l.numel();
    if n == 0 {
        return;
    }
    let shape = l.shape();
    let strides = l.strides();
    let nd = shape.len();
    if nd == 0 {
        f(l.offset());
        return;
    }
    let mut idx = vec![0usize; nd];
    let mut off = l.offset();
    let (last, last_stride) = (shape[nd - 1], strides[nd - 1]);
    loop {
        for j in 0..last {
            f(off + j * last_stride);
        }
        // advance the outer dims
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor[{:?}, {}, {}, id {}]",
            self.shape(),
            self.dtype(),
            self.device(),
            self.id().0
        )
    }
}
