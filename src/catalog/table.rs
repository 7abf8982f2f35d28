//! The `shimctl models` table: one line per served model, each fact with its source.

use std::fmt::Write as _;

use super::assemble::Catalog;
use super::facts::{Fact, Kind, ModelFacts};

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn with_source<T>(fact: &Fact<T>, shown: String) -> String {
    format!("{shown} ({})", fact.source.kind())
}

fn row(m: &ModelFacts) -> [String; 7] {
    let name = match m.kind {
        Kind::Pattern => format!("{} (pattern)", m.name),
        _ => m.name.clone(),
    };
    let upstream = match &m.upstream_model {
        Some(um) if *um != m.name => format!("{} -> {um}", m.upstream),
        _ => m.upstream.clone(),
    };
    let out = match m.max_output_tokens.value {
        Some(n) => with_source(&m.max_output_tokens, n.to_string()),
        None => "-".to_owned(),
    };
    [
        name,
        upstream,
        with_source(&m.context_window, m.context_window.value.to_string()),
        out,
        with_source(&m.vision, yes_no(m.vision.value).to_owned()),
        with_source(&m.reasoning, yes_no(m.reasoning.value).to_owned()),
        with_source(&m.apply_patch, yes_no(m.apply_patch.value).to_owned()),
    ]
}

/// The table, a legend, and the warnings (each on a `warning:` line).
pub fn render_table(catalog: &Catalog) -> String {
    const HEAD: [&str; 7] = [
        "MODEL",
        "UPSTREAM",
        "CONTEXT",
        "MAX_OUTPUT",
        "VISION",
        "REASONING",
        "APPLY_PATCH",
    ];
    let rows: Vec<[String; 7]> = catalog.models.iter().map(row).collect();
    let mut widths = HEAD.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&HEAD);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    if rows.is_empty() {
        out.push_str("(no models: the config has no routes and no upstream list was read)\n");
    }
    out.push_str(
        "\nSources: config = the model's route under `models:`; upstream = the upstream's \
         GET /models list; default = not known, assumed.\n\
         Codex compacts at 90% of CONTEXT; it offers apply_patch, image input and reasoning \
         efforts per the other columns once the catalog is in use (`shimctl codex-config --catalog PATH`).\n",
    );
    for w in &catalog.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
