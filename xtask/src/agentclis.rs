//! The agent CLIs the end-to-end tests drive with `yoi hook` installed:
//! Codex (`@openai/codex`) and Claude Code (`@anthropic-ai/claude-code`)
//! from npm, each a native binary that a per-platform package brings,
//! pinned, installed once into `target/tools` like the MCP tools.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::mcptools::{installed, npm_file, npm_install};

/// The pinned Codex CLI.
const CODEX: (&str, &str) = ("@openai/codex", "0.171.0");
/// The pinned Claude Code CLI.
const CLAUDE_CODE: (&str, &str) = ("@anthropic-ai/claude-code", "2.1.332");

/// Installs Claude Code when it is missing and returns its binary
/// (`YOI_CLAUDE_CODE` for the tests). Its install script puts the
/// platform's binary in place of `bin/claude.exe`.
pub fn claude_code(tools: &Path) -> Result<PathBuf> {
    npm_file(tools, "claude-code", CLAUDE_CODE, &["bin", "claude.exe"])
}

/// Installs Codex when it is missing and returns its binary
/// (`YOI_CODEX` for the tests).
pub fn codex(tools: &Path) -> Result<PathBuf> {
    let dir = installed(tools, "codex", CODEX.1, |into| {
        npm_install(into, CODEX.0, CODEX.1)
    })?;
    // The npm package's `bin` is a Node launcher for the binary in the
    // platform's optional package (`@openai/codex-linux-x64`, ...).
    let scope = dir.join("node_modules").join("@openai");
    let found = std::fs::read_dir(&scope)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("codex-"))
                .flat_map(|e| {
                    std::fs::read_dir(e.path().join("vendor"))
                        .into_iter()
                        .flatten()
                })
                .flatten()
                .map(|triple| triple.path().join("bin").join("codex"))
                .find(|bin| bin.is_file())
        })
        .ok()
        .flatten();
    match found {
        Some(bin) => Ok(bin),
        None => bail!(
            "npm's {}@{} has no Codex binary for this platform under {}; remove {} and run again",
            CODEX.0,
            CODEX.1,
            scope.display(),
            dir.display()
        ),
    }
}
