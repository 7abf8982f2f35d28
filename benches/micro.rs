//! Micro-benchmarks of the pure translation (no sockets): `cargo bench --bench micro`.
//!
//! - `request_*`: a Codex-sized (~40 KB, 10 tools) and a 400 KB session request through
//!   `parse_request` and `translate_request`, separately and together;
//! - `stream_*`: upstream SSE bytes through `SseParser` + `StreamTranslator`: the recorded
//!   E5 (two tool calls) and E7 (reasoning) fixtures, and a long synthetic turn (reasoning,
//!   text and a fragmented tool call, 1× and 10× a typical length), fed as one body and one
//!   event per push (as the daemon sees a token-by-token upstream).
//!
//! Under `cargo test --all-targets` divan runs each benchmark once, as a test.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

#[path = "common/workload.rs"]
mod workload;

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
