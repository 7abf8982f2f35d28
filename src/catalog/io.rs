//! Reading the catalog's sources and writing its file: the upstreams' model lists (over the
//! network), the user's Codex template (by running Codex), the file (atomically).

use std::path::{Path, PathBuf};

use super::assemble::{Catalog, Selection, Sources, build};
use super::codex_bin;
use super::fetch::{self, fetch_all};
use crate::config::Config;

/// The facts only (no Codex template), from the config and the upstreams' lists: what
/// `shimctl models` shows.
pub async fn describe(config: &Config, selection: &Selection) -> Catalog {
    let upstream_models = fetch_all(config, fetch::TIMEOUT).await;
    build(
        &Sources {
            config,
            upstream_models,
            template: None,
        },
        selection,
    )
}

/// The catalog `shimctl codex-config --catalog` writes: the upstreams' lists and the user's
/// Codex template (from `codex_bin`, else `CODEX_BIN`, else `codex` on `PATH`) are fetched at
/// the same time, then [`build`].
pub async fn generate(config: &Config, selection: &Selection, codex_bin: Option<&Path>) -> Catalog {
    let bin = codex_bin::find_bin_from_env(codex_bin);
    let template = async move {
        match bin {
            None => Err("no Codex found: not on PATH and CODEX_BIN is not set".to_owned()),
            Some(bin) => tokio::task::spawn_blocking(move || codex_bin::load_template(&bin))
                .await
                .unwrap_or_else(|e| Err(format!("asking Codex failed: {e}"))),
        }
    };
    let (upstream_models, template) =
        futures_util::future::join(fetch_all(config, fetch::TIMEOUT), template).await;
    build(
        &Sources {
            config,
            upstream_models,
            template: Some(template),
        },
        selection,
    )
}

/// Writes the catalog file (creating its directory; replaced atomically) and returns its
/// absolute path, which is what `model_catalog_json` must hold (Codex resolves a relative
/// path against `CODEX_HOME`, not the working directory).
pub fn write_file(catalog: &Catalog, path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    };
    let dir = abs
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| std::io::Error::other("the catalog path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let file_name = abs
        .file_name()
        .ok_or_else(|| std::io::Error::other("the catalog path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, catalog.file_text())?;
    if let Err(e) = std::fs::rename(&tmp, &abs) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Normalise `..` and symlinked directories so the printed path is plain.
    Ok(std::fs::canonicalize(&abs).unwrap_or(abs))
}
