//! The host APIs of features this host was built without (`https`, `fs`;
//! see the crate docs). They are still linked, so a component importing
//! them loads as it would anywhere, but every call fails with what the
//! embedder has to enable. A missing feature is the host's limit, never a
//! denial of the plugin's grants.

use super::{ApiFailure, PluginApi};

fn not_built(feature: &str) -> ApiFailure {
    ApiFailure::Failed(format!(
        "this host was built without yoi-host's `{feature}` feature, so `{feature}` calls \
         cannot run; the embedder enables it in Cargo.toml (it is on by default)"
    ))
}

#[cfg(not(feature = "https"))]
pub(crate) mod https {
    use super::{ApiFailure, PluginApi, not_built};
    use crate::bindings::latest::yoi::plugin::https as wit;

    /// Nothing to keep without an HTTP client.
    #[derive(Default)]
    pub(crate) struct HttpState {}

    pub use crate::resources::IncomingBody;

    impl IncomingBody {
        pub(crate) async fn read(&mut self, _max: u32) -> Result<Option<Vec<u8>>, ApiFailure> {
            Err(not_built("https"))
        }
    }

    impl PluginApi {
        pub(crate) async fn send(&self, _req: wit::Request) -> Result<wit::Response, ApiFailure> {
            Err(not_built("https"))
        }

        pub(crate) async fn open(
            &self,
            _req: wit::Request,
        ) -> Result<(wit::ResponseHead, IncomingBody), ApiFailure> {
            Err(not_built("https"))
        }
    }
}

#[cfg(not(feature = "fs"))]
pub(crate) mod fs {
    use std::path::PathBuf;

    use super::{ApiFailure, PluginApi, not_built};
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
}
