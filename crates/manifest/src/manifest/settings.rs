//! `[config]`: the settings a plugin declares, their types and defaults.

use super::*;

pub(super) fn read_config(
    cx: &mut Cx<'_>,
    config: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<Vec<Setting>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, name_span, t) in config.named_tables(cx) {
        t.deny_unknown(cx, fields::SETTING, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        locs.insert(t.path.clone(), name_span.clone());
        if !valid_setting_name(name) {
            ok = false;
            cx.error(
                Code::ConfigName,
                &t.path,
                Some(name_span),
                format!("`{}` is not a valid setting name", name.escape_default()),
                "use 1 to 64 lowercase letters, digits or `_`, starting with a letter, e.g. `deny_list`",
            );
        }
        let names: Vec<&str> = SettingType::ALL.iter().map(|k| k.as_str()).collect();
        let kind = t
            .required_string(cx, "type", "the kind of value", "type = \"string\"")
            .and_then(|f| match f.value.parse::<SettingType>() {
                Ok(kind) => Some(kind),
                Err(()) => {
                    let fix = match crate::walk::did_you_mean(f.value, &names) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("write one of: {}", names.join(", ")),
                    };
                    cx.error(
                        Code::ConfigType,
                        &path("type"),
                        Some(f.span),
                        format!("`{}` is not a setting type", f.value.escape_default()),
                        fix,
                    );
                    None
                }
            });
        let description = t.string(cx, "description").and_then(|f| {
            text_field(cx, &path("description"), f.value, f.span, 1000).then(|| f.value.to_owned())
        });
        let secret = t.boolean(cx, "secret").is_some_and(|f| f.value);
        let required = t.boolean(cx, "required").is_some_and(|f| f.value);
        let schema = t.raw("schema").and_then(|v| {
            let checked = match v.get_ref() {
                DeValue::Table(_) => to_json(v.get_ref()),
                _ => Err("must be a table of JSON Schema keywords".to_owned()),
            }
            .and_then(|json| check_setting_schema(kind, &json).map(|()| json));
            checked
                .map_err(|why| {
                    cx.error(
                        Code::ConfigSchema,
                        &path("schema"),
                        Some(v.span()),
                        format!("the schema {why}"),
                        "write JSON Schema keywords that refine the type, e.g. `schema = { items = { type = \"string\" } }`",
                    )
                })
                .ok()
        });
        let Some(kind) = kind else {
            ok = false;
            continue;
        };
        let mut setting = Setting {
            name: name.to_owned(),
            kind,
            description,
            default: None,
            secret,
            required,
            schema,
        };
        if let Some(v) = t.raw("default") {
            let not_allowed = if secret {
                Some("a secret setting cannot have a default: plugin.toml is not secret")
            } else if required {
                Some("a required setting cannot have a default: it would never be missing")
            } else {
                None
            };
            if let Some(why) = not_allowed {
                ok = false;
                cx.error(
                    Code::ConfigDefaultNotAllowed,
                    &path("default"),
                    Some(v.span()),
                    why,
                    "remove `default` (operators set the value with `yoi config set`)",
                );
            } else {
                match to_json(v.get_ref()).and_then(|json| setting.check(&json).map(|()| json)) {
                    Ok(json) => setting.default = Some(json),
                    Err(why) => {
                        ok = false;
                        cx.error(
                            Code::ConfigDefault,
                            &path("default"),
                            Some(v.span()),
                            format!("the default does not fit the setting: {why}"),
                            format!("write a default of type {kind} that the setting's schema accepts, or remove it"),
                        );
                    }
                }
            }
        }
        out.push(setting);
    }
    ok.then_some(out)
}

/// A setting's extra schema: a JSON Schema object whose `type`, if given,
/// is the setting's own.
pub(super) fn check_setting_schema(
    kind: Option<SettingType>,
    schema: &serde_json::Value,
) -> Result<(), String> {
    let serde_json::Value::Object(map) = schema else {
        return Err("must be a table of JSON Schema keywords".into());
    };
    if let (Some(kind), Some(given)) = (kind, map.get("type"))
        && given.as_str() != Some(kind.json_type())
    {
        return Err(format!(
            "says `type = {given}` but the setting is a {kind} (JSON type `{}`); leave `type` out of the schema",
            kind.json_type()
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("is not a valid JSON Schema: {e}"))
}
