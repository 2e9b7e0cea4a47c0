use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A `sha256:<64 lowercase hex>` content digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// The 64 lowercase hex characters, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = String;

    /// Accepts exactly `sha256:` followed by 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(hex_part) = s.strip_prefix("sha256:") else {
            return Err("must start with `sha256:`".into());
        };
        if hex_part.len() != 64 {
            return Err(format!(
                "must have 64 hex digits after `sha256:`, found {}",
                hex_part.len()
            ));
        }
        if !hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("hex digits must be 0-9 or lowercase a-f".into());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|e| e.to_string())?;
        Ok(Digest(out))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_forms() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!(
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
                .parse::<Digest>()
                .is_err()
        );
        assert!("md5:abc".parse::<Digest>().is_err());
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!(
            format!("sha256:{}", "g".repeat(64))
                .parse::<Digest>()
                .is_err()
        );
        // Multi-byte characters must not be mistaken for the right length.
        assert!(
            format!("sha256:{}é", "a".repeat(62))
                .parse::<Digest>()
                .is_err()
        );
    }
}
