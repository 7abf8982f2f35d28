//! The client side of the control socket, used by `shimctl`: connect, send one
//! [`RequestLine`], read one [`Reply`], with a time limit on the whole exchange.
//!
//! Errors say which socket was tried and, when nobody answers there, how to start the daemon.
//!
//! Before anything is sent, the socket's directory must pass [`trust::check_dir`] and the
//! process serving it must run as our user ([`trust::check_peer`]); otherwise the request
//! fails with [`CtlError::Untrusted`], which callers must not treat as "no daemon" (and fall
//! back from), since whoever answered may be waiting for exactly that.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::framing::{LineError, read_line_capped};
use super::protocol::{MAX_REPLY, Reply, Request, RequestLine, StatusReport};
use super::trust::{self, DirProblem, effective_uid};

/// How to start the daemon (for this OS), for messages about a daemon that is not running.
pub use super::hints::HOW_TO_START;

/// Time limit for one exchange (a reload gets longer: it re-reads and validates the file).
const TIMEOUT: Duration = Duration::from_secs(10);
const RELOAD_TIMEOUT: Duration = Duration::from_secs(70);
/// `check-upstreams` waits for every upstream's answer (each bounded by the daemon).
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a control request failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// No socket file, or nobody listening on it.
    #[error(
        "deepinfra-shim is not running (nothing answers on {}: {source}).\n{HOW_TO_START}",
        .path.display()
    )]
    NotRunning {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot connect to the control socket {}: {source} (is it another user's daemon?)",
        .path.display()
    )]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no answer on {} within {} s (is the daemon stuck?)", .path.display(), .after.as_secs())]
    Timeout { path: PathBuf, after: Duration },
    #[error("control socket {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("control socket {}: bad reply from the daemon: {message}", .path.display())]
    BadReply { path: PathBuf, message: String },
    /// Someone answers, but the socket's directory fails the rule, or the one serving it is
    /// not our user:
    /// nothing was sent, and nothing may be believed (or used) from it.
    #[error("refusing the control socket {}: {reason}", .path.display())]
    Untrusted { path: PathBuf, reason: String },
}

impl CtlError {
    /// True when no daemon is reachable (shimctl exits 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            CtlError::NotRunning { .. } | CtlError::Connect { .. } | CtlError::Timeout { .. }
        )
    }
}

/// A control-socket client for one socket path.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Client { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The daemon's status, or why there is none (no daemon, an error reply). The outer error
    /// is only a socket that cannot be trusted: callers stop there, with no fallback to the
    /// local config (whoever answered may want exactly the requests that fallback would send).
    pub async fn status(&self) -> Result<Result<StatusReport, String>, CtlError> {
        Ok(match self.request(Request::Status).await {
            Ok(Reply {
                ok: true,
                status: Some(s),
                ..
            }) => Ok(s),
            Ok(r) => Err(r
                .error
                .unwrap_or_else(|| "the daemon sent no status".to_owned())),
            Err(e @ CtlError::Untrusted { .. }) => return Err(e),
            Err(e) => Err(e.to_string()),
        })
    }

    /// Sends one request and returns the daemon's reply, `ok` or not.
    pub async fn request(&self, req: Request) -> Result<Reply, CtlError> {
        let after = match req {
            Request::Reload => RELOAD_TIMEOUT,
            Request::CheckUpstreams { .. } => CHECK_TIMEOUT,
            _ => TIMEOUT,
        };
        match tokio::time::timeout(after, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(CtlError::Timeout {
                path: self.path.clone(),
                after,
            }),
        }
    }

    async fn exchange(&self, req: Request) -> Result<Reply, CtlError> {
        let untrusted = |reason: String| CtlError::Untrusted {
            path: self.path.clone(),
            reason,
        };
        let me = effective_uid().map_err(|e| {
            untrusted(format!(
                "cannot tell which user this is ({e}), so nobody can be trusted"
            ))
        })?;
        let stream =
            super::server::connect(&self.path)
                .await
                .map_err(|source| match source.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                        CtlError::NotRunning {
                            path: self.path.clone(),
                            source,
                        }
                    }
                    // Refused entry (a directory of another user's, say): when the directory
                    // fails the rule, that is the message worth reading.
                    _ => match trust::check_dir(&trust::socket_dir(&self.path), me) {
                        Err(p @ DirProblem::Unsafe(_)) => untrusted(p.to_string()),
                        _ => CtlError::Connect {
                            path: self.path.clone(),
                            source,
                        },
                    },
                })?;
        // Someone answers: before a byte is sent, the directory must pass the rule and the
        // process on the other end must be our user. (Connecting tells nobody anything they
        // could not see by watching their own socket; a missing socket is just "not running".)
        match trust::check_dir(&trust::socket_dir(&self.path), me) {
            Ok(()) => {}
            Err(DirProblem::Missing) => {
                return Err(untrusted(
                    "its directory disappeared while we connected".to_owned(),
                ));
            }
            Err(p) => return Err(untrusted(p.to_string())),
        }
        trust::check_peer(trust::peer_uid(&stream), me).map_err(untrusted)?;
        let mut stream = stream;
        let io_err = |source| CtlError::Io {
            path: self.path.clone(),
            source,
        };
        let line = RequestLine::new(req).to_line();
        stream.write_all(line.as_bytes()).await.map_err(io_err)?;
        stream.flush().await.map_err(io_err)?;
        let reply = match read_line_capped(&mut stream, MAX_REPLY).await {
            Ok(l) => l,
            Err(LineError::Empty) => {
                return Err(CtlError::BadReply {
                    path: self.path.clone(),
                    message: "the daemon closed the connection without answering".to_owned(),
                });
            }
            Err(LineError::TooLong) => {
                return Err(CtlError::BadReply {
                    path: self.path.clone(),
                    message: format!("reply longer than {MAX_REPLY} bytes"),
                });
            }
            Err(LineError::Io(kind)) => return Err(io_err(io::Error::from(kind))),
        };
        Reply::parse(&reply).map_err(|e| CtlError::BadReply {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }
}
