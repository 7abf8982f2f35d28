//! The daemon side of `stats` and `capture` (the accounting itself is `crate::metrics`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::protocol::{CaptureRequest, Reply, rfc3339};
use crate::config::Upstream;
use crate::metrics::book::WINDOW_MINUTES;
use crate::service::state::State;

/// The window `stats` covers unless asked.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long the first `stats` waits for an upstream's prices (later ones never wait).
const FIRST_PRICES_WAIT: Duration = Duration::from_secs(3);

/// `stats {window_s}`: the window's numbers per model and upstream, with a cost estimate where
/// the provider publishes prices. The first request also starts the price fetch of every
/// upstream in the window and waits a little for it.
pub async fn stats(state: &State, window_s: Option<u64>) -> Reply {
    let window = window_s.map_or(DEFAULT_WINDOW, Duration::from_secs);
    let longest = Duration::from_secs(WINDOW_MINUTES * 60);
    if window < Duration::from_secs(60) || window > longest {
        return Reply::error(format!(
            "the window must be between 1m and {WINDOW_MINUTES}m (the daemon keeps the last hour)"
        ));
    }
    let metrics = &state.metrics;
    let report = metrics.stats(window, Instant::now());
    let config = state.config();
    let upstreams: Vec<&Arc<Upstream>> = std::iter::once(&config.default_upstream)
        .chain(config.upstreams.values())
        .filter(|u| report.rows.iter().any(|r| r.upstream == u.name))
        .collect();
    let mut fetching = Vec::new();
    for up in upstreams {
        if metrics.prices.refresh(up, Instant::now()) {
            fetching.push(up.name.clone());
        }
    }
    let report = if fetching.is_empty() {
        report
    } else {
        metrics
            .prices
            .wait_first(&fetching, FIRST_PRICES_WAIT)
            .await;
        metrics.stats(window, Instant::now())
    };
    Reply {
        stats: Some(report),
        ..Reply::ok()
    }
}

/// `capture {dir, for_s, max, model}`: arms the capture and answers at once.
pub fn capture(state: &State, req: &CaptureRequest) -> Reply {
    match state.capture.arm(req, Instant::now()) {
        Ok(mut report) => {
            report.until = rfc3339(SystemTime::now() + Duration::from_secs(report.for_s));
            Reply {
                capture: Some(report),
                ..Reply::ok()
            }
        }
        Err(e) => Reply::error(format!("capture refused: {e}")),
    }
}
