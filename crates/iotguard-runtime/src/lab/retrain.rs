//! Retraining a model on analyst verdicts: the parent's training data plus archived flows
//! labeled by verdicts, a shadow model of the same kind and threshold procedure, and a
//! comparison of shadow and parent on the most recent labeled window neither trained on.
//!
//! The archived flows come in ordered by time, each labeled by its alert's verdict (the caller
//! joins them: malicious for a true positive, benign for a false positive or benign activity),
//! **presumed benign** (detailed label [`PRESUMED`]: the flow raised no alert and nobody said
//! otherwise), or unlabeled (an alert nobody judged). The split is by time on the judged flows:
//! the latest `test_share` of them fix the cut, and every labeled flow from the cut on is the
//! **test window**; the shadow trains on the parent's inputs plus the labeled archived flows
//! strictly before the cut, so no training flow is later than a test flow. Both sides are
//! written as Zeek logs (every column, so they read back identical) beside the new model, and
//! named in its lineage:
//!
//! - `archive-train.log`: the archived flows before the cut, with their labels;
//! - `archive-test.log`: every archived flow, labeled only from the cut on, so the test flows
//!   get the per-host history they had at detection time while only they are measured.
//!
//! Why presume: judged flows are all flows the current model alerted on, so a window of judged
//! flows alone cannot see a shadow's new false alerts on traffic the current model let pass
//! (measured: such a shadow, promoted, raised false alerts on 9 % of the next day's benign
//! flows). Presumed-benign flows charge them; the price is that an attack the current model
//! missed counts against a shadow that catches it, so the comparison leans towards keeping
//! the current model.
//!
//! The objective is F1 on the test window, each model at its own threshold; the shadow is
//! better only when its F1 is strictly higher. Nothing here prints or swaps models: the CLI
//! reports and the caller decides what to do with a better shadow.

use std::path::{Path, PathBuf};

use iotguard_flow::{FlowRecord, Timestamp, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_models::operating::{Objective, Rule};
use iotguard_models::reference::ReferenceProfile;
use serde::{Deserialize, Serialize};

use super::{dataset, evaluate, load_model_from, train_model, train_model_out_of_capture, EvalRow};
use super::{Choice, LoadedModel};
use crate::batch::BatchConfig;
use crate::error::{Error, Result};
use crate::input::Input;

/// The detailed label of a presumed-benign archived flow (no alert, no verdict).
pub const PRESUMED: &str = "Presumed";

/// Whether a flow is presumed benign rather than judged.
fn presumed(r: &FlowRecord) -> bool {
    r.label
        .as_ref()
        .is_some_and(|l| l.detailed.as_deref() == Some(PRESUMED))
}

/// How to retrain.
#[derive(Clone, Debug)]
pub struct RetrainConfig {
    /// The share of the labeled archived flows, latest first, held out as the test window
    /// (0 < share < 1; at least one flow, and at least one left for training).
    pub test_share: f64,
    /// The seed of the shadow's training.
    pub seed: u64,
    /// Reading settings for every input.
    pub batch: BatchConfig,
    /// Where the archive's training and test logs are written.
    pub work_dir: PathBuf,
    /// The archive's name, for the lineage.
    pub archive: String,
    /// The alert store's name, for the lineage.
    pub alerts_db: String,
    /// The parent model file's name, for the lineage.
    pub parent_path: String,
}

/// The parent in a lineage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    /// Its id (`rule.id` in alerts).
    pub id: String,
    /// Its version (`rule.version`).
    pub version: String,
    /// Its kind.
    pub kind: String,
    /// Its file.
    pub path: String,
}

/// Labeled archived flows in a time span.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Labeled flows (judged and presumed).
    pub flows: u64,
    /// Malicious among them (true positives' flows).
    pub malicious: u64,
    /// Judged benign among them (false positives' and benign activity's flows).
    pub benign: u64,
    /// Presumed benign among them (no alert, no verdict).
    pub presumed_benign: u64,
    /// The first labeled flow's time (RFC 3339), if any.
    pub from: Option<String>,
    /// The last labeled flow's time (RFC 3339), if any.
    pub until: Option<String>,
}

/// What the shadow was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Data {
    /// The parent's training inputs, trained on again.
    pub original_inputs: Vec<String>,
    /// The archive read.
    pub archive: String,
    /// The alert store whose verdicts labeled it.
    pub alerts_db: String,
    /// Archived flows read (labeled or not).
    pub archived_flows: u64,
    /// The cut: training flows are before it, test flows at or after it (RFC 3339).
    pub cut: String,
    /// The labeled archived flows trained on (before the cut).
    pub archive_train: Span,
    /// The log of them.
    pub archive_train_log: String,
    /// The labeled archived flows of the test window (from the cut on).
    pub test_window: Span,
    /// The log the comparison read.
    pub archive_test_log: String,
}

/// The comparison of parent and shadow on the test window.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The objective (`f1`, each model at its own threshold).
    pub objective: String,
    /// The parent's metrics on the window.
    pub current: EvalRow,
    /// The parent's threshold.
    pub current_threshold: f32,
    /// The shadow's metrics on the window.
    pub shadow: EvalRow,
    /// The shadow's threshold.
    pub shadow_threshold: f32,
}

/// Where a retrained model came from and why it was or was not promoted: the `lineage` of
/// its model file.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    /// The model it was retrained from.
    pub parent: Parent,
    /// How its threshold was chosen (the parent's procedure).
    pub threshold_procedure: String,
    /// What it was trained and measured on.
    pub data: Data,
    /// Parent and shadow on the test window.
    pub comparison: Comparison,
    /// Whether the shadow is better on the objective (and so should replace the parent).
    pub promoted: bool,
    /// Why, in words.
    pub reason: String,
}

/// A retrained model: its file (with the lineage in it) and the lineage.
pub struct Retrained {
    /// The shadow's model file, `lineage` set.
    pub file: iotguard_models::persist::ModelFile,
    /// The lineage.
    pub lineage: Lineage,
}

/// Returns a model file's version as alerts name it (`rule.version`: its creation time).
pub fn model_version(created_unix_secs: i64) -> String {
    Timestamp::from_secs_nanos(created_unix_secs, 0)
        .to_rfc3339()
        .replace(".000000Z", "Z")
}

/// Where the test window starts: the time of the first of the latest `share` of the judged
/// flows (`archive` ordered by time; presumed-benign flows do not count). Errors when there are
/// too few judged flows to keep one on each side.
pub fn cut_time(archive: &[FlowRecord], share: f64) -> Result<Timestamp> {
    if !(share > 0.0 && share < 1.0) {
        return Err(Error::Invalid(format!(
            "the test share must be between 0 and 1 (exclusive), not {share}"
        )));
    }
    let labeled: Vec<Timestamp> = archive
        .iter()
        .filter(|r| r.label.is_some() && !presumed(r))
        .map(|r| r.ts)
        .collect();
    if labeled.len() < 2 {
        return Err(Error::Invalid(format!(
            "{} archived flows carry a verdict: at least 2 are needed (one to train on, one to test on); judge more alerts",
            labeled.len()
        )));
    }
    let n_test = ((labeled.len() as f64 * share).ceil() as usize).clamp(1, labeled.len() - 1);
    let cut = labeled[labeled.len() - n_test];
    if labeled[0] >= cut {
        return Err(Error::Invalid(
            "every labeled archived flow has the same time: nothing is earlier than the test window".to_string(),
        ));
    }
    Ok(cut)
}

/// Counts the labeled flows of `flows`.
fn span<'a>(flows: impl Iterator<Item = &'a FlowRecord>) -> Span {
    let mut s = Span::default();
    for r in flows.filter(|r| r.label.is_some()) {
        s.flows += 1;
        match r.label.as_ref().map(|l| l.class) {
            Some(iotguard_flow::LabelClass::Malicious) => s.malicious += 1,
            _ if presumed(r) => s.presumed_benign += 1,
            _ => s.benign += 1,
        }
        let t = Some(r.ts.to_rfc3339());
        if s.from.is_none() {
            s.from = t.clone();
        }
        s.until = t;
    }
    s
}

/// Writes records as a Zeek log with every column.
fn write_log(path: &Path, records: impl Iterator<Item = FlowRecord>) -> Result<()> {
    let name = path.display().to_string();
    let file = std::fs::File::create(path).map_err(|e| Error::io(&name, e))?;
    let options = TsvWriteOptions {
        time: Some(Timestamp(0)),
        ..TsvWriteOptions::all_columns()
    };
    let mut w = ZeekTsvWriter::new(std::io::BufWriter::new(file), options)
        .map_err(|e| Error::io(&name, e))?;
    for r in records {
        w.write(&r).map_err(|e| Error::io(&name, e))?;
    }
    let out = w.finish().map_err(|e| Error::io(&name, e))?;
    out.into_inner()
        .map_err(|e| Error::io(&name, e.into_error()))?
        .sync_all()
        .map_err(|e| Error::io(&name, e))
}

/// The parent's threshold procedure: out of capture with its objective and rule when its file
/// records them, the row holdout otherwise.
fn procedure(parent: &LoadedModel) -> Option<(Objective, Rule)> {
    let ooc = parent.file.metrics.get("out_of_capture")?;
    let objective = serde_json::from_value(ooc.get("objective")?.clone()).ok()?;
    let rule = serde_json::from_value(ooc.get("rule")?.clone()).ok()?;
    Some((objective, rule))
}

/// The parent's training-only inputs, made again: a simulated network from its recorded name,
/// a file by its path.
fn augment_of(parent: &LoadedModel) -> Vec<Input> {
    inputs_named(&parent.file.training.augment)
}

fn inputs_named(names: &[String]) -> Vec<Input> {
    names
        .iter()
        .map(|name| match name.parse() {
            Ok(sim) => Input::Simulated(sim),
            Err(_) => Input::File(name.into()),
        })
        .collect()
}

/// Retrains `parent` on `original` (its training inputs) plus the labeled `archive` (ordered by
/// time), and compares the shadow with the parent on the later window (see the module docs).
pub fn retrain(
    parent: &LoadedModel,
    original: &[Input],
    archive: &[FlowRecord],
    config: &RetrainConfig,
    on_error: &mut dyn FnMut(&iotguard_flow::ParseError),
) -> Result<Retrained> {
    let kind: ModelKind = parent.file.kind.parse().map_err(Error::Invalid)?;
    let cut = cut_time(archive, config.test_share)?;
    let dir = &config.work_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(&dir.display().to_string(), e))?;
    let train_log = dir.join("archive-train.log");
    let test_log = dir.join("archive-test.log");
    write_log(&train_log, archive.iter().filter(|r| r.ts < cut).cloned())?;
    write_log(
        &test_log,
        archive.iter().map(|r| {
            let mut r = r.clone();
            if r.ts < cut {
                r.label = None;
            }
            r
        }),
    )?;

    let mut inputs = original.to_vec();
    inputs.push(Input::File(train_log.clone()));
    let operating = procedure(parent);
    let (mut file, _) = match operating {
        Some((objective, rule)) => {
            let (file, built, _) = train_model_out_of_capture(
                kind,
                &inputs,
                &augment_of(parent),
                &config.batch,
                &parent.features,
                config.seed,
                &Choice::Default,
                Some(objective),
                Some(rule),
                on_error,
            )?;
            (file, built)
        }
        None => train_model(
            kind,
            &inputs,
            &config.batch,
            &parent.features,
            config.seed,
            &Choice::Default,
            on_error,
        )?,
    };
    let bytes = serde_json::to_vec(&file)
        .map_err(|e| Error::Model(iotguard_models::Error::ModelFile(e.to_string())))?;
    let shadow = load_model_from("shadow", bytes.as_slice())?;

    let window = [Input::File(test_log.clone())];
    // The drift monitors' reference for the shadow: the latest window, the network as it is
    // now (what the shadow is judged on), not its training rows, most of which may predate
    // the change that set the retraining off; else the monitors raise drift again at once
    // after a swap.
    let latest = dataset(&window, &config.batch, &parent.features, on_error)?;
    file.reference = Some(ReferenceProfile::build(
        &latest.dataset,
        &shadow.model,
        shadow.threshold.value,
    ));
    let (current_report, _) = evaluate(parent, &window, &config.batch, on_error)?;
    let (shadow_report, _) = evaluate(&shadow, &window, &config.batch, on_error)?;
    let (cur, sha) = (current_report.pooled, shadow_report.pooled);
    let f1 = |r: &EvalRow| r.f1.unwrap_or(0.0);
    let promoted = f1(&sha) > f1(&cur);
    let test_window = span(archive.iter().filter(|r| r.ts >= cut));
    let reason = format!(
        "{}: shadow F1 {:.4} {} current F1 {:.4} on the later window ({} flows: {} malicious, {} judged benign, {} presumed benign; from {})",
        if promoted { "promoted" } else { "not promoted" },
        f1(&sha),
        if promoted { ">" } else { "<=" },
        f1(&cur),
        test_window.flows,
        test_window.malicious,
        test_window.benign,
        test_window.presumed_benign,
        test_window.from.as_deref().unwrap_or("-"),
    );
    let lineage = Lineage {
        parent: Parent {
            id: parent.file.id(),
            version: model_version(parent.file.created_unix_secs),
            kind: parent.file.kind.clone(),
            path: config.parent_path.clone(),
        },
        threshold_procedure: match operating {
            Some((objective, rule)) => format!(
                "out of capture, objective {objective}, rule {}",
                serde_json::to_value(rule)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
            None => "row holdout".to_string(),
        },
        data: Data {
            original_inputs: original.iter().map(Input::name).collect(),
            archive: config.archive.clone(),
            alerts_db: config.alerts_db.clone(),
            archived_flows: archive.len() as u64,
            cut: cut.to_rfc3339(),
            archive_train: span(archive.iter().filter(|r| r.ts < cut)),
            archive_train_log: train_log.display().to_string(),
            test_window,
            archive_test_log: test_log.display().to_string(),
        },
        comparison: Comparison {
            objective: "f1".to_string(),
            current: cur,
            current_threshold: current_report.threshold,
            shadow: sha,
            shadow_threshold: shadow_report.threshold,
        },
        promoted,
        reason,
    };
    file.lineage = Some(
        serde_json::to_value(&lineage)
            .map_err(|e| Error::Model(iotguard_models::Error::ModelFile(e.to_string())))?,
    );
    Ok(Retrained { file, lineage })
}

#[cfg(test)]
mod tests {
    use iotguard_flow::Label;

    use super::*;

    #[test]
    fn the_parents_training_only_inputs_are_made_again_from_their_names() {
        let sim = crate::augment::SimulatedClean::new(20_000, 3);
        let names = [sim.to_string(), "extra/benign.log".to_string()];
        assert_eq!(
            inputs_named(&names),
            [
                Input::Simulated(sim),
                Input::File("extra/benign.log".into())
            ]
        );
    }

    fn flows(labels: &[Option<&str>]) -> Vec<FlowRecord> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| FlowRecord {
                ts: Timestamp::from_secs_nanos(100 + i as i64, 0),
                label: l.map(|n| match n {
                    "Presumed" => Label::new("Benign", Some(PRESUMED)),
                    n => Label::new(n, None),
                }),
                ..FlowRecord::default()
            })
            .collect()
    }

    #[test]
    fn the_cut_leaves_the_latest_share_of_labeled_flows_to_the_test() {
        let m = Some("Malicious");
        let b = Some("Benign");
        let p = Some("Presumed");
        // Judged at 101, 102, 104, 105, 107: 30 % of 5 is 1.5, so the last 2 (105, 107); the
        // presumed-benign flows (103, 106) do not move the cut but are in the window after it.
        let archive = flows(&[None, m, b, p, m, b, p, m]);
        assert_eq!(
            cut_time(&archive, 0.3).unwrap(),
            Timestamp::from_secs_nanos(105, 0)
        );
        assert_eq!(
            span(
                archive
                    .iter()
                    .filter(|r| r.ts >= Timestamp::from_secs_nanos(105, 0))
            ),
            Span {
                flows: 3,
                malicious: 1,
                benign: 1,
                presumed_benign: 1,
                from: Some("1970-01-01T00:01:45.000000Z".to_string()),
                until: Some("1970-01-01T00:01:47.000000Z".to_string()),
            }
        );
        // A share that would take every labeled flow still leaves one to train on.
        assert_eq!(
            cut_time(&archive, 0.99).unwrap(),
            Timestamp::from_secs_nanos(102, 0)
        );
        assert_eq!(
            cut_time(&flows(&[None, m]), 0.3).unwrap_err().to_string(),
            "1 archived flows carry a verdict: at least 2 are needed (one to train on, one to test on); judge more alerts"
        );
        assert!(cut_time(&archive, 1.0).is_err());
        assert_eq!(model_version(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
