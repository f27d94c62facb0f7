//! Factory kernels: `empty`, `zeros`, `ones`, `full`, `arange`, `eye`.

use crate::elem::Elem;
use crate::storage::alloc;
use crate::tensor_io::wrap;
use crate::with_dtype;
use kiln_core::{
    op, DType, DispatchKey, Dispatcher, Error, Result, Scalar, StackExt, StackResult, Tensor,
};

/// A tensor of `shape` filled with `v`.
pub fn full(shape: &[usize], v: Scalar, dtype: DType) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    with_dtype!(dtype, T => {
        let x = <T as Elem>::from_f64(v.to_f64());
        let mut data = alloc::<T>(n);
        data.fill(x);
        wrap(data, shape)
    })
}

fn arange(start: Scalar, end: Scalar, step: Scalar, dtype: DType) -> Result<Tensor> {
    let (a, b, st) = (start.to_f64(), end.to_f64(), step.to_f64());
    if st == 0.0 || !st.is_finite() || !a.is_finite() || !b.is_finite() {
        return Err(Error::invalid("arange", format!("step must be finite and nonzero and bounds finite, got start={a}, end={b}, step={st}")));
    }
    if (b - a) * st < 0.0 {
        return Err(Error::invalid("arange", format!("upper bound and larger bound inconsistent with step sign: start={a}, end={b}, step={st}")));
    }
    if dtype == DType::Bool {
        return Err(Error::dtype(
            "arange",
            dtype,
            "arange is defined for numeric dtypes",
        ));
    }
    let n = ((b - a) / st).ceil().max(0.0) as usize;
    with_dtype!(dtype, T => {
        let data: Vec<T> = (0..n).map(|i| <T as Elem>::from_f64(a + i as f64 * st)).collect();
        wrap(data, &[n])
    })
}

fn eye(n: i64, m: i64, dtype: DType) -> Result<Tensor> {
    if n < 0 || m < 0 {
        return Err(Error::invalid(
            "eye",
            format!("n and m must be non-negative, got n={n}, m={m}"),
        ));
    }
    let (n, m) = (n as usize, m as usize);
    with_dtype!(dtype, T => {
        let mut data = vec![<T as Elem>::ZERO; n * m];
        for i in 0..n.min(m) {
            data[i * m + i] = <T as Elem>::ONE;
        }
        wrap(data, &[n, m])
    })
}

pub(crate) fn register(d: &Dispatcher) -> Result<()> {
    let k = DispatchKey::Cpu;
    d.register_kernel(op::EMPTY, k, "cpu::empty", |_, _, s| {
        let shape = s.size("empty", 0)?;
        let dt = s.dtype("empty", 1)?;
        let n: usize = shape.iter().product();
        let t = with_dtype!(dt, T => wrap(alloc::<T>(n), &shape))?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ZEROS, k, "cpu::zeros", |_, _, s| {
        let t = full(&s.size("zeros", 0)?, Scalar::Int(0), s.dtype("zeros", 1)?)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ONES, k, "cpu::ones", |_, _, s| {
        let t = full(&s.size("ones", 0)?, Scalar::Int(1), s.dtype("ones", 1)?)?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::FULL, k, "cpu::full", |_, _, s| {
        let t = full(
            &s.size("full", 0)?,
            s.scalar("full", 1)?,
            s.dtype("full", 2)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::ARANGE, k, "cpu::arange", |_, _, s| {
        let t = arange(
            s.scalar("arange", 0)?,
            s.scalar("arange", 1)?,
            s.scalar("arange", 2)?,
            s.dtype("arange", 3)?,
        )?;
        s.set_result(t);
        Ok(())
    })?;
    d.register_kernel(op::EYE, k, "cpu::eye", |_, _, s| {
        let t = eye(s.int("eye", 0)?, s.int("eye", 1)?, s.dtype("eye", 2)?)?;
        s.set_result(t);
        Ok(())
    })?;
    Ok(())
}
