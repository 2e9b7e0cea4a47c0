//! `cargo xtask ci`'s link check: every relative link in `README.md` and
//! `docs/*.md` must name a file that exists, and an anchor must name a
//! heading of that file (GitHub's slugs). Links to other sites are not
//! fetched (CI reaches no other site).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Checks the links of the README and the docs; fails listing every broken
/// one.
pub fn check(root: &Path) -> Result<()> {
    let mut files = vec![root.join("README.md")];
    let docs = root.join("docs");
    for entry in std::fs::read_dir(&docs).with_context(|| format!("listing {}", docs.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for (line, target) in links(&text) {
            checked += 1;
            if let Err(why) = resolve(file, &target) {
                broken.push(format!(
                    "{}:{line}: ({target}) {why}",
                    file.strip_prefix(root).unwrap_or(file).display()
                ));
            }
        }
    }
    if !broken.is_empty() {
        bail!(
            "{} broken link(s) in the docs:\n  {}",
            broken.len(),
            broken.join("\n  ")
        );
    }
    eprintln!("xtask: {checked} links in {} files resolve", files.len());
    Ok(())
}

/// `(line, target)` of each inline link `[text](target)` outside code.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Inline code spans hold examples, not links.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            if !target.is_empty() {
                out.push((n + 1, target.to_owned()));
            }
            rest = &after[end..];
        }
    }
    out
}

fn resolve(from: &Path, target: &str) -> Result<(), String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return Ok(());
    }
    let (file, anchor) = match target.split_once('#') {
        Some((f, a)) => (f, Some(a)),
        None => (target, None),
    };
    let path: PathBuf = if file.is_empty() {
        from.to_path_buf()
    } else {
        from.parent().unwrap_or(Path::new(".")).join(file)
    };
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    let Some(anchor) = anchor else { return Ok(()) };
    if path.extension().is_none_or(|e| e != "md") {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    if anchors(&text).contains(anchor) {
        Ok(())
    } else {
        Err(format!("{} has no heading #{anchor}", path.display()))
    }
}

/// The anchors GitHub gives a file's headings: lowercase, punctuation
/// dropped, spaces as `-`, repeats numbered.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 1;
        while out.contains(&unique) {
            unique = format!("{slug}-{n}");
            n += 1;
        }
        out.insert(unique);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_github() {
        let a = anchors(
            "# Title\n## Providers and observers (contract 0.4.0, 2026-11-30)\n## E0411: the `code` limits\n## Title\n```\n# not a heading\n```\n",
        );
        for want in [
            "title",
            "providers-and-observers-contract-040-2026-11-30",
            "e0411-the-code-limits",
            "title-1",
        ] {
            assert!(a.contains(want), "{want}: {a:?}");
        }
        assert!(!a.contains("not-a-heading"));
    }

    #[test]
    fn links_outside_code_are_found() {
        let found =
            links("see [a](a.md#x) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d](https://x.y/z)");
        let targets: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(targets, ["a.md#x", "https://x.y/z"]);
    }
}
