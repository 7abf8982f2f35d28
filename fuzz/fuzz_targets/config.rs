//! The config loader: any text gives a config, a YAML error or one-line problems that show
//! no secret; a config reloads from the same text without changes (see `config::check`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deepinfra_shim::config::check::fuzz_one(data));
