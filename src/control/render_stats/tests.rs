//! The stats table and the capture message, from protocol payloads.

use std::collections::BTreeMap;

use super::*;
use crate::metrics::report::{Quantiles, Tokens, ToolCalls};

#[test]
fn durations_read_like_a_person_writes_them() {
    for (text, secs) in [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_secs(secs)),
            "{text}"
        );
    }
    for bad in ["", "15x", "m", "1.5h", "-3m", "10m5"] {
        let e = parse_duration(bad).unwrap_err();
        assert!(e.contains("like 90s, 15m or 1h"), "{bad}: {e}");
    }
}

fn row(model: &str) -> StatsRow {
    StatsRow {
        endpoint: "responses".into(),
        model: model.into(),
        upstream: "default".into(),
        requests: 12,
        completed: 9,
        incomplete: 1,
        failed: 1,
        cancelled: 1,
        codex_retries: 1,
        errors: BTreeMap::from([("rate_limit_exceeded".to_owned(), 1)]),
        ttft_ms: Quantiles {
            samples: 10,
            p50: Some(412.0),
            p90: Some(1234.0),
        },
        output_tokens_per_s: Quantiles {
            samples: 9,
            p50: Some(61.6),
            p90: Some(80.0),
        },
        tokens: Tokens {
            input: 120_400,
            cached: 80_000,
            output: 4_100,
            reasoning: 0,
            replies_with_usage: 11,
        },
        tool_calls: ToolCalls {
            calls: 9,
            malformed: 1,
            repaired: 0,
            unknown_tool: 0,
            leaked: 1,
        },
        estimated_cost_usd: Some(0.01342),
        ..StatsRow::default()
    }
}

#[test]
fn the_table_shows_each_model_and_the_total() {
    let report = StatsReport {
        window_s: 900,
        covered_s: 900,
        uptime_s: 7380,
        rows: vec![row("deepseek-ai/DeepSeek-V4-Flash")],
        total: StatsRow {
            endpoint: String::new(),
            model: String::new(),
            upstream: String::new(),
            ..row("")
        },
        unpriced_rows: 0,
    };
    let text = stats(&report, Style::PLAIN);
    assert!(text.starts_with("Last 15m 00s\n"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().find(|l| l.starts_with("MODEL")).unwrap();
    for h in HEADERS {
        assert!(header.contains(h), "{h} in {header}");
    }
    let model = lines
        .iter()
        .find(|l| l.starts_with("deepseek-ai/DeepSeek-V4-Flash"))
        .unwrap();
    let cols: Vec<&str> = model.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "deepseek-ai/DeepSeek-V4-Flash",
            "default",
            "12",
            "9",
            "1",
            "1",
            "1",
            "412ms/1.23s",
            "62",
            "120.4k",
            "80.0k",
            "4100",
            "9",
            "11%",
            "10%",
            "$0.0134"
        ]
    );
    assert!(lines.iter().any(|l| l.starts_with("total")));
    assert!(text.contains("errors: rate_limit_exceeded 1"), "{text}");
    assert!(
        text.contains("tool calls: arguments not valid JSON 1, printed as text 1"),
        "{text}"
    );
    assert!(text.contains("Codex retried 1 request after"), "{text}");
    assert!(text.contains("COST is an estimate"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when plain");
}

#[test]
fn missing_numbers_show_a_dash_never_a_guess() {
    let mut r = row("m");
    r.estimated_cost_usd = None;
    r.ttft_ms = Quantiles::default();
    r.output_tokens_per_s = Quantiles::default();
    r.tool_calls = ToolCalls::default();
    let c = cells(&r, "m".into(), "default");
    assert_eq!((c[7].as_str(), c[8].as_str()), ("-", "-"));
    assert_eq!(
        (c[13].as_str(), c[14].as_str(), c[15].as_str()),
        ("-", "-", "-")
    );
}

#[test]
fn an_empty_window_says_so() {
    let r = StatsReport {
        window_s: 900,
        covered_s: 120,
        ..StatsReport::default()
    };
    let text = stats(&r, Style::PLAIN);
    assert!(text.contains("up 2m 00s of it"), "{text}");
    assert!(text.contains("No requests in this window."), "{text}");
}

#[test]
fn the_capture_message_says_where_and_how_long() {
    let text = capture_armed(&CaptureReport {
        dir: "/home/u/cap".into(),
        for_s: 60,
        until: "2026-01-02T03:04:05Z".into(),
        max: 10,
        model: Some("m".into()),
        max_file_bytes: 8 << 20,
        max_total_bytes: 64 << 20,
    });
    assert!(text.starts_with("Capturing the next 10 requests for m into /home/u/cap for 1m 00s (until 2026-01-02T03:04:05Z)."), "{text}");
    assert!(text.contains("8 MiB each and 64 MiB in all"), "{text}");
    assert!(text.contains("docs/capture.md"), "{text}");
}
