//! Validation: the layered settings become a checked [`Config`], or the list of EVERY problem
//! found (each value's own rule is applied by its kind while layering; the rules here are the
//! ones that involve several keys or the environment).
//!
//! - Bind safety: a host that is not loopback needs client keys or an explicit
//!   `listen.allow_unauthenticated: true`; client keys named but absent are refused.
//! - Cleartext: `http://` to a host that is not loopback would put the token on the network
//!   unencrypted, so it is refused unless that upstream sets `allow_insecure: true`.
//! - Named upstreams need a URL and a plain name; routes must name an existing upstream.
//! - Inheritance: a named upstream's unset timeouts follow the default upstream, its unset
//!   compat keys the top-level `compat:`; headers are never inherited (they may be another
//!   provider's secrets), neither is `allow_insecure` (each upstream opts in for itself).
//!
//! The same step serves start, reload, `--check-config` and `shimctl check-config`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::env::Env;
use super::error::Problem;
use super::file::Entry;
use super::keys::{self as k, MODELS_SECTION, UPSTREAMS_SECTION};
use super::layers::{Got, Layered, Layers, Source, default_of};
use super::model::{
    Compat, Config, DEFAULT_UPSTREAM, Limits, Listen, LogFormat, LogSettings, Route, Routes,
    Secret, Upstream,
};
use super::paths::{check_socket_path, default_control_socket};
use super::rules::{Pattern, cleartext_remote_host, is_simple_name, parse_pattern, split_keys};

/// Checks everything and builds the runtime [`Config`], or returns every problem found.
pub fn validate(l: Layers<'_>, config_path: Option<PathBuf>) -> Result<Config, Vec<Problem>> {
    let (config, layered) = build(l, config_path);
    if layered.problems.is_empty() {
        Ok(config)
    } else {
        Err(layered.problems)
    }
}

/// Builds the configuration from every key (invalid values fall back to their defaults) and
/// returns it with what the layering found; the configuration is only usable when no problem
/// was found.
pub fn build(mut l: Layers<'_>, config_path: Option<PathBuf>) -> (Config, Layered) {
    let env = l.env().clone();
    let listen = listen(&mut l, &env);

    let top_compat = Compat {
        drop_tool_call_content: l.get(&k::COMPAT_DROP_TOOL_CALL_CONTENT).value,
        reasoning: l.get(&k::COMPAT_REASONING).value,
        images: l.get(&k::COMPAT_IMAGES).value,
    };
    let default_upstream = default_upstream(&mut l, &env, &top_compat);
    let mut upstreams = BTreeMap::new();
    for e in &l.values().upstreams {
        if let Some(u) = named_upstream(&mut l, &env, e, &default_upstream, &top_compat) {
            upstreams.insert(e.name.clone(), Arc::new(u));
        }
    }
    let routes = routes(&mut l, &upstreams);

    let limits = Limits {
        max_body_bytes: l.get(&k::LIMITS_MAX_BODY_BYTES).value,
        max_connections: l.get(&k::LIMITS_MAX_CONNECTIONS).value,
        max_output_bytes: l.get(&k::LIMITS_MAX_OUTPUT_BYTES).value,
    };
    let level = l.get(&k::LOG_LEVEL).value;
    let requests = l.get(&k::LOG_REQUESTS).value;
    let content = l.get(&k::LOG_CONTENT).value;
    let format = l.get(&k::LOG_FORMAT);
    let format = match format.source {
        Source::Default if env.stderr_is_journal() => LogFormat::Journald,
        _ => format.value,
    };
    let drain_timeout = l.get(&k::SHUTDOWN_DRAIN_TIMEOUT_MS).value;
    let control_socket = control_socket(&mut l, &env);

    let mut layered = l.finish();
    layered.pins.sort_by(|a, b| a.key.cmp(b.key));
    let mut pinned: Vec<String> = layered.pins.iter().map(|p| p.key.to_owned()).collect();
    pinned.dedup();
    let config = Config {
        listen,
        default_upstream: Arc::new(default_upstream),
        upstreams,
        routes,
        max_body_bytes: limits.max_body_bytes,
        limits,
        log: LogSettings {
            level,
            requests,
            content,
            format,
        },
        drain_timeout,
        control_socket,
        config_path,
        pinned,
        pins: layered.pins.clone(),
        waiting_for_restart: Vec::new(),
        redactor: std::sync::OnceLock::new(),
    };
    (config, layered)
}

fn listen(l: &mut Layers<'_>, env: &Env) -> Listen {
    let host = l.get(&k::LISTEN_HOST);
    let port = l.get(&k::LISTEN_PORT).value;
    let keys_env = l.get(&k::LISTEN_CLIENT_KEYS_ENV);
    let client_keys: Vec<Secret> = keys_env
        .value
        .as_deref()
        .and_then(|name| env.get(name))
        .map(split_keys)
        .unwrap_or_default();
    if let Some(name) = &keys_env.value
        && client_keys.is_empty()
    {
        l.push(
            &keys_env.source,
            format!(
                "variable {name} is not set or holds no keys, so no client could authenticate; \
                 set it to comma-separated keys or remove client_keys_env"
            ),
        );
    }
    let allow_unauthenticated = l.get(&k::LISTEN_ALLOW_UNAUTHENTICATED).value;
    let listen = Listen {
        host: host.value,
        port,
        client_keys_env: keys_env.value,
        client_keys,
        allow_unauthenticated,
        allowed_hosts: l.get(&k::LISTEN_ALLOWED_HOSTS).value,
        allowed_origins: l.get(&k::LISTEN_ALLOWED_ORIGINS).value,
    };
    if !listen.is_loopback() && listen.client_keys.is_empty() && !allow_unauthenticated {
        l.push(
            &host.source,
            format!(
                "listen.host {} is not loopback: set listen.client_keys_env (clients then send \
                 one of the keys as Bearer) or listen.allow_unauthenticated: true; an open bind \
                 lends your provider token to anyone on the network",
                listen.host
            ),
        );
    }
    listen
}

/// Refuses `http://` to a host that is not loopback unless `allow_insecure` says so.
fn check_cleartext(l: &mut Layers<'_>, url: &Got<String>, allowed: bool, setting: &str) {
    if allowed {
        return;
    }
    if let Some(host) = cleartext_remote_host(&url.value) {
        l.push(
            &url.source,
            format!(
                "http:// to {host}, which is not loopback, would send the token in cleartext; \
                 use https:// or set {setting}: true"
            ),
        );
    }
}

fn default_upstream(l: &mut Layers<'_>, env: &Env, compat: &Compat) -> Upstream {
    let url = l.get(&k::UPSTREAM_URL);
    let allow_insecure = l.get(&k::UPSTREAM_ALLOW_INSECURE).value;
    check_cleartext(l, &url, allow_insecure, "upstream.allow_insecure");
    let api_key_env = l.get(&k::UPSTREAM_API_KEY_ENV).value;
    Upstream {
        token: token(env, &api_key_env),
        name: DEFAULT_UPSTREAM.to_owned(),
        chat_url: chat_url(&url.value),
        url: url.value,
        api_key_env,
        timeout: l.get(&k::UPSTREAM_TIMEOUT_MS).value,
        heartbeat: l.get(&k::UPSTREAM_HEARTBEAT_MS).value,
        headers: l.get(&k::UPSTREAM_HEADERS).value,
        allow_insecure,
        compat: compat.clone(),
    }
}

fn named_upstream(
    l: &mut Layers<'_>,
    env: &Env,
    e: &Entry,
    base: &Upstream,
    top_compat: &Compat,
) -> Option<Upstream> {
    let at = Source::file(&[UPSTREAMS_SECTION, &e.name]);
    if e.name == DEFAULT_UPSTREAM {
        l.push(
            &at,
            "the name `default` is reserved for the `upstream:` section",
        );
        return None;
    }
    if !is_simple_name(&e.name) {
        l.push(
            &at,
            "an upstream name may only hold letters, digits, `_`, `-` and `.`",
        );
    }
    let url = l.entry(UPSTREAMS_SECTION, e, &k::NAMED_URL);
    if !e.values.contains_key(k::NAMED_URL.meta.path) {
        l.push(&at, "missing `url` (a named upstream has no default URL)");
    }
    let allow_insecure = l
        .entry(UPSTREAMS_SECTION, e, &k::NAMED_ALLOW_INSECURE)
        .map_or_else(|| default_of(&k::NAMED_ALLOW_INSECURE), |g| g.value);
    if let Some(url) = &url {
        let setting = format!("{UPSTREAMS_SECTION}.{}.allow_insecure", e.name);
        check_cleartext(l, url, allow_insecure, &setting);
    }
    let url = url.map(|g| g.value).unwrap_or_default();
    // Without a variable of its own, a named upstream sends no credentials at all.
    let api_key_env = l
        .entry(UPSTREAMS_SECTION, e, &k::NAMED_API_KEY_ENV)
        .map(|g| g.value)
        .unwrap_or_default();
    let mut value = |key| {
        l.entry(UPSTREAMS_SECTION, e, key)
            .map(|g: Got<Duration>| g.value)
    };
    let timeout = value(&k::NAMED_TIMEOUT_MS).unwrap_or(base.timeout);
    let heartbeat = value(&k::NAMED_HEARTBEAT_MS).unwrap_or(base.heartbeat);
    let headers = l
        .entry(UPSTREAMS_SECTION, e, &k::NAMED_HEADERS)
        .map_or_else(|| default_of(&k::NAMED_HEADERS), |g| g.value);
    let compat = Compat {
        drop_tool_call_content: l
            .entry(
                UPSTREAMS_SECTION,
                e,
                &k::NAMED_COMPAT_DROP_TOOL_CALL_CONTENT,
            )
            .map_or(top_compat.drop_tool_call_content, |g| g.value),
        reasoning: l
            .entry(UPSTREAMS_SECTION, e, &k::NAMED_COMPAT_REASONING)
            .map_or(top_compat.reasoning, |g| g.value),
        images: l
            .entry(UPSTREAMS_SECTION, e, &k::NAMED_COMPAT_IMAGES)
            .map_or(top_compat.images, |g| g.value),
    };
    Some(Upstream {
        name: e.name.clone(),
        chat_url: chat_url(&url),
        url,
        token: token(env, &api_key_env),
        api_key_env,
        timeout,
        heartbeat,
        headers,
        allow_insecure,
        compat,
    })
}

fn routes(l: &mut Layers<'_>, upstreams: &BTreeMap<String, Arc<Upstream>>) -> Routes {
    let mut routes = Routes::default();
    for e in &l.values().routes {
        let upstream = l
            .entry(MODELS_SECTION, e, &k::ROUTE_UPSTREAM)
            .unwrap_or_else(|| Got {
                value: default_of(&k::ROUTE_UPSTREAM),
                source: Source::Default,
            });
        if upstream.value != DEFAULT_UPSTREAM && !upstreams.contains_key(&upstream.value) {
            let known: Vec<&str> = std::iter::once(DEFAULT_UPSTREAM)
                .chain(upstreams.keys().map(String::as_str))
                .collect();
            l.push(
                &upstream.source,
                format!(
                    "unknown upstream '{}' (expected one of: {})",
                    upstream.value,
                    known.join(", ")
                ),
            );
        }
        let mut tokens = |key| {
            l.entry(MODELS_SECTION, e, key)
                .and_then(|g: Got<Option<u64>>| g.value)
        };
        let context_window = tokens(&k::ROUTE_CONTEXT_WINDOW);
        let max_output_tokens = tokens(&k::ROUTE_MAX_OUTPUT_TOKENS);
        let mut flag = |key| {
            l.entry(MODELS_SECTION, e, key)
                .and_then(|g: Got<Option<bool>>| g.value)
        };
        let vision = flag(&k::ROUTE_VISION);
        let reasoning = flag(&k::ROUTE_REASONING);
        let apply_patch = flag(&k::ROUTE_APPLY_PATCH);
        let route = Route {
            upstream: upstream.value,
            model: l
                .entry(MODELS_SECTION, e, &k::ROUTE_MODEL)
                .and_then(|g| g.value),
            context_window,
            max_output_tokens,
            vision,
            reasoning,
            apply_patch,
        };
        match parse_pattern(&e.name) {
            Ok(Pattern::Exact) => {
                routes.exact.insert(e.name.clone(), route);
            }
            Ok(Pattern::Prefix(p)) => routes.prefixes.push((p, route)),
            Err(msg) => l.push(&Source::file(&[MODELS_SECTION, &e.name]), msg),
        }
    }
    routes
        .prefixes
        .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    routes
}

fn control_socket(l: &mut Layers<'_>, env: &Env) -> PathBuf {
    if let Some(g) = l.opt(&k::CONTROL_SOCKET) {
        return g.value;
    }
    let p = default_control_socket(env);
    if !l.overridden(&k::CONTROL_SOCKET)
        && let Err(msg) = check_socket_path(&p.to_string_lossy())
    {
        l.push_origin(
            "control socket (default path)",
            format!("{msg}; set --control-socket or XDG_RUNTIME_DIR"),
        );
    }
    p
}

/// The provider token from `api_key_env` (blank counts as unset).
fn token(env: &Env, api_key_env: &str) -> Option<Secret> {
    if api_key_env.is_empty() {
        return None;
    }
    env.get(api_key_env)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
}

/// `{url}/chat/completions`, parsed once per load. The URL passed its check; should the
/// joined form still not parse, the default is used rather than panicking mid-request.
fn chat_url(url: &str) -> reqwest::Url {
    reqwest::Url::parse(&format!("{url}/chat/completions")).unwrap_or_else(|_| {
        let default = k::UPSTREAM_URL.meta.default.unwrap_or_default();
        reqwest::Url::parse(&format!("{default}/chat/completions"))
            .expect("the default upstream URL parses")
    })
}
