//! [`AlertStore`]: the embedded SQLite alert store, the default sink.
//!
//! One row per incident (upserted by `event.id`, a newer revision replacing an older one), with
//! the columns queries filter on and the whole ECS document as JSON. WAL mode lets the server
//! read through its own connection ([`AlertStore::open`] again, or [`AlertStore::reader`])
//! while the detector writes. As a sink, `send` writes inside an open transaction and `flush`
//! commits it with `synchronous = FULL`, so a flushed alert survives a crash or power loss.
//!
//! A write can fail half way (a full disk: SQLite answers `SQLITE_FULL` and may roll the whole
//! transaction back). The store keeps every alert of the open transaction in memory (the latest
//! revision per id) until its commit succeeds; after any failed write or commit it rolls back
//! what is left of the transaction, and the next `upsert` or `commit` begins a new one and
//! writes them all again. So a transaction lost to a full disk is re-sent once space returns,
//! and nothing sent is dropped. At most `max_unsaved` incidents wait this way (default
//! 100 000); past that, `upsert` fails with [`Error::Unsaved`] and keeps nothing more: the
//! pipeline stops the run on it rather than drop alerts.
//!
//! With a retention ([`AlertStore::with_retention`]), each commit (at most once a minute)
//! deletes, in the same transaction, the alerts whose last flow is older than the newest
//! alert's last flow minus the retention (event time, so replaying an old capture keeps its
//! alerts); the store's size is then bounded by the alert rate times the retention.
//!
//! Analyst verdicts live beside the alerts in table `feedback` ([`feedback`]): each alert read
//! back carries its latest verdict in `iotguard.feedback`, and queries filter on it
//! ([`AlertQuery::status`]).
//!
//! Schema version 2 (`PRAGMA user_version`). A version 1 store (before feedback) is migrated
//! when opened: the feedback table is added in one transaction, the alerts are kept as they
//! are. A store with a newer version is refused.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use iotguard_flow::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::drift::EventDocument;
use crate::error::{Error, Result};
use crate::risk::Severity;
use crate::sink::{AlertSink, SinkError};
use crate::time::parse_time;

mod events;
pub(crate) mod feedback;
mod flows;
mod timeline;

pub use timeline::{Timeline, TimelineBucket, MAX_BUCKETS as MAX_TIMELINE_BUCKETS};

pub use flows::{AlertFlows, KEPT_FLOWS};

pub use feedback::{
    AttackPerformance, Feedback, ModelPerformance, Performance, TriageStatus, Verdict,
    VerdictCounts,
};

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    risk REAL NOT NULL,
    attack_type TEXT NOT NULL,
    state TEXT NOT NULL,
    source_ip TEXT,
    destination_ip TEXT,
    sensor TEXT NOT NULL,
    flows INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_end ON alerts (end_ns DESC, id DESC);
CREATE INDEX IF NOT EXISTS alerts_by_source ON alerts (source_ip);
CREATE INDEX IF NOT EXISTS alerts_by_destination ON alerts (destination_ip);
";

/// What to list: every filter is optional; results are newest (by last flow) first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertQuery {
    /// Alerts whose last flow is at or after this time.
    #[serde(with = "opt_time")]
    pub since: Option<Timestamp>,
    /// Alerts whose last flow is before this time.
    #[serde(with = "opt_time")]
    pub until: Option<Timestamp>,
    /// Alerts of at least this severity.
    pub min_severity: Option<Severity>,
    /// Alerts of exactly this severity.
    pub severity: Option<Severity>,
    /// Alerts whose source or destination is this address.
    pub host: Option<IpAddr>,
    /// Alerts without a verdict (`open`) or with one (`acknowledged`).
    pub status: Option<TriageStatus>,
    /// Alerts of this attack type (`horizontal_scan`, `flood`, `beacon`, ...; `type` in a URL).
    #[serde(alias = "type")]
    pub attack_type: Option<String>,
    /// Most alerts per page (0 means 100; capped at 10 000).
    pub limit: usize,
    /// Where the previous page ended ([`AlertPage::next_cursor`]).
    pub cursor: Option<String>,
}

/// One page of alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertPage {
    /// The alerts, newest first.
    pub alerts: Vec<Alert>,
    /// Pass as [`AlertQuery::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How many alerts have a severity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCount {
    /// The severity.
    pub severity: Severity,
    /// Alerts (incidents) with it.
    pub count: u64,
}

struct Conn {
    conn: Connection,
    in_tx: bool,
    /// When the retention was last applied, and how many alerts it deleted in all.
    last_purge: Option<std::time::Instant>,
    purged: u64,
    /// Every alert written in the open transaction (latest revision per id), kept until the
    /// transaction commits so a rolled-back one can be written again.
    unsaved: HashMap<String, Alert>,
    /// Whether `unsaved` must be written again (the last transaction was rolled back).
    replay: bool,
}

/// The most incidents kept in memory while the store cannot commit.
pub(crate) const DEFAULT_MAX_UNSAVED: usize = 100_000;

/// The SQLite alert store; `Send + Sync` (one connection behind a mutex). See the module docs.
pub struct AlertStore {
    path: PathBuf,
    name: String,
    inner: Mutex<Conn>,
    max_unsaved: usize,
    retention: Option<std::time::Duration>,
    /// Event documents waiting for the next flush (`events.rs`).
    pending_events: Vec<EventDocument>,
    /// Alerting flows waiting for the next flush, by incident id (`flows.rs`).
    pending_flows: flows::PendingFlows,
    /// Flows stored per incident so far (this process's), for their slots.
    flow_counts: HashMap<String, u64>,
}

/// How often the retention is applied (at a commit).
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl AlertStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<AlertStore> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Changing the journal mode or the schema needs the write lock: only done when needed,
        // so a reader opens while the detector holds a write transaction.
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        match version {
            0 => {
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {SCHEMA} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
                    feedback::FEEDBACK_SCHEMA
                ))?;
            }
            1 => {
                // Schema 1 had no feedback: add its table; the alerts stay as they are.
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
                    feedback::FEEDBACK_SCHEMA
                ))?;
            }
            SCHEMA_VERSION => {}
            other => {
                return Err(Error::Config(format!(
                    "{}: alert store schema version {other}, this build reads {SCHEMA_VERSION}",
                    path.display()
                )))
            }
        }
        Ok(AlertStore {
            path: path.to_path_buf(),
            name: format!("sqlite:{}", path.display()),
            inner: Mutex::new(Conn {
                conn,
                in_tx: false,
                unsaved: HashMap::new(),
                replay: false,
                last_purge: None,
                purged: 0,
            }),
            max_unsaved: DEFAULT_MAX_UNSAVED,
            retention: None,
            pending_events: Vec::new(),
            pending_flows: flows::PendingFlows::default(),
            flow_counts: HashMap::new(),
        })
    }

    /// Sets how many incidents are kept in memory while commits fail (see the module docs).
    pub fn with_max_unsaved(mut self, max_unsaved: usize) -> AlertStore {
        self.max_unsaved = max_unsaved.max(1);
        self
    }

    /// Keeps alerts for `retention` of event time (see the module docs); `None` keeps all.
    pub fn with_retention(mut self, retention: Option<std::time::Duration>) -> AlertStore {
        self.retention = retention;
        self
    }

    /// Returns how many alerts the retention has deleted.
    pub fn purged(&self) -> u64 {
        self.lock().purged
    }

    /// Returns how many incidents are written but not yet committed.
    pub fn unsaved(&self) -> usize {
        self.lock().unsaved.len()
    }

    /// Opens a second connection to the same file (for a reader on another thread).
    pub fn reader(&self) -> Result<AlertStore> {
        AlertStore::open(&self.path)
    }

    /// Returns the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or replaces alerts by id (an older revision never replaces a newer one), in one
    /// transaction that stays open until [`AlertStore::commit`]. On failure the alerts are kept
    /// and written again by the next call (see the module docs).
    pub fn upsert(&self, alerts: &[Alert]) -> Result<()> {
        let mut c = self.lock();
        let c = &mut *c;
        let new = alerts
            .iter()
            .filter(|a| !c.unsaved.contains_key(a.id()))
            .map(|a| a.id())
            .collect::<HashSet<_>>()
            .len();
        if c.unsaved.len() + new > self.max_unsaved {
            return Err(Error::Unsaved {
                held: c.unsaved.len(),
                refused: alerts.len(),
            });
        }
        for a in alerts {
            match c.unsaved.get(a.id()) {
                Some(old) if old.iotguard.revision > a.iotguard.revision => {}
                _ => {
                    c.unsaved.insert(a.id().to_string(), a.clone());
                }
            }
        }
        let outcome = if c.replay || !c.in_tx {
            // A new transaction: everything not yet committed goes into it.
            let all: Vec<&Alert> = c.unsaved.values().collect();
            write(&c.conn, &mut c.in_tx, &all)
        } else {
            let all: Vec<&Alert> = alerts.iter().collect();
            write(&c.conn, &mut c.in_tx, &all)
        };
        settle(c, outcome)
    }

    /// Commits the open transaction, if any (durable on return). A transaction rolled back by
    /// an earlier failure is written again first.
    pub fn commit(&self) -> Result<()> {
        let mut c = self.lock();
        let c = &mut *c;
        if c.replay || (!c.in_tx && !c.unsaved.is_empty()) {
            let all: Vec<&Alert> = c.unsaved.values().collect();
            let outcome = write(&c.conn, &mut c.in_tx, &all);
            settle(c, outcome)?;
        }
        if c.in_tx {
            if let Some(retention) = self.retention {
                if c.last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                    let outcome = c
                        .conn
                        .execute(
                            "DELETE FROM alerts
                             WHERE end_ns < (SELECT MAX(end_ns) FROM alerts) - ?1",
                            [i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX)],
                        )
                        .and_then(|n| {
                            // The flows kept with the deleted alerts go with them.
                            c.conn.execute_batch(flows::FLOWS_TABLE)?;
                            c.conn.execute(
                                "DELETE FROM alert_flows
                                 WHERE alert_id NOT IN (SELECT id FROM alerts)",
                                [],
                            )?;
                            Ok(n)
                        })
                        .map_err(Error::from);
                    match outcome {
                        Ok(n) => {
                            c.purged += n as u64;
                            c.last_purge = Some(std::time::Instant::now());
                        }
                        Err(e) => return settle(c, Err(e)),
                    }
                }
            }
            let outcome = c.conn.execute_batch("COMMIT").map_err(Error::from);
            settle(c, outcome)?;
            c.in_tx = false;
            c.unsaved.clear();
        }
        Ok(())
    }

    /// Checks that the store answers a query (for `/health`); a store busy with another
    /// query of this connection answers, so the check does not wait for it.
    pub fn check(&self) -> Result<()> {
        let c = match self.inner.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        c.conn.query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM alerts LIMIT 1)",
            [],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(())
    }

    /// Returns one alert by id, with its latest verdict.
    pub fn get(&self, id: &str) -> Result<Option<Alert>> {
        let c = self.lock();
        let row = c
            .conn
            .query_row(
                &format!(
                    "SELECT a.doc, {LATEST_COLUMNS} FROM alerts a {LATEST_JOIN} WHERE a.id = ?1"
                ),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(doc, v, n, a, t): (String, _, _, _, _)| {
            let mut alert = decode(&doc)?;
            alert.iotguard.feedback = feedback::from_row(v, n, a, t)?;
            Ok(alert)
        })
        .transpose()
    }

    /// Lists alerts matching `q`, newest first, one page at a time.
    pub fn query(&self, q: &AlertQuery) -> Result<AlertPage> {
        let limit = match q.limit {
            0 => 100,
            n => n.min(10_000),
        };
        let mut sql = format!(
            "SELECT a.end_ns, a.id, a.doc, {LATEST_COLUMNS} FROM alerts a {LATEST_JOIN} WHERE 1 = 1"
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        filter_clauses(q, &mut sql, &mut args);
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(cursor) = &q.cursor {
            let (end, id) = cursor
                .split_once(':')
                .and_then(|(e, id)| Some((e.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| Error::Config(format!("bad cursor `{cursor}`")))?;
            arg(&mut sql, " AND (end_ns < ?", end.into());
            arg(&mut sql, " OR (end_ns = ?", end.into());
            arg(&mut sql, " AND id < ?))", id.into());
        }
        sql.push_str(&format!(
            " ORDER BY end_ns DESC, id DESC LIMIT {}",
            limit + 1
        ));
        let c = self.lock();
        let mut stmt = c.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
            ))
        })?;
        let mut alerts = Vec::new();
        let mut next_cursor = None;
        let mut last = None;
        for row in rows {
            let (end, id, doc, (v, n, a, t)) = row?;
            if alerts.len() == limit {
                next_cursor = last.take();
                break;
            }
            let mut alert = decode(&doc)?;
            alert.iotguard.feedback = feedback::from_row(v, n, a, t)?;
            alerts.push(alert);
            last = Some(format!("{end}:{id}"));
        }
        Ok(AlertPage {
            alerts,
            next_cursor,
        })
    }

    /// Returns how many alerts have each severity (every severity listed, least first), for
    /// alerts whose last flow is at or after `since`.
    pub fn counts_by_severity(&self, since: Option<Timestamp>) -> Result<Vec<SeverityCount>> {
        let c = self.lock();
        let mut stmt = c.conn.prepare_cached(
            "SELECT severity, COUNT(*) FROM alerts WHERE end_ns >= ?1 GROUP BY severity",
        )?;
        let mut counts: Vec<SeverityCount> = Severity::ALL
            .iter()
            .map(|&severity| SeverityCount { severity, count: 0 })
            .collect();
        let rows = stmt.query_map([since.map_or(i64::MIN, Timestamp::as_nanos)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (sev, n) = row?;
            let sev = Severity::from_rank(sev.clamp(0, 4) as u8);
            counts[usize::from(sev.rank())].count += n as u64;
        }
        Ok(counts)
    }
}

/// The latest verdict's columns, selected beside an alert (`a`) joined with [`LATEST_JOIN`].
const LATEST_COLUMNS: &str = "f.verdict, f.note, f.analyst, f.at_ns";

/// Joins each alert `a` with its latest feedback row `f` (none: all of `f` is NULL).
const LATEST_JOIN: &str =
    "LEFT JOIN feedback f ON f.seq = (SELECT MAX(seq) FROM feedback WHERE alert_id = a.id)";

/// Writes `alerts` in the open transaction, beginning one if none is open.
fn write(conn: &Connection, in_tx: &mut bool, alerts: &[&Alert]) -> Result<()> {
    if !*in_tx {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        *in_tx = true;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO alerts (id, revision, start_ns, end_ns, severity, risk, attack_type, state,
                             source_ip, destination_ip, sensor, flows, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET
            revision = excluded.revision, start_ns = excluded.start_ns,
            end_ns = excluded.end_ns, severity = excluded.severity, risk = excluded.risk,
            attack_type = excluded.attack_type, state = excluded.state,
            source_ip = excluded.source_ip, destination_ip = excluded.destination_ip,
            sensor = excluded.sensor, flows = excluded.flows, doc = excluded.doc
         WHERE excluded.revision >= alerts.revision",
    )?;
    for a in alerts {
        let doc = serde_json::to_string(a)
            .map_err(|e| Error::Config(format!("encoding alert {}: {e}", a.id())))?;
        let ns = |s: &str| parse_time(s).map_or(0, Timestamp::as_nanos);
        stmt.execute(params![
            a.event.id,
            a.iotguard.revision,
            ns(&a.event.start),
            ns(&a.event.end),
            a.iotguard.severity.rank(),
            a.event.risk_score,
            a.iotguard.attack_type.as_str(),
            a.iotguard.state,
            a.source.ip.map(|ip| ip.to_string()),
            a.destination.ip.map(|ip| ip.to_string()),
            a.observer.name,
            a.iotguard.counts.flows as i64,
            doc,
        ])?;
    }
    Ok(())
}

/// After a write or commit: on failure, whatever SQLite left of the transaction is rolled back
/// (it may already have rolled it back itself, `SQLITE_FULL`), and the unsaved alerts are
/// marked to be written again.
fn settle(c: &mut Conn, outcome: Result<()>) -> Result<()> {
    match outcome {
        Ok(()) => {
            c.replay = false;
            Ok(())
        }
        Err(e) => {
            if !c.conn.is_autocommit() {
                let _ = c.conn.execute_batch("ROLLBACK");
            }
            c.in_tx = false;
            c.replay = !c.unsaved.is_empty();
            Err(e)
        }
    }
}

fn decode(doc: &str) -> Result<Alert> {
    serde_json::from_str(doc).map_err(|e| Error::Config(format!("stored alert is not valid: {e}")))
}

fn sink_error(e: Error) -> SinkError {
    match e {
        Error::Store(e) => SinkError::Sqlite(e),
        e @ Error::Unsaved { .. } => SinkError::Lost(e.to_string()),
        other => SinkError::Other(other.to_string()),
    }
}

impl AlertSink for AlertStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        self.upsert(alerts).map_err(sink_error)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.commit().map_err(sink_error)?;
        self.write_events().map_err(sink_error)?;
        self.write_flows().map_err(sink_error)
    }

    fn send_flows(&mut self, flows: &[crate::scored::ScoredFlow]) -> Result<(), SinkError> {
        self.take_flows(flows).map_err(sink_error)
    }

    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError> {
        self.pending_events.extend_from_slice(events);
        Ok(())
    }
}

impl Drop for AlertStore {
    fn drop(&mut self) {
        // Whatever was sent is kept even without a final flush.
        let _ = self.commit();
        let _ = self.write_events();
        let _ = self.write_flows();
    }
}

/// `Option<Timestamp>` as RFC 3339 text (or epoch seconds) in query parameters.
/// Appends to `sql` (which ends in a `WHERE`, over `alerts a` joined with the latest verdict
/// `f`) the clauses of `q`'s filters, their values to `args`: every filter but the cursor and
/// the limit.
fn filter_clauses(q: &AlertQuery, sql: &mut String, args: &mut Vec<rusqlite::types::Value>) {
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(t) = q.since {
        arg(sql, " AND end_ns >= ?", t.as_nanos().into());
    }
    if let Some(t) = q.until {
        arg(sql, " AND end_ns < ?", t.as_nanos().into());
    }
    if let Some(s) = q.min_severity {
        arg(sql, " AND severity >= ?", i64::from(s.rank()).into());
    }
    if let Some(s) = q.severity {
        arg(sql, " AND severity = ?", i64::from(s.rank()).into());
    }
    if let Some(h) = q.host {
        let h = h.to_string();
        arg(sql, " AND (source_ip = ?", h.clone().into());
        arg(sql, " OR destination_ip = ?)", h.into());
    }
    if let Some(t) = &q.attack_type {
        arg(sql, " AND a.attack_type = ?", t.clone().into());
    }
    match q.status {
        Some(TriageStatus::Open) => sql.push_str(" AND f.seq IS NULL"),
        Some(TriageStatus::Acknowledged) => sql.push_str(" AND f.seq IS NOT NULL"),
        None => {}
    }
}

mod opt_time {
    use iotguard_flow::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::time::rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            crate::time::parse_time(&t).ok_or_else(|| {
                serde::de::Error::custom(format!("`{t}` is not an RFC 3339 time or epoch seconds"))
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` distinct incidents (the golden alerts under new ids).
    fn alerts(n: usize, revision: u32) -> Vec<Alert> {
        let golden: Vec<Alert> = serde_json::Deserializer::from_str(include_str!(
            "../../../testdata/golden/alerts/sim_seed2_first2000.json"
        ))
        .into_iter()
        .collect::<std::result::Result<_, _>>()
        .unwrap();
        (0..n)
            .map(|i| {
                let mut a = golden[i % golden.len()].clone();
                a.event.id = format!("inc-{i:06}");
                a.iotguard.revision = revision;
                a
            })
            .collect()
    }

    fn stored(path: &Path) -> (u64, Vec<u32>) {
        let reader = AlertStore::open(path).unwrap();
        let page = reader
            .query(&AlertQuery {
                limit: 10_000,
                ..AlertQuery::default()
            })
            .unwrap();
        let mut revisions: Vec<u32> = page.alerts.iter().map(|a| a.iotguard.revision).collect();
        revisions.sort_unstable();
        revisions.dedup();
        (page.alerts.len() as u64, revisions)
    }

    fn set_max_pages(store: &AlertStore, pages: i64) {
        let c = store.lock();
        let _: i64 = c
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })
            .unwrap();
    }

    fn page_count(store: &AlertStore) -> i64 {
        let c = store.lock();
        c.conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap()
    }

    /// A full database (`SQLITE_FULL`, simulated with `max_page_count`) fails the writes and the
    /// commit; once space returns, the next commit writes every alert of the lost transaction
    /// again, and later transactions work.
    #[test]
    fn a_full_database_recovers_and_keeps_every_alert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let mut store = AlertStore::open(&path).unwrap();
        store.send(&alerts(10, 1)).unwrap();
        store.flush().unwrap();
        assert_eq!(stored(&path), (10, vec![1]));
        // Room for a few more pages only: 400 documents of ~2 KB do not fit.
        set_max_pages(&store, page_count(&store) + 4);
        let batch = alerts(400, 2);
        let mut failures = 0;
        for chunk in batch.chunks(50) {
            if let Err(e) = store.send(chunk) {
                assert!(e.to_string().contains("full"), "{e}");
                failures += 1;
            }
        }
        if store.flush().is_err() {
            failures += 1;
        }
        assert!(failures > 0, "the database never filled up");
        assert_eq!(store.unsaved(), 400);
        // Still full: the commit fails again, nothing is lost.
        assert!(store.flush().is_err());
        assert_eq!(stored(&path), (10, vec![1]));
        // Space returns: one flush writes all 400 again and commits.
        set_max_pages(&store, 1 << 30);
        store.flush().unwrap();
        assert_eq!(store.unsaved(), 0);
        assert_eq!(stored(&path), (400, vec![2]));
        // Later transactions work as before.
        store.send(&alerts(401, 3)).unwrap();
        store.flush().unwrap();
        assert_eq!(stored(&path), (401, vec![3]));
    }

    /// With a retention of one day, a commit deletes the alerts whose last flow is more than a
    /// day before the newest one's, and keeps the rest.
    #[test]
    fn retention_deletes_alerts_older_than_the_newest_minus_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let mut store = AlertStore::open(&path)
            .unwrap()
            .with_retention(Some(std::time::Duration::from_secs(86_400)));
        let mut batch = alerts(3, 1);
        batch[0].event.end = "2024-01-01T00:00:00Z".to_string();
        batch[1].event.end = "2024-01-02T00:00:00Z".to_string();
        batch[2].event.end = "2024-01-02T12:00:00Z".to_string();
        store.send(&batch).unwrap();
        store.flush().unwrap();
        assert_eq!(store.purged(), 1);
        let reader = AlertStore::open(&path).unwrap();
        assert_eq!(reader.get("inc-000000").unwrap(), None);
        assert!(reader.get("inc-000001").unwrap().is_some());
        assert!(reader.get("inc-000002").unwrap().is_some());
    }

    /// The flows kept with an alert are deleted with it by the retention.
    #[test]
    fn retention_deletes_the_flows_kept_with_the_deleted_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let mut store = AlertStore::open(&path)
            .unwrap()
            .with_retention(Some(std::time::Duration::from_secs(86_400)));
        let mut batch = alerts(2, 1);
        batch[0].event.end = "2024-01-01T00:00:00Z".to_string();
        batch[1].event.end = "2024-01-02T00:00:00Z".to_string();
        store.send(&batch).unwrap();
        let flows: Vec<crate::scored::ScoredFlow> = ["inc-000000", "inc-000001"]
            .iter()
            .map(|id| {
                let mut f =
                    crate::scored::ScoredFlow::new(&iotguard_flow::FlowRecord::default(), 0.9, 0.5);
                f.incident_id = Some((*id).to_string());
                f
            })
            .collect();
        store.send_flows(&flows).unwrap();
        store.flush().unwrap();
        assert_eq!(store.purged(), 0);
        let kept = |id: &str| {
            AlertStore::open(&path)
                .unwrap()
                .alert_flows(id)
                .unwrap()
                .map(|f| f.flows.len())
        };
        assert_eq!((kept("inc-000000"), kept("inc-000001")), (Some(1), Some(1)));
        // A day and a half later (a restarted detector: the retention runs at its first
        // commit): the first alert goes, and its flow with it.
        drop(store);
        let mut store = AlertStore::open(&path)
            .unwrap()
            .with_retention(Some(std::time::Duration::from_secs(86_400)));
        let mut late = alerts(3, 1);
        late[2].event.end = "2024-01-02T12:00:00Z".to_string();
        store.send(&late[2..]).unwrap();
        store.flush().unwrap();
        assert_eq!(store.purged(), 1);
        assert_eq!(kept("inc-000000").unwrap_or(0), 0);
        assert_eq!(kept("inc-000001"), Some(1));
    }

    /// Past `max_unsaved` incidents the store refuses more, with an error the pipeline treats as
    /// fatal; what it already held is still written once space returns.
    #[test]
    fn unsaved_alerts_are_bounded_and_refusal_is_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let mut store = AlertStore::open(&path).unwrap().with_max_unsaved(100);
        store.send(&alerts(1, 1)).unwrap();
        store.flush().unwrap();
        set_max_pages(&store, page_count(&store));
        let batch = alerts(150, 1);
        assert!(store.send(&batch[..100]).is_err());
        assert_eq!(store.unsaved(), 100);
        let err = store.send(&batch[100..]).unwrap_err();
        assert!(err.is_fatal(), "{err}");
        assert_eq!(
            err.to_string(),
            "alerts lost: alert store: 100 incidents wait for a commit that keeps failing; \
             50 more alerts refused (the disk is probably full)"
        );
        set_max_pages(&store, 1 << 30);
        store.flush().unwrap();
        assert_eq!(stored(&path), (100, vec![1]));
    }
}
