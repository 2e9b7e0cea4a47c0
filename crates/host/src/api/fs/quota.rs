//! The data root's quota: what a write may add, counted before it lands.

use super::*;

impl PluginApi {
    /// Applies a change of `add - remove` bytes and `entries` entries;
    /// refuses it past a quota.
    pub(super) fn reserve(
        &self,
        path: &str,
        add: u64,
        remove: u64,
        entries: i64,
    ) -> Result<(), ApiFailure> {
        let mut usage = self.fs.usage.lock().unwrap_or_else(|p| p.into_inner());
        let current = match *usage {
            Some(u) => u,
            None => match &self.fs.root {
                Some(root) => disk_usage(root).map_err(|e| self.io_failure(path, e))?,
                None => Usage::default(),
            },
        };
        let next = Usage {
            bytes: current.bytes.saturating_sub(remove).saturating_add(add),
            entries: current.entries.saturating_add_signed(entries),
        };
        let over = if add > remove && next.bytes > self.fs.quota {
            Some(format!(
                "the write would bring the plugin's data to {} bytes; its quota is {} bytes",
                next.bytes, self.fs.quota
            ))
        } else if entries > 0 && next.entries > self.fs.entry_quota {
            Some(format!(
                "the plugin would keep {} files, folders and links; its quota is {} entries",
                next.entries, self.fs.entry_quota
            ))
        } else {
            None
        };
        if let Some(reason) = over {
            *usage = Some(current);
            return Err(self.refuse(
                "fs",
                path,
                reason,
                "remove files the plugin no longer needs, or raise the host's quota (HostBuilder::fs_quota)",
            ));
        }
        *usage = Some(next);
        Ok(())
    }

    /// Forgets the usage count after a failed change, so it is counted again.
    pub(super) fn recount(&self) {
        *self.fs.usage.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
