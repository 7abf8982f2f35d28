//! The Codex model catalog (`model_catalog_json`) for the models this daemon serves, and the
//! facts behind it (`shimctl models`).
//!
//! Codex decides from its model metadata whether to offer the freeform `apply_patch` tool,
//! when to compact (90 % of `context_window`), whether images may be sent and which
//! reasoning efforts exist. For models it does not know (every provider model) it falls back
//! to generic metadata. [`build()`] describes each served model from, in order:
//! 1. the config's `models:` route (`context_window`, `max_output_tokens`, `vision`,
//!    `reasoning`, `apply_patch`),
//! 2. the upstream's `GET /models?filter=with_meta` list ([`meta`], fetched by [`fetch`]),
//! 3. defaults ([`DEFAULT_CONTEXT_WINDOW`], no vision, no reasoning efforts, `apply_patch`
//!    on),
//!
//! and records where each fact came from. The entries are made from a bundled entry of the
//! user's own Codex ([`template`], loaded by [`codex_bin`]), whose prompt they keep; the bundled
//! entries are kept too, because a catalog replaces Codex's bundled one.
//!
//! Which models are listed ([`Selection::All`]): the names asked for (the model the printed
//! block selects), every exact route name, every chat model of an upstream list that is
//! served under its own name (not shadowed by a route to another upstream), and one hidden
//! entry per prefix route (Codex matches a slug that is a prefix of the model name, longest
//! first, so `moonshotai/` covers every `moonshotai/…` not listed). [`Selection::Only`] lists
//! one model.
//!
//! Pure: [`facts`] (one model's facts), [`assemble`] (the catalog), [`meta`], [`template`],
//! [`table`]. I/O: [`fetch`] (the lists), [`codex_bin`] (runs Codex), [`io`] (reads the
//! sources, writes the file).

pub mod assemble;
pub mod codex_bin;
pub mod facts;
pub mod fetch;
pub mod io;
pub mod meta;
pub mod table;
pub mod template;

pub use assemble::{Catalog, Selection, Sources, build, with_upstream_urls};
pub use facts::{DEFAULT_CONTEXT_WINDOW, Fact, Kind, ModelFacts, Source};
pub use fetch::{fetch_all, fetch_models, fetch_upstream};
pub use io::{describe, generate, write_file};
pub use meta::{ModelMeta, Pricing};
pub use table::render_table;
pub use template::Template;

#[cfg(test)]
mod tests;
