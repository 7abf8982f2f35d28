//! A careless provider (or a proxy in front of it) echoes the user's secrets back: the
//! provider token, the client's own bearer, a client key and an `upstream.headers` value, each
//! in every form a provider, a proxy or a client library may wrap it in (plain, `Bearer X`,
//! JSON `\u` escapes, percent-encoding, base64 standard and URL-safe inside a longer base64
//! string such as a JWT). Every endpoint must hand the echo on with each form replaced, and so
//! must the daemon's log; a secret split across two stream chunks or crossing the 1 KiB cut of
//! an error message leaves no prefix. Each test fails if any form of any secret gets out.
//!
//! One daemon per group: [`echoes_are_redacted_on_every_endpoint`] (a provider token, the
//! client's own bearer and a header value), [`client_keys_are_redacted_too`] (client keys),
//! [`split_and_cut_secrets_leave_nothing`] (chunk boundaries, the truncation point, and which
//! `Retry-After` values are relayed).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::common::daemon::Daemon;
use crate::common::{Chunk, End, MockUpstream, Reply};

/// The provider token (with the characters that make its JSON, percent and base64 forms
/// differ from the plain text).
const PROVIDER_TOKEN: &str = "sk-prov-7Hq2x9Lm/Zt4+Wc1Rv8=Qa5";
/// What the client sends as its bearer when the daemon has no client keys (a provider token
/// of its own, forwarded or not).
const CLIENT_BEARER: &str = "sk-codex-Jd83kLq0Vx7Pw2Nz";
/// The value of an `upstream.headers` entry.
const HEADER_VALUE: &str = "hdr-Xk29fPq7Lm3Zs8Tw";
/// Two client keys: the client sends the first.
const CLIENT_KEY: &str = "ck-one-Qw8Er7Ty6Ui5Op4";
const OTHER_CLIENT_KEY: &str = "ck-two-Zx1Cv2Bn3Mm4Lk5";

/// How long a secret must show for a leak to count: the shortest prefix worth anything to
/// someone guessing the rest (the redactor itself matches from half a secret on).
const LEAK_PREFIX: usize = 12;

// ---------------------------------------------------------------------------------------------
// Echo forms and leak checks
// ---------------------------------------------------------------------------------------------

/// Every character as `\uXXXX` (what a JSON encoder that escapes everything writes).
fn json_u_escaped(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            if upper {
                format!("\\u{:04X}", c as u32)
            } else {
                format!("\\u{:04x}", c as u32)
            }
        })
        .collect()
}

/// Every byte as `%XX`.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The RFC 3986 form: unreserved characters kept, the rest `%XX`.
fn percent_unreserved(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A JWT whose payload carries `secret` after `pad` bytes of other claims text (so the secret
/// sits at each of the three base64 alignments as `pad` varies).
fn jwt_with(secret: &str, pad: usize) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = format!(
        r#"{{"iss":"{}","key":"{secret}","exp":1767225600}}"#,
        "x".repeat(pad)
    );
    let sig = URL_SAFE_NO_PAD.encode([0x5a_u8; 32]);
    format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(payload))
}

/// `secret` in every form, as a provider might put it in an error message. The `\u` forms are
/// raw text: inside a JSON body they are escapes that decode to the plain secret.
fn echo_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_owned(),
        format!("Bearer {secret}"),
        format!("Authorization: Bearer {secret}"),
        json_u_escaped(secret, false),
        json_u_escaped(secret, true),
        secret.replace('/', "\\/"),
        percent_all(secret),
        percent_unreserved(secret),
    ];
    for pad in 0..3 {
        // Standard base64 inside a longer string (a Basic credential), at each alignment.
        let basic = format!("{}user:{secret}:x", "u".repeat(pad));
        forms.push(format!("Basic {}", STANDARD.encode(basic)));
        forms.push(jwt_with(secret, pad));
    }
    forms
}

/// One text with every form of every secret, separated as a provider would.
fn echo_text(secrets: &[&str]) -> String {
    let mut parts = Vec::new();
    for s in secrets {
        for f in echo_forms(s) {
            parts.push(format!("[{f}]"));
        }
    }
    format!("Incorrect API key provided: {}", parts.join(" "))
}

/// The base64 characters determined by `secret`'s bytes alone when it starts `offset` bytes
/// into an encoded string (what shows of it in any longer base64 string at that alignment).
fn base64_core(secret: &str, offset: usize, engine: &impl base64::Engine) -> String {
    let mut bytes = vec![0u8; offset];
    bytes.extend_from_slice(secret.as_bytes());
    let enc = engine.encode(&bytes);
    let start = (offset * 8).div_ceil(6);
    let end = ((offset + secret.len()) * 8) / 6;
    enc[start..end].to_owned()
}

/// Substrings whose presence means `secret` leaked (checked case-insensitively).
fn leak_markers(secret: &str) -> Vec<String> {
    let prefix = &secret[..LEAK_PREFIX];
    let mut m = vec![
        prefix.to_owned(),
        json_u_escaped(&secret[..6], false),
        percent_all(&secret[..6]),
    ];
    for offset in 0..3 {
        for core in [
            base64_core(secret, offset, &STANDARD),
            base64_core(secret, offset, &URL_SAFE_NO_PAD),
        ] {
            m.push(core[..16.min(core.len())].to_owned());
        }
    }
    m
}

/// Every string inside `text` read as JSON, or as SSE `data:` lines of JSON: escapes decoded,
/// so an escaped form relayed as is shows up in plain.
fn decoded_strings(text: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(k.clone());
                walk(x, out);
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        walk(&v, &mut out);
    }
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:")
            && let Ok(v) = serde_json::from_str::<Value>(data.trim())
        {
            walk(&v, &mut out);
        }
    }
    out
}

/// Panics when any form of any of `secrets` is in `text` (raw, or decoded from JSON).
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    let mut views = vec![text.to_owned()];
    views.extend(decoded_strings(text));
    for view in &views {
        let lower = view.to_ascii_lowercase();
        for s in secrets {
            for marker in leak_markers(s) {
                assert!(
                    !lower.contains(&marker.to_ascii_lowercase()),
                    "{what}: a form of {s:?} leaked ({marker:?} found) in:\n{text}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn responses_body(stream: bool) -> Value {
    json!({
        "model": "deepseek-ai/DeepSeek-V4-Flash",
        "stream": stream,
        "input": [{"type":"message","role":"user","content":[{"type":"input_text","text":"Say hello"}]}],
        "store": false,
    })
}

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "deepseek-ai/DeepSeek-V4-Flash",
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}],
    })
}

/// One reply, read whole.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn post(d: &Daemon, bearer: &str, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", d.url()))
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Answer {
        status,
        headers,
        body: r.text().await.unwrap(),
    }
}

async fn get_models(d: &Daemon, bearer: &str) -> Answer {
    let r = client()
        .get(format!("{}/v1/models", d.url()))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    answer(r).await
}

/// An OpenAI error envelope as the provider sends it, with `message` put in raw (so its `\u`
/// forms are JSON escapes).
fn raw_error_json(message: &str, code: &str) -> String {
    format!(
        r#"{{"error":{{"message":"{message}","type":"invalid_request_error","param":null,"code":"{code}"}}}}"#
    )
}

/// An error object inside a 200 stream (vLLM and OpenRouter send these), then the stream ends.
fn stream_error_event(message: &str) -> Reply {
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: vec![Chunk::new(format!(
            "data: {{\"error\":{{\"message\":\"{message}\",\"type\":\"server_error\",\"code\":500}}}}\n\n"
        ))],
        end: End::Finish,
    }
}

fn text_reply(status: u16, content_type: &str, body: String) -> Reply {
    Reply::Json {
        status,
        body,
        headers: vec![("content-type".into(), content_type.into())],
    }
}

/// An nginx-style HTML error page quoting the request's credentials.
fn html_page(echo: &str) -> String {
    format!(
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<pre>{echo}</pre>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// A successful chat stream whose text quotes `echo`, written as separate chunks with a pause
/// between them, the last one `gap` after the first.
fn chunked_success(echo: &str, gap: Duration) -> Reply {
    // Raw, as `raw_error_json`: the echo's `\u` forms are JSON escapes of the content.
    let delta = |text: &str| {
        format!(
            r#"data: {{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#
        ) + "\n\n"
    };
    let finish = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: vec![
            Chunk::new(delta(&format!("Your key is {echo}. "))),
            Chunk::after(
                gap,
                format!("{}data: {finish}\n\ndata: [DONE]\n\n", delta("Done.")),
            ),
        ],
        end: End::Finish,
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario: every endpoint, every echo shape
// ---------------------------------------------------------------------------------------------

/// Runs every echo shape on every endpoint against `d` (whose provider is `mock`), the
/// client sending `bearer`; `secrets` are what the echo carries and what must not come back.
async fn every_endpoint(mock: &MockUpstream, d: &Daemon, bearer: &str, secrets: &[&str]) {
    let echo = echo_text(secrets);
    // The echo as JSON string content needs no escaping (no `"` or `\` but the `\u` escapes).
    let json_err = |status: u16| Reply::json(status, raw_error_json(&echo, "invalid_api_key"));

    // /v1/responses, streamed: an error event inside the 200 stream.
    mock.push(stream_error_event(&echo));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(true)).await).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("response.failed"), "{}", a.body);
    assert_clean("responses stream, error event", &a.body, secrets);

    // /v1/responses, streamed: refused with a status (401: an HTTP error; 503 HTML: failed
    // inside the stream).
    mock.push(json_err(401));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(true)).await).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert_clean("responses stream, 401", &a.body, secrets);
    mock.push(text_reply(503, "text/html", html_page(&echo)));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(true)).await).await;
    assert_clean("responses stream, 503 HTML", &a.body, secrets);

    // /v1/responses, not streamed: an error status, and a 200 whose body is an error.
    mock.push(json_err(401));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(false)).await).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("***"), "{}", a.body);
    assert_clean("responses JSON, 401", &a.body, secrets);
    mock.push(Reply::json(200, raw_error_json(&echo, "400")));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(false)).await).await;
    assert_clean("responses JSON, 200 with an error", &a.body, secrets);

    // /v1/chat/completions: JSON, text and HTML error bodies, relayed.
    mock.push(json_err(401));
    let a = answer(post(d, bearer, "/v1/chat/completions", &chat_body(false)).await).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("***"), "{}", a.body);
    assert_clean("chat, JSON 401", &a.body, secrets);
    mock.push(text_reply(
        502,
        "text/plain",
        format!("upstream said: {echo}\n"),
    ));
    let a = answer(post(d, bearer, "/v1/chat/completions", &chat_body(false)).await).await;
    assert_eq!(a.status, 502, "{}", a.body);
    assert!(a.body.starts_with("upstream said: Incorrect"), "{}", a.body);
    assert_clean("chat, text 502", &a.body, secrets);
    mock.push(text_reply(502, "text/html", html_page(&echo)));
    let a = answer(post(d, bearer, "/v1/chat/completions", &chat_body(false)).await).await;
    assert!(a.body.contains("<h1>502 Bad Gateway</h1>"), "{}", a.body);
    assert_clean("chat, HTML 502", &a.body, secrets);

    // /v1/chat/completions, streamed: an error event in a 200 stream.
    mock.push(stream_error_event(&echo));
    let a = answer(post(d, bearer, "/v1/chat/completions", &chat_body(true)).await).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_clean("chat stream, error event", &a.body, secrets);

    // /v1/chat/completions, a successful stream: redacted, and still chunk by chunk (the
    // first event arrives long before the provider sends the second).
    let gap = Duration::from_millis(1500);
    mock.push(chunked_success(&echo, gap));
    let mut r = post(d, bearer, "/v1/chat/completions", &chat_body(true)).await;
    assert_eq!(r.status().as_u16(), 200);
    let t0 = Instant::now();
    let first = r.chunk().await.unwrap().expect("a first chunk");
    assert!(
        t0.elapsed() < gap / 2,
        "the first event waited {:?} for the rest of the stream",
        t0.elapsed()
    );
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.contains("Your key is"), "{first}");
    assert_clean("chat stream, first chunk", &first, secrets);
    let mut all = first;
    while let Some(c) = r.chunk().await.unwrap() {
        all.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(all.contains("[DONE]"), "{all}");
    assert_clean("chat stream, success", &all, secrets);

    // /v1/responses, a successful stream quoting the secrets: the output text is redacted too.
    mock.push(chunked_success(&echo, Duration::from_millis(50)));
    let a = answer(post(d, bearer, "/v1/responses", &responses_body(true)).await).await;
    assert!(a.body.contains("response.completed"), "{}", a.body);
    assert_clean("responses stream, success", &a.body, secrets);

    // /v1/models: an error body (JSON and text), and a list merged with the aliases.
    mock.set_models_reply(Some(json_err(401)));
    let a = get_models(d, bearer).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert_clean("models, JSON 401", &a.body, secrets);
    mock.set_models_reply(Some(text_reply(
        403,
        "text/plain",
        format!("forbidden: {echo}"),
    )));
    let a = get_models(d, bearer).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_clean("models, text 403", &a.body, secrets);
    let list = format!(
        r#"{{"object":"list","data":[{{"id":"deepseek-ai/DeepSeek-V4-Flash","object":"model","owned_by":"{echo}"}}]}}"#
    );
    mock.set_models_reply(Some(Reply::json(200, list)));
    let a = get_models(d, bearer).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("{}", a.body));
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"fast"), "the alias is merged in: {}", a.body);
    assert_clean("models with aliases", &a.body, secrets);
    mock.set_models_reply(None);
}

/// The config of the first group: a header secret and an alias (so `/v1/models` merges).
fn config(extra: &str) -> String {
    format!(
        "upstream:\n  headers: {{ X-Org-Key: \"{HEADER_VALUE}\" }}\nmodels:\n  fast: {{ model: Qwen/Qwen3-Coder-30B-A3B-Instruct }}\nlog: {{ level: debug, requests: true }}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_are_redacted_on_every_endpoint() {
    let mock = MockUpstream::start().await;
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(PROVIDER_TOKEN)
        .config_yaml(config(""))
        .start();
    let secrets = [PROVIDER_TOKEN, CLIENT_BEARER, HEADER_VALUE];
    every_endpoint(&mock, &d, CLIENT_BEARER, &secrets).await;
    // The provider did receive them (so the echo is realistic) ...
    let sent = mock.requests();
    assert!(
        sent.iter()
            .any(|r| r.header("x-org-key") == Some(HEADER_VALUE)),
        "the header secret was sent upstream"
    );
    // ... and the daemon's log, at debug, holds none of them in any form.
    d.terminate(Duration::from_secs(10));
    let logs = d.logs();
    assert!(logs.contains("Upstream refused the request"), "{logs}");
    assert_clean("the daemon's log", &logs, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keys_are_redacted_too() {
    let mock = MockUpstream::start().await;
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(PROVIDER_TOKEN)
        .env(
            "SHIM_CLIENT_KEYS",
            format!("{CLIENT_KEY}, {OTHER_CLIENT_KEY}"),
        )
        .config_yaml(config("listen:\n  client_keys_env: SHIM_CLIENT_KEYS\n"))
        .start();
    let secrets = [CLIENT_KEY, OTHER_CLIENT_KEY, PROVIDER_TOKEN, HEADER_VALUE];
    every_endpoint(&mock, &d, CLIENT_KEY, &secrets).await;
    d.terminate(Duration::from_secs(10));
    assert_clean("the daemon's log", &d.logs(), &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_cut_secrets_leave_nothing() {
    let mock = MockUpstream::start().await;
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(PROVIDER_TOKEN)
        .config_yaml(config(""))
        .start();
    let secrets = [PROVIDER_TOKEN, CLIENT_BEARER, HEADER_VALUE];

    // The token split across two upstream chunks, in a successful stream and in an error
    // event, on both streaming endpoints.
    let split = |event: String| {
        let at = event.find(PROVIDER_TOKEN).unwrap() + PROVIDER_TOKEN.len() / 2;
        Reply::Raw {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: vec![
                Chunk::new(event[..at].to_owned()),
                Chunk::after(Duration::from_millis(200), event[at..].to_owned()),
            ],
            end: End::Finish,
        }
    };
    let text_event = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{"content":format!("the key {PROVIDER_TOKEN} works")},"finish_reason":null}]}),
        json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}),
    );
    let error_event = format!(
        "data: {{\"error\":{{\"message\":\"Invalid header: Authorization: Bearer {PROVIDER_TOKEN}\",\"code\":500}}}}\n\n"
    );
    for (path, body) in [
        ("/v1/chat/completions", chat_body(true)),
        ("/v1/responses", responses_body(true)),
    ] {
        for event in [&text_event, &error_event] {
            mock.push(split(event.clone()));
            let a = answer(post(&d, CLIENT_BEARER, path, &body).await).await;
            assert_eq!(a.status, 200, "{}", a.body);
            assert!(a.body.contains("***"), "{path}: {}", a.body);
            assert_clean(&format!("{path}, split across chunks"), &a.body, &secrets);
        }
    }

    // The token across the 1 KiB cut of a provider message: redacted before the cut, so not
    // even its first characters survive. With the cut first, 13 characters would be left:
    // fewer than half of the token, which a redactor run after the cut does not recognise.
    let long = format!("{} {PROVIDER_TOKEN} {}", "x".repeat(1010), "y".repeat(200));
    let at = long.find(PROVIDER_TOKEN).unwrap();
    assert!(at + LEAK_PREFIX < 1024 && at + PROVIDER_TOKEN.len() / 2 > 1024);
    mock.push(Reply::json(400, raw_error_json(&long, "bad_request")));
    let a = answer(post(&d, CLIENT_BEARER, "/v1/responses", &responses_body(false)).await).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_clean("responses 400, cut message", &a.body, &secrets);
    assert!(a.body.contains("xxx ***"), "{}", a.body);
    mock.push(stream_error_event(&long));
    let a = answer(post(&d, CLIENT_BEARER, "/v1/responses", &responses_body(true)).await).await;
    assert!(a.body.contains("response.failed"), "{}", a.body);
    assert_clean("responses stream error, cut message", &a.body, &secrets);
    mock.push(Reply::json(200, raw_error_json(&long, "400")));
    let a = answer(post(&d, CLIENT_BEARER, "/v1/responses", &responses_body(false)).await).await;
    assert_clean("responses 200 error, cut message", &a.body, &secrets);

    // Retry-After: relayed when it is a number, dropped when it is anything else (it is
    // provider text in a header).
    let limited = |value: &str| {
        Reply::error(429, "slow down", "rate_limit_error", None).with_header("retry-after", value)
    };
    mock.push(limited("7"));
    let a = answer(post(&d, CLIENT_BEARER, "/v1/chat/completions", &chat_body(false)).await).await;
    assert_eq!(a.status, 429);
    assert_eq!(
        a.headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("7")
    );
    for garbage in ["garbage", &format!("Bearer {PROVIDER_TOKEN}")] {
        mock.push(limited(garbage));
        let a =
            answer(post(&d, CLIENT_BEARER, "/v1/chat/completions", &chat_body(false)).await).await;
        assert_eq!(a.status, 429);
        assert!(
            a.headers.get("retry-after").is_none(),
            "Retry-After {garbage:?} was relayed: {:?}",
            a.headers
        );
    }

    d.terminate(Duration::from_secs(10));
    assert_clean("the daemon's log", &d.logs(), &secrets);
}
