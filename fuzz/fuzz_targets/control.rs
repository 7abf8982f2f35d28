//! The control socket: capped line framing in any pieces, and request lines that are
//! refused with a short message or re-encode to themselves (see `control::check`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::control::check::fuzz_one(data));
