//! `explore`: a look at labeled flow data before trusting it. One pass over the inputs gives
//! what each holds per class (flows, time span, labels, hosts, protocols, services, states,
//! ports), feature distributions by class and per detailed label, the features' correlation
//! matrix (Pearson and Spearman, clustered) with constant and duplicate features, how the
//! inputs differ (PSI per feature), the top talkers per class with their label mix, and label
//! checks that flag likely mislabeled flows with a proposed `--label-audit` rule each.
//!
//! Invariants: features come from the [`FeatureExtractor`] that training uses, fed exactly as
//! [`build_dataset`](crate::dataset::build_dataset) feeds it (a fresh host state per input,
//! every record, the label audit applied after extraction), so what is explored is what a
//! model learns from. Memory is bounded by [`ExploreConfig`] whatever the input size: samples
//! are reservoirs, host, group and tuple tables are capped, and what a full table left out is
//! counted and reported. Deterministic under the seed.

mod checks;
mod correlation;
mod distributions;
mod groups;
mod hosts;
mod sample;
mod shift;
mod summary;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::{FeatureConfig, FeatureExtractor};
use iotguard_flow::{FlowRecord, LabelClass, ParseError};
use serde::Serialize;

pub use checks::{Checks, Finding, Thresholds};
pub use correlation::{Correlation, Duplicate};
pub use distributions::{ClassQuantiles, ConstantFeature, Distribution, Histogram, Separation};
pub use hosts::{Hosts, Talker};
pub use shift::{InputShift, Shift, MAJOR, MODERATE};
pub use summary::{ClassSummary, Count, InputSummary, CLASSES, DISTINCT_CAP};

use crate::audit::{AuditCount, LabelAudit};
use crate::batch::{run_batch, BatchConfig, BatchOutcome};
use crate::error::Result;
use crate::input::Input;

/// The bounds and sizes of an exploration.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Rows of the uniform pooled sample the correlation matrix is computed on.
    pub pooled_rows: usize,
    /// Rows sampled per input and class (distributions, shift).
    pub stratum_rows: usize,
    /// At most this many (input, class) strata are sampled; rows of later ones are counted.
    pub max_strata: usize,
    /// Features whose distributions are plotted (the most separating).
    pub distributions: usize,
    /// Rows of each top table.
    pub top: usize,
    /// (input, originator) pairs tracked.
    pub max_hosts: usize,
    /// (input, originator, protocol, port) groups the label checks track.
    pub max_groups: usize,
    /// Distinct responders remembered over every group.
    pub max_responders: usize,
    /// Flow signatures remembered over every group (look-alike check).
    pub max_signatures: usize,
    /// Connection tuples remembered (tuple label change check).
    pub max_tuples: usize,
    /// The label checks' thresholds.
    pub thresholds: Thresholds,
    /// The sampling seed.
    pub seed: u64,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig {
            pooled_rows: 10_000,
            stratum_rows: 2_000,
            max_strata: 256,
            distributions: 12,
            top: 10,
            max_hosts: 100_000,
            max_groups: 200_000,
            max_responders: 2_000_000,
            max_signatures: 2_000_000,
            max_tuples: 2_000_000,
            thresholds: Thresholds::default(),
            seed: 1,
        }
    }
}

/// The sample sizes behind the feature sections.
#[derive(Clone, Debug, Serialize)]
pub struct SampleInfo {
    /// Labeled (benign or malicious) rows seen.
    pub labeled_rows: u64,
    /// Rows in the pooled sample.
    pub pooled_rows: u64,
    /// Rows kept per input and class at most.
    pub stratum_rows: usize,
    /// (input, class) strata sampled.
    pub strata: usize,
    /// Rows of strata past the limit, not sampled.
    pub unsampled_rows: u64,
}

/// Everything `explore` found; `explore.json` is this.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    /// Per input.
    pub inputs: Vec<InputSummary>,
    /// Every input together.
    pub pooled: InputSummary,
    /// Inputs that could not be read, with why.
    pub failed_inputs: Vec<(String, String)>,
    /// Features per flow (the training schema).
    pub features: usize,
    /// The samples.
    pub sample: SampleInfo,
    /// Features that never vary over the labeled rows.
    pub constant: Vec<ConstantFeature>,
    /// Every varying feature, most separating (benign vs malicious) first.
    pub separation: Vec<Separation>,
    /// The most separating features' distributions by class.
    pub distributions: Vec<Distribution>,
    /// The correlation matrix of the varying features.
    pub correlation: Option<Correlation>,
    /// How the inputs differ (two inputs with labeled rows or more).
    pub shift: Option<Shift>,
    /// Top talkers per class and their label mix.
    pub hosts: Hosts,
    /// The label checks.
    pub checks: Checks,
    /// What the label audit the inputs were read with changed (empty without one).
    pub label_audit: Vec<AuditCount>,
}

impl Exploration {
    /// The label checks' proposals as a label audit file (`--suggest-audit`).
    pub fn proposals(&self) -> LabelAudit {
        LabelAudit {
            rules: self
                .checks
                .findings
                .iter()
                .filter_map(|f| f.proposal.clone())
                .collect(),
        }
    }
}

/// What the label checks read, kept over one pass with bounded tables: the hosts, the groups
/// of flows alike, and the detailed labels seen. [`explore`] and [`label_checks`] both fill it.
struct CheckTables {
    hosts: hosts::HostTable,
    groups: groups::Groups,
    labels: Names,
    /// How many leading features describe the flow itself (the host features follow).
    flow_len: usize,
}

impl CheckTables {
    fn new(config: &ExploreConfig, feature_names: &[String]) -> Self {
        CheckTables {
            hosts: hosts::HostTable::new(config.max_hosts),
            groups: groups::Groups::new(groups::Budget {
                groups: config.max_groups,
                responders: config.max_responders,
                signatures: config.max_signatures,
                tuples: config.max_tuples,
            }),
            labels: Names::default(),
            flow_len: feature_names
                .iter()
                .take_while(|n| !n.starts_with("orig_host.") && !n.starts_with("resp_host."))
                .count(),
        }
    }

    /// Records one flow of input `input` (its label as audited) with its feature row.
    fn record(&mut self, input: usize, rec: &FlowRecord, row: &[f32]) {
        let label_id = rec
            .label
            .as_ref()
            .map(|l| self.labels.id(l.detailed.as_deref().unwrap_or(&l.name)));
        self.hosts.record(input as u32, rec, label_id);
        self.groups.record(input as u32, rec, &row[..self.flow_len]);
    }

    fn checks(&self, input_names: &[String], config: &ExploreConfig) -> Checks {
        checks::run(
            &self.groups,
            &self.hosts,
            input_names,
            &self.labels.names,
            &config.thresholds,
        )
    }
}

/// Interns names to dense ids.
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(name.to_string(), i);
        self.names.push(name.to_string());
        i
    }
}

/// Runs only the label checks over `inputs`, in one pass with the tables [`explore`] keeps
/// for them (bounded by `config`): what `train --label-checks` applies before it builds its
/// dataset. The batch's label audit applies first, as in [`explore`], so the checks judge the
/// labels a model would learn from.
pub fn label_checks(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    config: &ExploreConfig,
    bytes_read: &Arc<AtomicU64>,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<Checks> {
    let mut extractor = FeatureExtractor::new(features.clone());
    let mut tables = CheckTables::new(config, &extractor.schema().names);
    let mut row = vec![0f32; extractor.dim()];
    let audit = &batch.label_audit;
    let audit_rules = audit.rules_per_input(inputs);
    let mut current = None;
    let mut sink = |index: usize, mut rec: FlowRecord| -> Result<()> {
        if current != Some(index) {
            extractor.reset();
            current = Some(index);
        }
        extractor.extract(&rec, &mut row);
        audit.apply(&audit_rules[index], &mut rec);
        tables.record(index, &rec, &row);
        Ok(())
    };
    run_batch(inputs, batch, bytes_read, &mut sink, on_error)?;
    let input_names: Vec<String> = inputs.iter().map(Input::name).collect();
    let mut found = tables.checks(&input_names, config);
    for rule in found
        .findings
        .iter_mut()
        .filter_map(|f| f.proposal.as_mut())
    {
        rule.reason = rule.reason.replace(checks::NOTE, checks::TRAIN_NOTE);
    }
    Ok(found)
}

/// Explores labeled inputs in one pass.
pub fn explore(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    config: &ExploreConfig,
    bytes_read: &Arc<AtomicU64>,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(Exploration, BatchOutcome)> {
    let mut extractor = FeatureExtractor::new(features.clone());
    let names = extractor.schema().names.clone();
    let dim = names.len();
    let mut row = vec![0f32; dim];
    let mut current = None;
    let mut counters: Vec<summary::InputCounter> =
        (0..inputs.len()).map(|_| Default::default()).collect();
    let mut tables = CheckTables::new(config, &names);
    let mut classes = Names::default();
    let mut class_rows: Vec<u64> = Vec::new();
    let mut class_malicious: Vec<bool> = Vec::new();
    let mut columns = distributions::ColumnStats::new(dim);
    let mut strata = sample::Strata::new(
        config.stratum_rows,
        config.max_strata,
        config.pooled_rows,
        dim,
        config.seed,
    );
    let audit = &batch.label_audit;
    let audit_rules = audit.rules_per_input(inputs);
    let mut audited = vec![0u64; audit.rules.len()];
    let mut sink = |index: usize, mut rec: FlowRecord| -> Result<()> {
        if current != Some(index) {
            extractor.reset();
            current = Some(index);
        }
        extractor.extract(&rec, &mut row);
        if let Some(rule) = audit.apply(&audit_rules[index], &mut rec) {
            audited[rule] += 1;
        }
        let input = index as u32;
        counters[index].record(&rec);
        tables.record(index, &rec, &row);
        let Some(label) = &rec.label else {
            return Ok(());
        };
        let class_name = match label.class {
            LabelClass::Benign => crate::dataset::BENIGN_CLASS,
            LabelClass::Malicious => label.detailed.as_deref().unwrap_or(&label.name),
            LabelClass::Other => return Ok(()),
        };
        let class = classes.id(class_name);
        if class as usize == class_rows.len() {
            class_rows.push(0);
            class_malicious.push(label.class == LabelClass::Malicious);
        }
        class_rows[class as usize] += 1;
        columns.add(&row);
        strata.offer(input, class, &row);
        Ok(())
    };
    let outcome = run_batch(inputs, batch, bytes_read, &mut sink, on_error)?;

    let input_names: Vec<String> = inputs.iter().map(Input::name).collect();
    let bad = |name: &str| {
        outcome
            .per_input
            .iter()
            .find(|c| c.finish(0).input == name)
            .map_or(0, |c| c.finish(0).bad_records)
    };
    let read: Vec<usize> = (0..inputs.len())
        .filter(|&i| {
            outcome
                .per_input
                .iter()
                .any(|c| c.finish(0).input == input_names[i])
        })
        .collect();
    let mut pooled = summary::InputCounter::default();
    for &i in &read {
        pooled.merge(&counters[i]);
    }
    let total_bad: u64 = read.iter().map(|&i| bad(&input_names[i])).sum();
    let varies = |f: usize| columns.varies(f);
    let keep: Vec<usize> = (0..dim).filter(|&f| varies(f)).collect();
    let sampled = strata.sampled();
    let separation = distributions::separation(&sampled, &names, &varies, &class_malicious);
    let mut order: Vec<usize> = (0..class_rows.len()).collect();
    order.sort_by(|&a, &b| {
        class_rows[b]
            .cmp(&class_rows[a])
            .then(classes.names[a].cmp(&classes.names[b]))
    });
    let index_of = |feature: &str| names.iter().position(|n| n == feature).unwrap_or(0);
    let dists = separation
        .iter()
        .take(config.distributions)
        .map(|s| {
            distributions::distribution(
                &sampled,
                index_of(&s.feature),
                s.clone(),
                &classes.names,
                &class_malicious,
                &order,
            )
        })
        .collect();
    let correlation = (strata.pooled().len() >= 3 && keep.len() >= 2)
        .then(|| correlation::correlation(strata.pooled(), &names, &keep));
    let shift = shift::shift(&sampled, &names, &keep, &input_names);
    let checks = tables.checks(&input_names, config);
    let exploration = Exploration {
        inputs: read
            .iter()
            .map(|&i| counters[i].finish(&input_names[i], bad(&input_names[i]), config.top))
            .collect(),
        pooled: pooled.finish("all", total_bad, config.top),
        failed_inputs: outcome.failed_inputs.clone(),
        features: dim,
        sample: SampleInfo {
            labeled_rows: class_rows.iter().sum(),
            pooled_rows: strata.pooled().len() as u64,
            stratum_rows: config.stratum_rows,
            strata: sampled
                .input
                .iter()
                .zip(&sampled.class)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            unsampled_rows: strata.unsampled,
        },
        constant: columns.constant(&names),
        separation,
        distributions: dists,
        correlation,
        shift,
        hosts: tables
            .hosts
            .report(config.top, &input_names, &tables.labels.names),
        checks,
        label_audit: audit.counts(&audited),
    };
    Ok((exploration, outcome))
}
