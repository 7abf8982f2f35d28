//! Writing one captured request: its own 0700 directory inside the capture's, one 0600 file
//! per part, created new (never over an existing file), within the capture's byte budget.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The bytes a capture may still write, shared by its requests.
#[derive(Debug)]
pub struct Budget {
    left: AtomicU64,
}

impl Budget {
    pub fn new(bytes: u64) -> Budget {
        Budget {
            left: AtomicU64::new(bytes),
        }
    }

    /// Takes up to `want` bytes; returns how many were granted.
    pub fn take(&self, want: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                granted = want.min(left);
                Some(left - granted)
            });
        granted
    }

    pub fn is_spent(&self) -> bool {
        self.left.load(Ordering::Relaxed) == 0
    }
}

/// Room a cut part keeps for its [`cut_note`], so that the file with the note stays within
/// its bound.
pub const NOTE_ROOM: usize = 100;

/// Marks a part cut at a size bound (a line of its own, after the kept bytes); at most
/// [`NOTE_ROOM`] bytes for the bounds named here.
pub fn cut_note(dropped: u64, bound: &str) -> String {
    format!("\n[deepinfra-shim capture: {dropped} more bytes not kept ({bound})]\n")
}

/// `bytes` cut to at most `limit` bytes, with a note saying how much was left out when it
/// fits.
pub fn cut(mut bytes: Vec<u8>, limit: usize, bound: &str) -> Vec<u8> {
    if bytes.len() <= limit {
        return bytes;
    }
    let total = bytes.len();
    let room = limit.saturating_sub(NOTE_ROOM);
    bytes.truncate(room);
    let note = cut_note((total - room) as u64, bound);
    if room + note.len() <= limit {
        bytes.extend_from_slice(note.as_bytes());
    }
    bytes
}

/// Writes `parts` (file name, already redacted bytes) into `dir/name`, each cut to what the
/// budget grants. Errors are logged, never raised: a capture must not disturb the request.
pub fn write_request(dir: &Path, name: &str, parts: &[(String, Vec<u8>)], budget: &Budget) {
    let at: PathBuf = dir.join(name);
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&at) {
        tracing::warn!(dir = %at.display(), error = %e, "Capture: cannot create the request's directory");
        return;
    }
    for (file, bytes) in parts {
        let granted = usize::try_from(budget.take(bytes.len() as u64)).unwrap_or(usize::MAX);
        let kept = cut(bytes.clone(), granted, "the capture's total size");
        let path = at.join(file);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&kept));
        if let Err(e) = written {
            tracing::warn!(file = %path.display(), error = %e, "Capture: cannot write a file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_grants_what_is_left() {
        let b = Budget::new(10);
        assert_eq!(b.take(4), 4);
        assert_eq!(b.take(10), 6);
        assert!(b.is_spent());
        assert_eq!(b.take(1), 0);
    }

    #[test]
    fn files_are_private_and_cut_at_the_budget() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let b = Budget::new(3 + 150);
        let long = vec![b'x'; 400];
        write_request(
            dir.path(),
            "001-req_1",
            &[("a.txt".into(), b"abc".to_vec()), ("b.txt".into(), long)],
            &b,
        );
        let at = dir.path().join("001-req_1");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&at), 0o700);
        assert_eq!(mode(&at.join("a.txt")), 0o600);
        assert_eq!(std::fs::read(at.join("a.txt")).unwrap(), b"abc");
        let b_text = std::fs::read_to_string(at.join("b.txt")).unwrap();
        assert!(b_text.len() <= 150, "{}", b_text.len());
        assert!(
            b_text.starts_with(&format!(
                "{}\n[deepinfra-shim capture: 350 more bytes",
                "x".repeat(50)
            )),
            "{b_text}"
        );
        assert!(b.is_spent());
    }

    #[test]
    fn a_cut_keeps_within_its_limit() {
        assert_eq!(cut(b"abc".to_vec(), 3, "x"), b"abc");
        let c = cut(vec![b'a'; 1000], 300, "the file size bound");
        assert!(c.len() <= 300);
        assert!(
            String::from_utf8(c)
                .unwrap()
                .ends_with("more bytes not kept (the file size bound)]\n")
        );
        assert_eq!(
            cut(vec![b'a'; 1000], 20, "x"),
            b"",
            "no room for the note: nothing half-said"
        );
    }
}
