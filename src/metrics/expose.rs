//! `GET /metrics`: the accounting since start in the Prometheus text exposition format
//! (version 0.0.4), written by `prometheus-client` from a snapshot taken at scrape time.
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds` latencies, base units);
//! every series carries `endpoint`, `model` and `upstream` (bounded: see `book.rs`).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::book::{SeriesTotals, Tally};
use super::hist::Histogram;

/// The reply's `content-type`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The scrape: the totals of every series plus the process gauges.
#[derive(Debug)]
struct Scrape {
    series: Vec<SeriesTotals>,
    in_flight: u64,
    uptime_s: f64,
}

/// The exposition text for `series` (from [`super::Metrics::totals`]).
pub fn render(series: Vec<SeriesTotals>, in_flight: u64, uptime_s: f64) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        series,
        in_flight,
        uptime_s,
    }));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

type Labels<'a> = [(&'static str, &'a str); 3];

/// A label value and what it counts, for a family with one label more.
type Kind = (&'static str, fn(&Tally) -> u64);

fn labels(s: &SeriesTotals) -> Labels<'_> {
    [
        ("endpoint", s.key.endpoint.as_str()),
        ("model", s.key.model.as_str()),
        ("upstream", s.key.upstream.as_str()),
    ]
}

/// One counter family: a value per series and extra label value.
fn counters<'a, L: EncodeLabelSet + 'a>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: f64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn histograms(
    enc: &mut DescriptorEncoder<'_>,
    series: &[SeriesTotals],
    name: &str,
    help: &str,
    pick: fn(&SeriesTotals) -> &Histogram,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for s in series.iter().filter(|s| pick(s).count() > 0) {
        let h = pick(s);
        let labels = labels(s);
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum(), h.count(), &h.buckets(), None)?;
    }
    Ok(())
}

/// `(labels + one more, value)` for every series and each `(label value, pick)`.
fn per_kind<'a>(
    series: &'a [SeriesTotals],
    key: &'static str,
    kinds: &'a [Kind],
) -> impl Iterator<Item = ([(&'static str, &'a str); 4], u64)> + 'a {
    series.iter().flat_map(move |s| {
        let [e, m, u] = labels(s);
        kinds
            .iter()
            .map(move |(kind, pick)| ([e, m, u, (key, *kind)], pick(&s.tally)))
    })
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let s = &self.series;
        let build = [("version", crate::VERSION)];
        enc.encode_descriptor(
            "deepinfra_shim_build_info",
            "The running daemon's version (always 1).",
            None,
            MetricType::Gauge,
        )?
        .encode_family(&build)?
        .encode_gauge(&1u64)?;
        gauge(
            &mut enc,
            "deepinfra_shim_uptime_seconds",
            "Seconds since the daemon started.",
            self.uptime_s,
        )?;
        gauge(
            &mut enc,
            "deepinfra_shim_requests_in_flight",
            "Requests being answered now (streams included).",
            self.in_flight as f64,
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_requests",
            "Finished requests by how they ended: completed, incomplete, failed, or cancelled by the client.",
            per_kind(
                s,
                "outcome",
                &[
                    ("completed", |t| t.completed),
                    ("incomplete", |t| t.incomplete),
                    ("failed", |t| t.failed),
                    ("cancelled", |t| t.cancelled),
                ],
            ),
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_request_errors",
            "Failed requests by error code (the OpenAI error code, or http_<status>).",
            s.iter().flat_map(|x| {
                let [e, m, u] = labels(x);
                x.tally
                    .errors
                    .iter()
                    .map(move |(code, n)| ([e, m, u, ("code", *code)], *n))
            }),
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_codex_retries",
            "Requests that were Codex resending a turn after our 429, 5xx or failed stream.",
            s.iter().map(|x| (labels(x), x.tally.codex_retries)),
        )?;
        histograms(
            &mut enc,
            s,
            "deepinfra_shim_request_duration_seconds",
            "From the request's arrival to the reply's last byte.",
            |x| &x.duration,
        )?;
        histograms(
            &mut enc,
            s,
            "deepinfra_shim_time_to_first_byte_seconds",
            "From the request's arrival to the upstream's response headers.",
            |x| &x.ttfb,
        )?;
        histograms(
            &mut enc,
            s,
            "deepinfra_shim_time_to_first_token_seconds",
            "From the request's arrival to the model's first token (streamed replies).",
            |x| &x.ttft,
        )?;
        histograms(
            &mut enc,
            s,
            "deepinfra_shim_output_tokens_per_second",
            "Output tokens per second after the first token (streamed replies).",
            |x| &x.output_rate,
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_tokens",
            "Tokens as the provider reported them (input includes cached, output includes reasoning).",
            per_kind(
                s,
                "kind",
                &[
                    ("input", |t| t.tokens.input),
                    ("cached", |t| t.tokens.cached),
                    ("output", |t| t.tokens.output),
                    ("reasoning", |t| t.tokens.reasoning),
                ],
            ),
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_tool_calls",
            "Tool calls by result, each call once under its worst problem (malformed arguments, \
             unknown tool, repaired arguments, else ok); leaked: calls the model printed as text.",
            per_kind(
                s,
                "result",
                &[
                    ("ok", |t| {
                        let c = &t.tool_calls;
                        c.calls
                            .saturating_sub(c.malformed + c.unknown_tool + c.repaired)
                    }),
                    ("malformed", |t| t.tool_calls.malformed),
                    ("unknown_tool", |t| t.tool_calls.unknown_tool),
                    ("repaired", |t| t.tool_calls.repaired),
                    ("leaked", |t| t.tool_calls.leaked),
                ],
            ),
        )?;
        counters(
            &mut enc,
            "deepinfra_shim_reasoning_replayed",
            "Assistant messages sent back upstream with their reasoning.",
            s.iter().map(|x| (labels(x), x.tally.reasoning_replayed)),
        )?;
        Ok(())
    }
}
