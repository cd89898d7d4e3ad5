//! [`ModelHandle`]: the active model, shared by the detector and whoever may replace it.
//!
//! The handle is a cheap `Clone` (an `Arc`); [`ModelHandle::swap`] installs a new model from any
//! thread. The [`Detector`](crate::Detector) checks a generation counter before each flow (one
//! atomic load) and picks the new model up between two flows: no flow is dropped or scored
//! half by one model and half by the other.
//!
//! The memory caps of the feature tables (`max_hosts`, `idle_timeout_secs`) are the running
//! detector's (a deployment may raise or lower them for its network, see `iotguard detect
//! --max-hosts`); a swapped-in model keeps them. A swap to a model whose feature configuration
//! otherwise differs from the running one is **refused**
//! with an error naming both configurations: the per-host state in the extractor was built
//! under the old configuration and cannot serve the new one, and silently rebuilding it would
//! blind detection for the length of the longest horizon. Restart detection to change features.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use iotguard_runtime::lab::{load_model, LoadedModel};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::shadow::{Shadow, ShadowCounts, ShadowStatus};
use crate::time::rfc3339;

/// How alerts name a model (`rule.*`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelInfo {
    /// `iotguard-<kind>`.
    pub name: String,
    /// A fingerprint (FNV-1a, 64 bits, hex) of the fitted model's content.
    pub id: String,
    /// The model file's creation time (RFC 3339, seconds).
    pub version: String,
    /// The model kind (`gbdt`, `logreg`, ...).
    pub kind: String,
    /// The file it was loaded from, if any.
    pub path: Option<String>,
    /// The threshold.
    pub threshold: f32,
}

/// A loaded model with how alerts name it.
pub struct ActiveModel {
    /// The model, its threshold and its feature configuration.
    pub loaded: LoadedModel,
    /// Its names for alerts.
    pub info: ModelInfo,
}

impl ActiveModel {
    /// Wraps a loaded model, naming it.
    pub fn new(loaded: LoadedModel, path: Option<&Path>) -> ActiveModel {
        let kind = loaded.file.kind.clone();
        let info = ModelInfo {
            name: format!("iotguard-{kind}"),
            id: loaded.file.id(),
            version: rfc3339(iotguard_flow::Timestamp::from_secs_nanos(
                loaded.file.created_unix_secs,
                0,
            ))
            .replace(".000000Z", "Z"),
            kind,
            path: path.map(|p| p.display().to_string()),
            threshold: loaded.threshold.value,
        };
        ActiveModel { loaded, info }
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (not a security hash).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Shared {
    current: RwLock<Arc<ActiveModel>>,
    generation: AtomicU64,
    /// The shadow scored beside the active model, if any; `generation` also counts its
    /// changes, so the detector's one check before each flow sees both.
    shadow: RwLock<Option<Arc<Shadow>>>,
}

/// A cheap, thread-safe handle to the active model; see the module docs for swapping.
#[derive(Clone)]
pub struct ModelHandle {
    shared: Arc<Shared>,
}

impl ModelHandle {
    /// Makes a handle holding `model`.
    pub fn new(model: ActiveModel) -> ModelHandle {
        ModelHandle {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(model)),
                generation: AtomicU64::new(0),
                shadow: RwLock::new(None),
            }),
        }
    }

    /// Loads a model file (checked against this build's features) into a new handle.
    pub fn load(path: &Path) -> Result<ModelHandle> {
        let loaded = load_model(path)?;
        Ok(ModelHandle::new(ActiveModel::new(loaded, Some(path))))
    }

    /// Returns the active model.
    pub fn current(&self) -> Arc<ActiveModel> {
        self.shared
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns how many swaps have happened (the detector compares it before each flow).
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Returns the active model's names.
    pub fn info(&self) -> ModelInfo {
        self.current().info.clone()
    }

    /// Installs `model`, returning the one it replaces. Refused (and nothing changes) when its
    /// feature configuration differs from the active model's. A shadow in place stays (it now
    /// runs beside the new model).
    pub fn swap(&self, mut model: ActiveModel) -> Result<Arc<ActiveModel>> {
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner());
        fit(&current, &mut model, "swap in")?;
        let old = std::mem::replace(&mut *current, Arc::new(model));
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        Ok(old)
    }

    /// Installs `model` as the shadow (see the `shadow` module): scored beside the active model on
    /// every flow from the next one on, never alerting. Replaces a shadow in place; refused
    /// (and nothing changes) when its feature configuration differs from the active model's.
    pub fn set_shadow(&self, mut model: ActiveModel) -> Result<()> {
        let current = self
            .shared
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner());
        fit(&current, &mut model, "shadow")?;
        let since = rfc3339(crate::time::now());
        let shadow = Shadow::new(model, current.info.clone(), since);
        *self.shadow_slot() = Some(Arc::new(shadow));
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Drops the shadow, returning what it would have done (`None` without one).
    pub fn clear_shadow(&self) -> Option<ShadowCounts> {
        let _current = self
            .shared
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let old = self.shadow_slot().take()?;
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        Some(old.counts())
    }

    /// Returns the shadow, if any.
    pub fn shadow(&self) -> Option<Arc<Shadow>> {
        self.shared
            .shadow
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns the shadow's state, if there is one.
    pub fn shadow_status(&self) -> Option<ShadowStatus> {
        self.shadow().map(|s| s.status())
    }

    fn shadow_slot(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Shadow>>> {
        self.shared
            .shadow
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes `model` fit to run where `current` runs: it takes the running extractor's memory caps
/// (they belong to the extractor, not to the model, and change no feature's name or value);
/// any other difference in feature configuration is refused, naming both.
fn fit(current: &ActiveModel, model: &mut ActiveModel, what: &str) -> Result<()> {
    model.loaded.features.max_hosts = current.loaded.features.max_hosts;
    model.loaded.features.idle_timeout_secs = current.loaded.features.idle_timeout_secs;
    if current.loaded.features != model.loaded.features {
        return Err(Error::Model(format!(
            "refusing to {what} {} ({}): its feature configuration {} differs from the \
             running {}; restart detection to change features",
            model.info.name,
            model.info.path.as_deref().unwrap_or("in memory"),
            serde_json::to_string(&model.loaded.features).unwrap_or_default(),
            serde_json::to_string(&current.loaded.features).unwrap_or_default(),
        )));
    }
    Ok(())
}

impl std::fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle")
            .field("model", &self.info())
            .field("generation", &self.generation())
            .finish()
    }
}
