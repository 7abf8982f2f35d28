//! The daemon side of `check-upstreams`: every upstream checked from inside the daemon, with
//! the daemon's own token, by a request that needs authentication
//! ([`crate::upstream::UpstreamClient::probe_token`]), all at once, each within
//! [`CHECK_TIMEOUT`]. This is what `shimctl doctor` reports: the token a shell happens to hold
//! says nothing about the one the service was started with.
//!
//! The model each probe asks for, first match wins: the model Codex is set up with (sent by
//! `shimctl`) when it routes to that upstream; the first exact route (`models:`) to it; for the
//! default upstream, the model `shimctl codex-config` suggests; else the first entry of the
//! upstream's own model list (a public endpoint on most providers, read with the same
//! credentials).

use std::time::Duration;

use super::codex_config::DEFAULT_MODEL;
use super::protocol::{CheckResult, Reply, TokenUsed, UpstreamCheck};
use crate::config::{Config, Upstream};
use crate::service::state::State;
use crate::upstream::{UpstreamClient, models_url};

/// The longest one upstream's check may take (finding a model included).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(12);

/// How long the model list may take when no route names a model for an upstream.
const MODEL_LIST_WAIT: Duration = Duration::from_secs(4);

/// Answers `check-upstreams`.
pub async fn reply(state: &State, codex_model: Option<&str>) -> Reply {
    let config = state.config();
    let checks = check_all(&state.http, &config, codex_model).await;
    Reply {
        upstream_checks: Some(checks),
        ..Reply::ok()
    }
}

/// Checks every upstream of `config`, the default one first.
pub async fn check_all(
    http: &UpstreamClient,
    config: &Config,
    codex_model: Option<&str>,
) -> Vec<UpstreamCheck> {
    let checks = config.all_upstreams().map(|up| {
        let model = model_for(config, up, codex_model);
        check_one(http, config, up, model)
    });
    futures_util::future::join_all(checks).await
}

/// Which token a request to `up` carries when the daemon has none of its own.
fn token_used(config: &Config, up: &Upstream) -> TokenUsed {
    if up.token.is_some() {
        TokenUsed::Daemon
    } else if up.is_default() && config.listen.client_keys_env.is_none() {
        TokenUsed::NoneCodexHeader
    } else {
        TokenUsed::None
    }
}

/// The model to probe `up` with, when the config names one (see the module comment).
pub fn model_for(config: &Config, up: &Upstream, codex_model: Option<&str>) -> Option<String> {
    if let Some(m) = codex_model {
        let r = config.resolve(m);
        if r.upstream.name == up.name {
            return Some(r.upstream_model);
        }
    }
    let routed = config
        .routes
        .exact
        .iter()
        .find(|(_, r)| r.upstream == up.name)
        .map(|(name, r)| r.model.clone().unwrap_or_else(|| name.clone()));
    routed.or_else(|| up.is_default().then(|| DEFAULT_MODEL.to_owned()))
}

async fn check_one(
    http: &UpstreamClient,
    config: &Config,
    up: &Upstream,
    model: Option<String>,
) -> UpstreamCheck {
    let started = tokio::time::Instant::now();
    let mut check = UpstreamCheck {
        name: up.name.clone(),
        url: up.url.clone(),
        result: CheckResult::Unknown,
        token: token_used(config, up),
        api_key_env: up.api_key_env.clone(),
        model: None,
        request: Some(format!("POST {}", up.chat_url)),
        status: None,
        message: None,
        elapsed_ms: 0,
    };
    let model = match model {
        Some(m) => Some(m),
        None => first_listed_model(http, up).await,
    };
    let Some(model) = model else {
        check.result = CheckResult::Error;
        check.request = None;
        check.message = Some(format!(
            "no model to ask: no exact route under models: sends a model to '{}', and {} lists none",
            up.name,
            models_url(&up.url, None)
        ));
        return check;
    };
    let left = CHECK_TIMEOUT.saturating_sub(started.elapsed());
    let probe = http.probe_token(up, &model, left).await;
    check.model = Some(model);
    check.elapsed_ms = started.elapsed().as_millis() as u64;
    match probe {
        Err(e) => {
            check.result = CheckResult::Unreachable;
            check.message = Some(e.cause());
        }
        Ok(p) => {
            check.status = Some(p.status);
            check.message = p.message;
            let success = (200..300).contains(&p.status);
            let refused = matches!(p.status, 401 | 403);
            check.result = match (p.sent_token, success, refused) {
                (false, _, _) => CheckResult::NoToken,
                (true, true, _) => CheckResult::Valid,
                (true, _, true) => CheckResult::Rejected,
                (true, false, false) => CheckResult::Error,
            };
        }
    }
    tracing::debug!(
        upstream = %check.name,
        result = ?check.result,
        status = check.status,
        elapsed_ms = check.elapsed_ms,
        "Upstream checked"
    );
    check
}

/// The first model id of `GET {url}/models`, if the upstream lists any in time.
async fn first_listed_model(http: &UpstreamClient, up: &Upstream) -> Option<String> {
    let bearer = up.token.as_ref().map(|t| t.expose());
    let headers = up.headers.iter().map(|(n, v)| (n.as_str(), v.expose()));
    let url = models_url(&up.url, None);
    let body = http
        .fetch_list(&up.url, &url, bearer, headers, MODEL_LIST_WAIT)
        .await
        .ok()?;
    let list: serde_json::Value = serde_json::from_slice(&body).ok()?;
    list.get("data")?
        .as_array()?
        .iter()
        .find_map(|m| m.get("id")?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::Cli;
    use crate::config::load::Env;

    fn config(yaml: &str, pairs: &[(&str, &str)]) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, yaml).unwrap();
        let home = dir.path().to_str().unwrap();
        let mut env = vec![("HOME", home), ("XDG_RUNTIME_DIR", home)];
        env.extend_from_slice(pairs);
        let cli = Cli {
            config: Some(path.to_str().unwrap().to_owned()),
            ..Cli::default()
        };
        crate::config::load(&cli, &Env::from_pairs(env)).unwrap()
    }

    const YAML: &str = "upstreams:\n  local: { url: 'http://127.0.0.1:9/v1', api_key_env: LOCAL_KEY }\n  other: { url: 'http://127.0.0.1:8/v1' }\nmodels:\n  fast: { upstream: local, model: Qwen/Qwen3-Coder }\n  big: { upstream: default, model: moonshotai/Kimi-K2.6 }\n";

    #[test]
    fn the_codex_model_wins_then_routes_then_the_default_model() {
        let c = config(YAML, &[]);
        let local = &c.upstreams["local"];
        let other = &c.upstreams["other"];
        let def = &c.default_upstream;
        assert_eq!(
            model_for(&c, def, Some("deepseek-ai/DeepSeek-V4-Pro")).as_deref(),
            Some("deepseek-ai/DeepSeek-V4-Pro")
        );
        // The alias is resolved to what the upstream serves.
        assert_eq!(
            model_for(&c, local, Some("fast")).as_deref(),
            Some("Qwen/Qwen3-Coder")
        );
        // Codex's model goes elsewhere: this upstream's own route.
        assert_eq!(
            model_for(&c, local, Some("other/x")).as_deref(),
            Some("Qwen/Qwen3-Coder")
        );
        assert_eq!(
            model_for(&c, def, None).as_deref(),
            Some("moonshotai/Kimi-K2.6")
        );
        // Nothing names a model for it: the list is asked.
        assert_eq!(model_for(&c, other, None), None);
        let plain = config("log: { level: info }\n", &[]);
        assert_eq!(
            model_for(&plain, &plain.default_upstream, None).as_deref(),
            Some(DEFAULT_MODEL)
        );
    }

    /// A token check answered by a redirect: the request is not sent on, and the check
    /// reports the 3xx with the host it pointed to (doctor then says to set the final URL).
    #[tokio::test]
    async fn a_redirected_token_check_reports_the_status_and_host() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let reply = "HTTP/1.1 308 Permanent Redirect\r\nlocation: https://moved.example/v1/chat/completions\r\ncontent-length: 0\r\n\r\n";
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        let yaml = format!("upstream: {{ url: 'http://{addr}/v1' }}\n");
        let c = config(&yaml, &[("DEEPINFRA_TOKEN", "sk-aaaaaaaaaaaa")]);
        let check = check_one(
            &UpstreamClient::new(),
            &c,
            &c.default_upstream,
            Some("m".into()),
        )
        .await;
        assert_eq!(check.status, Some(308));
        assert_eq!(check.result, CheckResult::Error);
        let message = check.message.unwrap();
        assert!(
            message.contains("redirecting to moved.example"),
            "{message}"
        );
    }

    #[test]
    fn which_token_a_request_would_carry() {
        let c = config(YAML, &[("DEEPINFRA_TOKEN", "sk-aaaaaaaaaaaa")]);
        assert_eq!(token_used(&c, &c.default_upstream), TokenUsed::Daemon);
        assert_eq!(token_used(&c, &c.upstreams["local"]), TokenUsed::None);
        let c = config(YAML, &[]);
        assert_eq!(
            token_used(&c, &c.default_upstream),
            TokenUsed::NoneCodexHeader
        );
        let keys = config(
            "listen: { client_keys_env: SHIM_KEYS }\n",
            &[("SHIM_KEYS", "k1")],
        );
        assert_eq!(token_used(&keys, &keys.default_upstream), TokenUsed::None);
    }
}
