//! `shimctl`: the control client of deepinfra-shim. Parses arguments, asks the daemon over the
//! control socket (types from `deepinfra_shim::control::protocol`, never hand-written JSON),
//! prints, and exits with the codes of the interface contract:
//! status 0 running / 3 not running; log-level and reload 0 / 1 refused / 3 not running;
//! check-config 0 valid / 1 invalid; codex-config 0 (1 when --catalog cannot be written or
//! --write is refused);
//! models 0 (1 when the config does not load); doctor 0 all good / 1 otherwise; smoke 0 ok /
//! 1 failed / 3 not running; stats 0 / 3 not running; capture 0 armed / 1 refused / 3 not
//! running; logs: the exit status of the tool that shows the log (1 when it cannot be run).
//!
//! This file holds the command line and the short commands; `shimctl/common.rs` what every
//! command shares, `shimctl/codex.rs` `codex-config`, `shimctl/observe.rs` `stats`, `capture`
//! and `logs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use deepinfra_shim::catalog;
use deepinfra_shim::config;
use deepinfra_shim::config::cli::Cli as DaemonCli;
use deepinfra_shim::config::load::{self, Env};
use deepinfra_shim::control::doctor;
use deepinfra_shim::control::protocol::{Request, StatusReport};
use deepinfra_shim::control::render;
use deepinfra_shim::control::smoke;
use deepinfra_shim::control::{Client, CtlError};

// The commands' modules live beside this crate root, in shimctl/ (a crate root's modules would
// otherwise be looked for in src/bin/ itself, where cargo takes every file for a binary).
#[path = "shimctl/codex.rs"]
mod codex;
#[path = "shimctl/common.rs"]
mod common;
#[path = "shimctl/observe.rs"]
mod observe;

use codex::{WriteTo, codex_config};
use common::{catalog_config, ctl_failed, local_config, refused, style};
use observe::{capture, logs, stats};

#[derive(Debug, Parser)]
#[command(
    name = "shimctl",
    version = deepinfra_shim::VERSION,
    about = "Ask and steer a running deepinfra-shim",
    after_help = "Exit status: 0 success; 1 refused, invalid or a check failed; 3 the daemon is \
                  not running (status, log-level, reload, smoke, stats, capture)."
)]
struct Cli {
    /// Control socket [env: DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET]
    /// [default: $XDG_RUNTIME_DIR/deepinfra-shim/control.sock, else
    /// ${TMPDIR:-/tmp}/deepinfra-shim-$UID/control.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what the daemon is doing (exit 0 running, 3 not running)
    Status {
        /// Print the status as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Show the log level, or set it until the next reload that changes log.level, or a restart
    LogLevel {
        /// silent, error, warn, info, debug or trace
        level: Option<String>,
    },
    /// Reload the config file now; print what changed, or every reason it was refused (exit 1)
    Reload {
        /// Only show what a reload would change, read and validated by the daemon exactly as a
        /// reload; nothing is applied (exit 0 valid, 1 invalid)
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate a config file as the daemon would, listing every problem (exit 0 valid, 1
    /// invalid)
    CheckConfig {
        /// The file [default: the running daemon's file (asked over the control socket); when
        /// no daemon answers, DEEPINFRA_CODEX_SHIM_CONFIG or
        /// $XDG_CONFIG_HOME/deepinfra-shim/config.yaml]
        path: Option<PathBuf>,
        /// Also show what a reload of this file would change in the running daemon (checked by
        /// the daemon as a reload would, nothing applied); without a daemon there is nothing
        /// to compare with, and the file is only checked
        #[arg(long)]
        diff: bool,
    },
    /// Print the ~/.codex/config.toml provider block for this daemon, or (--write) merge it
    /// into Codex's config (exit 1 when that is refused)
    CodexConfig {
        /// The model Codex asks for [default: deepseek-ai/DeepSeek-V4-Flash]; with --catalog,
        /// the only model the catalog describes
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Also write a Codex model catalog (apply_patch, context windows, vision, reasoning)
        /// for the served models to PATH and point the block at it (model_catalog_json)
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
        /// The Codex whose bundled catalog the entries are modelled on
        /// [default: $CODEX_BIN, else codex on PATH]
        #[arg(long, value_name = "PATH", requires = "catalog")]
        codex_bin: Option<PathBuf>,
        /// Edit $CODEX_HOME/config.toml (default ~/.codex/config.toml) in place instead of
        /// printing: comments and other settings kept, a timestamped backup when something
        /// changes, nothing changed on a second run
        #[arg(long)]
        write: bool,
        /// With --write: select the provider in $CODEX_HOME/NAME.config.toml, the profile
        /// `codex --profile NAME` uses, and leave config.toml's own model alone
        #[arg(long, value_name = "NAME", requires = "write")]
        profile: Option<String>,
    },
    /// The models this daemon serves: upstream, context window, vision, reasoning,
    /// apply_patch, and where each fact came from
    Models {
        /// Print the facts as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Check the daemon, each upstream with the daemon's own token (checked by the daemon) and
    /// Codex's config (exit 0 all good, 1 not)
    Doctor,
    /// Send one harmless live request ("Reply with exactly OK.") through the daemon, as Codex
    /// would, and report the answer, the time to the first token, the tokens and whether the
    /// reply is what Codex needs (exit 0 ok, 1 failed, 3 not running)
    Smoke {
        /// The model to ask [default: the one Codex is set up with, else
        /// deepseek-ai/DeepSeek-V4-Flash]
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Ask a model routed to this upstream (a name under upstreams:, or default)
        #[arg(long, value_name = "NAME")]
        upstream: Option<String>,
    },
    /// What each model did lately, per model and upstream: requests, errors by kind, time to
    /// first token, output speed, tokens, tool-call health, estimated cost (exit 0, 3 not
    /// running)
    Stats {
        /// Print the numbers as one JSON object (with --watch, one per refresh)
        #[arg(long)]
        json: bool,
        /// How far back to look, at most 1h: 90s, 15m, 1h [default: 15m]
        #[arg(long, value_name = "D")]
        window: Option<String>,
        /// Redraw every 2 s, like top, until Ctrl-C
        #[arg(long)]
        watch: bool,
    },
    /// Record the next requests both ways (redacted, bounded) into DIR, to attach to a bug
    /// report about a model; returns at once (exit 0 armed, 1 refused, 3 not running)
    Capture {
        /// A new or empty directory of yours (made 0700; files 0600)
        dir: PathBuf,
        /// How long to record, at most 1h [default: 60s]
        #[arg(long = "for", value_name = "D")]
        for_: Option<String>,
        /// Most requests to record [default: 10]
        #[arg(long, value_name = "N")]
        max: Option<u32>,
        /// Only requests for this model (the name Codex uses, or the one sent upstream)
        #[arg(long, value_name = "M")]
        model: Option<String>,
    },
    /// Show the daemon's log: journalctl --user -u deepinfra-shim on Linux, the LaunchAgent's
    /// log file on macOS (exit status: that tool's)
    Logs {
        /// Keep printing new lines as they come
        #[arg(short, long)]
        follow: bool,
        /// Show only the last N lines
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<u64>,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (deepinfra-shim.1, shimctl.1, shimctl-COMMAND.1) into DIR; used by
    /// packaging/install.sh
    #[command(hide = true)]
    GenerateMan {
        /// Created if missing; existing pages are overwritten
        dir: PathBuf,
    },
}

/// `shimctl models --json | head` closes our stdout early; `print!` (and clap_complete's
/// writer) then panic with the broken pipe. Rust ignores SIGPIPE, so end the way a C tool killed
/// by it looks to the shell (status 128 + 13), quietly, instead of a panic report. Socket errors
/// are `Result`s, never panics, so this only ever catches a closed stdout; every other panic
/// keeps the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") || message.contains("BrokenPipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let env = Env::from_process();
    let client = Client::new(load::control_socket_path(cli.socket.as_deref(), &env));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shimctl: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Status { json } => status(&client, json).await,
            Command::LogLevel { level } => log_level(&client, level).await,
            Command::Reload { dry_run } => reload(&client, dry_run, None)
                .await
                .unwrap_or_else(|e| ctl_failed(&e)),
            Command::CheckConfig { path, diff: true } => {
                match reload(&client, true, path.as_deref()).await {
                    Ok(code) => code,
                    Err(e) if !e.is_unreachable() => ctl_failed(&e),
                    Err(_) => {
                        eprintln!(
                            "shimctl: no daemon answered on {}: nothing to diff against; \
                             checking the file alone",
                            client.path().display()
                        );
                        check_config(&client, path, &env).await
                    }
                }
            }
            Command::CheckConfig { path, diff: false } => check_config(&client, path, &env).await,
            Command::CodexConfig {
                model,
                catalog,
                codex_bin,
                write,
                profile,
            } => {
                let write = write.then_some(WriteTo { profile });
                codex_config(&client, &env, model, catalog, codex_bin, write).await
            }
            Command::Models { json } => models(&client, &env, json).await,
            Command::Doctor => run_doctor(&client, &env).await,
            Command::Smoke { model, upstream } => {
                let opts = smoke::Options { model, upstream };
                let out = smoke::run(&client, &env, &opts, style()).await;
                print!("{}", out.report);
                eprint!("{}", out.error);
                out.code
            }
            Command::Stats {
                json,
                window,
                watch,
            } => stats(&client, json, window.as_deref(), watch).await,
            Command::Capture {
                dir,
                for_,
                max,
                model,
            } => capture(&client, &dir, for_.as_deref(), max, model).await,
            Command::Completions { shell } => {
                let mut cmd = Cli::command();
                clap_complete::generate(shell, &mut cmd, "shimctl", &mut std::io::stdout());
                0
            }
            Command::Logs { follow, lines } => logs(&env, follow, lines),
            Command::GenerateMan { dir } => generate_man(&dir),
        }
    });
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

async fn status(client: &Client, json: bool) -> u8 {
    let reply = match client.request(Request::Status).await {
        Ok(r) => r,
        Err(e) => return ctl_failed(&e),
    };
    let Some(s) = reply.status.as_ref().filter(|_| reply.ok) else {
        return refused(&reply);
    };
    if json {
        let v = render::status_json(s, deepinfra_shim::VERSION);
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("a status always serializes")
        );
    } else {
        print!("{}", render::status(s, style()));
    }
    0
}

async fn log_level(client: &Client, level: Option<String>) -> u8 {
    let req = match &level {
        None => Request::GetLogLevel,
        Some(l) => Request::SetLogLevel { level: l.clone() },
    };
    let reply = match client.request(req).await {
        Ok(r) => r,
        Err(e) => return ctl_failed(&e),
    };
    if !reply.ok {
        return refused(&reply);
    }
    let now = reply.log_level.as_deref().unwrap_or("?");
    match level {
        None => println!("{now}"),
        Some(_) => {
            println!("Log level set to {now} (until a reload that changes log.level, or a restart)")
        }
    }
    0
}

/// `reload`, `reload --dry-run` (`file` None) and `check-config [PATH] --diff`: a dry run asks
/// the daemon to plan the reload (of its own file, or of `file`) and say what it would change,
/// applying nothing. The exit status, or the error of an exchange that failed (not printed).
async fn reload(
    client: &Client,
    dry_run: bool,
    file: Option<&std::path::Path>,
) -> Result<u8, CtlError> {
    let req = match dry_run {
        false => Request::Reload,
        true => Request::PlanReload {
            file: file.map(|f| config::paths::absolute(f).display().to_string()),
        },
    };
    let reply = client.request(req).await?;
    Ok(match (&reply.reload, reply.ok) {
        (Some(r), true) if dry_run => {
            print!("{}", render::reload_planned(r));
            0
        }
        (Some(r), true) => {
            print!("{}", render::reload_applied(r));
            0
        }
        (Some(r), false) if !r.reasons.is_empty() => {
            eprint!("{}", render::reload_refused(r));
            1
        }
        _ => refused(&reply),
    })
}

/// Which file `check-config` checks: the one given, else the running daemon's (from its
/// status), else the one a daemon started from this shell would read. Says which it chose.
async fn check_config(client: &Client, path: Option<PathBuf>, env: &Env) -> u8 {
    let daemon_file = match &path {
        Some(_) => None,
        None => match client.status().await {
            Ok(s) => Some(s),
            Err(e) => return ctl_failed(&e),
        },
    };
    let (checked, result) = match (&path, daemon_file) {
        (Some(p), _) => {
            let p = config::paths::absolute(p);
            let r = load::check_file(&p, env);
            (Some(p), r)
        }
        (
            None,
            Some(Ok(StatusReport {
                config_path: Some(p),
                ..
            })),
        ) => {
            eprintln!("shimctl: checking the running daemon's config file");
            let p = PathBuf::from(p);
            let r = load::check_file(&p, env);
            (Some(p), r)
        }
        (None, answer) => {
            let why = match answer {
                Some(Ok(_)) => "the running daemon uses built-in defaults".to_owned(),
                Some(Err(_)) => format!("no daemon answered on {}", client.path().display()),
                None => String::new(),
            };
            eprintln!("shimctl: {why}; checking the default config file");
            let cli = DaemonCli::default();
            (load::config_path(&cli, env).0, config::load(&cli, env))
        }
    };
    let shown = match &checked {
        Some(p) if p.exists() => p.display().to_string(),
        Some(p) => format!("{} (missing: built-in defaults)", p.display()),
        None => "built-in defaults".to_owned(),
    };
    if let Some(w) = checked
        .as_deref()
        .and_then(config::paths::permission_warning)
    {
        eprintln!("shimctl: warning: {w}");
    }
    match result {
        Ok(c) => {
            println!("{shown}: configuration OK");
            println!("  listen    {}", c.bind_addr());
            println!("  upstream  {}", c.default_upstream.url);
            if !c.upstreams.is_empty() {
                let names: Vec<&str> = c.upstreams.keys().map(String::as_str).collect();
                println!("  upstreams {}", names.join(", "));
            }
            let routes = c.routes.exact.len() + c.routes.prefixes.len();
            if routes > 0 {
                println!(
                    "  models    {routes} route{}",
                    if routes == 1 { "" } else { "s" }
                );
            }
            0
        }
        Err(e) => {
            let lines = e.lines();
            let shown = checked
                .as_deref()
                .map_or(shown.clone(), |p| p.display().to_string());
            eprintln!(
                "{shown}: invalid ({} problem{}):",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            );
            for l in lines {
                eprintln!("  {l}");
            }
            1
        }
    }
}

async fn models(client: &Client, env: &Env, json: bool) -> u8 {
    let config = match catalog_config(client, env).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cat = catalog::describe(&config, &catalog::Selection::All { also: vec![] }).await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&cat.facts_json()).expect("JSON serializes")
        );
    } else {
        print!("{}", catalog::render_table(&cat));
    }
    0
}

async fn run_doctor(client: &Client, env: &Env) -> u8 {
    let checks = doctor::run(client, env, || local_config(env)).await;
    print!("{}", doctor::render(&checks, style()));
    if doctor::all_good(&checks) { 0 } else { 1 }
}

/// `shimctl generate-man DIR`: man pages from the same clap definitions the binaries parse,
/// one per binary and one per visible shimctl command (`shimctl-status.1`, ...), which is
/// what the command list in `shimctl.1` refers to.
fn generate_man(dir: &std::path::Path) -> u8 {
    fn pages(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub.clone(), dir)?;
        }
        clap_mangen::Man::new(cmd)
            .source(format!("deepinfra-shim {}", deepinfra_shim::VERSION))
            .manual("deepinfra-shim")
            .generate_to(dir)
            .map(drop)
    }
    let root = |cmd: clap::Command| {
        // Built first so subcommands get their full names (shimctl-status).
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        cmd
    };
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| pages(root(DaemonCli::command()), dir))
        .and_then(|()| pages(root(Cli::command()), dir));
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shimctl: cannot write man pages to {}: {e}", dir.display());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
