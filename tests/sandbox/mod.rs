//! A private systemd world for tests that need the real thing: a `systemd-journald` and,
//! optionally, a `systemd --user` manager for a scratch user, none of them visible to the
//! host's own services.
//!
//! How it is built (root only; `unshare`, `nsenter` and `setpriv` from util-linux):
//! - `unshare --mount --pid --fork --mount-proc` starts a shell as PID 1 of a new PID and
//!   mount namespace. It mounts a fresh tmpfs on `/run` (so `/run/systemd/journal/*`, the
//!   sockets journald and our daemon use, are private) and on `/var/log`, binds the sandbox's
//!   own storage directory on `/var/log/journal` (persistent storage, so journald keeps a
//!   per-user journal file that `journalctl --user` reads), drops a `journald.conf.d` snippet
//!   (no kernel log, no forwarding, no rate limit), creates `/run/systemd/system` (the "booted
//!   with systemd" marker `systemd --user` checks), and starts `systemd-journald`.
//! - The scratch user exists only in the namespace: `/etc/passwd` and `/etc/group` are bind
//!   mounts of copies with one line added.
//! - The user manager gets a delegated cgroup of its own, named
//!   `<unique>.slice/user@UID.service` as a login would make it (journald derives
//!   `_SYSTEMD_USER_UNIT` from that shape), owned by the user, in every cgroup hierarchy this
//!   process is in.
//! - Commands run inside with `nsenter` (as root, or via `setpriv` as the user). Sockets and
//!   files under the sandbox directory are reachable from outside too (same file system).
//! - Dropping the sandbox SIGKILLs its PID 1, which ends every process in the namespace,
//!   then removes the cgroups and the directory.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, dead_code)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether a test that cannot run must fail rather than skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Prints `SKIPPED: …` straight to stderr, past the test harness's output capture, so the
/// skip shows in a normal `cargo test` run.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// The sandbox, or `None` after a visible `SKIPPED:` line; under `CI=true` a sandbox that
/// cannot be built fails the test.
pub fn or_skip(test: &str, sandbox: Result<Sandbox, String>) -> Option<Sandbox> {
    match sandbox {
        Ok(s) => Some(s),
        Err(why) => {
            assert!(!in_ci(), "{test} must run under CI=true, but: {why}");
            skipped(&format!("{test}: {why}"));
            None
        }
    }
}

fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The scratch user.
#[derive(Clone, Debug)]
pub struct User {
    pub uid: u32,
    pub name: String,
    pub home: PathBuf,
    /// Its `XDG_RUNTIME_DIR` (0700, its own).
    pub runtime: PathBuf,
}

pub struct Sandbox {
    dir: tempfile::TempDir,
    unshare: Option<Child>,
    /// The namespace's PID 1, as the host sees it.
    init: u32,
    pub user: Option<User>,
    manager: Option<Child>,
    cgroups: Vec<PathBuf>,
}

/// One journal entry's field values (journalctl's JSON gives a string, an array of strings for
/// a field sent more than once, or arrays of bytes for binary values).
pub fn values(entry: &Value, field: &str) -> Vec<String> {
    fn one(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(bytes) if bytes.iter().all(Value::is_u64) => Some(
                String::from_utf8_lossy(
                    &bytes
                        .iter()
                        .map(|b| b.as_u64().unwrap() as u8)
                        .collect::<Vec<u8>>(),
                )
                .into_owned(),
            ),
            _ => None,
        }
    }
    match entry.get(field) {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_u64()) => {
            items.iter().filter_map(one).collect()
        }
        Some(v) => one(v).into_iter().collect(),
    }
}

/// The field's first value, or "" when absent.
pub fn value(entry: &Value, field: &str) -> String {
    values(entry, field).into_iter().next().unwrap_or_default()
}

impl Sandbox {
    /// Starts the namespace and journald; with `user`, also makes a scratch user (the manager
    /// is started by [`Sandbox::start_user_manager`]). `Err` says why it cannot run here.
    pub fn start(user: bool) -> Result<Sandbox, String> {
        if uid() != 0 {
            return Err("needs root (unshare, mounts, a scratch user)".into());
        }
        for tool in ["unshare", "nsenter", "setpriv", "journalctl"] {
            if !runs(tool) {
                return Err(format!("`{tool}` is not installed"));
            }
        }
        let journald = first_existing(&[
            "/lib/systemd/systemd-journald",
            "/usr/lib/systemd/systemd-journald",
        ])
        .ok_or("systemd-journald is not installed (package systemd)")?;
        if std::fs::read_to_string("/etc/machine-id").map_or(true, |m| m.trim().is_empty()) {
            return Err(
                "/etc/machine-id is missing (journald names its directory after it)".into(),
            );
        }

        let dir = tempfile::Builder::new()
            .prefix("dsh-sandbox")
            .tempdir()
            .map_err(|e| e.to_string())?;
        // Other users (the scratch user) must reach their home and the journal inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path().to_path_buf();
        std::fs::create_dir_all(d.join("journal")).unwrap();

        let mut binds = String::new();
        let scratch = if user {
            let (uid, name) = free_uid();
            let home = d.join("home");
            let runtime = d.join("runtime");
            for p in [&home, &runtime] {
                std::fs::create_dir_all(p).unwrap();
                std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
            }
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
            std::fs::write(
                d.join("passwd"),
                format!("{passwd}{name}:x:{uid}:{uid}::{}:/bin/sh\n", home.display()),
            )
            .unwrap();
            std::fs::write(d.join("group"), format!("{group}{name}:x:{uid}:\n")).unwrap();
            binds = format!(
                "mount --bind {d}/passwd /etc/passwd\nmount --bind {d}/group /etc/group\n",
                d = d.display()
            );
            Some(User {
                uid,
                name,
                home,
                runtime,
            })
        } else {
            None
        };

        let script = format!(
            r#"set -eu
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/journal /run/systemd/system /run/systemd/journald.conf.d /run/log
printf '[Journal]\nStorage=persistent\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nRateLimitBurst=0\n' >/run/systemd/journald.conf.d/sandbox.conf
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir -p /var/log/journal
mount --bind {d}/journal /var/log/journal
{binds}{journald} &
i=0
while [ ! -S /run/systemd/journal/socket ]; do
	i=$((i + 1)); [ "$i" -lt 200 ] || {{ echo 'journald did not start' >&2; exit 3; }}
	sleep 0.05
done
journalctl --flush
echo ready >{d}/ready
wait
"#,
            d = d.display(),
            journald = journald.display(),
        );
        std::fs::write(d.join("init.sh"), script).unwrap();
        let log = std::fs::File::create(d.join("init.log")).unwrap();
        let unshare = Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "/bin/sh",
            ])
            .arg(d.join("init.sh"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut sandbox = Sandbox {
            dir,
            init: 0,
            unshare: Some(unshare),
            user: scratch,
            manager: None,
            cgroups: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !d.join("ready").exists() {
            let exited = sandbox.unshare.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(d.join("init.log")).unwrap_or_default();
                return Err(format!(
                    "the namespace did not come up (unshare: {exited:?}):\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = sandbox.unshare.as_ref().unwrap().id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        sandbox.init = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or("cannot find the namespace's PID 1")?;
        Ok(sandbox)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The directory journald stores its files in (read with `journalctl -D`).
    pub fn journal_dir(&self) -> PathBuf {
        self.path("journal")
    }

    fn user(&self) -> &User {
        self.user.as_ref().expect("a sandbox with a user")
    }

    /// `program` inside the namespace, as root, with a minimal environment.
    pub fn root_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.init.to_string(), "-m", "-p", "--"])
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        cmd
    }

    /// `program` inside the namespace as the scratch user, with a login-like environment
    /// (`~/.cargo/bin` first on PATH, `XDG_RUNTIME_DIR` set).
    pub fn user_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let u = self.user();
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.init.to_string(), "-m", "-p", "--", "setpriv"])
            .arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.uid))
            .args(["--clear-groups", "--"])
            .arg(program)
            .env_clear()
            .env("HOME", &u.home)
            .env("USER", &u.name)
            .env("LOGNAME", &u.name)
            .env("XDG_RUNTIME_DIR", &u.runtime)
            .env(
                "PATH",
                format!("{}/.cargo/bin:/usr/bin:/bin", u.home.display()),
            )
            .env("LC_ALL", "C")
            .current_dir(&u.home)
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `systemd --user` for the scratch user in a delegated cgroup and waits until
    /// `systemctl --user` answers. `Err` says why it cannot run here.
    pub fn start_user_manager(&mut self) -> Result<(), String> {
        let u = self.user().clone();
        let systemd = first_existing(&["/lib/systemd/systemd", "/usr/lib/systemd/systemd"])
            .ok_or("systemd is not installed")?;
        let name = format!("dshtest{}x{}.slice", std::process::id(), self.init);
        let mut procs = Vec::new();
        for base in cgroup_bases()? {
            let slice = base.join(&name);
            let service = slice.join(format!("user@{}.service", u.uid));
            std::fs::create_dir_all(&service)
                .map_err(|e| format!("cannot create the cgroup {}: {e}", service.display()))?;
            self.cgroups.push(slice);
            chown_tree(&service, u.uid)
                .map_err(|e| format!("cannot delegate {}: {e}", service.display()))?;
            procs.push(service.join("cgroup.procs"));
        }
        if procs.is_empty() {
            return Err("no cgroup hierarchy found under /sys/fs/cgroup".into());
        }
        let moves: String = procs
            .iter()
            .map(|p| format!("echo $$ >{}\n", p.display()))
            .collect();
        let script = format!(
            "set -e\n{moves}exec setpriv --reuid={uid} --regid={uid} --clear-groups -- {systemd} --user\n",
            uid = u.uid,
            systemd = systemd.display()
        );
        std::fs::write(self.path("manager.sh"), script).unwrap();
        let log = std::fs::File::create(self.path("manager.log")).unwrap();
        let mut cmd = self.root_cmd("/bin/sh");
        cmd.arg(self.path("manager.sh"))
            .env("HOME", &u.home)
            .env("USER", &u.name)
            .env("LOGNAME", &u.name)
            .env("SHELL", "/bin/sh")
            .env("XDG_RUNTIME_DIR", &u.runtime)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.manager = Some(cmd.spawn().map_err(|e| e.to_string())?);

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self
                .user_cmd("systemctl")
                .args(["--user", "is-system-running"])
                .output()
                .unwrap();
            let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if matches!(state.as_str(), "running" | "degraded") {
                return Ok(());
            }
            let gone = self.manager.as_mut().unwrap().try_wait().unwrap();
            if gone.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.path("manager.log")).unwrap_or_default();
                return Err(format!(
                    "systemd --user did not come up (state {state:?}, exit {gone:?}):\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every journal entry so far, read from the storage directory (as root, so the system
    /// and the user journal files alike).
    pub fn journal(&self) -> Vec<Value> {
        let out = Command::new("journalctl")
            .arg("-D")
            .arg(self.journal_dir())
            .args(["-o", "json", "--no-pager", "-q"])
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for the entries `pick` accepts to be non-empty; panics with what the journal holds.
    pub fn wait_entries(&self, what: &str, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let all = self.journal();
            let hits: Vec<Value> = all.iter().filter(|e| pick(e)).cloned().collect();
            if !hits.is_empty() {
                return hits;
            }
            if Instant::now() > deadline {
                let shown: Vec<String> = all
                    .iter()
                    .map(|e| {
                        format!(
                            "{} [{}] {}",
                            value(e, "SYSLOG_IDENTIFIER"),
                            value(e, "PRIORITY"),
                            value(e, "MESSAGE")
                        )
                    })
                    .collect();
                panic!(
                    "no journal entry for {what}; the journal holds:\n{}",
                    shown.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.init != 0 {
            let _ = Command::new("kill")
                .args(["-KILL", &self.init.to_string()])
                .status();
        }
        if let Some(mut c) = self.unshare.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(mut c) = self.manager.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The processes are gone; their cgroups can go, innermost first.
        for top in &self.cgroups {
            let deadline = Instant::now() + Duration::from_secs(5);
            while top.exists() && Instant::now() < deadline {
                remove_cgroup(top);
                if top.exists() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

fn remove_cgroup(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn chown_tree(dir: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            chown_tree(&e.path(), uid)?;
        } else {
            std::os::unix::fs::chown(e.path(), Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

/// This process's cgroup directory in each hierarchy systemd uses: the unified (cgroup2) one
/// and, on hybrid or legacy systems, the `name=systemd` v1 one.
fn cgroup_bases() -> Result<Vec<PathBuf>, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mut unified = None;
    let mut named = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let opts = r.nth(1).unwrap_or("");
        if fstype == "cgroup2" && unified.is_none() {
            unified = Some(PathBuf::from(mount_point));
        } else if fstype == "cgroup" && opts.split(',').any(|o| o == "name=systemd") {
            named = Some(PathBuf::from(mount_point));
        }
    }
    let mine = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let mut bases = Vec::new();
    for line in mine.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let path = path.unwrap_or("/").trim_start_matches('/');
        let root = match controllers {
            Some("") => unified.as_ref(),
            Some("name=systemd") => named.as_ref(),
            _ => None,
        };
        if let Some(root) = root {
            bases.push(root.join(path));
        }
    }
    Ok(bases)
}

/// A uid (and gid of the same number) nobody has, in the range journald treats as a regular
/// user (it keeps a journal file per such user).
fn free_uid() -> (u32, String) {
    let mut taken = String::new();
    for f in ["/etc/passwd", "/etc/group"] {
        let _ = std::fs::File::open(f).and_then(|mut f| f.read_to_string(&mut taken));
    }
    let used: Vec<u32> = taken
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let uid = (4200..60000).find(|u| !used.contains(u)).unwrap();
    (uid, format!("dshtest{uid}"))
}

/// A minimal HTTP/1.1 client over a plain socket (no runtime needed).
pub mod http {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// A reply whose headers were read; the body is read by the caller.
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: BufReader<TcpStream>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// The rest of the body (the connection is `close`, so until EOF), chunked framing left
        /// in place: callers look for text in it.
        pub fn rest(mut self) -> String {
            let mut s = String::new();
            let _ = self.body.read_to_string(&mut s);
            s
        }
    }

    /// `POST path` with a JSON body; returns once the status line and headers are in.
    pub fn post(addr: SocketAddr, path: &str, json: &str) -> Reply {
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            conn,
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{json}",
            json.len()
        )
        .unwrap();
        let mut body = BufReader::new(conn);
        let mut line = String::new();
        body.read_line(&mut line).unwrap();
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            body.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A Responses API request for `model`.
    pub fn responses_body(model: &str, stream: bool) -> String {
        serde_json::json!({
            "model": model,
            "stream": stream,
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "hi"}]}],
            "store": false,
        })
        .to_string()
    }
}
