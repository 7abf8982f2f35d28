//! Reading the config file's text: YAML -> the raw values of the keys the tables in
//! [`super::keys`] declare ([`FileValues`]), plus every structure problem (an unknown key, a
//! section that is not a mapping), each with its key path so its line can be found.
//!
//! The text is parsed into a plain YAML value first and checked key by key, so one bad value
//! never hides the next: types are checked later, per key, by its kind. Only text that is not
//! YAML at all stops here ([`ParseError`]); a tab in the indentation gets its own explanation.
//! `null` means "not set" for every key, so `listen:` with nothing under it is the defaults.

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml_ng::Value;

use super::keys::{self, AnyKey};
use super::kinds::describe;

/// The values of the known keys, as written. Nulls are left out (unset).
#[derive(Debug, Clone, Default)]
pub struct FileValues {
    /// Top-level keys by path (`listen.port`).
    pub top: BTreeMap<&'static str, Value>,
    /// `upstreams:` entries, sorted by name.
    pub upstreams: Vec<Entry>,
    /// `models:` entries, sorted by pattern.
    pub routes: Vec<Entry>,
}

/// One named entry of a map section (`upstreams.local`, `models.fast`).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub name: String,
    /// Its keys by path within the entry (`url`, `compat.images`).
    pub values: BTreeMap<&'static str, Value>,
}

/// A structure problem: the key path it is about and the message. When `names_key` is true
/// the message already names the key (`unknown key ...`), so the origin shows only the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    pub at: Vec<String>,
    pub message: String,
    pub names_key: bool,
}

/// Text that is not YAML: a one-line message and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Reads the file's text. Empty or comment-only text has no values.
pub fn read(text: &str) -> Result<(FileValues, Vec<Misplaced>), ParseError> {
    let root: Value = serde_yaml_ng::from_str(text).map_err(|e| syntax_error(text, &e))?;
    let mut values = FileValues::default();
    let mut problems = Vec::new();
    let map = match &root {
        Value::Null => return Ok((values, problems)),
        Value::Mapping(m) => m,
        other => {
            problems.push(Misplaced {
                at: Vec::new(),
                message: format!(
                    "the file must be a mapping of sections (listen:, upstream:, ...), got {}",
                    describe(other)
                ),
                names_key: false,
            });
            return Ok((values, problems));
        }
    };
    let mut top_names = level_names(keys::TOP, "");
    top_names.extend([keys::UPSTREAMS_SECTION, keys::MODELS_SECTION]);
    for (k, v) in map {
        let Some(name) = key_name(k, &[], &mut problems) else {
            continue;
        };
        let at = vec![name.clone()];
        if name == keys::UPSTREAMS_SECTION {
            values.upstreams = entries(v, &at, keys::NAMED_UPSTREAM, &mut problems);
        } else if name == keys::MODELS_SECTION {
            values.routes = entries(v, &at, keys::ROUTE, &mut problems);
        } else {
            walk_key(
                &name,
                "",
                v,
                &[],
                keys::TOP,
                &top_names,
                &mut values.top,
                &mut problems,
            );
        }
    }
    Ok((values, problems))
}

/// The entries of a map section; each entry's keys are checked against `table`.
fn entries<S>(
    v: &Value,
    at: &[String],
    table: &[&'static dyn AnyKey<S>],
    problems: &mut Vec<Misplaced>,
) -> Vec<Entry> {
    let map = match v {
        Value::Null => return Vec::new(),
        Value::Mapping(m) => m,
        other => {
            problems.push(not_a_mapping(at, other));
            return Vec::new();
        }
    };
    let names = level_names(table, "");
    let mut out: Vec<Entry> = Vec::new();
    for (k, v) in map {
        let Some(name) = key_name(k, at, problems) else {
            continue;
        };
        let mut entry_at = at.to_vec();
        entry_at.push(name.clone());
        let mut values = BTreeMap::new();
        match v {
            Value::Null => {}
            Value::Mapping(m) => {
                for (k2, v2) in m {
                    if let Some(n2) = key_name(k2, &entry_at, problems) {
                        walk_key(&n2, "", v2, &entry_at, table, &names, &mut values, problems);
                    }
                }
            }
            other => problems.push(not_a_mapping(&entry_at, other)),
        }
        out.push(Entry { name, values });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One key `name` found under `at` (the full path, for messages). `rel` is the path of the
/// enclosing section within the scope's table ("" at the scope's top: a named entry's own
/// name is not part of its key paths); `expected` lists the valid names at this level.
#[allow(clippy::too_many_arguments)]
fn walk_key<S>(
    name: &str,
    rel: &str,
    v: &Value,
    at: &[String],
    table: &[&'static dyn AnyKey<S>],
    expected: &[&'static str],
    out: &mut BTreeMap<&'static str, Value>,
    problems: &mut Vec<Misplaced>,
) {
    let path = if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}.{name}")
    };
    let mut full = at.to_vec();
    full.push(name.to_owned());
    // A dotted name (`listen.port:` at the top) is not a path: YAML nests with indentation.
    let dotted = name.contains('.');
    if let Some(key) = table
        .iter()
        .find(|k| !dotted && k.meta().in_file && k.meta().path == path)
    {
        if !v.is_null() {
            out.insert(key.meta().path, v.clone());
        }
        return;
    }
    let inner = level_names(table, &path);
    if dotted || inner.is_empty() {
        let names: Vec<String> = expected.iter().map(|n| format!("`{n}`")).collect();
        problems.push(Misplaced {
            message: format!(
                "unknown key `{}` (expected one of {})",
                full.join("."),
                names.join(", ")
            ),
            at: full,
            names_key: true,
        });
        return;
    }
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, v2) in m {
                if let Some(n) = key_name(k, &full, problems) {
                    walk_key(&n, &path, v2, &full, table, &inner, out, problems);
                }
            }
        }
        other => problems.push(not_a_mapping(&full, other)),
    }
}

/// The distinct names one level below `rel` ("" = the scope's top) among the file keys.
fn level_names<S>(table: &[&'static dyn AnyKey<S>], rel: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in table.iter().filter(|k| k.meta().in_file) {
        let p: &'static str = k.meta().path;
        let rest = if rel.is_empty() {
            Some(p)
        } else {
            p.strip_prefix(rel).and_then(|r| r.strip_prefix('.'))
        };
        if let Some(rest) = rest {
            let first = rest.split('.').next().unwrap_or(rest);
            if !out.contains(&first) {
                out.push(first);
            }
        }
    }
    out
}

fn not_a_mapping(at: &[String], v: &Value) -> Misplaced {
    Misplaced {
        at: at.to_vec(),
        message: format!("expected a mapping of keys, got {}", describe(v)),
        names_key: false,
    }
}

/// A mapping key as text (numbers and booleans as written).
fn key_name(k: &Value, at: &[String], problems: &mut Vec<Misplaced>) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            problems.push(Misplaced {
                at: at.to_vec(),
                message: format!("a key must be text, got {}", describe(other)),
                names_key: false,
            });
            None
        }
    }
}

/// The message for text that is not YAML: tabs explained, our key paths, no columns.
fn syntax_error(text: &str, e: &serde_yaml_ng::Error) -> ParseError {
    let line = e.location().map(|l| l.line());
    let tabs: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            l.chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        })
        .map(|(i, _)| i + 1)
        .filter(|n| line.is_none_or(|at| *n <= at))
        .collect();
    if let Some((first, rest)) = tabs.split_first() {
        let also = match rest {
            [] => String::new(),
            more => {
                let l: Vec<String> = more.iter().map(ToString::to_string).collect();
                format!(" (also on line {})", l.join(", "))
            }
        };
        return ParseError {
            line: Some(*first),
            message: format!("YAML forbids tabs; indent with spaces{also}"),
        };
    }
    ParseError {
        line,
        message: humanize(&e.to_string()),
    }
}

/// serde_yaml_ng's message in our words: no `at line … column …` (the line is reported
/// separately), duplicate keys with their full path.
fn humanize(raw: &str) -> String {
    if raw.contains("more than one document") {
        return "the file holds more than one YAML document (a second `---`); keep one".to_owned();
    }
    let msg = strip_marks(raw);
    let (path, rest) = split_path(&msg);
    if let Some(tail) = rest.strip_prefix("duplicate entry with key ") {
        let key = tail.trim().trim_matches('"');
        return match path {
            Some(p) => format!("duplicate key `{p}.{key}`"),
            None => format!("duplicate key `{key}`"),
        };
    }
    match path {
        Some(p) => format!("`{p}`: {rest}"),
        None => rest.to_owned(),
    }
}

/// Removes every ` at line N column M` (and ` at position N`) from a message.
fn strip_marks(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let Some(i) = rest.find(" at ") else {
            out.push_str(rest);
            return out;
        };
        let after = &rest[i + 4..];
        let skip = mark_len(after);
        out.push_str(&rest[..i]);
        if skip == 0 {
            out.push_str(" at ");
        }
        rest = &after[skip..];
    }
}

/// Length of a `line N column M` or `position N` prefix of `s`, else 0.
fn mark_len(s: &str) -> usize {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(r) = s.strip_prefix("line ") {
        let n = digits(r);
        if n > 0
            && let Some(r2) = r[n..].strip_prefix(" column ")
        {
            let m = digits(r2);
            if m > 0 {
                return "line ".len() + n + " column ".len() + m;
            }
        }
    } else if let Some(r) = s.strip_prefix("position ") {
        let n = digits(r);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// Splits `a.b: message` into (Some("a.b"), "message"). Only splits when what follows the first
/// `": "` is one of serde's message openings, so messages containing `: ` stay whole.
fn split_path(msg: &str) -> (Option<&str>, &str) {
    const OPENINGS: &[&str] = &[
        "unknown field",
        "duplicate field",
        "duplicate entry",
        "missing field",
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ];
    let mut search = 0;
    while let Some(i) = msg[search..].find(": ") {
        let at = search + i;
        let rest = &msg[at + 2..];
        if OPENINGS.iter().any(|o| rest.starts_with(o)) {
            return (Some(&msg[..at]), rest);
        }
        search = at + 2;
    }
    (None, msg)
}

#[cfg(test)]
mod tests;
