//! Linear model tests: coefficient recovery, optimality, class weights, separability, exact
//! explanations, determinism, missing values, errors and model-file round trips.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::model::Scorer;

/// Returns a standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(1e-300);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Rows `x ~ N(0, 1)` (scaled by `scale` per feature, shifted by `shift`) with labels drawn from
/// `σ(b + Σ cⱼ xⱼ)` on the *original* scale.
fn logistic_data(n: usize, coef: &[f64], b: f64, scale: &[f64], seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = coef.len();
    let mut features = Vec::with_capacity(n * d);
    let mut target = Vec::with_capacity(n);
    for _ in 0..n {
        let mut raw = b;
        for j in 0..d {
            let x = (normal(&mut rng) * scale[j] + 3.0 * j as f64) as f32;
            raw += coef[j] * f64::from(x);
            features.push(x);
        }
        target.push(rng.random::<f64>() < sigmoid(raw));
    }
    Dataset {
        feature_names: (0..d).map(|j| format!("f{j}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

#[test]
fn recovers_known_coefficients() {
    let coef = [1.5, -2.0, 0.5];
    let b = -0.5 - 1.5 * 0.0 + 2.0 * 3.0 - 0.5 * 6.0; // centre the log-odds near 0
    let data = logistic_data(60_000, &coef, b, &[1.0, 0.5, 2.0], 7);
    let model = LogisticRegressionParams::new()
        .l2(0.0)
        .tol(1e-9)
        .fit(&data)
        .unwrap();
    assert!(model.fit_info().converged, "{:?}", model.fit_info());
    let (c, b_hat) = model.unstandardized_coefficients();
    for (got, want) in c.iter().zip(coef) {
        assert!((got - want).abs() < 0.06, "coef {got} vs {want}");
    }
    assert!((b_hat - b).abs() < 0.15, "intercept {b_hat} vs {b}");
}

/// Rebuilds the training problem of `data` and returns the objective's gradient at `theta`.
fn gradient_at(data: &Dataset, opts: &LinearOptions, loss: Loss, theta: &[f64]) -> (f64, Vec<f64>) {
    let st = Standardizer::fit(&data.features, data.n_features()).unwrap();
    let z = st.transform(&data.features);
    let n_pos = data.target.iter().filter(|&&t| t).count() as f64;
    let n = data.n_rows() as f64;
    let weights = match opts.class_weight {
        ClassWeight::Balanced => [n / (2.0 * (n - n_pos)), n / (2.0 * n_pos)],
        _ => [1.0, 1.0],
    };
    let p = Problem {
        z: &z,
        d: data.n_features(),
        target: &data.target,
        weights,
        l2: opts.l2,
        loss,
        n_threads: 2,
    };
    let mut g = vec![0.0; theta.len()];
    let f = p.eval(theta, &mut g);
    (f, g)
}

#[test]
fn optimum_has_zero_gradient_and_gradient_matches_finite_differences() {
    let data = logistic_data(5_000, &[1.0, -1.0, 0.3, 0.0], 0.2, &[1.0; 4], 3);
    for loss in [Loss::Logistic, Loss::SquaredHinge] {
        let opts = LinearOptions {
            l2: 1e-3,
            tol: 1e-8,
            class_weight: ClassWeight::Balanced,
            ..LinearOptions::default()
        };
        let (lin, info) = fit_linear(&data, &opts, loss).unwrap();
        assert!(info.converged, "{loss:?} {info:?}");
        let mut theta = lin.weights.clone();
        theta.push(lin.intercept);
        let (f, g) = gradient_at(&data, &opts, loss, &theta);
        assert!((f - info.objective).abs() < 1e-12);
        assert!(g.iter().all(|g| g.abs() <= 1e-7), "{loss:?} gradient {g:?}");
        // Central differences at a point away from the optimum.
        let probe: Vec<f64> = theta.iter().map(|t| t + 0.3).collect();
        let (_, g) = gradient_at(&data, &opts, loss, &probe);
        for k in 0..probe.len() {
            let h = 1e-5;
            let (mut up, mut down) = (probe.clone(), probe.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (gradient_at(&data, &opts, loss, &up).0
                - gradient_at(&data, &opts, loss, &down).0)
                / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-6, "{loss:?} ∂{k}: {fd} vs {}", g[k]);
        }
    }
}

#[test]
fn balanced_weights_move_the_boundary_towards_the_rare_class() {
    // About 5 % malicious.
    let data = logistic_data(20_000, &[1.0, 0.5], -3.5, &[1.0, 1.0], 11);
    let plain = LogisticRegressionParams::new().fit(&data).unwrap();
    let balanced = LogisticRegressionParams::new()
        .class_weight(ClassWeight::Balanced)
        .fit(&data)
        .unwrap();
    assert!(balanced.intercept() > plain.intercept() + 1.0);
    let flagged = |m: &LogisticRegression| {
        (0..data.n_rows())
            .filter(|&i| m.score(data.row(i)) >= 0.5)
            .count()
    };
    assert!(flagged(&balanced) > 2 * flagged(&plain));
    // At the optimum the intercept's gradient vanishes: Σ cᵢ (pᵢ − yᵢ) = 0, so the class-weighted
    // mean probability equals the weighted share of positives, which balancing makes 1/2.
    let n = data.n_rows() as f64;
    let n_pos = data.target.iter().filter(|&&t| t).count() as f64;
    let c = [n / (2.0 * (n - n_pos)), n / (2.0 * n_pos)];
    let weighted_mean: f64 = (0..data.n_rows())
        .map(|i| c[usize::from(data.target[i])] * sigmoid(balanced.decision_function(data.row(i))))
        .sum::<f64>()
        / n;
    assert!((weighted_mean - 0.5).abs() < 1e-4, "{weighted_mean}");
}

#[test]
fn svm_separates_a_separable_set() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut features, mut target) = (Vec::new(), Vec::new());
    for i in 0..2_000 {
        let malicious = i % 3 == 0;
        let centre = if malicious { 2.0 } else { -2.0 };
        features.push((centre + 0.5 * normal(&mut rng)) as f32);
        features.push((10.0 * normal(&mut rng)) as f32);
        target.push(malicious);
    }
    let data = Dataset {
        feature_names: vec!["signal".into(), "noise".into()],
        features,
        target,
        ..Dataset::default()
    };
    let svm = LinearSvmParams::new().fit(&data).unwrap();
    for i in 0..data.n_rows() {
        let margin = svm.decision_function(data.row(i));
        assert_eq!(margin > 0.0, data.target[i], "row {i} margin {margin}");
        assert_eq!(svm.score(data.row(i)) > 0.5, data.target[i]);
    }
    assert!(svm.weights()[0].abs() > 10.0 * svm.weights()[1].abs());
    assert_eq!(svm.kind(), "linear_svm");
}

#[test]
fn explanations_are_exactly_additive() {
    let mut data = logistic_data(
        3_000,
        &[0.8, -0.4, 0.2, 1.0, -1.0],
        0.0,
        &[1.0, 100.0, 1e-3, 5.0, 1.0],
        1,
    );
    data.features[3] = f32::NAN;
    let logreg = LogisticRegressionParams::new().fit(&data).unwrap();
    let svm = LinearSvmParams::new().fit(&data).unwrap();
    let models: [&dyn Scorer; 2] = [&logreg, &svm];
    let rows: Vec<Vec<f32>> = (0..200)
        .map(|i| data.row(i).to_vec())
        .chain([vec![f32::NAN; 5], vec![1.0, f32::INFINITY], vec![]])
        .collect();
    for m in models {
        for row in &rows {
            let e = m.explain(row);
            let sum: f64 = e.base + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
            assert!(
                (sum - e.raw).abs() <= 1e-9,
                "{} {sum} vs {}",
                m.kind(),
                e.raw
            );
            assert_eq!(e.contributions.len(), 5);
            assert_eq!(m.score(row), sigmoid(e.raw) as f32);
        }
    }
    for row in &rows {
        assert_eq!(
            logreg.explain(row).raw.to_bits(),
            logreg.decision_function(row).to_bits()
        );
        assert_eq!(
            svm.explain(row).raw.to_bits(),
            svm.decision_function(row).to_bits()
        );
    }
    // Missing values contribute nothing; an all-missing row scores the intercept.
    assert_eq!(logreg.explain(&rows[0]).contributions[3].contribution, 0.0);
    assert_eq!(logreg.decision_function(&[f32::NAN; 5]), logreg.intercept());
    // The intercept is the mean training log-odds.
    let mean_raw: f64 = (0..data.n_rows())
        .map(|i| logreg.decision_function(data.row(i)))
        .sum::<f64>()
        / data.n_rows() as f64;
    assert!((mean_raw - logreg.intercept()).abs() < 1e-9);
}

#[test]
fn same_seed_gives_bitwise_identical_models_for_any_thread_count() {
    let data = logistic_data(30_000, &[0.7, -0.2, 0.1], 0.3, &[1.0, 2.0, 3.0], 2);
    let fit = |threads| {
        LogisticRegressionParams::new()
            .seed(42)
            .n_threads(threads)
            .fit(&data)
            .unwrap()
    };
    let a = fit(1);
    let (b, c) = (fit(2), fit(3));
    let bits = |m: &LogisticRegression| -> Vec<u64> {
        m.weights()
            .iter()
            .chain([&m.intercept()])
            .map(|w| w.to_bits())
            .collect()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(bits(&a), bits(&c));
    assert_eq!(a.fit_info(), b.fit_info());
    let s1 = LinearSvmParams::new().n_threads(2).fit(&data).unwrap();
    let s2 = LinearSvmParams::new().n_threads(1).fit(&data).unwrap();
    assert_eq!(s1.weights(), s2.weights());
    assert_eq!(s1.intercept().to_bits(), s2.intercept().to_bits());
    // Refitting with the same parameters gives the same model file, byte for byte.
    assert_eq!(
        serde_json::to_string(&s1).unwrap(),
        serde_json::to_string(&LinearSvmParams::new().n_threads(2).fit(&data).unwrap()).unwrap()
    );
}

#[test]
fn trains_through_missing_values() {
    let mut data = logistic_data(4_000, &[1.0, -1.0, 0.5], 0.0, &[1.0; 3], 9);
    for i in (0..data.features.len()).step_by(7) {
        data.features[i] = f32::NAN;
    }
    // A column that is entirely missing, and a constant one.
    for i in 0..data.n_rows() {
        data.features[i * 3 + 2] = if i % 2 == 0 { f32::NAN } else { 4.0 };
    }
    let m = LogisticRegressionParams::new().fit(&data).unwrap();
    assert!(m.weights().iter().all(|w| w.is_finite()));
    assert_eq!(m.weights()[2], 0.0);
    let scores = m.score_batch(&data.features, 3);
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    assert!(crate::metrics::roc_auc(&scores, &data.target).unwrap() > 0.7);
}

#[test]
fn rejects_bad_input() {
    let data = logistic_data(100, &[1.0], 0.0, &[1.0], 4);
    let one_class = Dataset {
        target: vec![true; 100],
        ..data.clone()
    };
    assert!(LogisticRegressionParams::new().fit(&one_class).is_err());
    assert!(LinearSvmParams::new().fit(&Dataset::default()).is_err());
    let short = Dataset {
        features: vec![1.0; 99],
        ..data.clone()
    };
    assert!(LogisticRegressionParams::new().fit(&short).is_err());
    for p in [
        LogisticRegressionParams::new().l2(-1.0),
        LogisticRegressionParams::new().tol(0.0),
        LogisticRegressionParams::new().max_iter(0),
        LogisticRegressionParams::new().n_threads(0),
        LogisticRegressionParams::new().class_weight(ClassWeight::Manual {
            negative: 1.0,
            positive: f64::NAN,
        }),
    ] {
        assert!(matches!(p.fit(&data), Err(Error::InvalidParams(_))));
    }
}

#[test]
fn no_features_gives_the_prevalence() {
    let data = Dataset {
        target: vec![true, false, false, false],
        ..Dataset::default()
    };
    let m = LogisticRegressionParams::new()
        .tol(1e-10)
        .fit(&data)
        .unwrap();
    assert!((m.score(&[]) - 0.25).abs() < 1e-6);
    assert!(m.explain(&[]).contributions.is_empty());
}

#[test]
fn model_files_round_trip() {
    // Exact float round trips need serde_json's `float_roundtrip` feature (its default parser is
    // not correctly rounded): several seeds make a regression show up reliably.
    for seed in 0..8 {
        let data = logistic_data(2_000, &[1.0, -0.5], 0.1, &[10.0, 0.1], seed);
        let m = LogisticRegressionParams::new()
            .class_weight(ClassWeight::Balanced)
            .fit(&data)
            .unwrap();
        let back: LogisticRegression =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
    let data = logistic_data(2_000, &[1.0, -0.5], 0.1, &[10.0, 0.1], 8);
    let svm = LinearSvmParams::new().fit(&data).unwrap();
    let back: LinearSvm = serde_json::from_str(&serde_json::to_string(&svm).unwrap()).unwrap();
    assert_eq!(back.score(data.row(0)), svm.score(data.row(0)));
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<LogisticRegression>();
    send_sync::<LinearSvm>();
    send_sync::<LogisticRegressionParams>();
    send_sync::<LinearSvmParams>();
    send_sync::<Standardizer>();
};

/// The intended workflow: leave one capture out; inside the training captures, hold one out for
/// validation to choose the threshold; report test metrics next to the majority baseline.
#[test]
fn leave_one_capture_out_workflow() {
    use crate::cv::leave_one_group_out;
    use crate::metrics::{majority_baseline, BinaryMetrics};
    use crate::threshold::max_f1_threshold;

    let mut data = logistic_data(6_000, &[2.5, -2.0, 0.0], 4.0, &[1.0; 3], 21);
    data.group = (0..data.n_rows() as u32).map(|i| i % 4).collect();
    for fold in leave_one_group_out(&data.group).unwrap() {
        let train_all = data.subset(&fold.train);
        let test = data.subset(&fold.test);
        let inner = leave_one_group_out(&train_all.group).unwrap();
        let (fit_rows, val_rows) = (&inner[0].train, &inner[0].test);
        let val = train_all.subset(val_rows);
        let model = LogisticRegressionParams::new()
            .class_weight(ClassWeight::Balanced)
            .fit(&train_all.subset(fit_rows))
            .unwrap();
        let val_scores = model.score_batch(&val.features, val.n_features());
        let threshold = max_f1_threshold(&val_scores, &val.target).unwrap();
        assert!(threshold.on_validation);
        let model = model.with_threshold(threshold.clone());
        let scores = model.score_batch(&test.features, test.n_features());
        let m = BinaryMetrics::compute(&scores, &test.target, threshold.value);
        let base = majority_baseline(&train_all.target, &test.target);
        assert!(m.mcc.unwrap() > 0.3 && base.mcc.is_none(), "{m:?}");
        assert!(m.roc_auc.unwrap() > 0.75);
        assert_eq!(
            model.is_alert(test.row(0)),
            Some(scores[0] >= threshold.value)
        );
        let back: LogisticRegression =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back.threshold(), Some(&threshold));
    }
}

/// Byte and packet counts are heavy-tailed: standardised outliers sit hundreds of standard
/// deviations out, which makes the problem ill-conditioned. The solver must still converge.
#[test]
fn heavy_tailed_features_converge() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (mut features, mut target) = (Vec::new(), Vec::new());
    for _ in 0..20_000 {
        let a = normal(&mut rng);
        let b = normal(&mut rng);
        features.push((3.0 * a).exp() as f32);
        features.push(b as f32);
        target.push(rng.random::<f64>() < sigmoid(0.5 * a - b));
    }
    let data = Dataset {
        feature_names: vec!["bytes".into(), "rate".into()],
        features,
        target,
        ..Dataset::default()
    };
    for class_weight in [ClassWeight::None, ClassWeight::Balanced] {
        let m = LogisticRegressionParams::new()
            .class_weight(class_weight)
            .fit(&data)
            .unwrap();
        assert!(m.fit_info().converged, "{:?}", m.fit_info());
        let svm = LinearSvmParams::new()
            .class_weight(*m.class_weight())
            .fit(&data)
            .unwrap();
        assert!(svm.fit_info().converged, "{:?}", svm.fit_info());
        // Stopped by the gradient test, not by the rounding-level decrease test.
        assert!(m.fit_info().grad_inf <= 1e-5 && svm.fit_info().grad_inf <= 1e-5);
    }
}
