//! `shimctl codex-config`: the provider block for Codex, printed or merged into its config
//! files, and the model catalog.

use std::path::PathBuf;

use deepinfra_shim::catalog;
use deepinfra_shim::codex_toml;
use deepinfra_shim::config::load::Env;
use deepinfra_shim::control::Client;
use deepinfra_shim::control::codex_config::{self, CodexBlock};
use deepinfra_shim::control::protocol::{Reply, Request};
use deepinfra_shim::control::render;

use super::common::{catalog_config, ctl_failed, local_config};

/// `codex-config --write [--profile NAME]`.
pub(crate) struct WriteTo {
    pub(crate) profile: Option<String>,
}

pub(crate) async fn codex_config(
    client: &Client,
    env: &Env,
    model_flag: Option<String>,
    catalog_path: Option<PathBuf>,
    codex_bin: Option<PathBuf>,
    write: Option<WriteTo>,
) -> u8 {
    let codex_dir = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME"));
    if write.is_some() && codex_dir.is_none() {
        eprintln!("shimctl: cannot locate Codex's config: set HOME, or CODEX_HOME");
        return 1;
    }
    // Without --model, --write keeps the model already picked for this provider.
    let kept = write
        .as_ref()
        .zip(codex_dir.as_deref())
        .and_then(|(w, dir)| codex_toml::current_model(dir, w.profile.as_deref()));
    let model = model_flag
        .clone()
        .or(kept)
        .unwrap_or_else(|| codex_config::DEFAULT_MODEL.to_owned());
    let status = match client.status().await {
        Ok(s) => s,
        Err(e) => return ctl_failed(&e),
    };
    let mut block = match status {
        Ok(s) => {
            let route = match client
                .request(Request::Resolve {
                    model: model.clone(),
                })
                .await
            {
                Ok(Reply {
                    ok: true,
                    route: Some(r),
                    ..
                }) => Some(r),
                _ => None,
            };
            let context_window = route.and_then(|r| {
                let window = r.context_window?;
                Some((window, format!("route '{}'", r.matched.unwrap_or(r.model))))
            });
            let (env_key, is_client_key) = match &s.client_keys_env {
                Some(k) => (k.clone(), true),
                None => (
                    s.upstreams
                        .first()
                        .map(|u| u.api_key_env.clone())
                        .unwrap_or_else(|| "DEEPINFRA_TOKEN".to_owned()),
                    false,
                ),
            };
            CodexBlock {
                model,
                addr: render::client_addr(&s.listen),
                env_key,
                env_key_is_client_key: is_client_key,
                context_window,
                note: None,
            }
        }
        Err(why) => {
            let c = match local_config(env) {
                Ok(c) => c,
                Err(lines) => {
                    eprintln!(
                        "shimctl: the daemon is not reachable ({}) and its config does not load:",
                        why.lines().next().unwrap_or("")
                    );
                    for l in lines {
                        eprintln!("  {l}");
                    }
                    return 1;
                }
            };
            let r = c.resolve(&model);
            let context_window = r.route.and_then(|route| {
                Some((route.context_window?, format!("the route for '{model}'")))
            });
            let source = match &c.config_path {
                Some(p) => p.display().to_string(),
                None => "built-in defaults".to_owned(),
            };
            let (env_key, is_client_key) = match &c.listen.client_keys_env {
                Some(k) => (k.clone(), true),
                None => (c.default_upstream.api_key_env.clone(), false),
            };
            CodexBlock {
                addr: render::client_addr(&c.bind_addr()),
                env_key,
                env_key_is_client_key: is_client_key,
                context_window,
                note: Some(format!(
                    "The daemon is not running; address and key from {source}."
                )),
                model,
            }
        }
    };
    let mut catalog_json = None;
    if let Some(path) = catalog_path {
        let config = match catalog_config(client, env).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let selection = match model_flag {
            Some(m) => catalog::Selection::Only(m),
            None => catalog::Selection::All {
                also: vec![block.model.clone()],
            },
        };
        let cat = catalog::generate(&config, &selection, codex_bin.as_deref()).await;
        for w in &cat.warnings {
            eprintln!("shimctl: warning: {w}");
        }
        match catalog::write_file(&cat, &path) {
            Ok(abs) => {
                eprintln!(
                    "shimctl: wrote {} ({} model{}, modelled on {})",
                    abs.display(),
                    cat.models.len(),
                    if cat.models.len() == 1 { "" } else { "s" },
                    cat.template
                        .as_deref()
                        .unwrap_or("the built-in minimal entry")
                );
                catalog_json = Some(abs.to_string_lossy().into_owned());
            }
            Err(e) => {
                eprintln!("shimctl: cannot write {}: {e}", path.display());
                return 1;
            }
        }
        // The catalog holds each model's window; a global model_context_window would
        // override it for every model the user switches to.
        block.context_window = None;
    }
    if let (Some(w), Some(dir)) = (write, codex_dir) {
        if let Some(note) = &block.note {
            eprintln!("shimctl: {note}");
        }
        let setup = codex_toml::Setup::from_block(&block, catalog_json.as_deref());
        return match codex_toml::write(&dir, w.profile.as_deref(), &setup) {
            Ok(out) => {
                print!("{}", out.render());
                for f in &out.findings {
                    eprintln!("shimctl: warning: {f}");
                }
                0
            }
            Err(e) => {
                eprintln!("shimctl: {e}");
                1
            }
        };
    }
    print!(
        "{}",
        codex_config::render_block_with_catalog(&block, catalog_json.as_deref())
    );
    0
}
