//! Op schemas, parsed from PyTorch-style strings such as
//! `my::scale(Tensor x, float alpha=1.0) -> Tensor`, and the check that a
//! boxed call's arguments fit one.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::value::IValue;
use std::fmt;

/// The type of an argument, without optionality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// `Tensor`
    Tensor,
    /// `Tensor[]`
    TensorList,
    /// `int`
    Int,
    /// `int[]`
    IntList,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `Scalar` (int, float or bool)
    Scalar,
    /// `ScalarType` (a dtype)
    ScalarType,
    /// `Device`
    Device,
    /// `str`
    Str,
}

impl BaseType {
    fn parse(s: &str) -> Option<BaseType> {
        Some(match s {
            "Tensor" => BaseType::Tensor,
            "Tensor[]" => BaseType::TensorList,
            "int" => BaseType::Int,
            "int[]" => BaseType::IntList,
            "float" => BaseType::Float,
            "bool" => BaseType::Bool,
            "Scalar" => BaseType::Scalar,
            "ScalarType" => BaseType::ScalarType,
            "Device" => BaseType::Device,
            "str" => BaseType::Str,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            BaseType::Tensor => "Tensor",
            BaseType::TensorList => "Tensor[]",
            BaseType::Int => "int",
            BaseType::IntList => "int[]",
            BaseType::Float => "float",
            BaseType::Bool => "bool",
            BaseType::Scalar => "Scalar",
            BaseType::ScalarType => "ScalarType",
            BaseType::Device => "Device",
            BaseType::Str => "str",
        }
    }

    /// Whether `v` is a value of this type (ints are accepted as floats).
    fn accepts(self, v: &IValue) -> bool {
        matches!(
            (self, v),
            (BaseType::Tensor, IValue::Tensor(_))
                | (BaseType::TensorList, IValue::TensorList(_))
                | (BaseType::Int, IValue::Int(_))
                | (BaseType::IntList, IValue::IntList(_))
                | (BaseType::Float, IValue::Float(_) | IValue::Int(_))
                | (BaseType::Bool, IValue::Bool(_))
                | (
                    BaseType::Scalar,
                    IValue::Int(_) | IValue::Float(_) | IValue::Bool(_)
                )
                | (BaseType::ScalarType, IValue::DType(_))
                | (BaseType::Device, IValue::Device(_))
                | (BaseType::Str, IValue::Str(_))
        )
    }
}

/// An argument's type: a base type, maybe optional (`Tensor?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgType {
    /// The type.
    pub base: BaseType,
    /// Whether `None` is allowed.
    pub optional: bool,
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.base.name(),
            if self.optional { "?" } else { "" }
        )
    }
}

/// One named argument.
#[derive(Debug, Clone)]
pub struct Argument {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ArgType,
    /// Its default, if it may be left out.
    pub default: Option<IValue>,
}

/// A parsed op schema.
#[derive(Debug, Clone)]
pub struct OpSchema {
    /// The qualified name, `ns::op`.
    pub name: String,
    /// The arguments in order.
    pub args: Vec<Argument>,
    /// The result types.
    pub returns: Vec<ArgType>,
    text: String,
}

fn parse_err(text: &str, msg: impl Into<String>) -> Error {
    Error::Schema {
        op: text.to_string(),
        msg: msg.into(),
    }
}

fn parse_type(text: &str, s: &str) -> Result<ArgType> {
    let (s, optional) = match s.strip_suffix('?') {
        Some(s) => (s, true),
        None => (s, false),
    };
    let base = BaseType::parse(s).ok_or_else(|| parse_err(text, format!("unknown type {s:?}")))?;
    Ok(ArgType { base, optional })
}

fn parse_default(text: &str, ty: ArgType, s: &str) -> Result<IValue> {
    let bad = || parse_err(text, format!("default {s:?} does not fit type {ty}"));
    if s == "None" {
        return if ty.optional {
            Ok(IValue::None)
        } else {
            Err(bad())
        };
    }
    Ok(match ty.base {
        BaseType::Int => IValue::Int(s.parse().map_err(|_| bad())?),
        BaseType::Float => IValue::Float(s.parse().map_err(|_| bad())?),
        BaseType::Bool | BaseType::Scalar if s == "True" || s == "False" => {
            IValue::Bool(s == "True")
        }
        BaseType::Scalar => match s.parse::<i64>() {
            Ok(i) => IValue::Int(i),
            Err(_) => IValue::Float(s.parse().map_err(|_| bad())?),
        },
        BaseType::IntList => {
            let inner = s
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .ok_or_else(bad)?;
            let items: std::result::Result<Vec<i64>, _> = inner
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::parse)
                .collect();
            IValue::IntList(items.map_err(|_| bad())?)
        }
        BaseType::ScalarType => IValue::DType(DType::from_name(s).ok_or_else(bad)?),
        BaseType::Str => IValue::Str(s.trim_matches('"').to_string()),
        _ => return Err(bad()),
    })
}

/// Splits at top-level commas (not inside `[...]`).
fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

impl OpSchema {
    /// Parses `ns::name(Type arg[=default], ...) -> Ret` or `-> (Ret, Ret)`.
    pub fn parse(text: &str) -> Result<OpSchema> {
        let open = text
            .find('(')
            .ok_or_else(|| parse_err(text, "expected '('"))?;
        let mut depth = 0i32;
        let close = text[open..]
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(open + i)
            })
            .ok_or_else(|| parse_err(text, "expected ')'"))?;
        let arrow = text[close..]
            .find("->")
            .map(|i| i + close)
            .ok_or_else(|| parse_err(text, "expected '-> ReturnType'"))?;
        let name = text[..open].trim();
        if !name.contains("::") || name.split("::").any(|p| p.is_empty()) {
            return Err(parse_err(
                text,
                format!("op name {name:?} must be namespace::name"),
            ));
        }
        let mut args: Vec<Argument> = Vec::new();
        for a in split_args(&text[open + 1..close]) {
            let (decl, default) = match a.split_once('=') {
                Some((d, v)) => (d.trim(), Some(v.trim())),
                None => (a, None),
            };
            let (ty, arg_name) = decl.rsplit_once(' ').ok_or_else(|| {
                parse_err(text, format!("argument {a:?} needs a type and a name"))
            })?;
            let ty = parse_type(text, ty.trim())?;
            let default = default.map(|d| parse_default(text, ty, d)).transpose()?;
            if args.iter().any(|x| x.name == arg_name) {
                return Err(parse_err(
                    text,
                    format!("argument name {arg_name:?} is used twice"),
                ));
            }
            if default.is_none() && args.last().is_some_and(|x| x.default.is_some()) {
                return Err(parse_err(
                    text,
                    format!("argument {arg_name:?} without a default follows one with a default"),
                ));
            }
            args.push(Argument {
                name: arg_name.to_string(),
                ty,
                default,
            });
        }
        let ret = text[arrow + 2..].trim();
        let ret_inner = ret
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(ret);
        let returns = split_args(ret_inner)
            .into_iter()
            .map(|r| parse_type(text, r.split_whitespace().next().unwrap_or(r)))
            .collect::<Result<Vec<_>>>()?;
        Ok(OpSchema {
            name: name.to_string(),
            args,
            returns,
            text: text.to_string(),
        })
    }

    /// The namespace (`kiln` in `kiln::add`).
    pub fn namespace(&self) -> &str {
        self.name.split("::").next().unwrap_or("")
    }

    /// The schema as it was written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the op takes no tensor argument (a factory op).
    pub fn is_factory(&self) -> bool {
        !self
            .args
            .iter()
            .any(|a| matches!(a.ty.base, BaseType::Tensor | BaseType::TensorList))
    }

    /// Checks a boxed call's arguments against the schema and fills in
    /// defaults; too many, too few, or a wrong type is `Err(Schema)`.
    pub fn bind(&self, mut args: Vec<IValue>) -> Result<Vec<IValue>> {
        if args.len() > self.args.len() {
            return Err(Error::Schema {
                op: self.name.clone(),
                msg: format!("takes {} arguments, got {}", self.args.len(), args.len()),
            });
        }
        for (i, a) in self.args.iter().enumerate() {
            if i >= args.len() {
                match &a.default {
                    Some(d) => args.push(d.clone()),
                    None => {
                        return Err(Error::Schema {
                            op: self.name.clone(),
                            msg: format!("missing argument {i} ({} {})", a.ty, a.name),
                        })
                    }
                }
                continue;
            }
            let v = &args[i];
            let ok = a.ty.base.accepts(v) || (a.ty.optional && matches!(v, IValue::None));
            if !ok {
                return Err(Error::Schema {
                    op: self.name.clone(),
                    msg: format!(
                        "argument {i} ({} {}) got a value of type {}",
                        a.ty,
                        a.name,
                        v.kind()
                    ),
                });
            }
            if a.ty.base == BaseType::Float {
                if let IValue::Int(x) = args[i] {
                    args[i] = IValue::Float(x as f64);
                }
            }
        }
        Ok(args)
    }
}

impl fmt::Display for OpSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_optionals() {
        let s = OpSchema::parse("my::f(Tensor x, Tensor? w, int[] k=[1, 1], float a=1.0, bool b=False) -> (Tensor, Tensor)").unwrap();
        assert_eq!(s.name, "my::f");
        assert_eq!(s.args.len(), 5);
        assert!(s.args[1].ty.optional);
        assert_eq!(s.returns.len(), 2);
        assert!(matches!(s.args[2].default, Some(IValue::IntList(ref v)) if v == &[1, 1]));
        assert!(!s.is_factory());
        assert!(OpSchema::parse("f(Tensor x) -> Tensor").is_err());
        assert!(OpSchema::parse("my::f(Tensor x=1) -> Tensor").is_err());
        assert!(OpSchema::parse("my::f(Blob x) -> Tensor").is_err());
    }

    #[test]
    fn bind_checks_types_and_fills_defaults() {
        let s = OpSchema::parse("my::scale(int x, float alpha=1.0) -> Tensor").unwrap();
        let v = s.bind(vec![IValue::Int(3)]).unwrap();
        assert!(matches!(v[1], IValue::Float(a) if a == 1.0));
        let e = s
            .bind(vec![IValue::Str("no".into())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("my::scale") && e.contains("argument 0 (int x)") && e.contains("str"),
            "{e}"
        );
        assert!(s.bind(vec![]).is_err());
    }
}
