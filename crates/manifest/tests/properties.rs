//! Property tests: the parser never panics, and every valid manifest survives
//! being written out and parsed again.

use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use yoi_manifest::{
    Backpressure, Build, Capabilities, Digest, FailMode, FsAccess, FsMode, Hook, HookPoint,
    HttpsPattern, InputSchema, Language, Limits, Locations, Manifest, ModelPattern,
    ObservationKind, Observer, PluginId, PluginMeta, Provider, Restart, RoutePattern, Runtime,
    Service, Setting, SettingType, Signature, Tool, WebSocketPattern,
};

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9 ,.!-]{0,30}"
}

fn hooks() -> impl Strategy<Value = Vec<Hook>> {
    btree_set(0..HookPoint::ALL.len(), 1..4).prop_flat_map(|points| {
        let n = points.len();
        (
            Just(points),
            vec((-1_000_000i32..=1_000_000, any::<bool>(), 1u32..=30_000), n),
        )
            .prop_map(|(points, rest)| {
                points
                    .into_iter()
                    .zip(rest)
                    .map(|(i, (priority, closed, timeout_ms))| Hook {
                        point: HookPoint::ALL[i],
                        priority,
                        fail: if closed {
                            FailMode::Closed
                        } else {
                            FailMode::Open
                        },
                        timeout_ms,
                        timeout_written: true,
                    })
                    .collect()
            })
    })
}

fn tools() -> impl Strategy<Value = Vec<Tool>> {
    btree_set("[a-z][a-z0-9_-]{0,12}", 0..3).prop_flat_map(|names| {
        let n = names.len();
        (Just(names), vec((text(), any::<bool>(), "[a-z]{1,8}"), n)).prop_map(|(names, rest)| {
            names
                .into_iter()
                .zip(rest)
                .map(|(name, (description, inline, prop))| Tool {
                    name,
                    description,
                    input_schema: if inline {
                        InputSchema::Inline(serde_json::json!({
                            "type": "object",
                            "properties": { prop.clone(): { "type": "string", "maxLength": 64 } },
                            "required": [prop],
                        }))
                    } else {
                        InputSchema::File(format!("schemas/{prop}.json"))
                    },
                })
                .collect()
        })
    })
}

fn https() -> impl Strategy<Value = Vec<HttpsPattern>> {
    btree_set(
        (
            "(https://|http://)?",
            "(\\*\\.)?[a-z]([a-z0-9-]{0,7}[a-z0-9])?\\.[a-z]{2,6}",
            "(:[1-9][0-9]{0,3})?",
        )
            .prop_map(|(s, h, p)| format!("{s}{h}{p}")),
        0..4,
    )
    .prop_map(|set| {
        let mut out: Vec<HttpsPattern> = Vec::new();
        for p in set {
            let p: HttpsPattern = p.parse().expect("generated patterns are valid");
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    })
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    (
        https(),
        btree_set("[a-z]{1,6}(/[a-z]{1,6}){0,2}", 0..3),
        vec(any::<bool>(), 3),
        btree_set("[A-Z_][A-Z0-9_]{0,10}", 0..3),
        any::<bool>(),
        (
            https(),
            btree_set("/[a-z]{1,6}(/[a-z0-9_-]{1,6}){0,2}", 0..3),
        ),
    )
        .prop_map(
            |(https, paths, modes, secrets, log, (ws, routes))| Capabilities {
                https,
                fs: paths
                    .into_iter()
                    .zip(modes)
                    .map(|(path, ro)| FsAccess {
                        path,
                        mode: if ro { FsMode::Ro } else { FsMode::Rw },
                    })
                    .collect(),
                secrets: secrets.into_iter().collect(),
                websocket: ws.into_iter().map(WebSocketPattern).collect(),
                routes: routes
                    .iter()
                    .map(|r| r.parse().expect("generated routes are valid"))
                    .collect(),
                log,
            },
        )
}

/// Settings of every type, with defaults that fit them (secret and
/// required ones have none).
fn config() -> impl Strategy<Value = Vec<Setting>> {
    let setting = (
        "[a-z][a-z0-9_]{0,10}",
        0usize..6,
        proptest::option::of(text()),
        0u8..3,
        any::<i64>(),
        text(),
        vec("[a-z]{1,6}", 0..3),
    )
        .prop_map(|(name, kind, description, flag, n, s, items)| {
            let kind = SettingType::ALL[kind];
            let (secret, required) = (flag == 1, flag == 2);
            let default = (flag == 0).then(|| match kind {
                SettingType::String => serde_json::json!(s),
                SettingType::Integer => serde_json::json!(n),
                SettingType::Number => serde_json::json!(n as f64 / 8.0),
                SettingType::Boolean => serde_json::json!(n % 2 == 0),
                SettingType::List => serde_json::json!(items),
                SettingType::Object => serde_json::json!({ "name": s }),
            });
            let schema = (kind == SettingType::List)
                .then(|| serde_json::json!({ "items": { "type": "string" } }));
            Setting {
                name,
                kind,
                description,
                default,
                secret,
                required,
                schema,
            }
        });
    vec(setting, 0..4).prop_map(|settings| {
        let mut seen = std::collections::BTreeSet::new();
        settings
            .into_iter()
            .filter(|s| seen.insert(s.name.clone()))
            .collect()
    })
}

/// Providers with distinct names serving distinct names and prefixes.
fn providers() -> impl Strategy<Value = Vec<Provider>> {
    let provider = (
        "[a-z][a-z0-9_-]{0,10}",
        vec("[a-z0-9.:/-]{1,12}\\*?", 1..4),
        1u32..=Provider::MAX_TIMEOUT_MS,
    )
        .prop_map(|(name, models, timeout_ms)| {
            let mut seen = std::collections::BTreeSet::new();
            Provider {
                name,
                models: models
                    .iter()
                    .filter(|m| seen.insert((*m).clone()))
                    .map(|m| ModelPattern::parse(m).expect("generated patterns are valid"))
                    .collect(),
                timeout_ms,
            }
        });
    vec(provider, 0..3).prop_map(|providers| {
        let mut seen = std::collections::BTreeSet::new();
        providers
            .into_iter()
            .filter(|p| seen.insert(p.name.clone()))
            .collect()
    })
}

/// An observer of a non-empty set of kinds, or none.
fn observer() -> impl Strategy<Value = Option<Observer>> {
    proptest::option::of(
        (
            proptest::sample::subsequence(
                ObservationKind::ALL.to_vec(),
                1..=ObservationKind::ALL.len(),
            ),
            Observer::QUEUE.1,
            Observer::BATCH.1,
            Observer::TIMEOUT_MS.1,
        )
            .prop_map(|(kinds, queue, batch, timeout_ms)| Observer {
                kinds,
                queue,
                batch,
                timeout_ms,
            }),
    )
}

/// Services with distinct names, some with a route, an endpoint or a
/// signature (the manifest requests what they need).
fn services() -> impl Strategy<Value = Vec<Service>> {
    let service = (
        "[a-z][a-z0-9_-]{0,10}",
        proptest::option::of("/hooks/[a-z0-9]{1,8}"),
        proptest::option::of((
            any::<bool>(),
            "[a-z]{1,8}\\.example\\.com",
            1u16..,
            "/[a-z0-9]{0,8}",
        )),
        (
            Service::QUEUE.1,
            Service::TIMEOUT_MS.1,
            Service::BACKOFF_MS.1,
            Service::MAX_RESTARTS.1,
        ),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                name,
                http,
                ws,
                (queue, timeout_ms, backoff_ms, max_restarts),
                (drop, never, signed),
            )| {
                let http: Option<RoutePattern> =
                    http.map(|r| r.parse().expect("generated routes are valid"));
                Service {
                    name,
                    websocket: ws.map(|(secure, host, port, path)| {
                        let scheme = if secure { "wss" } else { "ws" };
                        format!("{scheme}://{host}:{port}{path}")
                            .parse()
                            .expect("generated endpoints are valid")
                    }),
                    signature: (signed && http.is_some()).then(|| Signature {
                        secret: "HOOK_SECRET".into(),
                        header: Signature::DEFAULT_HEADER.into(),
                        prefix: Signature::DEFAULT_PREFIX.into(),
                        timestamp: (timeout_ms % 2 == 0).then(|| yoi_manifest::Timestamp {
                            header: "x-signature-timestamp".into(),
                            max_age_s: 1 + timeout_ms % 3600,
                        }),
                    }),
                    http,
                    queue,
                    timeout_ms,
                    backpressure: if drop {
                        Backpressure::DropOldest
                    } else {
                        Backpressure::Refuse
                    },
                    restart: if never {
                        Restart::Never
                    } else {
                        Restart::OnFailure
                    },
                    backoff_ms,
                    max_backoff_ms: Service::MAX_BACKOFF_MS.0.max(backoff_ms),
                    max_restarts,
                }
            },
        );
    vec(service, 0..3).prop_map(|services| {
        let mut seen = std::collections::BTreeSet::new();
        services
            .into_iter()
            .filter(|s| seen.insert(s.name.clone()))
            .collect()
    })
}

fn build() -> impl Strategy<Value = Build> {
    (
        0usize..4,
        proptest::option::of("[a-z]{1,8}(/[a-z]{1,8}){0,1}"),
    )
        .prop_map(|(l, stem)| {
            let language = [
                None,
                Some(Language::Rust),
                Some(Language::Python),
                Some(Language::JavaScript),
            ][l];
            let entry = match language {
                Some(Language::Rust) => None,
                Some(lang) => stem.map(|s| format!("{s}.{}", lang.entry_extensions()[0])),
                None => stem.map(|s| format!("{s}.py")),
            };
            Build { language, entry }
        })
}

/// Requests what `services` need.
fn request_for(capabilities: &mut Capabilities, services: &[Service]) {
    for s in services {
        if let Some(e) = &s.websocket
            && !capabilities.websocket.iter().any(|p| e.within(p))
        {
            capabilities.websocket.push(e.capability());
        }
        if let Some(r) = &s.http
            && !capabilities.routes.contains(r)
        {
            capabilities.routes.push(r.clone());
        }
        if s.signature.is_some() && !capabilities.secrets.iter().any(|k| k == "HOOK_SECRET") {
            capabilities.secrets.push("HOOK_SECRET".into());
        }
    }
}

prop_compose! {
    fn manifest()(
        id in "[a-z0-9][a-z0-9._-]{0,20}",
        (major, minor, patch) in (0u64..5, 0u64..20, 0u64..50),
        name in proptest::option::of(text()),
        description in proptest::option::of(text()),
        license in proptest::option::of("(MIT|Apache-2\\.0|MIT OR Apache-2\\.0)"),
        authors in vec(text(), 0..3),
        contract_minor in 1u64..6,
        engine in proptest::option::of("(>=0\\.1, <0\\.2|\\^0\\.1|\\*|=1\\.2\\.3)"),
        artifact in "[a-z]{1,8}(/[a-z]{1,8}){0,2}\\.wasm",
        digest in any::<[u8; 16]>(),
        hooks in hooks(),
        tools in tools(),
        capabilities in capabilities(),
        memory_mb in proptest::option::of(1u32..=4096),
        config in config(),
        providers in providers(),
        observer in observer(),
        services in services(),
        build in build(),
    ) -> Manifest {
        let mut capabilities = capabilities;
        request_for(&mut capabilities, &services);
        Manifest {
            plugin: PluginMeta {
                id: PluginId::new(&id).expect("generated ids are valid"),
                version: semver::Version::new(major, minor, patch),
                name,
                description,
                authors,
                license,
                contract: format!("yoi:plugin@0.{contract_minor}.0").parse().expect("contract"),
                engine: engine.map(|e| e.parse().expect("generated ranges are valid")),
            },
            runtime: Runtime { artifact: artifact.into(), digest: Digest::of(&digest) },
            hooks,
            tools,
            capabilities,
            limits: Limits { memory_mb },
            config,
            providers,
            observer,
            services,
            build,
            locations: Locations::default(),
        }
    }
}

/// Arbitrary TOML documents, to reach the checks behind the syntax.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        "\\PC{0,12}".prop_map(toml::Value::String),
        (-1e6f64..1e6).prop_map(toml::Value::Float),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(
                "(plugin|runtime|hooks|tools|capabilities|limits|id|version|contract|kind|artifact|digest|point|fail|https|fs|path|mode|[a-z]{1,6})",
                inner,
                0..5
            )
            .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = Manifest::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_toml_never_panics(doc in toml_value()) {
        if let toml::Value::Table(table) = doc {
            let text = toml::to_string(&table).unwrap_or_default();
            if let Err(d) = Manifest::parse(&text) {
                prop_assert!(!d.is_empty());
                let _ = d.render(false);
            }
        }
    }

    #[test]
    fn valid_manifests_survive_serialize_then_parse(m in manifest()) {
        let text = m.to_toml();
        let parsed = Manifest::parse(&text).map_err(|d| {
            TestCaseError::fail(format!("{}\n---\n{text}", d.render(false)))
        })?;
        prop_assert_eq!(parsed, m);
    }
}
