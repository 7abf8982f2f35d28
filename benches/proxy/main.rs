//! The proxy benchmark: `cargo bench --bench proxy` (see docs/benchmarks.md).
//!
//! One run, one machine, everything measured as ratios against the mock upstream itself:
//! 1. builds the scenarios (`benches/common/workload.rs`), starts the mock upstream on its own
//!    thread and the release daemon as a child process (`--upstream` = the mock);
//! 2. for every scenario and for 1 and 32 connections, runs the load first straight to the
//!    mock (`/v1/chat/completions`, the chat body the daemon would send) and then through the
//!    daemon (`/v1/responses`), same replies; every reply is checked (a wrong one is an
//!    error, and any error fails the run);
//! 3. reports p50/p99 latency, added latency, time to first token, req/s and the ratio to
//!    direct, the daemon's CPU per request (schedstat of all its threads, measured phase
//!    only), the mock's CPU per request, and the daemon's peak RSS per phase;
//! 4. memory: RSS of a fresh idle daemon, and of a second fresh daemon after 1k mixed
//!    requests vs after 20k (100k with `BENCH_LONG=1` / `--long`).
//!
//! Modes: `--quick` / `BENCH_QUICK=1` runs every phase for a fraction of a second (a smoke
//! test: no timing assertions, fails only on wrong replies or crashes); it is also what runs
//! when the target is executed by `cargo test --all-targets` (no `--bench` argument).
//! `BENCH_OUT=FILE` also writes the report there; `BENCH_ONLY=name,name` runs some scenarios;
//! `BENCH_SPLIT_WRITES=1` makes the mock write unpaced streams one event per write (default:
//! one burst; see `mock.rs`); `BENCH_DAEMON=PATH` benchmarks another build of the daemon; `BENCH_PERF_DIR=DIR` records a
//! `perf` profile of the daemon for every daemon phase into DIR (`BENCH_ATTACH` replaces the
//! command, e.g. with `strace -c`).
//!
//! Bounded: every phase has a request budget and a time limit, every request a 30 s timeout;
//! loopback only; the daemon is killed when the run ends, fails, panics or gets Ctrl-C.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

#[path = "../common/workload.rs"]
mod workload;

mod check;
mod daemon;
mod http;
mod load;
mod mock;
mod procfs;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use daemon::Daemon;
use load::{Limits, PhaseResult, Target};
use workload::Scenario;

struct Settings {
    quick: bool,
    long: bool,
    test_mode: bool,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
    daemon_bin: PathBuf,
    perf_dir: Option<PathBuf>,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "no"))
}

impl Settings {
    fn from_env() -> Settings {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |a: &str| args.iter().any(|x| x == a);
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs us without it.
        let test_mode = !has("--bench");
        Settings {
            quick: test_mode || has("--quick") || env_flag("BENCH_QUICK"),
            long: has("--long") || env_flag("BENCH_LONG"),
            test_mode,
            only: std::env::var("BENCH_ONLY")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect()),
            out: std::env::var_os("BENCH_OUT").map(PathBuf::from),
            daemon_bin: std::env::var_os("BENCH_DAEMON")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_deepinfra-shim"))),
            perf_dir: std::env::var_os("BENCH_PERF_DIR").map(PathBuf::from),
        }
    }

    fn limits(&self, s: &Scenario, conns: usize) -> Limits {
        if self.quick {
            return Limits {
                requests: 40 + 4 * conns as u64,
                time: Duration::from_millis(400),
                deep_every: 1,
            };
        }
        let heavy = s.name == "session-400k";
        Limits {
            requests: if heavy { 3_000 } else { 30_000 },
            time: Duration::from_secs(if s.name == "paced" && conns == 1 {
                4
            } else {
                3
            }),
            deep_every: 50,
        }
    }

    fn warmup(&self, conns: usize) -> Limits {
        Limits {
            requests: if self.quick {
                2 * conns as u64
            } else {
                (8 * conns as u64).max(50)
            },
            time: Duration::from_millis(if self.quick { 200 } else { 500 }),
            deep_every: 1,
        }
    }
}

/// One measured phase.
struct Phase {
    r: PhaseResult,
    /// ns on CPU during the phase: daemon (if any), mock thread, client thread.
    daemon_ns: u64,
    daemon_ticks_ns: u64,
    mock_ns: u64,
    client_ns: u64,
    /// Peak RSS of the daemon during the phase, KiB.
    peak_kib: u64,
}

impl Phase {
    fn p(&self, q: f64) -> u64 {
        pct(&self.r.latencies_us, q)
    }
    fn ttft(&self) -> Option<u64> {
        (!self.r.ttft_us.is_empty()).then(|| pct(&self.r.ttft_us, 0.5))
    }
    fn rps(&self) -> f64 {
        self.r.ok as f64 / self.r.wall.as_secs_f64().max(1e-9)
    }
    fn per_req_us(&self, ns: u64) -> f64 {
        ns as f64 / 1000.0 / (self.r.ok + self.r.errors).max(1) as f64
    }
}

fn pct(v: &[u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    s[((s.len() - 1) as f64 * q).round() as usize]
}

struct Row {
    scenario: &'static str,
    conns: usize,
    direct: Phase,
    daemon: Phase,
}

struct Memory {
    idle_kib: u64,
    idle_after_load_kib: u64,
    soak_first: (u64, u64),
    soak_last: (u64, u64),
    soak_trace: Vec<(u64, u64)>,
}

struct Ctx<'a> {
    settings: &'a Settings,
    mock: &'a mock::Mock,
    client_tid: u32,
    /// Replies checked and found right (warm-ups and soak included).
    replies: u64,
    errors: u64,
    error_lines: Vec<String>,
}

impl Ctx<'_> {
    async fn phase(
        &mut self,
        label: &str,
        target: Rc<Target>,
        conns: usize,
        limits: &Limits,
        daemon: Option<&Daemon>,
    ) -> Result<Phase, String> {
        let warm = load::run(Rc::clone(&target), conns, &self.settings.warmup(conns))
            .await
            .map_err(|e| format!("{label}: cannot connect: {e}"))?;
        self.count_errors(&format!("{label} (warm-up)"), &warm);
        let pid = daemon.map(|d| d.pid);
        if let Some(pid) = pid {
            procfs::reset_peak(pid);
        }
        let perf = match (pid, &self.settings.perf_dir) {
            (Some(pid), Some(dir)) => start_perf(pid, dir, label),
            _ => None,
        };
        let d0 = pid.map(procfs::process_cpu_ns).unwrap_or(0);
        let t0 = pid.map(procfs::process_ticks_ns).unwrap_or(0);
        let m0 = procfs::thread_cpu_ns(self.mock.tid);
        let c0 = procfs::thread_cpu_ns(self.client_tid);
        let r = load::run(target, conns, limits)
            .await
            .map_err(|e| format!("{label}: cannot connect: {e}"))?;
        let d1 = pid.map(procfs::process_cpu_ns).unwrap_or(0);
        let t1 = pid.map(procfs::process_ticks_ns).unwrap_or(0);
        let m1 = procfs::thread_cpu_ns(self.mock.tid);
        let c1 = procfs::thread_cpu_ns(self.client_tid);
        if let Some(mut p) = perf {
            stop_perf(&mut p);
        }
        let peak_kib = pid.map(|p| procfs::rss_kib(p).1).unwrap_or(0);
        self.count_errors(label, &r);
        Ok(Phase {
            r,
            daemon_ns: d1.saturating_sub(d0),
            daemon_ticks_ns: t1.saturating_sub(t0),
            mock_ns: m1.saturating_sub(m0),
            client_ns: c1.saturating_sub(c0),
            peak_kib,
        })
    }

    fn count_errors(&mut self, label: &str, r: &PhaseResult) {
        self.replies += r.ok;
        if r.errors > 0 {
            self.errors += r.errors;
            for e in &r.first_errors {
                self.error_lines.push(format!("{label}: {e}"));
            }
            eprintln!(
                "  !! {label}: {} wrong or failed replies; first: {}",
                r.errors,
                r.first_errors.join(" | ")
            );
        }
    }
}

fn start_perf(pid: u32, dir: &std::path::Path, label: &str) -> Option<std::process::Child> {
    let _ = std::fs::create_dir_all(dir);
    let file = dir.join(label.replace([' ', '/', '='], "_"));
    // BENCH_ATTACH is the command to run, `{pid}` and `{out}` (a path without extension)
    // filled in, e.g. `strace -c -f -p {pid} -o {out}.strace`; default: perf record at
    // 4999 Hz with frame-pointer stacks.
    let template = std::env::var("BENCH_ATTACH")
        .unwrap_or_else(|_| "perf record -q -F 4999 -g -p {pid} -o {out}.perf.data".into());
    let cmd = template
        .replace("{pid}", &pid.to_string())
        .replace("{out}", &file.to_string_lossy());
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    // The tool needs a moment to attach before the phase starts.
    std::thread::sleep(Duration::from_millis(300));
    Some(child)
}

fn stop_perf(p: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &p.id().to_string()])
        .status();
    let _ = p.wait();
}

fn main() -> ExitCode {
    let settings = Settings::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(&settings) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy benchmark FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: &Settings) -> Result<(), String> {
    let started = Instant::now();
    if settings.test_mode {
        eprintln!(
            "proxy benchmark: smoke run (no --bench argument: run by `cargo test`); figures from a debug build mean nothing"
        );
    }
    let mut scenarios = workload::scenarios();
    if let Some(only) = &settings.only {
        scenarios.retain(|s| only.iter().any(|o| o == s.name));
        if scenarios.is_empty() {
            return Err(format!("BENCH_ONLY={} matches no scenario", only.join(",")));
        }
    }
    let mock = mock::start(&scenarios, env_flag("BENCH_SPLIT_WRITES"))
        .map_err(|e| format!("cannot start the mock upstream: {e}"))?;
    let upstream = format!("http://{}/v1", mock.addr);
    let mut ctx = Ctx {
        settings,
        mock: &mock,
        client_tid: procfs::current_tid(),
        replies: 0,
        errors: 0,
        error_lines: Vec::new(),
    };

    let mut d = Daemon::start(&settings.daemon_bin, &upstream).map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_kib = procfs::rss_kib(d.pid).0;
    eprintln!(
        "proxy benchmark: daemon {} (pid {}) on {}, mock on {}, idle RSS {:.1} MiB",
        settings.daemon_bin.display(),
        d.pid,
        d.addr,
        mock.addr,
        mib(idle_kib)
    );

    let mut rows = Vec::new();
    for s in &scenarios {
        for conns in [1usize, 32] {
            let limits = settings.limits(s, conns);
            let label = format!("{} c={conns}", s.name);
            eprintln!("  {label}: direct…");
            let direct = ctx
                .phase(
                    &format!("{label} direct"),
                    Rc::new(Target::direct(mock.addr, s)),
                    conns,
                    &limits,
                    None,
                )
                .await?;
            eprintln!("  {label}: through the daemon…");
            let daemon = ctx
                .phase(
                    &format!("{label} daemon"),
                    Rc::new(Target::daemon(d.addr, s)),
                    conns,
                    &limits,
                    Some(&d),
                )
                .await?;
            if !d.alive() {
                return Err(format!(
                    "the daemon exited during {label}; its output:\n{}",
                    d.logs()
                ));
            }
            rows.push(Row {
                scenario: s.name,
                conns,
                direct,
                daemon,
            });
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_after_load_kib = procfs::rss_kib(d.pid).0;
    drop(d);

    let soak = soak(&mut ctx, &scenarios).await?;
    let memory = Memory {
        idle_kib,
        idle_after_load_kib,
        soak_first: soak.0,
        soak_last: soak.1,
        soak_trace: soak.2,
    };

    let report = report(settings, &scenarios, &rows, &memory, started.elapsed());
    println!("{report}");
    if let Some(path) = &settings.out {
        std::fs::write(path, &report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // A plain closing line that test-log readers understand (this target also runs under
    // `cargo test --all-targets`).
    println!("benchmark: {} passed, {} failed", ctx.replies, ctx.errors);
    if ctx.errors > 0 {
        return Err(format!(
            "{} wrong or failed replies:\n  {}",
            ctx.errors,
            ctx.error_lines.join("\n  ")
        ));
    }
    Ok(())
}

/// A fresh daemon under a mixed load: RSS after the first 1k requests and after all of them.
/// Returns ((requests, KiB) after 1k, (requests, KiB) at the end, trace).
async fn soak(
    ctx: &mut Ctx<'_>,
    scenarios: &[Scenario],
) -> Result<((u64, u64), (u64, u64), Vec<(u64, u64)>), String> {
    let settings = ctx.settings;
    let (first, total, conns) = if settings.quick {
        (200u64, 1_000u64, 8usize)
    } else if settings.long {
        (1_000, 100_000, 16)
    } else {
        (1_000, 20_000, 16)
    };
    let mix: Vec<&Scenario> = scenarios.iter().filter(|s| s.name != "paced").collect();
    if mix.is_empty() {
        return Ok(((0, 0), (0, 0), Vec::new()));
    }
    let upstream = format!("http://{}/v1", ctx.mock.addr);
    let mut d = Daemon::start(&settings.daemon_bin, &upstream).map_err(|e| e.to_string())?;
    eprintln!(
        "  soak: {total} mixed requests ({}) on a fresh daemon, {conns} connections…",
        mix.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    );
    let per = (first / mix.len() as u64).max(1);
    let targets: Vec<Rc<Target>> = mix
        .iter()
        .map(|s| Rc::new(Target::daemon(d.addr, s)))
        .collect();
    let mut done = 0u64;
    let mut trace = Vec::new();
    let mut at_first = None;
    let deadline = Instant::now() + Duration::from_secs(if settings.long { 900 } else { 300 });
    while done < total && Instant::now() < deadline {
        for t in &targets {
            let limits = Limits {
                requests: per,
                time: Duration::from_secs(60),
                deep_every: 100,
            };
            let r = load::run(Rc::clone(t), conns, &limits)
                .await
                .map_err(|e| format!("soak: cannot connect: {e}"))?;
            done += r.ok + r.errors;
            ctx.count_errors("soak", &r);
        }
        if !d.alive() {
            return Err(format!(
                "the daemon exited during the soak; its output:\n{}",
                d.logs()
            ));
        }
        if done >= first && at_first.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            at_first = Some((done, procfs::rss_kib(d.pid).0));
        }
        if trace.last().is_none_or(|&(n, _)| done >= n + total / 10) {
            trace.push((done, procfs::rss_kib(d.pid).0));
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = (done, procfs::rss_kib(d.pid).0);
    trace.push(last);
    Ok((at_first.unwrap_or(last), last, trace))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

fn report(
    settings: &Settings,
    scenarios: &[Scenario],
    rows: &[Row],
    m: &Memory,
    took: Duration,
) -> String {
    let mut o = String::new();
    let mode = if settings.quick {
        "quick (smoke test: figures are not meaningful)"
    } else {
        "full"
    };
    let _ = writeln!(o, "## deepinfra-shim proxy benchmark\n");
    let _ = writeln!(o, "- machine: {}", machine());
    let _ = writeln!(o, "- daemon: `{}`", settings.daemon_bin.display());
    let _ = writeln!(o, "- mode: {mode}; took {:.0} s", took.as_secs_f64());
    let _ = writeln!(
        o,
        "- mock writes: {}\n",
        if env_flag("BENCH_SPLIT_WRITES") {
            "one write per SSE event (BENCH_SPLIT_WRITES=1)"
        } else {
            "unpaced replies in one burst, paced replies one write per event"
        }
    );
    let _ = writeln!(
        o,
        "Sizes (Responses request / chat request / upstream reply, bytes): {}\n",
        scenarios
            .iter()
            .map(|s| format!(
                "{} {} / {} / {}",
                s.name,
                s.responses_body.len(),
                s.chat_body.len(),
                s.reply_body().len()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "| scenario | conns | direct p50 / p99 ms | daemon p50 / p99 ms | added p50 / p99 ms | TTFT direct / daemon ms | direct req/s | daemon req/s | ratio | daemon CPU µs/req | mock CPU µs/req | daemon peak RSS MiB | requests |"
    );
    let _ = writeln!(
        o,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let (dir, dae) = (&r.direct, &r.daemon);
        let added = |q| dae.p(q) as i64 - dir.p(q) as i64;
        let ttft = match (dir.ttft(), dae.ttft()) {
            (Some(a), Some(b)) => format!("{} / {}", ms(a), ms(b)),
            _ => "–".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} / {} | {} / {} | {:.3} / {:.3} | {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {} |",
            r.scenario,
            r.conns,
            ms(dir.p(0.5)),
            ms(dir.p(0.99)),
            ms(dae.p(0.5)),
            ms(dae.p(0.99)),
            added(0.5) as f64 / 1000.0,
            added(0.99) as f64 / 1000.0,
            ttft,
            dir.rps(),
            dae.rps(),
            dae.rps() / dir.rps().max(1e-9),
            dae.per_req_us(dae.daemon_ns),
            dae.per_req_us(dae.mock_ns),
            mib(dae.peak_kib),
            dae.r.ok,
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "CPU cross-check (utime+stime ticks, includes exited threads) vs schedstat, daemon, whole run: {:.1} ms vs {:.1} ms. Client CPU µs/req (direct / daemon): {}.\n",
        rows.iter().map(|r| r.daemon.daemon_ticks_ns).sum::<u64>() as f64 / 1e6,
        rows.iter().map(|r| r.daemon.daemon_ns).sum::<u64>() as f64 / 1e6,
        rows.iter()
            .map(|r| format!(
                "{} c={}: {:.0} / {:.0}",
                r.scenario,
                r.conns,
                r.direct.per_req_us(r.direct.client_ns),
                r.daemon.per_req_us(r.daemon.client_ns)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "Memory: idle RSS {:.1} MiB fresh, {:.1} MiB after the load above; soak on a fresh daemon: {:.1} MiB after {} requests, {:.1} MiB after {} ({:+.1}%). Trace (requests: MiB): {}\n",
        mib(m.idle_kib),
        mib(m.idle_after_load_kib),
        mib(m.soak_first.1),
        m.soak_first.0,
        mib(m.soak_last.1),
        m.soak_last.0,
        (m.soak_last.1 as f64 / m.soak_first.1.max(1) as f64 - 1.0) * 100.0,
        m.soak_trace
            .iter()
            .map(|(n, k)| format!("{n}: {:.1}", mib(*k)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The targets, each from the figures above.
    let find = |name: &str, c: usize| rows.iter().find(|r| r.scenario == name && r.conns == c);
    let cpu_worst = |name: &str| {
        [1, 32]
            .iter()
            .filter_map(|&c| find(name, c))
            .map(|r| r.daemon.per_req_us(r.daemon.daemon_ns))
            .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
    };
    // A quick run is a smoke test: its figures judge nothing.
    let quick = settings.quick;
    let verdict = |ok: bool| {
        if quick {
            "(quick run: not judged)"
        } else if ok {
            "met"
        } else {
            "**missed**"
        }
    };
    let _ = writeln!(o, "| figure | target | measured | |");
    let _ = writeln!(o, "|---|---|---|---|");
    for (name, label, limit) in [
        ("small-sse", "CPU per request, small streamed", 50.0),
        (
            "codex-sse",
            "CPU per request, Codex-sized (40 KB, 10 tools) streamed",
            90.0,
        ),
        (
            "session-400k",
            "CPU per request, 400 KB session (90 call/output pairs)",
            400.0,
        ),
    ] {
        if let Some(v) = cpu_worst(name) {
            let _ = writeln!(
                o,
                "| {label} | ≤ {:.2} ms | {:.3} ms (worse of c=1, c=32) | {} |",
                limit / 1000.0,
                v / 1000.0,
                verdict(v <= limit)
            );
        }
    }
    let paced: Vec<(f64, f64)> = [1, 32]
        .iter()
        .filter_map(|&c| find("paced", c))
        .map(|r| {
            (
                r.daemon.per_req_us(r.daemon.daemon_ns),
                r.daemon.per_req_us(r.daemon.mock_ns),
            )
        })
        .collect();
    if let Some(&(d, mk)) = paced
        .iter()
        .max_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)))
    {
        let _ = writeln!(
            o,
            "| CPU per paced stream (34 chunks, 20 ms then 2 ms apart) | ≤ the mock upstream's own CPU for the same reply | daemon {:.3} ms vs mock {:.3} ms ({:.1}×) | {} |",
            d / 1000.0,
            mk / 1000.0,
            d / mk.max(1e-9),
            verdict(d <= mk)
        );
    }
    if let Some(r) = find("small-sse", 1) {
        let added = r.daemon.p(0.5) as i64 - r.direct.p(0.5) as i64;
        let _ = writeln!(
            o,
            "| added p50 latency, c=1, small streamed | ≤ 50 µs | {added} µs | {} |",
            verdict(added <= 50)
        );
    }
    if let Some(r) = find("codex-sse", 32) {
        let ratio = r.daemon.rps() / r.direct.rps().max(1e-9);
        let _ = writeln!(
            o,
            "| req/s through the daemon ÷ straight to the upstream, Codex-sized, 32 connections | ≥ 0.5 | {ratio:.2} ({:.0} / {:.0}) | {} |",
            r.daemon.rps(),
            r.direct.rps(),
            verdict(ratio >= 0.5)
        );
    }
    let _ = writeln!(
        o,
        "| resident memory idle | ≤ 10 MiB | {:.1} MiB | {} |",
        mib(m.idle_kib),
        verdict(mib(m.idle_kib) <= 10.0)
    );
    if let Some(r) = find("session-400k", 32) {
        let _ = writeln!(
            o,
            "| resident memory under 32 concurrent 400 KB sessions (peak) | ≤ 64 MiB | {:.1} MiB | {} |",
            mib(r.daemon.peak_kib),
            verdict(mib(r.daemon.peak_kib) <= 64.0)
        );
    }
    let growth = (m.soak_last.1 as f64 / m.soak_first.1.max(1) as f64 - 1.0) * 100.0;
    let _ = writeln!(
        o,
        "| resident memory after {} requests vs after {} | within 5% | {growth:+.1}% | {} |",
        m.soak_last.0,
        m.soak_first.0,
        verdict(growth.abs() <= 5.0)
    );
    o
}
