//! Workloads shared by the proxy benchmark (`benches/proxy/`) and the translation
//! micro-benchmarks (`benches/translate.rs`).
//!
//! Everything is generated deterministically in code (no fixture files, no randomness), so
//! every run and every process that builds a scenario gets the same bytes:
//! - Responses request bodies shaped like what Codex 0.169.0 sends (docs/protocol.md#request): two
//!   developer messages, the `<environment_context>` user message, the user's prompt, and ten
//!   top-level tools (seven functions, the `multi_agent_v1` namespace, the freeform
//!   `apply_patch` and the hosted `web_search`);
//! - a long session: the same plus 90 reasoning / `function_call` / `function_call_output`
//!   turns (~400 KB);
//! - chat-completions replies in DeepInfra's shape (docs/protocol.md#chunks): `role` on every delta,
//!   usage on the finish chunk, `data: [DONE]` at the end; one SSE event per upstream write.
//!
//! A [`Scenario`] bundles a Responses body (what Codex sends the daemon), its chat-shaped
//! equivalent (what the daemon would send upstream, produced by the crate's own
//! `translate_request`, so "direct" and "through the daemon" carry the same content), the
//! upstream reply, and what a correct translated reply must contain.

#![allow(dead_code)] // each bench target uses a different part

use std::time::Duration;

use deepinfra_shim::translate::TranslateOptions;
use deepinfra_shim::translate::reasoning;
use deepinfra_shim::translate::request::{parse_request, translate_request};
use serde_json::{Value, json};

/// The model name every scenario's model starts with; the rest names the scenario, so the
/// mock upstream knows which reply to send from the `model` field alone.
pub const MODEL_PREFIX: &str = "bench/";

/// Deterministic English-like filler: `len` bytes (approximately, never less) of sentences
/// with the punctuation, quotes and newlines real prompts and tool outputs have, so JSON
/// escaping costs what it costs in real traffic.
pub fn prose(seed: u64, len: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "agent",
        "should",
        "run",
        "tests",
        "before",
        "editing",
        "files",
        "and",
        "read",
        "output",
        "carefully",
        "when",
        "a",
        "command",
        "fails",
        "inspect",
        "error",
        "message",
        "sandbox",
        "workspace",
        "repository",
        "patch",
        "apply",
        "user",
        "request",
        "tool",
        "call",
        "shell",
        "with",
        "approval",
        "policy",
        "never",
        "ask",
        "for",
        "escalated",
        "permissions",
        "unless",
        "needed",
        "prefer",
        "rg",
        "over",
        "grep",
        "keep",
        "changes",
        "minimal",
        "focused",
        "on",
        "task",
        "summarize",
        "results",
        "briefly",
        "in",
        "final",
        "answer",
        "use",
        "`cargo test`",
        "\"quoted\"",
        "path/to/file.rs",
        "line",
        "42:",
        "diff",
        "--git",
        "a/src/lib.rs",
        "b/src/lib.rs",
        "warning:",
        "unused",
        "variable",
    ];
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut out = String::with_capacity(len + 64);
    let mut in_sentence = 0;
    while out.len() < len {
        let w = WORDS[next() % WORDS.len()];
        if in_sentence == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
        in_sentence += 1;
        if in_sentence > 6 && next() % 5 == 0 {
            out.push('.');
            in_sentence = 0;
            out.push(if next() % 4 == 0 { '\n' } else { ' ' });
        }
    }
    out
}

fn function_tool(name: &str, description: &str, parameters: Value) -> Value {
    json!({"type": "function", "name": name, "description": description, "strict": false,
           "parameters": parameters})
}

/// The ten top-level tools of a Codex `exec` request for a non-bundled model
/// (docs/protocol.md#tools), with descriptions and schemas of realistic size.
pub fn codex_tools() -> Vec<Value> {
    let s = |d: &str| json!({"type": "string", "description": d});
    let n = |d: &str| json!({"type": "number", "description": d});
    let b = |d: &str| json!({"type": "boolean", "description": d});
    let agent_fn = |name: &str, seed: u64| {
        json!({"type": "function", "name": name, "description": prose(seed, 420), "strict": false,
               "parameters": {"type": "object", "properties": {
                   "id": s("Identifier of the agent, as returned by spawn_agent."),
                   "message": s(&prose(seed + 1, 120)),
                   "timeout_ms": n("How long to wait, in milliseconds.")},
               "required": ["id"], "additionalProperties": false}})
    };
    vec![
        function_tool(
            "exec_command",
            &format!(
                "Runs a command in a PTY, returning output or a session ID for ongoing interaction.\n{}",
                prose(11, 900)
            ),
            json!({"type": "object", "properties": {
                "cmd": s("Shell command to execute."),
                "workdir": s("Optional working directory to run the command in; defaults to the turn cwd."),
                "shell": s("Shell binary to launch. Defaults to the user's default shell."),
                "tty": b("Whether to allocate a TTY for the command. Defaults to false (plain pipes); set to true to open a PTY and access TTY process."),
                "yield_time_ms": n("How long to wait (in milliseconds) for output before yielding."),
                "max_output_tokens": n("Maximum number of tokens to return. Excess output will be truncated."),
                "login": b("Whether to run the shell with -l/-i semantics. Defaults to true."),
                "sandbox_permissions": s(&prose(12, 260)),
                "justification": s(&prose(13, 380)),
                "prefix_rule": {"type": "array", "items": {"type": "string"}, "description": prose(14, 300)}},
              "required": ["cmd"], "additionalProperties": false}),
        ),
        function_tool(
            "write_stdin",
            &format!(
                "Writes characters to an existing unified exec session and returns recent output.\n{}",
                prose(21, 300)
            ),
            json!({"type": "object", "properties": {
                "session_id": n("Identifier of the running unified exec session."),
                "chars": s("Bytes to write to stdin (may be empty to poll)."),
                "yield_time_ms": n("How long to wait (in milliseconds) for output before yielding."),
                "max_output_tokens": n("Maximum number of tokens to return. Excess output will be truncated.")},
              "required": ["session_id"], "additionalProperties": false}),
        ),
        function_tool(
            "request_user_input",
            &prose(31, 700),
            json!({"type": "object", "properties": {"questions": {"type": "array", "description": prose(32, 200),
                "items": {"type": "object", "properties": {
                    "id": s("Stable identifier for mapping answers (snake_case)."),
                    "header": s("Short header label shown in the UI (12 or fewer chars)."),
                    "question": s("Single-sentence prompt shown to the user."),
                    "options": {"type": "array", "description": prose(33, 260), "items": {"type": "object",
                        "properties": {"label": s("User-facing label (1-5 words)."),
                                       "description": s("One short sentence explaining impact/tradeoff if selected.")},
                        "required": ["label", "description"], "additionalProperties": false}}},
                    "required": ["id", "header", "question", "options"], "additionalProperties": false}}},
              "required": ["questions"], "additionalProperties": false}),
        ),
        function_tool(
            "view_image",
            "View a local image from the filesystem (only use if given a full filepath by the user, and the image isn't already attached to the thread context within <image ...> tags).",
            json!({"type": "object", "properties": {"path": s("Local filesystem path to an image file")},
                   "required": ["path"], "additionalProperties": false}),
        ),
        function_tool(
            "get_goal",
            &prose(41, 260),
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        function_tool(
            "create_goal",
            &prose(51, 520),
            json!({"type": "object", "properties": {"objective": s(&prose(52, 200)),
                   "token_budget": n("Optional token budget for the goal.")},
                   "required": ["objective"], "additionalProperties": false}),
        ),
        function_tool(
            "update_goal",
            &prose(61, 480),
            json!({"type": "object", "properties": {"status": {"type": "string", "enum": ["complete"],
                   "description": prose(62, 120)}}, "required": ["status"], "additionalProperties": false}),
        ),
        json!({"type": "namespace", "name": "multi_agent_v1", "description": prose(71, 300), "tools": [
            agent_fn("spawn_agent", 72), agent_fn("send_input", 74), agent_fn("wait_agent", 76),
            agent_fn("resume_agent", 78), agent_fn("close_agent", 80)]}),
        json!({"type": "custom", "name": "apply_patch",
               "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
               "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR}}),
        json!({"type": "web_search", "external_web_access": false}),
    ]
}

const APPLY_PATCH_GRAMMAR: &str = r#"start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"#;

fn message(role: &str, id: &str, text: &str) -> Value {
    json!({"type": "message", "id": id, "role": role,
           "content": [{"type": "input_text", "text": text}]})
}

/// The first messages of a Codex thread: base prompt, permissions, environment context and
/// the user's prompt. `base_prompt_len` sets the size of the base prompt.
fn codex_preamble(base_prompt_len: usize, prompt: &str) -> Vec<Value> {
    vec![
        message(
            "developer",
            "msg_0199a1b2c3d4e5f6",
            &format!(
                "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.\n\n## General\n\n{}",
                prose(1, base_prompt_len)
            ),
        ),
        message(
            "developer",
            "msg_0199a1b2c3d4e5f7",
            &format!(
                "<permissions instructions>\nFilesystem sandboxing defines which files can be read or written. `sandbox_mode` is `workspace-write`.\n{}\n</permissions instructions>",
                prose(2, 1800)
            ),
        ),
        message(
            "user",
            "msg_0199a1b2c3d4e5f8",
            "<environment_context>\n  <cwd>/home/dev/src/parser</cwd>\n  <approval_policy>never</approval_policy>\n  <sandbox_mode>workspace-write</sandbox_mode>\n  <network_access>restricted</network_access>\n  <shell>bash</shell>\n  <current_date>2026-11-25</current_date>\n  <timezone>Europe/Berlin</timezone>\n</environment_context>",
        ),
        message("user", "msg_0199a1b2c3d4e5f9", prompt),
    ]
}

fn codex_request(model: &str, input: Vec<Value>) -> Value {
    json!({
        "model": model, "instructions": null, "input": input, "tools": codex_tools(),
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"summary": "auto"},
        "store": false, "stream": true, "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "client_metadata": {"session_id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                            "thread_id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                            "turn_id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
                            "x-codex-window-id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:0"}
    })
}

/// A first Codex request of ~40 KB with ten tools.
pub fn codex_request_40k(model: &str) -> Vec<u8> {
    let input = codex_preamble(
        25_500,
        "Run the test suite and fix the failing test in src/parser.rs.",
    );
    serde_json::to_vec(&codex_request(model, input)).expect("request serialises")
}

/// A long session: the first request plus 90 turns of reasoning, an `exec_command` call and
/// its ~3 KB output (~410 KB in all). Reasoning items carry the daemon's own envelope in
/// `encrypted_content`, as they would after 90 turns through deepinfra-shim.
pub fn codex_session_400k(model: &str) -> Vec<u8> {
    let mut input = codex_preamble(
        25_500,
        "Port the parser to the new tokenizer and make the whole test suite pass.",
    );
    for i in 0..90u64 {
        let thought = format!("Turn {i}: {}", prose(1000 + i, 180));
        input.push(json!({"type": "reasoning", "id": format!("rs_{i:04}"),
            "summary": [{"type": "summary_text", "text": thought}], "content": null,
            "encrypted_content": reasoning::encode("default", model, &thought)}));
        let args = json!({"cmd": format!("cargo test -p parser --lib tokenizer::case_{i} -- --nocapture"),
                          "workdir": "/home/dev/src/parser", "yield_time_ms": 10000});
        input.push(json!({"type": "function_call", "id": format!("fc_{i:04}"),
            "name": "exec_command", "arguments": args.to_string(), "call_id": format!("call_{i:04}")}));
        input.push(json!({"type": "function_call_output", "id": format!("fco_{i:04}"),
            "call_id": format!("call_{i:04}"),
            "output": format!("Chunk ID: {i:x}\nWall time: 1.{i:03} seconds\nProcess exited with code 101\nOriginal token count: 912\nOutput:\n{}", prose(2000 + i, 3_000))}));
    }
    serde_json::to_vec(&codex_request(model, input)).expect("request serialises")
}

/// A one-line question, streamed or not.
pub fn small_request(model: &str, stream: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": model, "stream": stream, "store": false,
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "Say hello in one short sentence."}]}]
    }))
    .expect("request serialises")
}

// ---------------------------------------------------------------------------------------
// Upstream replies

/// Builds DeepInfra-shaped chat chunks for one reply.
pub struct ChatStream {
    id: String,
    model: String,
    events: Vec<Vec<u8>>,
}

impl ChatStream {
    pub fn new(model: &str) -> Self {
        ChatStream {
            id: "chatcmpl-b3nchM4rk0000000000000001".into(),
            model: model.into(),
            events: Vec::new(),
        }
    }

    fn chunk(&mut self, delta: Value, finish: Option<&str>, usage: Value) {
        let c = json!({"id": self.id, "object": "chat.completion.chunk", "created": 1760000000,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": usage});
        self.events.push(format!("data: {c}\n\n").into_bytes());
    }

    pub fn reasoning(mut self, pieces: &[&str]) -> Self {
        for p in pieces {
            self.chunk(
                json!({"role": "assistant", "content": null, "reasoning_content": p}),
                None,
                Value::Null,
            );
        }
        self
    }

    pub fn text(mut self, pieces: &[&str]) -> Self {
        for p in pieces {
            self.chunk(
                json!({"role": "assistant", "content": p, "tool_calls": null}),
                None,
                Value::Null,
            );
        }
        self
    }

    /// One tool call whose arguments arrive in `fragments`.
    pub fn tool_call(mut self, id: &str, name: &str, fragments: &[&str]) -> Self {
        self.chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": id,
                   "type": "function", "function": {"name": name, "arguments": ""}}]}),
            None,
            Value::Null,
        );
        for f in fragments {
            self.chunk(
                json!({"role": "assistant", "content": null,
                       "tool_calls": [{"index": 0, "function": {"arguments": f}}]}),
                None,
                Value::Null,
            );
        }
        self
    }

    /// The finish chunk (with usage) and `[DONE]`; returns one byte string per SSE event.
    pub fn finish(mut self, reason: &str, prompt: u64, completion: u64) -> Vec<Vec<u8>> {
        self.chunk(
            json!({}),
            Some(reason),
            json!({"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": prompt + completion, "prompt_tokens_details": {"cached_tokens": 0}}),
        );
        self.events.push(b"data: [DONE]\n\n".to_vec());
        self.events
    }
}

/// Splits a string into pieces of 1–5 bytes on char boundaries (fragmented tool arguments).
pub fn fragments(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut k = 0usize;
    while start < s.len() {
        let mut end = (start + 1 + k % 5).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        out.push(&s[start..end]);
        start = end;
        k += 1;
    }
    out
}

/// Splits text into word-sized tokens (each keeps its leading space), like a model streams.
pub fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == ' ' && i > start {
            out.push(&s[start..i]);
            start = i;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// What the upstream answers.
pub enum Reply {
    /// `application/json`, one write.
    Json(Vec<u8>),
    /// `text/event-stream`, one write per event; the first event after `first`, the others
    /// `gap` apart (zero: back to back).
    Sse {
        events: Vec<Vec<u8>>,
        first: Duration,
        gap: Duration,
    },
}

/// What a correct translated reply contains.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub text: Option<String>,
    pub reasoning: Option<String>,
    /// (name, arguments) of the single function call.
    pub call: Option<(String, String)>,
    pub total_tokens: u64,
}

pub struct Scenario {
    /// Short name, also the model suffix.
    pub name: &'static str,
    pub model: String,
    pub stream: bool,
    /// What Codex sends the daemon (`POST /v1/responses`).
    pub responses_body: Vec<u8>,
    /// The chat-shaped equivalent, sent straight to the mock (`POST /v1/chat/completions`).
    pub chat_body: Vec<u8>,
    pub reply: Reply,
    pub expect: Expect,
}

impl Scenario {
    /// The reply's bytes as one body (what a direct client must receive).
    pub fn reply_body(&self) -> Vec<u8> {
        match &self.reply {
            Reply::Json(b) => b.clone(),
            Reply::Sse { events, .. } => events.concat(),
        }
    }
}

/// The chat body the daemon would send for a Responses body (default options).
pub fn chat_equivalent(responses_body: &[u8]) -> Vec<u8> {
    let req = parse_request(responses_body).expect("workload request parses");
    let opts = TranslateOptions::for_model(req.model.clone());
    translate_request(&req, &opts)
        .expect("workload request translates")
        .body
}

const SMALL_TEXT: &str = "Hello! I am ready to help with your code today.";
const CODEX_REASONING: &str = "The user wants the failing parser test fixed. I should run the test suite first, read the failure, then look at src/parser.rs around the tokenizer.";
const CODEX_TEXT: &str = "I ran the suite: one test fails in `tokenizer::case_12` because the lexer drops a trailing `\\n`. I will patch `src/parser.rs` so the final newline is kept, then rerun the tests to confirm.";
const CALL_ARGS: &str = r#"{"cmd":"cargo test -p parser --lib tokenizer -- --nocapture 2>&1 | tail -n 40","workdir":"/home/dev/src/parser","yield_time_ms":10000,"max_output_tokens":6000}"#;

fn scenario(
    name: &'static str,
    stream: bool,
    body: fn(&str) -> Vec<u8>,
    reply: impl FnOnce(&str) -> Reply,
    expect: Expect,
) -> Scenario {
    let model = format!("{MODEL_PREFIX}{name}");
    let responses_body = body(&model);
    let chat_body = chat_equivalent(&responses_body);
    Scenario {
        name,
        reply: reply(&model),
        model,
        stream,
        responses_body,
        chat_body,
        expect,
    }
}

fn sse(events: Vec<Vec<u8>>) -> Reply {
    Reply::Sse {
        events,
        first: Duration::ZERO,
        gap: Duration::ZERO,
    }
}

/// Every scenario of the proxy benchmark, in report order.
pub fn scenarios() -> Vec<Scenario> {
    let paced_text: String = (0..32)
        .map(|i| format!("{}tok{i}", if i == 0 { "" } else { " " }))
        .collect();
    let paced_tokens: Vec<String> = tokens(&paced_text).into_iter().map(str::to_owned).collect();
    vec![
        scenario(
            "small-json",
            false,
            |m| small_request(m, false),
            |m| {
                Reply::Json(
                    serde_json::to_vec(&json!({
                        "id": "chatcmpl-b3nchM4rk0000000000000001", "object": "chat.completion",
                        "created": 1760000000, "model": m,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": SMALL_TEXT},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 14, "completion_tokens": 12, "total_tokens": 26}}))
                    .unwrap(),
                )
            },
            Expect {
                text: Some(SMALL_TEXT.into()),
                total_tokens: 26,
                ..Expect::default()
            },
        ),
        scenario(
            "small-sse",
            true,
            |m| small_request(m, true),
            |m| {
                sse(ChatStream::new(m)
                    .text(&tokens(SMALL_TEXT))
                    .finish("stop", 14, 12))
            },
            Expect {
                text: Some(SMALL_TEXT.into()),
                total_tokens: 26,
                ..Expect::default()
            },
        ),
        scenario(
            "codex-sse",
            true,
            codex_request_40k,
            |m| {
                sse(ChatStream::new(m)
                    .reasoning(&tokens(CODEX_REASONING))
                    .text(&tokens(CODEX_TEXT))
                    .finish("stop", 9_800, 80))
            },
            Expect {
                text: Some(CODEX_TEXT.into()),
                reasoning: Some(CODEX_REASONING.into()),
                total_tokens: 9_880,
                ..Expect::default()
            },
        ),
        scenario(
            "tool-call",
            true,
            codex_request_40k,
            |m| {
                sse(ChatStream::new(m)
                    .tool_call("call_b3nch0001", "exec_command", &fragments(CALL_ARGS))
                    .finish("tool_calls", 9_800, 60))
            },
            Expect {
                call: Some(("exec_command".into(), CALL_ARGS.into())),
                total_tokens: 9_860,
                ..Expect::default()
            },
        ),
        scenario(
            "session-400k",
            true,
            codex_session_400k,
            |m| {
                sse(ChatStream::new(m)
                    .reasoning(&tokens(CODEX_REASONING))
                    .text(&tokens(CODEX_TEXT))
                    .finish("stop", 101_000, 80))
            },
            Expect {
                text: Some(CODEX_TEXT.into()),
                reasoning: Some(CODEX_REASONING.into()),
                total_tokens: 101_080,
                ..Expect::default()
            },
        ),
        scenario(
            "paced",
            true,
            |m| small_request(m, true),
            move |m| {
                let toks: Vec<&str> = paced_tokens.iter().map(String::as_str).collect();
                // 32 text events + the finish chunk + [DONE] = 34 writes.
                Reply::Sse {
                    events: ChatStream::new(m).text(&toks).finish("stop", 14, 32),
                    first: Duration::from_millis(20),
                    gap: Duration::from_millis(2),
                }
            },
            Expect {
                text: Some(paced_text),
                total_tokens: 46,
                ..Expect::default()
            },
        ),
    ]
}

/// A recorded-style upstream stream for the micro-benchmarks: reasoning, text and a tool
/// call, `repeat` times longer than a typical turn, as one body.
pub fn long_stream(repeat: usize) -> Vec<u8> {
    let reasoning: Vec<&str> = (0..repeat).flat_map(|_| tokens(CODEX_REASONING)).collect();
    let text: Vec<&str> = (0..repeat).flat_map(|_| tokens(CODEX_TEXT)).collect();
    ChatStream::new("bench/stream")
        .reasoning(&reasoning)
        .text(&text)
        .tool_call("call_b3nch0001", "exec_command", &fragments(CALL_ARGS))
        .finish("tool_calls", 9_800, 400)
        .concat()
}
