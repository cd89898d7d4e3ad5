//! The monitor through its public API: exact PSI on hand-computed windows, statuses and since
//! when, events only when something newly drifted, the Page-Hinkley tests on a step of the
//! alert rate.

use std::sync::Arc;

use iotguard_models::reference::{FeatureProfile, Histogram, ReferenceProfile};
use iotguard_monitor::{Change, Monitor, MonitorConfig, Status, PSI_FLOOR};

/// Two features: `x` uniform on 1..=100 (deciles 10, 20, ..., 90), `y` half 0, half 1 with a
/// fifth missing; scores uniform on 1..=100 too, threshold 91 (10 % alerts).
fn reference() -> ReferenceProfile {
    let x: Vec<f32> = (1..=100).map(|v| v as f32).collect();
    let y: Vec<f32> = (0..100)
        .map(|i| match i % 5 {
            0 => f32::NAN,
            1 | 2 => 0.0,
            _ => 1.0,
        })
        .collect();
    let hx = Histogram::from_values(&x);
    ReferenceProfile {
        version: 1,
        rows: 100,
        benign_rows: 100,
        features: vec![
            FeatureProfile {
                name: "x".into(),
                histogram: hx.clone(),
            },
            FeatureProfile {
                name: "y".into(),
                histogram: Histogram::from_values(&y),
            },
        ],
        score: hx,
        score_mean: 50.5,
        score_std: 28.866,
        threshold: 91.0,
        expected_alert_rate: 0.1,
    }
}

/// A monitor judging each window on its own (`persist` 1).
fn monitor(window: u64) -> Monitor {
    let config = MonitorConfig {
        window,
        persist: 1,
        feature_every: 1,
        ..MonitorConfig::default()
    };
    Monitor::new(Arc::new(reference()), config)
}

/// Feeds one window of 100 flows, none alerting: `x` and the score from `xs`, `y` in its
/// reference mix.
fn window(
    m: &mut Monitor,
    xs: impl Fn(usize) -> f32,
    end: i64,
) -> Option<iotguard_monitor::DriftEvent> {
    for i in 0..100 {
        let y = match i % 5 {
            0 => f32::NAN,
            1 | 2 => 0.0,
            _ => 1.0,
        };
        let x = xs(i);
        let full = m.observe(&[x, y], x, false);
        assert_eq!(full, i == 99);
    }
    m.close_window(end)
}

#[test]
fn the_reference_itself_is_stable_and_gives_no_event() {
    let r = reference();
    assert_eq!(r.features[1].histogram.cuts, vec![0.0]);
    assert_eq!(r.features[1].histogram.shares, vec![0.4, 0.4]);
    assert_eq!(r.features[1].histogram.missing, 0.2);
    let mut m = monitor(100);
    assert_eq!(window(&mut m, |i| (i + 1) as f32, 1), None);
    let s = m.status();
    assert_eq!(s.windows, 1);
    assert_eq!(s.flows, 100);
    assert_eq!(s.features[0].psi, Some(0.0));
    assert_eq!(s.features[1].psi, Some(0.0));
    assert_eq!(s.features[1].missing, 0.2);
    assert_eq!(s.features[0].status, Status::Ok);
    assert_eq!(s.score.state.psi, Some(0.0));
    assert_eq!(s.score.mean, 50.5);
    assert_eq!(s.alert_rate.observed, Some(0.0));
    assert!(!s.drift_detected);
}

#[test]
fn a_hand_computed_shift_drifts_x_and_the_score_but_not_y() {
    let mut m = monitor(100);
    assert_eq!(window(&mut m, |i| (i + 1) as f32, 1_000), None);
    // Half the flows at 5 (bin 0), half at 95 (bin 9): two cells at 0.5 against 0.1, eight
    // empty ones (the floor) against 0.1, the missing cell empty in both.
    let e = window(&mut m, |i| if i % 2 == 0 { 5.0 } else { 95.0 }, 2_000).expect("an event");
    let want = 2.0 * (0.5 - 0.1) * (5f64).ln() + 8.0 * (PSI_FLOOR - 0.1) * (PSI_FLOOR / 0.1).ln();
    assert!((want - 6.808_228_348_909_805).abs() < 1e-9, "{want}");
    assert_eq!(e.window, 1);
    assert_eq!((e.first_flow, e.last_flow), (100, 200));
    assert_eq!(e.end_time_ns, 2_000);
    assert_eq!(e.features.len(), 1, "y did not move: {:?}", e.features);
    let x = &e.features[0];
    assert_eq!(x.name, "x");
    assert!((x.psi - want).abs() < 1e-12, "{}", x.psi);
    assert_eq!(x.status, Status::Drift);
    assert!(x.new);
    let score = e.score.as_ref().expect("the score moved");
    assert!((score.psi - want).abs() < 1e-12);
    assert_eq!(e.alert_rate, 0.0);
    assert_eq!(e.expected_alert_rate, 0.1);
    assert_eq!(e.mean_score, 50.0);
    let s = m.status();
    assert_eq!(s.features[0].since_flow, 100);
    assert_eq!(s.features[0].since_time_ns, Some(2_000));
    assert_eq!(s.features[1].status, Status::Ok);
    assert_eq!(s.features[1].since_time_ns, None);
    assert!(s.drift_detected);
    assert_eq!(s.events, 1);
    // Still drifting: no new event, the same since.
    let again = window(&mut m, |i| if i % 2 == 0 { 5.0 } else { 95.0 }, 3_000);
    assert_eq!(again, None);
    assert_eq!(m.status().features[0].since_flow, 100);
    assert!(m.status().drift_detected);
    // Back to normal: ok again, since the window that began at flow 300.
    assert_eq!(window(&mut m, |i| (i + 1) as f32, 4_000), None);
    assert_eq!(m.status().features[0].status, Status::Ok);
    assert_eq!(m.status().features[0].since_flow, 300);
    assert!(!m.status().drift_detected);
}

#[test]
fn missing_values_move_the_psi_through_their_own_cell() {
    let mut m = monitor(100);
    // Every x missing: the missing cell holds 1 against 0 (floored), each bin 0 against 0.1.
    let e = window(&mut m, |_| f32::NAN, 1).expect("an event");
    let x = &e.features[0];
    assert_eq!(x.missing, 1.0);
    assert_eq!(x.reference_missing, 0.0);
    let want = 10.0 * (PSI_FLOOR - 0.1) * (PSI_FLOOR / 0.1).ln()
        + (1.0 - PSI_FLOOR) * (1.0 / PSI_FLOOR).ln();
    assert!((x.psi - want).abs() < 1e-12, "{} {want}", x.psi);
}

#[test]
fn a_drift_needs_persist_windows_in_a_row_and_dates_from_the_first() {
    let config = MonitorConfig {
        window: 100,
        feature_every: 1,
        ..MonitorConfig::default()
    };
    assert_eq!(config.persist, 3);
    let mut m = Monitor::new(Arc::new(reference()), config);
    let shifted = |i: usize| if i % 2 == 0 { 5.0 } else { 95.0 };
    // One shifted window (a burst), then normal: `warn`, never `drift`, no event.
    assert_eq!(window(&mut m, shifted, 1), None);
    assert_eq!(m.status().features[0].status, Status::Warn);
    assert_eq!(m.status().features[0].drift_windows, 1);
    assert_eq!(window(&mut m, |i| (i + 1) as f32, 2), None);
    assert_eq!(m.status().features[0].status, Status::Ok);
    // Three in a row: `drift` at the third, since the first of them (flows 200 on, time 3).
    assert_eq!(window(&mut m, shifted, 3), None);
    assert_eq!(window(&mut m, shifted, 4), None);
    let e = window(&mut m, shifted, 5).expect("drift at the third window");
    assert_eq!(e.window, 4);
    assert_eq!(e.features[0].name, "x");
    assert!(e.features[0].new);
    let x = &m.status().features[0];
    assert_eq!(
        (x.status, x.since_flow, x.since_time_ns),
        (Status::Drift, 200, Some(3))
    );
    // A quieter window at the warn level does not end it (hysteresis): one flow in six
    // moved to the top bin.
    let quieter = |i: usize| if i % 6 == 0 { 95.0 } else { (i + 1) as f32 };
    assert_eq!(window(&mut m, quieter, 6), None);
    let x = &m.status().features[0];
    assert_eq!(x.status, Status::Drift);
    assert!(
        x.psi.unwrap() >= 0.1 && x.psi.unwrap() < 0.25,
        "{:?}",
        x.psi
    );
    assert_eq!(x.since_flow, 200);
    // Under the warn level it ends.
    assert_eq!(window(&mut m, |i| (i + 1) as f32, 7), None);
    assert_eq!(m.status().features[0].status, Status::Ok);
}

#[test]
fn alerting_flows_stay_out_of_the_histograms_and_page_hinkley_watches_the_alert_rate() {
    // Only the alert flag changes, from 10 % to 60 % of flows; the flows under the threshold
    // keep the reference's mix (x and y drawn from the same lists), so no PSI moves.
    let config = MonitorConfig {
        window: 100,
        rate_events: true,
        feature_every: 1,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(Arc::new(reference()), config);
    let mut fired = None;
    for w in 0..10u64 {
        let alerts = if w < 5 { 10 } else { 60 };
        for i in 0..100 {
            let alert = i < alerts;
            let x = ((i % 10) * 10 + 5) as f32;
            let y = [f32::NAN, 0.0, 0.0, 1.0, 1.0][i % 5];
            m.observe(&[x, y], x, alert);
        }
        if let Some(e) = m.close_window(w as i64) {
            fired = Some((w, e.alert_rate_change, e.features.len()));
            break;
        }
    }
    // Standardised by sqrt(0.1 * 0.9) = 0.3: 0.333 before, 2 after. At window 5 the running
    // mean is 0.611 and up = 2 - 0.611 - 0.05 = 1.34 > 1: detected in the first window after.
    assert_eq!(fired, Some((5, Some(Change::Increase), 0)));
    let s = m.status();
    assert_eq!(s.alert_rate.state, "increase");
    assert_eq!(s.alert_rate.last_change_window, Some(5));
    assert_eq!(s.alert_rate.observed, Some(0.6));
    assert!(!s.drift_detected, "a rate change alone is not drift");
    // Without `rate_events` the same change raises no event but is on the status.
    let mut quiet = Monitor::new(
        Arc::new(reference()),
        MonitorConfig {
            window: 100,
            feature_every: 1,
            ..MonitorConfig::default()
        },
    );
    for w in 0..6u64 {
        for i in 0..100 {
            let x = ((i % 10) * 10 + 5) as f32;
            let y = [f32::NAN, 0.0, 0.0, 1.0, 1.0][i % 5];
            quiet.observe(&[x, y], x, i < if w < 5 { 10 } else { 60 });
        }
        assert_eq!(quiet.close_window(w as i64), None);
    }
    assert_eq!(quiet.status().alert_rate.changes, 1);
}

#[test]
fn bad_configs_are_named() {
    let c = MonitorConfig {
        window: 10,
        warn_psi: 0.3,
        ..MonitorConfig::default()
    };
    let err = c.validate().unwrap_err();
    assert!(err.contains("window 10 is under 100"), "{err}");
    assert!(err.contains("warn (0.3) <= drift (0.25)"), "{err}");
    MonitorConfig::default().validate().unwrap();
}

#[test]
fn feature_sampling_counts_one_flow_in_n() {
    let sampled = MonitorConfig {
        window: 200,
        feature_every: 2,
        persist: 1,
        ..MonitorConfig::default()
    };
    let mut a = Monitor::new(Arc::new(reference()), sampled);
    let mut b = monitor(100);
    // Flow i has x = i + 1 (1..=200 over the window); every other one is counted by `a`.
    for i in 0..200usize {
        let x = (i % 100 + 1) as f32;
        let y = [f32::NAN, 0.0, 0.0, 1.0, 1.0][(i / 2) % 5];
        a.observe(&[x, y], x, false);
        if i % 2 == 0 {
            b.observe(&[x, y], x, false);
        }
    }
    a.close_window(1);
    b.close_window(1);
    for (fa, fb) in a.status().features.iter().zip(&b.status().features) {
        assert_eq!(fa.psi, fb.psi, "{}", fa.name);
        assert_eq!(fa.missing, fb.missing, "{}", fa.name);
    }
    // The odd values 1, 3, ..., 99 twice: 10 % in each decile bin, as in the reference.
    assert_eq!(a.status().features[0].psi, Some(0.0));
    assert_eq!(a.status().features[1].missing, 0.2);
}

#[test]
fn a_profile_with_more_cut_points_than_the_fast_path_holds_still_counts_right() {
    // 19 cut points (a hand-made profile): the binary search path; 20 equal bins.
    let cuts: Vec<f32> = (1..20).map(|c| c as f32 * 5.0).collect();
    let values: Vec<f32> = (0..100).map(|v| v as f32 + 0.5).collect();
    let h = Histogram::with_cuts(cuts, &values);
    assert_eq!(h.shares, vec![0.05; 20]);
    let mut r = reference();
    r.features[0].histogram = h;
    let mut m = Monitor::new(
        Arc::new(r),
        MonitorConfig {
            window: 100,
            persist: 1,
            feature_every: 1,
            ..MonitorConfig::default()
        },
    );
    for i in 0..100 {
        let y = [f32::NAN, 0.0, 0.0, 1.0, 1.0][i % 5];
        m.observe(&[i as f32 + 0.5, y], 1.0, false);
    }
    m.close_window(1);
    assert_eq!(m.status().features[0].psi, Some(0.0));
}
