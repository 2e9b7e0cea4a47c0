//! The bearer tokens of `yoi serve` (docs/serve.md, "Security"): where
//! they are kept, how a new one is made, and how one is compared.

use anyhow::{Context as _, Result};

/// The token file in the registry folder.
pub(crate) const TOKENS_FILE: &str = "serve-tokens";

pub(crate) fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?,
        &mut bytes,
    )?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal without an early exit, so a wrong token's time says nothing about
/// the right one.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}
