//! Building the catalog from its sources (the config, the upstreams' lists, the user's Codex
//! template): which models are listed, their facts, the file's entries and the warnings.
//! Pure: the sources are read by [`super::io`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::facts::{
    DEFAULT_CONTEXT_WINDOW, Fact, Kind, ModelFacts, Source, description, display_name,
    facts_for_name, facts_for_pattern, is_listed,
};
use super::meta::{self, ModelMeta};
use super::template::{self, Template};
use crate::config::Config;

/// What the catalog is built from.
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    pub config: &'a Config,
    /// Upstream name -> its model list, or why it could not be read. An upstream missing
    /// here was not asked (e.g. offline use).
    pub upstream_models: BTreeMap<String, Result<Vec<ModelMeta>, String>>,
    /// The user's Codex catalog, or why it could not be read; `None` when not asked (e.g.
    /// `shimctl models`, which shows facts only: the entries then use the built-in prompt
    /// without a warning, so do not write such a catalog).
    pub template: Option<Result<Template, String>>,
}

/// Which models to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every served model, with these names first (e.g. the model the block selects).
    All { also: Vec<String> },
    /// Only this model.
    Only(String),
}

/// The result of [`build`].
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Provider models, in catalog order.
    pub models: Vec<ModelFacts>,
    /// The file: `{"generated_by": …, "models": [provider entries…, bundled entries…]}`.
    pub json: Value,
    /// Things the user should know (what could not be learned, what was assumed).
    pub warnings: Vec<String>,
    /// `gpt-5.5 from codex-cli 0.169.0`, or `None` when the built-in prompt was used.
    pub template: Option<String>,
}

impl Catalog {
    /// The facts of a model by the name Codex sends (patterns by their `prefix*` name).
    pub fn get(&self, name: &str) -> Option<&ModelFacts> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The file's text (compact JSON: with Codex's prompt in every entry it is large).
    pub fn file_text(&self) -> String {
        let mut s = serde_json::to_string(&self.json).expect("a JSON value serializes");
        s.push('\n');
        s
    }

    /// The `models --json` document.
    pub fn facts_json(&self) -> Value {
        json!({
            "models": self.models.iter().map(ModelFacts::to_json).collect::<Vec<_>>(),
            "template": self.template,
            "warnings": self.warnings,
        })
    }
}

/// Builds the catalog. Never fails: what cannot be learned becomes a default and a warning.
pub fn build(sources: &Sources<'_>, selection: &Selection) -> Catalog {
    let config = sources.config;
    let mut warnings = Vec::new();
    for (name, list) in &sources.upstream_models {
        if let Err(e) = list {
            warnings.push(format!(
                "could not read the model list of upstream '{name}' ({e}); its models are \
                 described from the config and defaults only"
            ));
        }
    }
    let lists: BTreeMap<&str, &[ModelMeta]> = sources
        .upstream_models
        .iter()
        .filter_map(|(k, v)| v.as_ref().ok().map(|l| (k.as_str(), l.as_slice())))
        .collect();

    // Which names, in order.
    let mut names: Vec<(String, Kind)> = Vec::new();
    let push = |names: &mut Vec<(String, Kind)>, name: &str, kind: Kind| {
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.to_owned(), kind));
        }
    };
    let kind_of = |name: &str| {
        if config.routes.exact.contains_key(name) {
            Kind::Route
        } else if is_listed(config, &lists, name) {
            Kind::Listed
        } else {
            Kind::Requested
        }
    };
    let mut with_patterns = false;
    match selection {
        Selection::Only(name) => push(&mut names, name, kind_of(name)),
        Selection::All { also } => {
            for name in also {
                push(&mut names, name, kind_of(name));
            }
            for name in config.routes.exact.keys() {
                push(&mut names, name, Kind::Route);
            }
            let mut listed: Vec<&str> = lists
                .values()
                .flat_map(|l| l.iter())
                .filter(|m| m.is_chat())
                .map(|m| m.id.as_str())
                .filter(|id| is_listed(config, &lists, id))
                .collect();
            listed.sort_by_key(|id| (id.to_ascii_lowercase(), *id));
            for name in listed {
                push(&mut names, name, Kind::Listed);
            }
            with_patterns = true;
        }
    }

    let mut models: Vec<ModelFacts> = names
        .iter()
        .map(|(name, kind)| facts_for_name(config, &lists, name, *kind))
        .collect();
    if with_patterns {
        for (prefix, _) in &config.routes.prefixes {
            models.push(facts_for_pattern(config, &lists, prefix));
        }
    }

    // Warnings about single models.
    if let Selection::Only(name) = selection {
        let facts = &models[0];
        if facts.kind == Kind::Requested
            && let Some(list) = lists.get(facts.upstream.as_str())
            && facts
                .upstream_model
                .as_deref()
                .is_some_and(|m| meta::find(list, m).is_none())
        {
            warnings.push(format!(
                "`{name}` is not in the model list of upstream '{}'; check the name",
                facts.upstream
            ));
        }
    }
    let guessed: Vec<&str> = models
        .iter()
        .filter(|m| m.context_window.source == Source::Default)
        .map(|m| m.name.as_str())
        .collect();
    if !guessed.is_empty() {
        let shown: Vec<String> = guessed.iter().take(5).map(|n| format!("`{n}`")).collect();
        let more = if guessed.len() > 5 {
            format!(" and {} more", guessed.len() - 5)
        } else {
            String::new()
        };
        warnings.push(format!(
            "context window unknown for {}{more}: assumed {DEFAULT_CONTEXT_WINDOW} tokens \
             (Codex compacts at 90 % of it); set `context_window` on the model's route under \
             `models:` if that is wrong",
            shown.join(", ")
        ));
    }
    for m in &models {
        if let Fact {
            value: Some(out),
            source: Source::Config(key),
        } = &m.max_output_tokens
            && *out >= m.context_window.value
        {
            warnings.push(format!(
                "models.{key}: max_output_tokens ({out}) is not below the context window ({}); \
                 requests will leave no room for the prompt",
                m.context_window.value
            ));
        }
    }

    // Entries.
    let template = sources.template.as_ref().and_then(|t| t.as_ref().ok());
    match &sources.template {
        None => {}
        Some(Ok(t)) => warnings.extend(t.notes.iter().cloned()),
        Some(Err(why)) => warnings.push(format!(
            "NO CODEX TEMPLATE ({why}). The catalog carries deepinfra-shim's short built-in \
             instructions, which REPLACE Codex's own ~20k-character agent prompt: the agent will \
             be noticeably weaker. Make Codex available (on PATH, or --codex-bin / CODEX_BIN) and \
             generate the catalog again."
        )),
    }
    let n = models.len() as i64;
    let mut entries: Vec<Value> = models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let display = display_name(m);
            let description = description(m);
            let spec = template::EntrySpec {
                slug: &m.slug,
                display_name: &display,
                description: &description,
                model_for_prompt: match m.kind {
                    Kind::Pattern => m.upstream_model.as_deref(),
                    _ => Some(m.upstream_model.as_deref().unwrap_or(&m.name)),
                },
                hidden: m.kind == Kind::Pattern,
                // Ours first in Codex's order (lower sorts first; bundled entries are >= 1).
                priority: i as i64 - n,
                context_window: m.context_window.value,
                auto_compact_token_limit: m.auto_compact_token_limit,
                vision: m.vision.value,
                reasoning: m.reasoning.value,
                apply_patch: m.apply_patch.value,
            };
            template::entry(&spec, template.map(Template::base))
        })
        .collect();
    if let Some(t) = template {
        entries.extend(
            t.bundled
                .iter()
                .filter(|e| {
                    let slug = e.get("slug").and_then(Value::as_str).unwrap_or_default();
                    !models.iter().any(|m| m.slug == slug)
                })
                .cloned(),
        );
    }
    let template_note = template.map(|t| format!("{} from {}", t.base_slug(), t.origin));
    let generated_by = format!(
        "deepinfra-shim {} (`shimctl codex-config --catalog`); entries modelled on {}; \
         generate it again after upgrading Codex or changing models",
        crate::VERSION,
        template_note
            .as_deref()
            .unwrap_or("the built-in minimal entry (no Codex template)")
    );
    Catalog {
        json: json!({"generated_by": generated_by, "models": entries}),
        models,
        warnings,
        template: template_note,
    }
}

/// The config with the upstream URLs a running daemon reports (flags and environment
/// variables may have changed them from what the file says), by upstream name.
pub fn with_upstream_urls<'a>(
    mut config: Config,
    urls: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Config {
    for (name, url) in urls {
        let url = url.trim_end_matches('/');
        if config.default_upstream.name == name {
            if config.default_upstream.url != url {
                let mut u = (*config.default_upstream).clone();
                u.url = url.to_owned();
                config.default_upstream = std::sync::Arc::new(u);
            }
        } else if let Some(up) = config.upstreams.get_mut(name)
            && up.url != url
        {
            let mut u = (**up).clone();
            u.url = url.to_owned();
            *up = std::sync::Arc::new(u);
        }
    }
    config
}
