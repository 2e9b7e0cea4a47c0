//! `[[hooks]]`: the points a plugin handles, each within its contract.

use super::*;

/// Refuses a hook point the manifest's own contract does not have yet: a
/// component built against that contract cannot export it.
pub(super) fn hooks_in_contract(
    cx: &mut Cx<'_>,
    contract: &ContractVersion,
    hooks: &[Hook],
    locs: &Locs,
) {
    for (i, hook) in hooks.iter().enumerate() {
        if hook.point.in_contract(contract) {
            continue;
        }
        let path = format!("hooks[{i}].point");
        let since = hook.point.since();
        cx.error(
            Code::HookContract,
            &path,
            locs.get(&path).cloned(),
            format!(
                "hook point `{}` came in {since}, but the plugin targets {contract}",
                hook.point
            ),
            format!(
                "build against {since} or newer and set `contract = \"{since}\"`, or remove this hook"
            ),
        );
    }
}

pub(super) fn read_hooks(
    cx: &mut Cx<'_>,
    root: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<Vec<Hook>> {
    let mut hooks = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "hooks") {
        t.deny_unknown(cx, fields::HOOK, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let point = t
            .required_string(cx, "point", "the hook point", "point = \"tool.pre_exec\"")
            .and_then(|f| {
                locs.insert(path("point"), f.span.clone());
                match f.value.parse::<HookPoint>() {
                    Ok(p) if !seen.insert(p) => {
                        cx.error(
                            Code::HookDuplicate,
                            &path("point"),
                            Some(f.span),
                            format!("hook point `{p}` is declared more than once"),
                            "declare each hook point once; one handler per point per plugin",
                        );
                        None
                    }
                    Ok(p) => Some(p),
                    Err(_) => {
                        let known: Vec<_> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
                        // Outside Yoi's namespaces it was meant as a host's
                        // point: say what is wrong with it as one.
                        let why = match crate::HostPoint::new(f.value) {
                            Err(crate::HostPointError::Reserved(_)) | Ok(_) => String::new(),
                            Err(why) if f.value.contains('.') => format!(": {why}"),
                            Err(_) => String::new(),
                        };
                        let fix = match crate::walk::did_you_mean(f.value, &known) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => format!(
                                "use one of Yoi's points ({}), or a point the host declares, written `namespace.name` in lowercase outside Yoi's namespaces (e.g. `build.pre_compile`)",
                                known.join(", ")
                            ),
                        };
                        cx.error(
                            Code::HookPoint,
                            &path("point"),
                            Some(f.span),
                            format!("`{}` is not a hook point{why}", f.value.escape_default()),
                            fix,
                        );
                        None
                    }
                }
            });
        let priority = match t.integer(cx, "priority") {
            None => Some(0),
            Some(f) if PRIORITY_RANGE.contains(&f.value) => i32::try_from(f.value).ok(),
            Some(f) => {
                cx.error(
                    Code::HookPriority,
                    &path("priority"),
                    Some(f.span),
                    format!("priority {} is out of bounds", f.value),
                    format!(
                        "use {} to {} (higher runs first; default 0)",
                        PRIORITY_RANGE.start(),
                        PRIORITY_RANGE.end()
                    ),
                );
                None
            }
        };
        let fail = match t.string(cx, "fail") {
            None => Some(FailMode::Open),
            Some(f) => match f.value {
                "open" => Some(FailMode::Open),
                "closed" => Some(FailMode::Closed),
                other => {
                    cx.error(
                        Code::HookFailMode,
                        &path("fail"),
                        Some(f.span),
                        format!("`{}` is not a fail mode", other.escape_default()),
                        "write `fail = \"open\"` (failures let the event through) or `fail = \"closed\"` (failures block it)",
                    );
                    None
                }
            },
        };
        let timeout = t.integer(cx, "timeout_ms");
        let timeout_written = timeout.is_some();
        let timeout_ms = match timeout {
            None => Some(Hook::DEFAULT_TIMEOUT_MS),
            Some(f) if (1..=i64::from(Hook::MAX_TIMEOUT_MS)).contains(&f.value) => {
                u32::try_from(f.value).ok()
            }
            Some(f) => {
                cx.error(
                    Code::HookTimeout,
                    &path("timeout_ms"),
                    Some(f.span),
                    format!("{} ms is out of bounds", f.value),
                    format!(
                        "use 1 to {} ms (default {})",
                        Hook::MAX_TIMEOUT_MS,
                        Hook::DEFAULT_TIMEOUT_MS
                    ),
                );
                None
            }
        };
        match (point, priority, fail, timeout_ms) {
            (Some(point), Some(priority), Some(fail), Some(timeout_ms)) => hooks.push(Hook {
                point,
                priority,
                fail,
                timeout_ms,
                timeout_written,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(hooks)
}
