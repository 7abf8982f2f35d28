//! The redactor: no form of a secret survives, streaming in any chunks equals whole-body
//! redaction, truncation keeps a prefix of the redacted text (see `redact::check`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::redact::check::fuzz_one(data));
