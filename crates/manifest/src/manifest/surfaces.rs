//! `[[providers]]`, `[observer]` and `[[services]]`: the exports beyond hooks and tools, with their names and limits.

use super::*;

/// How a kind of `[[...]]` entry's `name` is spoken of, and its codes.
struct Naming {
    what: &'static str,
    example: &'static str,
    invalid: Code,
    duplicate: Code,
}

const PROVIDER_NAMES: Naming = Naming {
    what: "provider",
    example: "openai",
    invalid: Code::ProviderName,
    duplicate: Code::ProviderDuplicate,
};

const SERVICE_NAMES: Naming = Naming {
    what: "service",
    example: "bridge",
    invalid: Code::ServiceName,
    duplicate: Code::ServiceDuplicate,
};

/// An entry's `name`: required, `[a-z][a-z0-9_-]{0,63}`, and unique among
/// the entries `seen` so far.
fn unique_name<'a>(
    cx: &mut Cx<'_>,
    t: &Table<'a, '_>,
    n: &Naming,
    seen: &mut BTreeSet<&'a str>,
    locs: &mut Locs,
) -> Option<String> {
    let path = t.field_path("name");
    let f = t.required_string(
        cx,
        "name",
        &format!("the {}'s name", n.what),
        &format!("name = \"{}\"", n.example),
    )?;
    locs.insert(path.clone(), f.span.clone());
    if !valid_tool_name(f.value) {
        cx.error(
            n.invalid,
            &path,
            Some(f.span),
            format!("`{}` is not a valid {} name", f.value.escape_default(), n.what),
            format!(
                "use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter, e.g. `{}`",
                n.example
            ),
        );
        None
    } else if !seen.insert(f.value) {
        cx.error(
            n.duplicate,
            &path,
            Some(f.span),
            format!("{} `{}` is declared more than once", n.what, f.value),
            format!("give each {} a unique name", n.what),
        );
        None
    } else {
        Some(f.value.to_owned())
    }
}

pub(super) fn read_providers(
    cx: &mut Cx<'_>,
    root: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<Vec<Provider>> {
    let mut providers = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "providers") {
        t.deny_unknown(cx, fields::PROVIDER, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = unique_name(cx, &t, &PROVIDER_NAMES, &mut seen, locs);
        let mut models = Vec::new();
        let mut models_ok = true;
        if t.raw("models").is_none() {
            cx.error(
                Code::MissingField,
                &path("models"),
                Some(t.span.clone()),
                format!("`[{}]` is missing `models`", t.path),
                "add `models = [\"gpt-4o-mini\", \"local-*\"]`: exact names, or prefixes ending in `*`",
            );
            models_ok = false;
        }
        for (i, f) in t.strings(cx, "models").into_iter().enumerate() {
            match ModelPattern::parse(f.value) {
                Ok(m) if models.contains(&m) => {
                    cx.error(
                        Code::ModelPattern,
                        &format!("{}[{i}]", path("models")),
                        Some(f.span),
                        format!("model `{m}` is listed twice"),
                        "list each model name or prefix once",
                    );
                    models_ok = false;
                }
                Ok(m) => models.push(m),
                Err(why) => {
                    cx.error(
                        Code::ModelPattern,
                        &format!("{}[{i}]", path("models")),
                        Some(f.span),
                        format!("model `{}` {why}", f.value.escape_default()),
                        "write a model name (`gpt-4o-mini`) or a prefix ending in `*` (`local-*`)",
                    );
                    models_ok = false;
                }
            }
        }
        if models_ok && models.is_empty() && t.raw("models").is_some() {
            cx.error(
                Code::ModelPattern,
                &path("models"),
                t.raw("models").map(|v| v.span()),
                "the provider serves no model",
                "list the model names it answers for, e.g. `models = [\"gpt-4o-mini\"]`",
            );
            models_ok = false;
        }
        let timeout_ms = bounded(
            cx,
            &t,
            "timeout_ms",
            (Provider::DEFAULT_TIMEOUT_MS, 1..=Provider::MAX_TIMEOUT_MS),
            Code::ProviderTimeout,
            " ms",
        );
        match (name, models_ok, timeout_ms) {
            (Some(name), true, Some(timeout_ms)) => providers.push(Provider {
                name,
                models,
                timeout_ms,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(providers)
}

pub(super) fn read_observer(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<Observer> {
    t.deny_unknown(cx, fields::OBSERVER, DOCS);
    let mut kinds = Vec::new();
    let mut ok = true;
    if let Some(v) = t.raw("kinds") {
        locs.insert(t.field_path("kinds"), v.span());
    } else {
        let all: Vec<_> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
        cx.error(
            Code::MissingField,
            &t.field_path("kinds"),
            Some(t.span.clone()),
            "`[observer]` is missing `kinds`, the observations it receives",
            format!(
                "add `kinds = [\"model_call\"]`; the kinds are: {}",
                all.join(", ")
            ),
        );
        ok = false;
    }
    for (i, f) in t.strings(cx, "kinds").into_iter().enumerate() {
        let at = format!("{}[{i}]", t.field_path("kinds"));
        match f.value.parse::<ObservationKind>() {
            Ok(k) if kinds.contains(&k) => {
                cx.error(
                    Code::ObservationKind,
                    &at,
                    Some(f.span),
                    format!("kind `{k}` is listed twice"),
                    "list each kind once",
                );
                ok = false;
            }
            Ok(k) => kinds.push(k),
            Err(why) => {
                let all: Vec<_> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
                let fix = match crate::walk::did_you_mean(f.value, &all) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("use one of: {}", all.join(", ")),
                };
                cx.error(Code::ObservationKind, &at, Some(f.span), why, fix);
                ok = false;
            }
        }
    }
    if ok && kinds.is_empty() {
        cx.error(
            Code::ObservationKind,
            &t.field_path("kinds"),
            t.raw("kinds").map(|v| v.span()),
            "the observer asks for no kind of observation",
            "list what it receives, e.g. `kinds = [\"model_call\"]`",
        );
        ok = false;
    }
    let queue = bounded(cx, t, "queue", Observer::QUEUE, Code::ObserverLimit, "");
    let batch = bounded(cx, t, "batch", Observer::BATCH, Code::ObserverLimit, "");
    let timeout_ms = bounded(
        cx,
        t,
        "timeout_ms",
        Observer::TIMEOUT_MS,
        Code::ObserverLimit,
        " ms",
    );
    match (ok, queue, batch, timeout_ms) {
        (true, Some(queue), Some(batch), Some(timeout_ms)) => Some(Observer {
            kinds,
            queue,
            batch,
            timeout_ms,
        }),
        _ => None,
    }
}

/// A policy field written as one of its names.
fn policy<P: std::str::FromStr<Err = String> + Default>(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
) -> Option<P> {
    match t.string(cx, key) {
        None => Some(P::default()),
        Some(f) => match f.value.parse() {
            Ok(p) => Some(p),
            Err(why) => {
                cx.error(
                    Code::ServicePolicy,
                    &t.field_path(key),
                    Some(f.span),
                    format!("{key} {why}"),
                    format!("write one of those names as `{key}`"),
                );
                None
            }
        },
    }
}

pub(super) fn read_services(
    cx: &mut Cx<'_>,
    root: &Table<'_, '_>,
    capabilities: Option<&Capabilities>,
    locs: &mut Locs,
) -> Option<Vec<Service>> {
    let mut services = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "services") {
        t.deny_unknown(cx, fields::SERVICE, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = unique_name(cx, &t, &SERVICE_NAMES, &mut seen, locs);
        // An ingress the plugin does not request under [capabilities] could
        // never be granted: say so now, not at the first connection.
        let not_requested = |cx: &mut Cx<'_>, key: &str, span, what: String, fix: String| {
            cx.error(Code::ServiceNotRequested, &path(key), Some(span), what, fix);
        };
        let mut ingress_ok = true;
        let websocket = match t.string(cx, "websocket") {
            None => None,
            Some(f) => match f.value.parse::<Endpoint>() {
                Ok(e) => {
                    if let Some(caps) = capabilities
                        && !caps.websocket.iter().any(|p| e.within(p))
                    {
                        not_requested(
                            cx,
                            "websocket",
                            f.span,
                            format!("the endpoint `{e}` is not requested under [capabilities]"),
                            format!(
                                "add `websocket = [\"{}\"]` to [capabilities]",
                                e.capability()
                            ),
                        );
                        ingress_ok = false;
                    }
                    Some(e)
                }
                Err(why) => {
                    cx.error(
                        Code::ServiceEndpoint,
                        &path("websocket"),
                        Some(f.span),
                        format!("the endpoint `{}` {why}", f.value.escape_default()),
                        "write a URL like `wss://gateway.example.com/socket` (or `ws://127.0.0.1:9000/` written out)",
                    );
                    ingress_ok = false;
                    None
                }
            },
        };
        let http = match t.string(cx, "http") {
            None => None,
            Some(f) => match f.value.parse::<RoutePattern>() {
                Ok(r) => {
                    if let Some(caps) = capabilities
                        && !caps.routes.iter().any(|p| p.matches(r.as_str()))
                    {
                        not_requested(
                            cx,
                            "http",
                            f.span,
                            format!("the route `{r}` is not requested under [capabilities]"),
                            format!("add `routes = [\"{r}\"]` to [capabilities]"),
                        );
                        ingress_ok = false;
                    }
                    Some(r)
                }
                Err(why) => {
                    cx.error(
                        Code::ServiceRoute,
                        &path("http"),
                        Some(f.span),
                        format!("the route `{}` {why}", f.value.escape_default()),
                        "write a path like `/hooks/acme`",
                    );
                    ingress_ok = false;
                    None
                }
            },
        };
        let signature = match t.table(cx, "signature", None) {
            None => Some(None),
            Some(g) => {
                g.deny_unknown(cx, fields::SIGNATURE, DOCS);
                let secret = g
                    .required_string(
                        cx,
                        "secret",
                        "the secrets key of the shared secret",
                        "secret = \"WEBHOOK_SECRET\"",
                    )
                    .and_then(|f| {
                        let key = f.value;
                        if let Some(caps) = capabilities
                            && !caps.secrets.iter().any(|k| k == key)
                        {
                            not_requested(
                                cx,
                                "signature.secret",
                                f.span,
                                format!(
                                    "the secret `{}` is not requested under [capabilities]",
                                    key.escape_default()
                                ),
                                format!(
                                    "add `secrets = [\"{}\"]` to [capabilities]",
                                    key.escape_default()
                                ),
                            );
                            return None;
                        }
                        Some(key.to_owned())
                    });
                let header_named = |cx: &mut Cx<'_>, key: &str| match g.string(cx, key) {
                    None => Ok(None),
                    Some(f)
                        if !f.value.is_empty()
                            && f.value.len() <= 64
                            && f.value
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        Ok(Some(f.value.to_ascii_lowercase()))
                    }
                    Some(f) => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.{key}", g.path),
                            Some(f.span),
                            format!("`{}` is not a header name", f.value.escape_default()),
                            "use letters, digits and `-`, e.g. `x-hub-signature-256`",
                        );
                        Err(())
                    }
                };
                let header = header_named(cx, "header")
                    .ok()
                    .map(|h| h.unwrap_or_else(|| Signature::DEFAULT_HEADER.to_owned()));
                let max_age_s = bounded(
                    cx,
                    &g,
                    "max_age_s",
                    (Timestamp::DEFAULT_MAX_AGE_S, Timestamp::MAX_AGE_S),
                    Code::ServiceSignature,
                    " s",
                );
                let timestamp = match header_named(cx, "timestamp_header") {
                    Ok(Some(header)) => {
                        max_age_s.map(|max_age_s| Some(Timestamp { header, max_age_s }))
                    }
                    Ok(None) if g.raw("max_age_s").is_some() => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.max_age_s", g.path),
                            None,
                            "`max_age_s` bounds a signed timestamp, but there is no `timestamp_header`",
                            "add `timestamp_header = \"x-signature-timestamp\"`, or remove `max_age_s`",
                        );
                        None
                    }
                    Ok(None) => Some(None),
                    Err(()) => None,
                };
                let prefix = match g.string(cx, "prefix") {
                    None => Some(Signature::DEFAULT_PREFIX.to_owned()),
                    Some(f)
                        if f.value.len() <= 32 && f.value.bytes().all(|b| b.is_ascii_graphic()) =>
                    {
                        Some(f.value.to_owned())
                    }
                    Some(f) => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.prefix", g.path),
                            Some(f.span),
                            "the prefix must be at most 32 printable ASCII characters without spaces",
                            "write it as it appears before the hex digest, e.g. `sha256=`",
                        );
                        None
                    }
                };
                if t.raw("http").is_none() {
                    cx.error(
                        Code::ServiceSignature,
                        &g.path,
                        Some(g.span.clone()),
                        "a signature is checked on inbound requests, but the service has no `http` route",
                        "add `http = \"/hooks/NAME\"` to the service, or remove `signature`",
                    );
                    ingress_ok = false;
                }
                match (secret, header, prefix, timestamp) {
                    (Some(secret), Some(header), Some(prefix), Some(timestamp)) => {
                        Some(Some(Signature {
                            secret,
                            header,
                            prefix,
                            timestamp,
                        }))
                    }
                    _ => None,
                }
            }
        };
        let limit = |cx: &mut Cx<'_>, key, bounds, unit| {
            bounded(cx, &t, key, bounds, Code::ServiceLimit, unit)
        };
        let queue = limit(cx, "queue", Service::QUEUE, "");
        let timeout_ms = limit(cx, "timeout_ms", Service::TIMEOUT_MS, " ms");
        let backoff_ms = limit(cx, "backoff_ms", Service::BACKOFF_MS, " ms");
        let max_backoff_ms = limit(cx, "max_backoff_ms", Service::MAX_BACKOFF_MS, " ms");
        let max_restarts = limit(cx, "max_restarts", Service::MAX_RESTARTS, "");
        let backpressure = policy::<Backpressure>(cx, &t, "backpressure");
        let restart = policy::<Restart>(cx, &t, "restart");
        match (
            name,
            ingress_ok,
            signature,
            (queue, timeout_ms, backoff_ms, max_backoff_ms, max_restarts),
            backpressure,
            restart,
        ) {
            (
                Some(name),
                true,
                Some(signature),
                (
                    Some(queue),
                    Some(timeout_ms),
                    Some(backoff_ms),
                    Some(max_backoff_ms),
                    Some(max_restarts),
                ),
                Some(backpressure),
                Some(restart),
            ) => services.push(Service {
                name,
                websocket,
                http,
                queue,
                timeout_ms,
                backpressure,
                restart,
                backoff_ms,
                max_backoff_ms: max_backoff_ms.max(backoff_ms),
                max_restarts,
                signature,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(services)
}
