//! `fs`: files inside a plugin's data root, under its `fs` grants (the
//! operations and the rule of where a call lands are `ops`; without the
//! `fs` feature, `unbuilt`). The unit: the calls as the guest sees them,
//! each run on a blocking thread, and their linker entries.

#[cfg(feature = "fs")]
mod ops;
#[cfg(not(feature = "fs"))]
#[path = "unbuilt.rs"]
mod ops;

use wasmtime::component::Linker;

pub(crate) use ops::*;

use super::{HostApi, blocking_call, link_wait, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::fs::{self as wit_fs, Entry};
use crate::bindings::latest::yoi::plugin::types::ApiError;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "fs",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    wit_fs::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("fs", version))?;
    link_wait!(i, "read", |s, p: String| wit_fs::Host::read(s, p));
    link_wait!(i, "write", |s, p: String, d: Vec<u8>| wit_fs::Host::write(
        s, p, d
    ));
    link_wait!(
        i,
        "append",
        |s, p: String, d: Vec<u8>| wit_fs::Host::append(s, p, d)
    );
    link_wait!(i, "list-dir", |s, p: String| wit_fs::Host::list_dir(s, p));
    link_wait!(i, "stat", |s, p: String| wit_fs::Host::stat(s, p));
    link_wait!(i, "create-dir", |s, p: String| wit_fs::Host::create_dir(
        s, p
    ));
    link_wait!(i, "remove", |s, p: String| wit_fs::Host::remove(s, p));
    link_wait!(i, "rename", |s, a: String, b: String| wit_fs::Host::rename(
        s, a, b
    ));
    link_wait!(i, "symlink", |s, a: String, b: String| {
        wit_fs::Host::symlink(s, a, b)
    });
    link_wait!(i, "hard-link", |s, a: String, b: String| {
        wit_fs::Host::hard_link(s, a, b)
    });
    Ok(())
}

impl wit_fs::Host for PluginState {
    async fn read(&mut self, path: String) -> Result<Vec<u8>, ApiError> {
        blocking_call!(self, |api| api.fs_read(&path))
    }

    async fn write(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_write(&path, &data, false))
    }

    async fn append(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_write(&path, &data, true))
    }

    async fn list_dir(&mut self, path: String) -> Result<Vec<Entry>, ApiError> {
        blocking_call!(self, |api| api.fs_list(&path))
    }

    async fn stat(&mut self, path: String) -> Result<Entry, ApiError> {
        blocking_call!(self, |api| api.fs_stat(&path))
    }

    async fn create_dir(&mut self, path: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_create_dir(&path))
    }

    async fn remove(&mut self, path: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_remove(&path))
    }

    async fn rename(&mut self, from: String, to: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_rename(&from, &to))
    }

    async fn symlink(&mut self, target: String, link: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_symlink(&target, &link))
    }

    async fn hard_link(&mut self, existing: String, link: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_hard_link(&existing, &link))
    }
}
