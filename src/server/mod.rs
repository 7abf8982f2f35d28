//! The HTTP front end Codex talks to: the accept loop, routing, and the handlers. It knows
//! hyper and Codex; the provider is behind [`crate::upstream`] (docs/architecture.md).
//!
//! - [`routes`]: path/method dispatch, the per-request span, the client-key check ([`auth`]).
//! - [`responses`]: `POST /v1/responses`, top to bottom: [`request_body`], parse,
//!   [`destination`], translate, upstream, reply ([`pump`] for streams).
//! - [`pump`]: moves one upstream stream through the translator to the client.
//! - [`passthrough`]: `POST /v1/chat/completions` and `GET /v1/models`, relayed as they are.
//! - [`error`]: the one mapping of errors to HTTP statuses and OpenAI error bodies.
//! - [`body`]: the response body type and the JSON/SSE reply shapes. Secrets are kept out of
//!   what is logged or relayed by [`crate::redact`], at each exit (docs/security.md).

pub mod auth;
pub mod body;
pub mod destination;
pub mod error;
pub mod passthrough;
pub mod pump;
pub mod request_body;
pub mod responses;
pub mod routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::service::state::State;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `stop` turns true, then returns the tracker of the connections
/// still open, so the caller can drain them (HTTP/1.1 keep-alive connections that are idle
/// close at once; connections with a request in flight finish it first).
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.keep_alive(true)
        .timer(TokioTimer::new())
        // A client that opens a connection and never sends its headers is dropped.
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "Accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let st = Arc::clone(&state);
                let svc = service_fn(move |req| {
                    let st = Arc::clone(&st);
                    async move { Ok::<_, Infallible>(routes::handle(st, req).await) }
                });
                let conn = http.serve_connection(TokioIo::new(tcp), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "Connection ended with an error");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    graceful
}
