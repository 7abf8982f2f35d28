//! Watching the daemon: `shimctl stats`, `shimctl capture` and `shimctl logs`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use deepinfra_shim::config;
use deepinfra_shim::config::load::Env;
use deepinfra_shim::control::Client;
use deepinfra_shim::control::protocol::Request;
use deepinfra_shim::control::render_stats;
use deepinfra_shim::service::logging::viewer;

use super::common::{ctl_failed, refused, style};

/// `shimctl stats`: one report, or (`--watch`) a fresh one every 2 s drawn over the last.
pub(crate) async fn stats(client: &Client, json: bool, window: Option<&str>, watch: bool) -> u8 {
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
pub(crate) async fn capture(
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
pub(crate) fn logs(env: &Env, follow: bool, lines: Option<u64>) -> u8 {
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
