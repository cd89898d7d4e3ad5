//! Analyst feedback in the alert store: verdicts on alerts, their history, and the precision
//! they give per model version and per attack type.
//!
//! Table `feedback` (schema version 2), one row per verdict ever given, never updated: the
//! latest row of an alert (highest `seq`, the order verdicts were recorded in, not their wall
//! clock time) is its verdict, the rest its history. A row copies the alert's model id and
//! version and attack type as the analyst saw them, so precision survives the retention
//! deleting the alert and later revisions of it.

use std::collections::HashMap;

use iotguard_flow::Timestamp;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{decode, AlertStore};
use crate::error::{Error, Result};

/// The feedback table and its index (created by a new store and by the migration from
/// schema version 1).
pub(super) const FEEDBACK_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    analyst TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    model_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    attack_type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_alert ON feedback (alert_id, seq);
";

/// An analyst's verdict on an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A real attack: the alert was right.
    TruePositive,
    /// Not an attack: the model was wrong.
    FalsePositive,
    /// Real but expected activity (a scheduled scan, a backup): not an attack to act on.
    BenignActivity,
}

impl Verdict {
    /// Every verdict, in the order the API lists them.
    pub const ALL: [Verdict; 3] = [
        Verdict::TruePositive,
        Verdict::FalsePositive,
        Verdict::BenignActivity,
    ];

    /// Returns the snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
            Verdict::BenignActivity => "benign_activity",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(text: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// One verdict as recorded: what, by whom, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The verdict.
    pub verdict: Verdict,
    /// The analyst's note (may be empty).
    pub note: String,
    /// Who gave it (as the analyst named themself; the API token only proves the right).
    pub analyst: String,
    /// When it was recorded (wall clock, RFC 3339).
    pub at: String,
}

/// Which alerts to list by triage state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageStatus {
    /// No verdict yet.
    Open,
    /// At least one verdict.
    Acknowledged,
}

/// Verdict counts and the precision they give.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Alerts whose latest verdict is `true_positive`.
    pub true_positive: u64,
    /// Alerts whose latest verdict is `false_positive`.
    pub false_positive: u64,
    /// Alerts whose latest verdict is `benign_activity` (reported apart, outside precision).
    pub benign_activity: u64,
    /// `true_positive / (true_positive + false_positive)`; `None` without either.
    pub precision: Option<f64>,
    /// `true_positive / (all three)`: benign activity counted as not a true positive;
    /// `None` without verdicts.
    pub precision_with_benign: Option<f64>,
}

impl VerdictCounts {
    fn add(&mut self, verdict: Verdict, n: u64) {
        match verdict {
            Verdict::TruePositive => self.true_positive += n,
            Verdict::FalsePositive => self.false_positive += n,
            Verdict::BenignActivity => self.benign_activity += n,
        }
        let tp = self.true_positive as f64;
        let judged = self.true_positive + self.false_positive;
        self.precision = (judged > 0).then(|| tp / judged as f64);
        let all = judged + self.benign_activity;
        self.precision_with_benign = (all > 0).then(|| tp / all as f64);
    }
}

/// Live performance of one model version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPerformance {
    /// The model's id (`rule.id`).
    pub model_id: String,
    /// The model's version (`rule.version`).
    pub model_version: String,
    /// Its verdicts.
    #[serde(flatten)]
    pub counts: VerdictCounts,
}

/// Live performance of one model version on one attack type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackPerformance {
    /// The model's id.
    pub model_id: String,
    /// The model's version.
    pub model_version: String,
    /// The attack type (`iotguard.attack_type`).
    pub attack_type: String,
    /// Its verdicts.
    #[serde(flatten)]
    pub counts: VerdictCounts,
}

/// Live performance from the latest verdict of every judged alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    /// Per model version, by id then version.
    pub by_model: Vec<ModelPerformance>,
    /// Per model version and attack type, by id, version, then attack type.
    pub by_attack_type: Vec<AttackPerformance>,
}

/// A row's latest-feedback columns, as the alert queries select them.
pub(super) fn from_row(
    verdict: Option<String>,
    note: Option<String>,
    analyst: Option<String>,
    at_ns: Option<i64>,
) -> Result<Option<Feedback>> {
    let Some(verdict) = verdict else {
        return Ok(None);
    };
    Ok(Some(Feedback {
        verdict: Verdict::parse(&verdict)
            .ok_or_else(|| Error::Config(format!("stored verdict `{verdict}` is unknown")))?,
        note: note.unwrap_or_default(),
        analyst: analyst.unwrap_or_default(),
        at: crate::time::rfc3339(Timestamp(at_ns.unwrap_or(0))),
    }))
}

/// An alert's latest feedback row.
struct LatestRow {
    alert_id: String,
    model_id: String,
    model_version: String,
    attack_type: String,
    verdict: Verdict,
}

impl AlertStore {
    /// Records a verdict on the alert `alert_id`, at `at`; returns it, or `None` when no
    /// alert has that id. An open alert transaction of this connection is committed first, so
    /// the verdict is durable on return on its own.
    pub fn record_feedback(
        &self,
        alert_id: &str,
        verdict: Verdict,
        note: &str,
        analyst: &str,
        at: Timestamp,
    ) -> Result<Option<Feedback>> {
        self.commit()?;
        let c = self.lock();
        let doc: Option<String> = c
            .conn
            .query_row("SELECT doc FROM alerts WHERE id = ?1", [alert_id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        let alert = decode(&doc)?;
        c.conn.execute(
            "INSERT INTO feedback (alert_id, verdict, note, analyst, at_ns, model_id,
                                   model_version, attack_type)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                alert_id,
                verdict.as_str(),
                note,
                analyst,
                at.as_nanos(),
                alert.rule.id,
                alert.rule.version,
                alert.iotguard.attack_type.as_str(),
            ],
        )?;
        Ok(Some(Feedback {
            verdict,
            note: note.to_string(),
            analyst: analyst.to_string(),
            at: crate::time::rfc3339(at),
        }))
    }

    /// Returns how many verdicts have been given in all (every row of the history).
    pub fn verdicts_given(&self) -> Result<u64> {
        let c = self.lock();
        let n: i64 = c
            .conn
            .query_row("SELECT COUNT(*) FROM feedback", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Returns every verdict given on an alert, oldest first (the last one is its verdict).
    pub fn feedback_history(&self, alert_id: &str) -> Result<Vec<Feedback>> {
        let c = self.lock();
        let mut stmt = c.conn.prepare_cached(
            "SELECT verdict, note, analyst, at_ns FROM feedback WHERE alert_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([alert_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (v, n, a, t) = row?;
            out.extend(from_row(Some(v), Some(n), Some(a), Some(t))?);
        }
        Ok(out)
    }

    /// Returns the latest verdict of every judged alert, by alert id.
    pub fn latest_verdicts(&self) -> Result<HashMap<String, Verdict>> {
        let mut out = HashMap::new();
        for row in self.latest_rows()? {
            out.insert(row.alert_id, row.verdict);
        }
        Ok(out)
    }

    /// The latest feedback row of every judged alert.
    fn latest_rows(&self) -> Result<Vec<LatestRow>> {
        let c = self.lock();
        let mut stmt = c.conn.prepare_cached(
            "SELECT f.alert_id, f.model_id, f.model_version, f.attack_type, f.verdict
             FROM feedback f
             WHERE f.seq = (SELECT MAX(seq) FROM feedback WHERE alert_id = f.alert_id)
             ORDER BY f.alert_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, model, version, attack, verdict) = row?;
            let verdict = Verdict::parse(&verdict)
                .ok_or_else(|| Error::Config(format!("stored verdict `{verdict}` is unknown")))?;
            out.push(LatestRow {
                alert_id: id,
                model_id: model,
                model_version: version,
                attack_type: attack,
                verdict,
            });
        }
        Ok(out)
    }

    /// Returns the precision per model version and per model version and attack type, from
    /// the latest verdict of every judged alert.
    pub fn performance(&self) -> Result<Performance> {
        let mut by_model: std::collections::BTreeMap<(String, String), VerdictCounts> =
            Default::default();
        let mut by_attack: std::collections::BTreeMap<(String, String, String), VerdictCounts> =
            Default::default();
        for row in self.latest_rows()? {
            by_model
                .entry((row.model_id.clone(), row.model_version.clone()))
                .or_default()
                .add(row.verdict, 1);
            by_attack
                .entry((row.model_id, row.model_version, row.attack_type))
                .or_default()
                .add(row.verdict, 1);
        }
        Ok(Performance {
            by_model: by_model
                .into_iter()
                .map(|((model_id, model_version), counts)| ModelPerformance {
                    model_id,
                    model_version,
                    counts,
                })
                .collect(),
            by_attack_type: by_attack
                .into_iter()
                .map(
                    |((model_id, model_version, attack_type), counts)| AttackPerformance {
                        model_id,
                        model_version,
                        attack_type,
                        counts,
                    },
                )
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::AlertQuery;
    use crate::Alert;

    /// Four incidents: the golden alerts under new ids, two models, two attack types.
    fn alerts() -> Vec<Alert> {
        let golden: Vec<Alert> = serde_json::Deserializer::from_str(include_str!(
            "../../../../testdata/golden/alerts/sim_seed2_first2000.json"
        ))
        .into_iter()
        .collect::<std::result::Result<_, _>>()
        .unwrap();
        let mut out = Vec::new();
        for (i, (model, g)) in [("m1", 1), ("m1", 6), ("m2", 1), ("m2", 6)]
            .into_iter()
            .enumerate()
        {
            let mut a = golden[g].clone();
            a.event.id = format!("inc-{i}");
            a.event.end = format!("2024-01-01T00:0{i}:00Z");
            a.rule.id = model.to_string();
            out.push(a);
        }
        out
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs_nanos(secs, 0)
    }

    fn ids(store: &AlertStore, status: Option<TriageStatus>) -> Vec<String> {
        store
            .query(&AlertQuery {
                status,
                ..AlertQuery::default()
            })
            .unwrap()
            .alerts
            .iter()
            .map(|a| a.id().to_string())
            .collect()
    }

    fn filled(path: &Path) -> AlertStore {
        let store = AlertStore::open(path).unwrap();
        store.upsert(&alerts()).unwrap();
        store.commit().unwrap();
        store
    }

    #[test]
    fn the_latest_verdict_wins_and_the_history_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir.path().join("alerts.db"));
        assert_eq!(
            store
                .record_feedback("inc-none", Verdict::TruePositive, "", "ann", at(1))
                .unwrap(),
            None
        );
        let first = store
            .record_feedback("inc-1", Verdict::FalsePositive, "printer", "ann", at(1))
            .unwrap()
            .unwrap();
        assert_eq!(
            first,
            Feedback {
                verdict: Verdict::FalsePositive,
                note: "printer".to_string(),
                analyst: "ann".to_string(),
                at: "1970-01-01T00:00:01.000000Z".to_string(),
            }
        );
        // A later verdict with an earlier clock still wins: order of recording decides.
        let second = store
            .record_feedback("inc-1", Verdict::TruePositive, "no, a scan", "bob", at(0))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.feedback_history("inc-1").unwrap(),
            [first, second.clone()]
        );
        assert_eq!(store.verdicts_given().unwrap(), 2);
        assert_eq!(
            store.get("inc-1").unwrap().unwrap().iotguard.feedback,
            Some(second)
        );
        assert_eq!(store.get("inc-0").unwrap().unwrap().iotguard.feedback, None);
        assert_eq!(ids(&store, None), ["inc-3", "inc-2", "inc-1", "inc-0"]);
        assert_eq!(
            ids(&store, Some(TriageStatus::Open)),
            ["inc-3", "inc-2", "inc-0"]
        );
        assert_eq!(ids(&store, Some(TriageStatus::Acknowledged)), ["inc-1"]);
        // A reader on another connection sees it.
        let reader = store.reader().unwrap();
        assert_eq!(
            reader.latest_verdicts().unwrap(),
            HashMap::from([("inc-1".to_string(), Verdict::TruePositive)])
        );
    }

    #[test]
    fn precision_per_model_and_attack_type_counts_latest_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir.path().join("alerts.db"));
        let give = |id: &str, v| {
            store
                .record_feedback(id, v, "", "ann", at(5))
                .unwrap()
                .unwrap();
        };
        give("inc-0", Verdict::FalsePositive);
        give("inc-0", Verdict::TruePositive);
        give("inc-1", Verdict::FalsePositive);
        give("inc-2", Verdict::BenignActivity);
        give("inc-3", Verdict::TruePositive);
        let p = store.performance().unwrap();
        let counts = |tp, fp, b, precision, with_benign| VerdictCounts {
            true_positive: tp,
            false_positive: fp,
            benign_activity: b,
            precision,
            precision_with_benign: with_benign,
        };
        let version = "2023-11-14T22:13:20Z".to_string();
        assert_eq!(
            p.by_model,
            [
                ModelPerformance {
                    model_id: "m1".to_string(),
                    model_version: version.clone(),
                    counts: counts(1, 1, 0, Some(0.5), Some(0.5)),
                },
                ModelPerformance {
                    model_id: "m2".to_string(),
                    model_version: version.clone(),
                    counts: counts(1, 0, 1, Some(1.0), Some(0.5)),
                },
            ]
        );
        let rows: Vec<(&str, &str, VerdictCounts)> = p
            .by_attack_type
            .iter()
            .map(|r| {
                (
                    r.model_id.as_str(),
                    r.attack_type.as_str(),
                    r.counts.clone(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("m1", "beacon", counts(1, 0, 0, Some(1.0), Some(1.0))),
                (
                    "m1",
                    "horizontal_scan",
                    counts(0, 1, 0, Some(0.0), Some(0.0))
                ),
                ("m2", "beacon", counts(0, 0, 1, None, Some(0.0))),
                (
                    "m2",
                    "horizontal_scan",
                    counts(1, 0, 0, Some(1.0), Some(1.0))
                ),
            ]
        );
    }

    /// A store written by the schema 1 build (no feedback table) is migrated when opened:
    /// its alerts are kept and verdicts can be given.
    #[test]
    fn a_schema_1_store_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        {
            let store = filled(&path);
            let c = store.lock();
            c.conn
                .execute_batch("DROP TABLE feedback; PRAGMA user_version = 1;")
                .unwrap();
        }
        let store = AlertStore::open(&path).unwrap();
        let version: i64 = store
            .lock()
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        assert_eq!(ids(&store, Some(TriageStatus::Open)).len(), 4);
        store
            .record_feedback("inc-2", Verdict::TruePositive, "", "ann", at(1))
            .unwrap()
            .unwrap();
        assert_eq!(ids(&store, Some(TriageStatus::Acknowledged)), ["inc-2"]);
        // A store newer than this build is refused.
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        drop(conn);
        let err = AlertStore::open(&path).err().unwrap();
        assert_eq!(
            err.to_string().rsplit_once(": ").unwrap().1,
            "alert store schema version 3, this build reads 2"
        );
    }
}
