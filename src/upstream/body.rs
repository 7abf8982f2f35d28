//! A provider's reply body as a stream of chunks, with the reads the callers need: chunk by
//! chunk with the idle timeout, whole up to a cap, or a best-effort prefix (error bodies).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::error::UpstreamError;

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send + 'static>>;

/// The body of one upstream reply. As a [`Stream`] it yields chunks as they arrive, with no
/// timer of its own (the stream pump runs one timer for its heartbeat and this idle limit,
/// [`Self::idle_timeout`]); [`Self::next_chunk`] and the `read_*` methods apply the limits
/// themselves. Dropping it closes (cancels) the upstream request if it is still open.
pub struct UpstreamStream {
    chunks: Chunks,
    /// The upstream's base URL, for error messages.
    url: String,
    idle: Duration,
    /// When the whole body must be in ([`Self::with_deadline`]); none for chat replies, which
    /// may legitimately take many minutes.
    deadline: Option<(tokio::time::Instant, Duration)>,
}

impl UpstreamStream {
    pub(super) fn new(resp: reqwest::Response, url: &str, idle: Duration) -> Self {
        UpstreamStream {
            chunks: Box::pin(resp.bytes_stream()),
            url: url.to_owned(),
            idle,
            deadline: None,
        }
    }

    /// Limits [`Self::next_chunk`] and the `read_*` methods to `limit` from now for the whole
    /// body, so a body that trickles (never silent for the idle timeout) still ends.
    pub(super) fn with_deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some((tokio::time::Instant::now() + limit, limit));
        self
    }

    /// Longest silence allowed between two chunks (the upstream's `timeout`).
    pub fn idle_timeout(&self) -> Duration {
        self.idle
    }

    /// The upstream's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next chunk, or [`UpstreamError::Idle`] when none came within the idle timeout.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, UpstreamError>> {
        let idle = tokio::time::Instant::now() + self.idle;
        let due = match self.deadline {
            Some((at, _)) if at < idle => at,
            _ => idle,
        };
        match tokio::time::timeout_at(due, self.next()).await {
            Ok(item) => item,
            Err(_) => match self.deadline {
                Some((at, limit)) if at == due => Some(Err(UpstreamError::Deadline {
                    url: self.url.clone(),
                    secs: limit.as_secs().max(1),
                })),
                _ => Some(Err(self.idle_error())),
            },
        }
    }

    /// The whole body, at most `limit` bytes, with the idle timeout between chunks.
    pub async fn read_all(mut self, limit: usize) -> Result<Vec<u8>, UpstreamError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(UpstreamError::TooLarge {
                    url: self.url,
                    limit,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// At most `limit` bytes of the body, whatever arrived within `wait`; a broken body just
    /// ends the read (best effort: for error bodies, which are then classified).
    pub(super) async fn read_prefix(mut self, limit: usize, wait: Duration) -> Vec<u8> {
        let mut out = Vec::new();
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                chunk = self.next() => match chunk {
                    Some(Ok(b)) => {
                        let room = limit - out.len();
                        out.extend_from_slice(&b[..b.len().min(room)]);
                        if out.len() >= limit { break; }
                    }
                    _ => break,
                },
                _ = &mut deadline => break,
            }
        }
        out
    }

    /// The error for a body that stayed silent for its idle timeout.
    pub fn idle_error(&self) -> UpstreamError {
        UpstreamError::Idle {
            url: self.url.clone(),
            secs: self.idle.as_secs(),
        }
    }
}

impl Stream for UpstreamStream {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.chunks.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(UpstreamError::from_reqwest(e, &self.url))))
            }
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
