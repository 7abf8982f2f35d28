//! `shimctl smoke`: one harmless live request ("Reply with exactly OK.") through the running
//! daemon's `/v1/responses`, streamed as Codex streams it, and a report: the model's answer,
//! the time to the first token and to the end, the tokens, and whether the stream is what
//! Codex needs ([`check`]).
//!
//! The request goes where Codex's would: the daemon's listen address from `status`, the model
//! Codex is set up with (or `--model`, or for `--upstream NAME` a model routed there), with
//! the client key from the environment when the daemon requires one, and otherwise the token
//! Codex would send when the daemon has none of its own. Nothing secret is printed.
//!
//! Exit status: 0 the stream is usable, 1 it is not (or the request failed), 3 no daemon.

pub mod check;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use self::check::{StreamCheck, Verdict, is_ok_answer};
use super::client::{Client, CtlError};
use super::codex_config::DEFAULT_MODEL;
use super::doctor::{self, Check};
use super::protocol::{Reply, Request, RouteReport, StatusReport};
use super::render::{Style, client_addr};
use crate::codex_toml;
use crate::config::load::{self, Env};
use crate::translate::sse::SseParser;

/// What the smoke request asks.
pub const PROMPT: &str = "Reply with exactly OK.";

/// Longest wait for the whole reply (a thinking model may take a while to start).
pub const TIMEOUT: Duration = Duration::from_secs(150);

/// Longest single event accepted from the daemon.
const MAX_EVENT: usize = 16 * 1024 * 1024;

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub model: Option<String>,
    pub upstream: Option<String>,
}

/// The result of a smoke run: the report (standard output), an error that stopped it before
/// the request (standard error), and the exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub report: String,
    pub error: String,
    pub code: u8,
}

/// A streamed Responses request shaped like Codex's, for `model`, with `input` items and
/// `tools` (function tools in the Responses shape).
pub fn request_body(model: &str, input: Vec<Value>, tools: Vec<Value>) -> Value {
    json!({
        "model": model,
        "instructions": "You are a connectivity check. Follow the user's instruction exactly.",
        "input": input,
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "store": false,
        "stream": true,
        "include": [],
    })
}

/// A user message item.
pub fn user_message(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// Why a request could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot reach the daemon at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// A non-200 answer: the status and the error message of its body.
    #[error("the daemon answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("no complete answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("the reply broke off: {0}")]
    Body(String),
}

/// POSTs `body` to `url` (a daemon's `/v1/responses`) with `key` as bearer token, reads the
/// event stream to its end and checks it.
pub async fn send(url: &str, key: Option<&str>, body: &Value) -> Result<Verdict, SendError> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SendError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(serde_json::to_vec(body).expect("a JSON value serializes"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let started = Instant::now();
    let exchange = async {
        let resp = req.send().await.map_err(|e| SendError::Connect {
            url: url.to_owned(),
            reason: e.without_url().to_string(),
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(SendError::Status {
                status,
                message: error_message(&text),
            });
        }
        let mut parser = SseParser::new(MAX_EVENT);
        let mut check = StreamCheck::new();
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    let at = started.elapsed();
                    parser
                        .push(&bytes, &mut |data| check.push(data, at))
                        .map_err(|e| SendError::Body(e.to_string()))?;
                }
                Ok(None) => break,
                Err(e) => return Err(SendError::Body(e.without_url().to_string())),
            }
        }
        let at = started.elapsed();
        parser.finish(&mut |data| check.push(data, at));
        Ok(check.finish(started.elapsed()))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .unwrap_or(Err(SendError::Timeout(TIMEOUT)))
}

/// `error.message` of an OpenAI error body, else the body's start.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// Runs `shimctl smoke`.
pub async fn run(client: &Client, env: &Env, opts: &Options, st: Style) -> Outcome {
    let status = match client.request(Request::Status).await {
        Ok(Reply {
            ok: true,
            status: Some(s),
            ..
        }) => s,
        Ok(r) => return failed(r.error.as_deref().unwrap_or("the daemon sent no status")),
        Err(e) => return not_running(&e),
    };
    let base = format!("http://{}/v1", client_addr(&status.listen));
    let codex = codex_model(env, &base);
    let model = match pick_model(&status, env, opts, codex.as_deref()) {
        Ok(m) => m,
        Err(why) => return failed(&why),
    };
    let route = match client
        .request(Request::Resolve {
            model: model.clone(),
        })
        .await
    {
        Ok(Reply {
            ok: true,
            route: Some(r),
            ..
        }) => r,
        Ok(r) => return failed(r.error.as_deref().unwrap_or("the daemon sent no route")),
        Err(e) if e.is_unreachable() => return not_running(&e),
        Err(e) => return failed(&e.to_string()),
    };
    if let Some(want) = &opts.upstream
        && &route.upstream != want
    {
        return failed(&format!(
            "model {model} goes to upstream '{}', not '{want}' (pick a model routed there \
             with --model, or add a route under models:)",
            route.upstream
        ));
    }
    let key = match credential(&status, &route, env, &codex_env_key(env, &base)) {
        Ok(k) => k,
        Err(why) => return failed(&why),
    };
    let url = format!("{base}/responses");
    let body = request_body(&model, vec![user_message(PROMPT)], vec![]);
    let head = format!(
        "smoke: POST {url}, model {model} -> upstream '{}' (as {})\n",
        route.upstream, route.upstream_model
    );
    let checks = match send(&url, key.as_deref(), &body).await {
        Ok(v) => verdict_lines(&v),
        Err(e) => vec![Check::fail("request", e.to_string(), send_hint(&e))],
    };
    let code = if doctor::all_good(&checks) { 0 } else { 1 };
    Outcome {
        report: head + &doctor::render(&checks, st),
        error: String::new(),
        code,
    }
}

fn failed(why: &str) -> Outcome {
    Outcome {
        error: format!("shimctl: smoke: {why}\n"),
        code: 1,
        ..Outcome::default()
    }
}

fn not_running(e: &CtlError) -> Outcome {
    Outcome {
        error: format!("shimctl: {e}\n"),
        code: if e.is_unreachable() { 3 } else { 1 },
        ..Outcome::default()
    }
}

/// The model Codex is set up with for this daemon, if its config says.
fn codex_model(env: &Env, base_url: &str) -> Option<String> {
    let dir = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME"))?;
    let report = codex_toml::check_dir(&dir, base_url).ok()?;
    report.uses.into_iter().find_map(|u| u.model)
}

/// The variable Codex sends its token from, if its config says.
fn codex_env_key(env: &Env, base_url: &str) -> Option<String> {
    let dir = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME"))?;
    let report = codex_toml::check_dir(&dir, base_url).ok()?;
    report.uses.into_iter().find_map(|u| u.env_key)
}

/// `--model`; else for `--upstream NAME` a model the daemon's config sends there; else the
/// model Codex is set up with; else the default one.
fn pick_model(
    status: &StatusReport,
    env: &Env,
    opts: &Options,
    codex: Option<&str>,
) -> Result<String, String> {
    if let Some(m) = &opts.model {
        return Ok(m.clone());
    }
    let Some(name) = &opts.upstream else {
        return Ok(codex.unwrap_or(DEFAULT_MODEL).to_owned());
    };
    if !status.upstreams.iter().any(|u| &u.name == name) {
        let known: Vec<&str> = status.upstreams.iter().map(|u| u.name.as_str()).collect();
        return Err(format!(
            "the daemon has no upstream '{name}' (it has: {})",
            known.join(", ")
        ));
    }
    let config = match &status.config_path {
        Some(p) => load::check_file(std::path::Path::new(p), env).ok(),
        None => None,
    };
    let found = config.as_ref().and_then(|c| {
        if let Some(m) = codex
            && &c.resolve(m).upstream.name == name
        {
            return Some(m.to_owned());
        }
        // The name Codex would send, so the route applies.
        c.routes
            .exact
            .iter()
            .find(|(_, r)| &r.upstream == name)
            .map(|(n, _)| n.clone())
    });
    match found {
        Some(m) => Ok(m),
        None if name == crate::config::DEFAULT_UPSTREAM => {
            Ok(codex.unwrap_or(DEFAULT_MODEL).to_owned())
        }
        None => Err(format!(
            "no route under models: sends a model to upstream '{name}'; name one with --model"
        )),
    }
}

/// The bearer token to send: a client key when the daemon requires one; else, when the
/// daemon has no token for that upstream, the one Codex would send (its `env_key`).
fn credential(
    status: &StatusReport,
    route: &RouteReport,
    env: &Env,
    codex_env_key: &Option<String>,
) -> Result<Option<String>, String> {
    if let Some(var) = &status.client_keys_env {
        let key = env
            .non_empty(var)
            .and_then(|v| v.split(',').map(str::trim).find(|k| !k.is_empty()));
        return match key {
            Some(k) => Ok(Some(k.to_owned())),
            None => Err(format!(
                "the daemon requires a client key (listen.client_keys_env: {var}): export {var} \
                 with one of its keys here"
            )),
        };
    }
    let up = status.upstreams.iter().find(|u| u.name == route.upstream);
    if up.is_some_and(|u| u.token_present) {
        return Ok(None);
    }
    let var = codex_env_key
        .clone()
        .or_else(|| up.map(|u| u.api_key_env.clone()));
    Ok(var.and_then(|v| env.non_empty(&v).map(str::to_owned)))
}

fn send_hint(e: &SendError) -> String {
    match e {
        SendError::Connect { .. } => {
            "the daemon's listen address does not answer; `shimctl status` shows it".to_owned()
        }
        SendError::Status { status: 401, .. } => {
            "the message says which token was used; `shimctl doctor` checks the daemon's".to_owned()
        }
        SendError::Status { .. } => {
            "the message is the daemon's or the provider's; `shimctl logs` shows more".to_owned()
        }
        SendError::Timeout(_) => {
            "the provider is slow or stuck; try again, or another model with --model".to_owned()
        }
        SendError::Body(_) => "`shimctl logs` shows why the stream ended".to_owned(),
    }
}

/// The report lines for a checked stream.
pub fn verdict_lines(v: &Verdict) -> Vec<Check> {
    let mut lines = Vec::new();
    let answer = v.text.trim();
    let shown: String = answer.chars().take(200).collect();
    if v.failure.is_some() || answer.is_empty() && v.function_calls.is_empty() {
        // The problems below say why there is no answer.
    } else if is_ok_answer(answer) {
        lines.push(Check::ok("answer", format!("{shown:?} (as asked)")));
    } else {
        lines.push(Check::warn(
            "answer",
            format!("{shown:?} (not exactly OK)"),
            "the model did not follow the instruction to the letter; the connection itself works",
        ));
    }
    let first = v
        .first_token
        .map(|d| format!("first token after {} ms", d.as_millis()))
        .unwrap_or_else(|| "no token".to_owned());
    let end = if v.terminal.is_some() {
        "complete"
    } else {
        "the stream ended"
    };
    lines.push(Check::ok(
        "time",
        format!("{first}, {end} after {} ms", v.total.as_millis()),
    ));
    if let Some(u) = v.usage {
        lines.push(Check::ok(
            "tokens",
            format!(
                "{} in ({} cached), {} out ({} reasoning), {} total",
                u.input, u.cached, u.output, u.reasoning, u.total
            ),
        ));
    }
    if v.usable() {
        let messages = v
            .items
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
            .count();
        lines.push(Check::ok(
            "codex",
            format!(
                "usable: response.created first, {} output item{} ({messages} message), {} with \
                 usage, {} events",
                v.items.len(),
                if v.items.len() == 1 { "" } else { "s" },
                v.terminal.as_deref().unwrap_or("?"),
                v.events
            ),
        ));
    }
    for p in &v.problems {
        lines.push(Check::fail(
            "codex",
            p.clone(),
            "this is what Codex would get; `shimctl logs` shows the daemon's side",
        ));
    }
    lines
}
