//! The accounting: the one owner of every number `GET /metrics` and `shimctl stats` show.
//!
//! One [`Summary`] arrives per finished request, under one short lock: a series is found by a
//! scan of at most [`MAX_SERIES`] labels (no allocation once it exists), its totals and
//! histograms since start are bumped, the current minute's tally is bumped, and the request's
//! latencies are kept as one sample. Nothing is counted per token.
//!
//! Memory is bounded: at most [`MAX_SERIES`] label sets (plus one `other` per endpoint and
//! upstream), minute tallies for the last [`WINDOW_MINUTES`] minutes, and at most
//! [`MAX_SAMPLES`] samples per series for the window's quantiles.
//!
//! Labels: the model as the client named it, the upstream's name, the endpoint. A model name
//! gets its own label when it is a configured route, or once an upstream answered for it with
//! anything but "model not found"; other names (typos, junk) count under `other`, as do new
//! names past the cap.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::hist::{Histogram, SECONDS, TOKENS_PER_SECOND, quantile};
use super::prices::Prices;
use super::report::{Quantiles, StatsReport, StatsRow, Tokens, ToolCalls};
use super::retry::RetryBook;
use super::summary::{Ended, Endpoint, Summary};

/// Label sets kept apart; past this, new model names count under `other`.
pub const MAX_SERIES: usize = 64;
/// `other` series allowed past [`MAX_SERIES`] (one per endpoint and upstream); past those,
/// everything lands in one catch-all series.
const MAX_OVERFLOW: usize = 32;
/// The longest window `stats` covers.
pub const WINDOW_MINUTES: u64 = 60;
/// Latency samples kept per series for the window's quantiles (the newest win).
pub const MAX_SAMPLES: usize = 1024;
/// Longest label value kept (a client may send any model name).
pub const MAX_LABEL: usize = 120;
/// The model label of names that get none of their own.
pub const OTHER: &str = "other";

/// The labels of one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesKey {
    pub endpoint: Endpoint,
    pub model: String,
    pub upstream: String,
}

/// Counters of one series, over any span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub requests: u64,
    pub completed: u64,
    pub incomplete: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub codex_retries: u64,
    /// Failed requests by code (a handful of distinct codes at most).
    pub errors: Vec<(&'static str, u64)>,
    pub tokens: Tokens,
    pub tool_calls: ToolCalls,
    pub reasoning_replayed: u64,
}

impl Tally {
    fn add(&mut self, s: &Summary) {
        self.requests += 1;
        match s.ended {
            Ended::Completed => self.completed += 1,
            Ended::Incomplete => self.incomplete += 1,
            Ended::Failed => self.failed += 1,
            Ended::Cancelled => self.cancelled += 1,
        }
        if s.codex_retry {
            self.codex_retries += 1;
        }
        if let (Ended::Failed, Some(code)) = (s.ended, s.code) {
            bump(&mut self.errors, code, 1);
        }
        if let Some(u) = s.counts.usage {
            self.tokens.input += u.input_tokens;
            self.tokens.cached += u.cached_tokens;
            self.tokens.output += u.output_tokens;
            self.tokens.reasoning += u.reasoning_tokens;
            self.tokens.replies_with_usage += 1;
        }
        let c = &s.counts;
        self.tool_calls.calls += u64::from(c.tool_calls);
        self.tool_calls.malformed += u64::from(c.malformed_arguments);
        self.tool_calls.repaired += u64::from(c.repaired_arguments);
        self.tool_calls.unknown_tool += u64::from(c.unknown_tools);
        self.tool_calls.leaked += u64::from(c.leaked_calls);
        self.reasoning_replayed += u64::from(s.reasoning_replayed);
    }

    fn merge(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.completed += o.completed;
        self.incomplete += o.incomplete;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
        self.codex_retries += o.codex_retries;
        for (code, n) in &o.errors {
            bump(&mut self.errors, code, *n);
        }
        let (t, ot) = (&mut self.tokens, &o.tokens);
        t.input += ot.input;
        t.cached += ot.cached;
        t.output += ot.output;
        t.reasoning += ot.reasoning;
        t.replies_with_usage += ot.replies_with_usage;
        let (c, oc) = (&mut self.tool_calls, &o.tool_calls);
        c.calls += oc.calls;
        c.malformed += oc.malformed;
        c.repaired += oc.repaired;
        c.unknown_tool += oc.unknown_tool;
        c.leaked += oc.leaked;
        self.reasoning_replayed += o.reasoning_replayed;
    }
}

fn bump(errors: &mut Vec<(&'static str, u64)>, code: &'static str, n: u64) {
    match errors.iter_mut().find(|(c, _)| *c == code) {
        Some((_, count)) => *count += n,
        None => errors.push((code, n)),
    }
}

/// Everything counted for one series since the daemon started (what `/metrics` exposes).
#[derive(Debug, Clone)]
pub struct SeriesTotals {
    pub key: SeriesKey,
    /// The model name last sent upstream for this series.
    pub upstream_model: Option<String>,
    pub tally: Tally,
    pub duration: Histogram,
    pub ttfb: Histogram,
    pub ttft: Histogram,
    pub output_rate: Histogram,
}

/// One request's latencies, kept for the window's quantiles.
#[derive(Debug, Clone, Copy)]
struct Sample {
    minute: u64,
    duration_ms: f32,
    ttfb_ms: Option<f32>,
    ttft_ms: Option<f32>,
    rate: Option<f32>,
}

#[derive(Debug)]
struct Series {
    totals: SeriesTotals,
    samples: VecDeque<Sample>,
}

/// The tallies of one minute, for the series that had requests in it.
#[derive(Debug)]
struct Minute {
    index: u64,
    rows: Vec<(usize, Tally)>,
}

#[derive(Debug)]
struct Book {
    series: Vec<Series>,
    minutes: VecDeque<Minute>,
    retries: RetryBook,
}

/// The daemon's accounting (one per process, shared by every request).
#[derive(Debug)]
pub struct Metrics {
    book: Mutex<Book>,
    started: Instant,
    /// Whether any failed turn waits for Codex's retry (spares the lock on every request).
    retries_pending: AtomicBool,
    pub prices: Arc<Prices>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(Instant::now())
    }
}

fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}

fn label(s: &str) -> &str {
    crate::text::prefix(s, MAX_LABEL)
}

impl Metrics {
    pub fn new(started: Instant) -> Metrics {
        let catch_all = Series::new(SeriesKey {
            endpoint: Endpoint::Other,
            model: OTHER.to_owned(),
            upstream: OTHER.to_owned(),
        });
        Metrics {
            book: Mutex::new(Book {
                series: vec![catch_all],
                minutes: VecDeque::new(),
                retries: RetryBook::default(),
            }),
            started,
            retries_pending: AtomicBool::new(false),
            prices: Arc::new(Prices::default()),
        }
    }

    fn minute(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_secs() / 60
    }

    /// True (once) when the turn `key` failed recently: this request is Codex's retry.
    pub fn take_retry(&self, key: u64, now: Instant) -> bool {
        if !self.retries_pending.load(Ordering::Relaxed) {
            return false;
        }
        let mut book = self.book.lock().expect("metrics lock");
        let retry = book.retries.take(key, now);
        self.retries_pending
            .store(!book.retries.is_empty(), Ordering::Relaxed);
        retry
    }

    /// Counts one finished request; `failed_turn` remembers its turn until Codex's retry is due.
    pub fn record(&self, s: &Summary, failed_turn: Option<(u64, Instant)>, now: Instant) {
        if s.endpoint == Endpoint::Probe {
            return;
        }
        let minute = self.minute(now);
        let mut book = self.book.lock().expect("metrics lock");
        if let Some((key, until)) = failed_turn {
            book.retries.remember(key, until);
            self.retries_pending.store(true, Ordering::Relaxed);
        }
        let i = book.series_for(s);
        book.series[i].add(s, minute);
        book.tally_minute(i, minute).add(s);
    }

    /// Everything counted since start, per series (for `/metrics`).
    pub fn totals(&self) -> Vec<SeriesTotals> {
        let book = self.book.lock().expect("metrics lock");
        book.series
            .iter()
            .filter(|s| s.totals.tally.requests > 0)
            .map(|s| s.totals.clone())
            .collect()
    }

    /// The window's numbers per series and in total; costs from the prices known now.
    pub fn stats(&self, window: Duration, now: Instant) -> StatsReport {
        let uptime = now.saturating_duration_since(self.started);
        let window_min = window.as_secs().div_ceil(60).clamp(1, WINDOW_MINUTES);
        let first = self.minute(now).saturating_sub(window_min - 1);
        let mut rows: Vec<(StatsRow, Tally, Vec<Sample>)> = {
            let book = self.book.lock().expect("metrics lock");
            let mut per: BTreeMap<usize, Tally> = BTreeMap::new();
            for m in book.minutes.iter().filter(|m| m.index >= first) {
                for (i, t) in &m.rows {
                    per.entry(*i).or_default().merge(t);
                }
            }
            per.into_iter()
                .map(|(i, tally)| {
                    let s = &book.series[i];
                    let samples = s
                        .samples
                        .iter()
                        .filter(|x| x.minute >= first)
                        .copied()
                        .collect();
                    let row = StatsRow {
                        endpoint: s.totals.key.endpoint.as_str().to_owned(),
                        model: s.totals.key.model.clone(),
                        upstream: s.totals.key.upstream.clone(),
                        upstream_model: s
                            .totals
                            .upstream_model
                            .clone()
                            .filter(|m| *m != s.totals.key.model),
                        ..StatsRow::default()
                    };
                    (row, tally, samples)
                })
                .collect()
        };
        rows.sort_by(|a, b| {
            b.1.requests
                .cmp(&a.1.requests)
                .then_with(|| a.0.model.cmp(&b.0.model))
        });
        let mut total_tally = Tally::default();
        let mut all_samples = Vec::new();
        let mut total_cost: Option<f64> = None;
        let mut unpriced = 0;
        let mut out = Vec::with_capacity(rows.len());
        for (mut row, tally, samples) in rows {
            fill(&mut row, &tally, &samples);
            let model = row.upstream_model.as_deref().unwrap_or(&row.model);
            // Without a usage report there is nothing to price (the passthrough never reads one).
            let t = &tally.tokens;
            row.estimated_cost_usd = (t.replies_with_usage > 0)
                .then(|| self.prices.lookup(&row.upstream, model))
                .flatten()
                .and_then(|p| p.cost_usd(t.input, t.cached, t.output));
            match row.estimated_cost_usd {
                Some(c) => *total_cost.get_or_insert(0.0) += c,
                None if tally.tokens.replies_with_usage > 0 => unpriced += 1,
                None => {}
            }
            total_tally.merge(&tally);
            all_samples.extend(samples);
            out.push(row);
        }
        let mut total = StatsRow::default();
        fill(&mut total, &total_tally, &all_samples);
        total.estimated_cost_usd = total_cost;
        StatsReport {
            window_s: window.as_secs(),
            covered_s: window.min(uptime).as_secs(),
            uptime_s: uptime.as_secs(),
            rows: out,
            total,
            unpriced_rows: unpriced,
        }
    }
}

/// A row's numbers from its tally and samples.
fn fill(row: &mut StatsRow, t: &Tally, samples: &[Sample]) {
    row.requests = t.requests;
    row.completed = t.completed;
    row.incomplete = t.incomplete;
    row.failed = t.failed;
    row.cancelled = t.cancelled;
    row.codex_retries = t.codex_retries;
    row.errors = t
        .errors
        .iter()
        .map(|(c, n)| ((*c).to_owned(), *n))
        .collect();
    row.tokens = t.tokens;
    row.tool_calls = t.tool_calls;
    row.reasoning_replayed = t.reasoning_replayed;
    let q = |pick: fn(&Sample) -> Option<f32>| {
        let mut v: Vec<f64> = samples.iter().filter_map(pick).map(f64::from).collect();
        Quantiles {
            samples: v.len() as u64,
            p50: quantile(&mut v, 0.5),
            p90: quantile(&mut v, 0.9),
        }
    };
    row.duration_ms = q(|s| Some(s.duration_ms));
    row.ttfb_ms = q(|s| s.ttfb_ms);
    row.ttft_ms = q(|s| s.ttft_ms);
    row.output_tokens_per_s = q(|s| s.rate);
}

impl Series {
    fn new(key: SeriesKey) -> Series {
        Series {
            totals: SeriesTotals {
                key,
                upstream_model: None,
                tally: Tally::default(),
                duration: Histogram::new(SECONDS),
                ttfb: Histogram::new(SECONDS),
                ttft: Histogram::new(SECONDS),
                output_rate: Histogram::new(TOKENS_PER_SECOND),
            },
            samples: VecDeque::new(),
        }
    }

    fn add(&mut self, s: &Summary, minute: u64) {
        let t = &mut self.totals;
        t.tally.add(s);
        if let Some(m) = &s.upstream_model
            && t.upstream_model.as_deref() != Some(m)
        {
            t.upstream_model = Some(label(m).to_owned());
        }
        let rate = s.output_tokens_per_second();
        t.duration.observe(s.duration.as_secs_f64());
        if let Some(d) = s.ttfb {
            t.ttfb.observe(d.as_secs_f64());
        }
        if let Some(d) = s.ttft {
            t.ttft.observe(d.as_secs_f64());
        }
        if let Some(r) = rate {
            t.output_rate.observe(r);
        }
        while self
            .samples
            .front()
            .is_some_and(|x| x.minute + WINDOW_MINUTES <= minute)
            || self.samples.len() >= MAX_SAMPLES
        {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            minute,
            duration_ms: ms(s.duration),
            ttfb_ms: s.ttfb.map(ms),
            ttft_ms: s.ttft.map(ms),
            rate: rate.map(|r| r as f32),
        });
    }
}

impl Book {
    /// The series a summary counts in, made if needed (see the module notes on labels).
    fn series_for(&mut self, s: &Summary) -> usize {
        let (model, upstream) = (label(&s.model), label(&s.upstream));
        if let Some(i) = self.find(s.endpoint, model, upstream) {
            return i;
        }
        let not_found = matches!(s.code, Some("model_not_found" | "http_404"));
        let earned = s.known_model || s.model.is_empty() || (s.ttfb.is_some() && !not_found);
        let model = if earned && self.series.len() < MAX_SERIES {
            model
        } else {
            OTHER
        };
        if let Some(i) = self.find(s.endpoint, model, upstream) {
            return i;
        }
        if self.series.len() >= MAX_SERIES + MAX_OVERFLOW {
            return 0;
        }
        self.series.push(Series::new(SeriesKey {
            endpoint: s.endpoint,
            model: model.to_owned(),
            upstream: upstream.to_owned(),
        }));
        self.series.len() - 1
    }

    fn find(&self, endpoint: Endpoint, model: &str, upstream: &str) -> Option<usize> {
        self.series.iter().position(|x| {
            let k = &x.totals.key;
            k.endpoint == endpoint && k.model == model && k.upstream == upstream
        })
    }

    /// The tally of series `i` in minute `minute`, dropping minutes older than the window.
    fn tally_minute(&mut self, i: usize, minute: u64) -> &mut Tally {
        // A request that ended just before a newer one was counted goes into the newer minute.
        let minute = self.minutes.back().map_or(minute, |m| m.index.max(minute));
        if self.minutes.back().is_none_or(|m| m.index != minute) {
            self.minutes.push_back(Minute {
                index: minute,
                rows: Vec::new(),
            });
        }
        while self
            .minutes
            .front()
            .is_some_and(|m| m.index + WINDOW_MINUTES <= minute)
        {
            self.minutes.pop_front();
        }
        let rows = &mut self.minutes.back_mut().expect("just pushed").rows;
        let at = match rows.iter().position(|(s, _)| *s == i) {
            Some(at) => at,
            None => {
                rows.push((i, Tally::default()));
                rows.len() - 1
            }
        };
        &mut rows[at].1
    }
}

#[cfg(test)]
mod tests;
