//! What every command starts from: where the registry is (`--registry`,
//! `YOI_REGISTRY`, `YOI_HOME`, or the user's data folder), who acts, and
//! the small helpers every command's output shares. The commands
//! themselves are `impl Ctx` blocks in their own modules (`lifecycle` for
//! the registry's operations).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;
use yoi_registry::{Answer, Location, Operation, Registry};

/// The command's registry and actor.
pub(crate) struct Ctx {
    registry: Option<String>,
    pub(crate) actor: String,
}

pub(crate) fn print_json(value: &impl Serialize) -> Result<ExitCode> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Ctx {
    /// Runs a registry write as every client does, `yoi serve` included
    /// (`Operation`, audited with the answer): what it produced, or its
    /// error as the registry words it. Warnings are printed.
    pub(crate) fn apply(&self, registry: &Registry, op: Operation) -> Result<Value> {
        answered(registry.apply(&op, &self.actor))
    }

    pub(crate) fn new(registry: Option<String>, actor: Option<String>) -> Self {
        let actor = actor
            .or_else(|| std::env::var("YOI_ACTOR").ok())
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "unknown".to_owned());
        Ctx { registry, actor }
    }

    /// The local Yoi folder: the registry when it is a folder; beside a
    /// shared database, what it does not hold (the config key, serve tokens).
    fn home() -> Result<PathBuf> {
        if let Some(home) = std::env::var_os("YOI_HOME").filter(|h| !h.is_empty()) {
            return Ok(PathBuf::from(home));
        }
        dirs::data_dir().map(|d| d.join("yoi")).context(
            "no user data folder is known on this system; pass --registry DIR|URL or set YOI_HOME",
        )
    }

    /// The registry as the user named it (`--registry`, `YOI_REGISTRY`,
    /// `YOI_HOME`), or `None` for the default folder.
    pub(crate) fn named_registry(&self) -> Option<String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        self.registry
            .clone()
            .or_else(|| env("YOI_REGISTRY"))
            .or_else(|| env("YOI_HOME"))
    }

    /// Where the registry is (`--registry`, `YOI_REGISTRY`, else the home
    /// folder), and the home folder beside it.
    pub(crate) fn location(&self) -> Result<(Location, PathBuf)> {
        let named = self
            .registry
            .clone()
            .or_else(|| std::env::var("YOI_REGISTRY").ok().filter(|r| !r.is_empty()));
        match named.as_deref().map(Location::parse) {
            Some(Location::Folder(dir)) => Ok((Location::Folder(dir.clone()), dir)),
            Some(db) => Ok((db, Self::home()?)),
            None => {
                let dir = Self::home()?;
                Ok((Location::Folder(dir.clone()), dir))
            }
        }
    }

    pub(crate) fn open(&self) -> Result<Registry> {
        let (location, home) = self.location()?;
        Registry::open_at(&location, &home)
            .with_context(|| format!("opening the registry at {location}"))
    }
}

/// A write's record, or its error as the registry words it; its warnings
/// printed on stderr.
pub(crate) fn answered(answer: Answer) -> Result<Value> {
    for warning in &answer.warnings {
        errln!("warning: {warning}");
    }
    if !answer.ok {
        anyhow::bail!("{}", answer.error.unwrap_or_default());
    }
    Ok(answer.record.unwrap_or(Value::Null))
}

/// A text field of a write's record (`plugin`, `version`, ...).
pub(crate) fn field<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or_default()
}
