//! A deterministic simulator of an IoT network's flows, benign and malicious, labeled like
//! IoT-23.
//!
//! [`Simulator`] builds a home network from a [`SimConfig`]: cameras, smart plugs,
//! thermostats, voice assistants and hubs behind a gateway, some of them infected by a
//! Mirai-like botnet. It yields [`FlowRecord`]s as Zeek's `conn.log` would show them (uids,
//! conn states, histories, packet and IP byte counts), in non-decreasing `ts` order, each
//! labeled `Benign` or `Malicious` with an IoT-23 detailed label (`PartOfAHorizontalPortScan`,
//! `Okiru`, `C&C`, `C&C-HeartBeat`, `DDoS`, `Attack`, `FileDownload`, `C&C-FileDownload`).
//! Infected devices keep their benign habits, and those flows stay `Benign`.
//!
//! It is a tool for tests, demos, scale tests and benchmarks. Its flows are plausible, not
//! real: evaluate models on real captures, never on simulated flows alone.
//!
//! # Determinism and chunks
//!
//! Simulated time is cut into chunks of equal length ([`Simulator::chunk_duration`], chosen
//! from the config so a chunk holds about 16k flows). Each chunk is computed from the config
//! and its index alone, so chunks can be built on any number of threads and concatenated:
//! the output depends on the config only, never on the thread count or the platform.
//! [`Simulator::flows`] is the endless stream of all chunks in order (a chunk's events are
//! scheduled up front, a few bytes each, and its records built one by one);
//! [`Simulator::par_chunks`] builds the same chunks on worker threads.
//!
//! # Labels
//!
//! Benign flows are `Benign` with no detailed label. Malicious flows are `Malicious` with one
//! of IoT-23's detailed labels: `PartOfAHorizontalPortScan` (Mirai's telnet scans),
//! `Okiru` (Okiru's scans of 37215), `C&C-HeartBeat` (regular beacons), `C&C` (command
//! sessions, and connection attempts while the server is down), `DDoS` (SYN, ACK, UDP and
//! HTTP floods), `Attack` (SSH/telnet brute force, and data exfiltration: IoT-23 has no class
//! of its own for exfiltration and files such attacks under `Attack`, so every label stays in
//! its vocabulary), `FileDownload` (the malware binary, at infection) and
//! `C&C-FileDownload` (updates from the C&C server).
//!
//! At the default settings (20 devices, 2 of them infected) about 60% of the flows are
//! benign, 20% scans, 12% floods (in bursts of a few thousand flows), 2.5% C&C and 3%
//! `Attack`; downloads are rare (a handful a day). Any 200k flows (two to three simulated
//! days) stay within these ranges, whatever the seed: benign 50-75%, scans 10-32%, `DDoS`
//! 3-25%, `C&C` and `C&C-HeartBeat` 1-7%, `Attack` 0-6%, downloads under 0.1%. Attack shares
//! grow with [`AttackConfig::infected_fraction`] and [`AttackConfig::intensity`];
//! [`AttackConfig::mix`] turns kinds up, down or off.
//!
//! # Example
//!
//! ```
//! use std::num::NonZeroUsize;
//! use iotguard_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::new(SimConfig::default().with_seed(7))?;
//! let flows: Vec<_> = sim.flows().take(2_000).collect();
//! assert!(flows.windows(2).all(|w| w[0].ts <= w[1].ts));
//! assert!(flows.iter().all(|f| f.label.is_some() && f.uid.is_some()));
//!
//! // The same flows, built by four threads.
//! let threads = NonZeroUsize::new(4).unwrap();
//! let parallel: Vec<_> = sim.par_chunks(0, threads).flatten().take(2_000).collect();
//! assert_eq!(flows, parallel);
//! # Ok::<(), iotguard_sim::Error>(())
//! ```

mod attacks;
mod benign;
mod config;
mod flow;
mod network;
mod parallel;
mod rng;
mod scenario;
mod uid;

use std::fmt;
use std::sync::Arc;

use iotguard_flow::{FlowRecord, Interval, Timestamp};

pub use config::{AttackConfig, AttackMix, DeviceCounts, Error, SimConfig};
pub use network::{BotFamily, Device, DeviceKind, Infection};
pub use parallel::ParChunks;
pub use scenario::{DriftScenario, ScenarioFlows, NEWCOMER_NETWORK};

use crate::flow::{Builder, Event, Kind, Sink, Window};
use crate::network::{Network, SEC};
use crate::rng::{stream, Rand};

/// The simulation ends after this many microseconds (100 years, which keeps every timestamp
/// within i64 nanoseconds for any valid start): chunks past it are empty.
const MAX_SIM_US: i64 = 100 * 365 * 86_400 * SEC;

/// A simulated IoT network that produces labeled flows. Cheap to clone (the network is
/// shared).
#[derive(Clone)]
pub struct Simulator {
    net: Arc<Network>,
}

impl Simulator {
    /// Validates the config and draws the network (devices, addresses, habits, infections).
    pub fn new(config: SimConfig) -> Result<Simulator, Error> {
        Ok(Simulator {
            net: Arc::new(Network::build(config)?),
        })
    }

    /// Returns the config the simulator was built from.
    pub fn config(&self) -> &SimConfig {
        &self.net.config
    }

    /// Returns the devices, with their addresses and infections (the ground truth).
    pub fn devices(&self) -> &[Device] {
        &self.net.devices
    }

    /// Returns the length of simulated time each chunk covers.
    pub fn chunk_duration(&self) -> Interval {
        Interval(self.net.chunk_us * 1000)
    }

    /// Returns the number of chunks before the simulation ends (100 simulated years).
    pub fn chunk_count(&self) -> u64 {
        (MAX_SIM_US / self.net.chunk_us) as u64
    }

    /// Returns the time at which chunk `index` starts; its flows have `ts` in
    /// `[chunk_start(index), chunk_start(index + 1))`. Indexes past
    /// [`Simulator::chunk_count`] give the end of the simulation.
    pub fn chunk_start(&self, index: u64) -> Timestamp {
        let index = index.min(self.chunk_count()) as i64;
        Timestamp(self.net.start_ns + index * self.net.chunk_us * 1000)
    }

    /// Returns the index of the chunk whose span holds `ts` (0 before the start, the last
    /// chunk after the end): `flows_from(chunk_at(ts))` starts the stream near `ts`.
    pub fn chunk_at(&self, ts: Timestamp) -> u64 {
        let since = ts.0.saturating_sub(self.net.start_ns).max(0) / 1000;
        ((since / self.net.chunk_us) as u64).min(self.chunk_count() - 1)
    }

    /// Returns the flows of chunk `index`, in `ts` order. Chunks past
    /// [`Simulator::chunk_count`] are empty.
    pub fn chunk(&self, index: u64) -> Chunk {
        let mut events = Vec::new();
        fill(&self.net, index, &mut events);
        Chunk {
            builder: Builder::new(&self.net, Rand::new(self.net.seed, stream::BUILD, index)),
            net: Arc::clone(&self.net),
            index,
            events,
            pos: 0,
        }
    }

    /// Returns every flow, chunk after chunk, from the start: an endless stream (it ends
    /// after 100 simulated years) that never holds more than one chunk's schedule in memory.
    pub fn flows(&self) -> Flows {
        self.flows_from(0)
    }

    /// Returns every flow from chunk `first` on.
    pub fn flows_from(&self, first: u64) -> Flows {
        Flows {
            chunk: self.chunk(first),
            end: self.chunk_count(),
        }
    }

    /// Builds chunks `first, first + 1, ...` on `threads` worker threads and yields them in
    /// order: the flattened output equals [`Simulator::flows_from`]`(first)`.
    ///
    /// Each worker keeps at most one finished chunk waiting, so memory stays bounded when
    /// the consumer is slower. Dropping the iterator stops the workers.
    ///
    /// # Panics
    ///
    /// Panics if the operating system cannot start a thread.
    pub fn par_chunks(&self, first: u64, threads: std::num::NonZeroUsize) -> ParChunks {
        ParChunks::new(self.clone(), first, threads)
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("seed", &self.net.seed)
            .field("devices", &self.net.devices.len())
            .field("bots", &self.net.bots.len())
            .field("chunk_duration", &self.chunk_duration())
            .finish_non_exhaustive()
    }
}

impl IntoIterator for &Simulator {
    type Item = FlowRecord;
    type IntoIter = Flows;

    fn into_iter(self) -> Flows {
        self.flows()
    }
}

/// Returns the span of chunk `index` in microseconds after the start.
fn window(net: &Network, index: u64) -> Window {
    let start = (index as i64).saturating_mul(net.chunk_us);
    Window {
        start,
        end: start.saturating_add(net.chunk_us),
    }
}

/// Schedules the events of chunk `index` into `events`, sorted by time.
///
/// An event belongs to the chunk its time falls in, but bursts and late periodic events can
/// start in one chunk's schedule and land in the next (by well under a chunk), so the
/// previous chunk's schedule is replayed too, keeping only what spills over.
fn fill(net: &Network, index: u64, events: &mut Vec<Event>) {
    events.clear();
    let keep = window(net, index);
    if index >= (MAX_SIM_US / net.chunk_us) as u64 {
        return;
    }
    for origin in [index.checked_sub(1), Some(index)].into_iter().flatten() {
        let w = window(net, origin);
        let mut sink = Sink {
            keep,
            bounds: Window {
                start: w.start,
                end: w.end.saturating_add(net.chunk_us),
            },
            out: events,
        };
        let mut rng = Rand::new(net.seed, stream::SCHEDULE, origin);
        benign::schedule(net, w, &mut rng, &mut sink);
        attacks::schedule(net, w, &mut rng, &mut sink);
    }
    // Each process emits its events in time order, so this stable sort merges runs; being
    // stable, it breaks ties by schedule order, which is itself deterministic.
    events.sort_by_key(|e| e.t);
}

/// Builds one record from its event.
fn build(net: &Network, ev: &Event, b: &mut Builder) -> FlowRecord {
    if ev.kind as u8 >= Kind::Scan as u8 {
        attacks::build(net, ev, b)
    } else {
        benign::build(net, ev, b)
    }
}

/// The flows of one chunk, in `ts` order; its length is known up front.
pub struct Chunk {
    net: Arc<Network>,
    index: u64,
    events: Vec<Event>,
    pos: usize,
    builder: Builder,
}

impl Chunk {
    /// Returns the chunk's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Moves on to chunk `index`, reusing the schedule's memory.
    fn reset(&mut self, index: u64) {
        fill(&self.net, index, &mut self.events);
        self.index = index;
        self.pos = 0;
        self.builder = Builder::new(&self.net, Rand::new(self.net.seed, stream::BUILD, index));
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("index", &self.index)
            .field("len", &self.events.len())
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Iterator for Chunk {
    type Item = FlowRecord;

    #[inline]
    fn next(&mut self) -> Option<FlowRecord> {
        let ev = *self.events.get(self.pos)?;
        self.pos += 1;
        Some(build(&self.net, &ev, &mut self.builder))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.events.len() - self.pos;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Chunk {}

/// Every flow, chunk after chunk (see [`Simulator::flows`]).
#[derive(Debug)]
pub struct Flows {
    chunk: Chunk,
    end: u64,
}

impl Flows {
    /// Returns the index of the chunk being read.
    pub fn chunk_index(&self) -> u64 {
        self.chunk.index
    }
}

impl Iterator for Flows {
    type Item = FlowRecord;

    #[inline]
    fn next(&mut self) -> Option<FlowRecord> {
        loop {
            if let Some(r) = self.chunk.next() {
                return Some(r);
            }
            if self.chunk.index + 1 >= self.end {
                return None;
            }
            self.chunk.reset(self.chunk.index + 1);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.chunk.len(), None)
    }
}
