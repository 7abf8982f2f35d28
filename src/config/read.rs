//! Reading the config file from disk: once ([`read_text`], at start and for checks), or until
//! two reads agree ([`read_stable`], for reloads, so a file caught in the middle of being
//! rewritten is never applied).

use std::io;
use std::path::Path;
use std::time::Duration;

use super::error::LoadError;

/// How many times [`read_stable`] compares two reads before it gives up.
pub const STABLE_ATTEMPTS: usize = 5;

/// The file's text. A missing file is [`LoadError::MissingFile`] naming `origin` (the flag or
/// variable that chose the file, None for a path given directly).
pub fn read_text(path: &Path, origin: Option<&'static str>) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            LoadError::MissingFile {
                path: path.to_owned(),
                origin,
            }
        } else {
            LoadError::Read {
                path: path.to_owned(),
                source: e,
            }
        }
    })
}

/// Reads the file, waits `quiet` (50-100 ms suits editors and `>` redirections), reads again,
/// and returns the text once two consecutive reads agree (a missing file on both reads is
/// [`LoadError::MissingFile`]). After [`STABLE_ATTEMPTS`] disagreeing pairs it gives up with
/// [`LoadError::Unstable`]: something keeps writing the file, and the caller keeps its current
/// configuration.
pub async fn read_stable(path: &Path, quiet: Duration) -> Result<String, LoadError> {
    let mut last = read_text(path, None);
    for _ in 0..STABLE_ATTEMPTS {
        tokio::time::sleep(quiet).await;
        let next = read_text(path, None);
        match (&last, &next) {
            (Ok(a), Ok(b)) if a == b => return next,
            (Err(LoadError::MissingFile { .. }), Err(LoadError::MissingFile { .. })) => {
                return next;
            }
            // Another read error (permissions) will not go away by waiting.
            (_, Err(e)) if !matches!(e, LoadError::MissingFile { .. }) => return next,
            _ => last = next,
        }
    }
    let waited = quiet.saturating_mul(u32::try_from(STABLE_ATTEMPTS).unwrap_or(u32::MAX));
    Err(LoadError::Unstable {
        path: path.to_owned(),
        reads: STABLE_ATTEMPTS + 1,
        waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests;
