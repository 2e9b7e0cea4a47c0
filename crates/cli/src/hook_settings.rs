//! `yoi hook install|uninstall`: puts `yoi hook` into an agent CLI's hook
//! settings beside the hooks already there, and takes it out again
//! (docs/agent-clis.md, "Install").
//!
//! The settings are edited as text (a concrete syntax tree), so the user's
//! order, spacing and comments stay as written; only Yoi's entries are
//! added. `install` keeps the file's bytes from before in Yoi's folder,
//! and `uninstall` puts exactly those bytes back while the file is as
//! `install` left it; after other edits it takes out Yoi's entries alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstObject, CstRootNode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use yoi_manifest::Digest;

use crate::agent_cli::Cli;
use crate::ctx::Ctx;

/// The events `yoi hook` answers, in the order they are written.
const EVENTS: [&str; 8] = [
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "Stop",
    "PreCompact",
    "PostCompact",
    "SessionStart",
    "SessionEnd",
];

/// Settings files larger than this are not CLI settings.
const MAX_SETTINGS_BYTES: u64 = 4 * 1024 * 1024;

/// What `install` kept to undo itself exactly.
#[derive(Serialize, Deserialize)]
struct Record {
    path: PathBuf,
    /// The file before (`None`: there was none).
    original: Option<String>,
    /// The digest of what `install` wrote.
    installed: String,
}

/// The CLI's settings file `yoi hook` goes into.
fn settings_path(cli: Cli, project: bool) -> Result<PathBuf> {
    let base = if project {
        std::env::current_dir().context("finding the current folder")?
    } else {
        dirs::home_dir().context("finding your home folder (set HOME)")?
    };
    Ok(match cli {
        Cli::ClaudeCode => base.join(".claude").join("settings.json"),
        Cli::Codex if !project => match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join("hooks.json"),
            None => base.join(".codex").join("hooks.json"),
        },
        Cli::Codex => base.join(".codex").join("hooks.json"),
    })
}

/// The settings files that run `yoi hook` now, with the CLI that reads
/// each: yours and the current folder's.
pub(crate) fn installed() -> Vec<(Cli, PathBuf)> {
    let mut found = Vec::new();
    for cli in [Cli::ClaudeCode, Cli::Codex] {
        let mut paths: Vec<PathBuf> = [false, true]
            .into_iter()
            .filter_map(|project| settings_path(cli, project).ok())
            .collect();
        if cli == Cli::ClaudeCode
            && let Ok(dir) = std::env::current_dir()
        {
            paths.push(dir.join(".claude").join("settings.local.json"));
        }
        paths.dedup();
        for path in paths {
            let Ok(Some(text)) = read(&path) else {
                continue;
            };
            let runs = CstRootNode::parse(&text, &ParseOptions::default())
                .ok()
                .and_then(|r| r.value())
                .and_then(|v| v.to_serde_value())
                .and_then(|v| v.get("hooks").cloned())
                .and_then(|h| match h {
                    Value::Object(events) => Some(events),
                    _ => None,
                })
                .is_some_and(|events| {
                    events
                        .values()
                        .filter_map(Value::as_array)
                        .flatten()
                        .any(|g| group_handlers(g).iter().any(|h| is_ours(cli, h)))
                });
            if runs {
                found.push((cli, path));
            }
        }
    }
    found
}

/// The command line of the handler: this `yoi`, the registry when one
/// was named, and `hook CLI`.
fn command_line(ctx: &Ctx, cli: Cli) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("finding the yoi executable")?;
    let mut line = vec![exe.to_string_lossy().into_owned()];
    if let Some(named) = ctx.named_registry() {
        if named.contains("://") && url::Url::parse(&named).is_ok_and(|u| u.password().is_some()) {
            bail!(
                "the registry URL holds a password, which would be written into the settings in \
                 plain text; put the password in ~/.pgpass or PGPASSWORD and name the registry \
                 without it"
            );
        }
        let named = match yoi_registry::Location::parse(&named) {
            yoi_registry::Location::Folder(dir) => std::path::absolute(&dir)
                .unwrap_or(dir)
                .to_string_lossy()
                .into_owned(),
            _ => named,
        };
        line.extend(["--registry".to_owned(), named]);
    }
    line.extend(["hook".to_owned(), cli.name().to_owned()]);
    Ok(line)
}

/// A word for a POSIX shell, quoted when it needs to be.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The words a POSIX shell makes of `line` (quotes and backslashes; no
/// expansions, which `yoi hook` entries never use).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The handler entry: Claude Code runs `command` with `args` without a
/// shell; Codex runs `command` through one.
fn handler(cli: Cli, line: &[String]) -> CstInputValue {
    let mut fields = vec![("type".to_owned(), CstInputValue::from("command"))];
    match cli {
        Cli::ClaudeCode => {
            fields.push(("command".to_owned(), line[0].clone().into()));
            fields.push((
                "args".to_owned(),
                CstInputValue::Array(line[1..].iter().map(|a| a.clone().into()).collect()),
            ));
        }
        Cli::Codex => {
            let words: Vec<String> = line.iter().map(|w| shell_word(w)).collect();
            fields.push(("command".to_owned(), words.join(" ").into()));
        }
    }
    CstInputValue::Object(fields)
}

/// Whether a handler entry is a `yoi hook CLI` one (whatever registry or
/// path it names).
fn is_ours(cli: Cli, handler: &Value) -> bool {
    if handler.get("type").and_then(Value::as_str) != Some("command") {
        return false;
    }
    let Some(command) = handler.get("command").and_then(Value::as_str) else {
        return false;
    };
    let words: Vec<String> = match handler.get("args").and_then(Value::as_array) {
        Some(args) => std::iter::once(command.to_owned())
            .chain(args.iter().filter_map(Value::as_str).map(str::to_owned))
            .collect(),
        None => shell_words(command),
    };
    let yoi = words.first().is_some_and(|w| {
        Path::new(w)
            .file_stem()
            .is_some_and(|s| s.to_string_lossy() == "yoi")
    });
    yoi && words
        .windows(2)
        .any(|w| w[0] == "hook" && w[1] == cli.name())
}

/// The handlers of a matcher group.
fn group_handlers(group: &Value) -> &[Value] {
    group
        .get("hooks")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The settings, parsed for editing; what is wrong with them otherwise.
fn parse(path: &Path, text: &str) -> Result<(CstRootNode, CstObject)> {
    let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| {
        anyhow::anyhow!(
            "{} is not valid JSON ({e}); fix it, or move it aside, and run this again",
            path.display()
        )
    })?;
    let object = match root.value() {
        None => root.object_value_or_set(),
        Some(_) => root.object_value().with_context(|| {
            format!(
                "{} holds no JSON object at the top; the CLI could not read it either",
                path.display()
            )
        })?,
    };
    if object.get("hooks").is_some() && object.object_value("hooks").is_none() {
        bail!(
            "`hooks` in {} is not an object; the CLI expects {{\"hooks\": {{\"EVENT\": [...]}}}}",
            path.display()
        );
    }
    Ok((root, object))
}

/// An event's matcher groups, when they are an array.
fn event_groups(path: &Path, hooks: &CstObject, event: &str) -> Result<Option<CstArray>> {
    match hooks.get(event) {
        None => Ok(None),
        Some(_) => hooks.array_value(event).map(Some).with_context(|| {
            format!(
                "`hooks.{event}` in {} is not an array of matcher groups",
                path.display()
            )
        }),
    }
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_SETTINGS_BYTES => bail!(
            "{} has {} bytes; settings files have far fewer, so this is not one",
            path.display(),
            meta.len()
        ),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

/// Writes `text` in place of `path` all at once, keeping its permissions.
fn write(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().context("the settings file has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())?;
    }
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

fn record_path(ctx: &Ctx, path: &Path) -> Result<PathBuf> {
    let (_, home) = ctx.location()?;
    let key = Digest::of(path.to_string_lossy().as_bytes()).hex();
    Ok(home
        .join("hook-settings")
        .join(format!("{}.json", &key[..32])))
}

/// The lines that differ, `-` before and `+` after (a longest-common-
/// subsequence diff; settings files are small).
fn diff(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return after.lines().map(|l| format!("+{l}\n")).collect();
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}

fn show(path: &Path, before: &str, after: &str) {
    outln!("--- {}", path.display());
    outln!("+++ {}", path.display());
    crate::terminal::write_out(&diff(before, after));
}

/// `yoi hook install --for CLI`.
pub(crate) fn install(ctx: &Ctx, cli: Cli, project: bool, dry_run: bool) -> Result<ExitCode> {
    let path = settings_path(cli, project)?;
    let original = read(&path)?;
    let before = original.clone().unwrap_or_default();
    let (root, object) = parse(&path, &before)?;
    let line = command_line(ctx, cli)?;
    let hooks = object.object_value_or_set("hooks");
    let mut added = Vec::new();
    for event in EVENTS {
        let groups = match event_groups(&path, &hooks, event)? {
            Some(groups) => groups,
            None => hooks.array_value_or_set(event),
        };
        let present = groups.elements().iter().any(|g| {
            g.to_serde_value()
                .is_some_and(|g| group_handlers(&g).iter().any(|h| is_ours(cli, h)))
        });
        if !present {
            groups.append(CstInputValue::Object(vec![(
                "hooks".to_owned(),
                CstInputValue::Array(vec![handler(cli, &line)]),
            )]));
            added.push(event);
        }
    }
    if added.is_empty() {
        outln!(
            "yoi hook is already in {} for every event; nothing to do",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = root.to_string();
    if original.is_none() && !after.ends_with('\n') {
        after.push('\n');
    }
    if dry_run {
        show(&path, &before, &after);
        outln!("(dry run: nothing written)");
        return Ok(ExitCode::SUCCESS);
    }
    // Kept before the settings change, so an undo is never lost.
    let record = record_path(ctx, &path)?;
    let kept = Record {
        path: path.clone(),
        original,
        installed: Digest::of(after.as_bytes()).hex(),
    };
    write(&record, &serde_json::to_string_pretty(&kept)?)?;
    write(&path, &after)?;
    outln!(
        "added `{}` to {} for {}",
        line.join(" "),
        path.display(),
        added.join(", ")
    );
    outln!(
        "  {} now runs Yoi's plugins at these events; `yoi hook uninstall --for {}{}` takes it out",
        cli.title(),
        cli.name(),
        if project { " --project" } else { "" }
    );
    if cli == Cli::Codex {
        // Codex skips hooks nobody has reviewed, without a word in `codex
        // exec`.
        outln!(
            "  Codex runs new hooks only once you trust them: start `codex` and trust them when it asks (or in `/hooks`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `yoi hook uninstall --for CLI`.
pub(crate) fn uninstall(ctx: &Ctx, cli: Cli, project: bool, dry_run: bool) -> Result<ExitCode> {
    let path = settings_path(cli, project)?;
    let Some(current) = read(&path)? else {
        outln!("{} does not exist; nothing to take out", path.display());
        return Ok(ExitCode::SUCCESS);
    };
    let record_file = record_path(ctx, &path)?;
    let record: Option<Record> = std::fs::read(&record_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|r: &Record| r.path == path);
    // Untouched since install: exactly the bytes from before.
    if let Some(r) = &record
        && r.installed == Digest::of(current.as_bytes()).hex()
    {
        let before = r.original.clone().unwrap_or_default();
        if dry_run {
            show(&path, &current, &before);
            outln!("(dry run: nothing written)");
            return Ok(ExitCode::SUCCESS);
        }
        match &r.original {
            Some(text) => write(&path, text)?,
            None => std::fs::remove_file(&path)
                .with_context(|| format!("removing {}", path.display()))?,
        }
        let _ = std::fs::remove_file(&record_file);
        outln!(
            "{} is back as it was before `yoi hook install`",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Edited since: take out Yoi's entries and what install created for
    // them, nothing else.
    let (root, object) = parse(&path, &current)?;
    let had = |key: &[&str]| -> bool {
        let Some(original) = record.as_ref().map(|r| r.original.as_deref()) else {
            // No record: a container left empty was Yoi's.
            return false;
        };
        let Some(value) = original.and_then(|t| {
            CstRootNode::parse(t, &ParseOptions::default())
                .ok()
                .and_then(|r| r.value())
                .and_then(|v| v.to_serde_value())
        }) else {
            return false;
        };
        key.iter().try_fold(&value, |v, k| v.get(k)).is_some()
    };
    let mut taken = 0usize;
    if let Some(hooks) = object.object_value("hooks") {
        for event in EVENTS {
            let Some(groups) = event_groups(&path, &hooks, event)? else {
                continue;
            };
            for group in groups.elements() {
                let Some(value) = group.to_serde_value() else {
                    continue;
                };
                let handlers = group_handlers(&value);
                let ours = handlers.iter().filter(|h| is_ours(cli, h)).count();
                if ours == 0 {
                    continue;
                }
                taken += ours;
                if ours == handlers.len() {
                    group.remove();
                } else if let Some(list) = group.as_object().and_then(|g| g.array_value("hooks")) {
                    for h in list.elements() {
                        if h.to_serde_value().is_some_and(|h| is_ours(cli, &h)) {
                            h.remove();
                        }
                    }
                }
            }
            if groups.elements().is_empty()
                && !had(&["hooks", event])
                && let Some(prop) = hooks.get(event)
            {
                prop.remove();
            }
        }
        if hooks.properties().is_empty()
            && !had(&["hooks"])
            && let Some(prop) = object.get("hooks")
        {
            prop.remove();
        }
    }
    if taken == 0 {
        outln!(
            "{} has no `yoi hook {}` entries",
            path.display(),
            cli.name()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let after = root.to_string();
    if dry_run {
        show(&path, &current, &after);
        outln!("(dry run: nothing written)");
        return Ok(ExitCode::SUCCESS);
    }
    write(&path, &after)?;
    let _ = std::fs::remove_file(&record_file);
    outln!(
        "took {taken} `yoi hook {}` entries out of {} (it was edited since install, so the rest stays as it is now)",
        cli.name(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_are_recognised_by_what_they_run() {
        let claude = serde_json::json!({"type": "command", "command": "/opt/bin/yoi",
            "args": ["--registry", "/r", "hook", "claude-code"]});
        assert!(is_ours(Cli::ClaudeCode, &claude));
        assert!(!is_ours(Cli::Codex, &claude));
        let codex = serde_json::json!({"type": "command",
            "command": "'/home/a b/yoi' hook codex"});
        assert!(is_ours(Cli::Codex, &codex));
        let other = serde_json::json!({"type": "command", "command": "./hook.sh codex"});
        assert!(!is_ours(Cli::Codex, &other));
        assert_eq!(shell_word("/usr/bin/yoi"), "/usr/bin/yoi");
        assert_eq!(shell_word("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(shell_words(&shell_word("/a b/it's")), ["/a b/it's"]);
        assert_eq!(shell_words(r#"a "b c" d\ e"#), ["a", "b c", "d e"]);
    }

    #[test]
    fn the_diff_marks_only_what_changed() {
        assert_eq!(diff("a\nb\nc\n", "a\nx\nb\nc\n"), " a\n+x\n b\n c\n");
        assert_eq!(diff("a\nb\n", "a\n"), " a\n-b\n");
    }
}
