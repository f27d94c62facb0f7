//! Dispatch keys and key sets: which layer of kiln handles an op call.
//!
//! Note [Key order]: a higher key runs first. The order, high to low, is
//! `Tracer > Autograd > ADInplaceOrView > BackendSelect > Wgpu > Cpu`; a key's
//! bit index is its rank, so `DispatchKeySet::highest` is one `leading_zeros`.

use std::fmt;

/// One layer of the dispatcher. See DESIGN.md's table for what each one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DispatchKey {
    /// The CPU backend's kernels.
    Cpu = 0,
    /// The wgpu compute backend's kernels.
    Wgpu = 1,
    /// Picks the backend of a factory op from its `device` argument.
    BackendSelect = 2,
    /// Reserved for view and in-place bookkeeping.
    ADInplaceOrView = 3,
    /// Reserved for automatic differentiation.
    Autograd = 4,
    /// Records ops into a graph; a thread-local mode key, off by default.
    Tracer = 5,
}

/// Number of dispatch keys; kernel tables are arrays of this length.
pub const NUM_DISPATCH_KEYS: usize = 6;

impl DispatchKey {
    /// Every key, from lowest to highest priority.
    pub const ALL: [DispatchKey; NUM_DISPATCH_KEYS] = [
        DispatchKey::Cpu,
        DispatchKey::Wgpu,
        DispatchKey::BackendSelect,
        DispatchKey::ADInplaceOrView,
        DispatchKey::Autograd,
        DispatchKey::Tracer,
    ];

    /// The key's rank, also its bit index in a [`DispatchKeySet`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The key of rank `i`, if there is one.
    pub fn from_index(i: usize) -> Option<DispatchKey> {
        Self::ALL.get(i).copied()
    }

    /// Whether this key names a backend (a key tensors carry).
    pub const fn is_backend(self) -> bool {
        matches!(self, DispatchKey::Cpu | DispatchKey::Wgpu)
    }

    /// Parses a key from its name as [`fmt::Display`] writes it.
    pub fn from_name(name: &str) -> Option<DispatchKey> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The key's name, as in PyTorch.
    pub const fn name(self) -> &'static str {
        match self {
            DispatchKey::Cpu => "CPU",
            DispatchKey::Wgpu => "Wgpu",
            DispatchKey::BackendSelect => "BackendSelect",
            DispatchKey::ADInplaceOrView => "ADInplaceOrView",
            DispatchKey::Autograd => "Autograd",
            DispatchKey::Tracer => "Tracer",
        }
    }
}

impl fmt::Display for DispatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of dispatch keys, one bit per key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DispatchKeySet(u64);

impl DispatchKeySet {
    /// The empty set.
    pub const EMPTY: DispatchKeySet = DispatchKeySet(0);
    /// Every key.
    pub const FULL: DispatchKeySet = DispatchKeySet((1 << NUM_DISPATCH_KEYS) - 1);

    /// The set holding one key.
    pub const fn from_key(k: DispatchKey) -> Self {
        DispatchKeySet(1 << k as u64)
    }

    /// The set holding the given keys.
    pub fn from_keys(keys: &[DispatchKey]) -> Self {
        keys.iter().fold(Self::EMPTY, |s, &k| s.add(k))
    }

    /// The raw bits.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// A set from raw bits (bits above the last key are dropped).
    pub const fn from_raw(bits: u64) -> Self {
        DispatchKeySet(bits & Self::FULL.0)
    }

    /// Whether `k` is in the set.
    pub const fn contains(self, k: DispatchKey) -> bool {
        self.0 & (1 << k as u64) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `k` added.
    #[must_use]
    pub const fn add(self, k: DispatchKey) -> Self {
        DispatchKeySet(self.0 | (1 << k as u64))
    }

    /// The set with `k` removed.
    #[must_use]
    pub const fn remove(self, k: DispatchKey) -> Self {
        DispatchKeySet(self.0 & !(1 << k as u64))
    }

    /// Keys in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        DispatchKeySet(self.0 | other.0)
    }

    /// Keys in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        DispatchKeySet(self.0 & other.0)
    }

    /// Keys in `self` but not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        DispatchKeySet(self.0 & !other.0)
    }

    /// The highest-priority key in the set.
    pub fn highest(self) -> Option<DispatchKey> {
        if self.0 == 0 {
            None
        } else {
            DispatchKey::from_index(63 - self.0.leading_zeros() as usize)
        }
    }

    /// The keys of this set strictly below `k`: what a kernel for `k`
    /// redispatches to.
    #[must_use]
    pub const fn after(self, k: DispatchKey) -> Self {
        DispatchKeySet(self.0 & ((1u64 << k as u64) - 1))
    }

    /// The keys, highest first.
    pub fn iter(self) -> impl Iterator<Item = DispatchKey> {
        DispatchKey::ALL
            .iter()
            .rev()
            .copied()
            .filter(move |k| self.contains(*k))
    }

    /// Number of keys in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }
}

impl From<DispatchKey> for DispatchKeySet {
    fn from(k: DispatchKey) -> Self {
        DispatchKeySet::from_key(k)
    }
}

impl std::ops::BitOr for DispatchKeySet {
    type Output = DispatchKeySet;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl std::ops::Sub for DispatchKeySet {
    type Output = DispatchKeySet;
    fn sub(self, rhs: Self) -> Self {
        self.difference(rhs)
    }
}

impl FromIterator<DispatchKey> for DispatchKeySet {
    fn from_iter<I: IntoIterator<Item = DispatchKey>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, |s, k| s.add(k))
    }
}

impl fmt::Debug for DispatchKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DispatchKeySet(")?;
        for (i, k) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for DispatchKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DispatchKey::*;

    #[test]
    fn highest_follows_priority_order() {
        let s = DispatchKeySet::from_keys(&[Cpu, BackendSelect, Tracer]);
        assert_eq!(s.highest(), Some(Tracer));
        assert_eq!(s.after(Tracer).highest(), Some(BackendSelect));
        assert_eq!(s.after(BackendSelect).highest(), Some(Cpu));
        assert_eq!(s.after(Cpu), DispatchKeySet::EMPTY);
        assert_eq!(DispatchKeySet::EMPTY.highest(), None);
    }

    #[test]
    fn set_algebra() {
        let a = DispatchKeySet::from_keys(&[Cpu, Wgpu]);
        let b = DispatchKeySet::from_keys(&[Wgpu, Tracer]);
        assert_eq!((a | b).len(), 3);
        assert_eq!(a - b, DispatchKeySet::from_key(Cpu));
        assert_eq!(a.intersection(b), DispatchKeySet::from_key(Wgpu));
        assert_eq!(
            (a | b).iter().collect::<Vec<_>>(),
            vec![Tracer, Wgpu, Cpu],
            "iteration runs highest first"
        );
        assert!(a.contains(Cpu) && !a.contains(Tracer));
        assert_eq!(format!("{:?}", a), "DispatchKeySet(Wgpu, CPU)");
    }
}
