//! The facts behind one catalog entry, each with where it came from: the config's route,
//! the upstream's model list, or a default. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::meta::{self, ModelMeta};
use crate::config::Config;

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

    pub(super) fn to_json(&self) -> Value {
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
    pub(super) fn to_json(&self) -> Value {
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

/// A model of an upstream list is served under its own name when that name reaches the
/// same upstream and is sent as is.
pub(super) fn is_listed(config: &Config, lists: &BTreeMap<&str, &[ModelMeta]>, name: &str) -> bool {
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

pub(super) fn facts_for_name(
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

pub(super) fn facts_for_pattern(
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

pub(super) fn display_name(m: &ModelFacts) -> String {
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

pub(super) fn description(m: &ModelFacts) -> String {
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
