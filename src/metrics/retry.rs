//! Telling Codex's retries from new requests.
//!
//! Codex sends the same thread id as `x-client-request-id` on every request of a thread, and
//! the turn's id inside the `x-codex-turn-metadata` JSON header (docs/codex-wire-notes.md). A
//! request of the same thread and turn that arrives soon after we answered that turn with a
//! 429, a 5xx or a failed stream is Codex resending it: both its retry layers resend the whole
//! request unchanged. A tool round also reuses the turn id, but only after a *successful*
//! reply, which never leaves an entry here.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// How long after a failure a resend still counts as a retry, beyond the `Retry-After` we sent:
/// Codex's own backoff between attempts is a few seconds at most.
pub const RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Failed turns remembered at once; the oldest is forgotten first.
const MAX_PENDING: usize = 512;

/// The identity of a Codex turn, as a hash: the raw header values are never kept.
pub fn turn_key(client_request_id: Option<&str>, turn_metadata: Option<&str>) -> Option<u64> {
    let thread = client_request_id.map(str::trim).filter(|t| !t.is_empty())?;
    let mut h = DefaultHasher::new();
    thread.hash(&mut h);
    turn_metadata.and_then(turn_id).hash(&mut h);
    Some(h.finish())
}

/// `turn_id` from the turn metadata header (a JSON object), found without parsing it: the
/// value is an id, never an escaped string.
fn turn_id(metadata: &str) -> Option<&str> {
    const KEY: &str = "\"turn_id\":";
    let rest = metadata[metadata.find(KEY)? + KEY.len()..].trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// Turns that failed recently, waiting for Codex to resend them.
#[derive(Debug, Default)]
pub struct RetryBook {
    pending: VecDeque<(u64, Instant)>,
}

impl RetryBook {
    /// True (and forgotten) when `key` failed recently: this request is a retry.
    pub fn take(&mut self, key: u64, now: Instant) -> bool {
        self.pending.retain(|(_, until)| *until > now);
        match self.pending.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                self.pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// Remembers that `key` failed and may be resent until `until`.
    pub fn remember(&mut self, key: u64, until: Instant) {
        self.pending.retain(|(k, _)| *k != key);
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back((key, until));
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"installation_id":"i","session_id":"s","thread_id":"t","turn_id":"019a-turn-1","window_id":"t:0","request_kind":"turn"}"#;

    #[test]
    fn the_key_is_thread_and_turn() {
        let a = turn_key(Some("thread-1"), Some(META));
        assert!(a.is_some());
        assert_eq!(a, turn_key(Some("thread-1"), Some(META)));
        let other_turn = META.replace("019a-turn-1", "019a-turn-2");
        assert_ne!(a, turn_key(Some("thread-1"), Some(&other_turn)));
        assert_ne!(a, turn_key(Some("thread-2"), Some(META)));
        assert_eq!(turn_key(None, Some(META)), None);
        assert_eq!(turn_key(Some("  "), None), None);
        assert_eq!(turn_id(META), Some("019a-turn-1"));
        assert_eq!(turn_id(r#"{"turn_id": "x"}"#), Some("x"));
        assert_eq!(turn_id(r#"{"turn_id":7}"#), None);
    }

    #[test]
    fn a_resend_after_a_failure_is_a_retry_once() {
        let t0 = Instant::now();
        let mut b = RetryBook::default();
        assert!(!b.take(1, t0));
        b.remember(1, t0 + RETRY_WINDOW);
        assert!(b.take(1, t0 + Duration::from_secs(2)));
        assert!(!b.take(1, t0 + Duration::from_secs(3)), "taken");
        b.remember(2, t0 + Duration::from_secs(5));
        assert!(!b.take(2, t0 + Duration::from_secs(6)), "too late");
        assert!(b.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut b = RetryBook::default();
        for k in 0..(MAX_PENDING as u64 + 10) {
            b.remember(k, t0 + RETRY_WINDOW);
        }
        assert_eq!(b.pending.len(), MAX_PENDING);
        assert!(!b.take(0, t0), "the oldest was forgotten");
        assert!(b.take(MAX_PENDING as u64 + 9, t0));
    }
}
