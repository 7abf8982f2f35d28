//! Logging: tracing to stderr (text or JSON) or natively to journald, with a level that can
//! change at runtime (`shimctl log-level`, config reload).
//!
//! - text: one short line per event for people ([`text`] says what a line holds);
//! - JSON: one object per event with every field, the target and the spans;
//! - journald (when `JOURNAL_STREAM` says stderr is the journal): every field as a journal
//!   field (`F_` + its name in capitals, e.g. `F_MODEL`, `F_STATUS`; the request span's fields
//!   on every event inside it), `MESSAGE`, `TARGET`, `CODE_FILE`/`CODE_LINE`,
//!   `SYSLOG_IDENTIFIER=deepinfra-shim`, and `PRIORITY` by level: error 3, warn 4, info 6,
//!   debug and trace 7 (the syslog meanings, so `journalctl -p info` hides debug output).
//!
//! The level is a `Targets` filter behind a reload handle: a new level is parsed first and
//! swapped only if valid, so a bad value leaves the old level in force.
//!
//! Secrets: text and JSON lines are written through a [`RedactingWriter`] that redacts each
//! line with the redactor of the config in force (every provider token, client key and
//! `upstream.headers` value, in each form `crate::redact` knows). Logging starts before the
//! daemon's state exists, so [`LogControl`] owns the cell the writer reads, and the state fills
//! it at start and on every config swap ([`LogControl::follow`]). Journald output is sent as
//! native fields by `tracing-journald`, which takes no writer: `logging/journal.rs` redacts
//! the fields before that layer sees them, with the same cell.
//!
//! [`viewer`] is the other end: how `shimctl logs` finds these lines again.

mod journal;
mod text;
pub mod viewer;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use crate::config::LogFormat;
use crate::redact::{RedactingWriter, Redactor};

/// The level names the contract accepts, quietest first.
pub const LEVELS: [&str; 6] = ["silent", "error", "warn", "info", "debug", "trace"];

pub fn parse_level(level: &str) -> Option<LevelFilter> {
    Some(match level.trim().to_ascii_lowercase().as_str() {
        "silent" | "off" | "none" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => return None,
    })
}

/// Our own crate at `level`; the HTTP/TLS libraries one step quieter, because their debug
/// output is noise for a user who wants to see what the shim does (and may echo headers).
fn targets(level: LevelFilter) -> Targets {
    let deps = if level >= LevelFilter::TRACE {
        LevelFilter::DEBUG
    } else {
        level.min(LevelFilter::WARN)
    };
    Targets::new()
        .with_default(level)
        .with_target("hyper", deps)
        .with_target("hyper_util", deps)
        .with_target("reqwest", deps)
        .with_target("h2", deps)
        .with_target("rustls", deps)
        .with_target("notify", deps)
}

/// Whether text lines show targets and the quiet span fields: at debug and trace.
fn is_verbose(level: LevelFilter) -> bool {
    level >= LevelFilter::DEBUG
}

/// Handle to the running subscriber's level.
pub struct LogControl {
    handle: Option<reload::Handle<Targets, Registry>>,
    current: Mutex<String>,
    /// Read by the text formatter on every line; follows the level.
    verbose: Arc<AtomicBool>,
    /// The redactor every line is written through; follows the config ([`Self::follow`]).
    secrets: Secrets,
}

/// The redactor log lines are written through, shared by the writers and [`LogControl`].
type Secrets = Arc<ArcSwap<Redactor>>;

fn no_secrets() -> Secrets {
    Arc::new(ArcSwap::from_pointee(Redactor::empty()))
}

/// Stderr, each write (one whole line: the formatter writes an event at once) redacted with
/// the redactor in `secrets` at that moment.
fn redacting_stderr(
    secrets: &Secrets,
) -> impl for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static {
    redacting(secrets, std::io::stderr)
}

/// [`redacting_stderr`] for any writer `make` returns.
fn redacting<W, M>(
    secrets: &Secrets,
    make: M,
) -> impl for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static
where
    W: std::io::Write,
    M: Fn() -> W + Send + Sync + 'static,
{
    let secrets = Arc::clone(secrets);
    move || {
        let secrets = Arc::clone(&secrets);
        RedactingWriter::new(make(), move || secrets.load_full())
    }
}

impl LogControl {
    /// A control for tests and tools that never installed a subscriber.
    pub fn detached(level: &str) -> Self {
        LogControl {
            handle: None,
            current: Mutex::new(level.to_owned()),
            verbose: Arc::new(AtomicBool::new(false)),
            secrets: no_secrets(),
        }
    }

    /// From now on, lines are redacted with `redactor` (the config in force: called when the
    /// state is made and on every config swap).
    pub fn follow(&self, redactor: &Redactor) {
        self.secrets.store(Arc::new(redactor.clone()));
    }

    /// The redactor lines are written through now.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.secrets.load_full()
    }

    pub fn level(&self) -> String {
        self.current.lock().expect("log lock").clone()
    }

    /// Sets the level; an unknown name is refused and the old level stays.
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = parse_level(level).ok_or_else(|| {
            format!(
                "unknown log level '{level}' (expected one of: {})",
                LEVELS.join(" ")
            )
        })?;
        if let Some(h) = &self.handle {
            h.reload(targets(filter))
                .map_err(|e| format!("cannot change the log level: {e}"))?;
        }
        self.verbose.store(is_verbose(filter), Ordering::Relaxed);
        *self.current.lock().expect("log lock") = level.trim().to_ascii_lowercase();
        Ok(())
    }
}

/// The text layer (see [`text`]); `verbose` follows the level.
fn text_layer<S, W>(
    verbose: &Arc<AtomicBool>,
    ansi: bool,
    writer: W,
) -> tracing_subscriber::fmt::Layer<S, text::SpanFields, text::TextLine, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .event_format(text::TextLine {
            verbose: Arc::clone(verbose),
        })
        .fmt_fields(text::SpanFields {
            verbose: Arc::clone(verbose),
        })
}

/// The journald priorities: the syslog meaning of each level (the crate's default puts info
/// at 5, "notice", which journalctl highlights, and debug at 6).
fn journal_priorities() -> tracing_journald::PriorityMappings {
    use tracing_journald::Priority;
    tracing_journald::PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Informational,
        debug: Priority::Debug,
        trace: Priority::Debug,
    }
}

/// Installs the global subscriber. Falls back to text on stderr if journald cannot be
/// reached (e.g. the journal socket is gone), saying so once.
pub fn init(format: LogFormat, level: &str) -> LogControl {
    let filter = parse_level(level).unwrap_or(LevelFilter::INFO);
    let verbose = Arc::new(AtomicBool::new(is_verbose(filter)));
    let secrets = no_secrets();
    let (filter_layer, handle) = reload::Layer::new(targets(filter));
    let registry = tracing_subscriber::registry().with(filter_layer);
    let ansi = std::io::stderr().is_terminal();
    let mut journald_failed = None;
    match format {
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => {
                let layer = layer
                    .with_syslog_identifier("deepinfra-shim".into())
                    .with_priority_mappings(journal_priorities());
                let layer = journal::Redacted {
                    inner: layer,
                    secrets: Arc::clone(&secrets),
                };
                let _ = registry.with(layer).try_init();
            }
            Err(e) => {
                journald_failed = Some(e.to_string());
                let _ = registry
                    .with(text_layer(&verbose, ansi, redacting_stderr(&secrets)))
                    .try_init();
            }
        },
        LogFormat::Json => {
            let _ = registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_writer(redacting_stderr(&secrets)),
                )
                .try_init();
        }
        LogFormat::Text => {
            let _ = registry
                .with(text_layer(&verbose, ansi, redacting_stderr(&secrets)))
                .try_init();
        }
    }
    if let Some(e) = journald_failed {
        tracing::warn!(error = %e, "Cannot log to journald; logging text to stderr instead");
    }
    LogControl {
        handle: Some(handle),
        current: Mutex::new(level.trim().to_ascii_lowercase()),
        verbose,
        secrets,
    }
}
