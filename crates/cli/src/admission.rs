//! A package on its way into the registry, whatever door it comes in by
//! (`yoi publish`, an upload to `yoi serve`, a JSON package, a confirmed
//! preview): opened with the manifest's checks, checked as a host would
//! load it, then published. Every refusal on the way is audited here, with
//! one wording, so the audit log holds every attempt.

use yoi_host::Host;
use yoi_manifest::Package;
use yoi_registry::{Answer, Registry};

/// Checks that `package` would load on a host (compiled in the compile
/// worker, linked), as every door does before publishing. One at a time:
/// each compile may take seconds and gigabytes.
pub(crate) fn loads(package: &Package) -> Result<(), String> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    crate::plugin::check_package(package.clone())
        .map(drop)
        .map_err(|e| format!("it would not load on a host: {e}"))
}

/// Audits that `what` (a path, `the uploaded package`) was refused as
/// `actor` for `why`, and answers it.
pub(crate) fn refuse(registry: &Registry, actor: &str, what: &str, why: &str) -> Answer {
    registry.refused(actor, "publish", &format!("{what} was refused: {why}"))
}

/// Publishes a package that opened (or says why it did not) as `actor`:
/// checked as a host would load it first; every refusal audited.
pub(crate) fn publish(
    registry: &Registry,
    opened: Result<Package, String>,
    what: &str,
    actor: &str,
) -> Answer {
    let package = match opened {
        Ok(package) => package,
        Err(why) => return refuse(registry, actor, what, &why),
    };
    if let Err(why) = loads(&package) {
        return refuse(registry, actor, what, &why);
    }
    registry.publish_answer(&package, &Host::compat(), actor, None)
}
