//! Arming a capture: which directories are refused, and which requests a capture takes.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use super::*;

fn req(dir: &Path) -> CaptureRequest {
    CaptureRequest {
        dir: dir.display().to_string(),
        for_s: Some(60),
        max: Some(2),
        model: None,
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_directory_is_made_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cap");
    let c = Capture::default();
    let r = c.arm(&req(&dir), Instant::now()).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!((r.for_s, r.max), (60, 2));
    assert_eq!(r.max_total_bytes, MAX_TOTAL_BYTES);
    assert!(c.is_armed());
}

#[test]
fn an_existing_empty_directory_is_used_and_made_private() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Capture::default()
        .arm(&req(root.path()), Instant::now())
        .unwrap();
    assert_eq!(mode(root.path()), 0o700);
}

#[test]
fn unfit_directories_are_refused_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let c = Capture::default();
    let full = root.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), "x").unwrap();
    let e = c.arm(&req(&full), Instant::now()).unwrap_err();
    assert!(e.contains("is not empty"), "{e}");
    let file = root.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let e = c.arm(&req(&file), Instant::now()).unwrap_err();
    assert!(e.contains("not a directory"), "{e}");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(root.path().join("nowhere"), &link).unwrap();
    let e = c.arm(&req(&link), Instant::now()).unwrap_err();
    assert!(e.contains("symbolic link"), "{e}");
    let e = c
        .arm(&req(Path::new("relative/dir")), Instant::now())
        .unwrap_err();
    assert!(e.contains("absolute"), "{e}");
    let orphan = root.path().join("missing/parent");
    let e = c.arm(&req(&orphan), Instant::now()).unwrap_err();
    assert!(e.contains("parent directory"), "{e}");
    assert!(!c.is_armed(), "nothing armed after refusals");
}

#[test]
fn bad_bounds_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let c = Capture::default();
    for (for_s, max) in [
        (Some(0), None),
        (Some(7200), None),
        (None, Some(0)),
        (None, Some(5000)),
    ] {
        let r = CaptureRequest {
            for_s,
            max,
            ..req(root.path())
        };
        assert!(c.arm(&r, Instant::now()).is_err(), "{for_s:?} {max:?}");
    }
}

#[test]
fn a_capture_takes_max_requests_then_turns_off() {
    let root = tempfile::tempdir().unwrap();
    let c = Capture::default();
    let t0 = Instant::now();
    c.arm(&req(&root.path().join("c")), t0).unwrap();
    // A second capture while this one runs is refused.
    let e = c.arm(&req(&root.path().join("d")), t0).unwrap_err();
    assert!(e.contains("already running"), "{e}");
    let claim = |id| c.claim(id, "m", "m", Redactor::empty(), t0);
    let first = claim("req_1").expect("first");
    assert_eq!(first.name(), "001-req_1");
    assert!(claim("req/2..").is_some());
    assert!(!c.is_armed(), "off once every request is taken");
    assert!(claim("req_3").is_none());
    // Once it is over, a new capture may start.
    c.arm(&req(&root.path().join("e")), t0).unwrap();
}

#[test]
fn the_window_and_the_model_filter_decide() {
    let root = tempfile::tempdir().unwrap();
    let c = Capture::default();
    let t0 = Instant::now();
    c.arm(
        &CaptureRequest {
            model: Some("fast".into()),
            max: Some(5),
            ..req(&root.path().join("c"))
        },
        t0,
    )
    .unwrap();
    assert!(
        c.claim("a", "slow", "org/slow", Redactor::empty(), t0)
            .is_none()
    );
    assert!(
        c.claim("b", "fast", "org/qwen", Redactor::empty(), t0)
            .is_some()
    );
    assert!(
        c.claim("c", "alias", "fast", Redactor::empty(), t0)
            .is_some(),
        "the upstream name counts"
    );
    assert!(c.is_armed());
    let late = t0 + Duration::from_secs(61);
    assert!(
        c.claim("d", "fast", "fast", Redactor::empty(), late)
            .is_none()
    );
    assert!(!c.is_armed(), "off once the window is over");
}

#[test]
fn request_ids_become_safe_file_names() {
    assert_eq!(safe_name("req_1f"), "req_1f");
    assert_eq!(safe_name("../../etc/passwd"), ".._.._etc_passwd");
    assert_eq!(safe_name(&"x".repeat(100)).len(), 64);
}
