//! A TOML parse error in plain words: where, what is wrong, and how to fix it.
//!
//! The parser says `duplicate key` and points at the second of two definitions; a user needs
//! to know which key or table, where the first one is, and that appending a block to the file
//! is the usual cause. Pure.

use std::fmt;

use super::setup::line_of;

/// A file Codex (and `shimctl`) cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlProblem {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What is wrong, in one line (starts with `line N`).
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for TomlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (fix: {})", self.message, self.fix)
    }
}

/// Explains why `text` does not parse.
pub fn explain(text: &str, err: &toml_edit::TomlError) -> TomlProblem {
    let span = err.span().unwrap_or(0..0);
    let start = span.start.min(text.len());
    let line = line_of(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let token = text
        .get(span.clone())
        .unwrap_or("")
        .trim_matches(|c| c == '"' || c == '\'');
    let raw = err.message();
    let generic_fix = "correct that line (Codex refuses to start with the file as it is)";

    // Values are never shown: the broken line may hold a token (`experimental_bearer_token`,
    // `http_headers`). Keys and table names are.
    let what = match key_of(line_text) {
        Some(key) => format!(" (`{}`)", shorten(&key)),
        None if line_text.trim_start().starts_with('[') => {
            format!(" (`{}`)", shorten(line_text.trim()))
        }
        None => String::new(),
    };
    let (message, fix) = if raw.starts_with("duplicate key") {
        duplicate(text, line, line_text, token)
    } else if raw.starts_with("string values must be quoted") {
        (
            match key_of(line_text) {
                Some(key) => format!(
                    "line {line}: the value of `{}` is not quoted",
                    shorten(&key)
                ),
                None => format!("line {line}: a value is not quoted"),
            },
            "write it as a string: key = \"value\"".to_owned(),
        )
    } else if raw.starts_with("unclosed table") {
        (
            format!("line {line}: the table header{what} has no closing `]`"),
            "close it: `[name]` (or `[[name]]` for an array of tables)".to_owned(),
        )
    } else if raw.starts_with("key with no value") {
        (
            format!(
                "line {line}: not `key = value` (a key with spaces or other signs needs quotes; \
                 a string that spans lines needs \"\"\"…\"\"\")"
            ),
            generic_fix.to_owned(),
        )
    } else {
        (
            format!("line {line}, column {column}{what}: {raw}"),
            generic_fix.to_owned(),
        )
    };
    TomlProblem {
        line,
        column,
        message,
        fix,
    }
}

/// `duplicate key` points at the second definition of a key or table; find the first.
fn duplicate(text: &str, line: usize, line_text: &str, token: &str) -> (String, String) {
    let append_note = "; appending a block with `>>` to a file that already has it does this";
    let trimmed = line_text.trim_start();
    if trimmed.starts_with('[') {
        let header = header_name(trimmed).unwrap_or_default();
        let first = text
            .lines()
            .take(line - 1)
            .position(|l| header_name(l.trim_start()).as_deref() == Some(header.as_str()))
            .map(|i| i + 1);
        let message = match first {
            Some(first) => format!(
                "line {line}: table [{header}] is defined twice (first on line {first}){append_note}"
            ),
            None => format!(
                "line {line}: [{header}] is defined again: an earlier line already set \
                 `{token}` (as a dotted key, an inline table or a parent table)"
            ),
        };
        return (
            message,
            format!(
                "keep one [{header}]: move the settings you want from the second into the first \
                 and delete the second"
            ),
        );
    }
    // A key: look for its first definition in the same table (since the last header).
    let section_start = text
        .lines()
        .take(line - 1)
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('['))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0);
    let first = text
        .lines()
        .enumerate()
        .take(line - 1)
        .skip(section_start)
        .find(|(_, l)| key_of(l).as_deref() == Some(token))
        .map(|(i, _)| i + 1);
    let place = if section_start == 0 {
        "at the top level".to_owned()
    } else {
        let header = text
            .lines()
            .nth(section_start - 1)
            .and_then(|l| header_name(l.trim_start()))
            .unwrap_or_default();
        format!("in [{header}]")
    };
    let message = match first {
        Some(first) => format!(
            "line {line}: `{token}` is set twice {place} (first on line {first}){append_note}"
        ),
        None => format!("line {line}: `{token}` is set twice {place}{append_note}"),
    };
    let fix = match first {
        Some(first) => format!("delete line {first} or line {line}, keeping the value you want"),
        None => format!("delete one of the two `{token}` lines"),
    };
    (message, fix)
}

/// `a.b` of a `[a.b]` or `[[a.b]]` header line, spaces around dots removed.
fn header_name(line: &str) -> Option<String> {
    let inner = line.strip_prefix('[')?;
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    let end = inner.find(']')?;
    Some(
        inner[..end]
            .split('.')
            .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The key of a `key = value` line (quotes removed).
fn key_of(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    Some(key.trim_matches(|c| c == '"' || c == '\'').to_owned())
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}
