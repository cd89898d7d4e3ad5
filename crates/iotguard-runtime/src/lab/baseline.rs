//! Baselines learned without labels on flow inputs (`iotguard train --unlabeled`, `detect
//! --learn-for`): every flow's features, whatever label it carries, taken as normal traffic,
//! an isolation forest or autoencoder fitted on them and its threshold set on its own training
//! scores ([`iotguard_models::baseline`]). The model file records the threshold's method and the
//! summary under `metrics.baseline`.

use iotguard_features::{FeatureConfig, FeatureSchema};
use iotguard_flow::ParseError;
use iotguard_models::baseline::{train_baseline, train_grouped_baseline, BaselineSummary};
use iotguard_models::lab::ModelKind;
use iotguard_models::persist::{ModelFile, TrainingSummary, MODEL_FILE_VERSION, MODEL_FORMAT};
use iotguard_models::Dataset;

use super::{feature_spec, LoadedModel};
use crate::batch::BatchConfig;
use crate::dataset::{build_dataset_with, BuiltDataset, Labels};
use crate::error::{Error, Result};
use crate::input::Input;

/// The kind a baseline is unless told otherwise: the isolation forest (fast to fit, no
/// scaling, exact per-feature explanations).
pub const DEFAULT_BASELINE_KIND: ModelKind = ModelKind::Iforest;

/// How a baseline is learned: its kind, target rate, seed and optional grouping.
#[derive(Clone, Debug)]
pub struct BaselineParams {
    /// iforest or autoencoder.
    pub kind: ModelKind,
    /// The share of the training flows it may alert on.
    pub target_far: f64,
    /// The seed.
    pub seed: u64,
    /// A one-hot feature family (`service`, `proto`) to learn a baseline per value of.
    pub group_by: Option<String>,
}

impl BaselineParams {
    /// An ungrouped baseline of `kind`.
    pub fn new(kind: ModelKind, target_far: f64, seed: u64) -> BaselineParams {
        BaselineParams {
            kind,
            target_far,
            seed,
            group_by: None,
        }
    }
}

/// Learns a baseline from every flow of `inputs` (labels ignored and counted) with its
/// threshold for a false-alert rate of `params.target_far` on them.
pub fn train_baseline_model(
    params: &BaselineParams,
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(ModelFile, BuiltDataset, BaselineSummary)> {
    let built = build_dataset_with(
        inputs,
        batch,
        features,
        Labels::Ignored,
        &Default::default(),
        on_error,
    )?;
    let (mut file, summary) = baseline_file(params, &built.dataset, &built.schema, features)?;
    file.training.sampling = built.sampling.max_rows.map(|_| built.sampling.clone());
    Ok((file, built, summary))
}

/// Learns a baseline from rows already built (all taken as normal) into a model file.
pub fn baseline_file(
    params: &BaselineParams,
    dataset: &Dataset,
    schema: &FeatureSchema,
    features: &FeatureConfig,
) -> Result<(ModelFile, BaselineSummary)> {
    let kind = params.kind;
    let (trained, summary) = match &params.group_by {
        None => train_baseline(kind, dataset, params.target_far, params.seed),
        Some(family) => {
            train_grouped_baseline(kind, dataset, family, params.target_far, params.seed)
        }
    }
    .map_err(Error::Model)?;
    // The drift monitors' reference: the learning rows, all of them normal by assumption.
    let reference = iotguard_models::reference::ReferenceProfile::build(
        dataset,
        &trained.model,
        trained.threshold.value,
    );
    let file = ModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_FILE_VERSION,
        kind: kind.name().to_string(),
        params: trained.params,
        features: feature_spec(schema, features),
        threshold: serde_json::to_value(&trained.threshold).unwrap_or_default(),
        training: TrainingSummary {
            rows: dataset.n_rows() as u64,
            malicious: 0,
            inputs: dataset.group_names.clone(),
            augment: Vec::new(),
            sampling: None,
        },
        metrics: serde_json::json!({ "baseline": summary }),
        created_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        model: serde_json::to_value(&trained.model)
            .map_err(|e| Error::Model(iotguard_models::Error::ModelFile(e.to_string())))?,
        reference: Some(reference),
        lineage: None,
    };
    Ok((file, summary))
}

/// The stand-in model of a detector that has not learned its baseline yet (`detect
/// --learn-for` without `--model`): an isolation forest over two rows of zeros whose threshold,
/// `f32::MAX`, no score reaches. The detector never scores with it; it names the model slot
/// (`iforest`, `metrics.learning: true`) until the learned baseline replaces it.
pub fn learning_placeholder(features: &FeatureConfig) -> Result<LoadedModel> {
    let schema = iotguard_features::FeatureExtractor::try_new(features.clone())
        .map_err(|e| Error::Invalid(format!("feature config: {e}")))?
        .schema()
        .clone();
    let data = Dataset {
        feature_names: schema.names.clone(),
        features: vec![0.0; 2 * schema.len()],
        target: vec![false; 2],
        ..Dataset::default()
    };
    let params = iotguard_models::IsolationForestParams::default().n_trees(1);
    let forest = params.clone().fit(&data).map_err(Error::Model)?;
    let model = iotguard_models::lab::TrainedModel::Iforest(forest);
    let threshold = iotguard_models::threshold::Threshold::fixed(f32::MAX);
    let file = ModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_FILE_VERSION,
        kind: ModelKind::Iforest.name().to_string(),
        params: serde_json::to_value(&params).unwrap_or_default(),
        features: feature_spec(&schema, features),
        threshold: serde_json::to_value(&threshold).unwrap_or_default(),
        training: TrainingSummary::default(),
        metrics: serde_json::json!({ "learning": true }),
        created_unix_secs: 0,
        model: serde_json::to_value(&model)
            .map_err(|e| Error::Model(iotguard_models::Error::ModelFile(e.to_string())))?,
        reference: None,
        lineage: None,
    };
    Ok(LoadedModel {
        file,
        model,
        threshold,
        features: features.clone(),
    })
}

impl LoadedModel {
    /// Returns how a baseline learned without labels set its threshold (`None` for models
    /// trained on labels).
    pub fn baseline(&self) -> Option<BaselineSummary> {
        let v = self.file.metrics.get("baseline")?;
        serde_json::from_value(v.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_models::threshold::ThresholdMethod;

    fn learn(paths: &[&str], kind: ModelKind) -> (ModelFile, BuiltDataset, BaselineSummary) {
        let dir = iotguard_testkit::shared_data("baseline").unwrap();
        let inputs: Vec<Input> = paths.iter().map(|p| Input::File(dir.join(p))).collect();
        let batch = BatchConfig {
            threads: 1,
            ..BatchConfig::default()
        };
        train_baseline_model(
            &BaselineParams::new(kind, 0.01, 1),
            &inputs,
            &batch,
            &FeatureConfig::default(),
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn unlabeled_captures_and_labeled_ones_with_their_labels_ignored() {
        if iotguard_testkit::shared_data("baseline").is_none() {
            return;
        }
        // The nmap Zeek JSON capture carries no label: 4,504 rows, 1 % of them is 45.04, so at
        // most 45 alert.
        let (file, built, s) = learn(
            &["stratosphere/nmap-port-scanning.conn.json.log"],
            ModelKind::Iforest,
        );
        assert_eq!(built.dataset.n_rows(), 4_504);
        assert_eq!(built.ignored.unlabeled, 4_504);
        assert_eq!((s.rows, s.alerts), (4_504, 45));
        assert_eq!(file.training.rows, 4_504);
        assert_eq!(file.metrics["baseline"]["alerts"], 45);
        assert_eq!(file.threshold["method"]["kind"], "training_scores");
        // The unlabeled Argus file (comma-separated): 6,751 rows, at most 67 alert.
        let (_, built, s) = learn(
            &["argus/test2-malicious.unlabeled.binetflow"],
            ModelKind::Iforest,
        );
        assert_eq!(built.dataset.n_rows(), 6_751);
        assert_eq!((s.rows, s.alerts), (6_751, 67));
        // An autoencoder on capture 44-1, whose labels (211 benign, 26 malicious) are counted and not
        // used.
        let (file, built, s) = learn(
            &["iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled"],
            ModelKind::Autoencoder,
        );
        assert_eq!(built.dataset.n_rows(), 237);
        assert_eq!((built.ignored.benign, built.ignored.malicious), (211, 26));
        assert_eq!(file.training.malicious, 0);
        assert_eq!(s.alerts, 2);
        // The file loads back with its threshold and summary.
        let mut bytes = Vec::new();
        file.save(&mut bytes).unwrap();
        let loaded = super::super::load_model_from("44-1", bytes.as_slice()).unwrap();
        assert_eq!(loaded.threshold.value, s.threshold);
        assert!(matches!(
            loaded.threshold.method,
            ThresholdMethod::TrainingScores { target_far, .. } if target_far == 0.01
        ));
        assert_eq!(loaded.baseline(), Some(s));
    }
}
