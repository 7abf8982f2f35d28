//! The book: labels, windows, totals and the report built from them.

use std::time::{Duration, Instant};

use super::*;
use crate::catalog::{ModelMeta, Pricing};
use crate::translate::reply::Usage;
use crate::translate::stream::Counts;

fn summary(model: &str, ended: Ended) -> Summary {
    Summary {
        endpoint: Endpoint::Responses,
        model: model.into(),
        upstream: "default".into(),
        upstream_model: Some(format!("org/{model}")),
        known_model: false,
        status: 200,
        ended,
        code: (ended == Ended::Failed).then_some("server_error"),
        duration: Duration::from_millis(1000),
        ttfb: Some(Duration::from_millis(100)),
        ttft: Some(Duration::from_millis(200)),
        counts: Counts {
            tool_calls: 2,
            malformed_arguments: 1,
            usage: Some(Usage {
                input_tokens: 1000,
                cached_tokens: 400,
                output_tokens: 81,
                total_tokens: 1081,
                reasoning_tokens: 10,
            }),
            ..Counts::default()
        },
        reasoning_replayed: 1,
        codex_retry: false,
        bytes: 10,
    }
}

#[test]
fn a_window_adds_up_its_requests() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    m.record(&summary("a", Ended::Completed), None, t0);
    m.record(&summary("a", Ended::Failed), None, t0);
    let mut slow = summary("a", Ended::Completed);
    slow.ttft = Some(Duration::from_millis(900));
    m.record(&slow, None, t0);
    m.record(&summary("b", Ended::Cancelled), None, t0);

    let r = m.stats(Duration::from_secs(900), t0 + Duration::from_secs(30));
    assert_eq!(r.rows.len(), 2);
    let a = &r.rows[0];
    assert_eq!((a.model.as_str(), a.upstream.as_str()), ("a", "default"));
    assert_eq!(a.upstream_model.as_deref(), Some("org/a"));
    assert_eq!((a.requests, a.completed, a.failed), (3, 2, 1));
    assert_eq!(a.errors.get("server_error"), Some(&1));
    assert_eq!(a.ttft_ms.samples, 3);
    assert_eq!(a.ttft_ms.p50, Some(200.0));
    assert_eq!(a.ttft_ms.p90, Some(900.0));
    // 81 tokens over the 800 ms after the first token; the slow one over 100 ms.
    assert_eq!(a.output_tokens_per_s.p50, Some(101.25));
    assert_eq!(
        (a.tokens.input, a.tokens.cached, a.tokens.output),
        (3000, 1200, 243)
    );
    assert_eq!((a.tool_calls.calls, a.tool_calls.malformed), (6, 3));
    assert_eq!(a.reasoning_replayed, 3);
    assert_eq!(r.total.requests, 4);
    assert_eq!(r.total.cancelled, 1);
    assert_eq!(r.total.tokens.input, 4000);
}

#[test]
fn old_minutes_leave_the_window_but_not_the_totals() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    m.record(&summary("a", Ended::Completed), None, t0);
    let later = t0 + Duration::from_secs(20 * 60);
    m.record(&summary("a", Ended::Completed), None, later);
    let r = m.stats(Duration::from_secs(15 * 60), later);
    assert_eq!(r.total.requests, 1, "only the recent minute");
    assert_eq!(r.total.ttft_ms.samples, 1);
    let r = m.stats(Duration::from_secs(3600), later);
    assert_eq!(r.total.requests, 2);
    let far = t0 + Duration::from_secs(3 * 3600);
    assert_eq!(m.stats(Duration::from_secs(3600), far).total.requests, 0);
    let totals = m.totals();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].tally.requests, 2);
    assert_eq!(totals[0].duration.count(), 2);
}

#[test]
fn unknown_names_that_never_reached_a_model_fold_into_other() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    let mut typo = summary("gpt-typo", Ended::Failed);
    typo.code = Some("model_not_found");
    m.record(&typo, None, t0);
    let mut refused_early = summary("nonsense", Ended::Failed);
    refused_early.ttfb = None;
    m.record(&refused_early, None, t0);
    let mut configured = summary("fast", Ended::Failed);
    configured.ttfb = None;
    configured.known_model = true;
    m.record(&configured, None, t0);
    let models: Vec<String> = m.totals().into_iter().map(|s| s.key.model).collect();
    assert_eq!(models, ["other", "fast"]);
}

#[test]
fn labels_are_capped() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    for i in 0..(MAX_SERIES + 20) {
        m.record(&summary(&format!("model-{i}"), Ended::Completed), None, t0);
    }
    let totals = m.totals();
    assert!(totals.len() <= MAX_SERIES + 1, "{}", totals.len());
    let other = totals.iter().find(|s| s.key.model == OTHER).expect("other");
    assert!(other.tally.requests >= 20);
    let all: u64 = totals.iter().map(|s| s.tally.requests).sum();
    assert_eq!(all, (MAX_SERIES + 20) as u64, "nothing lost");
    let long = "x".repeat(500);
    m.record(&summary(&long, Ended::Completed), None, t0);
    assert!(m.totals().iter().all(|s| s.key.model.len() <= MAX_LABEL));
}

#[test]
fn samples_are_bounded_per_series() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    for _ in 0..(MAX_SAMPLES + 100) {
        m.record(&summary("a", Ended::Completed), None, t0);
    }
    let r = m.stats(Duration::from_secs(60), t0);
    assert_eq!(r.total.requests, (MAX_SAMPLES + 100) as u64);
    assert_eq!(r.total.duration_ms.samples, MAX_SAMPLES as u64);
}

#[test]
fn a_failed_turn_makes_its_resend_a_retry() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    assert!(!m.take_retry(7, t0));
    m.record(
        &summary("a", Ended::Failed),
        Some((7, t0 + Duration::from_secs(60))),
        t0,
    );
    assert!(m.take_retry(7, t0 + Duration::from_secs(1)));
    assert!(!m.take_retry(7, t0 + Duration::from_secs(2)));
}

#[test]
fn cost_comes_from_published_prices_only() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    m.record(&summary("a", Ended::Completed), None, t0);
    m.record(&summary("b", Ended::Completed), None, t0);
    let price = Pricing {
        input: Some(1_000_000),
        output: Some(2_000_000),
        cache_read: Some(500_000),
    };
    m.prices.store(
        "default",
        Ok(vec![ModelMeta {
            id: "org/a".into(),
            pricing: Some(price),
            ..ModelMeta::default()
        }]),
        t0,
    );
    let r = m.stats(Duration::from_secs(60), t0);
    let a = r.rows.iter().find(|x| x.model == "a").unwrap();
    let b = r.rows.iter().find(|x| x.model == "b").unwrap();
    // 600 uncached at $1/M, 400 cached at $0.5/M, 81 out at $2/M.
    let want = (600.0 * 1.0 + 400.0 * 0.5 + 81.0 * 2.0) / 1e6;
    assert!((a.estimated_cost_usd.unwrap() - want).abs() < 1e-12);
    assert_eq!(b.estimated_cost_usd, None, "no price: no guess");
    assert_eq!(r.total.estimated_cost_usd, a.estimated_cost_usd);
    assert_eq!(r.unpriced_rows, 1);
}

#[test]
fn probes_are_not_counted() {
    let t0 = Instant::now();
    let m = Metrics::new(t0);
    let mut probe = summary("", Ended::Completed);
    probe.endpoint = Endpoint::Probe;
    m.record(&probe, None, t0);
    assert!(m.totals().is_empty());
}
