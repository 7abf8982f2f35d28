//! The request translator: any body is refused or becomes a valid chat request (model,
//! messages in chat order, tool replies after their calls) (see `translate::check::request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::translate::check::request::fuzz_one(data));
