//! The Codex side of `shimctl`: the `~/.codex/config.toml` block `codex-config` prints, and
//! the check `doctor` runs on the user's Codex config (is there a provider that points at
//! this daemon, is it selected, does it speak `responses`).
//!
//! Pure text in, text out; finding the file is [`codex_config_path`].

use std::fmt::Write as _;
use std::path::PathBuf;

/// The provider id in `[model_providers.<id>]`.
pub const PROVIDER_ID: &str = "deepinfra";
/// The provider's display name. Never "OpenAI": Codex switches to OpenAI-only protocols
/// (remote compaction) for a provider named so (docs/protocol.md#compaction).
pub const PROVIDER_NAME: &str = "DeepInfra via deepinfra-shim";
/// The model used when `--model` is not given (the documented setup).
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-V4-Flash";
/// Codex waits this long for the next stream event; above our heartbeat interval and the
/// upstream timeout, so a slow model is not cut off by Codex first.
pub const STREAM_IDLE_TIMEOUT_MS: u64 = 300_000;
/// Codex's own defaults, written out so users see them.
pub const REQUEST_MAX_RETRIES: u32 = 4;
pub const STREAM_MAX_RETRIES: u32 = 5;

/// What the block is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexBlock {
    pub model: String,
    /// `host:port` Codex connects to.
    pub addr: String,
    /// The variable Codex reads its bearer token from.
    pub env_key: String,
    /// True when `env_key` holds a client key for the daemon (not the provider token).
    pub env_key_is_client_key: bool,
    /// The model's context window and where it came from (e.g. "route fast").
    pub context_window: Option<(u64, String)>,
    /// A note for the top comment (e.g. "the daemon is not running; values from …").
    pub note: Option<String>,
}

impl CodexBlock {
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `~/.codex/config.toml` block for this daemon.
pub fn render_block(b: &CodexBlock) -> String {
    render_block_with_catalog(b, None)
}

/// The block, plus the top-level `model_catalog_json` key pointing at a catalog written by
/// `shimctl codex-config --catalog` (an absolute path: Codex resolves a relative one against
/// `CODEX_HOME`, not the working directory).
pub fn render_block_with_catalog(b: &CodexBlock, catalog: Option<&str>) -> String {
    let mut o = String::new();
    o.push_str("# Codex CLI provider for deepinfra-shim (printed by `shimctl codex-config`).\n");
    if let Some(note) = &b.note {
        let _ = writeln!(o, "# {note}");
    }
    o.push_str(
        "# The top-level keys below must come before the first [table] of ~/.codex/config.toml;\n\
         # written under a table they would silently belong to it.\n",
    );
    let _ = writeln!(o, "model = {}", toml_str(&b.model));
    let _ = writeln!(o, "model_provider = {}", toml_str(PROVIDER_ID));
    if let Some(path) = catalog {
        o.push_str(
            "# What Codex knows about the models behind the shim (apply_patch, context windows,\n\
             # image input, reasoning efforts). Generate it again after upgrading Codex.\n",
        );
        let _ = writeln!(o, "model_catalog_json = {}", toml_str(path));
    }
    if let Some((window, source)) = &b.context_window {
        let _ = writeln!(
            o,
            "# From {source}; Codex compacts the conversation near 90% of it.\nmodel_context_window = {window}"
        );
    }
    o.push('\n');
    o.push_str(
        "# Never name this provider \"OpenAI\": Codex then uses OpenAI-only remote compaction,\n\
         # which a Chat Completions provider behind the shim cannot serve.\n",
    );
    let _ = writeln!(o, "[model_providers.{PROVIDER_ID}]");
    let _ = writeln!(o, "name = {}", toml_str(PROVIDER_NAME));
    let _ = writeln!(o, "base_url = {}", toml_str(&b.base_url()));
    if b.env_key_is_client_key {
        o.push_str(
            "# The daemon requires a client key: Codex sends it; the provider token stays in the daemon.\n",
        );
    }
    let _ = writeln!(o, "env_key = {}", toml_str(&b.env_key));
    let _ = writeln!(o, "wire_api = {}", toml_str("responses"));
    let _ = writeln!(o, "stream_idle_timeout_ms = {STREAM_IDLE_TIMEOUT_MS}");
    let _ = writeln!(o, "request_max_retries = {REQUEST_MAX_RETRIES}");
    let _ = writeln!(o, "stream_max_retries = {STREAM_MAX_RETRIES}");
    o
}

/// `$CODEX_HOME/config.toml`, else `$HOME/.codex/config.toml`.
pub fn codex_config_path(codex_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match codex_home.filter(|h| !h.trim().is_empty()) {
        Some(h) => Some(PathBuf::from(h).join("config.toml")),
        None => home
            .filter(|h| !h.trim().is_empty())
            .map(|h| PathBuf::from(h).join(".codex").join("config.toml")),
    }
}

/// A Codex provider that points at this daemon and is selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexUse {
    pub provider: String,
    /// `model_provider` or `profile NAME`.
    pub selected_by: String,
    pub env_key: Option<String>,
}

/// What is wrong with a Codex config, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexProblem {
    pub message: String,
    pub hint: String,
}

/// Compares URLs the way a connection would: case-insensitive scheme and host, `localhost`
/// as `127.0.0.1`, no trailing `/`.
pub fn normalize_url(u: &str) -> String {
    let u = u.trim().trim_end_matches('/');
    let (scheme, rest) = u.split_once("://").unwrap_or(("http", u));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority.to_ascii_lowercase();
    let authority = match authority.strip_prefix("localhost") {
        Some(port) => format!("127.0.0.1{port}"),
        None => authority,
    };
    format!("{}://{authority}{path}", scheme.to_ascii_lowercase())
}

/// Checks a Codex `config.toml` against the daemon's `base_url`.
pub fn inspect(text: &str, base_url: &str) -> Result<CodexUse, CodexProblem> {
    let table: toml::Table = toml::from_str(text).map_err(|e| CodexProblem {
        message: format!(
            "is not valid TOML: {}",
            e.to_string().lines().next().unwrap_or("")
        ),
        hint: "fix the syntax (Codex refuses to start with it too)".to_owned(),
    })?;
    let want = normalize_url(base_url);
    let str_of = |t: &toml::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let providers = table
        .get("model_providers")
        .and_then(|v| v.as_table())
        .cloned()
        .unwrap_or_default();
    let ours: Vec<&String> = providers
        .iter()
        .filter(|(_, p)| {
            p.as_table()
                .and_then(|p| str_of(p, "base_url"))
                .is_some_and(|u| normalize_url(&u) == want)
        })
        .map(|(id, _)| id)
        .collect();
    let mut selections: Vec<(String, String)> = Vec::new();
    if let Some(p) = str_of(&table, "model_provider") {
        selections.push((p, "model_provider".to_owned()));
    }
    if let Some(profiles) = table.get("profiles").and_then(|v| v.as_table()) {
        for (name, prof) in profiles {
            if let Some(p) = prof.as_table().and_then(|t| str_of(t, "model_provider")) {
                selections.push((p, format!("profile {name}")));
            }
        }
    }
    let block_hint =
        "add the block printed by `shimctl codex-config` (top-level keys before any [table])";
    let Some((provider, selected_by)) = selections.iter().find(|(p, _)| ours.contains(&p)).cloned()
    else {
        if let Some(id) = ours.first() {
            return Err(CodexProblem {
                message: format!("provider '{id}' points at this daemon but nothing selects it"),
                hint: format!(
                    "set `model_provider = {}` at the top of the file",
                    toml_str(id)
                ),
            });
        }
        if let Some((p, by)) = selections.first()
            && let Some(url) = providers
                .get(p)
                .and_then(|v| v.as_table())
                .and_then(|t| str_of(t, "base_url"))
        {
            return Err(CodexProblem {
                message: format!(
                    "Codex's provider '{p}' ({by}) points at {url}, not at this daemon ({base_url})"
                ),
                hint: format!(
                    "set `base_url = {}` in [model_providers.{p}]",
                    toml_str(base_url)
                ),
            });
        }
        return Err(CodexProblem {
            message: format!("no Codex provider points at this daemon ({base_url})"),
            hint: block_hint.to_owned(),
        });
    };
    let p = providers
        .get(&provider)
        .and_then(|v| v.as_table())
        .cloned()
        .unwrap_or_default();
    let wire = str_of(&p, "wire_api");
    if wire.as_deref() != Some("responses") {
        return Err(CodexProblem {
            message: format!(
                "provider '{provider}' has wire_api = {}; the daemon speaks the Responses API",
                wire.as_deref()
                    .map(toml_str)
                    .unwrap_or_else(|| "(unset)".to_owned())
            ),
            hint: format!("set `wire_api = \"responses\"` in [model_providers.{provider}]"),
        });
    }
    if str_of(&p, "name").is_some_and(|n| n.trim().eq_ignore_ascii_case("openai")) {
        return Err(CodexProblem {
            message: format!("provider '{provider}' is named \"OpenAI\""),
            hint: format!(
                "rename it (e.g. `name = {}`): Codex uses OpenAI-only remote compaction for a \
                 provider of that name",
                toml_str(PROVIDER_NAME)
            ),
        });
    }
    Ok(CodexUse {
        env_key: str_of(&p, "env_key"),
        provider,
        selected_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> CodexBlock {
        CodexBlock {
            model: "fast".into(),
            addr: "127.0.0.1:8797".into(),
            env_key: "DEEPINFRA_TOKEN".into(),
            env_key_is_client_key: false,
            context_window: Some((262_144, "route fast".into())),
            note: None,
        }
    }

    #[test]
    fn block_is_toml_with_top_level_keys_first() {
        let text = render_block(&block());
        let t: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(t["model"].as_str(), Some("fast"));
        assert_eq!(t["model_provider"].as_str(), Some("deepinfra"));
        assert_eq!(t["model_context_window"].as_integer(), Some(262_144));
        let p = t["model_providers"]["deepinfra"].as_table().unwrap();
        assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:8797/v1"));
        assert_eq!(p["env_key"].as_str(), Some("DEEPINFRA_TOKEN"));
        assert_eq!(p["wire_api"].as_str(), Some("responses"));
        assert_eq!(p["name"].as_str(), Some(PROVIDER_NAME));
        assert_eq!(p["stream_idle_timeout_ms"].as_integer(), Some(300_000));
        assert!(text.contains("Never name this provider \"OpenAI\""));
        assert_eq!(
            inspect(&text, "http://localhost:8797/v1/")
                .unwrap()
                .provider,
            "deepinfra"
        );
        let mut b = block();
        b.context_window = None;
        assert!(!render_block(&b).contains("model_context_window"));
    }

    #[test]
    fn catalog_key_is_top_level() {
        let text = render_block_with_catalog(&block(), Some("/home/u/.codex/models.json"));
        let t: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            t["model_catalog_json"].as_str(),
            Some("/home/u/.codex/models.json")
        );
        assert!(
            text.find("model_catalog_json").unwrap() < text.find("\n[model_providers").unwrap()
        );
        assert_eq!(
            render_block_with_catalog(&block(), None),
            render_block(&block())
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        let t: toml::Table = toml::from_str(&format!("k = {}", toml_str("x\u{1}\"y"))).unwrap();
        assert_eq!(t["k"].as_str(), Some("x\u{1}\"y"));
    }

    #[test]
    fn paths() {
        assert_eq!(
            codex_config_path(Some("/c"), Some("/h")),
            Some(PathBuf::from("/c/config.toml"))
        );
        assert_eq!(
            codex_config_path(None, Some("/h")),
            Some(PathBuf::from("/h/.codex/config.toml"))
        );
        assert_eq!(codex_config_path(Some(""), None), None);
    }

    #[test]
    fn inspection_finds_problems() {
        let url = "http://127.0.0.1:8797/v1";
        let e = inspect("model = [", url).unwrap_err();
        assert!(e.message.contains("not valid TOML"), "{e:?}");
        let e = inspect("model = \"x\"\n", url).unwrap_err();
        assert!(e.message.contains("no Codex provider"), "{e:?}");
        let other = "model_provider = \"d\"\n[model_providers.d]\nbase_url = \"http://127.0.0.1:9999/v1\"\nwire_api = \"responses\"\n";
        let e = inspect(other, url).unwrap_err();
        assert!(
            e.message.contains("points at http://127.0.0.1:9999/v1"),
            "{e:?}"
        );
        assert!(e.hint.contains(url), "{e:?}");
        let unselected = "[model_providers.d]\nbase_url = \"http://127.0.0.1:8797/v1\"\nwire_api = \"responses\"\n";
        let e = inspect(unselected, url).unwrap_err();
        assert!(e.message.contains("nothing selects it"), "{e:?}");
        let profile = format!("{unselected}[profiles.shim]\nmodel_provider = \"d\"\n");
        let ok = inspect(&profile, url).unwrap();
        assert_eq!(ok.selected_by, "profile shim");
        let chat = "model_provider = \"d\"\n[model_providers.d]\nbase_url = \"http://127.0.0.1:8797/v1\"\nwire_api = \"chat\"\n";
        assert!(inspect(chat, url).unwrap_err().message.contains("wire_api"));
        let openai = "model_provider = \"d\"\n[model_providers.d]\nname = \"OpenAI\"\nbase_url = \"http://127.0.0.1:8797/v1\"\nwire_api = \"responses\"\nenv_key = \"K\"\n";
        assert!(inspect(openai, url).unwrap_err().message.contains("OpenAI"));
        let good = openai.replace("OpenAI", "shim");
        let ok = inspect(&good, url).unwrap();
        assert_eq!(ok.env_key.as_deref(), Some("K"));
        assert_eq!(ok.selected_by, "model_provider");
    }
}
