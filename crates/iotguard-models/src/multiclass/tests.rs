//! Tests of the one-vs-rest multiclass model and its k-fold evaluation, with exact counts.

use super::*;
use rand::{Rng, SeedableRng};

/// `n` rows per class of three classes in separate boxes of two features (plus one noise
/// feature): class `c` has `x0` in `[c, c + 0.8)`, class 2 also `x1 > 0.5`.
fn boxes(n: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut d = Dataset {
        feature_names: vec!["x0".into(), "x1".into(), "noise".into()],
        class_names: vec!["benign".into(), "C&C".into(), "DDoS".into()],
        ..Dataset::default()
    };
    for i in 0..3 * n {
        let c = (i % 3) as u32;
        let x0 = c as f32 + 0.8 * rng.random::<f32>();
        let x1 = if c == 2 { 0.6 } else { 0.0 } + 0.4 * rng.random::<f32>();
        d.features.extend_from_slice(&[x0, x1, rng.random()]);
        d.class.push(c);
        d.target.push(c != 0);
    }
    d
}

#[test]
fn separable_classes_are_told_apart_exactly() {
    let d = boxes(100, 1);
    let e = cross_validate(&d, 3, &MulticlassParams::default().seed(2), 7).unwrap();
    assert_eq!(e.folds, 3);
    assert_eq!(
        e.metrics.confusion.counts,
        vec![100, 0, 0, 0, 100, 0, 0, 0, 100]
    );
    assert_eq!(e.metrics.accuracy, Some(1.0));
    assert_eq!(e.metrics.macro_f1, Some(1.0));
    for c in &e.metrics.per_class {
        assert_eq!(c.support, 100);
        assert_eq!(
            (c.metrics.precision, c.metrics.recall, c.metrics.f1),
            (Some(1.0), Some(1.0), Some(1.0))
        );
        assert_eq!(c.metrics.roc_auc, Some(1.0));
    }
    assert_eq!(e.metrics.per_class[1].name.as_deref(), Some("C&C"));
    // The baseline predicts each fold's most common training class. The stratified test folds
    // hold (34, 33, 33), (33, 34, 33) and (33, 33, 34) rows of classes 0, 1, 2, so fold 0's
    // training rows have most of classes 1 and 2 (67 each; 1 wins the tie) and the other folds'
    // most of class 0 (67, tied with class 2 in fold 1 and class 1 in fold 2).
    assert_eq!(
        e.baseline.confusion.counts,
        vec![66, 34, 0, 67, 33, 0, 67, 33, 0]
    );
    let base = |c: usize| {
        let x = &e.baseline.per_class[c].metrics;
        (x.precision, x.recall, x.f1)
    };
    assert_eq!(
        base(0),
        (Some(66.0 / 200.0), Some(66.0 / 100.0), Some(132.0 / 300.0))
    );
    assert_eq!(base(2), (None, Some(0.0), Some(0.0)));
}

#[test]
fn mislabeled_rows_give_exact_per_class_metrics() {
    let model = MulticlassParams::default()
        .seed(3)
        .fit(&boxes(200, 4))
        .unwrap();
    // Rows deep inside each box, with the labels a test set gives them: the last two "DDoS"
    // rows sit in the C&C box and one "benign" row in the DDoS box.
    let rows: [([f32; 3], u32); 8] = [
        ([0.4, 0.2, 0.5], 0),
        ([0.3, 0.1, 0.5], 0),
        ([2.4, 0.8, 0.5], 0),
        ([1.4, 0.2, 0.5], 1),
        ([1.5, 0.1, 0.5], 1),
        ([2.4, 0.8, 0.5], 2),
        ([1.4, 0.2, 0.5], 2),
        ([1.3, 0.2, 0.5], 2),
    ];
    let predicted: Vec<u32> = rows.iter().map(|(r, _)| model.predict(r)).collect();
    assert_eq!(predicted, vec![0, 0, 2, 1, 1, 2, 1, 1]);
    let actual: Vec<u32> = rows.iter().map(|(_, c)| *c).collect();
    let m = MulticlassMetrics::compute(&actual, &predicted, &model.class_names, None);
    assert_eq!(m.confusion.counts, vec![2, 0, 1, 0, 2, 0, 0, 2, 1]);
    let prf = |c: usize| {
        let x = &m.per_class[c].metrics;
        (x.precision, x.recall, x.f1)
    };
    assert_eq!(prf(0), (Some(1.0), Some(2.0 / 3.0), Some(0.8)));
    assert_eq!(prf(1), (Some(0.5), Some(1.0), Some(2.0 / 3.0)));
    assert_eq!(prf(2), (Some(0.5), Some(1.0 / 3.0), Some(0.4)));
    assert_eq!(m.accuracy, Some(5.0 / 8.0));
    let p = model.probabilities(&rows[0].0);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{p:?}");
    let e = model.explain(&rows[3].0, 1).unwrap();
    let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
    assert!((e.base + sum - e.raw).abs() < 1e-9);
}

#[test]
fn absent_and_whole_classes_and_round_trip() {
    let mut d = boxes(30, 5);
    d.class_names.push("Okiru".into());
    let m = MulticlassParams::default().seed(1).fit(&d).unwrap();
    assert_eq!(m.n_classes(), 4);
    assert_eq!(m.models[3], ClassModel::Absent);
    assert_eq!(m.probabilities(d.row(0))[3], 0.0);
    assert!(m.explain(d.row(0), 3).is_none());
    let batch = m.probabilities_batch(&d.features, 3);
    for i in 0..d.n_rows() {
        assert_eq!(&batch[i * 4..(i + 1) * 4], &m.probabilities(d.row(i))[..]);
    }
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<OneVsRest>(&json).unwrap(), m);
    let only = d.subset(&[0, 3, 6]);
    let m = MulticlassParams::default().fit(&only).unwrap();
    assert_eq!(m.models[0], ClassModel::Every);
    assert_eq!(m.predict(d.row(1)), 0);
    let unlabeled = Dataset {
        class: Vec::new(),
        ..d
    };
    assert!(matches!(
        MulticlassParams::default().fit(&unlabeled),
        Err(Error::InvalidData(_))
    ));
}

#[test]
fn multiclass_models_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<OneVsRest>();
}
