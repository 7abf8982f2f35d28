//! What is wrong with Codex's config files, for `shimctl doctor` (and after `--write`).
//!
//! Pure: the files' text comes in, and catalog files are read through the function the caller
//! passes. Each finding is one line with its severity and its fix. Codex is run with
//! config.toml alone (`codex`) or with a profile file over it (`codex --profile NAME`); every
//! such selection that points at this daemon is checked as Codex would see it.

use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, TableLike};

use super::catalog_file;
use super::explain::explain;
use super::merge::{TOP_LEVEL_KEYS, misplaced_keys};
use super::setup::{config_path, line_of, profile_path};
use crate::control::codex_config::{PROVIDER_ID, normalize_url};

/// Providers built into Codex (a `[model_providers.<id>]` may not reuse these ids).
pub const BUILT_IN_PROVIDERS: &[&str] = &["openai", "ollama", "lmstudio"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Codex will not start, or will not use this daemon as intended.
    Fail,
    /// It works, but not as well as it could, or something looks accidental.
    Warn,
}

/// One problem: where, what, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The file, as given (e.g. `/home/u/.codex/config.toml`).
    pub file: String,
    /// One line; says the line number where there is one.
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.file, self.message, self.fix)
    }
}

/// A way of running Codex that reaches this daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// `None`: plain `codex`; `Some(name)`: `codex --profile name`.
    pub profile: Option<String>,
    pub provider: String,
    pub model: Option<String>,
    pub env_key: Option<String>,
    /// The catalog file, resolved.
    pub catalog: Option<PathBuf>,
}

impl Use {
    /// `model_provider` or `profile NAME`.
    pub fn selected_by(&self) -> String {
        match &self.profile {
            None => "model_provider".to_owned(),
            Some(p) => format!("profile {p}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub uses: Vec<Use>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Fail)
    }
}

/// Codex's files as text.
#[derive(Debug, Clone)]
pub struct Files<'a> {
    /// Codex's directory (`CODEX_HOME`): relative catalog paths are resolved against it.
    pub dir: &'a Path,
    /// config.toml; `None` when it does not exist.
    pub main: Option<&'a str>,
    /// `(NAME, text)` of each `NAME.config.toml`.
    pub profiles: Vec<(&'a str, &'a str)>,
}

type Doc = Document<String>;

/// A value found in one of the layers, and where.
struct Found<'d> {
    item: &'d Item,
    file: String,
    line: usize,
}

/// Runs every check against the daemon at `base_url` (`http://host:port/v1`).
pub fn check(
    files: &Files<'_>,
    base_url: &str,
    read_catalog: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Report {
    let mut r = Report::default();
    let main_file = config_path(files.dir).display().to_string();
    let main_text = files.main.unwrap_or("");
    let Some(main) = parse(&main_file, main_text, &mut r) else {
        return r;
    };
    file_checks(&main, &main_file, main_text, &mut r);
    let mut profiles = Vec::new();
    for (name, text) in &files.profiles {
        let file = profile_path(files.dir, name).display().to_string();
        if let Some(doc) = parse(&file, text, &mut r) {
            file_checks(&doc, &file, text, &mut r);
            profiles.push((*name, file, *text, doc));
        }
    }
    legacy_checks(&main, &main_file, main_text, &profiles, &mut r);

    let want = normalize_url(base_url);
    let main_layer = Layer {
        doc: &main,
        file: &main_file,
        text: main_text,
    };
    let mut selections = vec![(None, vec![main_layer])];
    for (name, file, text, doc) in &profiles {
        // A profile that changes nothing about the model or provider is plain `codex` again.
        let selects = TOP_LEVEL_KEYS.iter().any(|k| doc.contains_key(k))
            || doc.contains_key("model_providers");
        if !selects {
            continue;
        }
        let over = Layer { doc, file, text };
        selections.push((Some(*name), vec![over, main_layer]));
    }
    let mut pointed_elsewhere = false;
    for (profile, layers) in &selections {
        let scope = match profile {
            None => main_file.clone(),
            Some(p) => format!("{} (profile {p})", layers[0].file),
        };
        let provider = get(layers, &["model_provider"]);
        let id = provider
            .as_ref()
            .and_then(|f| f.item.as_str())
            .unwrap_or("openai")
            .to_owned();
        let url = get(layers, &["model_providers", &id, "base_url"]);
        let url = url.as_ref().and_then(|f| f.item.as_str());
        let defined = get(layers, &["model_providers", &id]).is_some();
        if !defined && !BUILT_IN_PROVIDERS.contains(&id.as_str()) {
            let f = provider.as_ref();
            r.findings.push(Finding {
                severity: Severity::Fail,
                file: f.map_or(scope.clone(), |f| f.file.clone()),
                message: format!(
                    "line {}: model_provider = {:?} names no provider: Codex stops with \
                     \"Model provider `{id}` not found\"",
                    f.map_or(0, |f| f.line),
                    id
                ),
                fix: format!(
                    "define [model_providers.{id}] or correct the name (`shimctl codex-config \
                     --write` sets up [model_providers.{PROVIDER_ID}])"
                ),
            });
            continue;
        }
        match url {
            Some(u) if normalize_url(u) == want => {
                let u = selection_checks(layers, *profile, &id, files.dir, read_catalog, &mut r);
                r.uses.push(u);
            }
            // Ours by name, or another local address: meant for this daemon. (A profile
            // that only inherits config.toml's provider was reported with config.toml.)
            Some(u)
                if (profile.is_none()
                    || provider.as_ref().is_some_and(|p| p.file == *layers[0].file))
                    && (id == PROVIDER_ID || is_loopback(u)) =>
            {
                pointed_elsewhere = true;
                r.findings.push(Finding {
                    severity: Severity::Fail,
                    file: scope.clone(),
                    message: format!(
                        "provider '{id}' (selected) points at {u}, not at this daemon \
                             ({base_url})"
                    ),
                    fix: format!(
                        "`shimctl codex-config --write{}` (or set base_url = {:?} in \
                             [model_providers.{id}])",
                        profile
                            .map(|p| format!(" --profile {p}"))
                            .unwrap_or_default(),
                        base_url
                    ),
                });
            }
            _ => {}
        }
    }
    if r.uses.is_empty() && !pointed_elsewhere && !r.failed() {
        r.findings.push(nothing_selects_us(
            &main, &main_file, files, &want, base_url,
        ));
    }
    r
}

#[derive(Clone, Copy)]
struct Layer<'a> {
    doc: &'a Doc,
    file: &'a str,
    text: &'a str,
}

/// The first layer that has `path` (a profile file wins over config.toml).
fn get<'d>(layers: &[Layer<'d>], path: &[&str]) -> Option<Found<'d>> {
    layers.iter().find_map(|l| {
        let mut table: &dyn TableLike = l.doc.as_table();
        let (last, parents) = path.split_last()?;
        for p in parents {
            table = table.get(p)?.as_table_like()?;
        }
        let item = table.get(last)?;
        let line = table
            .key(last)
            .and_then(|k| k.span())
            .map_or(0, |s| line_of(l.text, s.start));
        Some(Found {
            item,
            file: l.file.to_owned(),
            line,
        })
    })
}

fn parse(file: &str, text: &str, r: &mut Report) -> Option<Doc> {
    match Document::parse(text.to_owned()) {
        Ok(d) => Some(d),
        Err(e) => {
            let p = explain(text, &e);
            r.findings.push(Finding {
                severity: Severity::Fail,
                file: file.to_owned(),
                message: format!("not valid TOML, Codex refuses to start: {}", p.message),
                fix: p.fix,
            });
            None
        }
    }
}

/// Checks of one file on its own: misplaced keys, provider tables.
fn file_checks(doc: &Doc, file: &str, text: &str, r: &mut Report) {
    for m in misplaced_keys(doc, text) {
        let at_top = doc.get(&m.key).is_some();
        r.findings.push(Finding {
            severity: if at_top || !m.certain {
                Severity::Warn
            } else {
                Severity::Fail
            },
            file: file.to_owned(),
            message: format!(
                "line {}: `{}` is under {}, so Codex does not read it as the top-level setting{}",
                m.line,
                m.key,
                m.table_display(),
                if at_top {
                    " (the file also has one at the top)"
                } else {
                    ""
                }
            ),
            fix: format!(
                "move it above the first [table] (top-level keys must come before any table), \
                 or delete it{}",
                if m.certain {
                    " (`shimctl codex-config --write` removes it and sets up the top level)"
                } else {
                    ""
                }
            ),
        });
    }
    let Some(providers) = doc.get("model_providers").and_then(Item::as_table_like) else {
        return;
    };
    for (id, p) in providers.iter() {
        if BUILT_IN_PROVIDERS.contains(&id) {
            r.findings.push(Finding {
                severity: Severity::Fail,
                file: file.to_owned(),
                message: format!(
                    "[model_providers.{id}] reuses the id of a provider built into Codex, which \
                     refuses to start with it"
                ),
                fix: format!("rename the table (e.g. [model_providers.{id}-custom])"),
            });
        }
        let name = p
            .as_table_like()
            .and_then(|t| t.get("name"))
            .and_then(Item::as_str);
        if name.is_some_and(|n| n.trim().eq_ignore_ascii_case("openai")) {
            r.findings.push(Finding {
                severity: Severity::Fail,
                file: file.to_owned(),
                message: format!(
                    "provider '{id}' is named \"OpenAI\": Codex then uses OpenAI-only protocols \
                     (remote compaction) that a Chat Completions provider cannot serve"
                ),
                fix: format!(
                    "rename it, e.g. name = {:?}",
                    crate::control::codex_config::PROVIDER_NAME
                ),
            });
        }
    }
}

/// `profile = "x"` and `[profiles.x]` in config.toml, which Codex 0.134 and later no longer
/// read (and sometimes refuse).
fn legacy_checks(
    main: &Doc,
    file: &str,
    text: &str,
    profiles: &[(&str, String, &str, Doc)],
    r: &mut Report,
) {
    if let Some(sel) = main.get("profile").and_then(Item::as_str) {
        let line = main
            .key("profile")
            .and_then(|k| k.span())
            .map_or(0, |s| line_of(text, s.start));
        r.findings.push(Finding {
            severity: Severity::Fail,
            file: file.to_owned(),
            message: format!(
                "line {line}: profile = {sel:?} is no longer supported: Codex refuses to start"
            ),
            fix: format!(
                "delete the line; put the profile's settings in {sel}.config.toml next to \
                 config.toml and run `codex --profile {sel}`"
            ),
        });
    }
    let Some(legacy) = main.get("profiles").and_then(Item::as_table_like) else {
        return;
    };
    for (name, table) in legacy.iter() {
        let line = legacy
            .key(name)
            .and_then(|k| k.span())
            .map_or(0, |s| line_of(text, s.start));
        let has_file = profiles.iter().any(|(n, ..)| *n == name);
        let ours = table
            .as_table_like()
            .and_then(|t| t.get("model_provider"))
            .and_then(Item::as_str)
            .is_some();
        if !has_file && !ours {
            continue;
        }
        r.findings.push(Finding {
            severity: if has_file {
                Severity::Fail
            } else {
                Severity::Warn
            },
            file: file.to_owned(),
            message: if has_file {
                format!(
                    "line {line}: [profiles.{name}] is a legacy profile table: `codex --profile \
                     {name}` refuses to start while it exists"
                )
            } else {
                format!(
                    "line {line}: [profiles.{name}] is a legacy profile table, which Codex no \
                     longer reads"
                )
            },
            fix: format!(
                "move its keys (as top-level keys) into {name}.config.toml next to config.toml \
                 and delete the table"
            ),
        });
    }
}

/// The checks of one way of running Codex that reaches this daemon.
fn selection_checks(
    layers: &[Layer<'_>],
    profile: Option<&str>,
    id: &str,
    dir: &Path,
    read_catalog: &dyn Fn(&Path) -> std::io::Result<String>,
    r: &mut Report,
) -> Use {
    let scope = layers[0].file.to_owned();
    let write_cmd = format!(
        "shimctl codex-config --write{}",
        profile
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default()
    );
    let str_at = |path: &[&str]| {
        get(layers, path).and_then(|f| f.item.as_str().map(|s| (s.to_owned(), f.file, f.line)))
    };
    let wire = str_at(&["model_providers", id, "wire_api"]);
    if wire.as_ref().map(|w| w.0.as_str()) != Some("responses") {
        r.findings.push(Finding {
            severity: Severity::Fail,
            file: scope.clone(),
            message: format!(
                "provider '{id}' has wire_api = {}; the daemon speaks only the Responses API",
                wire.as_ref()
                    .map_or("(unset)".to_owned(), |w| format!("{:?}", w.0))
            ),
            fix: format!("set wire_api = \"responses\" in [model_providers.{id}]"),
        });
    }
    let model = str_at(&["model"]).map(|m| m.0);
    if model.is_none() {
        r.findings.push(Finding {
            severity: Severity::Fail,
            file: scope.clone(),
            message: "no `model` is set: Codex would ask the daemon for its default OpenAI model"
                .to_owned(),
            fix: format!("`{write_cmd} --model MODEL` (a model the daemon serves)"),
        });
    }
    let window = get(layers, &["model_context_window"]).map(|f| (f.file, f.line));
    let catalog = str_at(&["model_catalog_json"]).map(|(p, file, line)| {
        let path = Path::new(&p);
        let abs = if path.is_absolute() {
            path.to_owned()
        } else {
            dir.join(path)
        };
        (abs, file, line)
    });
    let regenerate = format!("`{write_cmd} --catalog PATH` writes it again");
    match (&catalog, &model) {
        (None, Some(m)) => r.findings.push(Finding {
            severity: Severity::Warn,
            file: scope.clone(),
            message: format!(
                "no model_catalog_json: Codex knows nothing about {m} (no apply_patch tool{})",
                if window.is_none() {
                    "; it compacts only near 245k tokens, after most models overflow"
                } else {
                    ""
                }
            ),
            fix: format!("`{write_cmd} --catalog ~/.codex/deepinfra-models.json`"),
        }),
        (Some((path, file, line)), _) => {
            let shown = path.display();
            let at = format!("model_catalog_json (line {line}) = {shown}");
            match read_catalog(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => r.findings.push(Finding {
                    severity: Severity::Fail,
                    file: file.clone(),
                    message: format!("{at} does not exist: Codex stops at start"),
                    fix: format!("{regenerate}, or delete the line"),
                }),
                Err(e) => r.findings.push(Finding {
                    severity: Severity::Fail,
                    file: file.clone(),
                    message: format!("{at} cannot be read: {e}"),
                    fix: "check the file's permissions".to_owned(),
                }),
                Ok(text) => match catalog_file::parse(&text) {
                    Err(e) => r.findings.push(Finding {
                        severity: Severity::Fail,
                        file: file.clone(),
                        message: format!("{at} is not a catalog Codex accepts: {e}"),
                        fix: regenerate.clone(),
                    }),
                    Ok(cat) => {
                        if let Some(m) = &model
                            && cat.entry_for(m).is_none()
                        {
                            r.findings.push(Finding {
                                severity: Severity::Fail,
                                file: file.clone(),
                                message: format!(
                                    "{at} does not describe {m}: Codex falls back to generic \
                                     metadata (no apply_patch, a ~272k window)"
                                ),
                                fix: format!("`{write_cmd} --model {m} --catalog {shown}`"),
                            });
                        }
                    }
                },
            }
            if let Some((wfile, wline)) = &window {
                r.findings.push(Finding {
                    severity: Severity::Warn,
                    file: wfile.clone(),
                    message: format!(
                        "line {wline}: model_context_window overrides the catalog's window for \
                         every model"
                    ),
                    fix: "delete it: the catalog holds each model's window".to_owned(),
                });
            }
        }
        (None, None) => {}
    }
    Use {
        profile: profile.map(str::to_owned),
        provider: id.to_owned(),
        model,
        env_key: str_at(&["model_providers", id, "env_key"]).map(|e| e.0),
        catalog: catalog.map(|c| c.0),
    }
}

/// Nothing runs Codex against the daemon: say what is closest.
fn nothing_selects_us(
    main: &Doc,
    file: &str,
    files: &Files<'_>,
    want: &str,
    base_url: &str,
) -> Finding {
    let pointing = main
        .get("model_providers")
        .and_then(Item::as_table_like)
        .and_then(|ps| {
            ps.iter()
                .find(|(_, p)| {
                    p.as_table_like()
                        .and_then(|t| t.get("base_url"))
                        .and_then(Item::as_str)
                        .is_some_and(|u| normalize_url(u) == want)
                })
                .map(|(id, _)| id.to_owned())
        });
    match (files.main, pointing) {
        (None, _) => Finding {
            severity: Severity::Fail,
            file: file.to_owned(),
            message: "does not exist".to_owned(),
            fix: "`shimctl codex-config --write` creates it".to_owned(),
        },
        (Some(_), Some(id)) => Finding {
            severity: Severity::Fail,
            file: file.to_owned(),
            message: format!("provider '{id}' points at this daemon, but nothing selects it"),
            fix: format!(
                "`shimctl codex-config --write` (selects it in config.toml) or `… --write \
                 --profile NAME` (for `codex --profile NAME`); or set model_provider = {id:?} at \
                 the top"
            ),
        },
        (Some(_), None) => Finding {
            severity: Severity::Fail,
            file: file.to_owned(),
            message: format!("no Codex provider points at this daemon ({base_url})"),
            fix: "`shimctl codex-config --write` adds one".to_owned(),
        },
    }
}

fn is_loopback(url: &str) -> bool {
    let n = normalize_url(url);
    n.starts_with("http://127.") || n.starts_with("http://[::1]")
}
