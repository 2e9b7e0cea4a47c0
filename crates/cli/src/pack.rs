//! `yoi plugin pack`: build the component (Rust with cargo, Python and
//! JavaScript through `lang`), write its digest, check it, and write the
//! `.yoi` package.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use yoi_host::Host;
use yoi_manifest::{Digest, Language, MANIFEST_FILE, Manifest, Package};

/// The guest target.
const TARGET: &str = "wasm32-wasip2";

fn step(n: u32, what: &str) {
    errln!("[{n}/5] {what}");
}

/// Installs the guest target with rustup when it is missing.
fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET) =>
        {
            Ok(())
        }
        Ok(_) => {
            errln!("      installing the {TARGET} target: rustup target add {TARGET}");
            let status = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()
                .context("running rustup")?;
            if !status.success() {
                bail!(
                    "`rustup target add {TARGET}` failed ({status}); install the target by hand and pack again"
                );
            }
            Ok(())
        }
        // Without rustup the toolchain may still have the target; cargo
        // says so clearly if not.
        Err(_) => {
            errln!("      rustup not found; assuming the toolchain has {TARGET}");
            Ok(())
        }
    }
}

/// Builds the crate in `dir` for the guest target, optimized for size, and
/// returns the component's path. Cargo's progress goes to the terminal.
fn build(dir: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        // Small components: they are shipped and compiled by every host.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("running cargo (is Rust installed?)")?;
    let mut wasm = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let is_cdylib = msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
            if msg["reason"] == "compiler-artifact" && is_cdylib {
                wasm = msg["filenames"]
                    .as_array()
                    .and_then(|f| {
                        f.iter()
                            .filter_map(|f| f.as_str())
                            .find(|f| f.ends_with(".wasm"))
                    })
                    .map(PathBuf::from);
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("the build failed ({status}); fix the errors above and pack again");
    }
    wasm.context(
        "the build produced no .wasm file: is `crate-type = [\"cdylib\"]` set in Cargo.toml?",
    )
}

/// Writes `digest` into `runtime.digest` of the manifest, keeping the rest
/// of the file as it is.
fn write_digest(manifest: &Path, digest: &Digest) -> Result<()> {
    let text = std::fs::read_to_string(manifest)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    doc["runtime"]["digest"] = toml_edit::value(digest.to_string());
    let updated = doc.to_string();
    if updated != text {
        std::fs::write(manifest, updated)?;
    }
    Ok(())
}

pub(crate) fn pack(path: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let dir = crate::plugin::package_dir(path);
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "reading {}: is {} a plugin crate?",
            manifest_path.display(),
            dir.display()
        )
    })?;
    let manifest = match Manifest::parse(&text) {
        Ok(m) => m,
        Err(d) => {
            outln!("{}", d.render(false));
            bail!(
                "{} has problems; fix them and pack again",
                manifest_path.display()
            );
        }
    };
    let language = crate::lang::detect(&dir, &manifest)?;
    let bytes = match language {
        Language::Rust => {
            if !dir.join("Cargo.toml").is_file() {
                bail!(
                    "{} has no Cargo.toml, but plugin.toml says `[build] language = \"rust\"`\n  \
                     fix: make a plugin crate with `yoi plugin new`; to check a package folder that is already built, use `yoi plugin check`",
                    dir.display()
                );
            }
            step(1, &format!("checking the {TARGET} target"));
            ensure_target()?;
            step(
                2,
                &format!(
                    "building {} for {TARGET} (release, optimized for size)",
                    manifest.plugin.id
                ),
            );
            let built = build(&dir)?;
            std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?
        }
        Language::Python | Language::JavaScript => {
            let tool = if language == Language::Python {
                &crate::lang::COMPONENTIZE_PY
            } else {
                &crate::lang::COMPONENTIZE_JS
            };
            step(
                1,
                &format!(
                    "{language} plugin: {} {} (installed from {} when missing)",
                    tool.package, tool.version, tool.registry
                ),
            );
            step(
                2,
                &format!(
                    "building {} from {}",
                    manifest.plugin.id,
                    manifest.build.entry_for(language).unwrap_or_default()
                ),
            );
            let built = crate::lang::build(&dir, &manifest, language)?;
            if built.cached {
                errln!(
                    "      unchanged since the last build: using {}/component.wasm",
                    crate::lang::BUILD_DIR
                );
            }
            built.bytes
        }
    };
    let artifact = dir.join(&manifest.runtime.artifact);
    std::fs::write(&artifact, &bytes).with_context(|| format!("writing {}", artifact.display()))?;
    let digest = Digest::of(&bytes);
    step(
        3,
        &format!(
            "{} is {} bytes, {digest}",
            manifest.runtime.artifact.display(),
            bytes.len()
        ),
    );
    write_digest(&manifest_path, &digest)?;

    step(
        4,
        "checking the package as a host loads it (manifest, digest, component against the \
         contract, compiled within the limits and linked)",
    );
    let package = match Package::open(&dir, &Host::compat()) {
        Ok(p) => p,
        Err(d) => {
            outln!("{}", d.render(false));
            bail!("the package has problems; fix them and pack again");
        }
    };
    if let Err(e) = crate::plugin::check_package(package.clone()) {
        bail!("{e}\nthe package would not load on a host; fix it and pack again");
    }
    let out = dir.join(format!(
        "{}-{}.yoi",
        package.manifest().plugin.id,
        package.manifest().plugin.version
    ));
    step(5, &format!("writing {}", out.display()));
    package
        .write_archive(&out)
        .with_context(|| format!("writing {}", out.display()))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    outln!(
        "packed {} ({size} bytes) in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    outln!("  digest: {digest}");
    outln!("  next: yoi publish {}", out.display());
    Ok(ExitCode::SUCCESS)
}
