//! `shimctl`: the control client of deepinfra-shim. Parses arguments, asks the daemon over the
//! control socket (types from `deepinfra_shim::control::protocol`, never hand-written JSON),
//! prints, and exits with the codes of the interface contract:
//! status 0 running / 3 not running; log-level and reload 0 / 1 refused / 3 not running;
//! check-config 0 valid / 1 invalid; codex-config 0 (1 when --catalog cannot be written);
//! models 0 (1 when the config does not load); doctor 0 all good / 1 otherwise.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use deepinfra_shim::catalog;
use deepinfra_shim::config::cli::Cli as DaemonCli;
use deepinfra_shim::config::load::{self, Env};
use deepinfra_shim::config::{self, Config};
use deepinfra_shim::control::codex_config::{self, CodexBlock};
use deepinfra_shim::control::doctor::{self, Target};
use deepinfra_shim::control::protocol::{Reply, Request, StatusReport};
use deepinfra_shim::control::render::{self, Style};
use deepinfra_shim::control::{Client, CtlError};

/// Exit status when the daemon is not running or cannot be reached.
const NOT_RUNNING: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "shimctl",
    version = deepinfra_shim::VERSION,
    about = "Ask and steer a running deepinfra-shim",
    after_help = "Exit status: 0 success; 1 refused, invalid or a check failed; 3 the daemon is \
                  not running (status, log-level, reload)."
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
    Reload,
    /// Validate a config file offline, as the daemon would (exit 0 valid, 1 invalid)
    CheckConfig {
        /// The file [default: the daemon's: --config / DEEPINFRA_CODEX_SHIM_CONFIG /
        /// $XDG_CONFIG_HOME/deepinfra-shim/config.yaml]
        path: Option<PathBuf>,
    },
    /// Print the ~/.codex/config.toml provider block for this daemon
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
    },
    /// The models this daemon serves: upstream, context window, vision, reasoning,
    /// apply_patch, and where each fact came from
    Models {
        /// Print the facts as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Check the daemon, the token, the upstream and Codex's config (exit 0 all good, 1 not)
    Doctor,
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
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
            Command::Reload => reload(&client).await,
            Command::CheckConfig { path } => check_config(path, &env),
            Command::CodexConfig {
                model,
                catalog,
                codex_bin,
            } => codex_config(&client, &env, model, catalog, codex_bin).await,
            Command::Models { json } => models(&client, &env, json).await,
            Command::Doctor => run_doctor(&client, &env).await,
            Command::Completions { shell } => {
                let mut cmd = Cli::command();
                clap_complete::generate(shell, &mut cmd, "shimctl", &mut std::io::stdout());
                0
            }
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

async fn fetch_status(client: &Client) -> Result<StatusReport, String> {
    match client.request(Request::Status).await {
        Ok(Reply {
            ok: true,
            status: Some(s),
            ..
        }) => Ok(s),
        Ok(r) => Err(r
            .error
            .unwrap_or_else(|| "the daemon sent no status".to_owned())),
        Err(e) => Err(e.to_string()),
    }
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
        println!(
            "{}",
            serde_json::to_string_pretty(s).expect("a status always serializes")
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

async fn reload(client: &Client) -> u8 {
    let reply = match client.request(Request::Reload).await {
        Ok(r) => r,
        Err(e) => return ctl_failed(&e),
    };
    match (&reply.reload, reply.ok) {
        (Some(r), true) => {
            print!("{}", render::reload_applied(r));
            0
        }
        (Some(r), false) if !r.reasons.is_empty() => {
            eprint!("{}", render::reload_refused(r));
            1
        }
        _ => refused(&reply),
    }
}

fn check_config(path: Option<PathBuf>, env: &Env) -> u8 {
    let (shown, result) = match &path {
        Some(p) => (p.display().to_string(), load::check_file(p, env)),
        None => {
            let cli = DaemonCli::default();
            let shown = match load::config_path(&cli, env).0 {
                Some(p) if p.exists() => p.display().to_string(),
                Some(p) => format!("{} (missing: built-in defaults)", p.display()),
                None => "built-in defaults".to_owned(),
            };
            (shown, config::load(&cli, env))
        }
    };
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

async fn codex_config(
    client: &Client,
    env: &Env,
    model_flag: Option<String>,
    catalog_path: Option<PathBuf>,
    codex_bin: Option<PathBuf>,
) -> u8 {
    let model = model_flag
        .clone()
        .unwrap_or_else(|| codex_config::DEFAULT_MODEL.to_owned());
    let mut block = match fetch_status(client).await {
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
            Err(lines) => return config_failed(lines),
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
    print!(
        "{}",
        codex_config::render_block_with_catalog(&block, catalog_json.as_deref())
    );
    0
}

/// The config the catalog describes: the running daemon's file and upstream URLs (flags may
/// have changed them), else the config the daemon would load from this shell.
async fn catalog_config(client: &Client, env: &Env) -> Result<Config, Vec<String>> {
    let Ok(s) = fetch_status(client).await else {
        return local_config(env);
    };
    let config = match &s.config_path {
        Some(p) => load::check_file(std::path::Path::new(p), env),
        None => config::load(&DaemonCli::default(), env),
    }
    .map_err(|e| e.lines())?;
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
        Err(lines) => return config_failed(lines),
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
    let target = match fetch_status(client).await {
        Ok(s) => Target::Daemon(Box::new(s)),
        Err(why) => Target::Offline {
            why,
            config: local_config(env).map(Box::new),
        },
    };
    let checks = doctor::run(target, env).await;
    print!("{}", doctor::render(&checks, style()));
    if doctor::all_good(&checks) { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
