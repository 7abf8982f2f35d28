//! Reading a `model_catalog_json` file the way Codex does, and finding a model in it.
//!
//! Codex (0.169 to 0.171, tried with the binaries) refuses to start when the file is not
//! `{"models": [...]}` with at least one entry, when an entry lacks a required field or has
//! one of the wrong type or an unknown enum value, and when an entry has neither
//! `base_instructions` nor `model_messages.instructions_template`. It ignores fields it does
//! not know and accepts unknown reasoning effort names and input modalities, so these types
//! do too: a file that passes here is one Codex loads. The file the catalog module writes is
//! described in `src/catalog/template.rs`. Pure.

use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct CatalogFile {
    models: Vec<Entry>,
}

/// The fields of one entry Codex checks. Unused fields are read for their types only.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Entry {
    slug: String,
    display_name: String,
    #[serde(default)]
    description: Option<String>,
    supported_reasoning_levels: Vec<ReasoningLevel>,
    shell_type: ShellType,
    visibility: Visibility,
    supported_in_api: bool,
    priority: i32,
    #[serde(default)]
    upgrade: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    base_instructions: Option<String>,
    #[serde(default)]
    model_messages: Option<ModelMessages>,
    support_verbosity: bool,
    #[serde(default)]
    default_verbosity: Option<Verbosity>,
    #[serde(default)]
    apply_patch_tool_type: Option<ApplyPatchToolType>,
    truncation_policy: TruncationPolicy,
    experimental_supported_tools: Vec<String>,
    #[serde(default)]
    context_window: Option<i64>,
    #[serde(default)]
    auto_compact_token_limit: Option<i64>,
    #[serde(default)]
    effective_context_window_percent: Option<i64>,
    #[serde(default)]
    input_modalities: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ReasoningLevel {
    effort: IgnoredAny,
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ShellType {
    Default,
    Local,
    ShellCommand,
    UnifiedExec,
    Disabled,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Visibility {
    List,
    Hide,
    None,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Verbosity {
    Low,
    Medium,
    High,
}

/// Codex 0.169 refuses `"function"`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ApplyPatchToolType {
    Freeform,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct TruncationPolicy {
    mode: TruncationMode,
    limit: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum TruncationMode {
    Bytes,
    Tokens,
}

#[derive(Deserialize)]
struct ModelMessages {
    #[serde(default)]
    instructions_template: Option<String>,
}

/// What Codex would learn from a catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// Every entry's slug, in file order.
    pub slugs: Vec<String>,
    /// `context_window` by slug position (`None` when the entry has none).
    pub context_windows: Vec<Option<i64>>,
}

impl Catalog {
    /// The slug Codex uses for `model`: the entry named exactly so, else the longest slug
    /// that is a prefix of it (case-sensitive, as Codex matches).
    pub fn entry_for(&self, model: &str) -> Option<&str> {
        if let Some(s) = self.slugs.iter().find(|s| *s == model) {
            return Some(s);
        }
        self.slugs
            .iter()
            .filter(|s| !s.is_empty() && model.starts_with(s.as_str()))
            .max_by_key(|s| s.len())
            .map(String::as_str)
    }
}

/// Parses the file's text as Codex does; the error reads like Codex's own.
pub fn parse(text: &str) -> Result<Catalog, String> {
    let file: CatalogFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.models.is_empty() {
        return Err("it must contain at least one model".to_owned());
    }
    for e in &file.models {
        let template = e
            .model_messages
            .as_ref()
            .and_then(|m| m.instructions_template.as_ref());
        if e.base_instructions.is_none() && template.is_none() {
            return Err(format!(
                "model `{}` is missing both `base_instructions` and \
                 `model_messages.instructions_template`",
                e.slug
            ));
        }
    }
    Ok(Catalog {
        context_windows: file.models.iter().map(|e| e.context_window).collect(),
        slugs: file.models.into_iter().map(|e| e.slug).collect(),
    })
}
