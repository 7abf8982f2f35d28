use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, ModifyKind, RemoveKind};
use notify::{Event as RawEvent, EventKind};
use tokio::time::Instant;

use super::*;
use crate::config::cli::Cli;
use crate::config::load::Env;
use crate::service::logging::LogControl;

fn state(home: &Path) -> Arc<State> {
    let env = Env::from_pairs([
        ("HOME", home.display().to_string()),
        ("XDG_RUNTIME_DIR", format!("{}/run", home.display())),
    ]);
    let config = crate::config::load(&Cli::default(), &env).unwrap();
    State::new(config, LogControl::detached("info"))
}

fn seen(file: bool, chain: bool) -> Seen {
    Seen {
        file,
        chain,
        lost: false,
    }
}

fn ev(kind: EventKind, path: &Path) -> RawEvent {
    RawEvent::new(kind).add_path(path.to_owned())
}

#[test]
fn a_burst_reloads_after_the_quiet_time_or_the_maximum_delay() {
    let t0 = Instant::now();
    let mut b = None;
    note(&mut b, t0);
    assert_eq!(b.unwrap().due(), t0 + QUIET);
    // Events every 100 ms push the quiet deadline on, but never past the maximum delay.
    for i in 1..=20 {
        note(&mut b, t0 + Duration::from_millis(100 * i));
    }
    assert_eq!(b.unwrap().due(), t0 + MAX_DELAY);
    let mut b = None;
    note(&mut b, t0);
    note(&mut b, t0 + Duration::from_millis(100));
    assert_eq!(b.unwrap().due(), t0 + Duration::from_millis(100) + QUIET);
}

#[test]
fn only_writes_to_the_config_file_and_moves_of_its_directories_count() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = Arming::new(PathBuf::from("/h/.config/shim/config.yaml"), tx);
    let file = Path::new("/h/.config/shim/config.yaml");
    let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
    assert_eq!(a.classify(&ev(write, file)), seen(true, false));
    assert_eq!(
        a.classify(&ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            file
        )),
        seen(true, false)
    );
    // The daemon's own reads open and close the file: not a change.
    assert_eq!(
        a.classify(&ev(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            file
        )),
        seen(false, false)
    );
    assert_eq!(
        a.classify(&ev(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            file
        )),
        seen(false, false)
    );
    // Another file in the same directory (an editor's temp file, a backup).
    assert_eq!(
        a.classify(&ev(write, Path::new("/h/.config/shim/config.yaml.tmp"))),
        seen(false, false)
    );
    // A rename of the temp file over the config file names both.
    let rename = RawEvent::new(EventKind::Modify(ModifyKind::Name(
        notify::event::RenameMode::Both,
    )))
    .add_path(PathBuf::from("/h/.config/shim/.config.yaml.swp"))
    .add_path(file.to_owned());
    assert_eq!(a.classify(&rename), seen(true, false));
    // Directories on the way to the file.
    assert_eq!(
        a.classify(&ev(
            EventKind::Create(CreateKind::Folder),
            Path::new("/h/.config")
        )),
        seen(false, true)
    );
    assert_eq!(
        a.classify(&ev(
            EventKind::Remove(RemoveKind::Folder),
            Path::new("/h/.config/shim")
        )),
        seen(false, true)
    );
    assert_eq!(
        a.classify(&ev(
            EventKind::Create(CreateKind::Folder),
            Path::new("/h/.cache")
        )),
        seen(false, false)
    );
    let rescan = RawEvent::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
    assert_eq!(
        a.classify(&rescan),
        Seen {
            file: true,
            chain: true,
            lost: true
        }
    );
}

#[tokio::test]
async fn the_watch_moves_down_as_directories_appear_and_back_up_when_removed() {
    let home = tempfile::tempdir().unwrap();
    let st = state(home.path());
    let root = home.path().to_path_buf();
    let file = root.join("a/b/config.yaml");
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut a = Arming::new(file.clone(), tx);
    let waiting = |ancestor: &Path| WatchState::Waiting {
        ancestor: ancestor.to_owned(),
        dir: root.join("a/b"),
        file: file.clone(),
    };
    let watching = WatchState::Watching {
        dir: root.join("a/b"),
        file: file.clone(),
    };

    assert!(!a.rearm(&st));
    assert_eq!(st.watch_state(), waiting(&root));
    assert_eq!(
        st.watch_state().to_string(),
        format!(
            "watching {} until {} appears",
            root.display(),
            root.join("a/b").display()
        )
    );
    std::fs::create_dir(root.join("a")).unwrap();
    assert!(!a.rearm(&st));
    assert_eq!(st.watch_state(), waiting(&root.join("a")));
    std::fs::create_dir(root.join("a/b")).unwrap();
    assert!(a.rearm(&st), "the directory appeared");
    assert_eq!(st.watch_state(), watching);
    assert!(!a.rearm(&st), "nothing moved");

    // Removed and made again (the inode number may well be the same): the event that says
    // the watched directory is gone makes the next arming start afresh.
    std::fs::remove_dir(root.join("a/b")).unwrap();
    std::fs::create_dir(root.join("a/b")).unwrap();
    let gone = a.classify(&ev(
        EventKind::Remove(RemoveKind::Folder),
        &root.join("a/b"),
    ));
    assert!(gone.lost && gone.chain && !gone.file, "{gone:?}");
    a.forget();
    assert!(a.rearm(&st));
    assert_eq!(st.watch_state(), watching);

    std::fs::remove_dir_all(root.join("a")).unwrap();
    assert!(!a.rearm(&st));
    assert_eq!(st.watch_state(), waiting(&root));
}

/// Waits for the next reload request from the watcher.
async fn next_reload(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    within: Duration,
) -> Option<oneshot::Sender<ReloadOutcome>> {
    match tokio::time::timeout(within, rx.recv()).await {
        Ok(Some(Event::Reload {
            source: "file change",
            reply: Some(r),
        })) => Some(r),
        Ok(Some(_)) => panic!("unexpected event"),
        _ => None,
    }
}

fn applied() -> ReloadOutcome {
    ReloadOutcome::Planned {
        report: Default::default(),
        config_path: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_writes_reload_within_the_maximum_delay_and_the_last_write_wins() {
    let home = tempfile::tempdir().unwrap();
    let st = state(home.path());
    let file = home.path().join("config.yaml");
    std::fs::write(&file, "log: { level: info }\n").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _w = spawn(Some(file.clone()), tx, Arc::clone(&st));
    assert_eq!(
        st.watch_state(),
        WatchState::Watching {
            dir: home.path().to_owned(),
            file: file.clone()
        }
    );

    // Writes every 60 ms never leave the quiet time: only the maximum delay fires.
    let writer = {
        let file = file.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                std::fs::write(&file, format!("# {i}\nlog: {{ level: info }}\n")).unwrap();
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        })
    };
    let first = Instant::now();
    let reply = next_reload(&mut rx, Duration::from_secs(3))
        .await
        .expect("a reload while the writes go on");
    let waited = first.elapsed();
    assert!(
        waited < MAX_DELAY + Duration::from_millis(400),
        "{waited:?}"
    );
    // While that reload runs, no second one is asked for.
    assert!(
        next_reload(&mut rx, Duration::from_millis(700))
            .await
            .is_none()
    );
    reply.send(applied()).unwrap();
    // The writes that came meanwhile are one more reload, at once.
    let again = Instant::now();
    let reply = next_reload(&mut rx, Duration::from_millis(600))
        .await
        .expect("the writes during the reload are reloaded too");
    assert!(again.elapsed() < Duration::from_millis(500));
    reply.send(applied()).unwrap();
    writer.await.unwrap();
    // After the last write: one last reload, then quiet.
    let mut last = None;
    while let Some(r) = next_reload(&mut rx, Duration::from_millis(1500)).await {
        r.send(applied()).unwrap();
        last = Some(Instant::now());
    }
    assert!(last.is_some(), "the last write is reloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_made_after_the_start_is_watched_and_its_file_reloaded() {
    let home = tempfile::tempdir().unwrap();
    let st = state(home.path());
    let file = home.path().join("cfg/shim/config.yaml");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _w = spawn(Some(file.clone()), tx, Arc::clone(&st));
    assert!(matches!(st.watch_state(), WatchState::Waiting { .. }));
    assert!(
        next_reload(&mut rx, Duration::from_millis(300))
            .await
            .is_none()
    );
    // Directory and file in one go, faster than the watch can follow.
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "log: { level: debug }\n").unwrap();
    let r = next_reload(&mut rx, Duration::from_secs(3))
        .await
        .expect("the new file is reloaded");
    r.send(applied()).unwrap();
    assert_eq!(
        st.watch_state(),
        WatchState::Watching {
            dir: home.path().join("cfg/shim"),
            file: file.clone()
        }
    );
    std::fs::write(&file, "log: { level: warn }\n").unwrap();
    let r = next_reload(&mut rx, Duration::from_secs(3))
        .await
        .expect("a later edit is reloaded");
    r.send(applied()).unwrap();

    // The directory removed and made again with a new file: still watched, still reloaded.
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    while let Some(r) = next_reload(&mut rx, Duration::from_millis(500)).await {
        r.send(applied()).unwrap();
    }
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "log: { level: error }\n").unwrap();
    let r = next_reload(&mut rx, Duration::from_secs(3))
        .await
        .expect("the file in the new directory is reloaded");
    r.send(applied()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&file, "log: { level: warn }\n").unwrap();
    let r = next_reload(&mut rx, Duration::from_secs(3))
        .await
        .expect("and so is its next edit");
    r.send(applied()).unwrap();
    assert_eq!(
        st.watch_state(),
        WatchState::Watching {
            dir: home.path().join("cfg/shim"),
            file
        }
    );
}

#[test]
fn no_path_means_no_watch_and_says_why() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let home = tempfile::tempdir().unwrap();
        let st = state(home.path());
        let (tx, _rx) = mpsc::unbounded_channel();
        let _w = spawn(None, tx, Arc::clone(&st));
        let s = st.watch_state().to_string();
        assert!(s.starts_with("not watching: no config file path"), "{s}");
    });
}
