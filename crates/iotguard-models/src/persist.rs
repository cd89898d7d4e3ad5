//! Model files: versioned, self-describing JSON.
//!
//! A file says what it is (`format`, `version`), which model (`kind`, `params`, the fitted
//! `model`), which features it expects (the feature schema's version, fingerprint and names),
//! the decision threshold chosen on validation data, what it was trained on and how it scored.
//! Loading checks the envelope; [`ModelFile::check_features`] refuses a model whose feature
//! schema differs from the running one, naming the difference, before anything is scored.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::reference::ReferenceProfile;

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "iotguard-model";
/// The model file version this build writes and reads.
pub const MODEL_FILE_VERSION: u32 = 1;

/// The features a model expects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// The feature schema's version.
    pub version: u32,
    /// The schema's fingerprint (hex), a hash of its version and names.
    pub fingerprint: String,
    /// The feature names, in column order.
    pub names: Vec<String>,
    /// The feature extractor's configuration (horizons and bounds), so the same features can be
    /// computed where the model is used.
    pub config: serde_json::Value,
}

/// What the model was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Rows used for training.
    pub rows: u64,
    /// Malicious rows among them.
    pub malicious: u64,
    /// The inputs (captures) the rows came from.
    pub inputs: Vec<String>,
    /// Training-only inputs (`train --augment-sim`, `--augment`): fitted on, never held out to
    /// choose the threshold. Absent in files written before them and when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub augment: Vec<String>,
    /// What the rows are a sample of, when a row budget was set (`train --max-train-rows`):
    /// rows seen, kept, folded and sampled away per (input, class, detailed label). Absent in
    /// files written before it and by commands that set no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<crate::reservoir::SamplingReport>,
}

/// A saved model with everything needed to use it safely.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// The file layout version ([`MODEL_FILE_VERSION`]).
    pub version: u32,
    /// The model kind (`logreg`, `svm`, `tree`, `forest`, `gbdt`, `iforest`, ...).
    pub kind: String,
    /// The hyperparameters it was trained with.
    pub params: serde_json::Value,
    /// The features it expects.
    pub features: FeatureSpec,
    /// The score at or above which a flow is called malicious, and how it was chosen.
    pub threshold: serde_json::Value,
    /// What it was trained on.
    pub training: TrainingSummary,
    /// Metrics measured on held-out data when it was trained.
    pub metrics: serde_json::Value,
    /// When it was made, in seconds since the Unix epoch.
    pub created_unix_secs: i64,
    /// The fitted model itself (the kind's own serialised form).
    pub model: serde_json::Value,
    /// What the training input and scores looked like, for the drift monitors. Absent from
    /// files written before it existed: they load, and detection runs without monitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceProfile>,
    /// Where the model came from when it was retrained from another (`iotguard retrain`): the
    /// parent's id and version, the data, the comparison with the parent and whether it was
    /// promoted and why. Absent for a model trained from flows alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<serde_json::Value>,
}

impl ModelFile {
    /// Returns the model's id: a fingerprint (FNV-1a, 64 bits, hex) of the fitted model's
    /// content, as alerts name it (`rule.id`).
    pub fn id(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in self.model.to_string().as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Writes the file as pretty JSON.
    pub fn save(&self, w: impl Write) -> Result<()> {
        serde_json::to_writer_pretty(w, self).map_err(|e| Error::ModelFile(format!("writing: {e}")))
    }

    /// Reads a file, refusing anything that is not a model file of this version.
    pub fn load(r: impl Read) -> Result<ModelFile> {
        let value: serde_json::Value =
            serde_json::from_reader(r).map_err(|e| Error::ModelFile(format!("not JSON: {e}")))?;
        let format = value.get("format").and_then(|v| v.as_str());
        if format != Some(MODEL_FORMAT) {
            return Err(Error::ModelFile(format!(
                "not an iotguard model file (format {})",
                format.map_or_else(|| "missing".to_string(), |f| format!("`{f}`"))
            )));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(MODEL_FILE_VERSION)) {
            return Err(Error::ModelFile(format!(
                "model file version {} is not the version this build reads ({MODEL_FILE_VERSION})",
                version.map_or_else(|| "missing".to_string(), |v| v.to_string())
            )));
        }
        serde_json::from_value(value).map_err(|e| Error::ModelFile(format!("malformed: {e}")))
    }

    /// Refuses a model trained on other features than the running extractor computes, saying
    /// what differs (version, names added, removed or reordered).
    pub fn check_features(&self, running: &FeatureSpec) -> Result<()> {
        let want = &self.features;
        if want.version == running.version
            && want.fingerprint == running.fingerprint
            && want.names == running.names
        {
            return Ok(());
        }
        let mut why = Vec::new();
        if want.version != running.version {
            why.push(format!(
                "schema version {} (running {})",
                want.version, running.version
            ));
        }
        let missing: Vec<&str> = want
            .names
            .iter()
            .filter(|n| !running.names.contains(n))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = running
            .names
            .iter()
            .filter(|n| !want.names.contains(n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            why.push(format!(
                "{} features the running extractor lacks ({})",
                missing.len(),
                preview(&missing)
            ));
        }
        if !extra.is_empty() {
            why.push(format!(
                "{} features the model does not know ({})",
                extra.len(),
                preview(&extra)
            ));
        }
        if missing.is_empty() && extra.is_empty() && want.names != running.names {
            why.push("the same features in another order".to_string());
        }
        if why.is_empty() {
            why.push(format!(
                "fingerprint {} (running {})",
                want.fingerprint, running.fingerprint
            ));
        }
        Err(Error::ModelFile(format!(
            "the model's feature schema does not match the running one: {}; retrain the model with this build",
            why.join("; ")
        )))
    }
}

fn preview(names: &[&str]) -> String {
    let mut s = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        s.push_str(", …");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(names: &[&str]) -> FeatureSpec {
        FeatureSpec {
            version: 1,
            fingerprint: format!("fp-{}", names.join("|")),
            names: names.iter().map(|s| s.to_string()).collect(),
            config: serde_json::Value::Null,
        }
    }

    fn file() -> ModelFile {
        ModelFile {
            format: MODEL_FORMAT.into(),
            version: MODEL_FILE_VERSION,
            kind: "logreg".into(),
            params: serde_json::json!({"l2": 1.0}),
            features: spec(&["a", "b", "c"]),
            threshold: serde_json::json!({"value": 0.42, "method": "max_f1"}),
            training: TrainingSummary {
                rows: 10,
                malicious: 3,
                inputs: vec!["x.log".into()],
                augment: Vec::new(),
                sampling: None,
            },
            metrics: serde_json::json!({"f1": 0.9}),
            created_unix_secs: 1_700_000_000,
            model: serde_json::json!({"w": [1.0, 2.0, 3.0]}),
            reference: None,
            lineage: None,
        }
    }

    #[test]
    fn round_trip() {
        let mut bytes = Vec::new();
        file().save(&mut bytes).unwrap();
        assert_eq!(ModelFile::load(&bytes[..]).unwrap(), file());
    }

    #[test]
    fn a_file_with_a_reference_profile_round_trips_and_one_without_still_loads() {
        let mut with = file();
        let h = crate::reference::Histogram::from_values(&[1.0, 2.0, f32::NAN]);
        with.reference = Some(ReferenceProfile {
            version: crate::reference::PROFILE_VERSION,
            rows: 3,
            benign_rows: 3,
            features: vec![crate::reference::FeatureProfile {
                name: "a".into(),
                histogram: h.clone(),
            }],
            score: h,
            score_mean: 0.5,
            score_std: 0.25,
            threshold: 0.42,
            expected_alert_rate: 0.125,
        });
        let mut bytes = Vec::new();
        with.save(&mut bytes).unwrap();
        assert_eq!(ModelFile::load(&bytes[..]).unwrap(), with);
        // A file written before profiles existed has no `reference` key at all.
        let mut old = Vec::new();
        file().save(&mut old).unwrap();
        assert!(!String::from_utf8_lossy(&old).contains("reference"));
        assert_eq!(ModelFile::load(&old[..]).unwrap().reference, None);
    }

    #[test]
    fn refuses_other_files_and_versions() {
        for (text, why) in [
            ("{}", "format missing"),
            ("[1]", "format missing"),
            ("nope", "not JSON"),
            (r#"{"format":"iotguard-model","version":9}"#, "version 9"),
            (r#"{"format":"other","version":1}"#, "format `other`"),
            (r#"{"format":"iotguard-model","version":1}"#, "malformed"),
        ] {
            let err = ModelFile::load(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn schema_mismatch_is_refused_with_the_difference() {
        let f = file();
        f.check_features(&spec(&["a", "b", "c"])).unwrap();
        let err = f
            .check_features(&spec(&["a", "b", "d"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 features the running extractor lacks (c)"),
            "{err}"
        );
        assert!(
            err.contains("1 features the model does not know (d)"),
            "{err}"
        );
        let err = f
            .check_features(&spec(&["c", "b", "a"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another order"), "{err}");
        let mut v2 = spec(&["a", "b", "c"]);
        v2.version = 2;
        assert!(f
            .check_features(&v2)
            .unwrap_err()
            .to_string()
            .contains("schema version 1 (running 2)"));
    }

    /// Trains `kind` twice with one seed and saves each as a model file.
    fn saved_twice(kind: crate::lab::ModelKind) -> (Vec<u8>, Vec<u8>) {
        let d = crate::tree::testdata::random_data(1_500, 4, 11, 0.02);
        let save = || {
            let t = crate::lab::train(kind, &d, 5).unwrap();
            let mut f = file();
            f.kind = kind.name().into();
            f.params = t.params;
            f.threshold = serde_json::to_value(&t.threshold).unwrap();
            f.model = serde_json::to_value(&t.model).unwrap();
            let mut bytes = Vec::new();
            f.save(&mut bytes).unwrap();
            bytes
        };
        (save(), save())
    }

    #[test]
    fn autoencoder_and_ensemble_files_are_reproducible_and_load_back() {
        use crate::lab::{ModelKind, TrainedModel};
        use crate::model::Scorer;
        let d = crate::tree::testdata::random_data(50, 4, 12, 0.0);
        for kind in [ModelKind::Autoencoder, ModelKind::Ensemble] {
            let (a, b) = saved_twice(kind);
            assert_eq!(a, b, "{kind}: the same seed gives the same bytes");
            let loaded = ModelFile::load(&a[..]).unwrap();
            assert_eq!(loaded.kind, kind.name());
            let model: TrainedModel = serde_json::from_value(loaded.model.clone()).unwrap();
            assert_eq!(model.model_kind(), kind);
            // Serialising the loaded model again gives the stored model, bit for bit.
            assert_eq!(serde_json::to_value(&model).unwrap(), loaded.model);
            for i in 0..d.n_rows() {
                let s = model.score(d.row(i));
                assert!(s.is_finite() && s >= 0.0, "{kind}: {s}");
            }
        }
    }
}
