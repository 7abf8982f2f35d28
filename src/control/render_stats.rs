//! What `shimctl stats` and `shimctl capture` print: pure functions from the protocol payloads
//! to text, plus the duration syntax both commands take (`90s`, `15m`, `1h`).

use std::fmt::Write as _;
use std::time::Duration;

use super::protocol::{CaptureReport, StatsReport};
use super::render::{Style, duration};
use crate::metrics::StatsRow;

/// `90`, `90s`, `15m`, `1h`, `1h30m` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a duration (write it like 90s, 15m or 1h)");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `830ms`, `1.20s`.
fn millis(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 1000.0 => format!("{ms:.0}ms"),
        Some(ms) => format!("{:.2}s", ms / 1000.0),
    }
}

/// `950`, `12.3k`, `4.56M`.
fn count(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.2}M", n as f64 / 1e6),
    }
}

/// `part` as a share of `whole`, `-` when there is no whole.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

fn cost(usd: Option<f64>) -> String {
    match usd {
        None => "-".to_owned(),
        Some(c) if c < 0.01 => format!("${c:.6}"),
        Some(c) if c < 1.0 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
    }
}

/// How a row is named: the model (or `-`), tagged with its endpoint when that is not
/// `/v1/responses`.
fn name(r: &StatsRow) -> String {
    let model = if r.model.is_empty() { "-" } else { &r.model };
    match r.endpoint.as_str() {
        "responses" | "" => model.to_owned(),
        "chat_completions" => format!("{model} (chat passthrough)"),
        "models" => "(model list)".to_owned(),
        _ if r.model.is_empty() => "(other paths)".to_owned(),
        other => format!("{model} ({other})"),
    }
}

const HEADERS: [&str; 16] = [
    "MODEL",
    "UPSTREAM",
    "REQ",
    "DONE",
    "INC",
    "FAIL",
    "CANC",
    "TTFT p50/p90",
    "TOK/S",
    "IN",
    "CACHED",
    "OUT",
    "CALLS",
    "MALF",
    "LEAK",
    "COST*",
];

fn cells(r: &StatsRow, label: String, upstream: &str) -> [String; 16] {
    let ttft = if r.ttft_ms.samples == 0 {
        "-".to_owned()
    } else {
        format!("{}/{}", millis(r.ttft_ms.p50), millis(r.ttft_ms.p90))
    };
    let t = &r.tool_calls;
    [
        label,
        upstream.to_owned(),
        r.requests.to_string(),
        r.completed.to_string(),
        r.incomplete.to_string(),
        r.failed.to_string(),
        r.cancelled.to_string(),
        ttft,
        r.output_tokens_per_s
            .p50
            .map_or("-".to_owned(), |v| format!("{v:.0}")),
        count(r.tokens.input),
        count(r.tokens.cached),
        count(r.tokens.output),
        t.calls.to_string(),
        share(t.malformed, t.calls),
        share(t.leaked, t.calls + t.leaked),
        cost(r.estimated_cost_usd),
    ]
}

/// The `shimctl stats` table, then the errors by kind, the tool-call problems and Codex's
/// retries of each row, and what the cost column means.
pub fn stats(r: &StatsReport, st: Style) -> String {
    let mut out = String::new();
    let window = duration(r.window_s);
    let covered = if r.covered_s < r.window_s {
        format!(" (the daemon has been up {} of it)", duration(r.covered_s))
    } else {
        String::new()
    };
    let _ = writeln!(out, "Last {window}{covered}");
    if r.rows.is_empty() {
        let _ = writeln!(out, "No requests in this window.");
        return out;
    }
    out.push('\n');
    let mut table: Vec<[String; 16]> = vec![HEADERS.map(str::to_owned)];
    for row in &r.rows {
        table.push(cells(row, name(row), &row.upstream));
    }
    table.push(cells(&r.total, "total".to_owned(), ""));
    let widths: Vec<usize> = (0..16)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, row) in table.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c > 0 {
                line.push_str("  ");
            }
            // Names left, numbers right.
            if c < 2 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        let line = line.trim_end();
        let _ = match i {
            0 => writeln!(out, "{}", st.bold(line)),
            _ if i == table.len() - 1 => writeln!(out, "{}", st.dim(line)),
            _ => writeln!(out, "{line}"),
        };
    }
    details(&mut out, r, st);
    let _ = writeln!(
        out,
        "\n* COST is an estimate from the provider's list prices (USD); - where it publishes none{}.",
        if r.unpriced_rows > 0 && r.total.estimated_cost_usd.is_some() {
            ", and the total leaves those rows out"
        } else {
            ""
        }
    );
    out
}

/// The lines under the table: errors, tool-call problems, retries, one row at a time.
fn details(out: &mut String, r: &StatsReport, st: Style) {
    let mut lines = Vec::new();
    for row in &r.rows {
        let who = match row.upstream.as_str() {
            "" => name(row),
            up => format!("{} @ {up}", name(row)),
        };
        if !row.errors.is_empty() {
            let kinds: Vec<String> = row.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
            lines.push(format!("{who}: errors: {}", st.red(&kinds.join(", "))));
        }
        let t = &row.tool_calls;
        let mut tools = Vec::new();
        for (n, what) in [
            (t.malformed, "arguments not valid JSON"),
            (t.unknown_tool, "unknown tool"),
            (t.repaired, "repaired"),
            (t.leaked, "printed as text"),
        ] {
            if n > 0 {
                tools.push(format!("{what} {n}"));
            }
        }
        if !tools.is_empty() {
            lines.push(format!(
                "{who}: tool calls: {}",
                st.yellow(&tools.join(", "))
            ));
        }
        if row.codex_retries > 0 {
            lines.push(format!(
                "{who}: Codex retried {} request{} after a 429, 5xx or failed stream",
                row.codex_retries,
                if row.codex_retries == 1 { "" } else { "s" }
            ));
        }
    }
    if !lines.is_empty() {
        out.push('\n');
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
}

/// What `shimctl capture` prints once the capture is armed.
pub fn capture_armed(c: &CaptureReport) -> String {
    let which = match &c.model {
        Some(m) => format!("requests for {m}"),
        None => "requests".to_owned(),
    };
    format!(
        "Capturing the next {} {which} into {} for {} (until {}).\n\
         Each request gets its own directory there when it ends: the request Codex sent, the \
         request sent upstream, the provider's reply, the reply Codex got, and meta.json.\n\
         Secrets (provider tokens, client keys, header values) are replaced by ***. Files are \
         cut at {} MiB each and {} MiB in all.\n\
         Run the Codex session that shows the problem now; see docs/capture.md for what to \
         attach to a bug report.\n",
        c.max,
        c.dir,
        duration(c.for_s),
        c.until,
        c.max_file_bytes >> 20,
        c.max_total_bytes >> 20,
    )
}

#[cfg(test)]
mod tests;
