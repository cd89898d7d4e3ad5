//! Label audits: written, reasoned corrections to the labels of labeled captures, applied when
//! a dataset is built for training or evaluation.
//!
//! Public captures carry label errors. In the shared IoT-23 sample, 19,967 "Benign" flows are
//! one infected device's telnet scan of 19,970 addresses, while the same device's C&C flows are
//! labeled malicious, and 1,947 "Benign" flows of capture 42-1 are, by its own pcap, IRC botnet
//! C&C sessions (`bench/label-audit.json`). A model that flags that scan is right, yet the
//! labels as given count every alert on it as a false alert. An audit file lets an evaluation
//! say so openly instead of silently editing data: each rule names one input file, the class as
//! given, optional fields that single the flows out, the class they are counted as instead
//! (usually `other`: neither trained on nor scored, like Background) and why. Every rule's
//! matches are counted and reported next to the metrics, and running without the file gives
//! the labels as given.
//!
//! The file is JSON: `{"rules": [{"input": "x.conn.log.labeled", "label": "benign",
//! "orig_h": "192.168.1.198", "resp_h": "10.0.0.9", "proto": "tcp", "resp_p": 23, "conn_state": "S0", "to": "other",
//! "reason": "..."}]}`. Unknown keys are refused, so a misspelt condition cannot widen a rule.

use std::net::IpAddr;
use std::path::Path;

use iotguard_flow::{FlowRecord, LabelClass};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::input::Input;

/// One correction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRule {
    /// The input's file name (its last path component) the rule applies to.
    pub input: String,
    /// The class as the input labels the flows.
    pub label: LabelClass,
    /// Only flows from this originator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_h: Option<IpAddr>,
    /// Only flows to this responder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_h: Option<IpAddr>,
    /// Only flows of this transport protocol (`tcp`, `udp`, `icmp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    /// Only flows to this responder port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_p: Option<u16>,
    /// Only flows in this connection state (`S0`, `SF`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_state: Option<String>,
    /// The class the matching flows count as.
    pub to: LabelClass,
    /// The detailed label given to flows moved to `malicious`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed: Option<String>,
    /// Why: the evidence, for whoever reads the report.
    pub reason: String,
}

impl AuditRule {
    /// Whether the rule applies to `rec`, a flow of its input.
    fn matches(&self, rec: &FlowRecord) -> bool {
        let Some(label) = &rec.label else {
            return false;
        };
        self.label == label.class
            && self.orig_h.is_none_or(|h| rec.orig_h == Some(h))
            && self.resp_h.is_none_or(|h| rec.resp_h == Some(h))
            && self.resp_p.is_none_or(|p| rec.resp_p == Some(p))
            && self
                .proto
                .as_deref()
                .is_none_or(|p| rec.proto.as_str().eq_ignore_ascii_case(p))
            && self.conn_state.as_deref().is_none_or(|s| {
                rec.conn_state
                    .as_ref()
                    .is_some_and(|c| c.as_str().eq_ignore_ascii_case(s))
            })
    }
}

/// A set of corrections; the default has none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelAudit {
    /// The rules, in the order they are tried; the first match wins.
    pub rules: Vec<AuditRule>,
}

/// How many flows one rule corrected.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditCount {
    /// The rule.
    pub rule: AuditRule,
    /// The flows it matched, over every input.
    pub flows: u64,
}

impl AuditCount {
    /// Says what the rule changed, e.g. `x.log: 3 benign flows (orig_h 10.0.0.1, tcp, resp_p
    /// 23, S0) counted as other: a scan`.
    pub fn describe(&self) -> String {
        let r = &self.rule;
        let mut only = Vec::new();
        if let Some(h) = r.orig_h {
            only.push(format!("orig_h {h}"));
        }
        if let Some(h) = r.resp_h {
            only.push(format!("resp_h {h}"));
        }
        if let Some(p) = &r.proto {
            only.push(p.clone());
        }
        if let Some(p) = r.resp_p {
            only.push(format!("resp_p {p}"));
        }
        if let Some(s) = &r.conn_state {
            only.push(s.clone());
        }
        let only = if only.is_empty() {
            String::new()
        } else {
            format!(" ({})", only.join(", "))
        };
        let to = match (&r.to, &r.detailed) {
            (LabelClass::Malicious, Some(d)) => format!("malicious ({d})"),
            (to, _) => to.as_str().to_string(),
        };
        format!(
            "{}: {} {} flows{only} counted as {to}: {}",
            r.input,
            self.flows,
            r.label.as_str(),
            r.reason
        )
    }
}

impl LabelAudit {
    /// Reads an audit file.
    ///
    /// Errors name the file and what is wrong (unreadable, not JSON, an unknown key, a rule
    /// moving flows to the class they already have or without a reason).
    pub fn load(path: &Path) -> Result<LabelAudit> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let audit: LabelAudit = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("label audit {}: {e}", path.display())))?;
        for (i, r) in audit.rules.iter().enumerate() {
            let problem = if r.label == r.to {
                Some("moves flows to the class they already have")
            } else if r.reason.trim().is_empty() {
                Some("gives no reason")
            } else if r.detailed.is_some() && r.to != LabelClass::Malicious {
                Some("gives a detailed label to flows it does not make malicious")
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(Error::Invalid(format!(
                    "label audit {}: rule {} ({}) {p}",
                    path.display(),
                    i + 1,
                    r.input
                )));
            }
        }
        Ok(audit)
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Returns, per input, the indices of the rules naming its file.
    pub(crate) fn rules_per_input(&self, inputs: &[Input]) -> Vec<Vec<usize>> {
        inputs
            .iter()
            .map(|input| {
                let name = input.name();
                let file = Path::new(&name)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                (0..self.rules.len())
                    .filter(|&i| file.as_deref() == Some(self.rules[i].input.as_str()))
                    .collect()
            })
            .collect()
    }

    /// Applies the first of `rules` that matches `rec` to its label and returns its index.
    pub(crate) fn apply(&self, rules: &[usize], rec: &mut FlowRecord) -> Option<usize> {
        let &i = rules.iter().find(|&&i| self.rules[i].matches(rec))?;
        let rule = &self.rules[i];
        let label = rec.label.as_mut()?;
        label.class = rule.to;
        match rule.to {
            LabelClass::Malicious => {
                label.detailed = rule.detailed.as_deref().map(std::sync::Arc::from);
            }
            LabelClass::Benign | LabelClass::Other => label.detailed = None,
        }
        Some(i)
    }

    /// Pairs each rule with its count of matched flows.
    pub(crate) fn counts(&self, matched: &[u64]) -> Vec<AuditCount> {
        self.rules
            .iter()
            .zip(matched)
            .map(|(rule, &flows)| AuditCount {
                rule: rule.clone(),
                flows,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::Label;
    use std::io::Write;

    fn rule(json: &str) -> Result<LabelAudit> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(json.as_bytes()).unwrap();
        LabelAudit::load(f.path())
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let unknown = rule(
            r#"{"rules": [{"input": "a", "label": "benign", "orig": "1.2.3.4", "to": "other", "reason": "x"}]}"#,
        );
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `orig`"));
        let same = rule(
            r#"{"rules": [{"input": "a", "label": "benign", "to": "benign", "reason": "x"}]}"#,
        );
        assert!(same
            .unwrap_err()
            .to_string()
            .contains("rule 1 (a) moves flows to the class they already have"));
        let no_reason =
            rule(r#"{"rules": [{"input": "a", "label": "benign", "to": "other", "reason": " "}]}"#);
        assert!(no_reason
            .unwrap_err()
            .to_string()
            .contains("gives no reason"));
        assert!(rule("{").unwrap_err().to_string().contains("label audit"));
    }

    #[test]
    fn only_flows_matching_every_condition_move() {
        let audit = rule(
            r#"{"rules": [{"input": "x.log", "label": "benign", "orig_h": "10.0.0.1",
            "resp_h": "10.0.0.9", "proto": "tcp", "resp_p": 23, "conn_state": "S0", "to": "malicious",
            "detailed": "PartOfAHorizontalPortScan", "reason": "a scan"}]}"#,
        )
        .unwrap();
        let inputs = [
            Input::File("dir/x.log".into()),
            Input::File("dir/y.log".into()),
        ];
        let per_input = audit.rules_per_input(&inputs);
        assert_eq!(per_input, vec![vec![0], vec![]]);
        let line = "1.0\tC1\t10.0.0.1\t40000\t10.0.0.9\t23\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t(empty)\tBenign";
        let fields = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tlabel";
        let read = |l: &str| {
            let text = format!("{fields}\n{l}\n");
            let mut r = iotguard_flow::FlowReader::open(
                "x.log",
                std::io::Cursor::new(text.into_bytes()),
                &Default::default(),
            )
            .unwrap();
            r.next().unwrap().unwrap()
        };
        let mut rec = read(line);
        assert_eq!(audit.apply(&per_input[0], &mut rec), Some(0));
        let label: &Label = rec.label.as_ref().unwrap();
        assert_eq!(label.class, LabelClass::Malicious);
        assert_eq!(label.detailed.as_deref(), Some("PartOfAHorizontalPortScan"));
        // Another port, state, originator or class: untouched.
        for other in [
            line.replace("\t23\t", "\t22\t"),
            line.replace("\tS0\t", "\tSF\t"),
            line.replace("10.0.0.1\t", "10.0.0.2\t"),
            line.replace("10.0.0.9\t", "10.0.0.8\t"),
            line.replace("Benign", "Malicious"),
        ] {
            let mut rec = read(&other);
            let before = rec.label.clone();
            assert_eq!(audit.apply(&per_input[0], &mut rec), None, "{other}");
            assert_eq!(rec.label, before);
        }
        // The other input has no rule.
        let mut rec = read(line);
        assert_eq!(audit.apply(&per_input[1], &mut rec), None);
        assert_eq!(
            audit.counts(&[3])[0].describe(),
            "x.log: 3 benign flows (orig_h 10.0.0.1, resp_h 10.0.0.9, tcp, resp_p 23, S0) counted as malicious (PartOfAHorizontalPortScan): a scan"
        );
    }
}
