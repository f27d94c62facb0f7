//! Thread-local dispatch state: the included and excluded key sets, the RAII
//! guards that edit them, and the tracer mode switches of PyTorch's
//! `TracerMode.h` note.
//!
//! Note [Guards restore exactly what they changed]: a guard records the keys
//! it actually added (those not already present) and removes only those on
//! drop. Nesting is therefore safe in any order, and an inner guard never
//! undoes an outer one. Guards are `!Send`: they belong to the thread whose
//! state they edit.

use crate::error::{Error, Result};
use crate::key::{DispatchKey, DispatchKeySet};
use std::cell::Cell;
use std::marker::PhantomData;

/// The per-thread pair of key sets that every dispatch consults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDispatchKeySet {
    /// Keys added to every call's set (default `{BackendSelect}`).
    pub included: DispatchKeySet,
    /// Keys removed from every call's set (default empty); wins over `included`.
    pub excluded: DispatchKeySet,
}

impl LocalDispatchKeySet {
    /// The state a fresh thread starts with.
    pub const DEFAULT: LocalDispatchKeySet = LocalDispatchKeySet {
        included: DispatchKeySet::from_key(DispatchKey::BackendSelect),
        excluded: DispatchKeySet::EMPTY,
    };
}

thread_local! {
    static LOCAL: Cell<LocalDispatchKeySet> = const { Cell::new(LocalDispatchKeySet::DEFAULT) };
}

/// This thread's included and excluded sets.
#[inline]
pub fn tls_local_dispatch_key_set() -> LocalDispatchKeySet {
    LOCAL.with(|c| c.get())
}

fn update(f: impl FnOnce(&mut LocalDispatchKeySet)) {
    LOCAL.with(|c| {
        let mut s = c.get();
        f(&mut s);
        c.set(s);
    })
}

/// Whether `key` is in this thread's included set.
pub fn tls_is_dispatch_key_included(key: DispatchKey) -> bool {
    tls_local_dispatch_key_set().included.contains(key)
}

/// Whether `key` is in this thread's excluded set.
pub fn tls_is_dispatch_key_excluded(key: DispatchKey) -> bool {
    tls_local_dispatch_key_set().excluded.contains(key)
}

/// Adds `key` to (or removes it from) this thread's included set.
pub fn tls_set_dispatch_key_included(key: DispatchKey, included: bool) {
    update(|s| {
        s.included = if included {
            s.included.add(key)
        } else {
            s.included.remove(key)
        }
    })
}

/// Adds `key` to (or removes it from) this thread's excluded set.
pub fn tls_set_dispatch_key_excluded(key: DispatchKey, excluded: bool) {
    update(|s| {
        s.excluded = if excluded {
            s.excluded.add(key)
        } else {
            s.excluded.remove(key)
        }
    })
}

/// RAII guard: includes keys for its lifetime (see Note [Guards restore
/// exactly what they changed]).
#[must_use = "the keys are included only while the guard lives"]
pub struct IncludeDispatchKeyGuard {
    added: DispatchKeySet,
    _not_send: PhantomData<*const ()>,
}

impl IncludeDispatchKeyGuard {
    /// Includes `keys` until the guard drops.
    pub fn new(keys: impl Into<DispatchKeySet>) -> Self {
        let keys = keys.into();
        let mut added = DispatchKeySet::EMPTY;
        update(|s| {
            added = keys - s.included;
            s.included = s.included | added;
        });
        IncludeDispatchKeyGuard {
            added,
            _not_send: PhantomData,
        }
    }
}

impl Drop for IncludeDispatchKeyGuard {
    fn drop(&mut self) {
        let added = self.added;
        update(|s| s.included = s.included - added);
    }
}

/// RAII guard: excludes keys for its lifetime (see Note [Guards restore
/// exactly what they changed]).
#[must_use = "the keys are excluded only while the guard lives"]
pub struct ExcludeDispatchKeyGuard {
    added: DispatchKeySet,
    _not_send: PhantomData<*const ()>,
}

impl ExcludeDispatchKeyGuard {
    /// Excludes `keys` until the guard drops.
    pub fn new(keys: impl Into<DispatchKeySet>) -> Self {
        let keys = keys.into();
        let mut added = DispatchKeySet::EMPTY;
        update(|s| {
            added = keys - s.excluded;
            s.excluded = s.excluded | added;
        });
        ExcludeDispatchKeyGuard {
            added,
            _not_send: PhantomData,
        }
    }
}

impl Drop for ExcludeDispatchKeyGuard {
    fn drop(&mut self) {
        let added = self.added;
        update(|s| s.excluded = s.excluded - added);
    }
}

/// The message PyTorch's `set_dispatch_enabled` asserts with.
pub const TRACER_EXCLUDED_MESSAGE: &str =
    "Cannot enable tracing within the scope of NoTracerDispatchMode!";

/// Whether Tracer dispatch is on: `Tracer` included and not excluded.
pub fn is_dispatch_enabled() -> bool {
    let s = tls_local_dispatch_key_set();
    s.included.contains(DispatchKey::Tracer) && !s.excluded.contains(DispatchKey::Tracer)
}

/// Turns Tracer dispatch on or off for this thread.
///
/// Inside [`NoTracerDispatchMode`] this is an error, whichever way it is
/// asked to go (as PyTorch's assert is), and the state is left unchanged.
pub fn set_dispatch_enabled(enabled: bool) -> Result<()> {
    if tls_is_dispatch_key_excluded(DispatchKey::Tracer) {
        return Err(Error::TracerExcluded);
    }
    tls_set_dispatch_key_included(DispatchKey::Tracer, enabled);
    Ok(())
}

/// RAII guard that excludes `Tracer`: nothing run inside it is recorded.
///
/// It does not touch the tracing state: a trace in progress stays in progress.
#[must_use = "tracing is suppressed only while the guard lives"]
pub struct NoTracerDispatchMode {
    _guard: ExcludeDispatchKeyGuard,
}

impl NoTracerDispatchMode {
    /// Suppresses Tracer dispatch until the guard drops.
    pub fn new() -> Self {
        NoTracerDispatchMode {
            _guard: ExcludeDispatchKeyGuard::new(DispatchKey::Tracer),
        }
    }
}

impl Default for NoTracerDispatchMode {
    fn default() -> Self {
        Self::new()
    }
}
