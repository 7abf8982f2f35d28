use super::*;
use std::time::Instant;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_quiet_file_is_read_after_two_agreeing_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.yaml");
    std::fs::write(&p, "log: { level: warn }\n").unwrap();
    let start = Instant::now();
    let text = runtime()
        .block_on(read_stable(&p, Duration::from_millis(50)))
        .unwrap();
    assert_eq!(text, "log: { level: warn }\n");
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "it waited once"
    );
    let e = runtime()
        .block_on(read_stable(
            &dir.path().join("none.yaml"),
            Duration::from_millis(10),
        ))
        .unwrap_err();
    assert!(
        matches!(e, LoadError::MissingFile { origin: None, .. }),
        "{e:?}"
    );
}

/// A writer that truncates, then writes piece by piece: the reader never returns the empty or
/// the half-way text. The writer runs on the same runtime as the reader, so their relative
/// timing holds even on a busy machine.
#[test]
fn a_file_being_rewritten_is_returned_only_once_stable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.yaml");
    std::fs::write(&p, "log:\n  level: info\n").unwrap();
    let full = "log:\n  level: debug\n  requests: true\n";
    let path = p.clone();
    let text = runtime()
        .block_on(async move {
            let writer = tokio::spawn(async move {
                std::fs::write(&path, "").unwrap();
                for end in (1..full.len()).step_by(4) {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    std::fs::write(&path, &full[..end]).unwrap();
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
                std::fs::write(&path, full).unwrap();
            });
            tokio::task::yield_now().await;
            let text = read_stable(&p, Duration::from_millis(60)).await;
            writer.await.unwrap();
            text
        })
        .unwrap();
    assert_eq!(text, full);
}

#[test]
fn a_file_that_never_settles_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.yaml");
    std::fs::write(&p, "0").unwrap();
    let path = p.clone();
    let e = runtime()
        .block_on(async move {
            let writer = tokio::spawn(async move {
                for i in 0u64.. {
                    std::fs::write(&path, i.to_string()).unwrap();
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            });
            let r = read_stable(&p, Duration::from_millis(20)).await;
            writer.abort();
            r
        })
        .unwrap_err();
    assert!(matches!(e, LoadError::Unstable { reads: 6, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("keeps changing"), "{msg}");
    assert!(msg.contains("keeping the current configuration"), "{msg}");
}
