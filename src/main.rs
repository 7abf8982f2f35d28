//! `deepinfra-shim`: the daemon. Only wires: parses flags, takes one snapshot of the
//! environment, loads and checks the configuration (before binding anything), then hands all
//! three to `service::run`.

use std::process::ExitCode;

use clap::Parser;
use deepinfra_shim::config::{self, cli::Cli, load::Env};
use deepinfra_shim::service::run::Daemon;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One snapshot of the environment for the life of the process: reloads re-read the file,
    // never the environment (which nothing in the daemon mutates).
    let env = Env::from_process();
    if cli.check_config {
        return check_config(&cli, &env);
    }
    let config = match config::load(&cli, &env) {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("deepinfra-shim: {line}");
            }
            return ExitCode::from(e.exit_code());
        }
    };

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("deepinfra-shim")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deepinfra-shim: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(deepinfra_shim::service::run(Daemon { config, cli, env }));
    ExitCode::from(code as u8)
}

/// `--check-config`: validates file + env + flags as a start would, names the file it checked,
/// warns when other users could rewrite it; exit 0 valid, 1 invalid.
fn check_config(cli: &Cli, env: &Env) -> ExitCode {
    let path = config::load::config_path(cli, env).0;
    let warning = path.as_deref().and_then(config::paths::permission_warning);
    let code = match config::load(cli, env) {
        Ok(c) => {
            match (&c.config_path, &path) {
                (Some(p), _) => println!("deepinfra-shim: configuration OK ({})", p.display()),
                (None, Some(p)) => println!(
                    "deepinfra-shim: configuration OK (built-in defaults; no config file at {})",
                    p.display()
                ),
                (None, None) => {
                    println!("deepinfra-shim: configuration OK (built-in defaults; no config file)")
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let lines = e.lines();
            let checked = match &path {
                Some(p) => p.display().to_string(),
                None => "the configuration".to_owned(),
            };
            eprintln!(
                "deepinfra-shim: {checked}: invalid ({} problem{}):",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            );
            for line in lines {
                eprintln!("deepinfra-shim: {line}");
            }
            ExitCode::from(1)
        }
    };
    if let Some(w) = warning {
        eprintln!("deepinfra-shim: warning: {w}");
    }
    code
}
