//! The invariants of the translation, written once for the fuzz targets (`fuzz/fuzz_targets/`)
//! and the replay of their corpora under `cargo test` (`tests/fuzz_corpus.rs`):
//!
//! - [`sse`]: the upstream SSE parser gives the same events in any chunking, the events an
//!   independent whole-body reading gives, and none above its size limit;
//! - [`stream`]: any upstream body through the parser and the stream translator gives a
//!   well-formed Responses event sequence, and the non-streamed reply agrees with it;
//! - [`request`]: any body is refused or becomes a chat request that a provider accepts.
//!
//! Each `fuzz_one` panics when an invariant fails. Pure: no I/O, no clock.
//!
//! Not part of the daemon's API: public only so that the fuzz crate can call it.

pub mod request;
pub mod sse;
pub mod stream;
