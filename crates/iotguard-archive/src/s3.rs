//! The archive in an S3-compatible bucket (`s3://bucket/prefix`), through `object_store`.
//!
//! Objects are only ever written whole: a finished local file is sent with one PUT, or (over
//! [`MULTIPART_BYTES`]) a multipart upload of [`PART_BYTES`] parts completed at the end (and
//! aborted on a failure), so a reader listing the bucket never sees a half-written object. The
//! key of a file is the prefix, then its path under the local root: the same Hive layout
//! (`PREFIX/date=YYYY-MM-DD/hour=HH/part-….parquet`).
//!
//! Endpoint, region and credentials come from the standard AWS variables
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_ALLOW_HTTP`, …), which [`S3Config::options`] can override (tests pass their server so).
//! Every call is bounded: a 5 s connect timeout, two retries of the client's own within 15 s;
//! the uploader retries beyond that itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::partition::parse_date_dir;
use crate::{Error, Result};

/// Files up to this size go up in one PUT; larger ones as a multipart upload.
pub const MULTIPART_BYTES: u64 = 16 << 20;
/// The part size of multipart uploads (S3's minimum is 5 MiB, all parts but the last).
pub const PART_BYTES: usize = 8 << 20;

/// Where in S3 the archive is, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing `/` (empty: the bucket's root).
    pub prefix: String,
    /// `object_store` S3 settings applied over the environment's, e.g.
    /// `("aws_endpoint", "http://127.0.0.1:9000")`, `("aws_allow_http", "true")`.
    pub options: Vec<(String, String)>,
}

impl S3Config {
    /// Parses `s3://bucket[/prefix]`; `None` when `url` is not an `s3://` URL or has no bucket.
    pub fn parse(url: &str) -> Option<S3Config> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            options: Vec::new(),
        })
    }

    /// The URL, `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The key of a path relative to the archive root (`/`-separated).
    pub(crate) fn key(&self, rel: &Path) -> String {
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        if self.prefix.is_empty() {
            rel
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::S3 {
            url: self.url(),
            message: format!("{what}: {e}"),
        }
    }
}

/// A connected bucket with a runtime to drive it (one per thread that uses it).
pub(crate) struct Bucket {
    config: S3Config,
    store: Arc<AmazonS3>,
    rt: tokio::runtime::Runtime,
}

impl Bucket {
    /// Builds the client (no request is made).
    pub(crate) fn connect(config: &S3Config) -> Result<Bucket> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: std::time::Duration::from_secs(15),
                ..RetryConfig::default()
            });
        let defaults = [("aws_connect_timeout", "5s"), ("aws_timeout", "120s")];
        let given = config.options.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (key, value) in defaults.into_iter().chain(given) {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|e| config.error(&format!("setting {key}"), e))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .build()
            .map_err(|e| config.error("configuring the client", e))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config.error("starting the I/O runtime", e))?;
        Ok(Bucket {
            config: config.clone(),
            store: Arc::new(store),
            rt,
        })
    }

    fn path(&self, key: &str) -> Result<ObjectPath> {
        ObjectPath::parse(key).map_err(|e| self.config.error(&format!("key {key}"), e))
    }

    /// Uploads a finished local file to `key`, whole: one PUT, or a multipart upload completed
    /// only after its last part (aborted on a failure) when larger than `multipart_bytes`.
    /// Returns the bytes sent.
    pub(crate) fn upload(&self, file: &Path, key: &str, multipart_bytes: u64) -> Result<u64> {
        let path = self.path(key)?;
        let size = std::fs::metadata(file)
            .map_err(|e| Error::io(file, e))?
            .len();
        let what = |e: &dyn std::fmt::Display| self.config.error(&format!("uploading {key}"), e);
        self.rt.block_on(async {
            if size <= multipart_bytes {
                let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| what(&e))?;
                return Ok(size);
            }
            let mut upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| what(&e))?;
            let sent: Result<()> = async {
                use std::io::Read;
                let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
                loop {
                    let mut part = Vec::with_capacity(PART_BYTES);
                    (&mut f)
                        .take(PART_BYTES as u64)
                        .read_to_end(&mut part)
                        .map_err(|e| Error::io(file, e))?;
                    if part.is_empty() {
                        break;
                    }
                    upload
                        .put_part(PutPayload::from(part))
                        .await
                        .map_err(|e| what(&e))?;
                }
                upload.complete().await.map_err(|e| what(&e))?;
                Ok(())
            }
            .await;
            if let Err(e) = sent {
                // Parts of an unfinished upload are never an object; abort frees them.
                let _ = upload.abort().await;
                return Err(e);
            }
            Ok(size)
        })
    }

    /// Every object key under the archive prefix (all of them, page after page).
    pub(crate) fn list(&self) -> Result<Vec<(String, u64)>> {
        let prefix = if self.config.prefix.is_empty() {
            None
        } else {
            Some(self.path(&self.config.prefix)?)
        };
        self.rt.block_on(async {
            let mut stream = self.store.list(prefix.as_ref());
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.config.error("listing", e))?;
                out.push((meta.location.to_string(), meta.size));
            }
            Ok(out)
        })
    }

    /// Deletes every object in date partitions (`PREFIX/date=…/`) before `oldest_kept` (days
    /// since the epoch); returns the date partitions that had objects removed.
    pub(crate) fn remove_days_before(&self, oldest_kept: i64) -> Result<u64> {
        let mut days = std::collections::BTreeSet::new();
        let mut doomed = Vec::new();
        for (key, _) in self.list()? {
            let Some(day) = self
                .rel(&key)
                .and_then(|rel| rel.split('/').next().and_then(parse_date_dir))
            else {
                continue;
            };
            if day < oldest_kept {
                days.insert(day);
                doomed.push(key);
            }
        }
        self.rt.block_on(async {
            for key in &doomed {
                let path = self.path(key)?;
                self.store
                    .delete(&path)
                    .await
                    .map_err(|e| self.config.error(&format!("deleting {key}"), e))?;
            }
            Ok(days.len() as u64)
        })
    }

    /// The part of `key` under the prefix.
    pub(crate) fn rel<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.config.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.config.prefix.as_str())?
                .strip_prefix('/')
        }
    }

    /// Downloads `key` to `dest` (through a hidden temporary name, renamed when complete).
    fn download(&self, key: &str, dest: &Path) -> Result<u64> {
        let path = self.path(key)?;
        let bytes = self.rt.block_on(async {
            let got = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.config.error(&format!("reading {key}"), e))?;
            got.bytes()
                .await
                .map_err(|e| self.config.error(&format!("reading {key}"), e))
        })?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = dest
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &bytes[..]).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
        Ok(bytes.len() as u64)
    }
}

/// What [`download_archive`] fetched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DownloadCounts {
    /// Archive files downloaded.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Archive files left in the bucket because `keep` refused their partition.
    pub pruned: u64,
}

/// Downloads the archive files (`….parquet`, not hidden) under the prefix whose path under it
/// `keep` accepts (given the relative path, e.g. `date=2019-01-10/hour=20/part-….parquet`) into
/// `dest`, keeping the layout, so the folder is read like a local archive.
pub fn download_archive(
    config: &S3Config,
    keep: impl Fn(&Path) -> bool,
    dest: &Path,
) -> Result<DownloadCounts> {
    let bucket = Bucket::connect(config)?;
    let mut counts = DownloadCounts::default();
    for (key, _) in bucket.list()? {
        let Some(rel) = bucket.rel(&key) else {
            continue;
        };
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if name.starts_with('.') || !name.ends_with(".parquet") {
            continue;
        }
        let rel_path: PathBuf = rel.split('/').collect();
        if !keep(&rel_path) {
            counts.pruned += 1;
            continue;
        }
        counts.bytes += bucket.download(&key, &dest.join(&rel_path))?;
        counts.files += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_makes_keys() {
        let c = S3Config::parse("s3://flows/site-a/archive/").unwrap();
        assert_eq!(c.bucket, "flows");
        assert_eq!(c.prefix, "site-a/archive");
        assert_eq!(c.url(), "s3://flows/site-a/archive");
        assert_eq!(
            c.key(Path::new("date=2019-01-10/hour=20/part-1.parquet")),
            "site-a/archive/date=2019-01-10/hour=20/part-1.parquet"
        );
        let root = S3Config::parse("s3://flows").unwrap();
        assert_eq!(root.prefix, "");
        assert_eq!(
            root.key(Path::new("date=2019-01-10/x.parquet")),
            "date=2019-01-10/x.parquet"
        );
        assert_eq!(S3Config::parse("s3:///x"), None);
        assert_eq!(S3Config::parse("/data/archive"), None);
    }
}
