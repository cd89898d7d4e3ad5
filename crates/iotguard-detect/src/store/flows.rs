//! The flows behind each alert, kept with it in the store so the dashboard's drill-down shows
//! them under `serve` too: a table of their own, `alert_flows`, created when the first alerting
//! flow comes (stores written before it are unchanged and readable by older builds).
//!
//! Bounded per incident: its first [`KEPT_FLOWS`] flows and its last [`KEPT_FLOWS`] (a ring
//! of slots, so a 14,000-flow flood keeps 40 rows). Flows wait in memory until the store's next
//! flush, then are written in a transaction of their own after the alerts' commit; a failed
//! write keeps them for the next flush.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::AlertStore;
use crate::error::{Error, Result};
use crate::scored::ScoredFlow;

/// Flows kept at each end of an incident: its first this many and its last this many.
pub const KEPT_FLOWS: u64 = 20;

/// Incidents whose flow count is remembered between flushes; past it the counts are read
/// again from the table.
const MAX_COUNTED: usize = 100_000;

pub(super) const FLOWS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS alert_flows (
    alert_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    n INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (alert_id, slot)
);
";

/// The slot of an incident's `n`-th flow (from 0): the first ones keep theirs, the later ones
/// take turns in the last [`KEPT_FLOWS`] slots.
pub(crate) fn slot(n: u64) -> u64 {
    if n < KEPT_FLOWS {
        n
    } else {
        KEPT_FLOWS + (n - KEPT_FLOWS) % KEPT_FLOWS
    }
}

/// An incident's kept flows and how many it had.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AlertFlows {
    /// The kept flows (as the live feed shows them), in the incident's order.
    pub flows: Vec<serde_json::Value>,
    /// How many alerting flows of the incident the store was given.
    pub total: u64,
    /// Flows kept at each end.
    pub kept_each_end: u64,
}

/// The alerting flows of one incident taken since the last write: only those that can still
/// be in the table after it (the first [`KEPT_FLOWS`] taken, serialised, and the latest
/// [`KEPT_FLOWS`], kept as a ring), since a flow whose slot a later flow of the same write
/// takes would be replaced in the same transaction anyway.
#[derive(Debug, Default)]
pub(super) struct IncidentFlows {
    /// Flows taken since the last write.
    taken: u64,
    /// The documents of the first [`KEPT_FLOWS`] taken.
    first: Vec<String>,
    /// Flow `k` (from 0) of those taken, `k >= KEPT_FLOWS`, at `k % KEPT_FLOWS`.
    ring: Vec<ScoredFlow>,
}

/// Alerting flows waiting for the store's next flush, by incident, in the order incidents
/// first came.
#[derive(Debug, Default)]
pub(super) struct PendingFlows {
    incidents: Vec<(String, IncidentFlows)>,
    index: HashMap<String, usize>,
}

impl PendingFlows {
    fn is_empty(&self) -> bool {
        self.incidents.is_empty()
    }

    fn clear(&mut self) {
        self.incidents.clear();
        self.index.clear();
    }

    /// Takes one alerting flow of incident `id`.
    fn take(&mut self, id: &str, flow: &ScoredFlow) -> Result<()> {
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => {
                self.index.insert(id.to_string(), self.incidents.len());
                self.incidents
                    .push((id.to_string(), IncidentFlows::default()));
                self.incidents.len() - 1
            }
        };
        let inc = &mut self.incidents[i].1;
        let k = inc.taken;
        inc.taken += 1;
        if k < KEPT_FLOWS {
            inc.first.push(encode(flow)?);
        } else {
            let at = (k % KEPT_FLOWS) as usize;
            if at < inc.ring.len() {
                inc.ring[at].clone_from(flow);
            } else {
                inc.ring.push(flow.clone());
            }
        }
        Ok(())
    }
}

impl IncidentFlows {
    /// The flows this write keeps when the incident had `base` flows stored before: each as
    /// its number `n` in the incident and its document. A flow is kept when it is among the
    /// incident's first [`KEPT_FLOWS`] or no later flow of this write takes its slot.
    fn kept(&self, base: u64) -> Result<Vec<(u64, String)>> {
        let mut out = Vec::new();
        for k in 0..self.taken {
            let n = base + k;
            if n >= KEPT_FLOWS && k + KEPT_FLOWS < self.taken {
                continue;
            }
            let doc = if k < KEPT_FLOWS {
                self.first[k as usize].clone()
            } else {
                encode(&self.ring[(k % KEPT_FLOWS) as usize])?
            };
            out.push((n, doc));
        }
        Ok(out)
    }
}

fn encode(flow: &ScoredFlow) -> Result<String> {
    serde_json::to_string(flow).map_err(|e| Error::Config(e.to_string()))
}

impl AlertStore {
    /// Takes the alerting flows of a batch (those with an incident), to be written at the next
    /// flush.
    pub(super) fn take_flows(&mut self, flows: &[ScoredFlow]) -> Result<()> {
        for f in flows {
            if let Some(id) = &f.incident_id {
                self.pending_flows.take(id, f)?;
            }
        }
        Ok(())
    }

    /// Writes the flows waiting since the last flush: for each incident the ones its slots
    /// keep, which leaves the table as writing every flow in turn would.
    pub(super) fn write_flows(&mut self) -> Result<()> {
        if self.pending_flows.is_empty() {
            return Ok(());
        }
        if self.flow_counts.len() > MAX_COUNTED {
            self.flow_counts.clear();
        }
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let tx = c.conn.transaction()?;
        tx.execute_batch(FLOWS_TABLE)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO alert_flows (alert_id, slot, n, doc) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut count = tx.prepare_cached(
                "SELECT COALESCE(MAX(n) + 1, 0) FROM alert_flows WHERE alert_id = ?1",
            )?;
            for (id, inc) in &self.pending_flows.incidents {
                let base = match self.flow_counts.get(id) {
                    Some(n) => *n,
                    None => count.query_row([id], |r| r.get::<_, i64>(0))? as u64,
                };
                for (n, doc) in inc.kept(base)? {
                    insert.execute(params![id, slot(n) as i64, n as i64, doc])?;
                }
                counts.insert(id.clone(), base + inc.taken);
            }
        }
        tx.commit()?;
        drop(c);
        self.flow_counts.extend(counts);
        self.pending_flows.clear();
        Ok(())
    }

    /// Returns the kept flows of alert `id`, in order; `None` when no flow of it was stored.
    pub fn alert_flows(&self, id: &str) -> Result<Option<AlertFlows>> {
        let c = self.lock();
        let exists: bool = c.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_flows')",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(None);
        }
        let total: Option<i64> = c
            .conn
            .query_row(
                "SELECT MAX(n) + 1 FROM alert_flows WHERE alert_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(total) = total else {
            return Ok(None);
        };
        let mut stmt = c
            .conn
            .prepare("SELECT doc FROM alert_flows WHERE alert_id = ?1 ORDER BY n")?;
        let flows = stmt
            .query_map([id], |r| r.get::<_, String>(0))?
            .map(|doc| {
                let doc = doc?;
                serde_json::from_str(&doc).map_err(|e| Error::Config(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(AlertFlows {
            flows,
            total: total as u64,
            kept_each_end: KEPT_FLOWS,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_and_last_flows_keep_their_slots() {
        assert_eq!(slot(0), 0);
        assert_eq!(slot(19), 19);
        assert_eq!(slot(20), 20);
        assert_eq!(slot(39), 39);
        assert_eq!(slot(40), 20);
        assert_eq!(slot(14_393), 20 + (14_393 - 20) % 20);
    }

    /// Writing only the flows whose slots survive a flush leaves the same table as writing
    /// every flow in turn: one store flushed after each flow, another after batches of uneven
    /// sizes, three incidents interleaved.
    #[test]
    fn flushing_in_batches_keeps_the_same_flows_as_flushing_each() {
        use crate::sink::AlertSink;
        use iotguard_flow::{FlowRecord, Timestamp};
        let dir = tempfile::tempdir().unwrap();
        let flow = |i: u64| {
            let rec = FlowRecord {
                ts: Timestamp(1_704_067_200_000_000_000 + i as i64 * 1_000_000),
                uid: Some(format!("C{i}").into()),
                ..FlowRecord::default()
            };
            let mut f = ScoredFlow::new(&rec, 0.9, 0.5);
            // inc-0 gets most flows, inc-2 few.
            f.incident_id = Some(format!("inc-{}", [0, 0, 0, 1, 0, 1, 2][(i % 7) as usize]));
            f
        };
        let flows: Vec<ScoredFlow> = (0..700).map(flow).collect();
        let mut each = AlertStore::open(&dir.path().join("each.db")).unwrap();
        for f in &flows {
            each.send_flows(std::slice::from_ref(f)).unwrap();
            each.flush().unwrap();
        }
        let mut batched = AlertStore::open(&dir.path().join("batched.db")).unwrap();
        let mut at = 0;
        for (i, size) in [1, 5, 19, 20, 21, 40, 41, 3, 150, 400]
            .into_iter()
            .enumerate()
        {
            let end = (at + size).min(flows.len());
            // Two sends before some flushes, as the pipeline sends every batch.
            let mid = (at + end) / 2;
            batched.send_flows(&flows[at..mid]).unwrap();
            batched.send_flows(&flows[mid..end]).unwrap();
            if i % 3 != 1 {
                batched.flush().unwrap();
            }
            at = end;
        }
        batched.flush().unwrap();
        assert_eq!(at, flows.len());
        let table = |s: &AlertStore| -> Vec<(String, i64, i64, String)> {
            let c = s.lock();
            let mut stmt = c
                .conn
                .prepare("SELECT alert_id, slot, n, doc FROM alert_flows ORDER BY alert_id, slot")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap()
        };
        let want = table(&each);
        assert_eq!(want.len(), 3 * 40);
        assert_eq!(table(&batched), want);
        for id in ["inc-0", "inc-1", "inc-2"] {
            assert_eq!(
                batched.alert_flows(id).unwrap(),
                each.alert_flows(id).unwrap()
            );
        }
    }

    #[test]
    fn a_store_keeps_the_first_and_last_flows_of_each_incident_across_flushes() {
        use crate::sink::AlertSink;
        use iotguard_flow::{FlowRecord, Timestamp};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let flow = |incident: &str, i: u64| {
            let rec = FlowRecord {
                ts: Timestamp(1_704_067_200_000_000_000 + i as i64 * 1_000_000_000),
                uid: Some(format!("C{i}").into()),
                ..FlowRecord::default()
            };
            let mut f = ScoredFlow::new(&rec, 0.9, 0.5);
            f.incident_id = Some(incident.to_string());
            f
        };
        let mut store = AlertStore::open(&path).unwrap();
        // No flow stored yet: no table, nothing to show.
        assert_eq!(store.alert_flows("inc-a").unwrap(), None);
        // 50 flows of inc-a over three flushes (the count carries across), 3 of inc-b, one
        // flow without an incident (not kept).
        for range in [0..7, 7..31, 31..50] {
            let mut batch: Vec<ScoredFlow> = range.map(|i| flow("inc-a", i)).collect();
            batch.push(ScoredFlow::new(&FlowRecord::default(), 0.9, 0.5));
            store.send_flows(&batch).unwrap();
            store.flush().unwrap();
        }
        store
            .send_flows(&[flow("inc-b", 0), flow("inc-b", 1), flow("inc-b", 2)])
            .unwrap();
        store.flush().unwrap();
        // A second connection (the server's) reads them, in order.
        let reader = AlertStore::open(&path).unwrap();
        let a = reader.alert_flows("inc-a").unwrap().unwrap();
        assert_eq!((a.total, a.kept_each_end, a.flows.len()), (50, 20, 40));
        let uids: Vec<&str> = a.flows.iter().map(|f| f["uid"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..20).chain(30..50).map(|i| format!("C{i}")).collect();
        assert_eq!(uids, want);
        let b = reader.alert_flows("inc-b").unwrap().unwrap();
        assert_eq!((b.total, b.flows.len()), (3, 3));
        assert_eq!(b.flows[2]["ts"], "2024-01-01T00:00:02.000000Z");
        assert_eq!(reader.alert_flows("inc-none").unwrap(), None);
        // A restarted detector goes on counting from the table.
        drop(store);
        let mut store = AlertStore::open(&path).unwrap();
        store.send_flows(&[flow("inc-b", 3)]).unwrap();
        store.flush().unwrap();
        let b = reader.alert_flows("inc-b").unwrap().unwrap();
        assert_eq!((b.total, b.flows.len()), (4, 4));
    }
}
