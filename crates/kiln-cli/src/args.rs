//! Argument handling for every subcommand: `--flag value` or
//! `--flag=value`, `-h`/`--help`, and the one error type the commands
//! return.
//!
//! A mistake on the command line (an unknown flag, a missing or malformed
//! value, an unknown op, a file that cannot be written) is a
//! [`CliError::Usage`]: one line on stderr and exit code 2. A failure while
//! running is a [`CliError::Run`]: one line and exit code 1.

use std::fmt;
use std::fs::File;
use std::str::FromStr;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The command line was wrong (exit code 2).
    Usage(String),
    /// The command ran and failed (exit code 1).
    Run(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Run(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Run(m) => f.write_str(m),
        }
    }
}

impl From<kiln::Error> for CliError {
    fn from(e: kiln::Error) -> Self {
        CliError::Run(e.to_string())
    }
}

/// What a command's run returns.
pub type CliResult = Result<(), CliError>;

/// A usage error for `cmd`, pointing at its `--help`.
pub fn usage(cmd: &str, msg: impl fmt::Display) -> CliError {
    CliError::Usage(format!("{cmd}: {msg} (see `kiln {cmd} --help`)"))
}

/// A flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The name without the dashes (`sizes` for `--sizes`).
    pub name: &'static str,
    /// Whether it takes a value (`--sizes 256,512`) or is a switch.
    pub takes_value: bool,
}

/// The flags a command was given, in order; the last of a repeated flag
/// wins.
#[derive(Debug, Default)]
pub struct Parsed {
    cmd: &'static str,
    values: Vec<(&'static str, Option<String>)>,
    /// `-h` or `--help` was given.
    pub help: bool,
}

/// Parses `args` (what follows the subcommand) against `flags`.
pub fn parse(cmd: &'static str, args: &[String], flags: &[Flag]) -> Result<Parsed, CliError> {
    let mut out = Parsed {
        cmd,
        ..Parsed::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            out.help = true;
            continue;
        }
        let Some(body) = a.strip_prefix("--") else {
            return Err(usage(cmd, format!("unexpected argument {a:?}")));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(flag) = flags.iter().find(|f| f.name == name) else {
            return Err(usage(cmd, format!("unknown flag --{name}")));
        };
        let value = match (flag.takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => match it.next() {
                Some(v) if !v.starts_with("--") => Some(v.clone()),
                _ => return Err(usage(cmd, format!("--{name} needs a value"))),
            },
            (false, Some(_)) => {
                return Err(usage(cmd, format!("--{name} takes no value")));
            }
            (false, None) => None,
        };
        out.values.push((flag.name, value));
    }
    Ok(out)
}

impl Parsed {
    /// The value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether the switch `--name` was given (no command has a switch yet).
    #[allow(dead_code)]
    pub fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| *n == name)
    }

    /// `--name` parsed as a `T`, if given.
    pub fn num<T: FromStr>(&self, name: &str) -> Result<Option<T>, CliError> {
        self.value(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| usage(self.cmd, format!("--{name}: {v:?} is not a number")))
            })
            .transpose()
    }

    /// `--name a,b,c` split at commas (empty items dropped), if given; an
    /// empty list is an error.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, CliError> {
        let Some(v) = self.value(name) else {
            return Ok(None);
        };
        let items: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if items.is_empty() {
            return Err(usage(self.cmd, format!("--{name} needs at least one item")));
        }
        Ok(Some(items))
    }

    /// `--name` as a file created (or truncated) now, so that an unwritable
    /// path is reported before any work is done.
    pub fn output_file(&self, name: &str) -> Result<Option<(String, File)>, CliError> {
        let Some(path) = self.value(name) else {
            return Ok(None);
        };
        match File::create(path) {
            Ok(f) => Ok(Some((path.to_string(), f))),
            Err(e) => Err(CliError::Usage(format!(
                "{}: cannot write --{name} {path:?}: {e}",
                self.cmd
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag {
            name: "sizes",
            takes_value: true,
        },
        Flag {
            name: "quiet",
            takes_value: false,
        },
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_switches_and_help() -> Result<(), CliError> {
        let p = parse("bench", &args(&["--sizes", "1,2", "--quiet", "-h"]), FLAGS)?;
        assert_eq!(
            p.list("sizes")?,
            Some(vec!["1".to_string(), "2".to_string()])
        );
        assert!(p.has("quiet") && p.help);
        let p = parse("bench", &args(&["--sizes=3", "--sizes=4"]), FLAGS)?;
        assert_eq!(p.num::<usize>("sizes")?, Some(4));
        assert_eq!(p.value("quiet"), None);
        Ok(())
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            &["--nope"][..],
            &["--sizes"],
            &["--sizes", "--quiet"],
            &["--quiet=1"],
            &["stray"],
            &["--sizes", ","],
        ] {
            let r = parse("bench", &args(bad), FLAGS).and_then(|p| p.list("sizes").map(|_| ()));
            match r {
                Err(CliError::Usage(m)) => assert!(m.starts_with("bench: "), "{m}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let p = parse("bench", &args(&["--sizes", "x"]), FLAGS);
        assert!(matches!(
            p.and_then(|p| p.num::<usize>("sizes")),
            Err(CliError::Usage(_))
        ));
    }
}
