//! Secret setting values at rest: sealed with ChaCha20-Poly1305 under a
//! registry key before they reach the database, and opened only to hand
//! them to a host. The keys live in `<registry>/config.key` (created owner
//! read/write only) unless the embedder supplies one
//! (docs/configuration.md, "Secrets at rest").
//!
//! A sealed value is `v1:KEY-ID:NONCE:CIPHERTEXT` (hex), bound to its plugin,
//! scope and setting as associated data, so a sealed value copied to
//! another row does not open.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::RegistryError;

/// The key file in the registry folder.
pub const CONFIG_KEY_FILE: &str = "config.key";

/// The keys secret values are sealed with: the newest seals, any opens.
#[derive(Clone)]
pub struct ConfigKeys {
    /// (id, key), oldest first.
    keys: Vec<(String, [u8; 32])>,
    /// Where they were read from, if from a file.
    file: Option<PathBuf>,
}

impl std::fmt::Debug for ConfigKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key bytes.
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("ConfigKeys")
            .field("ids", &ids)
            .field("file", &self.file)
            .finish()
    }
}

fn key_error(why: impl Into<String>) -> RegistryError {
    RegistryError::ConfigKey(why.into())
}

fn random<const N: usize>() -> Result<[u8; N], RegistryError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| key_error("the system's random source failed"))?;
    Ok(bytes)
}

impl ConfigKeys {
    /// One key an embedder supplies (from its own secret store); no file is
    /// read or written.
    pub fn supplied(id: &str, key: [u8; 32]) -> ConfigKeys {
        ConfigKeys {
            keys: vec![(id.to_owned(), key)],
            file: None,
        }
    }

    /// The keys in `dir`'s key file, or `None` when there is none yet.
    pub(crate) fn read(dir: &Path) -> Result<Option<ConfigKeys>, RegistryError> {
        let path = dir.join(CONFIG_KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_error(format!("{} cannot be read: {e}", path.display()))),
        };
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                key_error(format!(
                    "{}:{}: a line is `ID HEX` with a 64-digit hex key",
                    path.display(),
                    n + 1
                ))
            };
            let (id, hex_key) = line.split_once(' ').ok_or_else(bad)?;
            let bytes = hex::decode(hex_key.trim()).map_err(|_| bad())?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(key_error(format!("{} holds no key", path.display())));
        }
        Ok(Some(ConfigKeys {
            keys,
            file: Some(path),
        }))
    }

    /// The keys in `dir`'s key file, creating it (owner-only) with a new
    /// key when there is none.
    pub(crate) fn read_or_create(dir: &Path) -> Result<ConfigKeys, RegistryError> {
        if let Some(keys) = ConfigKeys::read(dir)? {
            return Ok(keys);
        }
        let keys = ConfigKeys {
            keys: vec![("k1".to_owned(), random()?)],
            file: Some(dir.join(CONFIG_KEY_FILE)),
        };
        keys.write()?;
        Ok(keys)
    }

    /// Writes the key file (a temporary file renamed over it), owner-only.
    fn write(&self) -> Result<(), RegistryError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let tmp = path.with_extension("key.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| RegistryError::io(&tmp, e))?;
        let mut text = String::from(
            "# Yoi registry keys for secret settings: `ID HEX`, the last one seals.\n\
             # Losing this file loses every secret value; back it up with the registry.\n",
        );
        for (id, key) in &self.keys {
            text.push_str(&format!("{id} {}\n", hex::encode(key)));
        }
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| RegistryError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| RegistryError::io(path, e))
    }

    /// A new key appended (written to the file first, so values sealed
    /// with it can always be opened); returns the keys with it.
    pub(crate) fn with_new_key(&self) -> Result<ConfigKeys, RegistryError> {
        let n = self.keys.len() + 1;
        let mut id = format!("k{n}");
        while self.keys.iter().any(|(k, _)| *k == id) {
            id.push('x');
        }
        let mut keys = self.clone();
        keys.keys.push((id, random()?));
        keys.write()?;
        Ok(keys)
    }

    /// Drops every key but the newest (after every value was sealed again
    /// with it).
    pub(crate) fn keep_newest(&self) -> Result<ConfigKeys, RegistryError> {
        let mut keys = self.clone();
        let newest = keys.keys.split_off(keys.keys.len().saturating_sub(1));
        keys.keys = newest;
        keys.write()?;
        Ok(keys)
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        self.keys.last().map_or("", |(id, _)| id.as_str())
    }

    /// Seals `plain` for the row `aad` names.
    pub(crate) fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, RegistryError> {
        let (id, key) = self
            .keys
            .last()
            .ok_or_else(|| key_error("there is no key to seal with"))?;
        let nonce_bytes: [u8; NONCE_LEN] = random()?;
        let mut data = plain.to_vec();
        sealing_key(key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut data,
            )
            .map_err(|_| key_error("sealing failed"))?;
        Ok(format!(
            "v1:{id}:{}:{}",
            hex::encode(nonce_bytes),
            hex::encode(data)
        ))
    }

    /// Opens a sealed value of the row `aad` names.
    pub(crate) fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, RegistryError> {
        let bad = || {
            key_error(format!(
                "a sealed value of {} is not in the `v1:ID:NONCE:DATA` form",
                aad.replace('\0', "/")
            ))
        };
        let mut parts = sealed.splitn(4, ':');
        let (Some("v1"), Some(id), Some(nonce), Some(data)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (_, key) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            key_error(format!(
                "the secret value of {} was sealed with key `{id}`, which the key file does not hold; restore the key file from a backup",
                aad.replace('\0', "/")
            ))
        })?;
        let nonce: [u8; NONCE_LEN] = hex::decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(bad)?;
        let mut data = hex::decode(data).map_err(|_| bad())?;
        let plain = sealing_key(key)?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut data,
            )
            .map_err(|_| {
                key_error(format!(
                    "the secret value of {} does not open with key `{id}`: the key or the value was changed",
                    aad.replace('\0', "/")
                ))
            })?;
        Ok(plain.to_vec())
    }
}

fn sealing_key(key: &[u8; 32]) -> Result<LessSafeKey, RegistryError> {
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .map(LessSafeKey::new)
        .map_err(|_| key_error("the key is not a ChaCha20-Poly1305 key"))
}

/// The associated data binding a sealed value to its row.
pub(crate) fn row(plugin: &str, scope: &str, key: &str) -> String {
    format!("{plugin}\0{scope}\0{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_row_and_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ConfigKeys::read_or_create(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CONFIG_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let aad = row("p", "all", "api_key");
        let sealed = keys.seal(&aad, b"\"hunter2\"").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(keys.open(&aad, &sealed).unwrap(), b"\"hunter2\"");
        // Another row, a flipped bit, another key: refused.
        assert!(keys.open(&row("p", "canary", "api_key"), &sealed).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(keys.open(&aad, &flipped).is_err());
        let other = ConfigKeys::supplied("k1", [7; 32]);
        assert!(other.open(&aad, &sealed).is_err());
        // Rotation: the new key seals, the old one still opens until dropped.
        let rotated = keys.with_new_key().unwrap();
        assert_eq!(rotated.current(), "k2");
        assert_eq!(rotated.open(&aad, &sealed).unwrap(), b"\"hunter2\"");
        let resealed = rotated.seal(&aad, b"\"hunter2\"").unwrap();
        let newest = rotated.keep_newest().unwrap();
        assert!(newest.open(&aad, &sealed).is_err());
        assert_eq!(newest.open(&aad, &resealed).unwrap(), b"\"hunter2\"");
        let reread = ConfigKeys::read(dir.path()).unwrap().unwrap();
        assert_eq!(reread.current(), "k2");
        assert!(!format!("{reread:?}").contains(&hex::encode([7u8; 32])));
    }
}
