//! One captured request: its parts as they pass, redacted on the way in (a stream redactor per
//! part, so a secret split across upstream chunks is still caught), each part bounded in size,
//! and written when the request ends.

use std::path::PathBuf;
use std::sync::Arc;

use hyper::HeaderMap;

use super::write::{Budget, NOTE_ROOM, cut, cut_note, write_request};
use crate::redact::{Redactor, StreamRedactor};

/// The parts of a captured request, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The Responses request Codex sent.
    CodexRequest,
    /// The chat request we sent the provider.
    UpstreamRequest,
    /// What the provider answered: its raw stream, its JSON, or its refusal as we read it.
    UpstreamReply,
    /// What we answered Codex: the events, the Response object or the error.
    CodexReply,
}

const PARTS: [Part; 4] = [
    Part::CodexRequest,
    Part::UpstreamRequest,
    Part::UpstreamReply,
    Part::CodexReply,
];

impl Part {
    fn stem(self) -> &'static str {
        match self {
            Part::CodexRequest => "1-codex-request",
            Part::UpstreamRequest => "2-upstream-request",
            Part::UpstreamReply => "3-upstream-reply",
            Part::CodexReply => "4-codex-reply",
        }
    }
}

#[derive(Debug)]
struct Buffer {
    out: Vec<u8>,
    redact: StreamRedactor,
    /// Bytes that came after the part reached its bound.
    dropped: u64,
    ext: &'static str,
    used: bool,
}

/// A request being captured.
#[derive(Debug)]
pub struct Tap {
    dir: PathBuf,
    name: String,
    redactor: Redactor,
    budget: Arc<Budget>,
    max_file: usize,
    parts: [Buffer; 4],
    headers: Vec<(String, String)>,
}

impl Tap {
    /// A tap writing into `dir/name`, with every part redacted by `redactor` and cut at
    /// `max_file` bytes.
    pub fn new(
        dir: PathBuf,
        name: String,
        redactor: Redactor,
        budget: Arc<Budget>,
        max_file: usize,
    ) -> Tap {
        let buffer = |ext| Buffer {
            out: Vec::new(),
            redact: redactor.stream(),
            dropped: 0,
            ext,
            used: false,
        };
        Tap {
            dir,
            name,
            parts: [buffer("json"), buffer("json"), buffer("sse"), buffer("sse")],
            redactor,
            budget,
            max_file,
            headers: Vec::new(),
        }
    }

    /// The request's directory name inside the capture's.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps the request's headers for `meta.json` (values redacted when written; the
    /// credential's value never kept at all).
    pub fn headers(&mut self, headers: &HeaderMap) {
        self.headers = headers
            .iter()
            .map(|(k, v)| {
                let value = if k == hyper::header::AUTHORIZATION {
                    let scheme = v.to_str().ok().and_then(|s| s.split_whitespace().next());
                    format!("{} ***", scheme.unwrap_or(""))
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (k.as_str().to_owned(), value)
            })
            .collect();
    }

    /// The file extension of a part (`json`, `sse`, `txt`), when its content is not the default.
    pub fn kind(&mut self, part: Part, ext: &'static str) {
        self.parts[part as usize].ext = ext;
    }

    /// Appends bytes to a part.
    pub fn push(&mut self, part: Part, bytes: &[u8]) {
        let limit = self.max_file.saturating_sub(NOTE_ROOM);
        let b = &mut self.parts[part as usize];
        b.used = true;
        if b.out.len() >= limit {
            b.dropped += bytes.len() as u64;
            return;
        }
        b.redact.push(bytes, &mut b.out);
        if b.out.len() > limit {
            b.dropped += (b.out.len() - limit) as u64;
            b.out.truncate(limit);
        }
    }

    /// Writes the parts and `meta` (a JSON object describing the request, redacted too), in a
    /// blocking task when a runtime is there.
    pub fn finish(self, meta: serde_json::Value) {
        let Tap {
            dir,
            name,
            redactor,
            budget,
            max_file,
            parts,
            headers,
        } = self;
        let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(5);
        for (part, mut b) in PARTS.into_iter().zip(parts) {
            if !b.used {
                continue;
            }
            if b.dropped == 0 {
                b.redact.finish(&mut b.out);
            }
            let mut bytes = cut(b.out, max_file, "the file size bound");
            if b.dropped > 0 {
                let note = cut_note(b.dropped, "the file size bound");
                bytes.extend_from_slice(note.as_bytes());
            }
            files.push((format!("{}.{}", part.stem(), b.ext), bytes));
        }
        let mut meta = meta;
        if let Some(obj) = meta.as_object_mut() {
            let h: serde_json::Map<String, serde_json::Value> = headers
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            obj.insert("request_headers".into(), h.into());
        }
        let meta = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        let meta = cut(
            redactor.redact_bytes(&meta).into_owned(),
            max_file,
            "the file size bound",
        );
        files.push(("meta.json".to_owned(), meta));
        let write = move || write_request(&dir, &name, &files, &budget);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(write)),
            Err(_) => write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-tap-test-0123456789abcdef";

    fn tap(dir: &std::path::Path, max_file: usize, total: u64) -> Tap {
        Tap::new(
            dir.to_owned(),
            "001-req_t".into(),
            Redactor::new([SECRET]),
            Arc::new(Budget::new(total)),
            max_file,
        )
    }

    fn read(dir: &std::path::Path, file: &str) -> String {
        std::fs::read_to_string(dir.join("001-req_t").join(file)).unwrap()
    }

    #[test]
    fn parts_are_redacted_even_when_a_secret_is_split_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = tap(dir.path(), 1 << 20, 1 << 20);
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
        h.insert("x-debug", SECRET.parse().unwrap());
        t.headers(&h);
        t.push(
            Part::CodexRequest,
            format!(r#"{{"input":"my key is {SECRET}"}}"#).as_bytes(),
        );
        let reply = format!("data: {{\"content\":\"{SECRET}\"}}\n\n");
        for piece in reply.as_bytes().chunks(5) {
            t.push(Part::UpstreamReply, piece);
        }
        t.kind(Part::UpstreamReply, "sse");
        t.finish(serde_json::json!({"note": SECRET}));
        for f in ["1-codex-request.json", "3-upstream-reply.sse", "meta.json"] {
            let text = read(dir.path(), f);
            assert!(!text.contains(SECRET), "{f}: {text}");
            assert!(text.contains("***"), "{f}: {text}");
        }
        let meta: serde_json::Value = serde_json::from_str(&read(dir.path(), "meta.json")).unwrap();
        assert_eq!(meta["request_headers"]["authorization"], "Bearer ***");
        assert!(
            !dir.path()
                .join("001-req_t/2-upstream-request.json")
                .exists(),
            "unused part"
        );
    }

    #[test]
    fn a_part_stops_at_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = tap(dir.path(), 1000, 1 << 20);
        for _ in 0..50 {
            t.push(Part::CodexReply, &[b'e'; 100]);
        }
        t.finish(serde_json::json!({}));
        let text = read(dir.path(), "4-codex-reply.sse");
        assert!(text.len() <= 1000, "{}", text.len());
        assert!(
            text.contains("more bytes not kept (the file size bound)"),
            "{text}"
        );
    }
}
