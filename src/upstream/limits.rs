//! Every time limit and size cap on what we send to or read from a provider, in one place
//! (docs/protocol.md#timeouts). Two limits come from each upstream's config instead:
//! `timeout` (the wait for response headers, and after that between two body chunks) and
//! `heartbeat`.

use std::time::Duration;

/// Longest wait for a TCP (and TLS) connection to a provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a refusal's body may take to arrive; what came by then is classified.
pub const ERROR_BODY_WAIT: Duration = Duration::from_secs(10);

/// How much of a refusal's body we read (they are small; a huge one is not an error message
/// worth holding).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// Largest whole (non-streamed) chat reply.
pub const MAX_JSON_REPLY: usize = 64 * 1024 * 1024;

/// Largest model list (DeepInfra's full list is a few hundred KB).
pub const MAX_MODEL_LIST: usize = 16 * 1024 * 1024;

/// Largest single upstream SSE event we accept (a few providers send 1 MB+ lines).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Whole time for fetching one model list for the catalog (`shimctl models`, `codex-config
/// --catalog`): the catalog works without the list, it only knows less.
pub const MODEL_LIST_TIMEOUT: Duration = Duration::from_secs(8);

/// Whole time for one `shimctl doctor` probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
