//! Component inspection: what an artifact is, imports and exports, checked
//! against the manifest and the host without running anything.

use wasmparser::{Encoding, Parser, Payload, Validator, WasmFeatures};

use crate::compat::Compat;
use crate::contract::ContractVersion;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::Manifest;

/// A component's top-level import and export names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentSummary {
    /// Import names, e.g. `yoi:plugin/log@0.1.0`.
    pub imports: Vec<String>,
    /// Export names, e.g. `yoi:plugin/tool-pre-exec@0.1.0`.
    pub exports: Vec<String>,
}

/// Decodes and validates `bytes` as a component and lists its imports and
/// exports. Returns the code and reason when it is not one.
pub fn summarize(bytes: &[u8]) -> Result<ComponentSummary, (Code, String)> {
    if bytes.starts_with(b"\x7fELF")
        || bytes.starts_with(b"\xcf\xfa\xed\xfe")
        || bytes.starts_with(b"MZ")
    {
        return Err((
            Code::PrecompiledArtifact,
            "is a native binary (for example a precompiled .cwasm), not WebAssembly".into(),
        ));
    }
    if !bytes.starts_with(b"\0asm") {
        return Err((
            Code::InvalidComponent,
            "is not WebAssembly: it does not start with the `\\0asm` header".into(),
        ));
    }
    let mut validator = Validator::new_with_features(WasmFeatures::default());
    let mut summary = ComponentSummary::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload =
            payload.map_err(|e| (Code::InvalidComponent, format!("cannot be decoded: {e}")))?;
        if let Payload::Version {
            encoding: Encoding::Module,
            ..
        } = &payload
            && depth == 0
        {
            return Err((
                Code::NotAComponent,
                "is a core WebAssembly module, not a component".into(),
            ));
        }
        validator.payload(&payload).map_err(|e| {
            (
                Code::InvalidComponent,
                format!("is not a valid component: {e}"),
            )
        })?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| (Code::InvalidComponent, e.to_string()))?;
                    summary.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| (Code::InvalidComponent, e.to_string()))?;
                    summary.exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    crate::code::CodeStats::measure(bytes, &crate::code::CodeLimits::default())
        .map_err(|why| (Code::CodeTooComplex, why))?;
    Ok(summary)
}

/// Why an import is refused and what to do instead, for `yoi plugin check`.
fn refused_import_fix(
    base: &str,
    version: Option<&semver::Version>,
    provided: &[String],
) -> String {
    let linked: Vec<&str> = provided
        .iter()
        .filter_map(|i| i.strip_prefix("wasi:"))
        .collect();
    let wasi = if linked.is_empty() {
        "this host links no WASI interface".to_owned()
    } else {
        format!(
            "of WASI 0.2, this host links only {} (docs/hooks.md, \"The sandbox\")",
            linked.join(", ")
        )
    };
    if base.starts_with("wasi:http/") {
        format!(
            "{wasi}: make requests with Yoi's `https` host API (yoi:plugin/https; `yoi.https` in Python and JavaScript), which the operator's grants allow;              JavaScript plugins built by `yoi plugin pack` leave WASI HTTP out"
        )
    } else if base.starts_with("wasi:") && version.is_some_and(|v| v.major != 0 || v.minor != 2) {
        format!(
            "{wasi}; this import is WASI {}: build with a toolchain that targets WASI 0.2 (wasm32-wasip2, componentize-py, componentize-js)",
            version.map_or_else(String::new, ToString::to_string)
        )
    } else if base.starts_with("wasi:") {
        format!("{wasi}; remove the code that needs `{base}`")
    } else {
        "plugins reach the outside world only through Yoi's host APIs (yoi:plugin/*); remove the code that needs this import".to_owned()
    }
}

/// Checks the component in `bytes` against `manifest` and `host`: it is a
/// component, imports only what the host provides, targets the declared
/// contract, and exports exactly the declared hooks (and tools).
pub fn inspect(manifest: &Manifest, bytes: &[u8], host: &Compat) -> Vec<Diagnostic> {
    let at = |path: &str| manifest.locations.get(path).cloned();
    let artifact = manifest.runtime.artifact.display().to_string();
    let summary = match summarize(bytes) {
        Ok(s) => s,
        Err((code, why)) => {
            let fix = if code == Code::CodeTooComplex {
                "split the function, or turn deep nesting into a table or a loop; every host compiles the plugins it loads, and these limits keep that bounded"
            } else {
                "build the plugin with yoi-pdk: `cargo build --target wasm32-wasip2 --release` emits a component"
            };
            return vec![
                Diagnostic::new(code, "runtime.artifact", format!("`{artifact}` {why}"), fix)
                    .at(at("runtime.artifact")),
            ];
        }
    };
    let declared = &manifest.plugin.contract;
    let mut out = Vec::new();
    let mut contract_versions = Vec::new();

    for name in &summary.imports {
        let (base, version) = name.split_once('@').unwrap_or((name, ""));
        let version = semver::Version::parse(version).ok();
        let allowed = host.imports.iter().any(|i| i == base)
            && match (&version, base.starts_with("wasi:")) {
                (Some(v), true) => v.major == 0 && v.minor == 2,
                (Some(_), false) => true,
                (None, _) => false,
            };
        if !allowed {
            out.push(
                Diagnostic::new(
                    Code::ForbiddenImport,
                    "runtime.artifact",
                    format!("the component imports `{name}`, which Yoi does not provide"),
                    refused_import_fix(base, version.as_ref(), &host.imports),
                )
                .at(at("runtime.artifact")),
            );
        }
        if base.starts_with("yoi:plugin/")
            && let Some(v) = version
        {
            contract_versions.push((name.clone(), v));
        }
    }

    let prefix = "yoi:plugin/";
    let mut exported_hooks = Vec::new();
    for name in &summary.exports {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if let Ok(v) = semver::Version::parse(version) {
            contract_versions.push((name.clone(), v));
        }
        if let Some(point) = crate::HookPoint::ALL
            .iter()
            .find(|p| p.wit_interface() == iface)
        {
            exported_hooks.push(*point);
        }
    }

    for (name, version) in contract_versions {
        if version != declared.0 {
            out.push(
                Diagnostic::new(
                    Code::ContractMismatch,
                    "plugin.contract",
                    format!(
                        "the manifest declares {declared} but the component uses `{name}` ({})",
                        ContractVersion(version)
                    ),
                    "set `plugin.contract` to the version the component was built against, or rebuild it",
                )
                .at(at("plugin.contract")),
            );
        }
    }

    for (i, hook) in manifest.hooks.iter().enumerate() {
        // A host-defined point is the `host-hooks` surface's, below.
        if hook.point.host().is_none() && !exported_hooks.contains(&hook.point) {
            let path = format!("hooks[{i}].point");
            out.push(
                Diagnostic::new(
                    Code::HookNotExported,
                    &path,
                    format!(
                        "hook `{}` is declared, but the component does not export `{prefix}{}`",
                        hook.point,
                        hook.point.wit_interface()
                    ),
                    format!(
                        "add `{}` to the plugin's `yoi_pdk::register!` list, or remove this [[hooks]] table",
                        hook.point.as_str().replace('.', "_")
                    ),
                )
                .at(at(&path)),
            );
        }
    }
    for point in exported_hooks {
        if manifest.hook(point).is_none() {
            out.push(Diagnostic::new(
                Code::HookNotDeclared,
                "hooks",
                format!(
                    "the component exports hook `{point}` (`{prefix}{}`), but plugin.toml does not declare it",
                    point.wit_interface()
                ),
                format!("add a [[hooks]] table with `point = \"{point}\"`, or drop it from `yoi_pdk::register!`"),
            ));
        }
    }
    if let (true, Some(iface)) = (manifest.tools.is_empty(), &host.tools_interface)
        && summary
            .exports
            .iter()
            .any(|e| e.split_once('@').map_or(e.as_str(), |(b, _)| b) == iface)
    {
        out.push(Diagnostic::new(
            Code::ToolsNotDeclared,
            "tools",
            format!("the component exports tools (`{iface}`), but plugin.toml declares none, so no model would see them"),
            "add a [[tools]] table (name, description, input_schema) for each function in `register!(tools: ...)`, or drop them from it",
        ));
    }
    if let (false, Some(iface)) = (manifest.tools.is_empty(), &host.tools_interface) {
        let exported = summary
            .exports
            .iter()
            .any(|e| e.split_once('@').map_or(e.as_str(), |(b, _)| b) == iface);
        if !exported {
            out.push(
                Diagnostic::new(
                    Code::ToolNotExported,
                    "tools",
                    format!("tools are declared, but the component does not export `{iface}`"),
                    "register the plugin's tools with yoi-pdk, or remove the [[tools]] tables",
                )
                .at(at("tools[0].name")),
            );
        }
    }
    check_surface(
        &mut out,
        &summary,
        Surface {
            surface: crate::ExportSurface::Provider,
            declared: !manifest.providers.is_empty(),
            not_exported: Code::ProviderNotExported,
            not_declared: Code::ProvidersNotDeclared,
            path: "providers",
            table: "[[providers]] tables",
            location: at("providers[0].name"),
        },
    );
    check_surface(
        &mut out,
        &summary,
        Surface {
            surface: crate::ExportSurface::Observer,
            declared: manifest.observer.is_some(),
            not_exported: Code::ObserverNotExported,
            not_declared: Code::ObserverNotDeclared,
            path: "observer",
            table: "[observer] table",
            location: at("observer.kinds"),
        },
    );
    check_surface(
        &mut out,
        &summary,
        Surface {
            surface: crate::ExportSurface::Service,
            declared: !manifest.services.is_empty(),
            not_exported: Code::ServiceNotExported,
            not_declared: Code::ServicesNotDeclared,
            path: "services",
            table: "[[services]] tables",
            location: at("services[0].name"),
        },
    );
    let host_hook = manifest.hooks.iter().position(|h| h.point.host().is_some());
    check_surface(
        &mut out,
        &summary,
        Surface {
            surface: crate::ExportSurface::HostHooks,
            declared: host_hook.is_some(),
            not_exported: Code::HookNotExported,
            not_declared: Code::HookNotDeclared,
            path: "hooks",
            table: "[[hooks]] of a host-defined point",
            location: at(&format!("hooks[{}].point", host_hook.unwrap_or(0))),
        },
    );
    out
}

/// How `yoi_pdk::register!` exports a surface.
fn register_form(surface: crate::ExportSurface) -> String {
    match surface {
        crate::ExportSurface::HostHooks => "Plugin => host_hooks".to_owned(),
        other => format!("{}: ...", other.key()),
    }
}

/// An export a manifest table stands for (`[[providers]]` for
/// `yoi:plugin/provider`, `[observer]` for `yoi:plugin/observer`,
/// `[[services]]` for `yoi:plugin/service`).
struct Surface {
    surface: crate::ExportSurface,
    declared: bool,
    not_exported: Code,
    not_declared: Code,
    path: &'static str,
    table: &'static str,
    location: Option<crate::diagnostic::Span>,
}

/// The table and the export go together: each without the other is an
/// error, found at publish rather than at the first call.
fn check_surface(out: &mut Vec<Diagnostic>, summary: &ComponentSummary, s: Surface) {
    let iface = format!("{}/{}", ContractVersion::PACKAGE, s.surface.interface());
    let exported = summary
        .exports
        .iter()
        .any(|e| e.split_once('@').map_or(e.as_str(), |(b, _)| b) == iface);
    match (s.declared, exported) {
        (true, false) => out.push(
            Diagnostic::new(
                s.not_exported,
                s.path,
                format!(
                    "plugin.toml declares the {}, but the component does not export `{iface}`",
                    s.table
                ),
                format!(
                    "target {} or later and register it with yoi-pdk (`yoi_pdk::register!({})`), or remove the {}",
                    s.surface.since(), register_form(s.surface), s.table
                ),
            )
            .at(s.location),
        ),
        (false, true) => out.push(Diagnostic::new(
            s.not_declared,
            s.path,
            format!(
                "the component exports `{iface}`, but plugin.toml has no {}, so the host would never call it",
                s.table
            ),
            format!(
                "declare the {} (docs/manifest.md), or drop `{}` from `yoi_pdk::register!`",
                s.table, s.surface.interface()
            ),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_what_is_not_a_component() {
        assert_eq!(
            summarize(b"\0asm\x01\0\0\0").unwrap_err().0,
            Code::NotAComponent
        );
        assert_eq!(
            summarize(b"\x7fELF\x02\x01").unwrap_err().0,
            Code::PrecompiledArtifact
        );
        assert_eq!(summarize(b"hello").unwrap_err().0, Code::InvalidComponent);
        assert_eq!(
            summarize(b"\0asm\x0d\0\x01\0\xff").unwrap_err().0,
            Code::InvalidComponent
        );
        assert_eq!(summarize(b"").unwrap_err().0, Code::InvalidComponent);
    }

    #[test]
    fn lists_top_level_imports_and_exports_only() {
        let wasm = wat::parse_str(
            r#"(component
                (import "yoi:plugin/log@0.1.0" (instance))
                (component $inner (import "wasi:sockets/tcp@0.2.0" (instance)))
                (instance $i)
                (export "yoi:plugin/tool-pre-exec@0.1.0" (instance $i))
            )"#,
        )
        .unwrap();
        let s = summarize(&wasm).unwrap();
        assert_eq!(s.imports, vec!["yoi:plugin/log@0.1.0"]);
        assert_eq!(s.exports, vec!["yoi:plugin/tool-pre-exec@0.1.0"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = summarize(&bytes);
            let mut with_header = b"\0asm\x0d\0\x01\0".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = summarize(&with_header);
        }
    }
}
