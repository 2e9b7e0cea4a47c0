//! Guard: stops tools on a deny list and upgrades plain-HTTP URLs in tool
//! input to HTTPS before the tool runs (`tool.pre_exec`). The deny list is
//! a setting (`deny` in plugin.toml's `[config]`): operators change it with
//! `yoi config set example.guard deny '["shell"]'`, without a rebuild.

use yoi_pdk::json::Value;
use yoi_pdk::prelude::*;

/// The settings plugin.toml declares.
#[derive(serde::Deserialize)]
struct Settings {
    /// Tools this plugin never lets run.
    deny: Vec<String>,
}

struct Guard;

impl Plugin for Guard {
    fn tool_pre_exec(mut call: ToolCall) -> HookResult<ToolCall> {
        let settings: &Settings = config::load()?;
        if settings.deny.contains(&call.tool_name) {
            log::warn(&format!("refused tool `{}`", call.tool_name));
            return Ok(Outcome::block(format!(
                "tool `{}` is on the deny list",
                call.tool_name
            )));
        }
        let mut input: Value = call.parse_input()?;
        if upgrade_url(&mut input) {
            call.set_input(&input)?;
            log::info("rewrote input.url from http:// to https://");
            return Ok(Outcome::change(call));
        }
        Ok(Outcome::Continue)
    }
}

/// Rewrites `input.url` from `http://` to `https://`; true if it changed.
fn upgrade_url(input: &mut Value) -> bool {
    match input.get_mut("url") {
        Some(Value::String(url)) if url.starts_with("http://") => {
            *url = format!("https://{}", &url["http://".len()..]);
            true
        }
        _ => false,
    }
}

yoi_pdk::register!(Guard => tool_pre_exec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_only_http_urls() {
        let mut input = yoi_pdk::json::json!({"url": "http://example.com/a"});
        assert!(upgrade_url(&mut input));
        assert_eq!(input["url"], "https://example.com/a");
        assert!(!upgrade_url(&mut input));
        assert!(!upgrade_url(
            &mut yoi_pdk::json::json!({"path": "http://x"})
        ));
    }
}
