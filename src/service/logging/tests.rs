use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use super::viewer::{self, Options, Os};
use super::*;

/// A writer into a shared buffer, so a test can read what the layer wrote.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Runs `f` with the text layer as the thread's subscriber; returns the lines written,
/// without the timestamp.
fn text_lines(verbose: bool, f: impl FnOnce()) -> Vec<String> {
    let buf = Buf::default();
    let w = buf.clone();
    let flag = Arc::new(AtomicBool::new(verbose));
    let subscriber =
        tracing_subscriber::registry().with(text_layer(&flag, false, move || w.clone()));
    tracing::subscriber::with_default(subscriber, f);
    buf.lines()
        .into_iter()
        .map(|l| {
            let (ts, rest) = l.split_once(' ').unwrap();
            assert!(
                ts.ends_with('Z') && ts.contains('T'),
                "timestamp first: {l}"
            );
            rest.trim_start().to_owned()
        })
        .collect()
}

fn request_span() -> tracing::Span {
    let span = tracing::info_span!(
        "request",
        id = "req_1f",
        method = "POST",
        path = "/v1/responses",
        model = tracing::field::Empty,
        upstream = tracing::field::Empty,
    );
    span.record("model", "deepseek-ai/DeepSeek-V4-Flash");
    span.record("upstream", "default");
    span
}

#[derive(Debug)]
enum Outcome {
    #[allow(dead_code)]
    Completed,
}

struct Shown;
impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Completed")
    }
}

#[test]
fn an_info_line_is_message_fields_then_span_fields_without_module_path() {
    let lines = text_lines(false, || {
        let span = request_span();
        let _g = span.enter();
        tracing::info!(
            status = 200,
            outcome = "completed",
            duration_ms = 812u64,
            "Stream finished"
        );
    });
    assert_eq!(
        lines,
        [
            "INFO Stream finished status=200 outcome=completed duration_ms=812 id=req_1f \
          model=deepseek-ai/DeepSeek-V4-Flash upstream=default"
        ]
    );
}

#[test]
fn debug_level_shows_the_target_and_the_quiet_span_fields() {
    let lines = text_lines(true, || {
        let span = request_span();
        let _g = span.enter();
        tracing::debug!(role = "tool", "Skipping a message");
    });
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(
        line.starts_with(
            "DEBUG deepinfra_shim::service::logging::tests: Skipping a message role=tool"
        ),
        "{line}"
    );
    assert!(line.contains(" method=POST path=/v1/responses "), "{line}");
}

#[test]
fn a_value_reads_the_same_however_it_was_recorded() {
    let lines = text_lines(false, || {
        tracing::info!(outcome = "Completed", "a");
        tracing::info!(outcome = %Shown, "b");
        tracing::info!(outcome = ?Outcome::Completed, "c");
    });
    assert_eq!(
        lines,
        [
            "INFO a outcome=Completed",
            "INFO b outcome=Completed",
            "INFO c outcome=Completed"
        ]
    );
}

#[test]
fn ambiguous_values_are_quoted_and_nothing_breaks_the_line() {
    let lines = text_lines(false, || {
        tracing::warn!(
            source = "file change",
            empty = "",
            eq = "a=b",
            nl = "one\ntwo",
            esc = "\u{1b}[31mred",
            "Line\nwith a break"
        );
    });
    assert_eq!(
        lines,
        [
            r#"WARN Line\nwith a break source="file change" empty="" eq="a=b" nl="one\ntwo" esc="\u{1b}[31mred""#
        ]
    );
}

#[test]
fn a_field_called_message_stays_a_field() {
    let lines = text_lines(false, || {
        tracing::info!(status = 401, message = "no token", "Request refused");
    });
    assert_eq!(
        lines,
        [r#"INFO Request refused status=401 message="no token""#]
    );
}

#[test]
fn setting_the_level_switches_the_target_on_and_off() {
    let buf = Buf::default();
    let w = buf.clone();
    let control = LogControl::detached("info");
    let subscriber =
        tracing_subscriber::registry().with(text_layer(&control.verbose, false, move || w.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("quiet");
        control.set_level("debug").unwrap();
        tracing::info!("loud");
        control.set_level("warn").unwrap();
        tracing::warn!("quiet again");
        assert!(control.set_level("chatty").is_err());
        tracing::warn!("still quiet");
    });
    let lines = buf.lines();
    assert!(lines[0].ends_with(" INFO quiet"), "{lines:?}");
    assert!(lines[1].contains(" INFO deepinfra_shim::"), "{lines:?}");
    assert!(lines[2].ends_with(" WARN quiet again"), "{lines:?}");
    assert!(lines[3].ends_with(" WARN still quiet"), "{lines:?}");
}

#[test]
fn journal_priorities_have_their_syslog_meaning() {
    use tracing_journald::Priority;
    let p = journal_priorities();
    // The crate's discriminants are the ASCII digits journald receives.
    let n = |p: Priority| char::from(p as u8);
    assert_eq!(
        [n(p.error), n(p.warn), n(p.info), n(p.debug), n(p.trace)],
        ['3', '4', '6', '7', '7']
    );
}

// ---------------------------------------------------------------------------------------------
// shimctl logs

fn args(inv: &viewer::Invocation) -> Vec<String> {
    inv.args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn linux_reads_the_user_journal_of_the_unit() {
    let p = viewer::plan(Os::Linux, None, Options::default()).unwrap();
    assert_eq!(p.show.program, "journalctl");
    assert_eq!(
        args(&p.show),
        ["--user", "-u", "deepinfra-shim", "--no-pager"]
    );
    assert_eq!(p.file, None);
    let probe = p.probe.unwrap();
    assert_eq!(probe.program, "journalctl");
    assert_eq!(
        args(&probe),
        [
            "--user",
            "-u",
            "deepinfra-shim",
            "-n",
            "1",
            "-q",
            "--no-pager",
            "-o",
            "cat"
        ]
    );

    let opts = Options {
        follow: true,
        lines: Some(20),
        tty: true,
    };
    let p = viewer::plan(Os::Linux, None, opts).unwrap();
    assert_eq!(
        args(&p.show),
        ["--user", "-u", "deepinfra-shim", "-f", "-n", "20"],
        "a terminal keeps journalctl's pager"
    );
}

#[test]
fn macos_tails_the_agent_log_file() {
    let home = Path::new("/Users/me");
    let opts = Options {
        follow: true,
        lines: Some(5),
        tty: false,
    };
    let p = viewer::plan(Os::Macos, Some(home), opts).unwrap();
    let file = "/Users/me/Library/Logs/deepinfra-shim/deepinfra-shim.log";
    assert_eq!(p.show.program, "tail");
    assert_eq!(args(&p.show), ["-n", "5", "-f", file]);
    assert_eq!(p.file.as_deref(), Some(Path::new(file)));
    assert_eq!(p.probe, None);

    let p = viewer::plan(Os::Macos, Some(home), Options::default()).unwrap();
    assert_eq!(args(&p.show), [file]);

    let e = viewer::plan(Os::Macos, None, Options::default()).unwrap_err();
    assert!(e.contains("HOME"), "{e}");
}

#[test]
fn hints_name_the_tools_of_their_os() {
    let linux = viewer::empty_hint(Os::Linux, None);
    assert!(linux.contains("journalctl _SYSTEMD_USER_UNIT=deepinfra-shim.service"));
    assert!(linux.contains("/var/log/journal"));
    assert!(linux.contains("systemctl --user"));
    assert!(!linux.contains("launchctl"));

    let file = Path::new("/Users/me/Library/Logs/deepinfra-shim/deepinfra-shim.log");
    let mac = viewer::empty_hint(Os::Macos, Some(file));
    assert!(
        mac.contains("launchctl print gui/$(id -u)/com.deepinfra.shim"),
        "{mac}"
    );
    assert!(!mac.contains("systemctl"));
    let missing = viewer::no_file_hint(file);
    assert!(missing.contains("launchctl bootstrap"), "{missing}");
    assert!(missing.contains(&file.display().to_string()));

    assert!(viewer::missing_tool_hint(Os::Linux, "journalctl").contains("journal"));
}

#[test]
fn text_and_json_lines_are_redacted_with_the_secrets_in_force() {
    use base64::Engine as _;
    let token = "sk-live-0123456789abcdefghij";
    let later = "hdr-secret-9876543210zyxw";
    let control = LogControl::detached("info");
    control.follow(&Redactor::new([token]));
    let buf = Buf::default();
    let w = buf.clone();
    let json = Buf::default();
    let j = json.clone();
    let subscriber = tracing_subscriber::registry()
        .with(text_layer(
            &control.verbose,
            false,
            redacting(&control.secrets, move || w.clone()),
        ))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(redacting(&control.secrets, move || j.clone())),
        );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x{token}"));
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(message = %format!("Incorrect API key provided: {token}"), "Upstream refused the request");
        tracing::warn!(body = %format!("{{\"k\":\"Bearer {token}\"}}"), jwt = %b64, "echo");
        tracing::warn!(header = later, "before the swap");
        // A reload brings a new secret: the next line already hides it.
        control.follow(&Redactor::new([token, later]));
        tracing::warn!(header = later, "after the swap");
    });
    let text = buf.lines().join("\n");
    let json = json.lines().join("\n");
    for out in [&text, &json] {
        assert!(!out.contains(&token[..12]), "{out}");
        assert!(!out.contains(&b64[4..20]), "{out}");
        assert!(out.contains("Incorrect API key provided: ***"), "{out}");
    }
    assert!(
        text.contains(&format!("before the swap header={later}")),
        "{text}"
    );
    assert!(text.contains("after the swap header=***"), "{text}");
}

/// The cost of the redacting writer per log line (a typical ~200-byte completion line, three
/// secrets, none in the line): `cargo test --release --lib logging::tests::cost -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn cost_of_redacting_a_log_line() {
    use std::io::Write as _;
    use std::time::Instant;
    let line = b"2026-01-02T03:04:05.678901Z  INFO Stream finished status=200 outcome=completed duration_ms=812 bytes=5120 id=req_1f model=deepseek-ai/DeepSeek-V4-Flash upstream=default\n";
    let secrets = no_secrets();
    secrets.store(Arc::new(Redactor::new([
        "sk-live-0123456789abcdefghij",
        "client-key-0123456789",
        "hdr-secret-9876543210zyxw",
    ])));
    let n = 200_000;
    let plain = {
        let mut w = std::io::sink();
        let t = Instant::now();
        for _ in 0..n {
            w.write_all(std::hint::black_box(line)).unwrap();
        }
        t.elapsed()
    };
    let redacted = {
        use tracing_subscriber::fmt::MakeWriter as _;
        // As the layer does it: one writer per line, from the maker.
        let make = redacting(&secrets, std::io::sink);
        let t = Instant::now();
        for _ in 0..n {
            make.make_writer()
                .write_all(std::hint::black_box(line))
                .unwrap();
        }
        t.elapsed()
    };
    println!(
        "per line: plain {:?}, redacted {:?}",
        plain / n,
        redacted / n
    );
    // The journald path: the same completion event through a layer that does nothing, bare
    // and behind the redacting layer (which renders its fields to look for secrets).
    struct Noop;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}
    let event = || {
        tracing::info!(
            status = 200,
            outcome = "completed",
            duration_ms = 812,
            bytes = 5120,
            "Stream finished"
        )
    };
    let bare = {
        let sub = tracing_subscriber::registry().with(Noop);
        tracing::subscriber::with_default(sub, || {
            let t = Instant::now();
            for _ in 0..n {
                event();
            }
            t.elapsed()
        })
    };
    let wrapped = {
        let sub = tracing_subscriber::registry().with(journal::Redacted {
            inner: Noop,
            secrets: Arc::clone(&secrets),
        });
        tracing::subscriber::with_default(sub, || {
            let t = Instant::now();
            for _ in 0..n {
                event();
            }
            t.elapsed()
        })
    };
    println!(
        "per journald event: bare {:?}, redacting layer {:?}",
        bare / n,
        wrapped / n
    );
}
