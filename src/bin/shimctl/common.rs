//! What every command shares: the exit statuses, the output style, and reading the daemon's
//! status or, when no daemon runs, the config it would load.

use std::io::IsTerminal;

use deepinfra_shim::catalog;
use deepinfra_shim::config::cli::Cli as DaemonCli;
use deepinfra_shim::config::load::{self, Env};
use deepinfra_shim::config::{self, Config};
use deepinfra_shim::control::protocol::Reply;
use deepinfra_shim::control::render::Style;
use deepinfra_shim::control::{Client, CtlError};

/// Exit status when the daemon is not running or cannot be reached.
pub(crate) const NOT_RUNNING: u8 = 3;

pub(crate) fn style() -> Style {
    Style::detect(std::io::stdout().is_terminal())
}

/// Prints a failed exchange and returns its exit status.
pub(crate) fn ctl_failed(e: &CtlError) -> u8 {
    eprintln!("shimctl: {e}");
    if e.is_unreachable() { NOT_RUNNING } else { 1 }
}

/// Prints an error reply and returns 1.
pub(crate) fn refused(reply: &Reply) -> u8 {
    eprintln!(
        "shimctl: {}",
        reply
            .error
            .as_deref()
            .unwrap_or("the daemon refused (no reason given)")
    );
    1
}

/// The config the daemon would load when started from this shell.
pub(crate) fn local_config(env: &Env) -> Result<Config, Vec<String>> {
    config::load(&DaemonCli::default(), env).map_err(|e| e.lines())
}

/// The config the catalog describes: the running daemon's file and upstream URLs (flags may
/// have changed them), else the config the daemon would load from this shell.
/// The error is the exit status, the reason printed.
pub(crate) async fn catalog_config(client: &Client, env: &Env) -> Result<Config, u8> {
    let s = match client.status().await {
        Err(e) => return Err(ctl_failed(&e)),
        Ok(Err(_)) => return local_config(env).map_err(config_failed),
        Ok(Ok(s)) => s,
    };
    let config = match &s.config_path {
        Some(p) => load::check_file(std::path::Path::new(p), env),
        None => config::load(&DaemonCli::default(), env),
    }
    .map_err(|e| config_failed(e.lines()))?;
    Ok(catalog::with_upstream_urls(
        config,
        s.upstreams
            .iter()
            .map(|u| (u.name.as_str(), u.url.as_str())),
    ))
}

pub(crate) fn config_failed(lines: Vec<String>) -> u8 {
    eprintln!("shimctl: the config does not load:");
    for l in lines {
        eprintln!("  {l}");
    }
    1
}
