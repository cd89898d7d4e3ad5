//! Metric tests against hand-computed values (scikit-learn's documented examples among them).

use super::*;
use proptest::prelude::*;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn sklearn_doc_example() {
    // scikit-learn's docs: roc_auc_score = 0.75, average_precision_score = 0.8333...
    let y = [false, false, true, true];
    let s = [0.1, 0.4, 0.35, 0.8];
    assert!(close(roc_auc(&s, &y), 0.75));
    assert!(close(average_precision(&s, &y), 5.0 / 6.0));
}

#[test]
fn matches_sklearn_on_tied_scores() {
    // Computed with scikit-learn 1.9.1 (roc_auc_score, average_precision_score,
    // matthews_corrcoef, balanced_accuracy_score, f1_score at score >= 0.5) on these 30 rows.
    let s = [
        0.75, 0.0, 0.125, 0.125, 0.125, 0.75, 0.75, 0.5, 0.0, 0.0, 0.25, 0.375, 0.5, 0.375, 0.25,
        0.125, 0.625, 0.625, 0.0, 0.0, 0.375, 0.375, 0.875, 0.5, 0.375, 0.375, 0.625, 0.5, 0.125,
        0.625,
    ];
    let y = [
        false, true, false, false, true, true, false, true, true, false, false, false, false, true,
        false, true, true, false, false, true, false, true, false, false, true, false, false,
        false, false, false,
    ];
    let m = BinaryMetrics::compute(&s, &y, 0.5);
    let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
    assert!(near(m.roc_auc, 0.37559808612440193), "{:?}", m.roc_auc);
    assert!(near(m.pr_auc, 0.31727272727272726), "{:?}", m.pr_auc);
    assert!(near(m.mcc, -0.19767387315371676), "{:?}", m.mcc);
    assert!(near(m.balanced_accuracy, 0.39952153110047844));
    assert!(near(m.f1, 0.2608695652173913));
}

#[test]
fn ties_are_averaged() {
    // Pairs (pos, neg): (0.9, 0.9) = 1/2, (0.9, 0.1) = 1, (0.5, 0.9) = 0, (0.5, 0.1) = 1.
    let y = [true, false, true, false];
    let s = [0.9, 0.9, 0.5, 0.1];
    assert!(close(roc_auc(&s, &y), 2.5 / 4.0));
    // Thresholds 0.9 (R 1/2, P 1/2) then 0.5 (R 1, P 2/3): 1/4 + 1/3.
    assert!(close(average_precision(&s, &y), 0.25 + 1.0 / 3.0));
    // All tied: AUC one half, AP the prevalence.
    let s = [0.3; 4];
    assert!(close(roc_auc(&s, &y), 0.5));
    assert!(close(average_precision(&s, &y), 0.5));
}

#[test]
fn counts_metrics() {
    let m = BinaryMetrics::from_counts(6, 2, 3, 1);
    assert!(close(m.precision, 0.75));
    assert!(close(m.recall, 6.0 / 7.0));
    assert!(close(m.f1, 12.0 / 15.0));
    assert!(close(m.mcc, 16.0 / 1120f64.sqrt()));
    assert!(close(m.balanced_accuracy, (6.0 / 7.0 + 0.6) / 2.0));
    assert!(close(m.false_alert_rate, 0.4));
    assert_eq!(m.n, 12);
}

#[test]
fn threshold_is_inclusive() {
    let y = [false, true, true, false];
    let s = [0.2, 0.5, 0.7, 0.5];
    let m = BinaryMetrics::compute(&s, &y, 0.5);
    assert_eq!((m.tp, m.fp, m.tn, m.fn_), (2, 1, 1, 0));
}

#[test]
fn edge_cases_are_none_not_panics() {
    let all_benign = BinaryMetrics::compute(&[0.1, 0.9], &[false, false], 0.5);
    assert_eq!(all_benign.recall, None);
    assert_eq!(all_benign.roc_auc, None);
    assert_eq!(all_benign.pr_auc, None);
    assert_eq!(all_benign.mcc, None);
    assert_eq!(all_benign.balanced_accuracy, None);
    assert!(close(all_benign.false_alert_rate, 0.5));
    let all_malicious = BinaryMetrics::compute(&[0.1, 0.2], &[true, true], 0.5);
    assert_eq!(all_malicious.precision, None);
    assert!(close(all_malicious.f1, 0.0));
    assert_eq!(all_malicious.false_alert_rate, None);
    assert!(close(all_malicious.pr_auc, 1.0));
    let empty = BinaryMetrics::compute(&[], &[], 0.5);
    assert_eq!(empty.n, 0);
    assert_eq!(empty.f1, None);
    assert_eq!(empty.precision, None);
}

#[test]
fn majority_baseline_is_constant() {
    let train = [false, false, true];
    let test = [false, true, false, false];
    let m = majority_baseline(&train, &test);
    assert_eq!((m.tp, m.fp, m.tn, m.fn_), (0, 0, 3, 1));
    assert!(close(m.roc_auc, 0.5));
    assert!(close(m.pr_auc, 0.25));
    assert_eq!(m.precision, None);
    assert!(close(m.false_alert_rate, 0.0));
}

#[test]
fn multiclass_one_vs_rest() {
    let actual = [0, 0, 1, 2, 2, 2];
    let predicted = [0, 1, 1, 2, 2, 0];
    let names: Vec<String> = ["benign", "scan", "ddos"].map(String::from).to_vec();
    let m = MulticlassMetrics::compute(&actual, &predicted, &names, None);
    assert_eq!(m.confusion.get(2, 0), 1);
    assert!(close(m.accuracy, 4.0 / 6.0));
    let c0 = &m.per_class[0];
    assert_eq!(c0.support, 2);
    assert!(close(c0.metrics.precision, 0.5));
    assert!(close(c0.metrics.recall, 0.5));
    let c2 = &m.per_class[2];
    assert_eq!(c2.name.as_deref(), Some("ddos"));
    assert!(close(c2.metrics.precision, 1.0));
    assert!(close(c2.metrics.recall, 2.0 / 3.0));
    // F1s: 1/2, 2/3, 4/5.
    assert!(close(m.macro_f1, (0.5 + 2.0 / 3.0 + 0.8) / 3.0));
    let base = MulticlassMetrics::majority_baseline(&actual, &actual, &names);
    assert!(close(base.accuracy, 0.5));
    // Per-class scores fill the AUCs.
    let scores: Vec<f32> = actual
        .iter()
        .flat_map(|&a| (0..3).map(move |c| if c == a { 0.9 } else { 0.1 }))
        .collect();
    let m = MulticlassMetrics::compute(&actual, &predicted, &names, Some(&scores));
    assert!(close(m.per_class[1].metrics.roc_auc, 1.0));
}

#[test]
fn detection_rates_per_class() {
    let d = detection_by_class(&[false, true, true, false], &[0, 1, 1, 2], 4);
    assert_eq!(d.len(), 4);
    assert!(close(d[1].rate, 1.0));
    assert!(close(d[2].rate, 0.0));
    assert_eq!(d[3].rate, None);
}

#[test]
fn serde_round_trip_keeps_none() {
    let m = BinaryMetrics::compute(&[0.1, 0.9], &[false, false], 0.5);
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"recall\":null"));
    let back: BinaryMetrics = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

fn brute_auc(s: &[f32], y: &[bool]) -> Option<f64> {
    let (mut w, mut n) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        for (j, &yj) in y.iter().enumerate() {
            if yi && !yj {
                n += 1.0;
                w += match s[i].total_cmp(&s[j]) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
    }
    (n > 0.0).then(|| w / n)
}

proptest! {
    #[test]
    fn auc_matches_pair_counting(rows in prop::collection::vec((0u8..5, any::<bool>()), 0..40)) {
        let s: Vec<f32> = rows.iter().map(|r| f32::from(r.0) / 4.0).collect();
        let y: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let (a, b) = (roc_auc(&s, &y), brute_auc(&s, &y));
        prop_assert_eq!(a.is_some(), b.is_some());
        if let (Some(a), Some(b)) = (a, b) {
            prop_assert!((a - b).abs() < 1e-12);
        }
        if let Some(ap) = average_precision(&s, &y) {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&ap));
        }
    }
}
