//! `[plugin]` and `[runtime]`: who the plugin is and which component it runs.

use super::*;

pub(super) fn read_plugin(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<PluginMeta> {
    t.deny_unknown(cx, fields::PLUGIN, DOCS);
    let id = t
        .required_string(cx, "id", "the plugin's stable id", "id = \"acme.redact\"")
        .and_then(|f| {
            locs.insert("plugin.id".into(), f.span.clone());
            PluginId::new(f.value)
                .map_err(|why| {
                    cx.error(
                        Code::IdFormat,
                        "plugin.id",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "use lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit, e.g. `acme.redact`",
                    )
                })
                .ok()
        });
    let version = t
        .required_string(
            cx,
            "version",
            "the plugin's semver version",
            "version = \"0.1.0\"",
        )
        .and_then(|f| {
            Version::parse(f.value)
                .map_err(|e| {
                    cx.error(
                        Code::VersionFormat,
                        "plugin.version",
                        Some(f.span),
                        format!(
                            "`{}` is not a semver version: {e}",
                            f.value.escape_default()
                        ),
                        "write a version like `1.2.0`",
                    )
                })
                .ok()
        });
    let contract = t
        .required_string(cx, "contract", "the WIT contract it targets", "contract = \"yoi:plugin@<version>\"")
        .and_then(|f| {
            locs.insert("plugin.contract".into(), f.span.clone());
            f.value
                .parse::<ContractVersion>()
                .map_err(|why| {
                    cx.error(
                        Code::ContractFormat,
                        "plugin.contract",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "write `contract = \"yoi:plugin@<version>\"` with the version your yoi-pdk builds against (`yoi_pdk::CONTRACT`; `yoi plugin new` writes it)",
                    )
                })
                .ok()
        });
    let mut ok = true;
    let engine = match t.string(cx, "engine") {
        None => None,
        Some(f) => {
            locs.insert("plugin.engine".into(), f.span.clone());
            match VersionReq::parse(f.value) {
                Ok(req) => Some(req),
                Err(e) => {
                    ok = false;
                    cx.error(
                        Code::EngineRange,
                        "plugin.engine",
                        Some(f.span),
                        format!("`{}` is not a semver range: {e}", f.value.escape_default()),
                        "write a range like `>=0.1, <0.2`, or remove the field to accept any host",
                    );
                    None
                }
            }
        }
    };
    let mut text = |key: &str, max: usize, cx: &mut Cx<'_>| {
        t.string(cx, key).and_then(|f| {
            let path = format!("plugin.{key}");
            if text_field(cx, &path, f.value, f.span, max) {
                Some(f.value.to_owned())
            } else {
                ok = false;
                None
            }
        })
    };
    let name = text("name", 100, cx);
    let description = text("description", 2000, cx);
    let license = text("license", 200, cx);
    let mut authors = Vec::new();
    for (i, f) in t.strings(cx, "authors").into_iter().enumerate() {
        if text_field(cx, &format!("plugin.authors[{i}]"), f.value, f.span, 200) {
            authors.push(f.value.to_owned());
        } else {
            ok = false;
        }
    }
    Some(PluginMeta {
        id: id?,
        version: version?,
        name,
        description,
        authors,
        license,
        contract: contract?,
        engine,
    })
    .filter(|_| ok)
}

pub(super) fn read_runtime(cx: &mut Cx<'_>, t: &Table<'_, '_>, locs: &mut Locs) -> Option<Runtime> {
    t.deny_unknown(cx, fields::RUNTIME, DOCS);
    let kind_ok = t
        .required_string(cx, "kind", "the runtime kind", "kind = \"wasm-component\"")
        .map(|f| {
            if f.value == RUNTIME_KIND {
                return true;
            }
            let fix = match f.value {
                "wasm" | "wasm-module" | "core-wasm" | "wasi" | "wasip1" | "wasm32-wasi"
                | "extism" => {
                    "core WebAssembly modules are not run by Yoi: build a component with yoi-pdk \
                     (`cargo build --target wasm32-wasip2`) and set `kind = \"wasm-component\"`"
                }
                _ => "set `kind = \"wasm-component\"`; it is the only runtime Yoi supports",
            };
            cx.error(
                Code::RuntimeKind,
                "runtime.kind",
                Some(f.span),
                format!(
                    "runtime kind `{}` is not supported; Yoi runs WebAssembly components only",
                    f.value.escape_default()
                ),
                fix,
            );
            false
        })
        .unwrap_or(false);
    let artifact = t
        .required_string(cx, "artifact", "the component's path in the package", "artifact = \"plugin.wasm\"")
        .and_then(|f| {
            locs.insert("runtime.artifact".into(), f.span.clone());
            match relative_path(f.value) {
                Ok(p) if p != "." => Some(PathBuf::from(p)),
                Ok(_) => {
                    cx.error(
                        Code::ArtifactPath,
                        "runtime.artifact",
                        Some(f.span),
                        format!("`{}` does not name a file", f.value.escape_default()),
                        "name the component file, e.g. `artifact = \"plugin.wasm\"`",
                    );
                    None
                }
                Err(why) => {
                    cx.error(
                        Code::ArtifactPath,
                        "runtime.artifact",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "name a file inside the package folder with a relative path, e.g. `artifact = \"plugin.wasm\"`",
                    );
                    None
                }
            }
        });
    let digest = t
        .required_string(cx, "digest", "the artifact's sha256 digest", "digest = \"sha256:<64 hex digits>\"")
        .and_then(|f| {
            locs.insert("runtime.digest".into(), f.span.clone());
            f.value
                .parse::<Digest>()
                .map_err(|why| {
                    cx.error(
                        Code::DigestFormat,
                        "runtime.digest",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "write `sha256:` and the 64 lowercase hex digits of the artifact's SHA-256 (`sha256sum FILE`)",
                    )
                })
                .ok()
        });
    Some(Runtime {
        artifact: artifact?,
        digest: digest?,
    })
    .filter(|_| kind_ok)
}
