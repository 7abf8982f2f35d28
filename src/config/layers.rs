//! Layering: for each key of the table, the winning layer (flag > environment variable >
//! config file > built-in default), where the value came from ([`Source`]), what pins it
//! ([`Pin`]: a flag or variable, which a reload cannot override), and every problem found on
//! the way, each naming its origin (`--port`, `DEEPINFRA_CODEX_SHIM_PORT`,
//! `/abs/config.yaml:7 listen.port`).
//!
//! A file value is checked even when a flag or variable overrides it: the file must stand on
//! its own, and a pin that hides a bad value would only defer the error to the day the pin is
//! removed. Empty variables count as unset.

use std::fmt;
use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::cli::Cli;
use super::env::Env;
use super::error::Problem;
use super::file::{Entry, FileValues, Misplaced};
use super::keys::Key;
use super::kinds::{Bad, Kind, Show};
use super::lines::key_line;
use super::model::{Config, Pin, PinSource};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The table's built-in default.
    Default,
    /// A key of the config file, as path segments (`["models", "Qwen/Qwen3.5", "upstream"]`:
    /// model names may contain dots, so the path is not split on them).
    File(Vec<String>),
    /// A command-line flag, e.g. `--port`.
    Flag(&'static str),
    /// An environment variable, e.g. `DEEPINFRA_CODEX_SHIM_PORT`.
    Env(&'static str),
}

impl Source {
    pub fn file(path: &[&str]) -> Source {
        Source::File(path.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Got<T> {
    pub value: T,
    pub source: Source,
}

/// The config file's path and text, kept to find the line of a key.
#[derive(Clone)]
pub struct FileText {
    pub path: PathBuf,
    pub text: String,
}

impl fmt::Debug for FileText {
    // The text may hold header secrets: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileText")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The layers of one load: the command line, the environment and the file's values.
pub struct Layers<'a> {
    cli: &'a Cli,
    env: &'a Env,
    file: Option<&'a FileText>,
    values: &'a FileValues,
    problems: Vec<Problem>,
    pins: Vec<Pin>,
    used: Vec<&'static str>,
}

/// What the layering found, once every key was read.
pub struct Layered {
    pub problems: Vec<Problem>,
    pub pins: Vec<Pin>,
    /// The top-level keys that were read, in order (the tests check that every key is).
    pub used: Vec<&'static str>,
}

impl<'a> Layers<'a> {
    /// Starts with the file's structure problems (unknown keys, misplaced sections).
    pub fn new(
        cli: &'a Cli,
        env: &'a Env,
        file: Option<&'a FileText>,
        values: &'a FileValues,
        misplaced: Vec<Misplaced>,
    ) -> Layers<'a> {
        let mut l = Layers {
            cli,
            env,
            file,
            values,
            problems: Vec::new(),
            pins: Vec::new(),
            used: Vec::new(),
        };
        for m in misplaced {
            let (origin, line) = l.file_origin(&m.at, !m.names_key);
            l.problems.push(Problem {
                origin,
                message: m.message,
                line,
            });
        }
        l
    }

    pub fn env(&self) -> &Env {
        self.env
    }

    pub fn values(&self) -> &'a FileValues {
        self.values
    }

    /// True when a flag or variable sets the key (valid or not).
    pub fn overridden<T>(&self, key: &Key<T, Config>) -> bool {
        key.meta.flag.is_some_and(|f| (f.read)(self.cli).is_some())
            || key
                .meta
                .env
                .is_some_and(|e| self.env.non_empty(e).is_some())
    }

    pub fn finish(mut self) -> Layered {
        // Flags and variables first, then the file from top to bottom (a stable sort keeps
        // the table's order within one line).
        self.problems.sort_by_key(|p| p.line);
        Layered {
            problems: self.problems,
            pins: self.pins,
            used: self.used,
        }
    }

    /// `/abs/config.yaml:7 listen.port` (the key left out when the message names it), and
    /// the line.
    fn file_origin(&self, at: &[String], with_key: bool) -> (String, Option<usize>) {
        let key = at.join(".");
        let Some(ft) = self.file else {
            return (key, None);
        };
        let segs: Vec<&str> = at.iter().map(String::as_str).collect();
        let line = key_line(&ft.text, &segs);
        let place = match line {
            Some(line) => format!("{}:{line}", ft.path.display()),
            None => ft.path.display().to_string(),
        };
        match (with_key, key.is_empty()) {
            (true, false) => (format!("{place} {key}"), line),
            _ => (place, line),
        }
    }

    /// How a problem names the source of a value, and the file line when it is a file key.
    fn place(&self, source: &Source) -> (String, Option<usize>) {
        match source {
            Source::Default => ("built-in default".to_owned(), None),
            Source::Flag(f) => ((*f).to_owned(), None),
            Source::Env(v) => ((*v).to_owned(), None),
            Source::File(path) => self.file_origin(path, true),
        }
    }

    /// How a problem names the source of a value.
    pub fn origin(&self, source: &Source) -> String {
        self.place(source).0
    }

    pub fn push(&mut self, source: &Source, message: impl Into<String>) {
        let (origin, line) = self.place(source);
        self.problems.push(Problem {
            origin,
            message: message.into(),
            line,
        });
    }

    /// A problem whose origin is given as text (e.g. a default path).
    pub fn push_origin(&mut self, origin: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            origin: origin.into(),
            message: message.into(),
            line: None,
        });
    }

    /// A YAML value through its kind; problems recorded at `at` (plus a sub-key when the kind
    /// names one, e.g. a header).
    fn parse_file<T>(&mut self, at: &[String], kind: &Kind<T>, v: &Value) -> Option<T> {
        match (kind.yaml)(v) {
            Ok(t) => Some(t),
            Err(Bad(items)) => {
                for (sub, message) in items {
                    let mut place = at.to_vec();
                    place.extend(sub);
                    self.push(&Source::File(place), message);
                }
                None
            }
        }
    }

    /// A top-level key from the highest layer that sets it; None when only the default
    /// would (or when the value is invalid: the problem is recorded).
    pub fn opt<T: Show + PartialEq>(&mut self, key: &Key<T, Config>) -> Option<Got<T>> {
        let m = &key.meta;
        self.used.push(m.path);
        let at: Vec<String> = m.path.split('.').map(str::to_owned).collect();
        let values = self.values;
        let from_file = values
            .top
            .get(m.path)
            .and_then(|v| self.parse_file(&at, &key.kind, v));
        let over = m
            .flag
            .and_then(|f| (f.read)(self.cli).map(|v| (v, PinSource::Flag(f.name))))
            .or_else(|| {
                m.env.and_then(|e| {
                    self.env
                        .non_empty(e)
                        .map(|v| (v.to_owned(), PinSource::Env(e)))
                })
            });
        let Some((raw, by)) = over else {
            return from_file.map(|value| Got {
                value,
                source: Source::File(at),
            });
        };
        let source = match by {
            PinSource::Flag(n) => Source::Flag(n),
            PinSource::Env(n) => Source::Env(n),
        };
        let parsed = match key.kind.text {
            Some(parse) => parse(&raw),
            None => Err(format!("{} can only be set in the config file", m.path)),
        };
        match parsed {
            Ok(value) => {
                let file_value = from_file.filter(|f| *f != value).map(|f| f.shown().text());
                self.pins.push(Pin {
                    key: m.path,
                    by,
                    value: value.shown().text(),
                    file_value,
                });
                Some(Got { value, source })
            }
            Err(message) => {
                self.push(&source, message);
                None
            }
        }
    }

    /// A top-level key, falling back to the table's default.
    pub fn get<T: Show + PartialEq>(&mut self, key: &Key<T, Config>) -> Got<T> {
        self.opt(key).unwrap_or_else(|| Got {
            value: default_of(key),
            source: Source::Default,
        })
    }

    /// A key of one entry of a map section (`upstreams.local.url`); None when unset or invalid.
    pub fn entry<T, S>(&mut self, section: &str, entry: &Entry, key: &Key<T, S>) -> Option<Got<T>> {
        let v = entry.values.get(key.meta.path)?;
        let mut at = vec![section.to_owned(), entry.name.clone()];
        at.extend(key.meta.path.split('.').map(str::to_owned));
        let value = self.parse_file(&at, &key.kind, v)?;
        Some(Got {
            value,
            source: Source::File(at),
        })
    }
}

/// A key's built-in default, parsed from the table's YAML text by the key's own kind, so the
/// documented default and the one in force cannot differ.
pub fn default_of<T, S>(key: &Key<T, S>) -> T {
    let text = key
        .meta
        .default
        .expect("a key read with its default declares one (checked by the table tests)");
    let v: Value = serde_yaml_ng::from_str(text)
        .expect("table defaults are YAML (checked by the table tests)");
    (key.kind.yaml)(&v).expect("table defaults pass their own kind (checked by the table tests)")
}

#[cfg(test)]
mod tests;
