//! The edit `codex-config --write` makes to the text of one Codex config file. Pure.
//!
//! `toml_edit` keeps everything it does not touch byte for byte (comments, blank lines, key
//! order, quoting), and a value that already equals ours is not touched at all, so running
//! the edit on its own output changes nothing.

use std::fmt;

use toml_edit::{Document, DocumentMut, Item, Table, TableLike, Value};

use super::explain::{TomlProblem, explain};
use super::setup::{Provider, Selection, line_of};

/// Keys that only mean something at the top level of a file (a profile file too). Appended
/// below a `[table]` they silently belong to that table.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "model",
    "model_provider",
    "model_catalog_json",
    "model_context_window",
    "model_auto_compact_token_limit",
];

/// Codex tables that never hold a key of [`TOP_LEVEL_KEYS`] (the first part of the table's
/// name). Such a key there was meant for the top level; `--write` removes it. Other tables (`[profiles.x]`, tables of newer Codex versions) are
/// left alone.
pub const NEVER_THERE: &[&str] = &[
    "model_providers",
    "mcp_servers",
    "features",
    "analytics",
    "tui",
    "history",
    "otel",
    "sandbox_workspace_write",
    "shell_environment_policy",
    "projects",
    "notice",
    "tools",
    "windows",
];

/// Comment above a provider table `--write` creates.
const PROVIDER_COMMENT: &str = "# deepinfra-shim (`shimctl codex-config --write`). Never name this provider \"OpenAI\":\n\
# Codex then uses OpenAI-only remote compaction, which the shim cannot serve.\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Updated,
    Removed,
}

/// One line of what `--write` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// E.g. `model = "x" (was "gpt-5.5")`, `[model_providers.deepinfra] (name, base_url, …)`.
    pub what: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.kind {
            ChangeKind::Added => "added",
            ChangeKind::Updated => "updated",
            ChangeKind::Removed => "removed",
        };
        write!(f, "{verb:<8} {}", self.what)
    }
}

/// The edited text and what changed (empty: `text` is the input, unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    pub changes: Vec<Change>,
}

/// Why a file is left alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Parse(TomlProblem),
    #[error("line {line}: `{key}` is not a table (Codex expects `[{key}]`); fix or remove it")]
    NotATable { key: String, line: usize },
}

/// A key of [`TOP_LEVEL_KEYS`] found under a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// The table's dotted name, e.g. `projects."/home/u/src"` parts joined: `projects./home/u/src`.
    pub table: Vec<String>,
    pub key: String,
    /// The value as written.
    pub value: String,
    pub line: usize,
    /// The table is one of [`NEVER_THERE`].
    pub certain: bool,
}

impl Misplaced {
    /// `[features]`, `[projects."/home/u"]`.
    pub fn table_display(&self) -> String {
        format!("[{}]", dotted(&self.table))
    }
}

/// `a.b` with parts quoted where TOML needs it.
pub fn dotted(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| {
            if !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                p.clone()
            } else {
                format!("{:?}", p)
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Adds or updates `provider`'s table and/or the `selection` keys at the top level of `text`.
pub fn merge(
    text: &str,
    provider: Option<&Provider>,
    selection: Option<&Selection>,
) -> Result<Merged, Refusal> {
    // Blank lines alone would end up after everything written.
    let source = if text.trim().is_empty() { "" } else { text };
    let parsed = Document::parse(source).map_err(|e| Refusal::Parse(explain(text, &e)))?;
    if let Some(p) = provider {
        refuse_non_tables(&parsed, source, &p.id)?;
    }
    let misplaced = misplaced_keys(&parsed, source);
    let mut doc = parsed.into_mut();
    let mut changes = Vec::new();
    if let Some(p) = provider {
        merge_provider(&mut doc, p, &mut changes);
    }
    if let Some(s) = selection {
        let had_top_level_values = doc.iter().any(|(_, item)| item.is_value());
        let mut set = vec![
            ("model", Want::Str(&s.model)),
            ("model_provider", Want::Str(&s.provider)),
        ];
        if let Some(c) = &s.catalog {
            set.push(("model_catalog_json", Want::Str(c)));
        }
        if let Some(w) = s.context_window {
            set.push(("model_context_window", Want::Int(w as i64)));
        }
        for (key, want) in &set {
            if let Some(c) = ensure(doc.as_table_mut(), key, want, key) {
                changes.push(c);
            }
        }
        if !had_top_level_values {
            separate_header_comment(&mut doc);
        }
    }
    // Where these keys are, Codex ignores them (or, with --strict-config, refuses the
    // file): removing them changes nothing Codex does, and the line says what they held.
    for m in misplaced.iter().filter(|m| m.certain) {
        if remove_at(doc.as_table_mut(), &m.table, &m.key) {
            changes.push(Change {
                kind: ChangeKind::Removed,
                what: format!(
                    "{}.{} = {} (line {}: a top-level key that had landed under {})",
                    dotted(&m.table),
                    m.key,
                    m.value,
                    m.line,
                    m.table_display()
                ),
            });
        }
    }
    if changes.is_empty() {
        return Ok(Merged {
            text: text.to_owned(),
            changes,
        });
    }
    let mut out = doc.to_string();
    if source.is_empty() {
        out = out.trim_start_matches('\n').to_owned();
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(Merged { text: out, changes })
}

/// The model of `text`'s top level when its `model_provider` is `provider_id` (the model
/// the user picked for this provider, kept when `--model` is not given).
/// A block appended with `>>` left both keys under the file's last table: that pair counts
/// too when the top level selects no provider.
pub fn current_model(text: &str, provider_id: &str) -> Option<String> {
    let doc = Document::parse(text).ok()?;
    let pick = |t: &dyn TableLike| {
        (t.get("model_provider")?.as_str()? == provider_id)
            .then(|| t.get("model")?.as_str().map(str::to_owned))
            .flatten()
    };
    if doc.contains_key("model_provider") {
        return pick(doc.as_table());
    }
    misplaced_keys(&doc, text)
        .iter()
        .filter(|m| m.certain && m.key == "model_provider")
        .find_map(|m| {
            let mut t: &dyn TableLike = doc.as_table();
            for part in &m.table {
                t = t.get(part)?.as_table_like()?;
            }
            pick(t)
        })
}

/// The line of a legacy `[profiles.<name>]` table (0 when it is written inline or dotted).
pub fn legacy_profile_line(text: &str, name: &str) -> Option<usize> {
    let doc = Document::parse(text).ok()?;
    let profiles = doc.get("profiles")?.as_table_like()?;
    let item = profiles.get(name)?;
    Some(
        item.as_table()
            .and_then(Table::span)
            .map_or(0, |s| line_of(text, s.start)),
    )
}

enum Want<'a> {
    Str(&'a str),
    Int(i64),
}

impl Want<'_> {
    fn matches(&self, item: &Item) -> bool {
        match self {
            Want::Str(s) => item.as_str() == Some(*s),
            Want::Int(i) => item.as_integer() == Some(*i),
        }
    }
    fn value(&self) -> Value {
        match self {
            Want::Str(s) => Value::from(*s),
            Want::Int(i) => Value::from(*i),
        }
    }
}

/// Sets `key` in `table` unless it already has that value; keeps the old value's comment.
/// `shown` is the key's full name for the change line.
fn ensure(table: &mut dyn TableLike, key: &str, want: &Want<'_>, shown: &str) -> Option<Change> {
    let mut value = want.value();
    match table.get_mut(key) {
        Some(item) if want.matches(item) => None,
        Some(item) => {
            let was = match item.as_value() {
                Some(old) => {
                    *value.decor_mut() = old.decor().clone();
                    bare(old)
                }
                None => format!("a {}", item.type_name()),
            };
            let now = bare(&value);
            *item = Item::Value(value);
            Some(Change {
                kind: ChangeKind::Updated,
                what: format!("{shown} = {now} (was {was})"),
            })
        }
        None => {
            let now = bare(&value);
            table.insert(key, Item::Value(value));
            Some(Change {
                kind: ChangeKind::Added,
                what: format!("{shown} = {now}"),
            })
        }
    }
}

/// A value as written, without its surrounding spaces and comment.
fn bare(v: &Value) -> String {
    let mut v = v.clone();
    v.decor_mut().clear();
    v.to_string()
}

fn provider_values(p: &Provider) -> [(&'static str, Want<'_>, bool); 7] {
    // (key, value, overwrite a different value). The retry counts are Codex's defaults,
    // written for people to see; a count the user chose is theirs.
    [
        ("name", Want::Str(&p.name), true),
        ("base_url", Want::Str(&p.base_url), true),
        ("env_key", Want::Str(&p.env_key), true),
        ("wire_api", Want::Str("responses"), true),
        (
            "stream_idle_timeout_ms",
            Want::Int(p.stream_idle_timeout_ms as i64),
            true,
        ),
        (
            "request_max_retries",
            Want::Int(i64::from(p.request_max_retries)),
            false,
        ),
        (
            "stream_max_retries",
            Want::Int(i64::from(p.stream_max_retries)),
            false,
        ),
    ]
}

fn merge_provider(doc: &mut DocumentMut, p: &Provider, changes: &mut Vec<Change>) {
    let root = doc.as_table_mut();
    if !root.contains_key("model_providers") {
        let mut parent = Table::new();
        parent.set_implicit(true);
        root.insert("model_providers", Item::Table(parent));
    }
    let Some(providers) = root
        .get_mut("model_providers")
        .and_then(Item::as_table_like_mut)
    else {
        return; // refused before: not a table
    };
    match providers.get_mut(&p.id).and_then(Item::as_table_like_mut) {
        Some(table) => {
            for (key, want, overwrite) in provider_values(p) {
                if !overwrite && table.contains_key(key) {
                    continue;
                }
                let shown = format!("model_providers.{}.{key}", p.id);
                if let Some(c) = ensure(table, key, &want, &shown) {
                    changes.push(c);
                }
            }
        }
        None => {
            let mut table = Table::new();
            let values = provider_values(p);
            for (key, want, _) in &values {
                table.insert(key, Item::Value(want.value()));
            }
            table
                .decor_mut()
                .set_prefix(format!("\n{PROVIDER_COMMENT}"));
            providers.insert(&p.id, Item::Table(table));
            let keys: Vec<&str> = values.iter().map(|(k, _, _)| *k).collect();
            changes.push(Change {
                kind: ChangeKind::Added,
                what: format!("[model_providers.{}] ({})", p.id, keys.join(", ")),
            });
        }
    }
}

/// `model_providers` and `model_providers.<id>` must be tables for the edit to make sense.
fn refuse_non_tables(doc: &Document<&str>, text: &str, id: &str) -> Result<(), Refusal> {
    let line_of_key = |t: &dyn TableLike, k: &str| {
        t.key(k)
            .and_then(|k| k.span())
            .map_or(0, |s| line_of(text, s.start))
    };
    let Some(item) = doc.get("model_providers") else {
        return Ok(());
    };
    let Some(providers) = item.as_table_like() else {
        return Err(Refusal::NotATable {
            key: "model_providers".to_owned(),
            line: line_of_key(doc.as_table(), "model_providers"),
        });
    };
    match providers.get(id) {
        Some(p) if !p.is_table_like() => Err(Refusal::NotATable {
            key: format!("model_providers.{id}"),
            line: line_of_key(providers, id),
        }),
        _ => Ok(()),
    }
}

/// Every key of [`TOP_LEVEL_KEYS`] under a table other than `[profiles.*]`.
pub fn misplaced_keys<S: AsRef<str>>(doc: &Document<S>, text: &str) -> Vec<Misplaced> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(doc.as_table(), &mut path, text, &mut out);
    out
}

fn walk(table: &Table, path: &mut Vec<String>, text: &str, out: &mut Vec<Misplaced>) {
    for (key, item) in table.iter() {
        match item {
            Item::Table(t) => {
                if path.is_empty() && key == "profiles" {
                    continue;
                }
                path.push(key.to_owned());
                walk(t, path, text, out);
                path.pop();
            }
            Item::ArrayOfTables(a) => {
                path.push(key.to_owned());
                for t in a.iter() {
                    walk(t, path, text, out);
                }
                path.pop();
            }
            Item::Value(v) if !path.is_empty() && TOP_LEVEL_KEYS.contains(&key) => {
                let line = table
                    .key(key)
                    .and_then(|k| k.span())
                    .map_or(0, |s| line_of(text, s.start));
                out.push(Misplaced {
                    table: path.clone(),
                    key: key.to_owned(),
                    value: bare(v),
                    line,
                    certain: NEVER_THERE.contains(&path[0].as_str()),
                });
            }
            _ => {}
        }
    }
}

/// Removes `key` from the table at `path`; a comment above it moves to the next key.
fn remove_at(root: &mut Table, path: &[String], key: &str) -> bool {
    let mut table: &mut dyn TableLike = root;
    for part in path {
        match table.get_mut(part).and_then(Item::as_table_like_mut) {
            Some(t) => table = t,
            None => return false,
        }
    }
    let comment = table
        .key(key)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('#'))
        .map(str::to_owned);
    let next = {
        let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
        keys.iter()
            .position(|k| k == key)
            .and_then(|i| keys.get(i + 1).cloned())
    };
    if table.remove(key).is_none() {
        return false;
    }
    if let (Some(comment), Some(next)) = (comment, next)
        && let Some(mut k) = table.key_mut(&next)
    {
        let old = k
            .leaf_decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_owned();
        k.leaf_decor_mut().set_prefix(format!("{comment}{old}"));
    }
    true
}

/// Top-level keys were added to a file that had only tables: they are printed above the
/// first table's comment. A comment paragraph that ends in a blank line is the file's own
/// header and stays on top; the rest stays with the table, after a blank line.
fn separate_header_comment(doc: &mut DocumentMut) {
    let Some(first) = first_table_mut(doc.as_table_mut()) else {
        return;
    };
    let prefix = first
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    let (head, tail) = match prefix.rfind("\n\n") {
        Some(i) if prefix[..i].contains('#') => {
            (prefix[..=i].to_owned(), prefix[i + 1..].to_owned())
        }
        _ => (String::new(), prefix.clone()),
    };
    let tail = if tail.starts_with('\n') {
        tail
    } else {
        format!("\n{tail}")
    };
    first.decor_mut().set_prefix(tail);
    let first_key = doc
        .as_table()
        .iter()
        .find(|(_, item)| item.is_value())
        .map(|(k, _)| k.to_owned());
    if !head.is_empty()
        && let Some(key) = first_key
        && let Some(mut k) = doc.as_table_mut().key_mut(&key)
    {
        k.leaf_decor_mut().set_prefix(format!("{head}\n"));
    }
}

/// The table whose header comes first in the file.
fn first_table_mut(root: &mut Table) -> Option<&mut Table> {
    fn min_pos(t: &Table, best: &mut Option<isize>) {
        for (_, item) in t.iter() {
            let tables: Vec<&Table> = match item {
                Item::Table(t) => vec![t],
                Item::ArrayOfTables(a) => a.iter().collect(),
                _ => continue,
            };
            for t in tables {
                if !t.is_implicit()
                    && !t.is_dotted()
                    && let Some(p) = t.position()
                {
                    *best = Some(best.map_or(p, |b| b.min(p)));
                }
                min_pos(t, best);
            }
        }
    }
    fn find(t: &mut Table, pos: isize) -> Option<&mut Table> {
        for (_, item) in t.iter_mut() {
            let tables: Vec<&mut Table> = match item {
                Item::Table(t) => vec![t],
                Item::ArrayOfTables(a) => a.iter_mut().collect(),
                _ => continue,
            };
            for t in tables {
                if !t.is_implicit() && !t.is_dotted() && t.position() == Some(pos) {
                    return Some(t);
                }
                if let Some(found) = find(t, pos) {
                    return Some(found);
                }
            }
        }
        None
    }
    let mut best = None;
    min_pos(root, &mut best);
    find(root, best?)
}
