//! `yoi plugin new`: a plugin crate that builds and packs as generated.
//!
//! The files come from `templates/` (filled by plain `{{name}}`
//! substitution), so what an author gets is readable in one place.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use yoi_host::HookPoint;
use yoi_manifest::Language;

use crate::usage::UsageError;

const CARGO: &str = include_str!("../templates/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("../templates/plugin.toml.tmpl");
const HOOK_TOML: &str = include_str!("../templates/hook.toml.tmpl");
const TOOL_TOML: &str = include_str!("../templates/tool.toml.tmpl");
const LIB: &str = include_str!("../templates/lib.rs.tmpl");
const HOOKS: &str = include_str!("../templates/hooks.rs.tmpl");
const HOOK: &str = include_str!("../templates/hook.rs.tmpl");
const TOOL: &str = include_str!("../templates/tool.rs.tmpl");
const PROVIDER_TOML: &str = include_str!("../templates/provider.toml.tmpl");
const PROVIDER: &str = include_str!("../templates/provider.rs.tmpl");
const OBSERVER_TOML: &str = include_str!("../templates/observer.toml.tmpl");
const OBSERVER: &str = include_str!("../templates/observer.rs.tmpl");
const SERVICE_TOML: &str = include_str!("../templates/service.toml.tmpl");
const SERVICE: &str = include_str!("../templates/service.rs.tmpl");
const README: &str = include_str!("../templates/README.md.tmpl");
const GITIGNORE: &str = include_str!("../templates/gitignore.tmpl");
const GITIGNORE_LANG: &str = include_str!("../templates/gitignore-lang.tmpl");
const BUILD_TOML: &str = include_str!("../templates/build.toml.tmpl");
const APP_PY: &str = include_str!("../templates/app.py.tmpl");
const HOOK_PY: &str = include_str!("../templates/hook.py.tmpl");
const TOOL_PY: &str = include_str!("../templates/tool.py.tmpl");
const APP_JS: &str = include_str!("../templates/app.js.tmpl");
const HOOK_JS: &str = include_str!("../templates/hook.js.tmpl");
const TOOL_JS: &str = include_str!("../templates/tool.js.tmpl");

/// The PDK event type of `point` and a sample event for `yoi plugin test`,
/// from the host's table of hook points.
fn point_template(point: HookPoint) -> Option<(&'static str, serde_json::Value)> {
    let info = yoi_host::hook_points()
        .into_iter()
        .find(|i| i.point == point)?;
    let mut sample = info.empty_event;
    if point == HookPoint::ToolPreExec {
        // A call worth looking at: what most first hooks are written for.
        sample = serde_json::json!({
            "tool_name": "shell",
            "input": {"cmd": "ls"},
            "call_id": "call-1",
            "turn": 0
        });
    }
    Some((info.record, sample))
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_owned(), |text, (k, v)| {
        text.replace(&format!("{{{{{k}}}}}"), v)
    })
}

/// How the generated crate depends on the PDK: `$YOI_PDK_PATH`, else this
/// checkout's `crates/pdk` when `yoi` runs from one, else crates.io.
fn pdk_dependency() -> String {
    let local = std::env::var_os("YOI_PDK_PATH")
        .map(PathBuf::from)
        .or_else(|| {
            let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pdk");
            here.join("Cargo.toml").is_file().then_some(here)
        })
        .and_then(|p| p.canonicalize().ok());
    match local {
        Some(path) => format!("{{ path = {:?} }}", path.display().to_string()),
        None => format!("\"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// What the new plugin is: hooks, tools, a provider, an observer.
pub(crate) struct Parts {
    pub(crate) hooks: Vec<HookPoint>,
    pub(crate) tools: Vec<String>,
    pub(crate) provider: Option<String>,
    pub(crate) observer: bool,
    pub(crate) service: Option<String>,
    pub(crate) language: Language,
}

/// Whether `name` is a valid tool or provider name that is also a Rust
/// identifier.
fn rust_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(crate) fn new(name: &str, parts: &Parts, at: Option<&Path>) -> Result<ExitCode> {
    let (hooks, tools) = (&parts.hooks, &parts.tools);
    let id = yoi_manifest::PluginId::new(name).map_err(|e| {
        UsageError(format!(
            "`{name}` cannot be a plugin id ({e}); use lowercase letters, digits, `.`, `_` and `-`, e.g. acme.redact"
        ))
    })?;
    if let Some(p) = parts.provider.as_deref().filter(|p| !rust_name(p)) {
        bail!(UsageError(format!(
            "`{p}` cannot be a provider name: use lowercase letters, digits and `_`, starting with a letter, e.g. chat"
        )));
    }
    if let Some(s) = parts
        .service
        .as_deref()
        .filter(|s| !yoi_manifest::valid_tool_name(s))
    {
        bail!(UsageError(format!(
            "`{s}` cannot be a service name: use lowercase letters, digits, `_` and `-`, starting with a letter, e.g. bridge"
        )));
    }
    for tool in tools {
        if !rust_name(tool) {
            bail!(UsageError(format!(
                "`{tool}` cannot be a tool name: use lowercase letters, digits and `_`, starting with a letter (it is also the Rust function's name)"
            )));
        }
    }
    if parts.language != Language::Rust
        && (parts.provider.is_some() || parts.observer || parts.service.is_some())
    {
        bail!(UsageError(format!(
            "{} plugins have hooks and tools; providers, observers and services are written in Rust (leave out --lang)",
            parts.language
        )));
    }
    if let Some(p) = hooks.iter().find(|p| point_template(**p).is_none()) {
        bail!("this yoi does not know the event type of hook point {p}; update yoi");
    }
    let hooks: Vec<HookPoint> = if hooks.is_empty()
        && tools.is_empty()
        && parts.provider.is_none()
        && !parts.observer
        && parts.service.is_none()
    {
        vec![HookPoint::ToolPreExec]
    } else {
        hooks.to_vec()
    };
    let dir = at.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(UsageError(format!(
            "{} already exists and is not empty; choose another name or folder",
            dir.display()
        )));
    }
    let crate_name = id.as_str().replace('.', "-");
    let crate_file = crate_name.replace('-', "_");
    let plugin_type = crate::lang::type_name(id.as_str());

    let hook_toml: String = hooks
        .iter()
        .map(|p| fill(HOOK_TOML, &[("point", p.as_str())]))
        .collect();
    let tool_toml: String = tools
        .iter()
        .map(|t| fill(TOOL_TOML, &[("tool", t)]))
        .collect();
    let mut body = String::new();
    let mut register = Vec::new();
    if !hooks.is_empty() {
        let methods: String = hooks
            .iter()
            .map(|p| {
                let method = p.as_str().replace('.', "_");
                fill(
                    HOOK,
                    &[
                        ("point", p.as_str()),
                        ("method", &method),
                        (
                            "event",
                            point_template(*p).map_or("HostInfo", |(event, _)| event),
                        ),
                    ],
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        body.push_str(&fill(
            HOOKS,
            &[("type", &plugin_type), ("methods", &methods)],
        ));
        let methods: Vec<String> = hooks.iter().map(|p| p.as_str().replace('.', "_")).collect();
        register.push(format!("{plugin_type} => {}", methods.join(", ")));
    }
    for tool in tools {
        body.push_str(&fill(
            TOOL,
            &[
                ("tool", tool),
                ("type", &format!("{}Input", crate::lang::type_name(tool))),
            ],
        ));
    }
    if !tools.is_empty() {
        register.push(format!("tools: {}", tools.join(", ")));
    }
    let mut surfaces_toml = String::new();
    if let Some(provider) = &parts.provider {
        let ty = format!("{}Provider", crate::lang::type_name(provider));
        body.push_str(&fill(PROVIDER, &[("provider", provider), ("type", &ty)]));
        surfaces_toml.push_str(&fill(PROVIDER_TOML, &[("provider", provider)]));
        register.push(format!("provider: {ty}"));
    }
    if parts.observer {
        let ty = format!("{plugin_type}Observer");
        body.push_str(&fill(OBSERVER, &[("type", &ty)]));
        surfaces_toml.push_str(OBSERVER_TOML);
        register.push(format!("observer: {ty}"));
    }
    let mut capabilities = String::new();
    if let Some(service) = &parts.service {
        let ty = format!("{}Service", crate::lang::type_name(service));
        body.push_str(&fill(SERVICE, &[("type", &ty)]));
        surfaces_toml.push_str(&fill(SERVICE_TOML, &[("service", service)]));
        capabilities.push_str(&format!("routes = [\"/hooks/{service}\"]\n"));
        register.push(format!("service: {ty}"));
    }
    let what: Vec<String> = hooks
        .iter()
        .map(|p| format!("hook {p}"))
        .chain(tools.iter().map(|t| format!("tool {t}")))
        .chain(parts.provider.iter().map(|p| format!("provider {p}")))
        .chain(parts.observer.then(|| "observer".to_owned()))
        .chain(parts.service.iter().map(|s| format!("service {s}")))
        .collect();
    let test = match (hooks.first(), tools.first()) {
        (Some(p), _) => format!("--hook {p} --payload event.json"),
        (None, Some(t)) => format!("--tool {t} --input input.json"),
        (None, None) => String::new(),
    };

    // A Rust crate builds against the host's newest contract; Python and
    // JavaScript plugins against the one their PDK module targets.
    let contract = match parts.language {
        Language::Rust => yoi_host::CONTRACT,
        _ => crate::lang::CONTRACT,
    };
    let manifest = |artifact: &str, build: &str| {
        fill(
            MANIFEST,
            &[
                ("id", id.as_str()),
                ("name", name),
                ("crate_file", artifact),
                ("contract", contract),
                ("hooks", &hook_toml),
                ("tools", &(tool_toml.clone() + &surfaces_toml)),
                ("capabilities", &(capabilities.clone() + build)),
            ],
        )
    };
    let readme = |source: &str| {
        fill(
            README,
            &[
                ("name", name),
                ("id", id.as_str()),
                ("what", &what.join(", ")),
                ("test", &test),
                ("source", source),
            ],
        )
    };
    let files: Vec<(&str, String)> = match parts.language {
        Language::Rust => vec![
            (
                "Cargo.toml",
                fill(CARGO, &[("crate", &crate_name), ("pdk", &pdk_dependency())]),
            ),
            ("plugin.toml", manifest(&crate_file, "")),
            (
                "src/lib.rs",
                fill(
                    LIB,
                    &[
                        ("name", name),
                        ("body", &body),
                        ("register", &register.join("; ")),
                    ],
                ),
            ),
            ("README.md", readme("src/lib.rs")),
            (".gitignore", GITIGNORE.to_owned()),
        ],
        language => {
            let python = language == Language::Python;
            let (app, hook, tool) = if python {
                (APP_PY, HOOK_PY, TOOL_PY)
            } else {
                (APP_JS, HOOK_JS, TOOL_JS)
            };
            let mut code = String::new();
            for p in &hooks {
                let function = crate::lang::handler_name(language, *p);
                code.push_str(&fill(
                    hook,
                    &[
                        ("point", p.as_str()),
                        ("function", &function),
                        (
                            "event",
                            point_template(*p).map_or("HostInfo", |(event, _)| event),
                        ),
                    ],
                ));
            }
            for t in tools {
                code.push_str(&fill(tool, &[("tool", t)]));
            }
            let (source, pdk) = if python {
                ("app.py", "yoi.py")
            } else {
                ("app.js", "yoi.js")
            };
            let build = fill(BUILD_TOML, &[("language", language.as_str())]);
            vec![
                ("plugin.toml", manifest(&crate_file, &build)),
                (source, fill(app, &[("name", name), ("body", &code)])),
                (pdk, crate::lang::pdk_text(language)),
                ("README.md", readme(source)),
                (".gitignore", GITIGNORE_LANG.to_owned()),
            ]
        }
    };
    // Samples for the README's `yoi plugin test` line.
    let mut samples = Vec::new();
    if let Some(point) = hooks.first() {
        samples.push((
            "event.json",
            serde_json::to_string_pretty(
                &point_template(*point).map(|(_, s)| s).unwrap_or_default(),
            )? + "\n",
        ));
    }
    if !tools.is_empty() {
        samples.push(("input.json", "{ \"text\": \"hello\" }\n".to_owned()));
    }
    let files: Vec<(&str, String)> = files.into_iter().chain(samples).collect();
    for (file, text) in &files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let language = match parts.language {
        Language::Rust => String::new(),
        l => format!(", in {l}"),
    };
    outln!(
        "created {} ({}{language}) in {}",
        id,
        what.join(", "),
        dir.display()
    );
    for (file, _) in &files {
        outln!("  {file}");
    }
    outln!("next: cd {} && yoi plugin pack", dir.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_types() {
        assert_eq!(crate::lang::type_name("acme.notes-2"), "AcmeNotes2");
        assert_eq!(crate::lang::type_name("demo"), "Demo");
        assert_eq!(crate::lang::type_name("add_note"), "AddNote");
    }

    #[test]
    fn templates_are_filled_by_name() {
        assert_eq!(
            fill("{{a}}-{{b}}-{{a}}", &[("a", "x"), ("b", "y")]),
            "x-y-x"
        );
    }
}
