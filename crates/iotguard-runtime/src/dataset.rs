//! Labeled flow inputs to a model [`Dataset`], through the same [`FeatureExtractor`] live
//! detection uses, so training and serving compute features with one code path.
//!
//! Each input is a group (a capture: leave-one-capture-out splits by it) and gets a fresh
//! extractor, so one capture's host state never leaks into another's. Every record updates the
//! per-host state, but only benign and malicious flows become rows: Background, Unknown and
//! unlabeled flows are neither, so they are counted and left out. With [`Labels::Ignored`]
//! (a baseline learned without labels) every flow becomes a row taken as normal traffic, and
//! the labels some flows carry are only counted.
//!
//! Rows go from the extractor into a [`RowSampler`], never into an unbounded list when
//! [`BatchConfig::sample`] sets a budget: past it, a stratified, de-duplicating sample per
//! (input, class, detailed label) is kept and [`BuiltDataset::sampling`] says what was kept,
//! folded and sampled away. Under the budget the dataset is every row in input order, as
//! without one.
//!
//! An input holding exactly the flows of an earlier one (IoT-23's 34-1 as Zeek TSV and as CSV,
//! both in one folder; a copy) is read but keeps no rows, and [`BatchOutcome::duplicates`]
//! names it: counted twice, a capture would weigh double in training and, worse, sit on both
//! sides of a leave-one-capture-out split, so the out-of-capture estimate would be measured on
//! flows the model was fitted on. Inputs are compared by an order-independent fingerprint of
//! their records (count, and the sum and xor of a hash of each record's time, uid, endpoints,
//! protocol, bytes and packets).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::{FeatureConfig, FeatureExtractor, FeatureSchema};
use iotguard_flow::{FlowRecord, LabelClass};
use iotguard_models::reservoir::{RowSampler, SampleConfig, SamplingReport};
use iotguard_models::Dataset;

use crate::audit::AuditCount;
use crate::batch::{run_batch, BatchConfig, BatchOutcome};
use crate::error::Result;
use crate::input::Input;

/// What building a dataset gave.
#[derive(Debug)]
pub struct BuiltDataset {
    /// The rows: features, target (malicious), detailed class, group (input), time.
    pub dataset: Dataset,
    /// The feature schema the rows follow.
    pub schema: FeatureSchema,
    /// Reading statistics per input (records, rejects, labels).
    pub outcome: BatchOutcome,
    /// Flows left out because their class is `other` (Background, Unknown).
    pub excluded_other: u64,
    /// Flows left out because they carry no label.
    pub excluded_unlabeled: u64,
    /// What each rule of the batch's label audit changed (empty without an audit).
    pub audited: Vec<AuditCount>,
    /// With [`Labels::Ignored`]: the labels the rows carried and were not used.
    pub ignored: IgnoredLabels,
    /// What the row sample holds per stratum (every row kept when no budget was set or the rows
    /// fit in it).
    pub sampling: SamplingReport,
}

/// What becomes of the flows' labels when a dataset is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Labels {
    /// Benign and malicious flows are rows with their label; other and unlabeled flows are
    /// counted and left out; the batch's label audit applies.
    #[default]
    AsGiven,
    /// Every flow is a row taken as normal traffic (target `false`, class `Unlabeled`), whatever
    /// label it carries: the rows of a baseline learned without labels. No audit applies.
    Ignored,
}

/// The class name of every row built with [`Labels::Ignored`].
pub const UNLABELED_CLASS: &str = "Unlabeled";

/// The labels that [`Labels::Ignored`] left unused, by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IgnoredLabels {
    /// Flows labeled benign.
    pub benign: u64,
    /// Flows labeled malicious.
    pub malicious: u64,
    /// Flows labeled Background, Unknown and the like.
    pub other: u64,
    /// Flows without a label.
    pub unlabeled: u64,
}

/// The native feature family every input carries (its first record's), if they all carry the
/// same one: what `--features auto` chooses. Standard input is never read ahead (`None`).
pub fn native_family_of(
    inputs: &[Input],
    batch: &BatchConfig,
) -> Result<Option<iotguard_flow::NativeFamily>> {
    let mut family = None;
    for input in inputs {
        if matches!(input, Input::Stdin) {
            return Ok(None);
        }
        let mut reader = input.open(&batch.options, 1, Arc::new(AtomicU64::new(0)))?;
        // The first record read (bad lines before it do not decide).
        let first = reader.by_ref().take(1000).find_map(|r| r.ok());
        let this = first.and_then(|r| r.native.map(|n| n.family));
        match (this, family) {
            (None, _) => return Ok(None),
            (Some(f), Some(g)) if f != g => return Ok(None),
            (Some(f), _) => family = Some(f),
        }
    }
    Ok(family)
}

/// The columns of `family` that `input` lacks, for refusing it before a native model scores
/// it (an empty list when its first record carries them). Named from the input's first line,
/// a delimited header; an input without one (a Zeek log, Parquet) lacks them all. Standard
/// input is never read ahead (empty).
pub fn missing_native_columns(
    input: &Input,
    options: &iotguard_flow::ReadOptions,
    family: iotguard_flow::NativeFamily,
) -> Result<Vec<&'static str>> {
    let path = match input {
        Input::Stdin | Input::Simulated(_) => return Ok(Vec::new()),
        Input::File(p) | Input::InFolder(p) | Input::Capture { path: p, .. } => p,
    };
    let mut reader = input.open(options, 1, Arc::new(AtomicU64::new(0)))?;
    let first = reader.by_ref().take(1000).find_map(|r| r.ok());
    if first.and_then(|r| r.native).map(|n| n.family) == Some(family) {
        return Ok(Vec::new());
    }
    let name = input.name();
    let file = std::fs::File::open(path).map_err(|e| crate::error::Error::io(&name, e))?;
    let mut text =
        iotguard_flow::decompress(file).map_err(|e| crate::error::Error::io(&name, e))?;
    let mut line = Vec::new();
    std::io::BufRead::read_until(&mut text, b'\n', &mut line)
        .map_err(|e| crate::error::Error::io(&name, e))?;
    Ok(family.missing_columns(&line))
}

/// The detailed class name of benign rows.
pub const BENIGN_CLASS: &str = "Benign";

/// Reads labeled inputs into a dataset, one group per input.
pub fn build_dataset(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    bytes_read: &Arc<AtomicU64>,
    on_error: &mut dyn FnMut(&iotguard_flow::ParseError),
) -> Result<BuiltDataset> {
    build_dataset_with(
        inputs,
        batch,
        features,
        Labels::AsGiven,
        bytes_read,
        on_error,
    )
}

/// Reads inputs into a dataset, one group per input, using their labels as `labels` says.
pub fn build_dataset_with(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    labels: Labels,
    bytes_read: &Arc<AtomicU64>,
    on_error: &mut dyn FnMut(&iotguard_flow::ParseError),
) -> Result<BuiltDataset> {
    let mut extractor = FeatureExtractor::new(features.clone());
    let schema = extractor.schema().clone();
    let mut names = Dataset {
        feature_names: schema.names.clone(),
        group_names: inputs.iter().map(Input::name).collect(),
        ..Dataset::default()
    };
    let config = batch.sample.unwrap_or(SampleConfig {
        max_rows: usize::MAX,
        seed: 0,
    });
    let mut sampler = RowSampler::new(config, schema.len());
    let mut classes: HashMap<String, u32> = HashMap::new();
    let mut row = vec![0f32; schema.len()];
    let mut current: Option<usize> = None;
    let (mut other, mut unlabeled) = (0u64, 0u64);
    let audit = &batch.label_audit;
    let audit_rules = audit.rules_per_input(inputs);
    let mut audited = vec![0u64; audit.rules.len()];
    let mut ignored = IgnoredLabels::default();
    let mut prints = vec![Fingerprint::default(); inputs.len()];
    let mut sink = |index: usize, mut rec: FlowRecord| -> Result<()> {
        prints[index].add(&rec);
        if current != Some(index) {
            // A new capture: its hosts start with no history.
            extractor.reset();
            current = Some(index);
        }
        if extractor.lacks_native(&rec) {
            return Err(crate::error::Error::Invalid(format!(
                "{}: {}, which this input does not all carry (train with --features default for it)",
                inputs[index].name(),
                extractor.native_requirement().unwrap_or_default()
            )));
        }
        extractor.extract(&rec, &mut row);
        if labels == Labels::Ignored {
            match rec.label.as_ref().map(|l| l.class) {
                Some(LabelClass::Benign) => ignored.benign += 1,
                Some(LabelClass::Malicious) => ignored.malicious += 1,
                Some(LabelClass::Other) => ignored.other += 1,
                None => ignored.unlabeled += 1,
            }
            if names.class_names.is_empty() {
                names.class_names.push(UNLABELED_CLASS.to_string());
            }
            push_row(&mut sampler, &row, false, 0, index, &rec);
            return Ok(());
        }
        if let Some(rule) = audit.apply(&audit_rules[index], &mut rec) {
            audited[rule] += 1;
        }
        let Some(label) = &rec.label else {
            unlabeled += 1;
            return Ok(());
        };
        let malicious = match label.class {
            LabelClass::Benign => false,
            LabelClass::Malicious => true,
            LabelClass::Other => {
                other += 1;
                return Ok(());
            }
        };
        let class_name = if malicious {
            label.detailed.as_deref().unwrap_or(&label.name)
        } else {
            BENIGN_CLASS
        };
        let next = classes.len() as u32;
        let class = *classes.entry(class_name.to_string()).or_insert_with(|| {
            names.class_names.push(class_name.to_string());
            next
        });
        push_row(&mut sampler, &row, malicious, class, index, &rec);
        Ok(())
    };
    let mut outcome = run_batch(inputs, batch, bytes_read, &mut sink, on_error)?;
    let (mut dataset, mut sampling) = sampler.finish(names);
    let mut dropped = vec![false; inputs.len()];
    for (i, p) in prints.iter().enumerate() {
        if let Some(first) = (p.records > 0)
            .then(|| {
                prints[..i]
                    .iter()
                    .zip(&dropped)
                    .position(|(q, d)| q == p && !d)
            })
            .flatten()
        {
            dropped[i] = true;
            outcome
                .duplicates
                .push((inputs[i].name(), inputs[first].name(), p.records));
        }
    }
    if dropped.contains(&true) {
        let keep: Vec<usize> = (0..dataset.n_rows())
            .filter(|&r| dataset.group.get(r).is_none_or(|&g| !dropped[g as usize]))
            .collect();
        dataset = dataset.subset(&keep);
        // The sample's report covers the rows that stay.
        let gone: Vec<String> = (0..inputs.len())
            .filter(|&i| dropped[i])
            .map(|i| inputs[i].name())
            .collect();
        sampling.strata.retain(|c| {
            let drop = gone.contains(&c.group);
            if drop {
                sampling.seen -= c.seen;
                sampling.kept -= c.kept;
                sampling.folded -= c.folded;
                sampling.sampled_away -= c.sampled_away;
            }
            !drop
        });
    }
    if batch.sample.is_none() {
        sampling.max_rows = None;
    }
    Ok(BuiltDataset {
        dataset,
        schema,
        outcome,
        excluded_other: other,
        excluded_unlabeled: unlabeled,
        audited: audit.counts(&audited),
        ignored,
        sampling,
    })
}

/// An order-independent fingerprint of an input's flow records (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fingerprint {
    records: u64,
    sum: u64,
    xor: u64,
}

impl Fingerprint {
    fn add(&mut self, rec: &FlowRecord) {
        // `DefaultHasher::new()` has fixed keys: the same record hashes the same within a run.
        let mut h = DefaultHasher::new();
        rec.ts.as_nanos().hash(&mut h);
        rec.uid.as_deref().hash(&mut h);
        (rec.orig_h, rec.orig_p, rec.resp_h, rec.resp_p).hash(&mut h);
        rec.proto.hash(&mut h);
        (rec.orig_bytes, rec.resp_bytes, rec.orig_pkts, rec.resp_pkts).hash(&mut h);
        let v = h.finish();
        self.records += 1;
        self.sum = self.sum.wrapping_add(v);
        self.xor ^= v;
    }
}

/// Gives one row to the sampler: its features, target, class, group and time.
fn push_row(
    sampler: &mut RowSampler,
    row: &[f32],
    malicious: bool,
    class: u32,
    group: usize,
    rec: &FlowRecord,
) {
    // A row without time (its input has none) is NaN: a time-ordered split refuses it.
    let time = if rec.untimed {
        f64::NAN
    } else {
        rec.ts.as_secs_f64()
    };
    sampler.push(row, malicious, class, group as u32, time);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_native_columns_are_named_per_input() {
        use iotguard_flow::NativeFamily::TonIot;
        let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let options = iotguard_flow::ReadOptions::default();
        let missing = |p: std::path::PathBuf| {
            missing_native_columns(&Input::File(p), &options, TonIot).unwrap()
        };
        assert!(missing(testdata.join("ton-iot/ton_iot_train_test.csv")).is_empty());
        assert_eq!(missing(testdata.join("zeek/conn_small.log")).len(), 20);
        // The train/test file's header without three of its native columns.
        let text =
            std::fs::read_to_string(testdata.join("ton-iot/ton_iot_train_test.csv")).unwrap();
        let (header, rows) = text.split_once('\n').unwrap();
        let keep: Vec<bool> = header
            .split(',')
            .map(|c| !matches!(c, "dns_rcode" | "ssl_cipher" | "weird_notice"))
            .collect();
        let cut = |line: &str| {
            line.split(',')
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect::<Vec<_>>()
                .join(",")
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partial.csv");
        let body: Vec<String> = std::iter::once(header)
            .chain(rows.lines())
            .map(cut)
            .collect();
        std::fs::write(&path, body.join("\n")).unwrap();
        assert_eq!(missing(path), ["dns_rcode", "ssl_cipher", "weird_notice"]);
    }

    #[test]
    fn rows_groups_and_classes_from_real_captures() {
        let Some(dir) = iotguard_testkit::shared_data("build_dataset") else {
            return;
        };
        let inputs = vec![
            Input::File(dir.join("stratosphere/CTU-Normal-40-day1.conn.log.labeled")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled")),
            Input::File(dir.join("stratosphere/nmap-port-scanning.conn.json.log")),
        ];
        let batch = one_thread();
        let built = build(&inputs, &batch);
        let d = &built.dataset;
        d.validate().unwrap();
        // Normal-40: 1,402 benign + 4,201 malicious (60 Background left out); 44-1: 211 + 26;
        // the nmap capture is unlabeled: no rows.
        assert_eq!(d.n_rows(), 1_402 + 4_201 + 211 + 26);
        assert_eq!(
            (built.excluded_other, built.excluded_unlabeled),
            (60, 4_504)
        );
        assert_eq!(d.target.iter().filter(|t| **t).count(), 4_201 + 26);
        assert_eq!(d.group.iter().filter(|g| **g == 1).count(), 237);
        assert_eq!(d.n_features(), built.schema.len());
        let class_of = |name: &str| d.class_names.iter().position(|c| c == name).unwrap() as u32;
        assert_eq!(
            d.class
                .iter()
                .filter(|c| **c == class_of("External-Attack-to-Device"))
                .count(),
            4_201
        );
        assert_eq!(
            d.class.iter().filter(|c| **c == class_of("C&C")).count(),
            14
        );
        assert_eq!(
            d.class
                .iter()
                .filter(|c| **c == class_of(BENIGN_CLASS))
                .count(),
            1_402 + 211
        );
    }

    #[test]
    fn the_shared_label_audit_sets_aside_the_scan_the_irc_cc_and_the_cc_hosts_http_and_changes_no_feature(
    ) {
        let Some(dir) = iotguard_testkit::shared_data("label audit") else {
            return;
        };
        let inputs = vec![
            Input::File(dir.join("iot23/iot23-pool-dev.conn.log.labeled")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled")),
        ];
        let build = |label_audit| {
            let batch = BatchConfig {
                threads: 1,
                label_audit,
                ..BatchConfig::default()
            };
            build_dataset(
                &inputs,
                &batch,
                &FeatureConfig::default(),
                &Arc::default(),
                &mut |e| panic!("{e}"),
            )
            .unwrap()
        };
        let audit = crate::audit::LabelAudit::load(
            &iotguard_testkit::repo_root().join("bench/label-audit.json"),
        )
        .unwrap();
        let as_given = build(Default::default());
        let audited = build(audit);
        // pool-dev: 26,930 rows (benign 19,998, malicious 6,932), of which the first rule takes
        // 19,967 benign ones out; 42-1: 4,426 rows (benign 4,420), the second rule 1,947; 34-1:
        // 23,145 rows (benign 1,923), the third rule 65 (those to its C&C host's port 80 only).
        assert_eq!(as_given.dataset.n_rows(), 26_930 + 4_426 + 23_145);
        assert_eq!(
            audited.dataset.n_rows(),
            26_930 - 19_967 + 4_426 - 1_947 + 23_145 - 65
        );
        assert_eq!(audited.excluded_other, 19_967 + 1_947 + 65);
        let counts: Vec<u64> = audited.audited.iter().map(|a| a.flows).collect();
        assert_eq!(counts, [19_967, 1_947, 65]);
        assert!(as_given.audited.is_empty());
        // The set-aside flows still feed the hosts' state: every malicious row keeps its vector.
        let malicious = |b: &BuiltDataset| -> Vec<f32> {
            let d = &b.dataset;
            (0..d.n_rows())
                .filter(|&i| d.target[i])
                .flat_map(|i| d.row(i).to_vec())
                .collect()
        };
        let (a, b) = (malicious(&as_given), malicious(&audited));
        assert_eq!(
            a.len(),
            (6_932 + 6 + 21_222) * as_given.dataset.n_features()
        );
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn an_input_holding_an_earlier_inputs_flows_keeps_no_rows_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.conn.log.labeled");
        std::fs::copy(
            iotguard_testkit::testdata("zeek/explore_a.conn.log.labeled"),
            &copy,
        )
        .unwrap();
        let mut inputs = explore_fixtures();
        let alone = build(&inputs, &budget(1_000_000));
        inputs.push(Input::File(copy));
        let with_copy = build(&inputs, &budget(1_000_000));
        let records = with_copy.outcome.per_input[0].finish(0).records;
        assert!(records > 0);
        assert_eq!(
            with_copy.outcome.duplicates,
            [(inputs[2].name(), inputs[0].name(), records)]
        );
        // The same rows and the same sample report as without the copy.
        let (a, b) = (&alone.dataset, &with_copy.dataset);
        assert_eq!(
            (a.n_rows(), &a.group, &a.target),
            (b.n_rows(), &b.group, &b.target)
        );
        assert!(a
            .features
            .iter()
            .zip(&b.features)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(alone.sampling.kept, with_copy.sampling.kept);
        assert_eq!(alone.sampling.seen, with_copy.sampling.seen);
        assert_eq!(alone.sampling.strata.len(), with_copy.sampling.strata.len());
        assert!(alone.outcome.duplicates.is_empty());
    }

    #[test]
    fn capture_34_1_as_csv_is_the_same_capture_as_its_zeek_log() {
        let Some(dir) = iotguard_testkit::shared_data("build_dataset duplicates") else {
            return;
        };
        let inputs = vec![
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-34-1.csv")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled")),
        ];
        let batch = one_thread();
        let built = build(&inputs, &batch);
        assert_eq!(
            built.outcome.duplicates,
            [(inputs[1].name(), inputs[0].name(), 23_145)]
        );
        assert_eq!(built.dataset.n_rows(), 23_145 + 237);
        assert!(!built.dataset.group.contains(&1));
    }

    /// The dataset of `inputs` with the default features, every error ignored.
    fn build(inputs: &[Input], batch: &BatchConfig) -> BuiltDataset {
        build_dataset(
            inputs,
            batch,
            &FeatureConfig::default(),
            &Arc::default(),
            &mut |_| {},
        )
        .unwrap()
    }

    fn one_thread() -> BatchConfig {
        BatchConfig {
            threads: 1,
            ..BatchConfig::default()
        }
    }

    fn explore_fixtures() -> Vec<Input> {
        [
            "zeek/explore_a.conn.log.labeled",
            "zeek/explore_b.conn.log.labeled",
        ]
        .iter()
        .map(|p| Input::File(iotguard_testkit::testdata(p)))
        .collect()
    }

    fn budget(max_rows: usize) -> BatchConfig {
        BatchConfig {
            threads: 1,
            sample: Some(SampleConfig { max_rows, seed: 1 }),
            ..BatchConfig::default()
        }
    }

    #[test]
    fn a_budget_the_rows_fit_in_gives_the_same_rows_and_the_same_model() {
        use iotguard_models::lab::ModelKind;
        let inputs = explore_fixtures();
        let train = |batch: &BatchConfig| {
            crate::lab::train_model_out_of_capture(
                ModelKind::Forest,
                &inputs,
                &[],
                batch,
                &FeatureConfig::default(),
                1,
                &crate::lab::Choice::Default,
                None,
                None,
                &mut |e| panic!("{e}"),
            )
            .unwrap()
        };
        let unbounded = one_thread();
        let (all_file, all, all_ooc) = train(&unbounded);
        // 305 labeled rows in a, 247 in b: a budget of exactly 552 keeps them all.
        assert_eq!(all.dataset.n_rows(), 552);
        assert_eq!(all_file.training.sampling, None);
        let (file, built, ooc) = train(&budget(552));
        // The same rows bit for bit (NaN is missing, so `==` on the floats cannot say it).
        let bits = |d: &Dataset| d.features.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&built.dataset), bits(&all.dataset));
        let no_features = |d: &Dataset| Dataset {
            features: Vec::new(),
            ..d.clone()
        };
        assert_eq!(no_features(&built.dataset), no_features(&all.dataset));
        assert_eq!(file.model, all_file.model);
        assert_eq!(file.threshold, all_file.threshold);
        assert_eq!(file.params, all_file.params);
        assert_eq!(ooc, all_ooc);
        let s = file.training.sampling.unwrap();
        assert!(!s.sampled);
        assert_eq!(
            (s.max_rows, s.seen, s.kept, s.folded, s.sampled_away),
            (Some(552), 552, 552, 0, 0)
        );
        // One row fewer and the sample is taken: the rows differ, and the file says so.
        let (file, built, _) = train(&budget(551));
        assert!(built.sampling.sampled);
        assert!(built.dataset.n_rows() <= 551);
        assert!(file.training.sampling.unwrap().sampled);
    }

    #[test]
    fn simulated_rows_are_fitted_on_and_never_held_out() {
        use iotguard_models::lab::ModelKind;
        let sim = crate::augment::SimulatedClean::new(300, 1);
        let (file, built, ooc) = crate::lab::train_model_out_of_capture(
            ModelKind::Forest,
            &explore_fixtures(),
            &[Input::Simulated(sim)],
            &one_thread(),
            &FeatureConfig::default(),
            1,
            &crate::lab::Choice::Default,
            None,
            None,
            &mut |e| panic!("{e}"),
        )
        .unwrap();
        // 552 labeled rows of the two fixtures, 300 simulated benign ones.
        assert_eq!(built.dataset.n_rows(), 852);
        assert_eq!(file.training.rows, 852);
        assert_eq!(file.training.inputs.len(), 2);
        assert_eq!(file.training.augment, [sim.to_string()]);
        let ooc = ooc.unwrap();
        let units: Vec<&str> = ooc
            .units
            .iter()
            .map(|u| u.unit.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            units,
            ["explore_a.conn.log.labeled", "explore_b.conn.log.labeled"]
        );
        assert_eq!(ooc.pooled.n, 552);
        // The drift reference describes the inputs' traffic, not the simulated network.
        assert_eq!(file.reference.unwrap().rows, 552);
    }

    #[test]
    fn a_budget_below_the_rows_is_shared_by_input_class_and_detailed_label() {
        let built = build_dataset(
            &explore_fixtures(),
            &budget(100),
            &FeatureConfig::default(),
            &Arc::default(),
            &mut |e| panic!("{e}"),
        )
        .unwrap();
        let s = &built.sampling;
        let counts: Vec<(&str, &str, u64, u64, u64, u64)> = s
            .strata
            .iter()
            .map(|t| {
                (
                    t.group.rsplit('/').next().unwrap(),
                    t.class.as_str(),
                    t.seen,
                    t.kept,
                    t.folded,
                    t.sampled_away,
                )
            })
            .collect();
        // Seven strata: the four small ones keep every row (3 + 2 + 3 + 12 = 20 of the 100),
        // the two benign ones and a's C&C share the other 80 (26 each, the remainder to the
        // first seen). Every row is kept or sampled away (no two rows are identical here).
        let a = "explore_a.conn.log.labeled";
        let b = "explore_b.conn.log.labeled";
        assert_eq!(
            counts,
            [
                (a, "Benign", 262, 27, 0, 235),
                (a, "FileDownload", 3, 3, 0, 0),
                (a, "C&C", 40, 27, 0, 13),
                (b, "FileDownload", 2, 2, 0, 0),
                (b, "Benign", 230, 26, 0, 204),
                (b, "C&C", 3, 3, 0, 0),
                (b, "Attack", 12, 12, 0, 0),
            ]
        );
        assert_eq!((s.seen, s.kept), (552, 100));
        assert_eq!(built.dataset.n_rows(), 100);
        built.dataset.validate().unwrap();
        // The sampled rows still make a model with its threshold chosen out of capture.
        let (trained, ooc) = iotguard_models::lab::train_out_of_capture(
            iotguard_models::lab::ModelKind::Forest,
            &iotguard_models::tune::Setting::Default,
            &built.dataset,
            1,
            None,
            None,
            &[],
        )
        .unwrap();
        assert!(ooc.is_some());
        assert_eq!(trained.fit_rows, 100);
    }

    #[test]
    fn rows_equal_streaming_extraction() {
        // The dataset path and a detector's streaming path give the same vectors.
        let text =
            std::fs::read_to_string(iotguard_testkit::testdata("zeek/conn_small.log")).unwrap();
        let recs: Vec<FlowRecord> = iotguard_flow::FlowReader::open(
            "t",
            std::io::Cursor::new(text.into_bytes()),
            &Default::default(),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
        let mut streaming = FeatureExtractor::new(FeatureConfig::default());
        let want: Vec<f32> = streaming.extract_all(recs.iter());
        let inputs = vec![Input::File(iotguard_testkit::testdata(
            "zeek/conn_small.log",
        ))];
        let built = build(&inputs, &BatchConfig::default());
        let got = &built.dataset.features;
        assert_eq!(got.len(), want.len());
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
