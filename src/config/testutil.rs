//! Helpers shared by the config unit tests: a scratch home directory with the config file at
//! its default place, and assertions on problem lists.

use std::path::PathBuf;

use clap::Parser;
use tempfile::TempDir;

use super::cli::Cli;
use super::env::Env;
use super::error::LoadError;
use super::load::load;
use super::model::Config;

pub fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("deepinfra-shim").chain(args.iter().copied())).unwrap()
}

/// A home directory with the config file (if any) at its default place.
pub struct Home {
    pub dir: TempDir,
}

impl Home {
    pub fn new(config: Option<&str>) -> Home {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = config {
            let p = dir.path().join(".config/deepinfra-shim");
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("config.yaml"), text).unwrap();
        }
        Home { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join(".config/deepinfra-shim/config.yaml")
    }

    pub fn write(&self, text: &str) {
        std::fs::create_dir_all(self.config_path().parent().unwrap()).unwrap();
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn env(&self, pairs: &[(&str, &str)]) -> Env {
        let home = self.dir.path().to_str().unwrap().to_owned();
        let mut v: Vec<(String, String)> = vec![
            ("HOME".into(), home.clone()),
            ("XDG_RUNTIME_DIR".into(), format!("{home}/run")),
        ];
        v.extend(pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        Env::from_pairs(v)
    }

    pub fn load(&self, args: &[&str], pairs: &[(&str, &str)]) -> Result<Config, LoadError> {
        load(&cli(args), &self.env(pairs))
    }
}

/// Every problem of a refused load, one line each.
pub fn problems(r: Result<Config, LoadError>) -> Vec<String> {
    match r {
        Err(LoadError::Invalid { problems }) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected problems, got {e}"),
        Ok(_) => panic!("expected problems, got a valid config"),
    }
}

/// Exactly one problem, on one line, whose origin contains `origin`.
pub fn one_problem(r: Result<Config, LoadError>, origin: &str) -> String {
    let p = problems(r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(!p[0].contains('\n'), "{}", p[0]);
    assert!(
        p[0].starts_with(&format!("{origin}: ")) || p[0].contains(&format!("{origin}: ")),
        "expected origin {origin}: {}",
        p[0]
    );
    p[0].clone()
}
