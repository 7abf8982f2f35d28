//! The stream translator: any upstream body gives a well-formed Responses event sequence
//! (numbered events, one terminal event, every item added then done), and the non-streamed
//! reply agrees with it (see `translate::check::stream`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::translate::check::stream::fuzz_one(data));
