//! Writes Responses SSE events (`event: <type>\ndata: <json>\n\n`) into the caller's buffer,
//! numbering them (`sequence_number`). This is the per-token path: nothing here allocates
//! beyond the output buffer's growth.

use serde::Serialize;

/// Writes events; a silent emitter (the non-streamed reply) writes nothing.
pub(super) struct Emitter {
    pub(super) seq: u64,
    pub(super) quiet: bool,
}

impl Emitter {
    pub(super) fn new(quiet: bool) -> Self {
        Emitter { seq: 0, quiet }
    }

    /// An event whose body is a serialisable object: `{"type":…,"sequence_number":N,<body's
    /// fields>}`.
    pub(super) fn emit<T: Serialize>(&mut self, out: &mut Vec<u8>, ty: &'static str, body: &T) {
        if self.quiet {
            return;
        }
        // Written by hand and spliced with the body's own object, rather than through
        // `#[serde(flatten)]`, which routes every event through serde's map machinery
        // (measured on the hot path). Same bytes either way.
        self.header(out, ty);
        let body_start = out.len();
        serde_json::to_writer(&mut *out, body).expect("event serialises");
        debug_assert_eq!(out.get(body_start), Some(&b'{'), "event bodies are objects");
        if out.len() - body_start == 2 {
            // `{}`: no fields to add.
            out.truncate(body_start);
            out.push(b'}');
        } else {
            out[body_start] = b',';
        }
        out.extend_from_slice(b"\n\n");
        self.seq += 1;
    }

    /// A per-token event: `{"type":…,"sequence_number":N,"item_id":…,"output_index":N,
    /// "<index_key>":N,"delta":…}`. These are nearly every event of a stream, so they are
    /// written directly rather than through serde's struct serialiser (the stream profile's
    /// largest user-space item after parsing); only the strings go through serde's escaper.
    pub(super) fn emit_delta(
        &mut self,
        out: &mut Vec<u8>,
        ty: &'static str,
        item_id: &str,
        output_index: u32,
        index_key: &'static str,
        delta: &str,
    ) {
        if self.quiet {
            return;
        }
        self.header(out, ty);
        out.extend_from_slice(b",\"item_id\":");
        serde_json::to_writer(&mut *out, item_id).expect("a string serialises");
        out.extend_from_slice(b",\"output_index\":");
        push_decimal(out, u64::from(output_index));
        out.extend_from_slice(b",\"");
        out.extend_from_slice(index_key.as_bytes());
        out.extend_from_slice(b"\":0,\"delta\":");
        serde_json::to_writer(&mut *out, delta).expect("a string serialises");
        out.extend_from_slice(b"}\n\n");
        self.seq += 1;
    }

    /// `event: <ty>\ndata: {"type":"<ty>","sequence_number":N` (event types are ASCII
    /// constants with nothing to escape).
    fn header(&self, out: &mut Vec<u8>, ty: &'static str) {
        debug_assert!(
            ty.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        );
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        push_decimal(out, self.seq);
    }
}

/// Appends `n` in decimal (what `format!("{n}")` writes, without the formatting machinery).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}
