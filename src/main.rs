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
    let config = match config::load(&cli, &env) {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("deepinfra-shim: {line}");
            }
            return ExitCode::from(if cli.check_config { 1 } else { e.exit_code() });
        }
    };
    if cli.check_config {
        match &config.config_path {
            Some(p) => println!("deepinfra-shim: configuration OK ({})", p.display()),
            None => {
                println!("deepinfra-shim: configuration OK (built-in defaults; no config file)")
            }
        }
        return ExitCode::SUCCESS;
    }

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
