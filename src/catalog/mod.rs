//! The Codex model catalog (`model_catalog_json`) for the models this daemon serves, and the
//! facts behind it (`shimctl models`).
//!
//! Codex decides from its model metadata whether to offer the freeform `apply_patch` tool,
//! when to compact (90 % of `context_window`), whether images may be sent and which
//! reasoning efforts exist. For models it does not know (every provider model) it falls back
//! to generic metadata. [`build`] describes each served model from, in order:
//! 1. the config's `models:` route (`context_window`, `max_output_tokens`, `vision`,
//!    `reasoning`, `apply_patch`),
//! 2. the upstream's `GET /models?filter=with_meta` list ([`meta`], fetched by [`fetch`]),
//! 3. defaults ([`DEFAULT_CONTEXT_WINDOW`], no vision, no reasoning efforts, `apply_patch`
//!    on),
//!
//! and records where each fact came from. The entries are made from a bundled entry of the
//! user's own Codex ([`template`], loaded by [`codex`]), whose prompt they keep; the bundled
//! entries are kept too, because a catalog replaces Codex's bundled one.
//!
//! Which models are listed ([`Selection::All`]): the names asked for (the model the printed
//! block selects), every exact route name, every chat model of an upstream list that is
//! served under its own name (not shadowed by a route to another upstream), and one hidden
//! entry per prefix route (Codex matches a slug that is a prefix of the model name, longest
//! first, so `moonshotai/` covers every `moonshotai/…` not listed). [`Selection::Only`] lists
//! one model.
//!
//! Everything here but [`fetch`] and [`codex`] is pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::Config;

pub mod codex;
pub mod fetch;
pub mod meta;
pub mod table;
pub mod template;

pub use fetch::{fetch_all, fetch_models, fetch_upstream};
pub use meta::ModelMeta;
pub use table::render_table;
pub use template::Template;

/// Context window assumed when neither the config nor the upstream says: small enough that
/// Codex compacts before most current chat models overflow (Codex's own fallback is ~272k).
pub const DEFAULT_CONTEXT_WINDOW: u64 = 131_072;

/// Where a fact came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `models:` route; the key as written (`fast`, `moonshotai/*`).
    Config(String),
    /// An upstream's model list; the upstream's name.
    Upstream(String),
    Default,
}

impl Source {
    /// `config`, `upstream` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Config(_) => "config",
            Source::Upstream(_) => "upstream",
            Source::Default => "default",
        }
    }

    /// E.g. `config models.fast`, `upstream default`, `default`.
    pub fn describe(&self) -> String {
        match self {
            Source::Config(key) => format!("config models.{key}"),
            Source::Upstream(name) => format!("upstream {name}"),
            Source::Default => "default".to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Source::Config(key) => json!({"source": "config", "route": key}),
            Source::Upstream(name) => json!({"source": "upstream", "upstream": name}),
            Source::Default => json!({"source": "default"}),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact<T> {
    pub value: T,
    pub source: Source,
}

impl<T: serde::Serialize> Fact<T> {
    fn to_json(&self) -> Value {
        let mut v = self.source.to_json();
        v["value"] = json!(self.value);
        v
    }
}

/// Why a model is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An exact name under `models:`.
    Route,
    /// A prefix route (`moonshotai/*`): a hidden entry whose slug is the prefix.
    Pattern,
    /// A chat model of an upstream's list.
    Listed,
    /// Asked for by name (`--model`, the block's model) and none of the above.
    Requested,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Route => "route",
            Kind::Pattern => "pattern",
            Kind::Listed => "listed",
            Kind::Requested => "requested",
        }
    }
}

/// Everything known about one served model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFacts {
    /// The name Codex sends (`moonshotai/*` for a pattern).
    pub name: String,
    /// The catalog slug (the name; the prefix without `*` for a pattern).
    pub slug: String,
    pub kind: Kind,
    /// Upstream name (`default` or a key of `upstreams:`).
    pub upstream: String,
    pub upstream_url: String,
    /// The name sent upstream (`None`: a pattern that keeps Codex's name).
    pub upstream_model: Option<String>,
    pub context_window: Fact<u64>,
    /// The output cap; only a route's value is sent upstream by the shim.
    pub max_output_tokens: Fact<Option<u64>>,
    pub vision: Fact<bool>,
    pub reasoning: Fact<bool>,
    pub apply_patch: Fact<bool>,
    /// Set when a route's `max_output_tokens` leaves less room than Codex's 90 % rule.
    pub auto_compact_token_limit: Option<u64>,
}

impl ModelFacts {
    /// The token count at which Codex compacts.
    pub fn compact_at(&self) -> u64 {
        self.auto_compact_token_limit
            .unwrap_or(self.context_window.value * 9 / 10)
    }

    /// The `models --json` object.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "slug": self.slug,
            "kind": self.kind.as_str(),
            "upstream": self.upstream,
            "upstream_url": self.upstream_url,
            "upstream_model": self.upstream_model,
            "context_window": self.context_window.to_json(),
            "max_output_tokens": self.max_output_tokens.to_json(),
            "vision": self.vision.to_json(),
            "reasoning": self.reasoning.to_json(),
            "apply_patch": self.apply_patch.to_json(),
            "compact_at": self.compact_at(),
        })
    }
}

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

/// A model of an upstream list is served under its own name when that name reaches the
/// same upstream and is sent as is.
fn is_listed(config: &Config, lists: &BTreeMap<&str, &[ModelMeta]>, name: &str) -> bool {
    let r = config.resolve(name);
    r.upstream_model == name
        && lists
            .get(r.upstream.name.as_str())
            .is_some_and(|l| l.iter().any(|m| m.id == name && m.is_chat()))
}

/// The route key that applies to a name: the exact name, or `prefix*`.
fn route_key(config: &Config, name: &str) -> Option<String> {
    if config.routes.exact.contains_key(name) {
        return Some(name.to_owned());
    }
    config
        .routes
        .prefixes
        .iter()
        .find(|(p, _)| name.starts_with(p.as_str()))
        .map(|(p, _)| format!("{p}*"))
}

fn facts_for_name(
    config: &Config,
    lists: &BTreeMap<&str, &[ModelMeta]>,
    name: &str,
    kind: Kind,
) -> ModelFacts {
    let r = config.resolve(name);
    let key = route_key(config, name);
    let meta = lists
        .get(r.upstream.name.as_str())
        .and_then(|l| meta::find(l, &r.upstream_model));
    combine(
        name.to_owned(),
        name.to_owned(),
        kind,
        &r.upstream.name,
        &r.upstream.url,
        Some(r.upstream_model.clone()),
        r.route.zip(key.as_deref()),
        meta,
    )
}

fn facts_for_pattern(
    config: &Config,
    lists: &BTreeMap<&str, &[ModelMeta]>,
    prefix: &str,
) -> ModelFacts {
    let (_, route) = config
        .routes
        .prefixes
        .iter()
        .find(|(p, _)| p == prefix)
        .expect("a configured prefix");
    let upstream = config
        .upstreams
        .get(&route.upstream)
        .unwrap_or(&config.default_upstream);
    // Only a pattern that renames every model to one upstream model has metadata to use.
    let meta = route.model.as_deref().and_then(|m| {
        lists
            .get(upstream.name.as_str())
            .and_then(|l| meta::find(l, m))
    });
    let key = format!("{prefix}*");
    combine(
        key.clone(),
        prefix.to_owned(),
        Kind::Pattern,
        &upstream.name,
        &upstream.url,
        route.model.clone(),
        Some((route, &key)),
        meta,
    )
}

/// The first of: the route's value, the upstream list's value, the default.
fn pick<T>(route: Option<(T, &str)>, upstream: Option<(T, &str)>, default: T) -> Fact<T> {
    match (route, upstream) {
        (Some((value, key)), _) => Fact {
            value,
            source: Source::Config(key.to_owned()),
        },
        (None, Some((value, name))) => Fact {
            value,
            source: Source::Upstream(name.to_owned()),
        },
        (None, None) => Fact {
            value: default,
            source: Source::Default,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn combine(
    name: String,
    slug: String,
    kind: Kind,
    upstream: &str,
    upstream_url: &str,
    upstream_model: Option<String>,
    route: Option<(&crate::config::Route, &str)>,
    meta: Option<&ModelMeta>,
) -> ModelFacts {
    let (r, key) = match route {
        Some((r, key)) => (Some(r), key),
        None => (None, ""),
    };
    let from_route = |v: Option<u64>| v.map(|v| (v, key));
    let flag = |v: Option<bool>| v.map(|v| (v, key));
    let from_meta = |v: Option<u64>| v.map(|v| (v, upstream));
    let meta_flag = |v: Option<bool>| v.map(|v| (v, upstream));

    let context_window = pick(
        from_route(r.and_then(|r| r.context_window)),
        from_meta(meta.and_then(|m| m.context_length)),
        DEFAULT_CONTEXT_WINDOW,
    );
    let max_output_tokens = pick(
        from_route(r.and_then(|r| r.max_output_tokens)).map(|(v, k)| (Some(v), k)),
        from_meta(meta.and_then(|m| m.max_tokens)).map(|(v, k)| (Some(v), k)),
        None,
    );
    let vision = pick(
        flag(r.and_then(|r| r.vision)),
        meta_flag(meta.and_then(ModelMeta::vision)),
        false,
    );
    let reasoning = pick(
        flag(r.and_then(|r| r.reasoning)),
        meta_flag(meta.and_then(ModelMeta::reasoning)),
        false,
    );
    let apply_patch = pick(flag(r.and_then(|r| r.apply_patch)), None, true);
    // The shim sends a route's max_output_tokens as `max_tokens`; providers then refuse a
    // prompt longer than window - max_tokens, so Codex must compact before that.
    let auto_compact_token_limit = match &max_output_tokens {
        Fact {
            value: Some(out),
            source: Source::Config(_),
        } if *out < context_window.value => {
            let room = context_window.value - out;
            (room < context_window.value * 9 / 10).then_some(room)
        }
        _ => None,
    };
    ModelFacts {
        name,
        slug,
        kind,
        upstream: upstream.to_owned(),
        upstream_url: upstream_url.to_owned(),
        upstream_model,
        context_window,
        max_output_tokens,
        vision,
        reasoning,
        apply_patch,
        auto_compact_token_limit,
    }
}

fn display_name(m: &ModelFacts) -> String {
    match m.kind {
        Kind::Pattern => m.name.clone(),
        _ => m
            .name
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&m.name)
            .to_owned(),
    }
}

fn description(m: &ModelFacts) -> String {
    let target = match (&m.upstream_model, m.kind) {
        (Some(um), _) if *um != m.name => format!("{um} on upstream '{}'", m.upstream),
        (_, Kind::Pattern) => format!("models matching {} on upstream '{}'", m.name, m.upstream),
        _ => format!("upstream '{}'", m.upstream),
    };
    format!(
        "{target} via deepinfra-shim; context window {} tokens",
        m.context_window.value
    )
}

/// The facts only (no Codex template), from the config and the upstreams' lists: what
/// `shimctl models` shows.
pub async fn describe(config: &Config, selection: &Selection) -> Catalog {
    let upstream_models = fetch_all(config, fetch::TIMEOUT).await;
    build(
        &Sources {
            config,
            upstream_models,
            template: None,
        },
        selection,
    )
}

/// The catalog `shimctl codex-config --catalog` writes: the upstreams' lists and the user's
/// Codex template (from `codex_bin`, else `CODEX_BIN`, else `codex` on `PATH`) are fetched at
/// the same time, then [`build`].
pub async fn generate(config: &Config, selection: &Selection, codex_bin: Option<&Path>) -> Catalog {
    let bin = codex::find_bin_from_env(codex_bin);
    let template = async move {
        match bin {
            None => Err("no Codex found: not on PATH and CODEX_BIN is not set".to_owned()),
            Some(bin) => tokio::task::spawn_blocking(move || codex::load_template(&bin))
                .await
                .unwrap_or_else(|e| Err(format!("asking Codex failed: {e}"))),
        }
    };
    let (upstream_models, template) =
        futures_util::future::join(fetch_all(config, fetch::TIMEOUT), template).await;
    build(
        &Sources {
            config,
            upstream_models,
            template: Some(template),
        },
        selection,
    )
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

/// Writes the catalog file (creating its directory; replaced atomically) and returns its
/// absolute path, which is what `model_catalog_json` must hold (Codex resolves a relative
/// path against `CODEX_HOME`, not the working directory).
pub fn write_file(catalog: &Catalog, path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    };
    let dir = abs
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| std::io::Error::other("the catalog path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let file_name = abs
        .file_name()
        .ok_or_else(|| std::io::Error::other("the catalog path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, catalog.file_text())?;
    if let Err(e) = std::fs::rename(&tmp, &abs) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Normalise `..` and symlinked directories so the printed path is plain.
    Ok(std::fs::canonicalize(&abs).unwrap_or(abs))
}

#[cfg(test)]
mod tests;
