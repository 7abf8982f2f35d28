//! What each model does: the daemon's per-model, per-upstream accounting and what shows it.
//!
//! - [`track`]: the [`Tracker`] every request carries from arrival to its last byte; it logs
//!   the request's completion line and hands one [`Summary`] to the book.
//! - [`book`]: the one owner of the numbers ([`Metrics`]): totals since start, minute tallies
//!   and latency samples for the last hour, bounded labels.
//! - [`expose`]: `GET /metrics` (Prometheus text format); [`report`]: the `stats` and `capture`
//!   payloads of the control protocol; [`prices`]: the providers' list prices, fetched in the
//!   background, for the cost estimate.
//! - [`capture`]: `shimctl capture`, recording the next requests both ways, redacted.
//! - [`summary`], [`hist`], [`retry`]: what a request was, distributions, Codex's retries.
//!
//! The translator counts what it sees per reply (`translate::stream::Counts`), at the end of
//! the reply; nothing here runs per token.

pub mod book;
pub mod capture;
pub mod expose;
pub mod hist;
pub mod prices;
pub mod report;
pub mod retry;
pub mod summary;
pub mod track;

pub use book::{Metrics, SeriesTotals};
pub use capture::Capture;
pub use report::{CaptureReport, CaptureRequest, StatsReport, StatsRow};
pub use summary::{Ended, Endpoint, Summary};
pub use track::{Reply, Tracker};
