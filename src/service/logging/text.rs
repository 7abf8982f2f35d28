//! The text log line: what a person reads on a terminal or in the LaunchAgent's log file.
//!
//! One event, one line:
//!
//! ```text
//! 2026-01-02T03:04:05.678901Z  INFO Stream finished status=200 outcome=completed duration_ms=812 bytes=5120 id=req_1f model=deepseek-ai/DeepSeek-V4-Flash upstream=default
//! ```
//!
//! - the message first, then the event's fields, then the fields of the spans it is in;
//! - a value is written bare unless it would be ambiguous (empty, whitespace, `"`, `=`, `\`,
//!   control characters): then it is quoted with Rust escapes. The same value reads the same
//!   whether the code recorded it as a string, with `%` or with `?`, and a newline or an
//!   escape sequence in a value can neither break the line nor reach the terminal;
//! - module paths (the event's target) and the request span's `method` and `path` (every
//!   Codex request is `POST /v1/responses`) are shown only when the level is debug or trace,
//!   which is when someone is looking at where a line comes from.
//!
//! JSON and journald output do not go through here: they keep every field.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span fields left out of text lines unless the level is debug or trace.
const QUIET_SPAN_FIELDS: [&str; 2] = ["method", "path"];

/// Writes `value` as a field value: bare when that is unambiguous, else quoted and escaped.
pub(super) fn write_value(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '=' | '\\'));
    if bare {
        out.write_str(value)
    } else {
        write!(out, "{value:?}")
    }
}

/// Writes free text (the message) with control characters escaped, so it stays on one line
/// and cannot carry terminal escape sequences.
fn write_text(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(out, "{}", c.escape_default())?;
        } else {
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// Formats fields as ` key=value` pairs (each with its leading space).
struct PairVisitor<'a, W: fmt::Write> {
    out: &'a mut W,
    /// Where the `message` field goes; `None` writes it as an ordinary pair.
    message: Option<&'a mut String>,
    skip: &'a [&'a str],
    scratch: String,
    result: fmt::Result,
}

impl<'a, W: fmt::Write> PairVisitor<'a, W> {
    fn new(out: &'a mut W, message: Option<&'a mut String>, skip: &'a [&'a str]) -> Self {
        PairVisitor {
            out,
            message,
            skip,
            scratch: String::new(),
            result: Ok(()),
        }
    }

    fn pair(&mut self, field: &Field, value: &str) {
        if self.result.is_err() || self.skip.contains(&field.name()) {
            return;
        }
        // The first `message` is the event's text; an event may also carry a field of that
        // name (`message = %reason`), which is then an ordinary pair.
        if field.name() == "message"
            && let Some(m) = self.message.take()
        {
            m.push_str(value);
            return;
        }
        self.result = write!(self.out, " {}=", field.name())
            .and_then(|()| write_value(&mut *self.out, value));
    }
}

impl<W: fmt::Write> Visit for PairVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value:?}");
        self.pair(field, &scratch);
        self.scratch = scratch;
    }
}

/// How span fields are stored for text lines (tracing-subscriber keeps them per span as a
/// formatted string): ` key=value` pairs, the quiet ones left out unless verbose.
pub(super) struct SpanFields {
    pub(super) verbose: Arc<AtomicBool>,
}

impl<'w> FormatFields<'w> for SpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let skip: &[&str] = if self.verbose.load(Ordering::Relaxed) {
            &[]
        } else {
            &QUIET_SPAN_FIELDS
        };
        let mut v = PairVisitor::new(&mut writer, None, skip);
        fields.record(&mut v);
        v.result
    }

    // Every pair carries its own leading space, so appending needs no separator.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

/// The event line (see the module documentation).
pub(super) struct TextLine {
    pub(super) verbose: Arc<AtomicBool>,
}

fn level_style(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::ERROR => ("ERROR", "\x1b[31m"),
        Level::WARN => (" WARN", "\x1b[33m"),
        Level::INFO => (" INFO", "\x1b[32m"),
        Level::DEBUG => ("DEBUG", "\x1b[34m"),
        Level::TRACE => ("TRACE", "\x1b[35m"),
    }
}

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        SystemTime.format_time(&mut w)?;
        let (name, colour) = level_style(*meta.level());
        if w.has_ansi_escapes() {
            write!(w, " {colour}{name}\x1b[0m ")?;
        } else {
            write!(w, " {name} ")?;
        }
        if self.verbose.load(Ordering::Relaxed) {
            write!(w, "{}: ", meta.target())?;
        }

        let mut message = String::new();
        let mut fields = String::new();
        let mut v = PairVisitor::new(&mut fields, Some(&mut message), &[]);
        event.record(&mut v);
        v.result?;
        write_text(&mut w, &message)?;
        w.write_str(&fields)?;

        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    w.write_str(&f.fields)?;
                }
            }
        }
        writeln!(w)
    }
}
