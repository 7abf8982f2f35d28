use super::*;

#[test]
fn socket_paths() {
    assert!(check_socket_path("/run/user/1000/deepinfra-shim/control.sock").is_ok());
    assert!(check_socket_path("").is_err());
    assert!(check_socket_path(&format!("/{}", "x".repeat(200))).is_err());
}

#[test]
fn control_socket_defaults() {
    let env = Env::from_pairs([("XDG_RUNTIME_DIR", "/run/user/7")]);
    assert_eq!(
        default_control_socket(&env),
        PathBuf::from("/run/user/7/deepinfra-shim/control.sock")
    );
    let env = Env::from_pairs([("TMPDIR", "/var/folders/x/T/")]).with_uid(501);
    assert_eq!(
        default_control_socket(&env),
        PathBuf::from("/var/folders/x/T/deepinfra-shim-501/control.sock")
    );
    let env = Env::from_pairs([("UID", "1000")]);
    assert_eq!(
        default_control_socket(&env),
        PathBuf::from("/tmp/deepinfra-shim-1000/control.sock")
    );
    assert_eq!(
        control_socket_path(Some("/x.sock"), &env),
        PathBuf::from("/x.sock")
    );
    let env = Env::from_pairs([(var::CONTROL_SOCKET, "/e.sock")]);
    assert_eq!(control_socket_path(None, &env), PathBuf::from("/e.sock"));
}

#[test]
fn config_paths_are_absolute_and_say_what_named_them() {
    let env = Env::from_pairs([("HOME", "/home/u")]);
    let (p, origin) = config_path(&Cli::default(), &env);
    assert_eq!(
        p,
        Some(PathBuf::from("/home/u/.config/deepinfra-shim/config.yaml"))
    );
    assert_eq!(origin, None);
    // XDG_CONFIG_HOME only counts when absolute.
    let env = Env::from_pairs([("HOME", "/home/u"), ("XDG_CONFIG_HOME", "rel")]);
    assert_eq!(
        config_path(&Cli::default(), &env).0,
        Some(PathBuf::from("/home/u/.config/deepinfra-shim/config.yaml"))
    );
    let cli = Cli {
        config: Some("relative/c.yaml".into()),
        ..Cli::default()
    };
    let (p, origin) = config_path(&cli, &env);
    let p = p.unwrap();
    assert!(p.is_absolute(), "{}", p.display());
    assert!(p.ends_with("relative/c.yaml"));
    assert_eq!(origin, Some("--config"));
    let env = Env::from_pairs([(var::CONFIG, "/etc/shim.yaml")]);
    assert_eq!(
        config_path(&Cli::default(), &env),
        (Some(PathBuf::from("/etc/shim.yaml")), Some(var::CONFIG))
    );
    assert_eq!(config_path(&Cli::default(), &Env::default()), (None, None));
}

#[cfg(unix)]
#[test]
fn files_writable_by_others_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("conf");
    std::fs::create_dir(&sub).unwrap();
    set(&sub, 0o700);
    let file = sub.join("config.yaml");
    std::fs::write(&file, "log: { level: info }\n").unwrap();

    set(&file, 0o600);
    assert_eq!(permission_warning(&file), None);
    set(&file, 0o644);
    assert_eq!(permission_warning(&file), None, "readable is fine");

    set(&file, 0o666);
    let w = permission_warning(&file).unwrap();
    assert!(w.contains(&file.display().to_string()), "{w}");
    assert!(w.contains("mode 0666"), "{w}");
    assert!(w.contains(&format!("chmod go-w {}", file.display())), "{w}");
    set(&file, 0o620);
    assert!(permission_warning(&file).unwrap().contains("mode 0620"));

    set(&file, 0o600);
    set(&sub, 0o777);
    let w = permission_warning(&file).unwrap();
    assert!(w.starts_with("the directory of the config file"), "{w}");
    assert!(w.contains(&format!("chmod go-w {}", sub.display())), "{w}");
    set(&sub, 0o700);

    assert_eq!(permission_warning(&sub.join("missing.yaml")), None);
}
