//! The configuration reference's key table, generated from [`super::keys`].
//! `docs/configuration.md` ([`DOC`]) holds it between [`BEGIN`] and [`END`]; a test fails when
//! the two disagree (and rewrites the file when run with `DEEPINFRA_SHIM_BLESS=1`).

use super::keys::{self, AnyKey, Meta, Reload};

/// The file that holds the generated table, relative to the repository root.
pub const DOC: &str = "docs/configuration.md";

/// The marker lines around the generated table in [`DOC`].
pub const BEGIN: &str = "<!-- config-keys:begin -->";
pub const END: &str = "<!-- config-keys:end -->";

/// The three tables (top-level keys, keys of a named upstream, keys of a route) in Markdown.
pub fn key_tables() -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- generated from src/config/keys.rs by `cargo test --lib config::docs` \
         (DEEPINFRA_SHIM_BLESS=1 rewrites it); edit the table there -->\n\n",
    );
    out.push_str(&table(keys::TOP, true));
    out.push_str(
        "\nEach entry under `upstreams:` (`upstreams.NAME.KEY`; a reload applies changes):\n\n",
    );
    out.push_str(&table(keys::NAMED_UPSTREAM, false));
    out.push_str(
        "\nEach entry under `models:` (`models.PATTERN.KEY`; a reload applies changes):\n\n",
    );
    out.push_str(&table(keys::ROUTE, false));
    out
}

fn table<S>(table: &[&'static dyn AnyKey<S>], full: bool) -> String {
    let mut out = String::new();
    if full {
        out.push_str("| key | type | default | flag / variable | on reload | what it does |\n");
        out.push_str("|---|---|---|---|---|---|\n");
    } else {
        out.push_str("| key | type | default | what it does |\n");
        out.push_str("|---|---|---|---|\n");
    }
    for key in table {
        let m = key.meta();
        let name = if m.in_file {
            format!("`{}`", m.path)
        } else {
            format!("{} (flag/variable only)", m.path)
        };
        let ty = if m.secret {
            format!("{} (secret)", m.ty)
        } else {
            m.ty.to_owned()
        };
        let row = if full {
            format!(
                "| {name} | {} | {} | {} | {} | {} |\n",
                cell(&ty),
                default_cell(m),
                cell(&flag_cell(m)),
                reload_cell(m),
                cell(m.doc)
            )
        } else {
            format!(
                "| {name} | {} | {} | {} |\n",
                cell(&ty),
                default_cell(m),
                cell(m.doc)
            )
        };
        out.push_str(&row);
    }
    out
}

fn default_cell(m: &Meta) -> String {
    match (m.default_doc, m.default) {
        (Some(doc), _) => cell(doc),
        (None, Some(yaml)) => format!("`{}`", cell(yaml)),
        (None, None) => "none".to_owned(),
    }
}

fn flag_cell(m: &Meta) -> String {
    match (m.flag, m.env) {
        (Some(f), Some(e)) => format!("`{}` / `{e}`", f.name),
        (Some(f), None) => format!("`{}`", f.name),
        (None, Some(e)) => format!("`{e}`"),
        (None, None) => String::new(),
    }
}

fn reload_cell(m: &Meta) -> &'static str {
    match m.reload {
        Reload::Live => "applied",
        Reload::Restart => "needs a restart",
    }
}

/// Markdown table cells cannot hold a bare `|`.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The text between the markers of a document, when both are present.
pub fn between_markers(readme: &str) -> Option<&str> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(readme[start..end].trim_matches('\n'))
}

#[cfg(test)]
mod tests;
