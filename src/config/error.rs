//! What can go wrong loading a configuration: [`Problem`] (one thing wrong, naming where it
//! came from) and [`LoadError`] (why no configuration came out). Every variant prints as one
//! or more one-line messages; none repeats a secret.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// One thing wrong with the configuration. Display: `origin: message`, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `--port`, `DEEPINFRA_CODEX_SHIM_PORT`, `/path/config.yaml:7 listen.port`,
    /// `/path/config.yaml:3` (when the message names the key), or a key path.
    pub origin: String,
    pub message: String,
    /// The config file line the problem is about, when it is about the file (problems are
    /// listed flags and variables first, then in file order).
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", OneLine(&self.origin), OneLine(&self.message))
    }
}

/// Text quoted from the file (`got text '…'`, a key) may hold line breaks and other control
/// characters: written escaped, so that a problem stays one line and a file cannot forge lines
/// of `check-config` output or of the log (found by the `config` fuzz target).
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Everything wrong with the file, the flags and the variables; all of it, one line each.
    #[error("{}", join_lines(.problems))]
    Invalid { problems: Vec<Problem> },
    #[error("cannot read config file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Text that is not YAML (a tab in the indentation, an unclosed bracket).
    #[error("{}", parse_line(.path, *.line, .message))]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// The file named by `--config`/`DEEPINFRA_CODEX_SHIM_CONFIG` (or given to check) does not
    /// exist. `origin` names the flag or variable, None for a path given directly.
    #[error("{}config file {} does not exist", origin_prefix(*.origin), .path.display())]
    MissingFile {
        path: PathBuf,
        origin: Option<&'static str>,
    },
    /// On reload: the file in use was deleted.
    #[error("config file {} no longer exists; keeping the current configuration", .path.display())]
    Vanished { path: PathBuf },
    /// On reload: the file is empty (at start an empty file means built-in defaults; on reload
    /// it is far more often a file caught in the middle of being rewritten).
    #[error("config file {} is empty; keeping the current configuration", .path.display())]
    Empty { path: PathBuf },
    /// Two reads a quiet interval apart never agreed: something keeps writing the file.
    #[error(
        "config file {} keeps changing ({reads} reads in {waited_ms} ms never agreed); keeping \
         the current configuration",
        .path.display()
    )]
    Unstable {
        path: PathBuf,
        reads: usize,
        waited_ms: u64,
    },
}

impl LoadError {
    /// The daemon refuses to start with exit status 2 (`--check-config` uses 1 instead).
    pub fn exit_code(&self) -> u8 {
        2
    }

    /// The problems, one per line (a single entry for the non-`Invalid` variants).
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Invalid { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

fn join_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_line(path: &Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(l) => format!("{}:{l}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

fn origin_prefix(origin: Option<&'static str>) -> String {
    origin.map(|o| format!("{o}: ")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_quoting_line_breaks_stays_one_line() {
        let p = Problem {
            origin: "/c/config.yaml:1".into(),
            message: "the file must be a mapping of sections, got text 'a\nb\r\u{2028}c\té'".into(),
            line: Some(1),
        };
        assert_eq!(
            p.to_string(),
            r"/c/config.yaml:1: the file must be a mapping of sections, got text 'a\nb\r\u{2028}c\té'"
        );
    }
}
