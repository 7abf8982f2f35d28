//! [`SseParser`]: any bytes, pushed in any chunks, give the events of the whole body pushed at
//! once; those are the events a plain whole-body reading of the SSE framing gives (written
//! here apart from the parser, without its buffering); an event over the limit is an error at
//! the same point in every chunking, and no dispatched event is larger than the limit.

use crate::translate::sse::SseParser;

/// What the parser made of a body: the events dispatched, and whether it stopped with
/// [`crate::translate::sse::SseError::EventTooLarge`] (after which the stream is abandoned).
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub events: Vec<Vec<u8>>,
    pub too_large: bool,
}

/// `body` through a parser with limit `max`, pushed in pieces cut at `cuts` (sorted, in range).
pub fn parse_in_chunks(body: &[u8], cuts: &[usize], max: usize) -> Parsed {
    let mut parser = SseParser::new(max);
    let mut events = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([&body.len()]) {
        if parser
            .push(&body[at..cut], &mut |d| events.push(d.to_vec()))
            .is_err()
        {
            return Parsed {
                events,
                too_large: true,
            };
        }
        at = cut;
    }
    parser.finish(&mut |d| events.push(d.to_vec()));
    Parsed {
        events,
        too_large: false,
    }
}

/// The SSE framing read from the whole body (docs/protocol.md#sse-framing): lines end at LF,
/// CR or CRLF; a BOM opens the body; a blank line dispatches the `data` lines seen (joined
/// with LF); other fields and comments are skipped; the end of the body ends the last line and
/// the last event. A line refused: its raw length plus the event's data so far exceeds `max`.
pub fn reference(body: &[u8], max: usize) -> Parsed {
    let mut events = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    let mut rest = body;
    let mut first = true;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => {
                (&rest[..i], &rest[i + 2..])
            }
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        rest = next;
        let held = data.as_ref().map_or(0, Vec::len);
        if held + line.len() > max {
            return Parsed {
                events,
                too_large: true,
            };
        }
        let line = if std::mem::take(&mut first) {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            events.extend(data.take());
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            match &mut data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(value);
                }
                None => data = Some(value.to_vec()),
            }
        }
    }
    events.extend(data);
    Parsed {
        events,
        too_large: false,
    }
}

/// Every check on `body` with limit `max`; the error says which failed.
pub fn check(body: &[u8], max: usize) -> Result<(), String> {
    let whole = parse_in_chunks(body, &[], max);
    if let Some(e) = whole.events.iter().find(|e| e.len() > max) {
        return Err(format!(
            "an event of {} bytes passed the limit of {max}",
            e.len()
        ));
    }
    let expected = reference(body, max);
    if whole != expected {
        return Err(format!(
            "limit {max}: the parser gave {whole:?}, the SSE framing {expected:?}"
        ));
    }
    for cuts in chunkings(body) {
        let chunked = parse_in_chunks(body, &cuts, max);
        if chunked != whole {
            return Err(format!(
                "limit {max}, cut at {cuts:?}: {chunked:?} instead of {whole:?}"
            ));
        }
    }
    Ok(())
}

/// The ways a body is cut: every byte apart, a few fixed sizes, and cuts the input chooses
/// (before each byte whose value, mixed with its position, is a multiple of 13), which lets the
/// fuzzer put a cut anywhere, between CR and LF or inside a BOM included.
fn chunkings(body: &[u8]) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = [1, 2, 3, 5, 4096]
        .into_iter()
        .map(|size| (size..body.len()).step_by(size).collect())
        .collect();
    all.push(
        (1..body.len())
            .filter(|&i| (body[i] ^ i as u8).is_multiple_of(13))
            .collect(),
    );
    all
}

/// The fuzz target: the input is an upstream body, checked under a limit that never binds,
/// one about a third of it (events cross it), and a tiny one (almost every line crosses it).
pub fn fuzz_one(data: &[u8]) {
    for max in [16 << 20, data.len() / 3, 7] {
        if let Err(e) = check(data, max) {
            panic!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_reads_the_framing() {
        let p = reference(
            b"\xEF\xBB\xBFdata: a\r\ndata:b\r\r: c\ndata\n\ndata: [DONE]",
            64,
        );
        assert_eq!(p.events, [&b"a\nb"[..], b"", b"[DONE]"]);
        assert!(!p.too_large);
        assert!(reference(b"data: 0123456789\n\n", 10).too_large);
        check(
            include_bytes!("../../../tests/fixtures/upstream/E12.sse"),
            1 << 20,
        )
        .unwrap();
    }
}
