//! `shimctl`: the control client of deepinfra-shim. Parses arguments, asks the daemon over the
//! control socket (types from `deepinfra_shim::control::protocol`, never hand-written JSON),
//! prints, and exits with the codes of the interface contract:
//! status 0 running / 3 not running; log-level and reload 0 / 1 refused / 3 not running;
//! check-config 0 valid / 1 invalid; codex-config 0 (1 when --catalog cannot be written or
//! --write is refused);
//! models 0 (1 when the config does not load); doctor 0 all good / 1 otherwise; smoke 0 ok /
//! 1 failed / 3 not running; stats 0 / 3 not running; capture 0 armed / 1 refused / 3 not
//! running; logs: the exit status of the tool that shows the log (1 when it cannot be run).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use deepinfra_shim::catalog;
use deepinfra_shim::codex_toml;
use deepinfra_shim::config::cli::Cli as DaemonCli;
use deepinfra_shim::config::load::{self, Env};
use deepinfra_shim::config::{self, Config};
use deepinfra_shim::control::codex_config::{self, CodexBlock};
use deepinfra_shim::control::doctor;
use deepinfra_shim::control::protocol::{Reply, Request, StatusReport};
use deepinfra_shim::control::render::{self, Style};
use deepinfra_shim::control::render_stats;
use deepinfra_shim::control::smoke;
use deepinfra_shim::control::{Client, CtlError};
use deepinfra_shim::service::logging::viewer;

/// Exit status when the daemon is not running or cannot be reached.
const NOT_RUNNING: u8 = 3;

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

fn style() -> Style {
    Style::detect(std::io::stdout().is_terminal())
}

/// Prints a failed exchange and returns its exit status.
fn ctl_failed(e: &CtlError) -> u8 {
    eprintln!("shimctl: {e}");
    if e.is_unreachable() { NOT_RUNNING } else { 1 }
}

/// Prints an error reply and returns 1.
fn refused(reply: &Reply) -> u8 {
    eprintln!(
        "shimctl: {}",
        reply
            .error
            .as_deref()
            .unwrap_or("the daemon refused (no reason given)")
    );
    1
}

/// The daemon's status, or why there is none. The outer error is a socket that cannot be
/// trusted: the caller stops there, with no fallback to the local config (whoever answered
/// may want exactly the requests that fallback would send).
async fn fetch_status(client: &Client) -> Result<Result<StatusReport, String>, CtlError> {
    Ok(match client.request(Request::Status).await {
        Ok(Reply {
            ok: true,
            status: Some(s),
            ..
        }) => Ok(s),
        Ok(r) => Err(r
            .error
            .unwrap_or_else(|| "the daemon sent no status".to_owned())),
        Err(e @ CtlError::Untrusted { .. }) => return Err(e),
        Err(e) => Err(e.to_string()),
    })
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
        None => match fetch_status(client).await {
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

/// The config the daemon would load when started from this shell.
fn local_config(env: &Env) -> Result<Config, Vec<String>> {
    config::load(&DaemonCli::default(), env).map_err(|e| e.lines())
}

/// `codex-config --write [--profile NAME]`.
struct WriteTo {
    profile: Option<String>,
}

async fn codex_config(
    client: &Client,
    env: &Env,
    model_flag: Option<String>,
    catalog_path: Option<PathBuf>,
    codex_bin: Option<PathBuf>,
    write: Option<WriteTo>,
) -> u8 {
    let codex_dir = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME"));
    if write.is_some() && codex_dir.is_none() {
        eprintln!("shimctl: cannot locate Codex's config: set HOME, or CODEX_HOME");
        return 1;
    }
    // Without --model, --write keeps the model already picked for this provider.
    let kept = write
        .as_ref()
        .zip(codex_dir.as_deref())
        .and_then(|(w, dir)| codex_toml::current_model(dir, w.profile.as_deref()));
    let model = model_flag
        .clone()
        .or(kept)
        .unwrap_or_else(|| codex_config::DEFAULT_MODEL.to_owned());
    let status = match fetch_status(client).await {
        Ok(s) => s,
        Err(e) => return ctl_failed(&e),
    };
    let mut block = match status {
        Ok(s) => {
            let route = match client
                .request(Request::Resolve {
                    model: model.clone(),
                })
                .await
            {
                Ok(Reply {
                    ok: true,
                    route: Some(r),
                    ..
                }) => Some(r),
                _ => None,
            };
            let context_window = route.and_then(|r| {
                let window = r.context_window?;
                Some((window, format!("route '{}'", r.matched.unwrap_or(r.model))))
            });
            let (env_key, is_client_key) = match &s.client_keys_env {
                Some(k) => (k.clone(), true),
                None => (
                    s.upstreams
                        .first()
                        .map(|u| u.api_key_env.clone())
                        .unwrap_or_else(|| "DEEPINFRA_TOKEN".to_owned()),
                    false,
                ),
            };
            CodexBlock {
                model,
                addr: render::client_addr(&s.listen),
                env_key,
                env_key_is_client_key: is_client_key,
                context_window,
                note: None,
            }
        }
        Err(why) => {
            let c = match local_config(env) {
                Ok(c) => c,
                Err(lines) => {
                    eprintln!(
                        "shimctl: the daemon is not reachable ({}) and its config does not load:",
                        why.lines().next().unwrap_or("")
                    );
                    for l in lines {
                        eprintln!("  {l}");
                    }
                    return 1;
                }
            };
            let r = c.resolve(&model);
            let context_window = r.route.and_then(|route| {
                Some((route.context_window?, format!("the route for '{model}'")))
            });
            let source = match &c.config_path {
                Some(p) => p.display().to_string(),
                None => "built-in defaults".to_owned(),
            };
            let (env_key, is_client_key) = match &c.listen.client_keys_env {
                Some(k) => (k.clone(), true),
                None => (c.default_upstream.api_key_env.clone(), false),
            };
            CodexBlock {
                addr: render::client_addr(&c.bind_addr()),
                env_key,
                env_key_is_client_key: is_client_key,
                context_window,
                note: Some(format!(
                    "The daemon is not running; address and key from {source}."
                )),
                model,
            }
        }
    };
    let mut catalog_json = None;
    if let Some(path) = catalog_path {
        let config = match catalog_config(client, env).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let selection = match model_flag {
            Some(m) => catalog::Selection::Only(m),
            None => catalog::Selection::All {
                also: vec![block.model.clone()],
            },
        };
        let cat = catalog::generate(&config, &selection, codex_bin.as_deref()).await;
        for w in &cat.warnings {
            eprintln!("shimctl: warning: {w}");
        }
        match catalog::write_file(&cat, &path) {
            Ok(abs) => {
                eprintln!(
                    "shimctl: wrote {} ({} model{}, modelled on {})",
                    abs.display(),
                    cat.models.len(),
                    if cat.models.len() == 1 { "" } else { "s" },
                    cat.template
                        .as_deref()
                        .unwrap_or("the built-in minimal entry")
                );
                catalog_json = Some(abs.to_string_lossy().into_owned());
            }
            Err(e) => {
                eprintln!("shimctl: cannot write {}: {e}", path.display());
                return 1;
            }
        }
        // The catalog holds each model's window; a global model_context_window would
        // override it for every model the user switches to.
        block.context_window = None;
    }
    if let (Some(w), Some(dir)) = (write, codex_dir) {
        if let Some(note) = &block.note {
            eprintln!("shimctl: {note}");
        }
        let setup = codex_toml::Setup::from_block(&block, catalog_json.as_deref());
        return match codex_toml::write(&dir, w.profile.as_deref(), &setup) {
            Ok(out) => {
                print!("{}", out.render());
                for f in &out.findings {
                    eprintln!("shimctl: warning: {f}");
                }
                0
            }
            Err(e) => {
                eprintln!("shimctl: {e}");
                1
            }
        };
    }
    print!(
        "{}",
        codex_config::render_block_with_catalog(&block, catalog_json.as_deref())
    );
    0
}

/// The config the catalog describes: the running daemon's file and upstream URLs (flags may
/// have changed them), else the config the daemon would load from this shell.
/// The error is the exit status, the reason printed.
async fn catalog_config(client: &Client, env: &Env) -> Result<Config, u8> {
    let s = match fetch_status(client).await {
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

fn config_failed(lines: Vec<String>) -> u8 {
    eprintln!("shimctl: the config does not load:");
    for l in lines {
        eprintln!("  {l}");
    }
    1
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

/// `shimctl stats`: one report, or (`--watch`) a fresh one every 2 s drawn over the last.
async fn stats(client: &Client, json: bool, window: Option<&str>, watch: bool) -> u8 {
    let window_s = match window.map(render_stats::parse_duration).transpose() {
        Ok(w) => w.map(|d| d.as_secs()),
        Err(e) => {
            eprintln!("shimctl: --window: {e}");
            return 1;
        }
    };
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let reply = match client.request(Request::Stats { window_s }).await {
            Ok(r) => r,
            Err(e) => return ctl_failed(&e),
        };
        let Some(report) = reply.stats.as_ref().filter(|_| reply.ok) else {
            return refused(&reply);
        };
        if json {
            // One object per line when watching, so each refresh parses on its own.
            let text = if watch {
                serde_json::to_string(report)
            } else {
                serde_json::to_string_pretty(report)
            };
            println!("{}", text.expect("a report always serializes"));
        } else {
            if watch {
                // Home and clear, like top: the new table replaces the old in place.
                print!("\x1b[H\x1b[2J");
            }
            print!("{}", render_stats::stats(report, style()));
        }
        if !watch {
            return 0;
        }
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = &mut interrupted => return 0,
        }
    }
}

/// `shimctl capture DIR`: arms the daemon's capture and returns.
async fn capture(
    client: &Client,
    dir: &std::path::Path,
    for_: Option<&str>,
    max: Option<u32>,
    model: Option<String>,
) -> u8 {
    let for_s = match for_.map(render_stats::parse_duration).transpose() {
        Ok(d) => d.map(|d| d.as_secs()),
        Err(e) => {
            eprintln!("shimctl: --for: {e}");
            return 1;
        }
    };
    let req = deepinfra_shim::control::protocol::CaptureRequest {
        dir: config::paths::absolute(dir).display().to_string(),
        for_s,
        max,
        model,
    };
    let reply = match client.request(Request::Capture(req)).await {
        Ok(r) => r,
        Err(e) => return ctl_failed(&e),
    };
    match reply.capture.as_ref().filter(|_| reply.ok) {
        Some(c) => {
            print!("{}", render_stats::capture_armed(c));
            0
        }
        None => refused(&reply),
    }
}

/// `shimctl logs`: hands over to the tool that shows the service's log (see
/// `service::logging::viewer`), after saying why when it would show nothing.
fn logs(env: &Env, follow: bool, lines: Option<u64>) -> u8 {
    use std::os::unix::process::CommandExt;
    let os = viewer::Os::current();
    let home = env.non_empty("HOME").map(PathBuf::from);
    let opts = viewer::Options {
        follow,
        lines,
        tty: std::io::stdout().is_terminal(),
    };
    let plan = match viewer::plan(os, home.as_deref(), opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shimctl: {e}");
            return 1;
        }
    };
    let missing = |program: &str| {
        eprintln!("shimctl: {}", viewer::missing_tool_hint(os, program));
        1
    };
    if let Some(probe) = &plan.probe {
        match std::process::Command::new(probe.program)
            .args(&probe.args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return missing(probe.program),
            Ok(out) if out.stdout.iter().all(u8::is_ascii_whitespace) => {
                eprintln!("shimctl: {}", viewer::empty_hint(os, None));
            }
            _ => {}
        }
    }
    if let Some(file) = &plan.file {
        match std::fs::metadata(file) {
            Err(_) => {
                eprintln!("shimctl: {}", viewer::no_file_hint(file));
                return 1;
            }
            Ok(md) if md.len() == 0 => {
                eprintln!("shimctl: {}", viewer::empty_hint(os, Some(file)));
            }
            Ok(_) => {}
        }
    }
    let _ = std::io::stdout().flush();
    // exec: the tool's exit status, signals and terminal are the user's own.
    let e = std::process::Command::new(plan.show.program)
        .args(&plan.show.args)
        .exec();
    if e.kind() == std::io::ErrorKind::NotFound {
        return missing(plan.show.program);
    }
    eprintln!("shimctl: cannot run {}: {e}", plan.show.program);
    1
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
