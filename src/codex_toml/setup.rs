//! What `shimctl codex-config --write` puts into Codex's files (the provider table and the
//! model selection), where those files are, and small text helpers the other parts share.
//! A leaf of [`super`]: it imports none of its siblings.

use std::path::{Path, PathBuf};

use crate::control::codex_config::{
    CodexBlock, PROVIDER_ID, PROVIDER_NAME, REQUEST_MAX_RETRIES, STREAM_IDLE_TIMEOUT_MS,
    STREAM_MAX_RETRIES,
};

/// The `[model_providers.<id>]` table `shimctl` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub env_key: String,
    pub stream_idle_timeout_ms: u64,
    pub request_max_retries: u32,
    pub stream_max_retries: u32,
}

/// What selects the provider: the top level of config.toml, or a profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub model: String,
    /// The provider id (`model_provider`).
    pub provider: String,
    /// `model_catalog_json`, an absolute path (`None`: leave the key as it is).
    pub catalog: Option<String>,
    /// `model_context_window` (`None`: leave the key as it is). Only without a catalog:
    /// the catalog holds each model's own window.
    pub context_window: Option<u64>,
}

/// Everything `codex-config --write` puts into Codex's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub provider: Provider,
    pub selection: Selection,
}

impl Setup {
    /// The values of the block `shimctl codex-config` prints, plus the catalog path it was
    /// written to (absolute).
    pub fn from_block(block: &CodexBlock, catalog: Option<&str>) -> Setup {
        Setup {
            provider: Provider {
                id: PROVIDER_ID.to_owned(),
                name: PROVIDER_NAME.to_owned(),
                base_url: block.base_url(),
                env_key: block.env_key.clone(),
                stream_idle_timeout_ms: STREAM_IDLE_TIMEOUT_MS,
                request_max_retries: REQUEST_MAX_RETRIES,
                stream_max_retries: STREAM_MAX_RETRIES,
            },
            selection: Selection {
                model: block.model.clone(),
                provider: PROVIDER_ID.to_owned(),
                catalog: catalog.map(str::to_owned),
                context_window: match catalog {
                    Some(_) => None,
                    None => block.context_window.as_ref().map(|(w, _)| *w),
                },
            },
        }
    }
}

/// Codex's config directory: `$CODEX_HOME`, else `$HOME/.codex`.
pub fn codex_home(codex_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    crate::control::codex_config::codex_config_path(codex_home, home)
        .and_then(|p| p.parent().map(Path::to_owned))
}

/// `config.toml` in Codex's directory.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("config.toml")
}

/// The file `codex --profile NAME` layers over config.toml.
pub fn profile_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.config.toml"))
}

/// Codex accepts profile names of letters, digits, `-` and `_`.
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
