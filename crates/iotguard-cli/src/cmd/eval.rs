//! `iotguard eval`: a model file measured on labeled flows, per input and pooled.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{report_audit, report_inputs, AuditArg, ErrorPrinter, InputArgs, ThresholdArgs};
use crate::{exit, output};

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    audit: AuditArg,
    /// The model file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Print JSON (per input and pooled: precision, recall, f1, false_alert_rate, mcc, pr_auc,
    /// the counts behind them, and `families`: the recall per attack family, by detailed label).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    operating: ThresholdArgs,
}

pub(crate) fn run(args: EvalArgs) -> anyhow::Result<u8> {
    let mut loaded = iotguard_runtime::lab::load_model(&args.model)
        .with_context(|| format!("loading {}", args.model.display()))?;
    args.operating.apply(&mut loaded)?;
    let (inputs, mut config) = args.input.prepare()?;
    args.audit.load(&mut config)?;
    let mut errors = ErrorPrinter::default();
    let (report, built) =
        iotguard_runtime::lab::evaluate(&loaded, &inputs, &config, &mut |e| errors.print(e))?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    report_audit(&built.audited);
    if args.json {
        output::out(&serde_json::to_string_pretty(&report)?);
    } else {
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        output::out(&format!(
            "model {} at threshold {}",
            report.model,
            output::num(f64::from(report.threshold))
        ));
        output::out(
            "flows  malicious  alerts  precision  recall  f1  false_alerts  mcc  pr_auc  input",
        );
        for r in report.inputs.iter().chain(std::iter::once(&report.pooled)) {
            output::out(&format!(
                "{}  {}  {}  {}  {}  {}  {}  {}  {}  {}",
                r.flows,
                r.malicious,
                r.alerts,
                fmt(r.precision),
                fmt(r.recall),
                fmt(r.f1),
                fmt(r.false_alert_rate),
                fmt(r.mcc),
                fmt(r.pr_auc),
                r.input
            ));
        }
        if !report.pooled.families.is_empty() {
            output::out("recall by attack family (pooled): family  flows  detected  recall");
            for f in &report.pooled.families {
                output::out(&format!(
                    "{}  {}  {}  {:.3}",
                    f.family, f.flows, f.detected, f.recall
                ));
            }
        }
        output::out("operating points (pooled):");
        output::out("threshold  alerts  precision  recall  false_alerts  setting");
        for p in &report.operating_points {
            output::out(&format!(
                "{}  {}  {}  {}  {}  {}",
                output::num(f64::from(p.threshold)),
                p.alerts,
                fmt(p.precision),
                fmt(p.recall),
                fmt(p.false_alert_rate),
                p.setting
            ));
        }
    }
    Ok(if built.outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}
