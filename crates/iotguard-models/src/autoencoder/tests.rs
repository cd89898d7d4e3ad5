//! Tests of the autoencoder: it learns benign structure, explanations add up to the score, and a
//! seed fixes the model whatever the thread count.

use super::*;
use crate::metrics::roc_auc;

/// Benign rows live on a 2-dimensional surface in 6 dimensions (every feature a function of two
/// latent factors, plus a little noise); malicious rows break those relations.
fn manifold(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut d = Dataset {
        feature_names: (0..6).map(|i| format!("f{i}")).collect(),
        ..Dataset::default()
    };
    for i in 0..n {
        let (a, b): (f32, f32) = (rng.random(), rng.random());
        let mut row = [a, b, a + b, a - b, 2.0 * a, 0.5 * b];
        for x in &mut row {
            *x += 0.01 * (rng.random::<f32>() - 0.5);
        }
        let malicious = i % 4 == 0;
        if malicious {
            // Same marginal ranges, broken relations.
            row[2] = rng.random::<f32>() * 2.0;
            row[4] = rng.random::<f32>() * 2.0;
        }
        d.features.extend_from_slice(&row);
        d.target.push(malicious);
    }
    d
}

fn benign(d: &Dataset) -> Dataset {
    let rows: Vec<usize> = (0..d.n_rows()).filter(|&i| !d.target[i]).collect();
    d.subset(&rows)
}

fn params() -> AutoencoderParams {
    AutoencoderParams::default()
        .hidden(vec![8, 2])
        .epochs(20)
        .seed(5)
}

#[test]
fn learns_benign_structure_and_flags_the_rest() {
    let train = manifold(4_000, 1);
    let test = manifold(2_000, 2);
    let ae = params().fit(&benign(&train)).unwrap();
    assert_eq!(ae.train_loss.len(), 20);
    assert!(
        ae.train_loss[19] < 0.2 * ae.train_loss[0],
        "{:?}",
        ae.train_loss
    );
    let scores = ae.score_batch(&test.features, 6);
    let mean = |malicious: bool| {
        let s: Vec<f64> = (0..test.n_rows())
            .filter(|&i| test.target[i] == malicious)
            .map(|i| f64::from(scores[i]))
            .collect();
        s.iter().sum::<f64>() / s.len() as f64
    };
    assert!(
        mean(true) > 10.0 * mean(false),
        "{} {}",
        mean(true),
        mean(false)
    );
    let auc = roc_auc(&scores, &test.target).unwrap();
    assert!(auc > 0.95, "{auc}");
    // The broken features carry the error.
    let e = ae.explain(test.row(0));
    assert!(test.target[0]);
    let top = e
        .contributions
        .iter()
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
        .unwrap();
    assert!([2, 4].contains(&top.feature), "{e:?}");
}

#[test]
fn per_feature_errors_sum_to_the_score() {
    let d = manifold(1_000, 3);
    let ae = params().epochs(3).fit(&benign(&d)).unwrap();
    let batch = ae.score_batch(&d.features, 6);
    for i in 0..d.n_rows() {
        let mut row = d.row(i).to_vec();
        if i % 7 == 0 {
            row[i % 6] = f32::NAN;
        }
        let e = ae.explain(&row);
        assert_eq!(e.base, 0.0);
        assert_eq!(e.contributions.len(), 6);
        let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
        assert_eq!(sum, e.raw);
        assert_eq!(e.raw as f32, ae.score(&row));
        assert!(e.contributions.iter().all(|c| c.contribution >= 0.0));
        if i % 7 != 0 {
            assert_eq!(batch[i], ae.score(&row));
        }
    }
    // A row of nothing but missing values is the mean row: finite, non-negative.
    let s = ae.score(&[f32::NAN; 6]);
    assert!(s.is_finite() && s >= 0.0);
    // Out-of-range values are clipped, so the score stays finite.
    assert!(ae
        .score(&[1e30, -1e30, f32::INFINITY, 0.0, 0.0, 0.0])
        .is_finite());
}

#[test]
fn a_seed_fixes_the_model_whatever_the_thread_count() {
    let d = benign(&manifold(3_000, 4));
    let p = params().epochs(2);
    let one = p.clone().n_threads(1).fit(&d).unwrap();
    let two = p.clone().n_threads(2).fit(&d).unwrap();
    let five = p.clone().n_threads(5).fit(&d).unwrap();
    let bytes = |m: &Autoencoder| serde_json::to_vec(m).unwrap();
    assert_eq!(bytes(&one), bytes(&two));
    assert_eq!(bytes(&one), bytes(&five));
    assert_ne!(bytes(&one), bytes(&p.seed(6).fit(&d).unwrap()));
    let back: Autoencoder = serde_json::from_slice(&bytes(&one)).unwrap();
    assert_eq!(back, one);
    assert_eq!(back.score(d.row(9)), one.score(d.row(9)));
}

#[test]
fn bad_params_and_data_are_refused() {
    let d = manifold(100, 1);
    for p in [
        AutoencoderParams::default().hidden(vec![]),
        AutoencoderParams::default().hidden(vec![4, 0]),
        AutoencoderParams::default().epochs(0),
        AutoencoderParams::default().batch_size(0),
        AutoencoderParams::default().learning_rate(f64::NAN),
    ] {
        assert!(matches!(p.fit(&d), Err(Error::InvalidParams(_))), "{p:?}");
    }
    let empty = d.subset(&[]);
    assert!(matches!(
        AutoencoderParams::default().fit(&empty),
        Err(Error::InvalidData(_))
    ));
}

#[test]
fn autoencoders_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Autoencoder>();
}
