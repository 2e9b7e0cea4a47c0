//! `yoi config`: operators' values for plugins' settings
//! (docs/configuration.md). The registry checks and audits every change;
//! this prints what it did, and never a secret.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;
use yoi_registry::{ConfigRecord, Operation, Scope};

use crate::ctx::{Ctx, print_json, time};
use crate::usage::UsageError;

fn scope(text: &str) -> Result<Scope> {
    Ok(text.parse().map_err(UsageError)?)
}

/// How a stored value prints.
fn value_text(r: &ConfigRecord) -> String {
    match &r.value {
        Some(v) => v.to_string(),
        None => "•••••• (secret)".into(),
    }
}

impl Ctx {
    pub(crate) fn config_set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        scope_text: &str,
    ) -> Result<ExitCode> {
        let scope = scope(scope_text)?;
        let op = Operation::ConfigSet {
            plugin: plugin.to_owned(),
            key: key.to_owned(),
            value: None,
            text: Some(value.to_owned()),
            scope,
        };
        let r = self.apply(&self.open()?, op)?;
        let shown = match r.get("value") {
            Some(v) if !v.is_null() => v.to_string(),
            _ => "•••••• (secret)".into(),
        };
        outln!("set {plugin} {key} for scope {scope} to {shown}");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn config_unset(
        &self,
        plugin: &str,
        key: &str,
        scope_text: &str,
    ) -> Result<ExitCode> {
        let scope = scope(scope_text)?;
        let op = Operation::ConfigUnset {
            plugin: plugin.to_owned(),
            key: key.to_owned(),
            scope,
        };
        self.apply(&self.open()?, op)?;
        outln!("unset {plugin} {key} for scope {scope}");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn config_show(&self, plugin: &str, json: bool) -> Result<ExitCode> {
        let registry = self.open()?;
        let (version, settings) = registry.settings(plugin)?;
        let values = registry.config(plugin)?;
        if json {
            #[derive(Serialize)]
            struct Shown<'a> {
                plugin: &'a str,
                /// The version values are checked against.
                version: String,
                settings: &'a [yoi_registry::Setting],
                values: &'a [ConfigRecord],
            }
            return print_json(&Shown {
                plugin,
                version: version.version.to_string(),
                settings: &settings,
                values: &values,
            });
        }
        outln!(
            "{plugin}@{} ({}): {} settings",
            version.version,
            version.state.as_str(),
            settings.len()
        );
        for s in &settings {
            let mut traits = vec![s.kind.to_string()];
            if s.secret {
                traits.push("secret".into());
            }
            if s.required {
                traits.push("required".into());
            }
            if let Some(d) = &s.default {
                traits.push(format!("default {d}"));
            }
            outln!("  {}  ({})", s.name, traits.join(", "));
            if let Some(d) = &s.description {
                outln!("      {d}");
            }
            for r in values.iter().filter(|r| r.key == s.name) {
                outln!(
                    "      {}: {}  (set by {}, {})",
                    r.scope,
                    value_text(r),
                    r.set_by,
                    time(r.set_at)
                );
            }
        }
        for r in values
            .iter()
            .filter(|r| !settings.iter().any(|s| s.name == r.key))
        {
            outln!(
                "  {} (scope {}) is set but not declared by {}: `yoi config unset {plugin} {} --scope {}`",
                r.key,
                r.scope,
                version.version,
                r.key,
                r.scope
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn config_rotate_key(&self) -> Result<ExitCode> {
        let n = self.apply(&self.open()?, Operation::ConfigRotateKey {})?;
        outln!("sealed {n} secret values with a new key; the old key is gone from config.key");
        Ok(ExitCode::SUCCESS)
    }
}

/// A value given in a file, or on standard input for `-`, with one
/// trailing newline dropped: how secrets reach the CLI without appearing
/// in `ps` or shell history.
pub(crate) fn read_value(file: &std::path::Path) -> Result<String> {
    let mut text = String::new();
    if file == std::path::Path::new("-") {
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .context("reading the value from standard input")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the value from {}", file.display()))?;
    }
    if let Some(stripped) = text.strip_suffix('\n') {
        text.truncate(stripped.strip_suffix('\r').unwrap_or(stripped).len());
    }
    Ok(text)
}

/// `--secret KEY=VALUE` pairs with the `--secret-file KEY=FILE` ones read
/// and added.
pub(crate) fn with_secret_files(mut pairs: Vec<String>, files: &[String]) -> Result<Vec<String>> {
    for pair in files {
        let (key, file) = pair.split_once('=').ok_or_else(|| {
            crate::usage::UsageError(format!("--secret-file `{pair}` is not KEY=FILE"))
        })?;
        pairs.push(format!("{key}={}", read_value(std::path::Path::new(file))?));
    }
    Ok(pairs)
}
