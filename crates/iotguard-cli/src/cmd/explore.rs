//! `iotguard explore`: look at labeled flow inputs before trusting them. Writes `explore.json`,
//! `explore.md` and a self-contained `explore.html` (inline SVG plots) to `--out`, and with
//! `--suggest-audit FILE` the label checks' proposals as a label audit file.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use iotguard_features::FeatureConfig;
use iotguard_runtime::explore::ExploreConfig;
use iotguard_runtime::input::Input;

use super::{report_audit, report_inputs, AuditArg, ErrorPrinter, InputArgs};
use crate::{exit, output};

/// Arguments of `explore`.
#[derive(Args, Debug)]
pub(crate) struct ExploreArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    audit: AuditArg,
    /// The folder the exploration goes to (`explore.json`, `explore.md`, `explore.html`).
    #[arg(long, value_name = "DIR", required_unless_present = "suggest_audit")]
    out: Option<PathBuf>,
    /// Write the label checks' proposed corrections here, as a label audit file that
    /// `train`/`eval`/`compare --label-audit` accept as it is (review it first).
    #[arg(long, value_name = "FILE")]
    suggest_audit: Option<PathBuf>,
    /// The sampling seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Writes `explore.json`, `explore.md` and `explore.html` into `dir` and returns their paths.
pub(crate) fn write(
    dir: &Path,
    exploration: &iotguard_runtime::explore::Exploration,
) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = [
        ("explore.json", serde_json::to_string_pretty(exploration)?),
        (
            "explore.md",
            iotguard_runtime::report::explore_markdown(exploration),
        ),
        (
            "explore.html",
            iotguard_runtime::report::explore_html(exploration)?,
        ),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

pub(crate) fn run(args: ExploreArgs) -> anyhow::Result<u8> {
    let (inputs, mut batch) = args.input.prepare()?;
    args.audit.load(&mut batch)?;
    let config = ExploreConfig {
        seed: args.seed,
        ..ExploreConfig::default()
    };
    let total: Option<u64> = inputs.iter().map(Input::size).sum();
    let counter = Arc::new(AtomicU64::new(0));
    let progress = output::Progress::start(total, counter.clone());
    let mut errors = ErrorPrinter::default();
    let result = iotguard_runtime::explore::explore(
        &inputs,
        &batch,
        &FeatureConfig::default(),
        &config,
        &counter,
        &mut |e| errors.print(e),
    );
    progress.finish();
    let (exploration, outcome) = result.context("exploring the inputs")?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&outcome);
    report_audit(&exploration.label_audit);
    if let Some(dir) = &args.out {
        let written = write(dir, &exploration)?;
        output::info(&format!("wrote {}", written.join(", ")));
    }
    for f in &exploration.checks.findings {
        output::info(&format!(
            "label check ({}): {}: {}",
            f.check, f.input, f.summary
        ));
    }
    for p in &exploration.checks.partial {
        output::warn(&format!("label checks partial: {p}"));
    }
    if let Some(path) = &args.suggest_audit {
        let audit = exploration.proposals();
        let mut text = serde_json::to_string_pretty(&audit)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        output::info(&format!(
            "wrote {} proposed label-audit rules to {} (review them before using --label-audit)",
            audit.rules.len(),
            path.display()
        ));
    }
    Ok(if outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}
