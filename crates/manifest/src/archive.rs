//! The packed form of a package: `NAME-VERSION.yoi`, a gzip-compressed tar
//! archive of the package folder's `plugin.toml`, the artifact and any tool
//! schema files, at their relative paths. Regular files only; every path is
//! relative and plain (no `..`, no links, no absolute paths); at most
//! [`MAX_ENTRIES`] entries and [`MAX_UNPACKED_BYTES`] in all. Entries carry
//! no owner or time, so packing the same files twice gives the same bytes.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::compat::Compat;
use crate::diagnostic::Diagnostics;
use crate::package::{MANIFEST_FILE, MAX_ARTIFACT_BYTES, Package};
use crate::signing::SIGNATURE_FILE;
use crate::tool::InputSchema;

/// Most entries a `.yoi` archive may hold.
pub const MAX_ENTRIES: usize = 256;
/// Most bytes a `.yoi` archive may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = MAX_ARTIFACT_BYTES + 16 * 1024 * 1024;

/// Most bytes the decompressor may yield for one archive: the unpacked
/// limit, a header per entry, and slack for tar's padding and long names.
const MAX_INFLATED_BYTES: u64 = MAX_UNPACKED_BYTES + (MAX_ENTRIES as u64 + 2) * 2048 + 1024 * 1024;

/// A reader that fails (`FileTooLarge`) once it has yielded `left` bytes.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "the archive unpacks to more than its limit",
            ));
        }
        let room = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Why a `.yoi` archive cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file cannot be read as a gzip-compressed tar archive.
    #[error(
        "{file} is not a readable .yoi archive: {reason}\n  fix: pack it again with `yoi plugin pack`"
    )]
    Unreadable {
        /// The archive.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// An entry is not allowed in a package.
    #[error(
        "{file}: entry `{entry}` is refused: {reason}\n  fix: pack the package with `yoi plugin pack`, which writes only plain files"
    )]
    Unsafe {
        /// The archive.
        file: PathBuf,
        /// The entry's path as written.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The unpacked package has problems.
    #[error("{0}")]
    Package(Diagnostics),
}

impl Package {
    /// The files a packed form of this package holds: the manifest, the
    /// artifact and tool schema files, as paths relative to the package.
    fn archive_files(&self) -> Vec<PathBuf> {
        let mut files = vec![
            PathBuf::from(MANIFEST_FILE),
            self.manifest().runtime.artifact.clone(),
        ];
        for tool in &self.manifest().tools {
            if let InputSchema::File(file) = &tool.input_schema {
                files.push(PathBuf::from(file));
            }
        }
        if self.signature().is_some() {
            files.push(PathBuf::from(SIGNATURE_FILE));
        }
        files
    }

    /// A tool schema file's contents, from the schema read when the package
    /// was opened (the folder may be an archive, or gone).
    fn schema_file(&self, rel: &Path) -> io::Result<Vec<u8>> {
        let tools = &self.manifest().tools;
        let at = tools
            .iter()
            .position(|t| matches!(&t.input_schema, InputSchema::File(f) if Path::new(f) == rel));
        match at.and_then(|i| self.tool_schemas().get(i)) {
            Some(schema) => serde_json::to_vec_pretty(schema).map_err(io::Error::other),
            None => Err(io::Error::other(format!(
                "no schema was read for `{}`",
                rel.display()
            ))),
        }
    }

    /// Writes the package as a `.yoi` archive at `out` (through a temporary
    /// file, so `out` is either complete or untouched).
    pub fn write_archive(&self, out: &Path) -> io::Result<()> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(parent)?;
        {
            let gz = GzEncoder::new(tmp.as_file(), Compression::best());
            let mut tar = tar::Builder::new(gz);
            tar.mode(tar::HeaderMode::Deterministic);
            for rel in self.archive_files() {
                let bytes = if rel == Path::new(MANIFEST_FILE) {
                    self.manifest_text().as_bytes().to_vec()
                } else if rel == Path::new(SIGNATURE_FILE) {
                    self.signature()
                        .map(|s| s.text().as_bytes().to_vec())
                        .unwrap_or_default()
                } else if rel == self.manifest().runtime.artifact {
                    self.artifact().to_vec()
                } else {
                    self.schema_file(&rel)?
                };
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, &rel, bytes.as_slice())?;
            }
            tar.into_inner()?.finish()?.flush()?;
        }
        tmp.persist(out).map_err(|e| e.error)?;
        Ok(())
    }

    /// Opens a `.yoi` archive: unpacks it into a private temporary folder
    /// (refusing anything but plain relative files) and opens that folder
    /// like [`Package::open`]. The returned package's `dir` is the archive.
    pub fn open_archive(file: &Path, compat: &Compat) -> Result<Package, ArchiveError> {
        Package::unpack_archive(file, compat, true)
    }

    /// [`Package::open_archive`] without the signature, as
    /// [`Package::open_unsigned`] opens a folder.
    pub fn open_archive_unsigned(file: &Path, compat: &Compat) -> Result<Package, ArchiveError> {
        Package::unpack_archive(file, compat, false)
    }

    fn unpack_archive(file: &Path, compat: &Compat, signed: bool) -> Result<Package, ArchiveError> {
        let unreadable = |reason: String| ArchiveError::Unreadable {
            file: file.to_path_buf(),
            reason,
        };
        let unsafe_entry = |entry: &str, reason: &str| ArchiveError::Unsafe {
            file: file.to_path_buf(),
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let reader = std::fs::File::open(file).map_err(|e| unreadable(e.to_string()))?;
        let dir =
            tempfile::tempdir().map_err(|e| unreadable(format!("no temporary folder: {e}")))?;
        // Every byte the decompressor yields counts, headers, skipped
        // folders' data and padding included: a small upload cannot make
        // the server inflate more than the limit.
        let inflated = Bounded {
            inner: GzDecoder::new(reader),
            left: MAX_INFLATED_BYTES,
        };
        let too_much = || {
            unsafe_entry(
                "(archive)",
                &format!("the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"),
            )
        };
        let mut archive = tar::Archive::new(inflated);
        let mut seen = BTreeSet::new();
        let mut entries = 0usize;
        let mut total = 0u64;
        let failed = |e: io::Error| {
            if e.kind() == io::ErrorKind::FileTooLarge {
                too_much()
            } else {
                unreadable(e.to_string())
            }
        };
        for entry in archive.entries().map_err(failed)? {
            let mut entry = entry.map_err(failed)?;
            let path = entry
                .path()
                .map_err(|e| unreadable(e.to_string()))?
                .into_owned();
            let shown = path.display().to_string();
            entries += 1;
            if entries > MAX_ENTRIES {
                return Err(unsafe_entry(
                    &shown,
                    &format!("an archive holds at most {MAX_ENTRIES} entries"),
                ));
            }
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Directory => continue,
                _ => {
                    return Err(unsafe_entry(
                        &shown,
                        "only plain files are allowed (no links or devices)",
                    ));
                }
            }
            if path.as_os_str().is_empty()
                || !path.components().all(|c| matches!(c, Component::Normal(_)))
            {
                return Err(unsafe_entry(
                    &shown,
                    "paths must be relative, without `..` or `.`",
                ));
            }
            if !seen.insert(path.clone()) {
                return Err(unsafe_entry(&shown, "the archive holds this path twice"));
            }
            let size = entry
                .header()
                .size()
                .map_err(|e| unreadable(e.to_string()))?;
            total = total.saturating_add(size);
            if total > MAX_UNPACKED_BYTES {
                return Err(unsafe_entry(
                    &shown,
                    &format!("the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"),
                ));
            }
            let target = dir.path().join(&path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| unreadable(e.to_string()))?;
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(size.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(failed)?;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(|e| unreadable(format!("{shown}: {e}")))?;
            out.write_all(&bytes)
                .map_err(|e| unreadable(e.to_string()))?;
        }
        let opened = if signed {
            Package::open(dir.path(), compat)
        } else {
            Package::open_unsigned(dir.path(), compat)
        };
        let mut package = opened.map_err(ArchiveError::Package)?;
        package.dir = file.to_path_buf();
        Ok(package)
    }
}
