//! A scripted, in-process Chat Completions upstream for integration tests.
//!
//! [`MockUpstream::start`] binds `127.0.0.1:0` and serves HTTP/1.1 on the current tokio runtime.
//! Its [`url`](MockUpstream::url) looks like a provider base URL (`http://127.0.0.1:PORT/v1`), so
//! the daemon under test sends `POST {url}/chat/completions` and `GET {url}/models` to it.
//!
//! Contract:
//! - Every request is recorded ([`Recorded`]: method, path, lowercased headers, body bytes and
//!   parsed JSON) *before* it is answered, in arrival order.
//! - `POST …/chat/completions` is answered by, in order: the token check (if enabled, see
//!   [`MockUpstream::require_token`]: DeepInfra's exact 401 without the right bearer), the
//!   strict-reasoning check (if enabled, see [`MockUpstream::set_strict_reasoning`]), the FIFO
//!   script ([`MockUpstream::push`]), the dynamic handler ([`MockUpstream::set_handler`]), a
//!   one-token completion for a non-streamed `max_tokens: 1` request (the daemon's token check,
//!   answered as a provider would), and otherwise a 500 whose message says that nothing was
//!   scripted (so a test that forgot a reply fails loudly, not by hanging).
//! - `POST …/responses` is scripted the same way (minus the strict check); only the harness
//!   self-tests use it, to drive Codex without the daemon.
//! - `GET …/models` answers [`MockUpstream::set_models`] (default: a DeepInfra-shaped list),
//!   with or without a token, as DeepInfra's public list does.
//! - Anything else answers 404 with an OpenAI error envelope.
//! - Streaming replies use chunked transfer encoding; every [`Chunk`] is a separate body frame,
//!   flushed before the next one when a delay separates them.
//! - A response is counted as *cancelled* when the client goes away before the reply was fully
//!   handed to hyper (during a [`Reply::Delay`], between chunks, or while stalled). Replies that
//!   end with [`End::Close`] close on purpose and are not counted.
//!
//! Shapes follow docs/protocol.md#chunks: DeepInfra-style chunks (`role` on every delta,
//! usage on the finish chunk, `data: [DONE]` at the end) unless a test scripts raw bytes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The model name used in replies when the request names none.
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-V4-Flash";

/// The exact DeepSeek 400 body for a tool-call turn replayed without `reasoning_content`
/// (the `E11-400-deepseek_reasoning` fixture, docs/protocol.md#fixtures).
/// DeepInfra's 401 for a missing or wrong token (the `E11-401` fixture).
pub const NOT_AUTHENTICATED_BODY: &str = r#"{"error":{"message":"Not authenticated","type":"invalid_request_error","param":null,"code":null}}"#;

pub const DEEPSEEK_REASONING_MISSING_BODY: &str = r#"{"error":{"message":"The reasoning_content in the thinking mode must be passed back to the API.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#;

/// Pause between the writes of [`Reply::sse_split`], long enough for the client to see each
/// write as a separate read in practice.
pub const SPLIT_WRITE_GAP: Duration = Duration::from_millis(15);

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync + 'static>;
type MockBody = BoxBody<Bytes, io::Error>;

// ---------------------------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------------------------

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// 0-based arrival order among all requests this mock received.
    pub index: usize,
    pub method: String,
    /// Path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names lowercased, in arrival order; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The parsed JSON body; panics with the raw text when it is not JSON.
    pub fn json(&self) -> &Value {
        self.json.as_ref().unwrap_or_else(|| {
            panic!(
                "request #{} {} {} has no JSON body: {:?}",
                self.index,
                self.method,
                self.path,
                self.body_text()
            )
        })
    }

    /// `POST …/chat/completions`?
    pub fn is_chat(&self) -> bool {
        self.method == "POST" && self.path_only().ends_with("/chat/completions")
    }

    /// `POST …/responses`? (Scripted like chat requests, so that the harness itself can be
    /// tested by pointing Codex straight at the mock with `Reply::sse` of Responses events.)
    pub fn is_responses(&self) -> bool {
        self.method == "POST" && self.path_only().ends_with("/responses")
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }

    /// `stream` in the body (a missing field means `false`, as for the real APIs).
    pub fn is_stream(&self) -> bool {
        self.json
            .as_ref()
            .and_then(|j| j.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The `model` field of the body, if any.
    pub fn model(&self) -> Option<&str> {
        self.json.as_ref()?.get("model")?.as_str()
    }

    /// The chat `messages` array (empty when absent).
    pub fn messages(&self) -> Vec<Value> {
        self.json
            .as_ref()
            .and_then(|j| j.get("messages"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The `role` of every message, in order.
    pub fn roles(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| {
                m.get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// Messages with `role: "tool"`.
    pub fn tool_messages(&self) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
            .collect()
    }

    /// Does the history already contain tool results (i.e. is this a follow-up in a tool loop)?
    pub fn has_tool_messages(&self) -> bool {
        !self.tool_messages().is_empty()
    }

    /// The chat `tools` array (empty when absent).
    pub fn tools(&self) -> Vec<Value> {
        self.json
            .as_ref()
            .and_then(|j| j.get("tools"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The `function.name` of every chat tool, in order.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools()
            .iter()
            .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }

    /// The index of the first assistant message that carries `tool_calls` but no
    /// `reasoning_content` (missing or `null`; an empty string counts as present, as DeepSeek
    /// accepts it). This is what the strict DeepSeek/Kimi APIs reject.
    pub fn missing_reasoning_content(&self) -> Option<usize> {
        self.messages().iter().position(|m| {
            let is_assistant = m.get("role").and_then(Value::as_str) == Some("assistant");
            let has_calls = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            let has_reasoning = m.get("reasoning_content").is_some_and(|r| !r.is_null());
            is_assistant && has_calls && !has_reasoning
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// What the mock sends back for one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 `text/event-stream`; each event framed as `data: <payload>\n\n` (a payload may be
    /// `[DONE]`). Sent as one write.
    Sse { events: Vec<String> },
    /// 200 `text/event-stream` with the exact bytes of a fixture file, read when the reply is
    /// sent. A bare name like `"E1"` means `tests/fixtures/upstream/E1.sse`; anything containing a
    /// `/` or ending in `.sse` is a path (relative to the package root unless absolute).
    /// The optional split points cut the bytes into separate writes, as in [`Reply::sse_split`].
    Fixture { name: String, split_at: Vec<usize> },
    /// Any status with a fixed body (`content-type: application/json` unless `headers` sets one).
    Json {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Full control over bytes, timing and how the body ends.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Chunk>,
        end: End,
    },
    /// A semantic assistant turn, rendered DeepInfra-style as SSE for `stream: true` requests
    /// and as a `chat.completion` JSON object otherwise. Built by [`Reply::text`],
    /// [`Reply::tool_call`], [`ChatTurn`] and friends.
    Chat(ChatTurn),
    /// Waits before sending anything (not even headers), then sends the inner reply.
    Delay(Duration, Box<Reply>),
}

/// One body write of a [`Reply::Raw`], preceded by a pause.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub delay: Duration,
    pub bytes: Bytes,
}

impl Chunk {
    /// A write sent right away.
    pub fn new(bytes: impl Into<Bytes>) -> Chunk {
        Chunk {
            delay: Duration::ZERO,
            bytes: bytes.into(),
        }
    }

    /// A write sent after `delay`.
    pub fn after(delay: Duration, bytes: impl Into<Bytes>) -> Chunk {
        Chunk {
            delay,
            bytes: bytes.into(),
        }
    }

    /// One SSE event framed as `data: <payload>\n\n`, sent right away.
    pub fn event(payload: impl AsRef<str>) -> Chunk {
        Chunk::new(sse_frame(payload.as_ref()))
    }
}

/// How a [`Reply::Raw`] body ends after its chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Finish the body normally (terminating chunk; the connection may be kept alive).
    Finish,
    /// Drop the connection mid-body (no terminating chunk): the client sees a truncated body.
    Close,
    /// Keep the connection open and send nothing more, until the client goes away.
    Stall,
}

/// One tool call in a scripted assistant turn.
#[derive(Clone, Debug)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON text (what `function.arguments` carries).
    pub arguments: String,
}

impl ToolCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// Token counts put on the finish chunk (or the JSON completion).
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            prompt_tokens: 12,
            completion_tokens: 3,
            cached_tokens: 0,
        }
    }
}

/// A semantic assistant turn: optional reasoning, optional text, tool calls, finish reason
/// and usage. Rendering (see [`Reply::Chat`]):
/// - SSE: a first chunk `{"role":"assistant","content":""…}`, reasoning as `reasoning_content`
///   deltas, text in a few `content` deltas, each tool call OpenAI-style (first fragment with
///   `index`, `id`, `type`, `name`, `arguments:""`, then the arguments in two fragments), the
///   finish chunk `delta:{}` + `finish_reason` + usage, then `data: [DONE]`. Every non-final
///   delta repeats `"role":"assistant"`, as DeepInfra does.
/// - JSON: a `chat.completion` object with the same content.
#[derive(Clone, Debug)]
pub struct ChatTurn {
    pub reasoning: Option<String>,
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// Defaults to `tool_calls` when there are calls, else `stop`.
    pub finish_reason: Option<String>,
    /// `None` sends no usage at all (`"usage": null` on the finish chunk).
    pub usage: Option<Usage>,
    /// Overrides the model echoed in chunks (default: the request's `model`).
    pub model: Option<String>,
}

impl ChatTurn {
    pub fn new() -> ChatTurn {
        ChatTurn {
            reasoning: None,
            content: None,
            tool_calls: Vec::new(),
            finish_reason: None,
            usage: Some(Usage::default()),
            model: None,
        }
    }
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.content = Some(text.into());
        self
    }
    pub fn reasoning(mut self, text: impl Into<String>) -> Self {
        self.reasoning = Some(text.into());
        self
    }
    pub fn tool_call(mut self, call: ToolCall) -> Self {
        self.tool_calls.push(call);
        self
    }
    pub fn finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }
    pub fn usage(mut self, usage: Option<Usage>) -> Self {
        self.usage = usage;
        self
    }
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

impl Default for ChatTurn {
    fn default() -> Self {
        ChatTurn::new()
    }
}

impl From<ChatTurn> for Reply {
    fn from(turn: ChatTurn) -> Reply {
        Reply::Chat(turn)
    }
}

impl Reply {
    /// A plain text answer (E1-like when streamed), with default usage.
    pub fn text(text: impl Into<String>) -> Reply {
        ChatTurn::new().text(text).into()
    }

    /// A plain text answer with the given prompt/completion token counts.
    pub fn text_with_usage(text: impl Into<String>, prompt: u64, completion: u64) -> Reply {
        ChatTurn::new()
            .text(text)
            .usage(Some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                cached_tokens: 0,
            }))
            .into()
    }

    /// One tool call, OpenAI-style fragmented, `finish_reason: "tool_calls"`, with usage.
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        args_json: impl Into<String>,
    ) -> Reply {
        ChatTurn::new()
            .tool_call(ToolCall::new(id, name, args_json))
            .into()
    }

    /// Several tool calls in one turn (indexes 0, 1, …, sent one after the other).
    pub fn tool_calls(calls: Vec<ToolCall>) -> Reply {
        let mut turn = ChatTurn::new();
        turn.tool_calls = calls;
        turn.into()
    }

    /// E8 style: `reasoning_content` deltas, then one tool call.
    pub fn reasoning_then_tool_call(
        reasoning: impl Into<String>,
        id: impl Into<String>,
        name: impl Into<String>,
        args_json: impl Into<String>,
    ) -> Reply {
        ChatTurn::new()
            .reasoning(reasoning)
            .tool_call(ToolCall::new(id, name, args_json))
            .into()
    }

    /// E7 style: `reasoning_content` deltas, then text.
    pub fn reasoning_then_text(reasoning: impl Into<String>, text: impl Into<String>) -> Reply {
        ChatTurn::new().reasoning(reasoning).text(text).into()
    }

    /// 200 SSE with the given `data:` payloads (each framed as `data: <payload>\n\n`).
    pub fn sse<I, S>(events: I) -> Reply
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Reply::Sse {
            events: events.into_iter().map(Into::into).collect(),
        }
    }

    /// 200 SSE: `bytes` written in several writes, cut at the given byte offsets (in any order;
    /// duplicates and out-of-range offsets are ignored), with [`SPLIT_WRITE_GAP`] between writes
    /// so that the client reads them separately. Offsets may fall inside UTF-8 characters.
    pub fn sse_split(bytes: impl Into<Bytes>, split_points: &[usize]) -> Reply {
        Reply::Raw {
            status: 200,
            headers: sse_headers(),
            chunks: split_chunks(bytes.into(), split_points, SPLIT_WRITE_GAP),
            end: End::Finish,
        }
    }

    /// A fixture file (see [`Reply::Fixture`]), sent in one write.
    pub fn fixture(name: impl Into<String>) -> Reply {
        Reply::Fixture {
            name: name.into(),
            split_at: Vec::new(),
        }
    }

    /// A fixture file cut into several writes at the given byte offsets.
    pub fn fixture_split(name: impl Into<String>, split_points: &[usize]) -> Reply {
        Reply::Fixture {
            name: name.into(),
            split_at: split_points.to_vec(),
        }
    }

    /// A pre-stream error fixture, `tests/fixtures/upstream/E11-<status>-<name>.json`: the
    /// status comes from the file name, the body is the file's exact bytes (an empty file means
    /// an empty body without content type). Accepts the bare stem (`"E11-429-model_busy"`) or a
    /// path. Read now; panics if the file is missing or its name carries no status.
    pub fn error_fixture(name: &str) -> Reply {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let path = if name.contains('/') || name.ends_with(".json") {
            let p = PathBuf::from(name);
            if p.is_absolute() { p } else { root.join(p) }
        } else {
            root.join("tests/fixtures/upstream")
                .join(format!("{name}.json"))
        };
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let status: u16 = file_name
            .split('-')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!("error fixture {file_name}: expected E11-<status>-<name>.json")
            });
        let body = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("error fixture {}: {e}", path.display()));
        Reply::json(status, body)
    }

    /// Any status with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Json {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// An OpenAI-envelope error, as current DeepInfra sends them:
    /// `{"error":{"message","type","param":null,"code"}}`.
    pub fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Reply {
        let body =
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
        Reply::json(status, body.to_string())
    }

    /// The exact DeepSeek 400 for a tool-call turn replayed without `reasoning_content`.
    pub fn deepseek_reasoning_missing() -> Reply {
        Reply::json(400, DEEPSEEK_REASONING_MISSING_BODY)
    }

    /// The Moonshot (Kimi) 400 for the same mistake, naming the message index.
    pub fn kimi_reasoning_missing(message_index: usize) -> Reply {
        let body = json!({"error": {
            "message": format!("thinking is enabled but reasoning_content is missing in assistant tool call message at index {message_index}"),
            "type": "invalid_request_error"}});
        Reply::json(400, body.to_string())
    }

    /// Adds a response header (to `Json`, `Raw`, `Sse`/`Fixture`/`Chat` are converted as needed).
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        let (name, value) = (name.into(), value.into());
        match self {
            Reply::Json {
                status,
                body,
                mut headers,
            } => {
                headers.push((name, value));
                Reply::Json {
                    status,
                    body,
                    headers,
                }
            }
            Reply::Raw {
                status,
                mut headers,
                chunks,
                end,
            } => {
                headers.push((name, value));
                Reply::Raw {
                    status,
                    headers,
                    chunks,
                    end,
                }
            }
            Reply::Delay(d, inner) => Reply::Delay(d, Box::new(inner.with_header(name, value))),
            Reply::Sse { events } => {
                let mut headers = sse_headers();
                headers.push((name, value));
                Reply::Raw {
                    status: 200,
                    headers,
                    chunks: vec![Chunk::new(frame_events(&events))],
                    end: End::Finish,
                }
            }
            other => panic!("with_header is not supported on {other:?}; use Reply::Raw"),
        }
    }

    /// Waits `delay` before sending anything (not even the status line), then sends `reply`.
    pub fn delay(delay: Duration, reply: Reply) -> Reply {
        Reply::Delay(delay, Box::new(reply))
    }

    /// 200 SSE that sends the given events, then keeps the connection open and silent.
    pub fn sse_then_stall<I, S>(events: I) -> Reply
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Reply::Raw {
            status: 200,
            headers: sse_headers(),
            chunks: events.into_iter().map(Chunk::event).collect(),
            end: End::Stall,
        }
    }

    /// 200 SSE that sends the given events, then drops the connection mid-body.
    pub fn sse_then_close<I, S>(events: I) -> Reply
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Reply::Raw {
            status: 200,
            headers: sse_headers(),
            chunks: events.into_iter().map(Chunk::event).collect(),
            end: End::Close,
        }
    }
}

/// `data: <payload>\n\n`.
pub fn sse_frame(payload: &str) -> String {
    format!("data: {payload}\n\n")
}

fn frame_events(events: &[String]) -> Bytes {
    Bytes::from(events.iter().map(|e| sse_frame(e)).collect::<String>())
}

fn sse_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "text/event-stream".into()),
        ("cache-control".into(), "no-cache".into()),
    ]
}

fn split_chunks(bytes: Bytes, points: &[usize], gap: Duration) -> Vec<Chunk> {
    let mut cuts: Vec<usize> = points
        .iter()
        .copied()
        .filter(|&p| p > 0 && p < bytes.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
        let delay = if start == 0 { Duration::ZERO } else { gap };
        chunks.push(Chunk::after(delay, bytes.slice(start..cut)));
        start = cut;
    }
    chunks
}

/// The path of a fixture: a bare name means `tests/fixtures/upstream/<name>.sse`.
pub fn fixture_path(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if name.contains('/') || name.ends_with(".sse") {
        let p = PathBuf::from(name);
        if p.is_absolute() { p } else { root.join(p) }
    } else {
        root.join("tests/fixtures/upstream")
            .join(format!("{name}.sse"))
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering a ChatTurn
// ---------------------------------------------------------------------------------------------

const CREATED: u64 = 1_760_000_000;

/// Cuts `text` into up to three pieces at char boundaries (preferring spaces), so that the
/// client has to concatenate deltas.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    if chars.len() < 4 {
        return vec![text.to_owned()];
    }
    let mut cuts = Vec::new();
    for third in [chars.len() / 3, 2 * chars.len() / 3] {
        // Prefer the next space after the target so words stay whole, like real tokenizers.
        let at = chars[third..]
            .iter()
            .find(|(_, c)| *c == ' ')
            .map(|(i, _)| *i)
            .unwrap_or(chars[third].0);
        if at > 0 && cuts.last().is_none_or(|&l| at > l) {
            cuts.push(at);
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(text.len())) {
        if cut > start {
            out.push(text[start..cut].to_owned());
            start = cut;
        }
    }
    out
}

/// Splits argument text in two at a char boundary near the middle (the client must not parse
/// fragments).
fn halves(text: &str) -> Vec<String> {
    if text.len() < 2 {
        return vec![text.to_owned()];
    }
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid += 1;
    }
    vec![text[..mid].to_owned(), text[mid..].to_owned()]
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "completion_tokens": usage.completion_tokens,
        "estimated_cost": 9.0e-07,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    })
}

fn finish_reason(turn: &ChatTurn) -> String {
    turn.finish_reason.clone().unwrap_or_else(|| {
        if turn.tool_calls.is_empty() {
            "stop".into()
        } else {
            "tool_calls".into()
        }
    })
}

/// The SSE `data:` payloads for a turn, `[DONE]` included.
pub fn chat_turn_events(turn: &ChatTurn, model: &str, id: &str) -> Vec<String> {
    let chunk = |delta: Value, finish: Option<&str>, usage: Value| -> String {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage,
        })
        .to_string()
    };
    let mut events = Vec::new();
    if let Some(reasoning) = &turn.reasoning {
        events.push(chunk(
            json!({"role": "assistant", "content": null, "reasoning_content": ""}),
            None,
            Value::Null,
        ));
        for piece in pieces(reasoning) {
            events.push(chunk(
                json!({"role": "assistant", "content": null, "reasoning_content": piece}),
                None,
                Value::Null,
            ));
        }
    } else {
        events.push(chunk(
            json!({"role": "assistant", "content": "", "tool_calls": null}),
            None,
            Value::Null,
        ));
    }
    if let Some(content) = &turn.content {
        for piece in pieces(content) {
            events.push(chunk(
                json!({"role": "assistant", "content": piece, "tool_calls": null}),
                None,
                Value::Null,
            ));
        }
    }
    for (index, call) in turn.tool_calls.iter().enumerate() {
        events.push(chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "index": index, "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": ""}}]}),
            None,
            Value::Null,
        ));
        for piece in halves(&call.arguments) {
            events.push(chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "index": index, "function": {"arguments": piece}}]}),
                None,
                Value::Null,
            ));
        }
    }
    let usage = turn.usage.as_ref().map(usage_json).unwrap_or(Value::Null);
    events.push(chunk(json!({}), Some(&finish_reason(turn)), usage));
    events.push("[DONE]".to_owned());
    events
}

/// The non-streaming `chat.completion` object for a turn.
pub fn chat_turn_json(turn: &ChatTurn, model: &str, id: &str) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": turn.content,
        "name": null,
        "tool_calls": null,
    });
    if let Some(reasoning) = &turn.reasoning {
        message["reasoning_content"] = json!(reasoning);
    }
    if !turn.tool_calls.is_empty() {
        message["tool_calls"] = turn
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    json!({
        "id": id, "object": "chat.completion", "created": CREATED, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(turn)}],
        "usage": turn.usage.as_ref().map(usage_json).unwrap_or(Value::Null),
    })
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

struct State {
    queue: Mutex<VecDeque<Reply>>,
    handler: Mutex<Option<Handler>>,
    strict_reasoning: Mutex<bool>,
    required_token: Mutex<Option<String>>,
    requests: Mutex<Vec<Recorded>>,
    models: Mutex<Value>,
    /// Replaces the `GET …/models` answer when set (an error, a text body, extra headers).
    models_reply: Mutex<Option<Reply>>,
    cancelled: AtomicUsize,
    completed: AtomicUsize,
    open_connections: AtomicUsize,
    /// Bumped on every observable change; waiters re-check their condition.
    changes: watch::Sender<u64>,
}

impl State {
    fn bump(&self) {
        self.changes.send_modify(|v| *v += 1);
    }
}

/// The mock upstream. Dropping it stops accepting new connections; connections in flight end
/// when their client goes away or the runtime shuts down.
pub struct MockUpstream {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept_task: JoinHandle<()>,
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl MockUpstream {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> MockUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("mock upstream: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("mock upstream: local_addr");
        let state = Arc::new(State {
            queue: Mutex::new(VecDeque::new()),
            handler: Mutex::new(None),
            strict_reasoning: Mutex::new(false),
            required_token: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            models: Mutex::new(default_models()),
            models_reply: Mutex::new(None),
            cancelled: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            open_connections: AtomicUsize::new(0),
            changes: watch::channel(0).0,
        });
        let accept_state = state.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = accept_state.clone();
                tokio::spawn(async move {
                    state.open_connections.fetch_add(1, Ordering::SeqCst);
                    state.bump();
                    let svc_state = state.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let state = svc_state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    state.open_connections.fetch_sub(1, Ordering::SeqCst);
                    state.bump();
                });
            }
        });
        MockUpstream {
            addr,
            state,
            accept_task,
        }
    }

    /// The provider base URL, `http://127.0.0.1:PORT/v1` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Appends a reply to the FIFO script for `POST …/chat/completions`.
    pub fn push(&self, reply: impl Into<Reply>) {
        self.state.queue.lock().unwrap().push_back(reply.into());
    }

    /// The replies still queued.
    pub fn queued(&self) -> usize {
        self.state.queue.lock().unwrap().len()
    }

    /// Sets the dynamic reply function, used whenever the script queue is empty.
    pub fn set_handler(&self, f: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.state.handler.lock().unwrap() = Some(Arc::new(f));
    }

    /// Strict DeepSeek mode: a chat request whose history has an assistant message with
    /// `tool_calls` but without `reasoning_content` is answered with DeepSeek's exact 400
    /// ([`DEEPSEEK_REASONING_MISSING_BODY`]) before the script or handler is consulted (and
    /// without consuming a scripted reply).
    pub fn set_strict_reasoning(&self, on: bool) {
        *self.state.strict_reasoning.lock().unwrap() = on;
    }

    /// From now on, a chat request without `Authorization: Bearer <token>` is answered with
    /// DeepInfra's 401 ([`NOT_AUTHENTICATED_BODY`]) before anything else is consulted (and
    /// without consuming a scripted reply). `None` turns the check off.
    pub fn require_token(&self, token: Option<&str>) {
        *self.state.required_token.lock().unwrap() = token.map(str::to_owned);
    }

    /// Sets the body of `GET …/models`.
    pub fn set_models(&self, body: Value) {
        *self.state.models.lock().unwrap() = body;
    }

    /// Answers `GET …/models` with `reply` instead of the list (`None`: the list again).
    pub fn set_models_reply(&self, reply: Option<Reply>) {
        *self.state.models_reply.lock().unwrap() = reply;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The `POST …/chat/completions` requests received so far.
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_chat)
            .collect()
    }

    /// Waits until at least `n` requests (of any kind) arrived and returns all of them.
    /// Panics with what did arrive when `timeout` passes first.
    pub async fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let ok = self
            .wait_until(timeout, |s| s.requests.lock().unwrap().len() >= n)
            .await;
        let got = self.requests();
        if !ok {
            let seen: Vec<String> = got
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            panic!(
                "mock upstream: expected {n} request(s) within {timeout:?}, got {}: {seen:?}",
                got.len()
            );
        }
        got
    }

    /// Waits until at least `n` chat requests arrived and returns the chat requests.
    pub async fn wait_chat_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let ok = self
            .wait_until(timeout, |s| {
                s.requests
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|r| r.is_chat())
                    .count()
                    >= n
            })
            .await;
        let got = self.chat_requests();
        if !ok {
            panic!(
                "mock upstream: expected {n} chat request(s) within {timeout:?}, got {}",
                got.len()
            );
        }
        got
    }

    /// Waits until some reply was cut short because the client went away (during a delay,
    /// between chunks or while stalled). `false` if that did not happen within `timeout`.
    pub async fn wait_cancelled(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.cancelled.load(Ordering::SeqCst) > 0)
            .await
    }

    /// How many replies the client abandoned (see [`MockUpstream::wait_cancelled`]).
    pub fn cancelled_count(&self) -> usize {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// How many replies were sent to the end (streams: every chunk handed over and the body
    /// finished; fixed bodies: the response was returned to hyper).
    pub fn completed_count(&self) -> usize {
        self.state.completed.load(Ordering::SeqCst)
    }

    /// TCP connections currently open (idle keep-alive connections included).
    pub fn open_connections(&self) -> usize {
        self.state.open_connections.load(Ordering::SeqCst)
    }

    /// Waits until no connection is open. `false` on timeout.
    pub async fn wait_connections_closed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.open_connections.load(Ordering::SeqCst) == 0)
            .await
    }

    async fn wait_until(&self, timeout: Duration, cond: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribing first means any change after the check below wakes us.
        let mut rx = self.state.changes.subscribe();
        loop {
            if cond(&self.state) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return cond(&self.state),
            }
        }
    }
}

fn default_models() -> Value {
    json!({"object": "list", "data": [
        {"id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": DEFAULT_MODEL, "parent": null,
         "metadata": {"description": "mock", "context_length": 163840, "max_tokens": 16384,
                      "pricing": {"input_tokens": 0.1, "output_tokens": 0.2}, "tags": ["chat"]}}
    ]})
}

/// Counts a reply as cancelled if dropped before `finish` (hyper drops the service future
/// when the connection goes away).
struct CancelGuard {
    state: Arc<State>,
    armed: bool,
}

impl CancelGuard {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            self.state.cancelled.fetch_add(1, Ordering::SeqCst);
            self.state.bump();
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<MockBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return plain_error(400, &format!("mock upstream: reading the body failed: {e}")),
    };
    let recorded = {
        let mut requests = state.requests.lock().unwrap();
        let rec = Recorded {
            index: requests.len(),
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| parts.uri.path().to_owned()),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            json: serde_json::from_slice(&body).ok(),
            body,
        };
        requests.push(rec.clone());
        rec
    };
    state.bump();

    let reply = if recorded.is_chat() || recorded.is_responses() {
        choose_chat_reply(&state, &recorded)
    } else if recorded.method == "GET" && recorded.path_only().ends_with("/models") {
        let scripted = state.models_reply.lock().unwrap().clone();
        scripted.unwrap_or_else(|| Reply::json(200, state.models.lock().unwrap().to_string()))
    } else {
        Reply::error(
            404,
            &format!(
                "mock upstream: no route for {} {}",
                recorded.method, recorded.path
            ),
            "invalid_request_error",
            None,
        )
    };
    let guard = CancelGuard {
        state: state.clone(),
        armed: true,
    };
    let response = render(&state, reply, &recorded).await;
    guard.disarm();
    response
}

fn choose_chat_reply(state: &State, rec: &Recorded) -> Reply {
    if let Some(token) = state.required_token.lock().unwrap().as_deref()
        && rec.header("authorization") != Some(&format!("Bearer {token}"))
    {
        return Reply::json(401, NOT_AUTHENTICATED_BODY);
    }
    if rec.is_chat()
        && *state.strict_reasoning.lock().unwrap()
        && rec.missing_reasoning_content().is_some()
    {
        return Reply::deepseek_reasoning_missing();
    }
    if let Some(reply) = state.queue.lock().unwrap().pop_front() {
        return reply;
    }
    let handler = state.handler.lock().unwrap().clone();
    let one_token = rec.is_chat()
        && !rec.is_stream()
        && rec.json.as_ref().and_then(|j| j.get("max_tokens")) == Some(&json!(1));
    match handler {
        Some(h) => h(rec),
        // What a provider answers to a one-token request: the first token, cut at the limit.
        None if one_token => ChatTurn::new()
            .text("OK")
            .finish_reason("length")
            .usage(Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 1,
                cached_tokens: 0,
            }))
            .into(),
        None => Reply::error(
            500,
            &format!(
                "mock upstream: no scripted reply for chat request #{} (push one or set a handler)",
                rec.index
            ),
            "server_error",
            None,
        ),
    }
}

fn plain_error(status: u16, message: &str) -> Response<MockBody> {
    let body =
        json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}});
    fixed_response(status, &[], Bytes::from(body.to_string()))
}

fn fixed_response(status: u16, headers: &[(String, String)], body: Bytes) -> Response<MockBody> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    let has_ct = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if !has_ct && !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(
            Full::new(body)
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
        .expect("mock upstream: building a response")
}

/// Resolves a reply into a response, spawning a writer task for streamed bodies.
fn render<'a>(
    state: &'a Arc<State>,
    reply: Reply,
    rec: &'a Recorded,
) -> Pin<Box<dyn Future<Output = Response<MockBody>> + Send + 'a>> {
    Box::pin(async move {
        match reply {
            Reply::Delay(delay, inner) => {
                tokio::time::sleep(delay).await;
                render(state, *inner, rec).await
            }
            Reply::Json {
                status,
                body,
                headers,
            } => {
                state.completed.fetch_add(1, Ordering::SeqCst);
                state.bump();
                fixed_response(status, &headers, Bytes::from(body))
            }
            Reply::Sse { events } => stream_response(
                state,
                200,
                sse_headers(),
                vec![Chunk::new(frame_events(&events))],
                End::Finish,
            ),
            Reply::Fixture { name, split_at } => {
                let path = fixture_path(&name);
                match std::fs::read(&path) {
                    Ok(bytes) => stream_response(
                        state,
                        200,
                        sse_headers(),
                        split_chunks(Bytes::from(bytes), &split_at, SPLIT_WRITE_GAP),
                        End::Finish,
                    ),
                    Err(e) => {
                        eprintln!("mock upstream: fixture {} unreadable: {e}", path.display());
                        plain_error(
                            500,
                            &format!("mock upstream: fixture {} unreadable: {e}", path.display()),
                        )
                    }
                }
            }
            Reply::Raw {
                status,
                headers,
                chunks,
                end,
            } => stream_response(state, status, headers, chunks, end),
            Reply::Chat(turn) => {
                let model = turn
                    .model
                    .clone()
                    .or_else(|| rec.model().map(str::to_owned))
                    .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
                let id = format!("chatcmpl-mock{:04}", rec.index);
                if rec.is_stream() {
                    let events = chat_turn_events(&turn, &model, &id);
                    let chunks = events.iter().map(Chunk::event).collect();
                    stream_response(state, 200, sse_headers(), chunks, End::Finish)
                } else {
                    state.completed.fetch_add(1, Ordering::SeqCst);
                    state.bump();
                    fixed_response(
                        200,
                        &[],
                        Bytes::from(chat_turn_json(&turn, &model, &id).to_string()),
                    )
                }
            }
        }
    })
}

/// A body fed by a channel: each message is one frame; an `Err` aborts the connection.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

fn stream_response(
    state: &Arc<State>,
    status: u16,
    headers: Vec<(String, String)>,
    chunks: Vec<Chunk>,
    end: End,
) -> Response<MockBody> {
    // Capacity 1: a send completes only when hyper has taken the previous frame, so delays
    // really separate writes and a vanished client is noticed promptly.
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(1);
    let state = state.clone();
    tokio::spawn(async move {
        let cancelled = |state: &State| {
            state.cancelled.fetch_add(1, Ordering::SeqCst);
            state.bump();
        };
        for chunk in chunks {
            if !chunk.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(chunk.delay) => {}
                    _ = tx.closed() => return cancelled(&state),
                }
            }
            if tx.send(Ok(chunk.bytes)).await.is_err() {
                return cancelled(&state);
            }
        }
        match end {
            End::Finish => {
                // Wait until hyper has taken the last frame before calling it complete.
                let permit = tx.reserve().await;
                if permit.is_err() {
                    return cancelled(&state);
                }
                drop(permit);
                drop(tx);
                state.completed.fetch_add(1, Ordering::SeqCst);
                state.bump();
            }
            End::Close => {
                let _ = tx
                    .send(Err(io::Error::other("mock upstream: closing mid-body")))
                    .await;
            }
            End::Stall => {
                tx.closed().await;
                cancelled(&state);
            }
        }
    });
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(ChannelBody { rx }.boxed())
        .expect("mock upstream: building a streaming response")
}
