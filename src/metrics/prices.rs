//! The providers' list prices, for `shimctl stats`'s cost estimate.
//!
//! Prices come from the same model list the catalog reads (`GET {url}/models?filter=with_meta`:
//! DeepInfra's `metadata.pricing`). They are fetched lazily, once per upstream, by a background
//! task that the first `stats` request starts, and refreshed after [`REFRESH_AFTER`]; a request
//! Codex makes never waits for them. A provider that publishes no prices (or cannot be reached)
//! simply has none: the estimate is then absent, never guessed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::catalog::{ModelMeta, Pricing, fetch_upstream};
use crate::config::Upstream;

/// Prices older than this are fetched again (in the background; the old ones serve meanwhile).
pub const REFRESH_AFTER: Duration = Duration::from_secs(6 * 3600);

/// After a failed fetch, the next try waits this long.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(300);

/// Time limit of one list fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Default)]
struct Known {
    /// When the last fetch ended (and whether it worked).
    fetched: Option<(Instant, bool)>,
    in_flight: bool,
    models: HashMap<String, Pricing>,
}

/// The price lists of every upstream asked about so far.
#[derive(Debug, Default)]
pub struct Prices {
    by_upstream: Mutex<HashMap<String, Known>>,
    fetched: Notify,
}

impl Prices {
    /// Starts a background fetch of `up`'s list when it has none yet or it is stale (and no fetch
    /// is running). Returns true when a fetch was started. Must run on a tokio runtime.
    pub fn refresh(self: &Arc<Self>, up: &Arc<Upstream>, now: Instant) -> bool {
        {
            let mut map = self.by_upstream.lock().expect("prices lock");
            let k = map.entry(up.name.clone()).or_default();
            let due = match k.fetched {
                None => true,
                Some((at, true)) => now.duration_since(at) >= REFRESH_AFTER,
                Some((at, false)) => now.duration_since(at) >= RETRY_FAILED_AFTER,
            };
            if k.in_flight || !due {
                return false;
            }
            k.in_flight = true;
        }
        let prices = Arc::clone(self);
        let up = Arc::clone(up);
        tokio::spawn(async move {
            let list = fetch_upstream(&up, FETCH_TIMEOUT).await;
            if let Err(e) = &list {
                tracing::debug!(upstream = %up.name, error = %e, "No prices: the model list could not be read");
            }
            prices.store(&up.name, list, Instant::now());
        });
        true
    }

    /// Records a fetched list (or its failure).
    pub fn store(&self, upstream: &str, list: Result<Vec<ModelMeta>, String>, now: Instant) {
        {
            let mut map = self.by_upstream.lock().expect("prices lock");
            let k = map.entry(upstream.to_owned()).or_default();
            k.in_flight = false;
            k.fetched = Some((now, list.is_ok()));
            if let Ok(list) = list {
                k.models = list
                    .into_iter()
                    .filter_map(|m| Some((m.id, m.pricing?)))
                    .collect();
            }
        }
        self.fetched.notify_waiters();
    }

    /// Waits (at most `limit`) until none of `upstreams` has a first fetch still running.
    pub async fn wait_first(&self, upstreams: &[String], limit: Duration) {
        let pending = || {
            let map = self.by_upstream.lock().expect("prices lock");
            upstreams.iter().any(|u| {
                map.get(u)
                    .is_some_and(|k| k.in_flight && k.fetched.is_none())
            })
        };
        let _ = tokio::time::timeout(limit, async {
            loop {
                let notified = self.fetched.notified();
                if !pending() {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    /// The price of `model` on `upstream`, exact name first, then ignoring ASCII case.
    pub fn lookup(&self, upstream: &str, model: &str) -> Option<Pricing> {
        let map = self.by_upstream.lock().expect("prices lock");
        let models = &map.get(upstream)?.models;
        models.get(model).copied().or_else(|| {
            models
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(model))
                .map(|(_, p)| *p)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, pricing: Option<Pricing>) -> ModelMeta {
        ModelMeta {
            id: id.into(),
            pricing,
            ..ModelMeta::default()
        }
    }

    #[test]
    fn stored_prices_are_found_by_model() {
        let p = Prices::default();
        let price = Pricing {
            input: Some(100_000),
            output: Some(200_000),
            cache_read: None,
        };
        p.store(
            "default",
            Ok(vec![meta("Org/Model", Some(price)), meta("free", None)]),
            Instant::now(),
        );
        assert_eq!(p.lookup("default", "Org/Model"), Some(price));
        assert_eq!(p.lookup("default", "org/model"), Some(price));
        assert_eq!(p.lookup("default", "free"), None, "no price published");
        assert_eq!(p.lookup("other", "Org/Model"), None);
        // A failed fetch keeps nothing new and guesses nothing.
        p.store("local", Err("GET …: refused".into()), Instant::now());
        assert_eq!(p.lookup("local", "Org/Model"), None);
    }
}
