//! The daemon's command line ([`Cli`]), flag for flag as in the interface contract.
//!
//! Values stay raw (`Option<String>`) so that [`super::validate`] can refuse a bad one with a
//! message naming the flag, and so [`super::load`] knows whether a value came from a flag or
//! from the matching `DEEPINFRA_CODEX_SHIM_*` variable (clap's `env` feature would hide that).
//! Booleans accept `--flag`, `--flag=true|false` (also `yes/no`, `on/off`, `1/0`).

use clap::Parser;

/// `deepinfra-shim [FLAGS]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Parser)]
#[command(
    name = "deepinfra-shim",
    version = crate::VERSION,
    about = "Lets the Codex CLI (Responses API) talk to Chat Completions providers such as DeepInfra",
    long_about = None,
    after_help = "Every flag has a DEEPINFRA_CODEX_SHIM_* environment variable (e.g. --port: \
                  DEEPINFRA_CODEX_SHIM_PORT). Precedence: flag > environment > config file > default."
)]
pub struct Cli {
    /// Listen address [env: DEEPINFRA_CODEX_SHIM_HOST] [default: 127.0.0.1]
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Listen port; 0 picks a free one [env: DEEPINFRA_CODEX_SHIM_PORT] [default: 8797]
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub port: Option<String>,

    /// Chat Completions base URL [env: DEEPINFRA_CODEX_SHIM_UPSTREAM]
    /// [default: https://api.deepinfra.com/v1/openai]
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

    /// Name of the variable holding the provider token [env: DEEPINFRA_CODEX_SHIM_API_KEY_ENV]
    /// [default: DEEPINFRA_TOKEN]
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,

    /// silent, error, warn, info, debug or trace [env: DEEPINFRA_CODEX_SHIM_LOG_LEVEL]
    /// [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Log one line per request with its shape, no content [env: DEEPINFRA_CODEX_SHIM_LOG_REQUESTS]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_requests: Option<bool>,

    /// Include prompt and tool content in logs (secrets still redacted)
    /// [env: DEEPINFRA_CODEX_SHIM_LOG_CONTENT]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_content: Option<bool>,

    /// Drop assistant text that accompanies tool calls
    /// [env: DEEPINFRA_CODEX_SHIM_COMPAT_DROP_TOOL_CALL_CONTENT]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_drop_tool_call_content: Option<bool>,

    /// Longest wait for the upstream's headers, then between two chunks
    /// [env: DEEPINFRA_CODEX_SHIM_TIMEOUT_MS] [default: 120000]
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub timeout_ms: Option<String>,

    /// Largest accepted request body [env: DEEPINFRA_CODEX_SHIM_MAX_BODY_BYTES]
    /// [default: 10485760]
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    pub max_body_bytes: Option<String>,

    /// Config file [env: DEEPINFRA_CODEX_SHIM_CONFIG]
    /// [default: $XDG_CONFIG_HOME/deepinfra-shim/config.yaml]
    #[arg(long, value_name = "PATH")]
    pub config: Option<String>,

    /// Control socket [env: DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET]
    /// [default: $XDG_RUNTIME_DIR/deepinfra-shim/control.sock]
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<String>,

    /// text or json [env: DEEPINFRA_CODEX_SHIM_LOG_FORMAT] [default: text, or journald when
    /// stderr is the journal]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Validate the effective configuration (file + env + flags) and exit: 0 valid, 1 invalid
    #[arg(long)]
    pub check_config: bool,
}

/// Environment variable names, one per flag.
pub mod env {
    pub const HOST: &str = "DEEPINFRA_CODEX_SHIM_HOST";
    pub const PORT: &str = "DEEPINFRA_CODEX_SHIM_PORT";
    pub const UPSTREAM: &str = "DEEPINFRA_CODEX_SHIM_UPSTREAM";
    pub const API_KEY_ENV: &str = "DEEPINFRA_CODEX_SHIM_API_KEY_ENV";
    pub const LOG_LEVEL: &str = "DEEPINFRA_CODEX_SHIM_LOG_LEVEL";
    pub const LOG_REQUESTS: &str = "DEEPINFRA_CODEX_SHIM_LOG_REQUESTS";
    pub const LOG_CONTENT: &str = "DEEPINFRA_CODEX_SHIM_LOG_CONTENT";
    pub const COMPAT_DROP_TOOL_CALL_CONTENT: &str =
        "DEEPINFRA_CODEX_SHIM_COMPAT_DROP_TOOL_CALL_CONTENT";
    pub const TIMEOUT_MS: &str = "DEEPINFRA_CODEX_SHIM_TIMEOUT_MS";
    pub const MAX_BODY_BYTES: &str = "DEEPINFRA_CODEX_SHIM_MAX_BODY_BYTES";
    pub const CONFIG: &str = "DEEPINFRA_CODEX_SHIM_CONFIG";
    pub const CONTROL_SOCKET: &str = "DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET";
    pub const LOG_FORMAT: &str = "DEEPINFRA_CODEX_SHIM_LOG_FORMAT";
    /// Prefix shared by all of the above.
    pub const PREFIX: &str = "DEEPINFRA_CODEX_SHIM_";
}

/// A boolean from an env var: `0 false no off` (any case, surrounding blanks ignored) are
/// false, anything else is true.
pub fn env_bool(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off"
    )
}

#[cfg(test)]
mod tests;
