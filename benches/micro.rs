//! Micro-benchmarks of the pure translation (no sockets): `cargo bench --bench micro`.
//!
//! - `request_*`: a Codex-sized (~40 KB, 10 tools) and a 400 KB session request through
//!   `parse_request` and `translate_request`, separately and together;
//! - `stream_*`: upstream SSE bytes through `SseParser` + `StreamTranslator`: the recorded
//!   E5 (two tool calls) and E7 (reasoning) fixtures, and a long synthetic turn (reasoning,
//!   text and a fragmented tool call, 1× and 10× a typical length), fed as one body and one
//!   event per push (as the daemon sees a token-by-token upstream);
//! - `redact_*`: the redactor with three secrets (a provider token, a client key, a header
//!   value): a 1 KiB provider error with and without a secret in it, a 64 KiB SSE chunk without
//!   one (whole, through a stream, and one event per push) next to a `memchr` over the same
//!   bytes, `with_extra` with a known and an unknown secret, and compiling the redactor.
//!
//! - `metrics_one_request`: the per-request accounting (tracker, completion, book).
//!
//! Under `cargo test --all-targets` divan runs each benchmark once, as a test.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

#[path = "common/workload.rs"]
mod workload;

use deepinfra_shim::redact::Redactor;
use deepinfra_shim::translate::TranslateOptions;
use deepinfra_shim::translate::reply::ReplyContext;
use deepinfra_shim::translate::request::{parse_request, translate_request};
use deepinfra_shim::translate::sse::SseParser;
use deepinfra_shim::translate::stream::StreamTranslator;
use deepinfra_shim::translate::tools::{ToolKind, ToolTable};
use divan::counter::BytesCount;
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

fn request_body(size: &str) -> Vec<u8> {
    match size {
        "40k" => workload::codex_request_40k("bench/codex"),
        "400k" => workload::codex_session_400k("bench/codex"),
        other => panic!("unknown size {other}"),
    }
}

#[divan::bench(args = ["40k", "400k"])]
fn request_parse(bencher: Bencher<'_, '_>, size: &str) {
    let body = request_body(size);
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| parse_request(black_box(&body)).expect("parses"));
}

#[divan::bench(args = ["40k", "400k"])]
fn request_translate(bencher: Bencher<'_, '_>, size: &str) {
    let body = request_body(size);
    let req = parse_request(&body).expect("parses");
    let opts = TranslateOptions::for_model("bench/codex");
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| translate_request(black_box(&req), &opts).expect("translates"));
}

#[divan::bench(args = ["40k", "400k"])]
fn request_parse_and_translate(bencher: Bencher<'_, '_>, size: &str) {
    let body = request_body(size);
    let opts = TranslateOptions::for_model("bench/codex");
    bencher.counter(BytesCount::new(body.len())).bench(|| {
        let req = parse_request(black_box(&body)).expect("parses");
        translate_request(&req, &opts).expect("translates")
    });
}

fn context() -> ReplyContext {
    let mut tools = ToolTable::new();
    for name in ["exec_command", "read_file", "write_file"] {
        tools.register(None, name, ToolKind::Function);
    }
    ReplyContext {
        response_id: "resp_0123456789abcdef01234567".into(),
        requested_model: "bench/codex".into(),
        created_at: 1_760_000_000,
        tools,
        opts: TranslateOptions::for_model("bench/codex"),
    }
}

/// Translates `body` as the daemon's pump does; `per_event` pushes one SSE event at a time
/// and drains the output after each push (one write per upstream chunk).
fn translate_stream(body: &[u8], per_event: bool) -> usize {
    let mut tr = StreamTranslator::new(context());
    let mut parser = SseParser::new(16 * 1024 * 1024);
    let mut out = Vec::with_capacity(8 * 1024);
    let mut written = 0;
    tr.start(&mut out);
    if per_event {
        for ev in events(body) {
            parser
                .push(ev, &mut |d| tr.push_data(d, &mut out))
                .expect("valid SSE");
            written += out.len();
            out.clear();
        }
    } else {
        parser
            .push(body, &mut |d| tr.push_data(d, &mut out))
            .expect("valid SSE");
    }
    parser.finish(&mut |d| tr.push_data(d, &mut out));
    tr.finish_eof(&mut out);
    assert!(
        tr.is_terminated(),
        "the stream must end with a terminal event"
    );
    written + out.len()
}

/// The body cut after every blank line (one SSE event per piece).
fn events(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(rest.len(), |i| i + 2);
        let (ev, tail) = rest.split_at(end);
        rest = tail;
        Some(ev)
    })
}

fn stream_body(name: &str) -> Vec<u8> {
    match name {
        "E5" => include_bytes!("../tests/fixtures/upstream/E5.sse").to_vec(),
        "E7" => include_bytes!("../tests/fixtures/upstream/E7.sse").to_vec(),
        "turn-1x" => workload::long_stream(1),
        "turn-10x" => workload::long_stream(10),
        other => panic!("unknown stream {other}"),
    }
}

#[divan::bench(args = ["E5", "E7", "turn-1x", "turn-10x"])]
fn stream_whole_body(bencher: Bencher<'_, '_>, name: &str) {
    let body = stream_body(name);
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| translate_stream(black_box(&body), false));
}

#[divan::bench(args = ["E5", "E7", "turn-1x", "turn-10x"])]
fn stream_per_event(bencher: Bencher<'_, '_>, name: &str) {
    let body = stream_body(name);
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| translate_stream(black_box(&body), true));
}

/// Bench-only fake secrets shaped like the real ones: a provider token, a client key and an
/// `upstream.headers` value.
const SECRETS: [&str; 3] = [
    "Xq3vT9kLm2Rp8sWz4Yb7Nc1Df6Gh5Jk0",
    "sk-shim-7f3a9c2e1b8d4f6a0e5c3b7d9a1f2e4c",
    "or-v1-5e8c2a7f9b3d1e6c4a0f8b2d7e5c9a3f1b6d",
];

/// A ~1 KiB provider refusal; with `echo` it quotes the provider token (as some providers do).
fn provider_error_1k(echo: bool) -> String {
    let key = if echo {
        SECRETS[0]
    } else {
        "Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF"
    };
    let detail = workload::prose(7, 900).replace(['"', '\\', '\n'], " ");
    format!(
        r#"{{"error":{{"message":"Invalid API key provided: {key}. {detail}","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
    )
}

/// 64 KiB of upstream SSE (whole events) without a secret.
fn sse_64k() -> Vec<u8> {
    let one = workload::long_stream(10);
    let mut body = Vec::with_capacity(80 * 1024);
    while body.len() < 64 * 1024 {
        body.extend_from_slice(&one);
    }
    let end = body[..64 * 1024]
        .windows(2)
        .rposition(|w| w == b"\n\n")
        .map_or(body.len(), |i| i + 2);
    body.truncate(end);
    body
}

#[divan::bench(args = ["clean", "secret"])]
fn redact_error_1k(bencher: Bencher<'_, '_>, case: &str) {
    let text = provider_error_1k(case == "secret");
    let redactor = Redactor::new(SECRETS);
    assert!(!redactor.redact(&text).contains(SECRETS[0]));
    bencher
        .counter(BytesCount::of_str(&text))
        .bench(|| redactor.redact(black_box(&text)).len());
}

/// `secrets`: the three above, or twenty (a large config: past the 128 patterns the SIMD
/// prefilter takes, so the search runs without it).
#[divan::bench(args = [3, 20])]
fn redact_sse_64k_clean(bencher: Bencher<'_, '_>, secrets: usize) {
    let body = sse_64k();
    let many: Vec<String> = (0..secrets.saturating_sub(SECRETS.len()))
        .map(|i| {
            format!(
                "tok-{:032x}",
                (i as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            )
        })
        .collect();
    let redactor = Redactor::new(SECRETS.into_iter().chain(many.iter().map(String::as_str)));
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| redactor.redact_bytes(black_box(&body)).len());
}

#[divan::bench(args = ["whole", "per-event"])]
fn redact_stream_64k_clean(bencher: Bencher<'_, '_>, feed: &str) {
    let body = sse_64k();
    let redactor = Redactor::new(SECRETS);
    let chunks: Vec<&[u8]> = if feed == "whole" {
        vec![&body]
    } else {
        events(&body).collect()
    };
    let mut out = Vec::with_capacity(body.len());
    bencher
        .counter(BytesCount::new(body.len()))
        .bench_local(|| {
            let mut stream = redactor.stream();
            for chunk in &chunks {
                out.clear();
                stream.push(black_box(chunk), &mut out);
            }
            stream.finish(&mut out);
            out.len()
        });
}

/// What the pump pays per request: the proxy benchmark's Codex-sized streamed reply (15 KB,
/// one event per push, as the mock writes it) through a stream redactor holding one provider
/// token. `shares-prefix`: a token that begins like the reply's model names (`bench…`), so the
/// prefilter stops at every chunk; `random`: a token like a real provider's.
#[divan::bench(args = ["shares-prefix", "random"])]
fn redact_codex_reply(bencher: Bencher<'_, '_>, token: &str) {
    let scenario = workload::scenarios()
        .into_iter()
        .find(|s| s.name == "codex-sse")
        .expect("the codex-sse scenario");
    let workload::Reply::Sse { events, .. } = &scenario.reply else {
        panic!("codex-sse streams");
    };
    let secret = match token {
        "shares-prefix" => "bench-token-not-a-secret",
        _ => "Xq7RpL2vT9mK4wN8sJ3hF6dB1cZ5yA0e",
    };
    let redactor = Redactor::new([secret]);
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(bytes);
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        let mut stream = redactor.stream();
        for event in events {
            out.clear();
            stream.push(black_box(event), &mut out);
        }
        stream.finish(&mut out);
        out.len()
    });
}

/// The floor the clean-text rows are compared with: one `memchr` over the same bytes.
#[divan::bench]
fn redact_memchr_64k_reference(bencher: Bencher<'_, '_>) {
    let body = sse_64k();
    bencher
        .counter(BytesCount::new(body.len()))
        .bench(|| memchr::memchr(0, black_box(&body)));
}

/// `known`: the bearer is a configured client key; `unknown-repeated`: the same unknown bearer
/// on every request (Codex's case: compiled once, then cached); `unknown-new`: a different
/// unknown bearer each time (compiles a redactor every call).
#[divan::bench(args = ["known", "unknown-repeated", "unknown-new"])]
fn redact_with_extra(bencher: Bencher<'_, '_>, case: &str) {
    let redactor = Redactor::new(SECRETS);
    let bearers = match case {
        "known" => [SECRETS[1]; 2],
        "unknown-repeated" => ["sk-codex-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"; 2],
        _ => [
            "sk-codex-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
            "sk-codex-f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0",
        ],
    };
    let mut i = 0;
    bencher.bench_local(|| {
        i += 1;
        redactor.with_extra(black_box(bearers[i % 2]))
    });
}

#[divan::bench]
fn redact_new_3_secrets(bencher: Bencher<'_, '_>) {
    bencher.bench(|| Redactor::new(black_box(SECRETS)));
}

/// One request's accounting, as the daemon does it once per request: the tracker made from
/// Codex's headers, filled in, finished (its log line disabled, as at `warn`), and the summary
/// recorded into the book (series lookup, totals, minute tally, sample).
#[divan::bench]
fn metrics_one_request(bencher: Bencher<'_, '_>) {
    use deepinfra_shim::metrics::{Endpoint, Metrics, Reply};
    use deepinfra_shim::translate::reply::Outcome;
    use deepinfra_shim::translate::stream::Counts;
    let metrics = std::sync::Arc::new(Metrics::default());
    let mut headers = hyper::HeaderMap::new();
    headers.insert(
        "x-client-request-id",
        "019a0000-0000-7000-8000-000000000001".parse().unwrap(),
    );
    headers.insert(
        "x-codex-turn-metadata",
        r#"{"installation_id":"i","session_id":"019a0000","thread_id":"019a0000","turn_id":"019a0001-turn","window_id":"019a0000:0","request_kind":"turn","thread_source":"user","sandbox":"seccomp","model":"bench/codex"}"#
            .parse()
            .unwrap(),
    );
    bencher.bench(|| {
        let mut t = metrics.track(Endpoint::Responses, black_box(&headers), "req_1");
        t.set_model("bench/codex", false);
        t.set_upstream("default", Some("bench/codex"));
        t.set_stream(true);
        t.upstream_answered();
        t.first_token();
        t.set_counts(Counts::default());
        t.outcome(&Outcome::Completed, None);
        t.finish(Reply {
            status: 200,
            bytes: 2048,
            ..Reply::default()
        });
    });
}
