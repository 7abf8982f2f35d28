//! CPU and memory readings from `/proc` (Linux only).
//!
//! CPU: the first field of `/proc/<pid>/task/<tid>/schedstat` is the thread's time on CPU in
//! nanoseconds (precise, unlike the 10 ms ticks of `stat`), summed over every live thread.
//! Threads that exited during a phase would be missing from that sum, so `stat`'s
//! utime+stime (which includes them, in ticks) is read as well, as a cross-check.
//! Memory: `VmRSS` (now) and `VmHWM` (peak; reset per phase by writing `5` to `clear_refs`).

use std::fs;

/// This thread's Linux thread id (from the `/proc/thread-self` link).
pub fn current_tid() -> u32 {
    fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

fn first_field_ns(path: &str) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Nanoseconds on CPU of every live thread of `pid`.
pub fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            first_field_ns(&format!(
                "/proc/{pid}/task/{}/schedstat",
                e.file_name().to_str()?
            ))
        })
        .sum()
}

/// Nanoseconds on CPU of one thread of this process.
pub fn thread_cpu_ns(tid: u32) -> u64 {
    first_field_ns(&format!("/proc/self/task/{tid}/schedstat")).unwrap_or(0)
}

/// utime+stime of the whole process (dead threads included), in nanoseconds.
pub fn process_ticks_ns(pid: u32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the `(comm)`, which may contain spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    let ticks: u64 = f.get(11).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    ticks * 1_000_000_000 / clk_tck()
}

fn clk_tck() -> u64 {
    static TCK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(100)
    })
}

/// (VmRSS, VmHWM) in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak RSS (`VmHWM`) of `pid` to its current RSS.
pub fn reset_peak(pid: u32) {
    let _ = fs::write(format!("/proc/{pid}/clear_refs"), "5");
}
