//! Replays every committed fuzz input under plain `cargo test` (stable, no cargo-fuzz): the seed
//! corpus `fuzz/corpus/<target>/` and every crash kept in `fuzz/artifacts/<target>/`, through the
//! same check function the fuzz target calls.
// Test code: a panic is how a check fails.
#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// A fuzz target's check: panics when an invariant fails.
type Check = fn(&[u8]);

/// Each fuzz target (`fuzz/fuzz_targets/<name>.rs`) and the library function it calls.
/// A new target adds one line here.
const TARGETS: &[(&str, Check)] = &[
    ("redact", deepinfra_shim::redact::check::fuzz_one),
    ("sse", deepinfra_shim::translate::check::sse::fuzz_one),
    ("stream", deepinfra_shim::translate::check::stream::fuzz_one),
    (
        "request",
        deepinfra_shim::translate::check::request::fuzz_one,
    ),
    ("control", deepinfra_shim::control::check::fuzz_one),
    ("config", deepinfra_shim::config::check::fuzz_one),
];

/// Runs `check` on every file of `dir`; returns how many there were and which failed.
fn replay(dir: &Path, check: Check) -> (usize, Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, Vec::new());
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    (files.len(), failed)
}

#[test]
fn every_corpus_file_and_every_kept_crash_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failed = Vec::new();
    for (name, check) in TARGETS {
        let (seeds, bad) = replay(&root.join("corpus").join(name), *check);
        assert!(seeds > 0, "fuzz/corpus/{name}/ has no seed input");
        failed.extend(bad);
        let (_, bad) = replay(&root.join("artifacts").join(name), *check);
        failed.extend(bad);
    }
    assert!(failed.is_empty(), "fuzz inputs that fail: {failed:#?}");
}
