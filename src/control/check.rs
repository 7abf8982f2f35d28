//! The control socket's framing and request decoding, written once for the fuzz target
//! (`fuzz/fuzz_targets/control.rs`) and the replay of its corpus (`tests/fuzz_corpus.rs`):
//!
//! 1. [`read_line_capped`], fed the bytes in any pieces, gives what the framing says: the bytes
//!    before the first newline when that line fits the cap (newline included), too long when
//!    the cap is reached without one, the whole input when it ends first, empty when there is
//!    nothing; and it never reads more than the cap from the peer;
//! 2. a line either is refused with a one-line message of bounded size, or decodes to a
//!    request whose own line (one line, newline-terminated) decodes to the same request;
//! 3. a reply line that decodes re-encodes to a line that decodes to the same reply.
//!
//! Pure: the reader is in memory and polled without a runtime.
//!
//! Not part of the daemon's API: public only so that the fuzz crate can call it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

use super::framing::{LineError, read_line_capped};
use super::protocol::{MAX_LINE, Reply, RequestLine};

/// Longest error message a refused request line may get: a fixed text plus the command name
/// (cut to 64 characters) and a field name, never the hostile input itself.
pub const MAX_ERROR: usize = 512;

/// A peer that sends `data` in pieces of the given sizes (cycled), saying "not yet" before
/// every other piece, and counts what was taken from it.
struct Peer<'a> {
    data: &'a [u8],
    sizes: &'a [usize],
    turn: usize,
    wait: bool,
    taken: usize,
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let p = &mut *self;
        p.wait = !p.wait;
        if p.wait {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let size = p.sizes[p.turn % p.sizes.len()].max(1);
        p.turn += 1;
        let n = size.min(buf.remaining()).min(p.data.len() - p.taken);
        buf.put_slice(&p.data[p.taken..p.taken + n]);
        p.taken += n;
        Poll::Ready(Ok(()))
    }
}

/// [`read_line_capped`] over `data` sent in pieces of `sizes`; the result and how many bytes
/// it took from the peer.
pub fn read_line(data: &[u8], sizes: &[usize], cap: usize) -> (Result<Vec<u8>, LineError>, usize) {
    let mut peer = Peer {
        data,
        sizes,
        turn: 0,
        wait: false,
        taken: 0,
    };
    let result = {
        let mut fut = std::pin::pin!(read_line_capped(&mut peer, cap));
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                break r;
            }
        }
    };
    (result, peer.taken)
}

/// What the framing says a peer sending `data` and then closing gets.
pub fn expected_line(data: &[u8], cap: usize) -> Result<Vec<u8>, LineError> {
    let window = &data[..data.len().min(cap)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(data[..i].to_vec()),
        None if data.len() >= cap => Err(LineError::TooLong),
        None if data.is_empty() => Err(LineError::Empty),
        None => Ok(data.to_vec()),
    }
}

/// (1) on `data` with `cap`, in several piece sizes.
pub fn check_framing(data: &[u8], cap: usize) -> Result<(), String> {
    let expected = expected_line(data, cap);
    for sizes in [&[1][..], &[7, 1, 4096], &[usize::MAX]] {
        let (got, taken) = read_line(data, sizes, cap);
        if got != expected {
            return Err(format!(
                "cap {cap}, pieces {sizes:?}: {got:?} instead of {expected:?}"
            ));
        }
        if taken > cap {
            return Err(format!("cap {cap}: read {taken} bytes from the peer"));
        }
    }
    Ok(())
}

/// (2) and (3) on one received line.
pub fn check_line(line: &[u8]) -> Result<(), String> {
    match RequestLine::parse(line) {
        Err(e) => {
            if e.trim().is_empty() || e.contains('\n') || e.len() > MAX_ERROR {
                return Err(format!(
                    "refused with a bad message ({} bytes): {e:?}",
                    e.len()
                ));
            }
        }
        Ok(req) => {
            let sent = req.to_line();
            let Some(body) = sent.strip_suffix('\n').filter(|b| !b.contains('\n')) else {
                return Err(format!("a request line that is not one line: {sent:?}"));
            };
            let back = RequestLine::parse(body.as_bytes())
                .map_err(|e| format!("{req:?} re-encoded as {body} is refused: {e}"))?;
            if back != req {
                return Err(format!("{req:?} re-encoded as {body} decodes as {back:?}"));
            }
        }
    }
    if let Ok(reply) = Reply::parse(line) {
        let sent = reply.to_line();
        let Some(body) = sent.strip_suffix('\n').filter(|b| !b.contains('\n')) else {
            return Err(format!("a reply line that is not one line: {sent:?}"));
        };
        match Reply::parse(body.as_bytes()) {
            Ok(back) if back == reply => {}
            other => return Err(format!("{reply:?} re-encoded as {body} gives {other:?}")),
        }
    }
    Ok(())
}

/// The fuzz target: the input is what a peer sends. It is framed with the daemon's cap and
/// with caps around its own size; the line the daemon would read is decoded.
pub fn fuzz_one(data: &[u8]) {
    for cap in [MAX_LINE, data.len() / 2, data.len(), data.len() + 1, 0] {
        if let Err(e) = check_framing(data, cap) {
            panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
        }
    }
    if let Ok(line) = expected_line(data, MAX_LINE)
        && let Err(e) = check_line(&line)
    {
        panic!("{e}\nline: {:?}", String::from_utf8_lossy(&line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framing_reference_and_the_reader_agree_on_the_edges() {
        assert_eq!(expected_line(b"ab\ncd", 3), Ok(b"ab".to_vec()));
        assert_eq!(expected_line(b"abc\n", 3), Err(LineError::TooLong));
        assert_eq!(expected_line(b"ab", 3), Ok(b"ab".to_vec()));
        assert_eq!(expected_line(b"abc", 3), Err(LineError::TooLong));
        assert_eq!(expected_line(b"", 3), Err(LineError::Empty));
        for data in [&b"ab\ncd"[..], b"abc\n", b"ab", b"abc", b""] {
            check_framing(data, 3).unwrap();
        }
        check_line(br#"{"v":1,"cmd":"status"}"#).unwrap();
        check_line(b"not json").unwrap();
    }
}
