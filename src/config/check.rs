//! The config loader's invariants, written once for the fuzz target
//! (`fuzz/fuzz_targets/config.rs`) and the replay of its corpus (`tests/fuzz_corpus.rs`). Any
//! text, loaded as the config file (the same steps as [`super::load::check_file`] after
//! reading: [`file::read`], [`Layers`], [`validate`]) gives:
//!
//! 1. a configuration, or a YAML error, or a list of problems, and never a panic;
//! 2. a YAML error with a message; problems that are not empty, each with a one-line origin
//!    and message;
//! 3. no secret in any message: neither the tokens and client keys of the environment (unless
//!    the text itself holds them) nor a header value of the file (`upstream.headers`,
//!    `upstreams.*.headers`);
//! 4. a configuration that, reloaded from the same text, changes nothing.
//!
//! Pure apart from looking up the file's mode (the path given does not exist).
//!
//! Not part of the daemon's API: public only so that the fuzz crate can call it.

use std::path::PathBuf;

use super::cli::Cli;
use super::diff;
use super::env::Env;
use super::file;
use super::layers::{FileText, Layers};
use super::model::Config;
use super::validate::validate;

/// Where the text pretends to live: nothing is there, so nothing on disk is read.
const PATH: &str = "/nonexistent/deepinfra-shim-fuzz/config.yaml";

/// Secrets the environment holds, under the names the defaults and the corpus use.
const ENV_SECRETS: &[(&str, &str)] = &[
    ("DEEPINFRA_TOKEN", "di-fuzz-token-Zq8vX1mN4pR7"),
    ("OPENROUTER_API_KEY", "sk-or-fuzz-Kd93hPzW0aLq"),
    (
        "SHIM_CLIENT_KEYS",
        "ck-fuzz-key-one-Tg5s,ck-fuzz-key-two-Yb2w",
    ),
];

/// How one text loaded.
pub enum Loaded {
    Config(Box<Config>),
    /// Not YAML: the message.
    Syntax(String),
    /// Every problem, one line each.
    Problems(Vec<String>),
}

fn env() -> Env {
    let mut pairs = vec![
        ("HOME", "/nonexistent/deepinfra-shim-fuzz"),
        ("XDG_RUNTIME_DIR", "/nonexistent/deepinfra-shim-fuzz/run"),
    ];
    pairs.extend_from_slice(ENV_SECRETS);
    Env::from_pairs(pairs)
}

/// Loads `text` as the config file, with no flags and [`ENV_SECRETS`] in the environment.
pub fn load_text(text: &str) -> Loaded {
    let cli = Cli::default();
    let env = env();
    let ft = FileText {
        path: PathBuf::from(PATH),
        text: text.to_owned(),
    };
    let (values, misplaced) = if text.trim().is_empty() {
        Default::default()
    } else {
        match file::read(text) {
            Ok(v) => v,
            Err(e) => return Loaded::Syntax(e.message),
        }
    };
    let layers = Layers::new(&cli, &env, Some(&ft), &values, misplaced);
    match validate(layers, Some(ft.path.clone())) {
        Ok(c) => Loaded::Config(Box::new(c)),
        Err(problems) => Loaded::Problems(problems.iter().map(ToString::to_string).collect()),
    }
}

/// The header values of `text` worth looking for (long enough not to be a word of a message).
fn header_values(text: &str) -> Vec<String> {
    use serde_yaml_ng::Value;
    let Ok(root) = serde_yaml_ng::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut sections: Vec<&Value> = vec![&root["upstream"]];
    if let Some(named) = root["upstreams"].as_mapping() {
        sections.extend(named.values());
    }
    let mut found = Vec::new();
    for s in sections {
        if let Some(headers) = s["headers"].as_mapping() {
            found.extend(
                headers
                    .values()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|v| v.len() >= 16)
                    .map(str::to_owned),
            );
        }
    }
    found
}

/// Every check on one text; the error says which failed.
pub fn check(text: &str) -> Result<(), String> {
    // A message may quote the file (`got text '…'`), so a secret the text itself holds can
    // only be looked for where the file is supposed to keep it: its header values. The
    // environment's secrets must never show up from anywhere else.
    let mut secrets: Vec<String> = ENV_SECRETS
        .iter()
        .flat_map(|(_, v)| v.split(','))
        .filter(|s| !text.contains(s))
        .map(str::to_owned)
        .collect();
    secrets.extend(header_values(text));
    let leaked = |line: &str| secrets.iter().find(|s| line.contains(s.as_str())).cloned();
    match load_text(text) {
        Loaded::Syntax(message) => {
            if message.trim().is_empty() || message.contains('\n') {
                return Err(format!("YAML error message {message:?}"));
            }
            if let Some(s) = leaked(&message) {
                return Err(format!("the YAML error {message:?} shows the secret {s:?}"));
            }
        }
        Loaded::Problems(problems) => {
            if problems.is_empty() {
                return Err("refused without a problem".into());
            }
            for p in &problems {
                let message = p.split_once(": ").map_or("", |(_, m)| m);
                if message.trim().is_empty() || p.contains('\n') {
                    return Err(format!("problem {p:?} is not one line with a message"));
                }
                if let Some(s) = leaked(p) {
                    return Err(format!("problem {p:?} shows the secret {s:?}"));
                }
            }
        }
        Loaded::Config(config) => {
            let Loaded::Config(again) = load_text(text) else {
                return Err("the same text loaded once and then failed".into());
            };
            let plan = diff::plan(&config, *again);
            if !plan.report.is_empty() {
                return Err(format!(
                    "reloading the same text changes {:?}",
                    plan.report.lines()
                ));
            }
        }
    }
    Ok(())
}

/// The fuzz target: the input is the config file's text (bytes that are not UTF-8 are
/// replaced, as a file read as text would refuse them before any parsing).
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = check(&text) {
        panic!("{e}\ntext: {text:?}");
    }
}
