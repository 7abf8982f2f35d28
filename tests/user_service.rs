//! The systemd user unit under a real `systemd --user`, installed by `packaging/install.sh`.
//!
//! Contract checked here, step by step, for a scratch user in a private namespace (see
//! `tests/sandbox/mod.rs`; journald included, so the log is the real one):
//! 1. `systemctl --user enable --now deepinfra-shim` starts it (Type=notify: active once
//!    listening) and `shimctl status` finds it at its default socket;
//! 2. an edit of the config file is applied by itself (the generation moves);
//! 3. `systemctl --user reload` applies a good file, and fails for a broken one while the old
//!    configuration stays in force;
//! 4. `kill -9` of the daemon: the manager restarts it;
//! 5. `systemctl --user stop` during a stream: the stream finishes, then the daemon exits 0;
//! 6. exit status 2 (a bad value in the env file): the unit fails and is not restarted;
//! 7. `shimctl logs` shows the service's log from the user's journal.
//!
//! Needs root (skips visibly elsewhere; must run under `CI=true`).
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]
#![cfg(target_os = "linux")]

mod common;
mod sandbox;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Chunk, End, MockUpstream, Reply};
use sandbox::{Sandbox, http};
use serde_json::{Value, json};

const TOKEN: &str = "user-service-token-93c1d";
const UNIT: &str = "deepinfra-shim";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct World {
    sb: Sandbox,
    home: std::path::PathBuf,
}

impl World {
    fn cmd(&self, program: &str, args: &[&str]) -> Output {
        self.sb.user_cmd(program).args(args).output().unwrap()
    }

    fn systemctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["--user"];
        all.extend_from_slice(args);
        self.cmd("systemctl", &all)
    }

    /// `systemctl --user show` of the unit.
    fn show(&self) -> HashMap<String, String> {
        let out = self.systemctl(&[
            "show",
            UNIT,
            "-p",
            "ActiveState,SubState,Result,MainPID,NRestarts,ExecMainStatus",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn status(&self) -> Option<Value> {
        let out = self.cmd("shimctl", &["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    fn wait<T>(&self, what: &str, mut f: impl FnMut(&World) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                let status = self.systemctl(&["status", UNIT, "--no-pager", "-n", "20"]);
                panic!(
                    "timed out waiting for {what}; unit state:\n{}",
                    text(&status)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Replaces a file the way editors do (write aside, rename over), owned by the user.
    fn write_file(&self, path: &Path, content: &str) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, content).unwrap();
        let uid = self.sb.user.as_ref().unwrap().uid;
        std::os::unix::fs::chown(&tmp, Some(uid), Some(uid)).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn config_path(&self) -> std::path::PathBuf {
        self.home.join(".config/deepinfra-shim/config.yaml")
    }
}

fn config(upstream: &str, level: &str) -> String {
    format!("listen:\n  port: 0\nupstream:\n  url: {upstream}\nlog:\n  level: {level}\n")
}

/// A streamed chat reply of `n` pieces `gap` apart.
fn slow_stream(n: usize, gap: Duration) -> Reply {
    let chunk = |content: &str| {
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
               "choices":[{"index":0,"delta":{"role":"assistant","content":content},
                           "finish_reason":null}]})
        .to_string()
    };
    let mut chunks: Vec<Chunk> = (0..n)
        .map(|i| Chunk::after(gap, format!("data: {}\n\n", chunk(&format!("piece{i} ")))))
        .collect();
    chunks.push(Chunk::event(
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
               "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],
               "usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}})
        .to_string(),
    ));
    chunks.push(Chunk::event("[DONE]"));
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        end: End::Finish,
    }
}

fn chown_tree(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

#[test]
fn the_unit_under_a_real_user_manager_starts_reloads_restarts_drains_and_logs() {
    let started = Instant::now();
    let Some(mut sb) = sandbox::or_skip("user manager", Sandbox::start(true)) else {
        return;
    };
    if let Err(why) = sb.start_user_manager() {
        assert!(
            !sandbox::in_ci(),
            "systemd --user must run under CI=true: {why}"
        );
        sandbox::skipped(&format!("user manager: {why}"));
        return;
    }
    let user = sb.user.clone().unwrap();
    let w = World {
        home: user.home.clone(),
        sb,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mock = rt.block_on(MockUpstream::start());
    mock.set_handler(|_| Reply::text("hello"));

    // Install as the user, with prebuilt binaries and the user's own config (kept).
    let bins = w.sb.path("bins");
    std::fs::create_dir_all(&bins).unwrap();
    for (name, src) in [
        ("deepinfra-shim", env!("CARGO_BIN_EXE_deepinfra-shim")),
        ("shimctl", env!("CARGO_BIN_EXE_shimctl")),
    ] {
        if std::fs::hard_link(src, bins.join(name)).is_err() {
            std::fs::copy(src, bins.join(name)).unwrap();
        }
    }
    let cfg_dir = w.home.join(".config/deepinfra-shim");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(w.config_path(), config(&mock.url(), "info")).unwrap();
    chown_tree(&w.home.join(".config"), user.uid);
    let install =
        w.sb.user_cmd("/bin/sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/install.sh"))
            .args(["--bin-dir", bins.to_str().unwrap(), "--os", "linux"])
            .env("DEEPINFRA_TOKEN", TOKEN)
            .output()
            .unwrap();
    assert!(install.status.success(), "install.sh:\n{}", text(&install));

    // 1. enable --now: active (the daemon said READY=1), and shimctl finds it.
    let out = w.systemctl(&["daemon-reload"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = w.systemctl(&["enable", "--now", UNIT]);
    assert!(out.status.success(), "enable --now:\n{}", text(&out));
    let show = w.show();
    assert_eq!(show["ActiveState"], "active", "{show:?}");
    let status = w.status().expect("shimctl status answers");
    assert_eq!(status["pid"].to_string(), show["MainPID"], "{status}");
    assert_eq!(
        status["token_present"], true,
        "the env file's token: {status}"
    );
    let generation = status["generation"].as_u64().unwrap();
    let addr: std::net::SocketAddr = status["listen"].as_str().unwrap().parse().unwrap();
    let reply = http::post(addr, "/v1/responses", &http::responses_body("m", true));
    assert_eq!(reply.status, 200);
    assert!(reply.rest().contains("response.completed"));

    // 2. An edit of the file is applied by itself.
    w.write_file(
        &w.config_path(),
        &format!(
            "{}limits:\n  max_body_bytes: 2000000\n",
            config(&mock.url(), "info")
        ),
    );
    let generation = w.wait("the edit to be applied", |w| {
        let g = w.status()?["generation"].as_u64()?;
        (g > generation).then_some(g)
    });

    // 3. systemctl reload: a good file is applied; a broken one is refused and the running
    //    configuration stays (the service keeps running and serving).
    w.write_file(&w.config_path(), &config(&mock.url(), "debug"));
    let out = w.systemctl(&["reload", UNIT]);
    assert!(
        out.status.success(),
        "reload of a good file:\n{}",
        text(&out)
    );
    let status = w.wait("log level debug in force", |w| {
        let s = w.status()?;
        (s["log_level"] == "debug").then_some(s)
    });
    assert!(
        status["generation"].as_u64().unwrap() > generation,
        "{status}"
    );
    assert!(status["last_reload_error"].is_null(), "{status}");

    w.write_file(&w.config_path(), "upstream:\n  urll: http://typo\n");
    let out = w.systemctl(&["reload", UNIT]);
    assert!(!out.status.success(), "reload of a broken file must fail");
    let status = w.status().expect("still running after a refused reload");
    assert!(
        status["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("urll")),
        "{status}"
    );
    assert_eq!(
        status["log_level"], "debug",
        "the old config stays: {status}"
    );
    assert_eq!(status["upstream"], mock.url(), "{status}");
    assert_eq!(w.show()["ActiveState"], "active");
    w.write_file(&w.config_path(), &config(&mock.url(), "info"));
    w.wait("the good file back", |w| {
        (w.status()?["log_level"] == "info").then_some(())
    });

    // 4. kill -9: the manager restarts it (Restart=on-failure, RestartSec=2).
    let before = w.show();
    let out =
        w.sb.root_cmd("kill")
            .args(["-9", &before["MainPID"]])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let after = w.wait("a restart after SIGKILL", |w| {
        let s = w.show();
        (s["ActiveState"] == "active" && s["MainPID"] != before["MainPID"] && s["MainPID"] != "0")
            .then_some(s)
    });
    assert_eq!(
        after["NRestarts"].parse::<u32>().unwrap(),
        before["NRestarts"].parse::<u32>().unwrap() + 1,
        "{after:?}"
    );
    let status = w.wait("shimctl status after the restart", |w| w.status());
    assert_eq!(status["pid"].to_string(), after["MainPID"], "{status}");

    // 5. stop during a stream: the stream finishes, then the daemon exits 0.
    mock.set_handler(|_| slow_stream(8, Duration::from_millis(250)));
    let addr: std::net::SocketAddr = status["listen"].as_str().unwrap().parse().unwrap();
    let mut reply = http::post(addr, "/v1/responses", &http::responses_body("m", true));
    assert_eq!(reply.status, 200);
    let mut seen = String::new();
    while !seen.contains("piece0") {
        let mut line = String::new();
        assert!(
            reply.body.read_line(&mut line).unwrap() > 0,
            "stream ended early: {seen}"
        );
        seen.push_str(&line);
    }
    let mut stop =
        w.sb.user_cmd("systemctl")
            .args(["--user", "stop", UNIT])
            .spawn()
            .unwrap();
    seen.push_str(&reply.rest());
    let stream_done = Instant::now();
    assert!(
        seen.contains("piece7") && seen.contains("response.completed"),
        "the stream did not finish:\n{seen}"
    );
    let stopped = stop.wait().unwrap();
    let stop_done = Instant::now();
    assert!(stopped.success(), "systemctl stop: {stopped:?}");
    assert!(
        stop_done >= stream_done,
        "stop returned before the stream finished"
    );
    let show = w.show();
    assert_eq!(show["ActiveState"], "inactive", "{show:?}");
    assert_eq!(show["Result"], "success", "{show:?}");
    assert_eq!(show["ExecMainStatus"], "0", "{show:?}");

    // 6. Exit status 2 (a bad value at start): failed, and not restarted.
    let env_file = w.home.join(".config/deepinfra-shim/env");
    let env = std::fs::read_to_string(&env_file).unwrap();
    w.write_file(
        &env_file,
        &format!("{env}DEEPINFRA_CODEX_SHIM_PORT=99999\n"),
    );
    let out = w.systemctl(&["start", UNIT]);
    assert!(!out.status.success(), "a start with a bad port must fail");
    let show = w.show();
    assert_eq!(show["ExecMainStatus"], "2", "{show:?}");
    assert_eq!(show["ActiveState"], "failed", "{show:?}");
    // A manual start counts restarts from 0.
    let restarts = show["NRestarts"].clone();
    std::thread::sleep(Duration::from_millis(3500)); // RestartSec=2, and then some
    let show = w.show();
    assert_eq!(
        show["ActiveState"], "failed",
        "restarted after exit 2: {show:?}"
    );
    assert_eq!(show["NRestarts"], restarts, "{show:?}");
    w.write_file(&env_file, &env);
    let out = w.systemctl(&["reset-failed", UNIT]);
    assert!(out.status.success(), "{}", text(&out));
    let out = w.systemctl(&["start", UNIT]);
    assert!(out.status.success(), "start after the fix:\n{}", text(&out));

    // 7. shimctl logs: the user's journal, every start and the stream's end in it.
    let logs = w.cmd("shimctl", &["logs", "-n", "500"]);
    let shown = text(&logs);
    assert!(logs.status.success(), "{shown}");
    assert!(
        !shown.contains("shows no"),
        "the hint, not the log:\n{shown}"
    );
    assert!(
        shown.matches("Listening on http://").count() >= 3,
        "each start:\n{shown}"
    );
    for needle in [
        "Configuration reloaded",
        "Configuration reload refused",
        "Stream finished",
        "Stopped",
        "DEEPINFRA_CODEX_SHIM_PORT: expected a number",
    ] {
        assert!(
            shown.contains(needle),
            "{needle:?} not in shimctl logs:\n{shown}"
        );
    }
    assert!(!shown.contains(TOKEN), "the token is in the log");

    let out = w.systemctl(&["stop", UNIT]);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("user manager test took {:.1?}", started.elapsed());
}
