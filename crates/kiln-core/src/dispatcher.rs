//! The dispatcher: one table of ops, a dense kernel table per op indexed by
//! dispatch key, a fallback per key, and fallthroughs per (op, key).
//!
//! Note [How a call picks its kernel]: the key set of a call is
//! `((union of the tensor arguments' key sets) | tls.included) - tls.excluded`.
//! Keys are then tried from the highest down: the op's own kernel for the
//! key runs if there is one; else a fallthrough (the op's, or the key's)
//! skips the key; else the key's fallback runs; else the call fails with
//! `NoKernel` naming the keys that do have kernels. A kernel continues with
//! `redispatch(op, ks.after(MyKey), stack)`: the set it was given, masked,
//! never recomputed from thread-local state.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::key::{DispatchKey, DispatchKeySet, NUM_DISPATCH_KEYS};
use crate::ops::{OpId, OpKind, BUILTIN_OPS};
use crate::schema::OpSchema;
use crate::tls::tls_local_dispatch_key_set;
use crate::value::{IValue, Stack};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, RwLock};

/// A boxed kernel: reads its arguments from the stack and leaves its
/// results there. `ks` is the key set that chose it.
pub type KernelFn = dyn Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> + Send + Sync;

/// Note [Kernels live for the process]: kernels are leaked on registration
/// so that a call copies a `&'static` out of the table instead of bumping a
/// reference count; a replaced kernel's closure stays allocated (a few
/// bytes, once).
#[derive(Clone, Copy)]
struct Kernel {
    f: &'static KernelFn,
    name: &'static str,
}

impl Kernel {
    fn new<F>(name: &str, f: F) -> Kernel
    where
        F: Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> + Send + Sync + 'static,
    {
        Kernel {
            f: Box::leak(Box::new(f)),
            name: Box::leak(name.to_string().into_boxed_str()),
        }
    }
}

#[derive(Clone, Copy)]
enum Fallback {
    Kernel(Kernel),
    Fallthrough,
}

struct OpEntry {
    schema: Arc<OpSchema>,
    kind: OpKind,
    kernels: [Option<Kernel>; NUM_DISPATCH_KEYS],
    fallthrough: DispatchKeySet,
}

#[derive(Default)]
struct Tables {
    ops: Vec<OpEntry>,
    by_name: HashMap<String, OpId>,
    fallbacks: [Option<Fallback>; NUM_DISPATCH_KEYS],
}

/// The op registry and call router. One global instance serves kiln
/// ([`Dispatcher::global`]); tests may build their own.
pub struct Dispatcher {
    tables: RwLock<Tables>,
}

static GLOBAL: LazyLock<Dispatcher> = LazyLock::new(|| {
    let d = Dispatcher::new();
    d.register_builtins();
    d
});

fn lock_poisoned() -> Error {
    Error::invalid(
        "dispatcher",
        "the op table lock was poisoned by a panic during registration",
    )
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// An empty dispatcher whose `BackendSelect` falls through (as in c10).
    pub fn new() -> Self {
        let mut t = Tables::default();
        t.fallbacks[DispatchKey::BackendSelect.index()] = Some(Fallback::Fallthrough);
        Dispatcher {
            tables: RwLock::new(t),
        }
    }

    /// The process-wide dispatcher, with every built-in op defined and the
    /// backend-independent kernels (views, `BackendSelect`, composites)
    /// registered. Backends register their kernels into it.
    pub fn global() -> &'static Dispatcher {
        &GLOBAL
    }

    fn register_builtins(&self) {
        for (i, (schema, kind)) in BUILTIN_OPS.iter().enumerate() {
            let id = self
                .define_kind(schema, *kind)
                .unwrap_or_else(|e| panic!("built-in schema {schema:?} does not parse: {e}"));
            debug_assert_eq!(
                id,
                OpId(i as u32),
                "built-in ops are numbered in table order"
            );
            if *kind == OpKind::Factory {
                self.register_kernel(
                    id,
                    DispatchKey::BackendSelect,
                    "backend_select",
                    backend_select,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        crate::views::register(self).unwrap_or_else(|e| panic!("registering view kernels: {e}"));
    }

    /// Defines an op from its schema string; its name must be new.
    pub fn define(&self, schema: &str) -> Result<OpId> {
        let kind = if OpSchema::parse(schema)?.is_factory() {
            OpKind::Factory
        } else {
            OpKind::Primitive
        };
        let id = self.define_kind(schema, kind)?;
        if kind == OpKind::Factory {
            self.register_kernel(
                id,
                DispatchKey::BackendSelect,
                "backend_select",
                backend_select,
            )?;
        }
        Ok(id)
    }

    fn define_kind(&self, schema: &str, kind: OpKind) -> Result<OpId> {
        let schema = OpSchema::parse(schema)?;
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        if t.by_name.contains_key(&schema.name) {
            return Err(Error::Schema {
                op: schema.name.clone(),
                msg: "an op of this name is already defined".into(),
            });
        }
        let id = OpId(t.ops.len() as u32);
        t.by_name.insert(schema.name.clone(), id);
        t.ops.push(OpEntry {
            schema: Arc::new(schema),
            kind,
            kernels: Default::default(),
            fallthrough: DispatchKeySet::EMPTY,
        });
        Ok(id)
    }

    /// The op named `name` (`ns::op`).
    pub fn find(&self, name: &str) -> Option<OpId> {
        self.tables.read().ok()?.by_name.get(name).copied()
    }

    /// The op's schema.
    pub fn schema(&self, op: OpId) -> Result<Arc<OpSchema>> {
        let t = self.tables.read().map_err(|_| lock_poisoned())?;
        t.ops
            .get(op.0 as usize)
            .map(|e| e.schema.clone())
            .ok_or_else(|| Error::UnknownOp(format!("#{}", op.0)))
    }

    /// The op's kind (factory, primitive, view, composite).
    pub fn kind(&self, op: OpId) -> Option<OpKind> {
        self.tables
            .read()
            .ok()?
            .ops
            .get(op.0 as usize)
            .map(|e| e.kind)
    }

    /// Every op's id, in table order.
    pub fn ops(&self) -> Vec<OpId> {
        let n = self.tables.read().map(|t| t.ops.len()).unwrap_or(0);
        (0..n as u32).map(OpId).collect()
    }

    /// Registers (or replaces) the kernel of `op` for `key`.
    pub fn register_kernel<F>(&self, op: OpId, key: DispatchKey, name: &str, f: F) -> Result<()>
    where
        F: Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> + Send + Sync + 'static,
    {
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        let e = t
            .ops
            .get_mut(op.0 as usize)
            .ok_or_else(|| Error::UnknownOp(format!("#{}", op.0)))?;
        e.kernels[key.index()] = Some(Kernel::new(name, f));
        e.fallthrough = e.fallthrough.remove(key);
        Ok(())
    }

    /// Whether `op` has its own kernel for `key`.
    pub fn has_kernel(&self, op: OpId, key: DispatchKey) -> bool {
        self.tables
            .read()
            .ok()
            .and_then(|t| {
                t.ops
                    .get(op.0 as usize)
                    .map(|e| e.kernels[key.index()].is_some())
            })
            .unwrap_or(false)
    }

    /// Makes `key` fall through for `op`: calls skip to the next key.
    pub fn register_fallthrough(&self, op: OpId, key: DispatchKey) -> Result<()> {
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        let e = t
            .ops
            .get_mut(op.0 as usize)
            .ok_or_else(|| Error::UnknownOp(format!("#{}", op.0)))?;
        e.kernels[key.index()] = None;
        e.fallthrough = e.fallthrough.add(key);
        Ok(())
    }

    /// Registers (or replaces) the boxed fallback of `key`: it runs for every
    /// op that has no kernel of its own for `key`.
    pub fn register_fallback<F>(&self, key: DispatchKey, name: &str, f: F) -> Result<()>
    where
        F: Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> + Send + Sync + 'static,
    {
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        t.fallbacks[key.index()] = Some(Fallback::Kernel(Kernel::new(name, f)));
        Ok(())
    }

    /// Makes `key` fall through for every op without a kernel for it.
    pub fn register_fallthrough_fallback(&self, key: DispatchKey) -> Result<()> {
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        t.fallbacks[key.index()] = Some(Fallback::Fallthrough);
        Ok(())
    }

    /// Removes `key`'s fallback.
    pub fn deregister_fallback(&self, key: DispatchKey) -> Result<()> {
        let mut t = self.tables.write().map_err(|_| lock_poisoned())?;
        t.fallbacks[key.index()] = None;
        Ok(())
    }

    /// The key set a call of `op` with these arguments dispatches on (see
    /// Note [How a call picks its kernel]). Tensors on two devices are
    /// `Err(DeviceMismatch)`.
    pub fn compute_key_set(&self, op: OpId, stack: &[IValue]) -> Result<DispatchKeySet> {
        let mut ks = DispatchKeySet::EMPTY;
        let mut device: Option<Device> = None;
        let mut see = |t: &crate::tensor::Tensor| -> Result<()> {
            ks = ks | t.key_set();
            match device {
                None => device = Some(t.device()),
                Some(d) if d != t.device() => {
                    return Err(Error::DeviceMismatch {
                        op: self.op_name(op),
                        lhs: d,
                        rhs: t.device(),
                    })
                }
                _ => {}
            }
            Ok(())
        };
        for v in stack {
            match v {
                IValue::Tensor(t) => see(t)?,
                IValue::TensorList(l) => {
                    for t in l {
                        see(t)?
                    }
                }
                _ => {}
            }
        }
        let local = tls_local_dispatch_key_set();
        Ok((ks | local.included) - local.excluded)
    }

    /// Calls `op` with arguments in schema order (defaults already filled):
    /// computes the key set and dispatches. Returns the results.
    #[inline]
    pub fn call(&self, op: OpId, stack: impl Into<Stack>) -> Result<Stack> {
        let mut stack = stack.into();
        self.call_in_place(op, &mut stack)?;
        Ok(stack)
    }

    /// [`Dispatcher::call`] on a stack the caller owns: arguments in, results out.
    #[inline]
    pub fn call_in_place(&self, op: OpId, stack: &mut Stack) -> Result<()> {
        let ks = self.compute_key_set(op, stack)?;
        self.redispatch(op, ks, stack)
    }

    /// Calls an op by name with boxed arguments, checked against its schema
    /// (defaults filled in, wrong types rejected).
    pub fn call_boxed(&self, name: &str, args: Vec<IValue>) -> Result<Stack> {
        let op = self
            .find(name)
            .ok_or_else(|| Error::UnknownOp(name.to_string()))?;
        let args = self.schema(op)?.bind(args)?;
        self.call(op, Stack::from_vec(args))
    }

    /// Runs `op` on exactly the key set `ks` (see Note [How a call picks its
    /// kernel]); this is what a kernel calls to continue below itself.
    pub fn redispatch(&self, op: OpId, ks: DispatchKeySet, stack: &mut Stack) -> Result<()> {
        let (kernel, ks) = self.pick(op, ks)?;
        (kernel.f)(op, ks, stack)
    }

    fn pick(&self, op: OpId, mut ks: DispatchKeySet) -> Result<(Kernel, DispatchKeySet)> {
        let t = self.tables.read().map_err(|_| lock_poisoned())?;
        let e = t
            .ops
            .get(op.0 as usize)
            .ok_or_else(|| Error::UnknownOp(format!("#{}", op.0)))?;
        while let Some(k) = ks.highest() {
            if let Some(kernel) = e.kernels[k.index()] {
                return Ok((kernel, ks));
            }
            if !e.fallthrough.contains(k) {
                match t.fallbacks[k.index()] {
                    Some(Fallback::Kernel(kernel)) => return Ok((kernel, ks)),
                    Some(Fallback::Fallthrough) => {}
                    None => {
                        return Err(Error::NoKernel {
                            op: e.schema.name.clone(),
                            key: k,
                            available: DispatchKey::ALL
                                .iter()
                                .rev()
                                .copied()
                                .filter(|k| e.kernels[k.index()].is_some())
                                .collect(),
                        })
                    }
                }
            }
            ks = ks.remove(k);
        }
        Err(Error::invalid(
            &e.schema.name,
            "no dispatch key is left to run (every key excluded or fallen through)",
        ))
    }

    fn op_name(&self, op: OpId) -> String {
        self.schema(op)
            .map(|s| s.name.clone())
            .unwrap_or_else(|_| format!("#{}", op.0))
    }

    /// What each key would run for `op_name`: its kernel, the key's
    /// fallback, a fallthrough, or nothing (c10's `dumpComputedTable`).
    pub fn dump(&self, op_name: &str) -> Result<String> {
        let op = self
            .find(op_name)
            .ok_or_else(|| Error::UnknownOp(op_name.to_string()))?;
        let t = self.tables.read().map_err(|_| lock_poisoned())?;
        let e = &t.ops[op.0 as usize];
        let mut s = format!("{}\n", e.schema);
        for k in DispatchKey::ALL.iter().rev() {
            let what = if let Some(kernel) = &e.kernels[k.index()] {
                format!("kernel [{}]", kernel.name)
            } else if e.fallthrough.contains(*k) {
                "fallthrough [op]".to_string()
            } else {
                match &t.fallbacks[k.index()] {
                    Some(Fallback::Kernel(f)) => format!("fallback [{}]", f.name),
                    Some(Fallback::Fallthrough) => "fallthrough [key]".to_string(),
                    None => "missing".to_string(),
                }
            };
            let _ = writeln!(s, "{:<16} {what}", format!("{k}:"));
        }
        Ok(s)
    }
}

/// `BackendSelect`'s kernel for every factory op: picks the backend key
/// from the op's `Device` argument and redispatches there.
fn backend_select(op: OpId, ks: DispatchKeySet, stack: &mut Stack) -> Result<()> {
    let device = stack
        .iter()
        .rev()
        .find_map(|v| match v {
            IValue::Device(d) => Some(*d),
            _ => None,
        })
        .ok_or_else(|| {
            Error::invalid(
                "backend_select",
                "factory op called without a Device argument",
            )
        })?;
    let ks = ks.after(DispatchKey::BackendSelect).add(device.key());
    Dispatcher::global().redispatch(op, ks, stack)
}

/// A `Library` defines custom ops in one namespace and registers their
/// kernels, like `TORCH_LIBRARY`:
///
/// ```
/// use kiln_core::{Dispatcher, DispatchKey, IValue, Library, StackExt, StackResult};
/// let lib = Library::new("doc_example").unwrap();
/// lib.def("doc_example::twice(int x, int y=2) -> int").unwrap();
/// lib.impl_kernel("twice", DispatchKey::BackendSelect, |_op, _ks, stack| {
///     let v = stack.int("twice", 0)? * stack.int("twice", 1)?;
///     stack.clear();
///     stack.push(IValue::Int(v));
///     Ok(())
/// }).unwrap();
/// let out = Dispatcher::global().call_boxed("doc_example::twice", vec![IValue::Int(21)]).unwrap();
/// assert!(matches!(out[0], IValue::Int(42)));
/// ```
///
/// A tensor op (`my::scale(Tensor x, float alpha=1.0) -> Tensor`) registers
/// kernels for `DispatchKey::Cpu` and `DispatchKey::Wgpu` the same way; the
/// tracer records it with no extra code.
pub struct Library {
    ns: String,
    dispatcher: &'static Dispatcher,
}

impl Library {
    /// A library for namespace `ns` in the global dispatcher.
    pub fn new(ns: &str) -> Result<Library> {
        if ns.is_empty() || ns.contains("::") || ns == "kiln" {
            return Err(Error::invalid(
                "Library::new",
                format!("namespace {ns:?} is empty, reserved or contains '::'"),
            ));
        }
        Ok(Library {
            ns: ns.to_string(),
            dispatcher: Dispatcher::global(),
        })
    }

    fn qualify(&self, name: &str) -> String {
        if name.contains("::") {
            name.to_string()
        } else {
            format!("{}::{name}", self.ns)
        }
    }

    /// Defines an op from its schema; the namespace must be this library's.
    pub fn def(&self, schema: &str) -> Result<OpId> {
        let parsed = OpSchema::parse(schema)?;
        if parsed.namespace() != self.ns {
            return Err(Error::Schema {
                op: parsed.name,
                msg: format!(
                    "library {:?} can only define ops in its own namespace",
                    self.ns
                ),
            });
        }
        self.dispatcher.define(schema)
    }

    /// Registers the kernel of op `name` for `key`.
    pub fn impl_kernel<F>(&self, name: &str, key: DispatchKey, f: F) -> Result<()>
    where
        F: Fn(OpId, DispatchKeySet, &mut Stack) -> Result<()> + Send + Sync + 'static,
    {
        let q = self.qualify(name);
        let op = self
            .dispatcher
            .find(&q)
            .ok_or(Error::UnknownOp(q.clone()))?;
        self.dispatcher.register_kernel(op, key, &q, f)
    }

    /// Makes `key` fall through for op `name`.
    pub fn fallthrough(&self, name: &str, key: DispatchKey) -> Result<()> {
        let q = self.qualify(name);
        let op = self
            .dispatcher
            .find(&q)
            .ok_or(Error::UnknownOp(q.clone()))?;
        self.dispatcher.register_fallthrough(op, key)
    }
}
