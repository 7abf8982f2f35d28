//! The response body type, either a complete buffer or a bounded channel of chunks fed by a
//! task (streams), and the two reply shapes built on it (JSON, SSE). The channel is what
//! bounds memory: when Codex reads slowly the task blocks on `send`, stops reading from the
//! upstream, and TCP backpressure does the rest.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// How many translated chunks may wait for the client before the stream task pauses.
pub const STREAM_CHANNEL_DEPTH: usize = 16;

pub enum ShimBody {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl ShimBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ShimBody::Full(Some(bytes.into()))
    }

    pub fn empty() -> Self {
        ShimBody::Full(None)
    }

    /// A streamed body and the sender the producing task writes into.
    pub fn channel() -> (mpsc::Sender<Bytes>, Self) {
        let (tx, rx) = mpsc::channel(STREAM_CHANNEL_DEPTH);
        (tx, ShimBody::Channel(rx))
    }
}

impl Body for ShimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ShimBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ShimBody::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ShimBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ShimBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ShimBody::Full(None) => SizeHint::with_exact(0),
            ShimBody::Channel(_) => SizeHint::default(),
        }
    }
}

/// A JSON reply with the given status.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ShimBody> {
    let mut resp = Response::new(ShimBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A Responses SSE reply (`text/event-stream`, not cached).
pub fn sse_response(body: ShimBody) -> Response<ShimBody> {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
