//! Codex's own config files, edited and checked in place: `shimctl codex-config --write`
//! and the Codex part of `shimctl doctor`.
//!
//! Codex reads `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`) and, for
//! `codex --profile NAME`, `$CODEX_HOME/NAME.config.toml` layered over it. (Since Codex 0.134
//! a `[profiles.NAME]` table in config.toml is ignored, a top-level `profile = "…"` stops
//! Codex at start, and `--profile NAME` refuses to run while `[profiles.NAME]` exists; see
//! `docs/codex-wire-notes.md`.)
//!
//! - [`merge`]: the pure edit. Adds or updates `[model_providers.deepinfra]` and the model
//!   selection (`model`, `model_provider`, `model_catalog_json`, `model_context_window`) in the
//!   text of a file with `toml_edit`, so comments, order and every other setting stay as the
//!   user wrote them. Top-level keys go to the top level even when the file already has
//!   tables (appending with `>>` puts them under the last table instead), copies of them that
//!   such an append left under a table are removed, and a value that is already right is not
//!   touched, so a second run changes nothing.
//! - [`file`]: the files: backup (`config.toml.bak-YYYYMMDDTHHMMSSZ`, only when something
//!   changes), atomic replace with the same permissions, refusal of a file that does not parse.
//! - [`checks`]: pure checks of the files' text for `doctor`: syntax (in plain words, with the
//!   line), keys under the wrong table, the selected provider, the catalog file.
//! - [`catalog_file`]: reads a `model_catalog_json` file the way Codex does.
//! - [`explain`]: a TOML parse error in plain words.

pub mod catalog_file;
pub mod checks;
pub mod explain;
pub mod file;
pub mod merge;
pub mod setup;

pub use checks::{Finding, Report, Severity, Use};
pub use explain::TomlProblem;
pub use file::{FileResult, WriteError, WriteOutcome, check_dir, current_model, write};
pub use merge::{Change, Merged, Refusal};
pub use setup::{
    Provider, Selection, Setup, codex_home, config_path, profile_path, valid_profile_name,
};

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod merge_tests;
