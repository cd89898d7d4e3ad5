//! What is in a set of flow inputs: counts, bad records, time range, labels, protocols, hosts.
//!
//! The JSON form is a contract with scripts: its top level always holds `records`,
//! `bad_records`, `labels` (class → count) and `detailed_labels` (label → count), summed over all
//! inputs, plus `inputs` with the same figures per input.

use std::collections::BTreeMap;
use std::net::IpAddr;

use iotguard_flow::{FlowRecord, ParseError, Timestamp};
use serde::Serialize;

use crate::topk::TopK;

/// How many distinct hosts each top-host table tracks (see [`TopK`]).
const HOST_CAPACITY: usize = 10_000;
/// How many error examples are kept per input.
const ERROR_EXAMPLES: usize = 10;

/// Statistics of one input, or of all inputs together.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// The input's name (`all` for the sum).
    pub input: String,
    /// The formats read.
    pub formats: Vec<String>,
    /// Records read.
    pub records: u64,
    /// Records rejected.
    pub bad_records: u64,
    /// Rejected records by kind of problem.
    pub bad_by_kind: BTreeMap<String, u64>,
    /// The first few problems, with where and why.
    pub errors: Vec<ErrorExample>,
    /// Earliest and latest record time, as decimal epoch seconds (over records that have one).
    pub time_range: Option<(String, String)>,
    /// Records whose input gives no time (TON_IoT's `train_test_network.csv`, BoT-IoT's 10-best
    /// files): kept in file order, with no per-host window features.
    pub untimed_records: u64,
    /// What a reader of these figures should know, said once per input (for the sum: all of
    /// them, each naming its input).
    pub notes: Vec<String>,
    /// Records by label class (`benign`, `malicious`, `other`, `unlabeled`).
    pub labels: BTreeMap<String, u64>,
    /// Records by detailed label, for records that have one.
    pub detailed_labels: BTreeMap<String, u64>,
    /// Records by transport protocol.
    pub protocols: BTreeMap<String, u64>,
    /// Records by service (`-` where unset).
    pub services: BTreeMap<String, u64>,
    /// Records by connection state (`-` where unset).
    pub conn_states: BTreeMap<String, u64>,
    /// The most frequent originators.
    pub top_orig_hosts: Vec<(String, u64)>,
    /// The most frequent responders.
    pub top_resp_hosts: Vec<(String, u64)>,
    /// False when the host tables overflowed and counts are lower bounds.
    pub hosts_exact: bool,
}

/// A rejected record, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorExample {
    /// Input and line, `path:line`.
    pub at: String,
    /// What was wrong.
    pub error: String,
}

/// Accumulates [`Stats`] from records and errors.
#[derive(Clone, Debug)]
pub struct Collector {
    input: String,
    formats: Vec<&'static str>,
    records: u64,
    bad_records: u64,
    bad_by_kind: BTreeMap<&'static str, u64>,
    errors: Vec<ErrorExample>,
    min_ts: Option<Timestamp>,
    max_ts: Option<Timestamp>,
    untimed: u64,
    notes: Vec<String>,
    labels: BTreeMap<&'static str, u64>,
    detailed: BTreeMap<String, u64>,
    protocols: BTreeMap<String, u64>,
    services: BTreeMap<String, u64>,
    conn_states: BTreeMap<String, u64>,
    orig: TopK<IpAddr>,
    resp: TopK<IpAddr>,
}

impl Collector {
    /// Starts collecting for the named input.
    pub fn new(input: impl Into<String>) -> Self {
        Collector {
            input: input.into(),
            formats: Vec::new(),
            records: 0,
            bad_records: 0,
            bad_by_kind: BTreeMap::new(),
            errors: Vec::new(),
            min_ts: None,
            max_ts: None,
            untimed: 0,
            notes: Vec::new(),
            labels: BTreeMap::new(),
            detailed: BTreeMap::new(),
            protocols: BTreeMap::new(),
            services: BTreeMap::new(),
            conn_states: BTreeMap::new(),
            orig: TopK::new(HOST_CAPACITY),
            resp: TopK::new(HOST_CAPACITY),
        }
    }

    /// Returns what a reader of these figures should know (an input without time), once each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Notes the format an input was read as (its name: `zeek-tsv`, `parquet`, ...).
    pub fn format(&mut self, format: &'static str) {
        if !self.formats.contains(&format) {
            self.formats.push(format);
        }
    }

    /// Counts one record.
    pub fn record(&mut self, rec: &FlowRecord) {
        self.records += 1;
        if rec.untimed {
            if self.untimed == 0 {
                self.notes.push(untimed_note(&self.input));
            }
            self.untimed += 1;
        } else {
            self.min_ts = Some(self.min_ts.map_or(rec.ts, |t| t.min(rec.ts)));
            self.max_ts = Some(self.max_ts.map_or(rec.ts, |t| t.max(rec.ts)));
        }
        let class = rec.label.as_ref().map_or("unlabeled", |l| l.class.as_str());
        *self.labels.entry(class).or_default() += 1;
        if let Some(d) = rec.label.as_ref().and_then(|l| l.detailed.as_deref()) {
            bump(&mut self.detailed, d);
        }
        bump(&mut self.protocols, rec.proto.as_str());
        bump(&mut self.services, rec.service.as_deref().unwrap_or("-"));
        bump(
            &mut self.conn_states,
            rec.conn_state.as_ref().map_or("-", |s| s.as_str()),
        );
        if let Some(h) = &rec.orig_h {
            self.orig.add(h);
        }
        if let Some(h) = &rec.resp_h {
            self.resp.add(h);
        }
    }

    /// Counts one rejected record.
    pub fn error(&mut self, e: &ParseError) {
        self.bad_records += 1;
        *self.bad_by_kind.entry(e.kind.as_str()).or_default() += 1;
        if self.errors.len() < ERROR_EXAMPLES {
            self.errors.push(ErrorExample {
                at: format!("{}:{}", e.input, e.line),
                error: e.to_string(),
            });
        }
    }

    /// Adds another collector's counts to this one (for the all-inputs sum).
    pub fn merge(&mut self, other: &Collector) {
        for f in &other.formats {
            self.format(f);
        }
        self.records += other.records;
        self.bad_records += other.bad_records;
        for (k, v) in &other.bad_by_kind {
            *self.bad_by_kind.entry(k).or_default() += v;
        }
        for e in &other.errors {
            if self.errors.len() < ERROR_EXAMPLES {
                self.errors.push(e.clone());
            }
        }
        self.min_ts = opt(self.min_ts, other.min_ts, Timestamp::min);
        self.max_ts = opt(self.max_ts, other.max_ts, Timestamp::max);
        self.untimed += other.untimed;
        self.notes.extend(other.notes.iter().cloned());
        for (k, v) in &other.labels {
            *self.labels.entry(k).or_default() += v;
        }
        merge_map(&mut self.detailed, &other.detailed);
        merge_map(&mut self.protocols, &other.protocols);
        merge_map(&mut self.services, &other.services);
        merge_map(&mut self.conn_states, &other.conn_states);
        self.orig.merge(&other.orig);
        self.resp.merge(&other.resp);
    }

    /// Returns the statistics, with `top` hosts per table.
    pub fn finish(&self, top: usize) -> Stats {
        let hosts = |t: &TopK<IpAddr>| {
            t.top(top)
                .into_iter()
                .map(|(h, c)| (h.to_string(), c))
                .collect()
        };
        Stats {
            input: self.input.clone(),
            formats: self.formats.iter().map(|f| f.to_string()).collect(),
            records: self.records,
            bad_records: self.bad_records,
            bad_by_kind: self
                .bad_by_kind
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            errors: self.errors.clone(),
            time_range: self
                .min_ts
                .zip(self.max_ts)
                .map(|(a, b)| (a.to_string(), b.to_string())),
            untimed_records: self.untimed,
            notes: self.notes.clone(),
            labels: self
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            detailed_labels: self.detailed.clone(),
            protocols: self.protocols.clone(),
            services: self.services.clone(),
            conn_states: self.conn_states.clone(),
            top_orig_hosts: hosts(&self.orig),
            top_resp_hosts: hosts(&self.resp),
            hosts_exact: self.orig.is_exact() && self.resp.is_exact(),
        }
    }
}

/// The note an input with untimed records gets, once.
pub fn untimed_note(input: &str) -> String {
    format!(
        "{input}: no time column; records kept in file order, per-host window features unavailable (missing)"
    )
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(c) = map.get_mut(key) {
        *c += 1;
    } else {
        map.insert(key.to_string(), 1);
    }
}

fn merge_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn opt<T: Copy>(a: Option<T>, b: Option<T>, f: fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(f(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}
