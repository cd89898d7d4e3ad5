//! [`run_pipeline`]: the loop from a source through the detector to the sinks, the statistics
//! and the live feed.
//!
//! Flows are processed one at a time, in order: by default their features are extracted here
//! and the active model scores them on a second thread, in chunks, ahead of their incidents
//! (`stage.rs`; the same results as scoring each here, which
//! [`PipelineConfig::score_thread`] `= false` does); every flow staged is finished before alerts
//! go out at a flush, before the source commits and at the end. Every `batch` flows (and whenever the source is idle)
//! the detector's incidents are expired by event time and the due alert documents are sent to
//! every sink and published to the feed; every `flush_every` (and at the end) every sink is
//! flushed and, when all succeeded, the source commits its position. Rejected lines are
//! counted, given to the caller to report, and kept verbatim in the rejects file (appended, so
//! a restart from a checkpoint keeps the lines of the runs before; written out and synced
//! before every commit of the source, so a kill -9 after a commit cannot lose a rejected line
//! the resumed run will not read again); they never stop the stream. A sink failure is counted and reported; the source's position is not
//! committed until every sink flushes again. A sink that kept neither delivered nor set aside
//! what it was given ([`SinkError::is_fatal`]) stops the run: the other sinks are flushed, the
//! source is not committed, and `run_pipeline` returns the error (an alert is delivered, kept
//! in a dead-letter file or retry buffer with a count, or the run fails loudly). The shutdown flag is checked between events; the
//! final flush happens whatever stopped the loop.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iotguard_flow::{ParseError, Timestamp};

use crate::alert::Alert;
use crate::detector::Detector;
use crate::drift::EventDocument;
use crate::error::{Error, Result};
use crate::feed::LiveFeed;
use crate::sink::{AlertSink, SinkError};
use crate::source::{Source, SourceEvent};
use crate::source_health::SourceState;
use crate::stage::{Finished, Stager};
use crate::stats::{new_histogram, record, Stage, Stats};

/// How the pipeline batches and flushes.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineConfig {
    /// Flows between two sends of due alerts. Default 1024.
    pub batch: usize,
    /// Time between two flushes of every sink (and source commits). Default 1 s.
    pub flush_every: Duration,
    /// Where rejected lines are kept verbatim, one per line.
    pub rejects: Option<PathBuf>,
    /// Whether open incidents are closed (final documents sent) when the source ends.
    /// Default true.
    pub close_at_end: bool,
    /// For live sources: seconds of event time per second of wall clock while the source is
    /// idle (1.0 for a followed log or Kafka), so incidents expire when traffic stops. `None`
    /// (the default, for replays): event time moves only with flows.
    pub idle_event_rate: Option<f64>,
    /// Whether the active model scores flows on a second thread (`stage.rs`): the same
    /// scores, alerts and incidents, about twice the throughput on two cores. Default true;
    /// false keeps everything on the pipeline's thread. Not while a baseline is learned.
    pub score_thread: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch: 1024,
            flush_every: Duration::from_secs(1),
            rejects: None,
            close_at_end: true,
            idle_event_rate: None,
            score_thread: true,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PipelineReport {
    /// Flows scored.
    pub flows: u64,
    /// Flows at or over the threshold.
    pub alert_flows: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Alert documents sent (every revision).
    pub alerts_sent: u64,
    /// Distinct incidents among them.
    pub incidents: u64,
    /// Sink failures (dead-lettered batches included).
    pub sink_errors: u64,
    /// Alert documents sinks could not deliver and kept in their dead-letter files.
    pub dead_lettered: u64,
    /// Drift events sent (ECS `event.kind: "event"` documents, see `Detector::with_monitor`).
    pub drift_events: u64,
    /// Flows written to the flow archive (in finished files), if one was given.
    pub archived: u64,
    /// Flows the archive could not write (each failure reported as a notice).
    pub archive_failed: u64,
    /// Whether the shutdown flag stopped the run (rather than the source ending).
    pub interrupted: bool,
    /// Seconds the run took.
    pub elapsed_secs: f64,
}

/// Something the caller may want to tell the operator.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A rejected line.
    Rejected(&'a ParseError),
    /// A sink failed.
    SinkFailed(&'a str, &'a SinkError),
    /// The source said something (an input skipped, a log rotated).
    Source(&'a str),
    /// The flow archive failed to write (said once per run of failures, every flow counted).
    ArchiveFailed(&'a iotguard_archive::Error),
}

/// Where the pipeline's optional parts go.
pub struct PipelineParts<'a> {
    /// The statistics to update.
    pub stats: &'a Stats,
    /// The live feed, if a dashboard listens.
    pub feed: Option<&'a mut LiveFeed>,
    /// Set to stop (SIGTERM, Ctrl-C); checked between events.
    pub shutdown: &'a AtomicBool,
    /// The flow archive every scored flow is written to, if any. Its failures are counted,
    /// reported and shown by `/health`; they never stop detection. Its open file is finished
    /// when the run ends.
    pub archive: Option<&'a mut iotguard_archive::BackgroundArchive>,
    /// Told about rejected lines, sink failures and source notices.
    pub on_notice: &'a mut dyn FnMut(Notice<'_>),
}

/// Runs `source` through `detector` into `sinks` until the source ends or `shutdown` is set;
/// see the module docs. Fails only when the rejects file cannot be written or the source fails.
pub fn run_pipeline(
    source: &mut dyn Source,
    detector: &mut Detector,
    sinks: &mut [Box<dyn AlertSink>],
    config: &PipelineConfig,
    parts: PipelineParts<'_>,
) -> Result<PipelineReport> {
    let started = Instant::now();
    let PipelineParts {
        stats,
        mut feed,
        shutdown,
        mut archive,
        on_notice,
    } = parts;
    let mut rejects = match &config.rejects {
        Some(path) => Some((
            BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::io(path.display(), e))?,
            ),
            path.display().to_string(),
        )),
        None => None,
    };
    let mut run = Run {
        report: PipelineReport::default(),
        alerts: Vec::new(),
        events: Vec::new(),
        received: Vec::with_capacity(config.batch),
        detect: new_histogram(),
        end_to_end: new_histogram(),
        incidents: 0,
        sinks_healthy: true,
        scored_reported: detector.counts(),
        fatal: None,
        last_failure: None,
        alert_flows: Vec::new(),
        in_batch: 0,
        archive_failing: false,
    };
    // The scoring thread, started once the detector may stage flows (not while it learns).
    let mut stager: Option<Stager> = None;
    // Where finished flows go (a macro: the parts are borrowed again between two uses).
    macro_rules! to {
        () => {
            Flows {
                sinks: &mut *sinks,
                stats,
                feed: feed.as_deref_mut(),
                archive: archive.as_deref_mut(),
                on_notice: &mut *on_notice,
                batch: config.batch,
            }
        };
    }
    let mut last_flush = Instant::now();
    let mut last_flow_at: Option<Instant> = None;
    // The source's state as last told to `stats` (told only when it changes).
    let mut told = SourceState::Starting;
    let mut tell = |state: SourceState| {
        if told != state {
            told = state;
            stats.set_source_state(state);
        }
    };
    loop {
        if run.fatal.is_some() {
            tell(SourceState::Stopped);
            break;
        }
        if shutdown.load(Ordering::Relaxed) {
            run.report.interrupted = true;
            tell(SourceState::Stopped);
            break;
        }
        let event = match source.next_event() {
            Ok(event) => event,
            Err(e) => {
                stats.set_source_failed(&e.to_string());
                return Err(e);
            }
        };
        tell(match event {
            SourceEvent::Idle => SourceState::Waiting,
            SourceEvent::End => SourceState::Ended,
            _ => SourceState::Reading,
        });
        match event {
            SourceEvent::Record(rec) => {
                let t0 = Instant::now();
                last_flow_at = Some(t0);
                let staged = if config.score_thread && detector.can_stage() && detector.dim() > 0 {
                    if stager.is_none() {
                        stager = Some(Stager::new(detector.dim())?);
                    }
                    stager.as_mut()
                } else {
                    None
                };
                let mut to = to!();
                let mut take = |d: &mut Detector, f: Finished| run.take_flow(f, d, &mut to);
                match staged {
                    Some(st) => {
                        if let Err(e) = st.push(detector, rec, t0, &mut take) {
                            run.fatal.get_or_insert(e);
                        }
                    }
                    None => {
                        let scored = detector.process(&rec);
                        let f = Finished {
                            rec,
                            received: t0,
                            scored,
                        };
                        take(detector, f);
                    }
                }
            }
            SourceEvent::Rejected(e) => {
                run.report.rejected += 1;
                stats.add_rejected(1);
                on_notice(Notice::Rejected(&e));
                if let Some((w, name)) = rejects.as_mut() {
                    w.write_all(&e.raw)
                        .and_then(|()| w.write_all(b"\n"))
                        .map_err(|err| Error::io(&*name, err))?;
                }
            }
            SourceEvent::Notice(text) => {
                if text.starts_with("cannot read") {
                    stats.add_source_error(&text);
                }
                on_notice(Notice::Source(&text));
            }
            SourceEvent::Idle => {
                if let Err(e) = finish_staged(&mut stager, detector, &mut run, &mut to!()) {
                    run.fatal.get_or_insert(e);
                    continue;
                }
                // A live source gone quiet: event time moves on with the wall clock, so
                // finished incidents close (and their last documents go out) without waiting
                // for the next flow.
                if let (Some(rate), Some(latest), Some(at)) =
                    (config.idle_event_rate, detector.latest(), last_flow_at)
                {
                    let secs = at.elapsed().as_secs_f64() * rate;
                    detector.expire(Timestamp(
                        latest.as_nanos().saturating_add((secs * 1e9) as i64),
                    ));
                }
                run.send(detector, sinks, stats, feed.as_deref_mut(), on_notice);
            }
            SourceEvent::End => break,
        }
        if last_flush.elapsed() >= config.flush_every {
            // Every flow read so far is finished before its alerts go out and the source's
            // position past it is committed.
            if let Err(e) = finish_staged(&mut stager, detector, &mut run, &mut to!()) {
                run.fatal.get_or_insert(e);
                continue;
            }
            // For a replay the wall clock only sends what is due: closing incidents at
            // wall-clock points inside a stream made a replay's incidents differ from run to
            // run (late flows, written when they end, joined or missed an incident closed just
            // before). A live source's incidents close with the wall clock too.
            if config.idle_event_rate.is_some() {
                expire_at_latest(detector);
            }
            run.send(detector, sinks, stats, feed.as_deref_mut(), on_notice);
            if let Some(archive) = archive.as_deref_mut() {
                let result = archive.roll_if_due();
                archive_result(result, archive, stats, &mut run.archive_failing, on_notice);
            }
            if run.flush(sinks, stats, on_notice) {
                sync_rejects(&mut rejects)?;
                source.commit()?;
            }
            last_flush = Instant::now();
        }
    }
    // The flows staged when the source ended or the run was stopped are finished and counted
    // (not after a fatal error: the source is not committed, a resumed run reads them again).
    if run.fatal.is_none() {
        if let Err(e) = finish_staged(&mut stager, detector, &mut run, &mut to!()) {
            run.fatal = Some(e);
        }
    }
    if let Some(st) = stager.take() {
        // A scoring thread that died is an error even if no flow waited for it.
        if let Err(e) = st.close() {
            run.fatal.get_or_insert(e);
        }
    }
    if config.close_at_end && !run.report.interrupted && run.fatal.is_none() {
        detector.close_all();
    }
    expire_at_latest(detector);
    run.send(detector, sinks, stats, feed, on_notice);
    if let Some(archive) = archive {
        let result = archive.finish().map(|_| ());
        archive_result(result, archive, stats, &mut run.archive_failing, on_notice);
        let counts = archive.counts();
        run.report.archived = counts.flows_archived;
        run.report.archive_failed = counts.flows_failed;
    }
    sync_rejects(&mut rejects)?;
    if run.close(sinks, stats, on_notice) && run.fatal.is_none() {
        source.commit()?;
    }
    if let Some(e) = run.fatal {
        return Err(e);
    }
    run.report.incidents = run.incidents;
    run.report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(run.report)
}

/// What a finished flow goes to.
struct Flows<'a, 'n> {
    sinks: &'a mut [Box<dyn AlertSink>],
    stats: &'a Stats,
    feed: Option<&'a mut LiveFeed>,
    archive: Option<&'a mut iotguard_archive::BackgroundArchive>,
    on_notice: &'a mut (dyn FnMut(Notice<'_>) + 'n),
    batch: usize,
}

/// Finishes every staged flow (if a scoring thread runs) and takes them.
fn finish_staged(
    stager: &mut Option<Stager>,
    detector: &mut Detector,
    run: &mut Run,
    to: &mut Flows<'_, '_>,
) -> Result<()> {
    match stager.as_mut() {
        Some(st) if !st.is_empty() => st.drain(detector, &mut |d: &mut Detector, f: Finished| {
            run.take_flow(f, d, to)
        }),
        _ => Ok(()),
    }
}

/// Closes the incidents idle at the latest flow time seen.
fn expire_at_latest(detector: &mut Detector) {
    if let Some(now) = detector.latest() {
        detector.expire(now);
    }
}

/// Writes out and syncs the rejects file: a rejected line is on disk before the position past
/// it is committed.
fn sync_rejects(rejects: &mut Option<(BufWriter<File>, String)>) -> Result<()> {
    if let Some((w, name)) = rejects.as_mut() {
        w.flush()
            .and_then(|()| w.get_ref().sync_data())
            .map_err(|e| Error::io(&*name, e))?;
    }
    Ok(())
}

/// Reports an archive failure (once per run of failures; every flow is counted) and publishes
/// the archive's counters and its failure, which `/health` shows until a file is finished again.
/// A success publishes nothing (the flush tick does), so the per-flow path takes no lock.
fn archive_result(
    result: std::result::Result<(), iotguard_archive::Error>,
    archive: &iotguard_archive::BackgroundArchive,
    stats: &Stats,
    failing: &mut bool,
    on_notice: &mut dyn FnMut(Notice<'_>),
) {
    if let Err(e) = &result {
        if !*failing {
            on_notice(Notice::ArchiveFailed(e));
        }
        *failing = true;
    }
    publish_archive(archive, stats, failing);
}

/// Publishes the archive's counters and current failure to `stats`.
fn publish_archive(
    archive: &iotguard_archive::BackgroundArchive,
    stats: &Stats,
    failing: &mut bool,
) {
    let counts = archive.counts();
    let failure = archive.failure();
    *failing = failure.is_some();
    stats.set_archive(&counts, failure);
}

/// The loop's state between batches.
struct Run {
    report: PipelineReport,
    alerts: Vec<Alert>,
    events: Vec<EventDocument>,
    received: Vec<Instant>,
    detect: hdrhistogram::Histogram<u64>,
    end_to_end: hdrhistogram::Histogram<u64>,
    /// Distinct incidents: documents of revision 1 (each incident's first), counted rather
    /// than remembering every id (which grew without bound in long runs).
    incidents: u64,
    sinks_healthy: bool,
    scored_reported: (u64, u64),
    /// A sink lost alerts: the run stops with this error.
    fatal: Option<Error>,
    /// The latest sink failure, as `/health` shows it.
    last_failure: Option<String>,
    /// The alerting flows since the last send, for the sinks that keep them with their alert.
    alert_flows: Vec<crate::scored::ScoredFlow>,
    /// Flows since the last send of due alerts.
    in_batch: usize,
    /// Whether the archive is failing (its failure was reported).
    archive_failing: bool,
}

impl Run {
    /// Takes a finished flow, in flow order: archive, statistics, feed, alerting flows for the
    /// sinks, and every `batch` flows the due alerts.
    fn take_flow(&mut self, flow: Finished, detector: &mut Detector, to: &mut Flows<'_, '_>) {
        let Finished {
            rec,
            received: t0,
            scored,
        } = flow;
        if let Some(archive) = to.archive.as_deref_mut() {
            let info = &detector.model().info;
            let row = iotguard_archive::ArchiveRow {
                score: scored.score,
                threshold: scored.threshold,
                is_alert: scored.is_alert,
                alert_id: scored.incident_id.as_deref(),
                model_id: &info.id,
                model_version: &info.version,
                shadow_score: scored.shadow_score,
            };
            if let Err(e) = archive.append(&rec, &row) {
                archive_result(
                    Err(e),
                    archive,
                    to.stats,
                    &mut self.archive_failing,
                    to.on_notice,
                );
            }
        }
        record(&mut self.detect, t0.elapsed().as_nanos() as u64);
        self.received.push(t0);
        self.report.flows += 1;
        if scored.is_alert {
            self.report.alert_flows += 1;
        }
        if let Some(feed) = to.feed.as_deref_mut() {
            if feed.offer_flow(&scored) {
                to.stats.add_feed_sent(1);
            }
        }
        if scored.is_alert && scored.incident_id.is_some() {
            self.alert_flows.push(scored);
        }
        self.in_batch += 1;
        if self.in_batch >= to.batch {
            // Incidents close at points fixed by the input (every `batch` flows), so a
            // replay gives the same incidents whatever the wall clock does.
            expire_at_latest(detector);
            self.send(
                detector,
                to.sinks,
                to.stats,
                to.feed.as_deref_mut(),
                to.on_notice,
            );
            self.in_batch = 0;
        }
    }

    /// Sends due alerts to every sink and the feed, updates statistics (the callers close idle
    /// incidents first, at points the input fixes).
    fn send(
        &mut self,
        detector: &mut Detector,
        sinks: &mut [Box<dyn AlertSink>],
        stats: &Stats,
        feed: Option<&mut LiveFeed>,
        on_notice: &mut dyn FnMut(Notice<'_>),
    ) {
        if !self.alert_flows.is_empty() {
            for sink in sinks.iter_mut() {
                if let Err(e) = sink.send_flows(&self.alert_flows) {
                    self.sink_failed(sink.name(), &e, stats, on_notice);
                }
            }
            self.alert_flows.clear();
        }
        self.alerts.clear();
        detector.drain_alerts(&mut self.alerts);
        if !self.alerts.is_empty() {
            let t0 = Instant::now();
            for sink in sinks.iter_mut() {
                if let Err(e) = sink.send(&self.alerts) {
                    self.sink_failed(sink.name(), &e, stats, on_notice);
                }
            }
            stats.record(Stage::Send, t0.elapsed().as_nanos() as u64);
            stats.add_alerts_out(self.alerts.len() as u64);
            self.report.alerts_sent += self.alerts.len() as u64;
            self.incidents += self
                .alerts
                .iter()
                .filter(|a| a.iotguard.revision == 1)
                .count() as u64;
            if let Some(feed) = feed {
                let published = self.alerts.iter().filter(|a| feed.publish_alert(a)).count();
                stats.add_feed_sent(published as u64);
            }
        }
        self.events.clear();
        detector.drain_events(&mut self.events);
        if !self.events.is_empty() {
            for sink in sinks.iter_mut() {
                if let Err(e) = sink.send_events(&self.events) {
                    self.sink_failed(sink.name(), &e, stats, on_notice);
                }
            }
            self.report.drift_events += self.events.len() as u64;
        }
        let done = Instant::now();
        stats.add_parsed(self.received.len() as u64);
        for t in self.received.drain(..) {
            record(
                &mut self.end_to_end,
                done.duration_since(t).as_nanos() as u64,
            );
        }
        stats.merge(Stage::Detect, &self.detect);
        stats.merge(Stage::EndToEnd, &self.end_to_end);
        self.detect.reset();
        self.end_to_end.reset();
        let (scored, alert_flows) = detector.counts();
        stats.add_scored(
            scored - self.scored_reported.0,
            alert_flows - self.scored_reported.1,
        );
        self.scored_reported = (scored, alert_flows);
        let (orig, resp) = detector.host_counts();
        let lag = detector
            .latest()
            .map(|t| crate::time::now().as_nanos().saturating_sub(t.as_nanos()));
        stats.set_gauges(detector.open_incidents(), orig + resp, lag);
    }

    /// Flushes every sink; returns whether all succeeded.
    fn flush(
        &mut self,
        sinks: &mut [Box<dyn AlertSink>],
        stats: &Stats,
        on_notice: &mut dyn FnMut(Notice<'_>),
    ) -> bool {
        self.flush_with(sinks, stats, on_notice, |sink| sink.flush())
    }

    /// The run's last flush: every sink closes, so what sinks that deliver in the background
    /// set aside at the end is counted in the report too.
    fn close(
        &mut self,
        sinks: &mut [Box<dyn AlertSink>],
        stats: &Stats,
        on_notice: &mut dyn FnMut(Notice<'_>),
    ) -> bool {
        self.flush_with(sinks, stats, on_notice, |sink| sink.close())
    }

    fn flush_with(
        &mut self,
        sinks: &mut [Box<dyn AlertSink>],
        stats: &Stats,
        on_notice: &mut dyn FnMut(Notice<'_>),
        flush: impl Fn(&mut dyn AlertSink) -> Result<(), SinkError>,
    ) -> bool {
        let t0 = Instant::now();
        let mut ok = self.sinks_healthy;
        for sink in sinks.iter_mut() {
            if let Err(e) = flush(sink.as_mut()) {
                self.sink_failed(sink.name(), &e, stats, on_notice);
                ok &= e.is_set_aside();
            }
        }
        stats.record(Stage::Flush, t0.elapsed().as_nanos() as u64);
        // A failure before this flush means some alerts never reached a sink: the position
        // stays where it was until the next fully successful round.
        self.sinks_healthy = true;
        stats.set_sink_failure(if ok { None } else { self.last_failure.clone() });
        ok
    }

    fn sink_failed(
        &mut self,
        name: &str,
        e: &SinkError,
        stats: &Stats,
        on_notice: &mut dyn FnMut(Notice<'_>),
    ) {
        self.report.sink_errors += 1;
        self.last_failure = Some(format!("sink {name}: {e}"));
        if let SinkError::DeadLettered { alerts, .. } = e {
            self.report.dead_lettered += alerts;
        } else {
            self.sinks_healthy = false;
        }
        stats.add_sink_error();
        on_notice(Notice::SinkFailed(name, e));
        if e.is_fatal() && self.fatal.is_none() {
            self.fatal = Some(Error::Sink {
                sink: name.to_string(),
                source: SinkError::Lost(match e {
                    SinkError::Lost(why) => why.clone(),
                    other => other.to_string(),
                }),
            });
        }
    }
}
