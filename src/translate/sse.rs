//! Incremental SSE parser for upstream bytes (docs/protocol.md#sse-framing).
//!
//! Contract: feed the body in chunks of any size with [`SseParser::push`]; the callback gets
//! each complete event's `data` payload (several `data:` lines joined with `\n`), in order.
//! [`SseParser::finish`] at end of body dispatches an event that was not closed by a blank
//! line. The result depends only on the bytes, never on where the chunks were split.
//!
//! Framing accepted: LF, CRLF and CR line ends (mixed, and a CRLF pair split across two
//! pushes), `data:` with or without its one optional space, comment lines (`: ping`), and
//! `event:`/`id:`/`retry:`/unknown fields (ignored: Codex and we only care about data). The
//! parser works on bytes, so a multi-byte UTF-8 character split across pushes is fine; the
//! payload is handed over as bytes and the JSON parser checks the encoding.
//!
//! Memory: an event (its data plus the line being read, field name and comments included) may
//! not exceed `max_event_bytes`, whether or not the line arrived in one push;
//! buffers are reused between events, and a line that is complete within one push is not
//! copied except into the data buffer.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error("upstream SSE event larger than {0} bytes")]
    EventTooLarge(usize),
}

/// Feeds arbitrary byte chunks, calls back once per complete event's `data` payload.
pub struct SseParser {
    max_event_bytes: usize,
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The data of the event being read.
    data: Vec<u8>,
    /// A `data` field was seen in the current event (an empty `data:` still dispatches).
    has_data: bool,
    /// The previous push ended with CR: a LF at the start of the next one belongs to it.
    pending_cr: bool,
    /// No line completed yet (a UTF-8 BOM there is dropped, as the SSE spec says).
    first_line: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            max_event_bytes,
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            pending_cr: false,
            first_line: true,
        }
    }

    /// Parses `bytes`, calling `on_data` for every event completed by them. After an error
    /// the parser has dropped the oversized event; the stream should be abandoned.
    pub fn push(&mut self, bytes: &[u8], on_data: &mut dyn FnMut(&[u8])) -> Result<(), SseError> {
        let mut rest = bytes;
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(eol) = memchr::memchr2(b'\n', b'\r', rest) else {
                if self.line.len() + rest.len() + self.data.len() > self.max_event_bytes {
                    return Err(self.too_large());
                }
                self.line.extend_from_slice(rest);
                break;
            };
            let ended_by_cr = rest[eol] == b'\r';
            if self.line.is_empty() {
                // The same bound as for a line buffered across pushes, so that where the
                // chunks were cut never decides whether an event is refused.
                if eol + self.data.len() > self.max_event_bytes {
                    return Err(self.too_large());
                }
                self.process_line(&rest[..eol], on_data)?;
            } else {
                if self.line.len() + eol + self.data.len() > self.max_event_bytes {
                    return Err(self.too_large());
                }
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..eol]);
                let r = self.process_line(&line, on_data);
                line.clear();
                self.line = line;
                r?;
            }
            rest = &rest[eol + 1..];
            if ended_by_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
        }
        Ok(())
    }

    /// End of body: a last line without its line end still counts, and an event that was
    /// not closed by a blank line is dispatched.
    pub fn finish(&mut self, on_data: &mut dyn FnMut(&[u8])) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            // The line was already size-checked while it was buffered; an error here can
            // only come from joining it to the data, and then there is nothing to dispatch.
            if self.process_line(&line, on_data).is_err() {
                return;
            }
        }
        self.dispatch(on_data);
        self.pending_cr = false;
    }

    fn too_large(&mut self) -> SseError {
        self.line.clear();
        self.data.clear();
        self.has_data = false;
        SseError::EventTooLarge(self.max_event_bytes)
    }

    fn dispatch(&mut self, on_data: &mut dyn FnMut(&[u8])) {
        if self.has_data {
            on_data(&self.data);
        }
        self.data.clear();
        self.has_data = false;
    }

    fn process_line(
        &mut self,
        mut line: &[u8],
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<(), SseError> {
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(on_data);
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            // A comment line (`: keep-alive`, `: OPENROUTER PROCESSING`).
            Some(0) => return Ok(()),
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field != b"data" {
            return Ok(());
        }
        let extra = usize::from(self.has_data) + value.len();
        if self.data.len() + extra > self.max_event_bytes {
            return Err(self.too_large());
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.has_data = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_chunks(chunks: &[&[u8]], max: usize) -> Result<Vec<Vec<u8>>, SseError> {
        let mut p = SseParser::new(max);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut |d| out.push(d.to_vec()))?;
        }
        p.finish(&mut |d| out.push(d.to_vec()));
        Ok(out)
    }

    fn run(bytes: &[u8]) -> Vec<Vec<u8>> {
        run_chunks(&[bytes], 1 << 20).unwrap()
    }

    fn strs(v: &[Vec<u8>]) -> Vec<&str> {
        v.iter().map(|d| std::str::from_utf8(d).unwrap()).collect()
    }

    #[test]
    fn lf_crlf_and_cr_only() {
        for bytes in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
            b"data: a\r\n\ndata: b\n\r\n",
        ] {
            assert_eq!(strs(&run(bytes)), ["a", "b"], "{bytes:?}");
        }
    }

    #[test]
    fn crlf_split_across_pushes_is_one_line_end() {
        let out = run_chunks(
            &[b"data: a\r", b"\n", b"\r", b"\ndata: b\r", b"\n\r\n"],
            1024,
        )
        .unwrap();
        assert_eq!(strs(&out), ["a", "b"]);
        // A CR at the end of a push followed by a non-LF byte ends the line by itself.
        let out = run_chunks(&[b"data: a\r", b"\rdata: b\r\r"], 1024).unwrap();
        assert_eq!(strs(&out), ["a", "b"]);
    }

    #[test]
    fn data_without_space_multi_line_and_fields_ignored() {
        let bytes = b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata:{\"a\":1}\n\ndata: one\ndata:  two\ndata\n\n";
        assert_eq!(strs(&run(bytes)), ["{\"a\":1}", "one\n two\n"]);
    }

    #[test]
    fn comments_alone_dispatch_nothing_and_empty_data_dispatches() {
        assert!(run(b": ping\n\n: ping\n\n\n\n").is_empty());
        assert_eq!(strs(&run(b"data:\n\n")), [""]);
    }

    #[test]
    fn finish_dispatches_trailing_event_and_line() {
        assert_eq!(strs(&run(b"data: a\n\ndata: [DONE]")), ["a", "[DONE]"]);
        assert_eq!(strs(&run(b"data: x\n")), ["x"]);
    }

    #[test]
    fn bom_is_dropped_only_at_start() {
        assert_eq!(strs(&run(b"\xEF\xBB\xBFdata: a\n\n")), ["a"]);
        let out = run_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"], 64).unwrap();
        assert_eq!(strs(&out), ["a"]);
    }

    #[test]
    fn utf8_split_across_pushes() {
        let s = "data: {\"c\":\"café €😀\"}\n\n".as_bytes();
        for i in 0..s.len() {
            let out = run_chunks(&[&s[..i], &s[i..]], 1024).unwrap();
            assert_eq!(strs(&out), ["{\"c\":\"café €😀\"}"]);
        }
    }

    #[test]
    fn oversized_event_is_an_error() {
        let big = vec![b'x'; 100];
        let mut bytes = b"data: ".to_vec();
        bytes.extend_from_slice(&big);
        bytes.extend_from_slice(b"\n\n");
        assert_eq!(run_chunks(&[&bytes], 50), Err(SseError::EventTooLarge(50)));
        // Split across pushes (the line is buffered) it is refused as well.
        assert_eq!(
            run_chunks(&[&bytes[..30], &bytes[30..]], 50),
            Err(SseError::EventTooLarge(50))
        );
        // Several data lines add up.
        assert_eq!(
            run_chunks(
                &[b"data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n"],
                25
            ),
            Err(SseError::EventTooLarge(25))
        );
        // A comment line without end can not grow without bound either.
        let mut p = SseParser::new(10);
        assert!(p.push(b": 0123456789012", &mut |_| {}).is_err());
    }

    #[test]
    fn the_limit_does_not_depend_on_where_the_chunks_were_cut() {
        // A 12-byte comment line against a limit of 10: refused whole as well as byte by
        // byte (found by the `sse` fuzz target: in one push only data was counted).
        let body = b": 0123456789\ndata: x\n\n";
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(run_chunks(&bytes, 10), Err(SseError::EventTooLarge(10)));
        assert_eq!(run_chunks(&[body], 10), Err(SseError::EventTooLarge(10)));
        assert_eq!(strs(&run_chunks(&[body], 12).unwrap()), ["x"]);
    }

    #[test]
    fn one_megabyte_line_in_small_pushes() {
        let payload = "é".repeat(512 * 1024); // 1 MiB of 2-byte characters
        let mut bytes = b"data: ".to_vec();
        bytes.extend_from_slice(payload.as_bytes());
        bytes.extend_from_slice(b"\r\n\r\ndata: [DONE]\r\n\r\n");
        let chunks: Vec<&[u8]> = bytes.chunks(16 * 1024 + 1).collect();
        let out = run_chunks(&chunks, 16 << 20).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], payload.as_bytes());
        assert_eq!(out[1], b"[DONE]");
    }

    #[test]
    fn buffers_are_reused_between_events() {
        let mut p = SseParser::new(1024);
        let mut n = 0;
        for _ in 0..100 {
            p.push(b"data: hello\n", &mut |_| n += 1).unwrap();
            p.push(b"\n", &mut |_| n += 1).unwrap();
        }
        assert_eq!(n, 100);
        assert!(p.data.capacity() >= 5 && p.data.capacity() < 64);
    }
}
