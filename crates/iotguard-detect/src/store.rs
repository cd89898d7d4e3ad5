//! [`AlertStore`]: the embedded SQLite alert store, the default sink.
//!
//! One row per incident (upserted by `event.id`, a newer revision replacing an older one), with
//! the columns queries filter on and the whole ECS document as JSON. WAL mode lets the server
//! read through its own connection ([`AlertStore::open`] again, or [`AlertStore::reader`])
//! while the detector writes. As a sink, `send` writes inside an open transaction and `flush`
//! commits it with `synchronous = FULL`, so a flushed alert survives a crash or power loss.
//!
//! Schema version 1 (`PRAGMA user_version`); a store with another version is refused.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use iotguard_flow::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::error::{Error, Result};
use crate::risk::Severity;
use crate::sink::{AlertSink, SinkError};
use crate::time::parse_time;

const SCHEMA_VERSION: i64 = 1;

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
}

/// The SQLite alert store; `Send + Sync` (one connection behind a mutex). See the module docs.
pub struct AlertStore {
    path: PathBuf,
    name: String,
    inner: Mutex<Conn>,
}

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
                conn.execute_batch(SCHEMA)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
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
            inner: Mutex::new(Conn { conn, in_tx: false }),
        })
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
    /// transaction that stays open until [`AlertStore::commit`].
    pub fn upsert(&self, alerts: &[Alert]) -> Result<()> {
        let mut c = self.lock();
        if !c.in_tx {
            c.conn.execute_batch("BEGIN IMMEDIATE")?;
            c.in_tx = true;
        }
        let mut stmt = c.conn.prepare_cached(
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

    /// Commits the open transaction, if any (durable on return).
    pub fn commit(&self) -> Result<()> {
        let mut c = self.lock();
        if c.in_tx {
            c.conn.execute_batch("COMMIT")?;
            c.in_tx = false;
        }
        Ok(())
    }

    /// Returns one alert by id.
    pub fn get(&self, id: &str) -> Result<Option<Alert>> {
        let c = self.lock();
        let doc: Option<String> = c
            .conn
            .query_row("SELECT doc FROM alerts WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        doc.map(|d| decode(&d)).transpose()
    }

    /// Lists alerts matching `q`, newest first, one page at a time.
    pub fn query(&self, q: &AlertQuery) -> Result<AlertPage> {
        let limit = match q.limit {
            0 => 100,
            n => n.min(10_000),
        };
        let mut sql = String::from("SELECT end_ns, id, doc FROM alerts WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(t) = q.since {
            arg(&mut sql, " AND end_ns >= ?", t.as_nanos().into());
        }
        if let Some(t) = q.until {
            arg(&mut sql, " AND end_ns < ?", t.as_nanos().into());
        }
        if let Some(s) = q.min_severity {
            arg(&mut sql, " AND severity >= ?", i64::from(s.rank()).into());
        }
        if let Some(s) = q.severity {
            arg(&mut sql, " AND severity = ?", i64::from(s.rank()).into());
        }
        if let Some(h) = q.host {
            let h = h.to_string();
            arg(&mut sql, " AND (source_ip = ?", h.clone().into());
            arg(&mut sql, " OR destination_ip = ?)", h.into());
        }
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
            ))
        })?;
        let mut alerts = Vec::new();
        let mut next_cursor = None;
        let mut last = None;
        for row in rows {
            let (end, id, doc) = row?;
            if alerts.len() == limit {
                next_cursor = last.take();
                break;
            }
            alerts.push(decode(&doc)?);
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

fn decode(doc: &str) -> Result<Alert> {
    serde_json::from_str(doc).map_err(|e| Error::Config(format!("stored alert is not valid: {e}")))
}

fn sink_error(e: Error) -> SinkError {
    match e {
        Error::Store(e) => SinkError::Sqlite(e),
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
        self.commit().map_err(sink_error)
    }
}

impl Drop for AlertStore {
    fn drop(&mut self) {
        // Whatever was sent is kept even without a final flush.
        let _ = self.commit();
    }
}

/// `Option<Timestamp>` as RFC 3339 text (or epoch seconds) in query parameters.
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
