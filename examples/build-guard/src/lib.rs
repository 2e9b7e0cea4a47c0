//! Build guard: a plugin for two points its host declares itself (contract
//! 0.6.0), a build pipeline's `build.pre_compile` and `build.post_compile`.
//! Before a compile it refuses a build that asks for a forbidden flag (the
//! `forbidden` setting) and stamps the others with a build id; after one it
//! logs the result. The host declares which fields a plugin may change
//! (`flags`, `build_id`) and checks every change against the event's schema
//! (docs/hooks.md, "Host-defined points").

use yoi_pdk::prelude::*;

/// The settings plugin.toml declares.
#[derive(serde::Deserialize)]
struct Settings {
    /// Flags no build may use.
    forbidden: Vec<String>,
}

/// A `build.pre_compile` event, as this plugin reads it (fields it does not
/// name are kept as they were).
#[derive(serde::Deserialize, serde::Serialize)]
struct Compile {
    target: String,
    flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    build_id: Option<String>,
    #[serde(flatten)]
    rest: json::Map<String, json::Value>,
}

/// A `build.post_compile` event.
#[derive(serde::Deserialize)]
struct Compiled {
    target: String,
    ok: bool,
    #[serde(default)]
    build_id: Option<String>,
}

struct BuildGuard;

impl Plugin for BuildGuard {
    fn host_hook(event: HostEvent) -> HookResult<json::Value> {
        match event.point.as_str() {
            "build.pre_compile" => pre_compile(event.parse()?),
            "build.post_compile" => {
                let done: Compiled = event.parse()?;
                log::info(&format!(
                    "build {} of {} {}",
                    done.build_id.as_deref().unwrap_or("(no id)"),
                    done.target,
                    if done.ok { "succeeded" } else { "failed" }
                ));
                Ok(Outcome::Continue)
            }
            _ => Ok(Outcome::Continue),
        }
    }
}

fn pre_compile(mut build: Compile) -> HookResult<json::Value> {
    let settings: &Settings = config::load()?;
    if let Some(flag) = build.flags.iter().find(|f| settings.forbidden.contains(f)) {
        return Ok(Outcome::block(format!(
            "{flag} is not allowed in builds of {}",
            build.target
        )));
    }
    if build.build_id.is_none() {
        build.build_id = Some(build_id(&build));
    }
    Outcome::change_to(&build)
}

/// A build id derived from what is built (the same build, the same id).
fn build_id(build: &Compile) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in build
        .target
        .bytes()
        .chain(build.flags.iter().flat_map(|f| f.bytes().chain([0])))
    {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("b-{hash:016x}")
}

yoi_pdk::register!(BuildGuard => host_hooks);
