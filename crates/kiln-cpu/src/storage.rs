//! CPU storage: one typed `Vec` per dtype, and a caching allocator that
//! hands freed buffers back to the next op of a similar size.
//!
//! Note [Why CPU buffers are cached]: a fresh 64 MiB `Vec` costs a page
//! fault per 4 KiB page on first write, which dominates an elementwise op on
//! large tensors (PyTorch's allocator pays it on every call). Buffers of at
//! least `POOL_MIN_BYTES` go back to a size-bucketed pool when their storage
//! drops, and the pool is capped at `POOL_MAX_BYTES`, so repeated ops of the
//! same size touch warm memory. Reused buffers hold stale values: callers
//! overwrite every element (this is `empty`'s contract).

use half::{bf16, f16};
use kiln_core::{DType, Device, Element, Error, Result, Storage};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

/// The elements of a CPU tensor.
#[derive(Debug)]
pub enum CpuData {
    /// `f32`
    F32(Vec<f32>),
    /// `f16`
    F16(Vec<f16>),
    /// `bf16`
    BF16(Vec<bf16>),
    /// `i32`
    I32(Vec<i32>),
    /// `bool`
    Bool(Vec<bool>),
}

/// A CPU tensor's storage.
#[derive(Debug)]
pub struct CpuStorage {
    data: CpuData,
}

const POOL_MIN_BYTES: usize = 1 << 16;
const POOL_MAX_BYTES: usize = 1 << 30;

#[derive(Default)]
struct Pool {
    free: HashMap<(DType, usize), Vec<CpuData>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Rounds an element count up to its bucket (at most 1/8 waste).
fn bucket(n: usize) -> usize {
    if n < 64 {
        return n;
    }
    let shift = (usize::BITS - n.leading_zeros()).saturating_sub(4);
    n.div_ceil(1 << shift) << shift
}

/// Element types a CPU storage holds.
pub trait CpuElem: Element + Default {
    /// Wraps a vector.
    fn wrap(v: Vec<Self>) -> CpuData;
    /// The slice, when `d` holds this type.
    fn slice(d: &CpuData) -> Option<&[Self]>;
    /// The vector, when `d` holds this type.
    fn unwrap(d: CpuData) -> Option<Vec<Self>>;
}

macro_rules! cpu_elem {
    ($t:ty, $v:ident) => {
        impl CpuElem for $t {
            fn wrap(v: Vec<Self>) -> CpuData {
                CpuData::$v(v)
            }
            fn slice(d: &CpuData) -> Option<&[Self]> {
                match d {
                    CpuData::$v(v) => Some(v),
                    _ => None,
                }
            }
            fn unwrap(d: CpuData) -> Option<Vec<Self>> {
                match d {
                    CpuData::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
cpu_elem!(f32, F32);
cpu_elem!(f16, F16);
cpu_elem!(bf16, BF16);
cpu_elem!(i32, I32);
cpu_elem!(bool, Bool);

impl CpuData {
    /// The dtype.
    pub fn dtype(&self) -> DType {
        match self {
            CpuData::F32(_) => DType::F32,
            CpuData::F16(_) => DType::F16,
            CpuData::BF16(_) => DType::BF16,
            CpuData::I32(_) => DType::I32,
            CpuData::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            CpuData::F32(v) => v.len(),
            CpuData::F16(v) => v.len(),
            CpuData::BF16(v) => v.len(),
            CpuData::I32(v) => v.len(),
            CpuData::Bool(v) => v.len(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn capacity_bytes(&self) -> usize {
        let cap = match self {
            CpuData::F32(v) => v.capacity(),
            CpuData::F16(v) => v.capacity(),
            CpuData::BF16(v) => v.capacity(),
            CpuData::I32(v) => v.capacity(),
            CpuData::Bool(v) => v.capacity(),
        };
        cap * self.dtype().size_in_bytes()
    }
}

/// A vector of `n` elements for an op's output: a pooled buffer of the same
/// bucket when one is free (stale contents), else a fresh zeroed one. The
/// caller overwrites every element.
pub fn alloc<T: CpuElem>(n: usize) -> Vec<T> {
    let bytes = n * T::DTYPE.size_in_bytes();
    if bytes >= POOL_MIN_BYTES {
        let b = bucket(n);
        let hit = POOL
            .lock()
            .ok()
            .and_then(|mut g| {
                let p = g.as_mut()?;
                let v = p.free.get_mut(&(T::DTYPE, b))?.pop()?;
                p.bytes -= v.capacity_bytes();
                Some(v)
            })
            .and_then(T::unwrap);
        if let Some(mut v) = hit {
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, T::default());
            }
            return v;
        }
        let mut v = Vec::with_capacity(b);
        v.resize(n, T::default());
        return v;
    }
    // small: plain malloc and fill (calloc costs more at these sizes)
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::default());
    v
}

impl Drop for CpuStorage {
    fn drop(&mut self) {
        let bytes = self.data.capacity_bytes();
        if bytes < POOL_MIN_BYTES {
            return;
        }
        let data = std::mem::replace(&mut self.data, CpuData::Bool(Vec::new()));
        let cap_elems = bytes / data.dtype().size_in_bytes();
        if bucket(cap_elems) != cap_elems {
            return; // not allocated by `alloc`: let it go
        }
        if let Ok(mut g) = POOL.lock() {
            let p = g.get_or_insert_with(Pool::default);
            if p.bytes + bytes <= POOL_MAX_BYTES {
                p.bytes += bytes;
                p.free
                    .entry((data.dtype(), cap_elems))
                    .or_default()
                    .push(data);
            }
        }
    }
}

/// Bytes the CPU allocator holds for reuse.
pub fn pooled_bytes() -> usize {
    POOL.lock()
        .ok()
        .and_then(|g| g.as_ref().map(|p| p.bytes))
        .unwrap_or(0)
}

/// Frees every pooled buffer.
pub fn empty_cache() {
    if let Ok(mut g) = POOL.lock() {
        *g = None;
    }
}

impl CpuStorage {
    /// Wraps data.
    pub fn new(data: CpuData) -> Self {
        CpuStorage { data }
    }

    /// Wraps a typed vector.
    pub fn from_vec<T: CpuElem>(v: Vec<T>) -> Self {
        CpuStorage { data: T::wrap(v) }
    }

    /// The data.
    pub fn data(&self) -> &CpuData {
        &self.data
    }

    /// The typed slice; `Err` if the dtype differs.
    pub fn as_slice<T: CpuElem>(&self) -> Result<&[T]> {
        T::slice(&self.data).ok_or_else(|| Error::DTypeMismatch {
            op: "cpu storage".into(),
            expected: T::DTYPE,
            got: self.data.dtype(),
        })
    }
}

impl Storage for CpuStorage {
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn dtype(&self) -> DType {
        self.data.dtype()
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn read_bytes(&self, start: usize, len: usize) -> Result<Vec<u8>> {
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.len())
            .ok_or_else(|| Error::IndexOutOfRange {
                op: "read_bytes".into(),
                index: (start + len) as i64,
                size: self.len(),
            })?;
        Ok(match &self.data {
            CpuData::F32(v) => f32::to_bytes(&v[start..end]),
            CpuData::F16(v) => f16::to_bytes(&v[start..end]),
            CpuData::BF16(v) => bf16::to_bytes(&v[start..end]),
            CpuData::I32(v) => i32::to_bytes(&v[start..end]),
            CpuData::Bool(v) => bool::to_bytes(&v[start..end]),
        })
    }
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let want = self.len() * self.dtype().size_in_bytes();
        if bytes.len() != want {
            return Err(Error::invalid(
                "write_bytes",
                format!(
                    "expected {want} bytes for {} {} elements, got {}",
                    self.len(),
                    self.dtype(),
                    bytes.len()
                ),
            ));
        }
        match &mut self.data {
            CpuData::F32(v) => bytemuck::cast_slice_mut::<f32, u8>(v).copy_from_slice(bytes),
            CpuData::F16(v) => bytemuck::cast_slice_mut::<f16, u8>(v).copy_from_slice(bytes),
            CpuData::BF16(v) => bytemuck::cast_slice_mut::<bf16, u8>(v).copy_from_slice(bytes),
            CpuData::I32(v) => bytemuck::cast_slice_mut::<i32, u8>(v).copy_from_slice(bytes),
            CpuData::Bool(v) => v.iter_mut().zip(bytes).for_each(|(d, &b)| *d = b != 0),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_waste_at_most_an_eighth() {
        for n in [
            64usize,
            65,
            1000,
            4096,
            4097,
            1 << 24,
            (1 << 24) + 1,
            12345678,
        ] {
            let b = bucket(n);
            assert!(b >= n && (b - n) * 8 <= n, "{n} -> {b}");
            assert_eq!(bucket(b), b);
        }
    }
}
