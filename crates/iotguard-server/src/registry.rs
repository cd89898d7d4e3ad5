//! The model versions kept in the models directory (the files `POST /api/v1/models/activate`
//! may load, `detect --auto-retrain`'s `STEM.retrained-K.json` among them), as
//! `GET /api/v1/models` lists them under `versions`: each file's names, threshold and lineage
//! (parent, trigger, whether and why it was promoted), newest first, the active one marked.
//!
//! Invariant: listing only reads. A file is read once per version (length and modification
//! time) and its summary cached, since a forest's file is tens of MB; JSON files that are not
//! model files (reports, explorations) are left out; a model file that cannot be loaded by this
//! build is listed with its error, so the operator sees why it cannot be activated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use iotguard_detect::ActiveModel;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::models_dir::MAX_MODEL_BYTES;

/// The most files of the directory looked at (the newest listed first).
const MAX_FILES: usize = 500;

/// One model file of the models directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Version {
    /// Its file name, as `POST /api/v1/models/activate` takes it.
    pub(crate) file: String,
    /// Whether it is the active model's file.
    pub(crate) active: bool,
    /// Its id (`rule.id` in alerts), version (its creation time), kind and threshold; null when
    /// it cannot be loaded.
    pub(crate) id: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) threshold: Option<f32>,
    /// The id of the model it was retrained from (null when trained from flows).
    pub(crate) parent: Option<String>,
    /// What set its retraining off (`detect --auto-retrain`).
    pub(crate) trigger: Option<String>,
    /// Whether its retraining promoted it, and why (after its trial as a shadow, if any).
    pub(crate) promoted: Option<bool>,
    pub(crate) reason: Option<String>,
    /// Why it cannot be loaded by this build (null when it can).
    pub(crate) error: Option<String>,
}

/// A file's summary (`None`: not a model file) and the length and modification time it is for.
type Cached = (u64, SystemTime, Option<Version>);

/// The summaries read so far, by path.
#[derive(Default)]
pub(crate) struct Registry {
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

impl Registry {
    /// Lists the model files of `dir`, newest first (then by name); `active` is the active
    /// model's path. Call it on the blocking pool: it reads files.
    pub(crate) fn list(&self, dir: &Path, active: Option<&str>) -> Vec<Version> {
        let active = active.and_then(|p| std::fs::canonicalize(p).ok());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<(PathBuf, u64, SystemTime)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let modified = meta.modified().ok()?;
                (meta.is_file() && meta.len() <= MAX_MODEL_BYTES)
                    .then(|| (e.path(), meta.len(), modified))
            })
            .collect();
        files.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        files.truncate(MAX_FILES);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|path, _| files.iter().any(|(p, _, _)| p == path));
        let mut versions = Vec::new();
        for (path, len, modified) in files {
            let fresh = matches!(cache.get(&path), Some((l, m, _)) if *l == len && *m == modified);
            if !fresh {
                cache.insert(path.clone(), (len, modified, summarise(&path)));
            }
            if let Some((_, _, Some(v))) = cache.get(&path) {
                let mut v = v.clone();
                v.active = active.is_some() && std::fs::canonicalize(&path).ok() == active;
                versions.push(v);
            }
        }
        versions.sort_by(|a, b| b.version.cmp(&a.version).then_with(|| a.file.cmp(&b.file)));
        versions
    }
}

/// Reads one file's summary; `None` when it is not a model file at all.
fn summarise(path: &Path) -> Option<Version> {
    #[derive(Deserialize)]
    struct Format {
        format: Option<String>,
    }
    let bytes = std::fs::read(path).ok()?;
    let format: Format = serde_json::from_slice(&bytes).ok()?;
    if format.format.as_deref() != Some(iotguard_models::persist::MODEL_FORMAT) {
        return None;
    }
    let file = path.file_name()?.to_string_lossy().into_owned();
    let mut v = Version {
        file: file.clone(),
        active: false,
        id: None,
        version: None,
        kind: None,
        threshold: None,
        parent: None,
        trigger: None,
        promoted: None,
        reason: None,
        error: None,
    };
    match iotguard_runtime::lab::load_model_from(&file, bytes.as_slice()) {
        Ok(loaded) => {
            let lineage = loaded.file.lineage.clone().unwrap_or(Value::Null);
            let text = |key: &str| lineage.get(key).and_then(Value::as_str).map(str::to_string);
            v.parent = lineage
                .pointer("/parent/id")
                .and_then(Value::as_str)
                .map(str::to_string);
            v.trigger = text("trigger");
            v.reason = text("reason");
            v.promoted = lineage.get("promoted").and_then(Value::as_bool);
            let info = ActiveModel::new(loaded, Some(path)).info;
            v.id = Some(info.id);
            v.version = Some(info.version);
            v.kind = Some(info.kind);
            v.threshold = Some(info.threshold);
        }
        Err(e) => v.error = Some(e.to_string()),
    }
    Some(v)
}
