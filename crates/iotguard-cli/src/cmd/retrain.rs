//! `iotguard retrain`: a shadow of the current model trained on its original data plus the
//! archived flows analysts judged, compared with the current model on the latest judged flows
//! neither trained on, and written with its lineage. The exit code says whether the shadow is
//! better (0) or not (1).
//!
//! The join is here: the archive gives each flow's alert id, the alert store each alert's
//! latest verdict; a true positive's flows become malicious, a false positive's and benign
//! activity's benign, a flow that raised no alert is presumed benign (unless
//! `--verdicts-only`), and the flows of unjudged alerts stay unlabeled (context for per-host
//! features, never a training or test row). The work is [`iotguard_runtime::lab::retrain`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use iotguard_detect::{AlertStore, Verdict};
use iotguard_flow::{FlowRecord, Label};
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::{self, Input};
use iotguard_runtime::lab::{EvalRow, RetrainConfig};

use super::ErrorPrinter;
use crate::{exit, output};

/// Arguments of `retrain`.
#[derive(Args, Debug)]
pub(crate) struct RetrainArgs {
    /// The current model file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// The flow archive (folder, or `s3://bucket/prefix`) `detect --archive` wrote while the
    /// current model ran.
    #[arg(long, value_name = "DIR")]
    archive: PathBuf,
    /// The alert store holding the analysts' verdicts (`detect --alerts-db`).
    #[arg(long, value_name = "FILE")]
    alerts_db: PathBuf,
    /// Where to write the retrained model (written whether or not it is better; its
    /// `lineage` says which). The archive's training and test logs go in `FILE.data/`.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// The current model's training data, files or folders [default: the inputs its model
    /// file records, as paths or beside the model file].
    #[arg(long = "train-data", value_name = "PATH", num_args = 1..)]
    train_data: Vec<PathBuf>,
    /// The share of the judged archived flows, latest first, kept for the comparison (the
    /// shadow trains only on archived flows before them).
    #[arg(long, value_name = "SHARE", default_value_t = 0.3)]
    test_share: f64,
    /// The seed of the shadow's training.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Label only the flows of judged alerts: flows that raised no alert are not presumed
    /// benign. The comparison then sees only flows the current model alerted on, and cannot
    /// charge the shadow for false alerts on the others.
    #[arg(long)]
    verdicts_only: bool,
    /// Print the lineage as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// The exit code when the shadow is not better than the current model.
pub(crate) const NOT_BETTER: u8 = 1;

/// The current model's training inputs: `--train-data`, or the paths its file records (as
/// given, else beside the model file).
fn original_inputs(
    model: &Path,
    train_data: &[PathBuf],
    recorded: &[String],
) -> anyhow::Result<Vec<Input>> {
    if !train_data.is_empty() {
        return Ok(input::expand(train_data)?.inputs);
    }
    let beside = model.parent().unwrap_or(Path::new("."));
    recorded
        .iter()
        .map(|name| {
            let path = PathBuf::from(name);
            let found = [path.clone(), beside.join(&path)]
                .into_iter()
                .find(|p| p.is_file())
                .with_context(|| {
                    format!(
                        "{name}: the current model's training input (recorded in {}) is gone; pass --train-data",
                        model.display()
                    )
                })?;
            Ok(Input::File(found))
        })
        .collect()
}

/// Labels archived flows by their alert's latest verdict, and those that raised no alert as
/// presumed benign when `presume` is set; returns them and how many alerts and flows were
/// judged.
fn label(
    archived: Vec<iotguard_archive::ArchivedFlow>,
    verdicts: &std::collections::HashMap<String, Verdict>,
    presume: bool,
) -> (Vec<FlowRecord>, usize, usize) {
    let malicious = Label::new("Malicious", Some("Confirmed"));
    let benign = Label::new("Benign", Some("Judged"));
    let presumed = Label::new("Benign", Some(iotguard_runtime::lab::PRESUMED));
    let mut judged_alerts = std::collections::HashSet::new();
    let mut judged_flows = 0;
    let flows = archived
        .into_iter()
        .map(|a| {
            let mut r = a.record;
            let verdict = a.alert_id.as_ref().and_then(|id| verdicts.get(id));
            r.label = match (verdict, &a.alert_id) {
                (Some(Verdict::TruePositive), _) => Some(malicious.clone()),
                (Some(Verdict::FalsePositive | Verdict::BenignActivity), _) => Some(benign.clone()),
                (None, None) if presume => Some(presumed.clone()),
                (None, _) => None,
            };
            if verdict.is_some() {
                judged_flows += 1;
                judged_alerts.insert(a.alert_id.unwrap_or_default());
            }
            r
        })
        .collect();
    (flows, judged_alerts.len(), judged_flows)
}

fn row(name: &str, threshold: f32, r: &EvalRow) -> String {
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
    format!(
        "{name}  {}  {}  {}  {}  {}  {}  {}  {}",
        output::num(f64::from(threshold)),
        r.flows,
        r.alerts,
        r.tp,
        r.fp,
        fmt(r.precision),
        fmt(r.recall),
        fmt(r.f1)
    )
}

/// What one retraining reads and writes.
pub(crate) struct RetrainJob<'a> {
    /// The current model file.
    pub(crate) model: &'a Path,
    /// The flow archive.
    pub(crate) archive: &'a Path,
    /// The alert store with the verdicts.
    pub(crate) alerts_db: &'a Path,
    /// Where to write the retrained model.
    pub(crate) out: &'a Path,
    /// `--train-data` (empty: the inputs the model file records).
    pub(crate) train_data: &'a [PathBuf],
    /// The test window's share of the judged flows.
    pub(crate) test_share: f64,
    /// The shadow's seed.
    pub(crate) seed: u64,
    /// Whether flows that raised no alert are presumed benign.
    pub(crate) presume_benign: bool,
    /// What set this retraining off (`detect --auto-retrain`), recorded as the lineage's
    /// `trigger`; `None` for a retraining asked for by hand.
    pub(crate) trigger: Option<&'a str>,
}

/// Joins archive and verdicts, retrains, and writes the new model file (`detect
/// --auto-retrain` runs it too).
pub(crate) fn retrain_once(
    job: &RetrainJob<'_>,
) -> anyhow::Result<iotguard_runtime::lab::Retrained> {
    let parent = iotguard_runtime::lab::load_model(job.model)
        .with_context(|| format!("loading {}", job.model.display()))?;
    let original = original_inputs(job.model, job.train_data, &parent.file.training.inputs)?;
    anyhow::ensure!(
        job.alerts_db.is_file(),
        "{}: no alert store there (detect --alerts-db writes one)",
        job.alerts_db.display()
    );
    let verdicts = AlertStore::open(job.alerts_db)
        .and_then(|s| s.latest_verdicts())
        .with_context(|| format!("reading verdicts from {}", job.alerts_db.display()))?;
    let (archived, counts) = iotguard_archive::read_archive(job.archive)
        .with_context(|| format!("reading the archive {}", job.archive.display()))?;
    if counts.bad_rows > 0 {
        output::warn(&format!(
            "{} archived rows could not be read as flows and are left out",
            counts.bad_rows
        ));
    }
    let (flows, judged_alerts, judged_flows) = label(archived, &verdicts, job.presume_benign);
    output::info(&format!(
        "archive: {} flows in {} files; {} flows of {judged_alerts} judged alerts labeled by verdicts ({} verdicts in the store)",
        flows.len(),
        counts.files,
        judged_flows,
        verdicts.len()
    ));
    let mut data_dir = job.out.to_path_buf().into_os_string();
    data_dir.push(".data");
    let config = RetrainConfig {
        test_share: job.test_share,
        seed: job.seed,
        batch: BatchConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ..BatchConfig::default()
        },
        work_dir: PathBuf::from(data_dir),
        archive: job.archive.display().to_string(),
        alerts_db: job.alerts_db.display().to_string(),
        parent_path: job.model.display().to_string(),
    };
    let mut errors = ErrorPrinter::default();
    let retrained =
        iotguard_runtime::lab::retrain(&parent, &original, &flows, &config, &mut |e| {
            errors.print(e)
        })?;
    errors.finish(false);
    let mut retrained = retrained;
    if let (Some(trigger), Some(serde_json::Value::Object(lineage))) =
        (job.trigger, retrained.file.lineage.as_mut())
    {
        lineage.insert("trigger".to_string(), trigger.into());
    }
    let out = File::create(job.out).with_context(|| format!("{}", job.out.display()))?;
    retrained
        .file
        .save(BufWriter::new(out))
        .with_context(|| format!("writing {}", job.out.display()))?;
    Ok(retrained)
}

pub(crate) fn run(args: RetrainArgs) -> anyhow::Result<u8> {
    let archive = match super::s3::s3_url(&args.archive)? {
        Some(config) => super::s3::download(&config, &Default::default())?,
        None => args.archive.clone(),
    };
    let retrained = retrain_once(&RetrainJob {
        model: &args.model,
        archive: &archive,
        alerts_db: &args.alerts_db,
        out: &args.out,
        train_data: &args.train_data,
        test_share: args.test_share,
        seed: args.seed,
        presume_benign: !args.verdicts_only,
        trigger: None,
    })?;
    let l = &retrained.lineage;
    if args.json {
        // The lineage as the model file records it.
        output::out(&serde_json::to_string_pretty(&retrained.file.lineage)?);
    } else {
        let d = &l.data;
        output::out(&format!(
            "current {} {} ({}), threshold procedure: {}",
            l.parent.kind, l.parent.id, l.parent.version, l.threshold_procedure
        ));
        output::out(&format!(
            "trained on {} original input(s) + {} archived flows before {} ({} malicious, {} judged benign, {} presumed benign)",
            d.original_inputs.len(),
            d.archive_train.flows,
            d.cut,
            d.archive_train.malicious,
            d.archive_train.benign,
            d.archive_train.presumed_benign
        ));
        output::out(&format!(
            "compared on the later window: {} flows ({} malicious, {} judged benign, {} presumed benign) from {} to {}",
            d.test_window.flows,
            d.test_window.malicious,
            d.test_window.benign,
            d.test_window.presumed_benign,
            d.test_window.from.as_deref().unwrap_or("-"),
            d.test_window.until.as_deref().unwrap_or("-")
        ));
        output::out("model  threshold  flows  alerts  tp  fp  precision  recall  f1");
        let c = &l.comparison;
        output::out(&row("current", c.current_threshold, &c.current));
        output::out(&row("shadow", c.shadow_threshold, &c.shadow));
        output::out(&l.reason);
        output::out(&format!("wrote {}", args.out.display()));
    }
    Ok(if l.promoted { exit::OK } else { NOT_BETTER })
}
