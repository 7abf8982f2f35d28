//! The upstream SSE parser: any bytes in any chunks give the events of the whole body and
//! of a plain reading of the framing, and none above the size limit (see `translate::check::sse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::translate::check::sse::fuzz_one(data));
