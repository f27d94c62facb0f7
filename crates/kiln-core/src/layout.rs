//! Shape, strides (in elements) and offset: how a tensor's elements sit in
//! its storage. Every view op is a pure function from one `Layout` to another.

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Dims or strides, inline up to 6 (no heap allocation for common ranks).
pub type Dims = SmallVec<[usize; 6]>;

/// Shape, strides in elements, and the storage offset of element 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

/// Row-major strides of a contiguous tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = smallvec::smallvec![0; shape.len()];
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

/// Product of the dims (1 for a zero-dim shape).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Resolves a possibly negative `dim` against `ndim` dims.
pub fn normalize_dim(op: &str, dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64; // a zero-dim tensor accepts dims 0 and -1
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::DimOutOfRange {
            op: op.to_string(),
            dim,
            ndim,
        });
    }
    Ok(d as usize)
}

/// Like [`normalize_dim`] for a dim being inserted (`unsqueeze`, `stack`):
/// valid range is `[-ndim-1, ndim]`.
pub fn normalize_insert_dim(op: &str, dim: i64, ndim: usize) -> Result<usize> {
    normalize_dim(op, dim, ndim + 1)
}

/// Resolves a list of dims; repeats are an error.
pub fn normalize_dims(op: &str, dims: &[i64], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = normalize_dim(op, d, ndim)?;
        if out.contains(&d) {
            return Err(Error::invalid(
                op,
                format!("dim {d} appears more than once in {dims:?}"),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

/// The broadcast of two shapes (numpy rules), or `Err(Broadcast)`.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    if a == b {
        return Ok(Dims::from_slice(a));
    }
    let mut out: Dims = smallvec::smallvec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Broadcast {
                op: op.to_string(),
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            });
        };
    }
    Ok(out)
}

impl Layout {
    /// A contiguous row-major layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            strides: contiguous_strides(shape),
            shape: Dims::from_slice(shape),
            offset: 0,
        }
    }

    /// A layout from parts; the caller guarantees it fits its storage.
    pub fn new(shape: impl Into<Dims>, strides: impl Into<Dims>, offset: usize) -> Self {
        let (shape, strides) = (shape.into(), strides.into());
        debug_assert_eq!(shape.len(), strides.len(), "Layout::new: rank mismatch");
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// The dims.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Storage offset of element 0, in elements.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Number of dims.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether the elements are row-major and dense (size-1 dims' strides
    /// do not matter).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] == 1 {
                continue;
            }
            if self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// One past the largest storage index this layout touches (0 if empty).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    /// The storage index of the element at multi-index `idx`.
    pub fn index_of(&self, idx: &[usize]) -> usize {
        self.offset
            + idx
                .iter()
                .zip(&self.strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()
    }

    /// Permutes the dims: `dims` must hold each of `0..ndim` once.
    pub fn permute(&self, op: &str, dims: &[i64]) -> Result<Layout> {
        let n = self.ndim();
        if dims.len() != n {
            return Err(Error::invalid(
                op,
                format!(
                    "dims {dims:?} must name each of the {n} dims of shape {:?} once",
                    self.shape
                ),
            ));
        }
        let dims = normalize_dims(op, dims, n)?;
        Ok(Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    /// Swaps two dims.
    pub fn transpose(&self, op: &str, d0: i64, d1: i64) -> Result<Layout> {
        let a = normalize_dim(op, d0, self.ndim())?;
        let b = normalize_dim(op, d1, self.ndim())?;
        let mut l = self.clone();
        if self.ndim() > 0 {
            l.shape.swap(a, b);
            l.strides.swap(a, b);
        }
        Ok(l)
    }

    /// Elements `start..end` step `step` along `dim` (Python slice rules for
    /// negative `start`/`end`; out-of-range bounds are an error).
    pub fn slice(&self, op: &str, dim: i64, start: i64, end: i64, step: i64) -> Result<Layout> {
        if self.ndim() == 0 {
            return Err(Error::invalid(op, "cannot slice a zero-dim tensor"));
        }
        let d = normalize_dim(op, dim, self.ndim())?;
        if step < 1 {
            return Err(Error::invalid(
                op,
                format!("step must be positive, got {step}"),
            ));
        }
        let size = self.shape[d] as i64;
        let fix = |v: i64| if v < 0 { v + size } else { v };
        let (s, e) = (fix(start), fix(end));
        if s < 0 || s > size {
            return Err(Error::IndexOutOfRange {
                op: op.to_string(),
                index: start,
                size: size as usize,
            });
        }
        if e < s || e > size {
            return Err(Error::IndexOutOfRange {
                op: op.to_string(),
                index: end,
                size: size as usize,
            });
        }
        let len = ((e - s) + step - 1) / step;
        let mut l = self.clone();
        l.offset += s as usize * self.strides[d];
        l.shape[d] = len as usize;
        l.strides[d] *= step as usize;
        Ok(l)
    }

    /// `length` elements from `start` along `dim`.
    pub fn narrow(&self, op: &str, dim: i64, start: i64, length: i64) -> Result<Layout> {
        if length < 0 {
            return Err(Error::invalid(
                op,
                format!("length must be non-negative, got {length}"),
            ));
        }
        let d = normalize_dim(op, dim, self.ndim())?;
        let size = self.shape.get(d).copied().unwrap_or(1) as i64;
        let s = if start < 0 { start + size } else { start };
        if s < 0 || s + length > size {
            return Err(Error::IndexOutOfRange {
                op: op.to_string(),
                index: start + length,
                size: size as usize,
            });
        }
        self.slice(op, dim, s, s + length, 1)
    }

    /// Broadcasts to `shape` (size-1 or missing leading dims get stride 0);
    /// `-1` in `shape` keeps the existing size.
    pub fn expand(&self, op: &str, shape: &[i64]) -> Result<Layout> {
        let n = shape.len();
        if n < self.ndim() {
            return Err(Error::shape(
                op,
                format!(
                    "cannot expand shape {:?} to {shape:?}: fewer dims",
                    self.shape
                ),
            ));
        }
        let lead = n - self.ndim();
        let mut out_shape = Dims::with_capacity(n);
        let mut out_strides = Dims::with_capacity(n);
        for (i, &want) in shape.iter().enumerate() {
            if i < lead {
                if want < 0 {
                    return Err(Error::shape(
                        op,
                        format!("-1 is not allowed in a new leading dim: {shape:?}"),
                    ));
                }
                out_shape.push(want as usize);
                out_strides.push(0);
                continue;
            }
            let have = self.shape[i - lead];
            let stride = self.strides[i - lead];
            if want == -1 || want as usize == have {
                out_shape.push(have);
                out_strides.push(stride);
            } else if have == 1 && want >= 0 {
                out_shape.push(want as usize);
                out_strides.push(0);
            } else {
                return Err(Error::shape(
                    op,
                    format!(
                        "cannot expand shape {:?} to {shape:?}: dim {i} has size {have}",
                        self.shape
                    ),
                ));
            }
        }
        Ok(Layout {
            shape: out_shape,
            strides: out_strides,
            offset: self.offset,
        })
    }

    /// Broadcasts to `shape`, which must be a broadcast of this shape.
    pub fn broadcast_to(&self, op: &str, shape: &[usize]) -> Result<Layout> {
        let want: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        self.expand(op, &want).map_err(|_| Error::Broadcast {
            op: op.to_string(),
            lhs: self.shape.to_vec(),
            rhs: shape.to_vec(),
        })
    }

    /// Removes `dim` if it has size 1, or every size-1 dim when `dim` is None.
    pub fn squeeze(&self, op: &str, dim: Option<i64>) -> Result<Layout> {
        let keep: Vec<bool> = match dim {
            None => self.shape.iter().map(|&d| d != 1).collect(),
            Some(dim) => {
                let d = normalize_dim(op, dim, self.ndim())?;
                (0..self.ndim())
                    .map(|i| i != d || self.shape[i] != 1)
                    .collect()
            }
        };
        Ok(Layout {
            shape: (0..self.ndim())
                .filter(|&i| keep[i])
                .map(|i| self.shape[i])
                .collect(),
            strides: (0..self.ndim())
                .filter(|&i| keep[i])
                .map(|i| self.strides[i])
                .collect(),
            offset: self.offset,
        })
    }

    /// Inserts a size-1 dim at `dim`.
    pub fn unsqueeze(&self, op: &str, dim: i64) -> Result<Layout> {
        let d = normalize_insert_dim(op, dim, self.ndim())?;
        let mut l = self.clone();
        let stride = if d < self.ndim() {
            self.strides[d] * self.shape[d]
        } else {
            1
        };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(l)
    }

    /// A view of this layout with `shape`, if one exists without a copy
    /// (PyTorch's `computeStride`); `None` when the data must be copied.
    pub fn view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                strides: contiguous_strides(shape),
                shape: Dims::from_slice(shape),
                offset: self.offset,
            });
        }
        let numel = self.numel();
        if numel == 0 {
            return Some(Layout::new(
                shape.to_vec(),
                contiguous_strides(shape),
                self.offset,
            ));
        }
        // Walk old dims from the back in chunks of mutually contiguous dims,
        // matching each chunk to a run of new dims of the same size.
        let mut new_strides: Dims = smallvec::smallvec![0usize; shape.len()];
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            let boundary = tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if boundary {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout::new(
            Dims::from_slice(shape),
            new_strides,
            self.offset,
        ))
    }
}

/// Resolves a requested shape that may hold one `-1` against `numel`
/// elements; a different element count is an error.
pub fn infer_shape(op: &str, from: &[usize], shape: &[i64]) -> Result<Vec<usize>> {
    let numel: usize = from.iter().product();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.replace(i).is_some() {
                return Err(Error::shape(
                    op,
                    format!("only one dim can be -1 in {shape:?}"),
                ));
            }
        } else if d < 0 {
            return Err(Error::shape(op, format!("invalid size {d} in {shape:?}")));
        } else {
            known *= d as usize;
        }
    }
    let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(Error::shape(
                    op,
                    format!(
                        "shape {shape:?} is invalid for input of size {numel} (shape {from:?})"
                    ),
                ));
            }
            out[i] = numel / known;
        }
        None if known != numel => {
            return Err(Error::shape(
                op,
                format!("shape {shape:?} is invalid for input of size {numel} (shape {from:?})"),
            ));
        }
        None => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_of_transposed_layouts() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let t = l.transpose("t", 0, 1).unwrap();
        assert!(!t.is_contiguous());
        // merging the last dim with a split is still a view
        assert!(t.view(&[3, 2, 2, 2]).is_some());
        // flattening a transposed pair is not
        assert!(t.view(&[6, 4]).is_none());
        assert_eq!(l.view(&[6, 4]).unwrap().strides(), &[4, 1]);
        let s = l.slice("s", 2, 1, 3, 1).unwrap();
        assert_eq!((s.shape(), s.offset()), (&[2usize, 3, 2][..], 1));
        assert_eq!(s.storage_extent(), 1 + 12 + 8 + 1 + 1);
    }

    #[test]
    fn broadcasting_rules() {
        assert_eq!(
            broadcast_shapes("b", &[3, 1], &[4]).unwrap().to_vec(),
            vec![3, 4]
        );
        assert_eq!(
            broadcast_shapes("b", &[], &[2, 2]).unwrap().to_vec(),
            vec![2, 2]
        );
        assert!(broadcast_shapes("b", &[3], &[4]).is_err());
        assert_eq!(
            broadcast_shapes("b", &[0, 1], &[1, 5]).unwrap().to_vec(),
            vec![0, 5]
        );
    }
}
