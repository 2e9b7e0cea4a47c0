//! The plugin's settings: what its plugin.toml declares under `[config]`,
//! with the values the operator set for this host (`yoi config set`), else
//! the declared defaults (docs/configuration.md). Reading one needs no
//! grant.
//!
//! Read them into your own type, once per instance:
//!
//! ```no_run
//! use serde::Deserialize;
//! use yoi_pdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct Settings {
//!     deny: Vec<String>,
//!     mode: Option<String>,
//! }
//!
//! struct Guard;
//!
//! impl Plugin for Guard {
//!     fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
//!         let settings: &Settings = config::load()?;
//!         if settings.deny.contains(&call.tool_name) {
//!             return Ok(Outcome::block(format!("{} is on the deny list", call.tool_name)));
//!         }
//!         Ok(Outcome::Continue)
//!     }
//! }
//! yoi_pdk::register!(Guard => tool_pre_exec);
//! ```
//!
//! Every field of the type must be a setting plugin.toml declares: a field
//! that is not (a typo, a setting of another version) is an
//! [`Error::Config`] at the first read, so `yoi plugin test` shows it; it
//! is never a silent `None`.

use std::any::{Any, TypeId};
use std::sync::Mutex;

use serde::de::{self, DeserializeOwned, Visitor};

use crate::__private::base::yoi::plugin::config as wit;
use crate::Error;

fn undeclared(key: &str) -> Error {
    Error::Config(format!(
        "`{key}` is not a setting declared under [config] in plugin.toml; declare it there (docs/configuration.md) or fix the name"
    ))
}

/// One setting's value as `T`; `None` when it has no value and no default.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match wit::get(key) {
        Ok(None) => Ok(None),
        Ok(Some(json)) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| Error::Config(format!("setting `{key}` is not the type read: {e}"))),
        Err(wit::ConfigError::Undeclared(key)) => Err(undeclared(&key)),
    }
}

/// Every setting, read into the author's type `T` once per instance and
/// kept: later calls return the same value. A field of `T` that is not a
/// declared setting is an error.
pub fn load<T: DeserializeOwned + Send + Sync + 'static>() -> Result<&'static T, Error> {
    type Loaded = Vec<(TypeId, &'static (dyn Any + Send + Sync))>;
    static LOADED: Mutex<Loaded> = Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, value)) = loaded.iter().find(|(id, _)| *id == TypeId::of::<T>())
        && let Some(value) = value.downcast_ref::<T>()
    {
        return Ok(value);
    }
    let all: serde_json::Value = serde_json::from_str(&wit::all())
        .map_err(|e| Error::Config(format!("the host's settings are not JSON: {e}")))?;
    let value: T = T::deserialize(Declared(all)).map_err(|e: serde_json::Error| {
        match e.to_string().strip_prefix(UNDECLARED) {
            Some(key) => undeclared(key),
            None => Error::Config(format!("the settings do not fit the type read: {e}")),
        }
    })?;
    let value: &'static T = Box::leak(Box::new(value));
    loaded.push((TypeId::of::<T>(), value));
    Ok(value)
}

const UNDECLARED: &str = "undeclared setting: ";

/// The settings object, deserialized as usual except that a struct's
/// fields are first checked against what plugin.toml declares.
struct Declared(serde_json::Value);

impl<'de> de::Deserializer<'de> for Declared {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_any(self.0, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // A field with a value is declared; only the others are asked about
        // (declared without a value, or not declared at all).
        for field in fields {
            if self.0.get(field).is_none()
                && let Err(wit::ConfigError::Undeclared(key)) = wit::get(field)
            {
                return Err(de::Error::custom(format!("{UNDECLARED}{key}")));
            }
        }
        de::Deserializer::deserialize_struct(self.0, name, fields, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_option(self.0, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_newtype_struct(self.0, name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.0, name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}
