//! A tiny HTTP/1.1 reader for the benchmark's own two ends (load client and mock upstream).
//!
//! We control both peers' expectations, so this reads just what they send: a request or
//! status line, headers, and a body framed by `content-length` or `transfer-encoding:
//! chunked` (no trailers used, but they are skipped). Keep-alive is assumed. The body is
//! handed to a callback slice by slice as it arrives, so the client can timestamp the first
//! token without waiting for the end.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// What the head told us about the body.
#[derive(Debug, Default, Clone)]
pub struct Head {
    /// Status code (responses) or 0 (requests).
    pub status: u16,
    /// Request path (requests) or empty.
    pub path: String,
    pub content_length: Option<usize>,
    pub chunked: bool,
}

pub struct Reader<R> {
    pub io: R,
    buf: Vec<u8>,
    pos: usize,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(io: R) -> Self {
        Reader {
            io,
            buf: Vec::with_capacity(64 * 1024),
            pos: 0,
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more bytes; Ok(0) at EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 32 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// Reads a head. `Ok(None)` on a clean EOF before any byte of it.
    pub async fn read_head(&mut self) -> io::Result<Option<Head>> {
        let end = loop {
            if let Some(i) = find(self.unread(), b"\r\n\r\n") {
                break self.pos + i;
            }
            if self.unread().len() > 64 * 1024 {
                return Err(bad("head larger than 64 KiB"));
            }
            if self.fill().await? == 0 {
                if self.unread().is_empty() {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let text =
            std::str::from_utf8(&self.buf[self.pos..end]).map_err(|_| bad("head is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut head = Head::default();
        if let Some(rest) = first
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| first.strip_prefix("HTTP/1.0 "))
        {
            head.status = rest
                .get(..3)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("bad status line {first:?}")))?;
        } else {
            let mut parts = first.split(' ');
            let _method = parts.next();
            head.path = parts.next().unwrap_or_default().to_owned();
        }
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = Some(value.parse().map_err(|_| bad("bad content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        self.pos = end + 4;
        Ok(Some(head))
    }

    /// Reads the body that `head` announced, passing it on slice by slice.
    pub async fn read_body<F: FnMut(&[u8])>(
        &mut self,
        head: &Head,
        sink: &mut F,
    ) -> io::Result<()> {
        if head.chunked {
            loop {
                let line_end = loop {
                    if let Some(i) = find(self.unread(), b"\r\n") {
                        break self.pos + i;
                    }
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                };
                let line = std::str::from_utf8(&self.buf[self.pos..line_end])
                    .map_err(|_| bad("chunk size"))?;
                let hex = line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(hex, 16)
                    .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
                self.pos = line_end + 2;
                if size == 0 {
                    // Trailers (none expected) up to the blank line.
                    loop {
                        if let Some(i) = find(self.unread(), b"\r\n") {
                            let empty = i == 0;
                            self.pos += i + 2;
                            if empty {
                                return Ok(());
                            }
                            continue;
                        }
                        if self.fill().await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                }
                self.pass(size, sink).await?;
                while self.unread().len() < 2 {
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                if &self.unread()[..2] != b"\r\n" {
                    return Err(bad("chunk not followed by CRLF"));
                }
                self.pos += 2;
            }
        } else {
            self.pass(head.content_length.unwrap_or(0), sink).await
        }
    }

    /// Passes exactly `n` body bytes to `sink`.
    async fn pass<F: FnMut(&[u8])>(&mut self, mut n: usize, sink: &mut F) -> io::Result<()> {
        while n > 0 {
            if self.unread().is_empty() && self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = n.min(self.unread().len());
            sink(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            n -= take;
        }
        Ok(())
    }
}

/// Frames `data` as one HTTP/1.1 chunk.
pub fn chunk_frame(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// `POST path` with a JSON body, as one buffer.
pub fn post(path: &str, accept: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: {accept}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
