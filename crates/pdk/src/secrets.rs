//! Secrets the host holds for the plugin (API keys, tokens): only keys the
//! operator granted (`secrets = ["WEATHER_KEY"]` in plugin.toml, then
//! `yoi grant`).
//!
//! ```no_run
//! # fn demo() -> Result<(), yoi_pdk::Error> {
//! let key = yoi_pdk::secrets::get("WEATHER_KEY")?;
//! # let _ = key; Ok(()) }
//! ```

use crate::__private::host_api::yoi::plugin::secrets as wit;
use crate::Error;

/// The value of secret `key`.
pub fn get(key: &str) -> Result<String, Error> {
    Ok(wit::get(key)?)
}
