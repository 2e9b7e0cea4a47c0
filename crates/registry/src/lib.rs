//! Yoi's plugin registry: published versions, activation, grants and the
//! audit log (SPEC §3).
//!
//! This crate holds its place in the layering (manifest → registry → host →
//! cli) and has no operations yet: lifecycle state arrives with the registry
//! work. Until then an embedder loads package folders directly with
//! `yoi_host::Host::load`, which verifies each artifact's digest.
#![deny(missing_docs)]
