//! `detect --auto-retrain N|drift|drift,N`: while detection runs, a thread of its own watches
//! the alert store and the drift board; once N more verdicts have been given since the last
//! retraining (counting those already there at the start), or a new drift event was raised
//! (`drift`), it runs `retrain` on the active model, the archive and the store (the lineage's
//! `trigger` says which fired). A retrained model that is better on the latest judged flows
//! then runs as a shadow beside the active model on the next `--shadow-flows` live flows
//! (scored, both scores archived, never alerting), and is hot-swapped in (between two flows, as
//! `POST /api/v1/models/activate` does: no flow is dropped) only if it would not have added more
//! than `--shadow-max-added` of those flows as alerts the active model did not raise: nobody
//! has judged those, so a model that would flood the analysts on today's traffic waits. The
//! lineage in the model file records the live trial (`shadow`) and the final decision.
//!
//! Each retrained model is written beside the current model file as `STEM.retrained-K.json`
//! (the first K not taken: an earlier run's files are kept), promoted or not, with its lineage. Only finished archive files are read, so flows in the
//! archive's open files (`--archive-roll-secs`) wait for the next retraining. A retraining that
//! fails is reported and the next one tried after N more verdicts; detection never waits for
//! one, but at the end of the run an unfinished retraining is finished before `detect`
//! returns; a shadow whose trial the end of the run cut short is not swapped in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotguard_detect::monitor::DriftBoard;
use iotguard_detect::{ActiveModel, AlertStore, ModelHandle, ShadowCounts};

use super::retrain::{retrain_once, RetrainJob};
use crate::output;

/// What sets a retraining off: `--auto-retrain N`, `drift` or both (`drift,N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Triggers {
    /// Retrain after this many new verdicts.
    pub(crate) every: Option<u64>,
    /// Retrain on each new drift event.
    pub(crate) drift: bool,
}

/// Parses `--auto-retrain`'s value: `N`, `drift`, `drift,N` or `N,drift`.
pub(crate) fn parse_triggers(text: &str) -> Result<Triggers, String> {
    let mut t = Triggers {
        every: None,
        drift: false,
    };
    for part in text.split(',').map(str::trim) {
        if part == "drift" && !t.drift {
            t.drift = true;
        } else if let (Ok(n), None) = (part.parse::<u64>(), t.every) {
            if n == 0 {
                return Err("needs at least 1 verdict".to_string());
            }
            t.every = Some(n);
        } else {
            return Err(format!(
                "`{part}`: expected N (verdicts), `drift`, or both as `drift,N`"
            ));
        }
    }
    Ok(t)
}

/// What `--auto-retrain` needs.
pub(crate) struct Settings {
    /// What sets a retraining off.
    pub(crate) triggers: Triggers,
    /// The drift monitors' board (read for new drift events).
    pub(crate) drift: DriftBoard,
    /// The flow archive detection writes.
    pub(crate) archive: PathBuf,
    /// The alert store detection writes and analysts judge in.
    pub(crate) alerts_db: PathBuf,
    /// The model file detection started with (retrained files go beside it).
    pub(crate) model: PathBuf,
    /// How often the store is looked at.
    pub(crate) poll: Duration,
    /// Live flows a retrained model runs as a shadow before the swap (0: swap at once).
    pub(crate) shadow_flows: u64,
    /// The largest share of those flows it may flag that the active model did not.
    pub(crate) shadow_max_added: f64,
}

/// What the thread did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Retrainings run.
    pub(crate) retrained: u64,
    /// Of which promoted and swapped in.
    pub(crate) swapped: u64,
}

/// The running thread.
pub(crate) struct AutoRetrain {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Outcome>,
}

impl AutoRetrain {
    /// Starts watching.
    pub(crate) fn start(settings: Settings, handle: ModelHandle) -> anyhow::Result<AutoRetrain> {
        anyhow::ensure!(
            settings.triggers.every.is_some() || settings.triggers.drift,
            "--auto-retrain needs a trigger"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("iotguard-auto-retrain".into())
            .spawn(move || watch(&settings, &handle, &flag))?;
        Ok(AutoRetrain { stop, thread })
    }

    /// Stops watching (after the retraining under way, if any) and says what was done.
    pub(crate) fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The file the `k`th retraining writes.
fn out_path(model: &Path, k: u64) -> PathBuf {
    let stem = model
        .file_stem()
        .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned());
    model.with_file_name(format!("{stem}.retrained-{k}.json"))
}

/// The first `k` at or after `from` whose file does not exist yet (an earlier run's retrained
/// models are kept, never overwritten).
fn next_free(model: &Path, from: u64) -> u64 {
    (from..)
        .find(|k| !out_path(model, *k).exists())
        .unwrap_or(from)
}

fn watch(settings: &Settings, handle: &ModelHandle, stop: &AtomicBool) -> Outcome {
    let mut outcome = Outcome::default();
    let mut done = 0u64;
    let mut k = 0u64;
    let mut store = None;
    // Drift events raised by the monitors of the model in use when last looked at.
    let mut events_seen = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if store.is_none() {
            store = AlertStore::open(&settings.alerts_db).ok();
        }
        let given = store
            .as_ref()
            .and_then(|s| s.verdicts_given().ok())
            .unwrap_or(0);
        // A swap resets the board (new monitors): its count starts again from 0.
        let events = settings.drift.snapshot().status.map_or(0, |s| s.events);
        if events < events_seen {
            events_seen = 0;
        }
        let trigger = match settings.triggers {
            Triggers { drift: true, .. } if events > events_seen => Some(format!(
                "drift event ({} raised by the monitors of the active model)",
                events
            )),
            Triggers {
                every: Some(every), ..
            } if given >= done + every => Some(format!("{every} verdicts ({given} in the store)")),
            _ => None,
        };
        if let Some(trigger) = trigger {
            done = given;
            events_seen = events;
            outcome.retrained += 1;
            k = next_free(&settings.model, k + 1);
            if retrain_and_swap(settings, handle, k, &trigger, stop) {
                outcome.swapped += 1;
            }
            continue;
        }
        // Sleep in short steps so the end of the run is noticed at once.
        let mut slept = Duration::ZERO;
        while slept < settings.poll && !stop.load(Ordering::Relaxed) {
            let step = Duration::from_millis(50).min(settings.poll - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
    outcome
}

/// Runs the `k`th retraining on the active model and, when it is better offline, its live
/// trial as a shadow; returns whether it was swapped in.
fn retrain_and_swap(
    settings: &Settings,
    handle: &ModelHandle,
    k: u64,
    trigger: &str,
    stop: &AtomicBool,
) -> bool {
    let current = handle
        .info()
        .path
        .map_or_else(|| settings.model.clone(), PathBuf::from);
    let out = out_path(&settings.model, k);
    output::info(&format!(
        "auto-retrain {k}: retraining {} on the verdicts so far (trigger: {trigger})",
        current.display()
    ));
    let job = RetrainJob {
        model: &current,
        archive: &settings.archive,
        alerts_db: &settings.alerts_db,
        out: &out,
        train_data: &[],
        test_share: 0.3,
        seed: 1,
        presume_benign: true,
        trigger: Some(trigger),
    };
    let retrained = match retrain_once(&job) {
        Ok(r) => r,
        Err(e) => {
            output::warn(&format!(
                "auto-retrain {k}: {} (detection goes on with the current model)",
                output::causes(e.as_ref())
            ));
            return false;
        }
    };
    output::info(&format!(
        "auto-retrain {k}: {} ({})",
        retrained.lineage.reason,
        out.display()
    ));
    if !retrained.lineage.promoted {
        return false;
    }
    let loaded = match iotguard_runtime::lab::load_model(&out) {
        Ok(l) => l,
        Err(e) => {
            output::warn(&format!("auto-retrain {k}: not swapped in: {e}"));
            return false;
        }
    };
    let model = ActiveModel::new(loaded, Some(&out));
    if settings.shadow_flows == 0 {
        return swap_now(handle, model, k, &out);
    }
    // Until the trial decides, the file says it is on trial, not promoted.
    let on_trial = format!(
        "better offline; on trial as a shadow on {} live flows",
        settings.shadow_flows
    );
    if let Err(e) = record_trial(&out, &ShadowCounts::default(), false, &on_trial) {
        output::warn(&format!(
            "auto-retrain {k}: not swapped in: cannot write {}: {}",
            out.display(),
            output::causes(e.as_ref())
        ));
        return false;
    }
    if let Err(e) = handle.set_shadow(model) {
        let reason = format!("not swapped in: {e}");
        let _ = record_trial(&out, &ShadowCounts::default(), false, &reason);
        output::warn(&format!("auto-retrain {k}: {reason}"));
        return false;
    }
    output::info(&format!(
        "auto-retrain {k}: shadow: {} runs beside the active model on the next {} flows",
        out.display(),
        settings.shadow_flows
    ));
    let (counts, ended) = trial(handle, settings.shadow_flows, stop);
    let (promote, reason) = decide(&counts, ended, settings);
    // Decided before it is installed, so the file says why even if the swap is refused.
    if let Err(e) = record_trial(&out, &counts, promote, &reason) {
        output::warn(&format!(
            "auto-retrain {k}: could not record the shadow trial in {}: {}",
            out.display(),
            output::causes(e.as_ref())
        ));
    }
    if !promote {
        handle.clear_shadow();
        output::info(&format!("auto-retrain {k}: {reason}"));
        return false;
    }
    // The shadow goes, then the file as now written (its lineage says why) is swapped in: a
    // flow between the two is scored by the current model alone.
    handle.clear_shadow();
    let swapped = iotguard_runtime::lab::load_model(&out)
        .map_err(anyhow::Error::from)
        .and_then(|loaded| Ok(handle.swap(ActiveModel::new(loaded, Some(&out)))?));
    match swapped {
        Ok(_) => {
            output::info(&format!(
                "auto-retrain {k}: swapped in {} ({reason})",
                out.display()
            ));
            true
        }
        Err(e) => {
            output::warn(&format!(
                "auto-retrain {k}: not swapped in: {}",
                output::causes(e.as_ref())
            ));
            false
        }
    }
}

/// Whether a shadow that saw `counts` (`ended`: the run ended first) is swapped in, and why.
fn decide(counts: &ShadowCounts, ended: bool, settings: &Settings) -> (bool, String) {
    let added = counts.added_share();
    if ended {
        return (
            false,
            format!(
                "not swapped in: the run ended after {} of the {} shadow flows",
                counts.flows, settings.shadow_flows
            ),
        );
    }
    let what = format!(
        "as a shadow on {} live flows it would have added {} alerts the active model did not \
         raise ({:.2} % of flows, {} {:.2} % allowed)",
        counts.flows,
        counts.shadow_only,
        added * 100.0,
        if added > settings.shadow_max_added {
            "above the"
        } else {
            "at most"
        },
        settings.shadow_max_added * 100.0
    );
    if added > settings.shadow_max_added {
        (false, format!("not swapped in: {what}"))
    } else {
        (
            true,
            format!("swapped in: {what} and dropped {}", counts.active_only),
        )
    }
}

/// Swaps `model` in at once (`--shadow-flows 0`).
fn swap_now(handle: &ModelHandle, model: ActiveModel, k: u64, out: &Path) -> bool {
    match handle.swap(model) {
        Ok(_) => {
            output::info(&format!("auto-retrain {k}: swapped in {}", out.display()));
            true
        }
        Err(e) => {
            output::warn(&format!("auto-retrain {k}: not swapped in: {e}"));
            false
        }
    }
}

/// Waits until the shadow has seen `flows` live flows, or the run ends (`true`).
fn trial(handle: &ModelHandle, flows: u64, stop: &AtomicBool) -> (ShadowCounts, bool) {
    loop {
        let counts = handle.shadow_status().map(|s| s.counts).unwrap_or_default();
        if counts.flows >= flows {
            return (counts, false);
        }
        if stop.load(Ordering::Relaxed) {
            return (counts, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes the live trial and the final decision into the model file's lineage (`shadow`,
/// `promoted`, `reason`; the offline verdict stays as `offline_reason`), replacing the file
/// in one rename.
fn record_trial(
    out: &Path,
    counts: &ShadowCounts,
    promoted: bool,
    reason: &str,
) -> anyhow::Result<()> {
    let mut file = iotguard_models::persist::ModelFile::load(std::fs::File::open(out)?)?;
    if let Some(serde_json::Value::Object(lineage)) = file.lineage.as_mut() {
        if !lineage.contains_key("offline_reason") {
            if let Some(offline) = lineage.remove("reason") {
                lineage.insert("offline_reason".to_string(), offline);
            }
        }
        lineage.insert("shadow".to_string(), serde_json::to_value(counts)?);
        lineage.insert("promoted".to_string(), promoted.into());
        lineage.insert("reason".to_string(), reason.into());
    }
    let tmp = out.with_extension("json.tmp");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        file.save(&mut w)?;
        std::io::Write::flush(&mut w)?;
        w.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_verdicts_drift_or_both() {
        let t = |every, drift| Ok(Triggers { every, drift });
        assert_eq!(parse_triggers("20"), t(Some(20), false));
        assert_eq!(parse_triggers("drift"), t(None, true));
        assert_eq!(parse_triggers("drift,5"), t(Some(5), true));
        assert_eq!(parse_triggers("5, drift"), t(Some(5), true));
        assert_eq!(
            parse_triggers("0"),
            Err("needs at least 1 verdict".to_string())
        );
        assert_eq!(
            parse_triggers("drift,drift"),
            Err("`drift`: expected N (verdicts), `drift`, or both as `drift,N`".to_string())
        );
        assert_eq!(
            parse_triggers("5,6"),
            Err("`6`: expected N (verdicts), `drift`, or both as `drift,N`".to_string())
        );
    }

    #[test]
    fn a_shadow_is_swapped_in_only_after_a_whole_trial_that_adds_few_alerts() {
        let settings = Settings {
            triggers: Triggers {
                every: Some(1),
                drift: false,
            },
            drift: DriftBoard::default(),
            archive: PathBuf::new(),
            alerts_db: PathBuf::new(),
            model: PathBuf::new(),
            poll: Duration::from_secs(1),
            shadow_flows: 1000,
            shadow_max_added: 0.01,
        };
        let counts = |flows, shadow_only| ShadowCounts {
            flows,
            active_alerts: 40,
            shadow_alerts: 30 + shadow_only,
            shadow_only,
            active_only: 10,
        };
        assert_eq!(
            decide(&counts(1000, 10), false, &settings),
            (
                true,
                "swapped in: as a shadow on 1000 live flows it would have added 10 alerts the \
                 active model did not raise (1.00 % of flows, at most 1.00 % allowed) and \
                 dropped 10"
                    .to_string()
            )
        );
        assert_eq!(
            decide(&counts(1000, 11), false, &settings),
            (
                false,
                "not swapped in: as a shadow on 1000 live flows it would have added 11 alerts \
                 the active model did not raise (1.10 % of flows, above the 1.00 % allowed)"
                    .to_string()
            )
        );
        assert_eq!(
            decide(&counts(400, 0), true, &settings),
            (
                false,
                "not swapped in: the run ended after 400 of the 1000 shadow flows".to_string()
            )
        );
    }

    #[test]
    fn retrained_files_go_beside_the_model_and_are_never_overwritten() {
        assert_eq!(
            out_path(Path::new("/m/current.json"), 2),
            Path::new("/m/current.retrained-2.json")
        );
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("current.json");
        assert_eq!(next_free(&model, 1), 1);
        std::fs::write(out_path(&model, 1), "{}").unwrap();
        std::fs::write(out_path(&model, 2), "{}").unwrap();
        assert_eq!(next_free(&model, 1), 3);
        assert_eq!(next_free(&model, 4), 4);
    }
}
