//! Event documents (drift events) in the alert store: a table of their own, `events`, created
//! when the first event comes (so stores written before it are unchanged and readable by older
//! builds). Events wait in memory until the store's next flush, then are written in a
//! transaction of their own after the alerts' commit; a failed write keeps them for the next
//! flush (and the flush fails, so the source is not committed past them).

use rusqlite::params;

use super::AlertStore;
use crate::drift::EventDocument;
use crate::error::{Error, Result};

const EVENTS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time_ns DESC, id DESC);
";

impl AlertStore {
    /// Writes the events waiting since the last flush (upserted by id).
    pub(super) fn write_events(&mut self) -> Result<()> {
        if self.pending_events.is_empty() {
            return Ok(());
        }
        let mut c = self.lock();
        let tx = c.conn.transaction()?;
        tx.execute_batch(EVENTS_TABLE)?;
        for e in &self.pending_events {
            let time_ns = crate::time::parse_time(&e.timestamp).map_or(0, |t| t.as_nanos());
            tx.execute(
                "INSERT OR REPLACE INTO events (id, time_ns, dataset, doc) VALUES (?1, ?2, ?3, ?4)",
                params![e.id(), time_ns, e.event.dataset, encode(e)?],
            )?;
        }
        tx.commit()?;
        drop(c);
        self.pending_events.clear();
        Ok(())
    }

    /// Returns the most recent `limit` events (newest first); none when no event was stored.
    pub fn events(&self, limit: usize) -> Result<Vec<EventDocument>> {
        let c = self.lock();
        let exists: bool = c.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut stmt = c
            .conn
            .prepare("SELECT doc FROM events ORDER BY time_ns DESC, id DESC LIMIT ?1")?;
        let docs = stmt
            .query_map(params![limit as i64], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        docs.iter()
            .map(|d| {
                serde_json::from_str(d)
                    .map_err(|e| Error::Config(format!("stored event is not valid: {e}")))
            })
            .collect()
    }
}

fn encode(e: &EventDocument) -> Result<String> {
    serde_json::to_string(e).map_err(|err| Error::Config(format!("encoding an event: {err}")))
}
