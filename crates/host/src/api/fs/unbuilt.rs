//! `fs` in a host built without its feature (see the crate docs): still
//! linked, so a component importing it loads as it would anywhere, but
//! every call fails with what the embedder has to enable. A missing feature
//! is the host's limit, never a denial of the plugin's grants.

use std::path::PathBuf;

use crate::api::{ApiFailure, PluginApi};
use crate::bindings::latest::yoi::plugin::fs::Entry;

/// Nothing to keep without a filesystem API.
pub(crate) struct FsState {}

impl FsState {
    pub(crate) fn new(_root: Option<PathBuf>, _quota: u64, _entries: u64) -> FsState {
        FsState {}
    }
}

impl PluginApi {
    pub(crate) fn fs_read(&self, _: &str) -> Result<Vec<u8>, ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_write(&self, _: &str, _: &[u8], _: bool) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_list(&self, _: &str) -> Result<Vec<Entry>, ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_stat(&self, _: &str) -> Result<Entry, ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_create_dir(&self, _: &str) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_remove(&self, _: &str) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_rename(&self, _: &str, _: &str) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_symlink(&self, _: &str, _: &str) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
    pub(crate) fn fs_hard_link(&self, _: &str, _: &str) -> Result<(), ApiFailure> {
        Err(not_built("fs"))
    }
}

fn not_built(feature: &str) -> ApiFailure {
    ApiFailure::Failed(format!(
        "this host was built without yoi-host's `{feature}` feature, so `{feature}` calls \
         cannot run; the embedder enables it in Cargo.toml (it is on by default)"
    ))
}
