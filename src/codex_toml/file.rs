//! The files behind `codex-config --write` and the doctor's Codex check: reading, a backup
//! of what is replaced, an atomic replace that keeps the file's permissions.
//!
//! Nothing is written unless every file involved parses and the edit changes something; a
//! backup `NAME.bak-YYYYMMDDTHHMMSSZ` is written next to a file before it is replaced (never
//! for a new file, never when nothing changes). A symlinked config (dotfile managers) is
//! edited where the link points, so the link stays.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::checks::{self, Files, Finding, Report};
use super::merge::{self, Change, Refusal};
use super::setup::{Setup, config_path, profile_path, valid_profile_name};
use crate::control::codex_config::PROVIDER_ID;

/// Mode of a config file `--write` creates: it may come to hold a bearer token.
const NEW_FILE_MODE: u32 = 0o600;
/// Mode of a Codex directory `--write` creates (Codex keeps sessions and auth there).
const NEW_DIR_MODE: u32 = 0o700;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {refusal}; nothing was changed", path.display())]
    Refused { path: PathBuf, refusal: Refusal },
    #[error(
        "{}: line {line} has a legacy [profiles.{name}] table, and `codex --profile {name}` \
         refuses to start while it exists; move its keys (as top-level keys) into {} and delete \
         the table, then run this again. Nothing was changed",
        path.display(),
        profile_file.display()
    )]
    LegacyProfile {
        path: PathBuf,
        profile_file: PathBuf,
        name: String,
        line: usize,
    },
    #[error(
        "profile name {0:?}: Codex accepts only letters, digits, `-` and `_`; nothing was changed"
    )]
    BadProfileName(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} changed while shimctl was editing it (Codex writes it too); run this again", path.display())]
    Changed { path: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    pub path: PathBuf,
    /// The file did not exist before.
    pub created: bool,
    pub backup: Option<PathBuf>,
    /// Empty: the file already was as it should be and was not touched.
    pub changes: Vec<Change>,
}

/// What `--write` did, and what the checks say about the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub files: Vec<FileResult>,
    /// Problems the edit does not fix (keys it leaves alone, the catalog's content …).
    pub findings: Vec<Finding>,
}

impl WriteOutcome {
    pub fn changed(&self) -> bool {
        self.files.iter().any(|f| !f.changes.is_empty())
    }

    /// One line per file, one line per change under it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            if f.changes.is_empty() {
                let _ = writeln!(
                    out,
                    "{}: already set up for this daemon; nothing changed (no backup written)",
                    f.path.display()
                );
                continue;
            }
            let _ = writeln!(
                out,
                "{}{}:",
                f.path.display(),
                if f.created { " (created)" } else { "" }
            );
            for c in &f.changes {
                let _ = writeln!(out, "  {c}");
            }
            if let Some(b) = &f.backup {
                let _ = writeln!(out, "  {:<8} {}", "backup", b.display());
            }
        }
        out
    }
}

/// `codex-config --write`: edits config.toml in `dir` (the provider table, and the
/// selection unless `profile` is given) and, with `profile`, `NAME.config.toml` (the
/// selection), then checks the result.
pub fn write(dir: &Path, profile: Option<&str>, setup: &Setup) -> Result<WriteOutcome, WriteError> {
    if let Some(p) = profile
        && !valid_profile_name(p)
    {
        return Err(WriteError::BadProfileName(p.to_owned()));
    }
    let main_path = real_path(&config_path(dir));
    let main_text = read_opt(&main_path)?;
    if let Some(name) = profile
        && let Some(line) = main_text
            .as_deref()
            .and_then(|t| merge::legacy_profile_line(t, name))
    {
        return Err(WriteError::LegacyProfile {
            path: main_path,
            profile_file: profile_path(dir, name),
            name: name.to_owned(),
            line,
        });
    }
    let selection = Some(&setup.selection);
    let mut plans = vec![(
        main_path.clone(),
        main_text.clone(),
        merge::merge(
            main_text.as_deref().unwrap_or(""),
            Some(&setup.provider),
            if profile.is_some() { None } else { selection },
        )
        .map_err(|refusal| WriteError::Refused {
            path: main_path.clone(),
            refusal,
        })?,
    )];
    let mut profile_text = None;
    if let Some(name) = profile {
        let path = real_path(&profile_path(dir, name));
        let text = read_opt(&path)?;
        let merged =
            merge::merge(text.as_deref().unwrap_or(""), None, selection).map_err(|refusal| {
                WriteError::Refused {
                    path: path.clone(),
                    refusal,
                }
            })?;
        profile_text = Some((name, merged.text.clone()));
        plans.push((path, text, merged));
    }

    let mut files = Vec::new();
    for (path, before, merged) in &plans {
        let mut result = FileResult {
            path: path.clone(),
            created: before.is_none(),
            backup: None,
            changes: merged.changes.clone(),
        };
        if !merged.changes.is_empty() {
            result.backup = commit(path, before.as_deref(), &merged.text)?;
        }
        files.push(result);
    }

    let main_after = &plans[0].2.text;
    let report = checks::check(
        &Files {
            dir,
            main: Some(main_after),
            profiles: profile_text
                .as_ref()
                .map(|(n, t)| vec![(*n, t.as_str())])
                .unwrap_or_default(),
        },
        &setup.provider.base_url,
        &|p| std::fs::read_to_string(p),
    );
    Ok(WriteOutcome {
        files,
        findings: report.findings,
    })
}

/// The model the user already picked for our provider (in config.toml, or in the profile
/// file), kept when `--model` is not given.
pub fn current_model(dir: &Path, profile: Option<&str>) -> Option<String> {
    let path = match profile {
        Some(p) if valid_profile_name(p) => profile_path(dir, p),
        Some(_) => return None,
        None => config_path(dir),
    };
    let text = std::fs::read_to_string(real_path(&path)).ok()?;
    merge::current_model(&text, PROVIDER_ID)
}

/// The doctor's check: config.toml and every `NAME.config.toml` in `dir`, against the
/// daemon at `base_url`.
pub fn check_dir(dir: &Path, base_url: &str) -> Result<Report, WriteError> {
    let main_path = config_path(dir);
    let main = read_opt(&main_path)?;
    let mut profiles: Vec<(String, String)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".config.toml")
                && valid_profile_name(stem)
                && let Some(text) = read_opt(&e.path())?
            {
                profiles.push((stem.to_owned(), text));
            }
        }
    }
    profiles.sort();
    Ok(checks::check(
        &Files {
            dir,
            main: main.as_deref(),
            profiles: profiles
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect(),
        },
        base_url,
        &|p| std::fs::read_to_string(p),
    ))
}

/// Where a symlink points (so the link survives the replace); the path itself otherwise.
fn real_path(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).unwrap_or_else(|_| {
            // A dangling link: write where it points.
            std::fs::read_link(path)
                .map(|t| match path.parent() {
                    Some(dir) if t.is_relative() => dir.join(t),
                    _ => t,
                })
                .unwrap_or_else(|_| path.to_owned())
        }),
        _ => path.to_owned(),
    }
}

fn read_opt(path: &Path) -> Result<Option<String>, WriteError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| WriteError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not UTF-8 text (Codex cannot read it either)",
                ),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `text` over `path` (backup of `before` first); returns the backup's path.
fn commit(path: &Path, before: Option<&str>, text: &str) -> Result<Option<PathBuf>, WriteError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(NEW_DIR_MODE)
            .create(dir)
            .map_err(io(dir))?;
    }
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => NEW_FILE_MODE,
    };
    let backup = match before {
        Some(old) => Some(write_backup(path, old, mode)?),
        None => None,
    };
    let name = path.file_name().map_or_else(
        || "config.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.shimctl-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io(&tmp))?;
        // The umask may have taken bits the original had.
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        if read_opt(path)?.as_deref() != before {
            return Err(WriteError::Changed {
                path: path.to_owned(),
            });
        }
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        if let Some(b) = &backup {
            let _ = std::fs::remove_file(b);
        }
    }
    result?;
    Ok(backup)
}

/// `config.toml.bak-20261125T090405Z` (`-2`, `-3` … when that name is taken).
fn write_backup(path: &Path, text: &str, mode: u32) -> Result<PathBuf, WriteError> {
    let stamp: String = crate::control::protocol::rfc3339(std::time::SystemTime::now())
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = format!("{}.bak-{stamp}", path.display());
    for n in 1..100 {
        let candidate = if n == 1 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}-{n}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(io(&candidate))?;
                f.write_all(text.as_bytes()).map_err(io(&candidate))?;
                f.sync_all().map_err(io(&candidate))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&candidate)(e)),
        }
    }
    Err(WriteError::Io {
        path: PathBuf::from(base),
        source: std::io::Error::other("too many backups with this time stamp"),
    })
}
