//! Redaction for log output: an `io::Write` that redacts every write.

use std::fmt;
use std::io::{self, Write};

use super::engine::Redactor;

/// Redacts each write with the redactor `current` returns at that moment (a reload can change
/// the secrets, so it is fetched per write, not captured once), then writes it whole to `inner`.
///
/// A log formatter writes one event per call, so a secret never straddles two writes; one that
/// did would be missed (this is not a [`super::StreamRedactor`]: a log line must not wait).
pub struct RedactingWriter<W, F> {
    inner: W,
    current: F,
}

impl<W, F> RedactingWriter<W, F> {
    /// `current` is typically `move || state.redactor()` (an `Arc<Redactor>` or a `Redactor`).
    pub fn new(inner: W, current: F) -> Self {
        RedactingWriter { inner, current }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W, F, R> Write for RedactingWriter<W, F>
where
    W: Write,
    F: Fn() -> R,
    R: AsRef<Redactor>,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let redactor = (self.current)();
        self.inner.write_all(&redactor.as_ref().redact_bytes(buf))?;
        // All of `buf` was consumed, whatever length its redacted form had.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W, F> fmt::Debug for RedactingWriter<W, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactingWriter").finish_non_exhaustive()
    }
}
