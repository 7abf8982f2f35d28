//! Framing shared by both ends of the control socket: read one line without ever holding
//! more than a cap, so a peer that never sends a newline cannot make us allocate without bound.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// What reading one request line can end with besides a line.
#[derive(Debug, PartialEq, Eq)]
pub enum LineError {
    /// More than the cap without a newline.
    TooLong,
    /// The peer closed without sending anything.
    Empty,
    Io(io::ErrorKind),
}

/// Reads up to the first `\n` (excluded), never holding more than `cap` bytes. A peer that
/// closes after a complete line without the newline is accepted.
pub async fn read_line_capped<R: AsyncRead + Unpin>(
    r: &mut R,
    cap: usize,
) -> Result<Vec<u8>, LineError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let room = cap.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            return Err(LineError::TooLong);
        }
        let n = r
            .read(&mut chunk[..room])
            .await
            .map_err(|e| LineError::Io(e.kind()))?;
        if n == 0 {
            return if buf.is_empty() {
                Err(LineError::Empty)
            } else {
                Ok(buf)
            };
        }
        if let Some(i) = chunk[..n].iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..i]);
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::MAX_LINE;

    #[tokio::test]
    async fn line_reader_caps_before_growing() {
        let data = vec![b'x'; MAX_LINE + 10];
        let mut r = &data[..];
        assert_eq!(
            read_line_capped(&mut r, MAX_LINE).await,
            Err(LineError::TooLong)
        );
        let mut r = &b"{\"cmd\":\"status\"}\nrest"[..];
        assert_eq!(
            read_line_capped(&mut r, MAX_LINE).await.unwrap(),
            b"{\"cmd\":\"status\"}"
        );
        let mut r = &b"no newline"[..];
        assert_eq!(read_line_capped(&mut r, 64).await.unwrap(), b"no newline");
        let mut r = &b""[..];
        assert_eq!(read_line_capped(&mut r, 64).await, Err(LineError::Empty));
        // Exactly at the cap with the newline inside is fine.
        let mut line = vec![b'a'; 63];
        line.push(b'\n');
        let mut r = &line[..];
        assert_eq!(read_line_capped(&mut r, 64).await.unwrap().len(), 63);
    }
}
