//! `s3://bucket/prefix` inputs (a flow archive `detect --archive s3://…` wrote): the archive's
//! files, of the partitions `--since/--until` keep, are downloaded into a temporary folder that
//! is read like a local archive and removed when the command ends ([`cleanup`]). The runtime
//! never sees a URL, so it needs no object store.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use iotguard_archive::{download_archive, S3Config};
use iotguard_runtime::window::TimeWindow;

use crate::output;

/// The temporary folders of this command's downloads.
static DOWNLOADS: Mutex<Vec<tempfile::TempDir>> = Mutex::new(Vec::new());

/// Parses an `s3://` path; `Ok(None)` for anything else, an error for a malformed URL.
pub(crate) fn s3_url(path: &Path) -> anyhow::Result<Option<S3Config>> {
    let Some(text) = path.to_str().filter(|t| t.starts_with("s3://")) else {
        return Ok(None);
    };
    S3Config::parse(text)
        .map(Some)
        .with_context(|| format!("{text}: not an s3://bucket/prefix URL"))
}

/// Downloads the archive at `config`'s URL (the partitions `window` keeps) into a temporary
/// folder held until [`cleanup`], and returns that folder.
pub(crate) fn download(config: &S3Config, window: &TimeWindow) -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("iotguard-s3-")
        .tempdir()
        .context("creating a folder for the download")?;
    let counts = download_archive(config, |rel| window.may_hold(rel), dir.path())
        .with_context(|| format!("downloading the archive {}", config.url()))?;
    output::info(&format!(
        "{}: {} archive file(s), {} MB downloaded{}",
        config.url(),
        counts.files,
        output::num(counts.bytes as f64 / 1e6),
        if counts.pruned > 0 {
            format!(
                "; {} in partitions outside --since/--until left in the bucket",
                counts.pruned
            )
        } else {
            String::new()
        }
    ));
    let path = dir.path().to_path_buf();
    DOWNLOADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir);
    Ok(path)
}

/// Replaces every `s3://` path by the folder its archive was downloaded to.
pub(crate) fn resolve(paths: &[PathBuf], window: &TimeWindow) -> anyhow::Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|p| match s3_url(p)? {
            Some(config) => download(&config, window),
            None => Ok(p.clone()),
        })
        .collect()
}

/// Removes the downloads (called when the command ends).
pub(crate) fn cleanup() {
    DOWNLOADS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}
