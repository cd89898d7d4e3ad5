use proptest::prelude::*;

use super::*;

/// One pushed row: features, malicious, class, group, time.
type Row = (Vec<f32>, bool, u32, u32, f64);

fn names(n_features: usize) -> Dataset {
    Dataset {
        feature_names: (0..n_features).map(|i| format!("f{i}")).collect(),
        class_names: vec!["Benign".into(), "Scan".into(), "C&C".into()],
        group_names: vec!["a".into(), "b".into(), "c".into()],
        ..Dataset::default()
    }
}

fn sample(rows: &[Row], max_rows: usize, seed: u64) -> (Dataset, SamplingReport) {
    let n = rows.first().map_or(2, |r| r.0.len());
    let mut sampler = RowSampler::new(SampleConfig { max_rows, seed }, n);
    for (f, m, c, g, t) in rows {
        sampler.push(f, *m, *c, *g, *t);
    }
    sampler.finish(names(n))
}

/// What the sample must be, computed the slow way over every row at once: every row when they
/// fit; else per stratum its distinct rows (first occurrence), the exact quotas of their
/// counts, and the quota lowest-ranked distinct rows, in first-occurrence order.
fn reference(rows: &[Row], max_rows: usize, seed: u64) -> (Dataset, Vec<(u64, u64, u64)>) {
    let n = rows.first().map_or(2, |r| r.0.len());
    let mut strata: Vec<(bool, u32, u32)> = Vec::new();
    let stratum = |strata: &mut Vec<(bool, u32, u32)>, r: &Row| {
        let key = (r.1, r.2, r.3);
        match strata.iter().position(|k| *k == key) {
            Some(s) => s,
            None => {
                strata.push(key);
                strata.len() - 1
            }
        }
    };
    let of: Vec<usize> = rows.iter().map(|r| stratum(&mut strata, r)).collect();
    let mut seen = vec![0u64; strata.len()];
    for &s in &of {
        seen[s] += 1;
    }
    let mut chosen: Vec<usize> = (0..rows.len()).collect();
    let mut folded = vec![0u64; strata.len()];
    if rows.len() > max_rows {
        // First occurrences and their duplicates.
        let mut first: HashMap<u128, usize> = HashMap::new();
        let mut dups = vec![0u64; rows.len()];
        let mut distinct: Vec<Vec<usize>> = vec![Vec::new(); strata.len()];
        for (i, r) in rows.iter().enumerate() {
            let h = row_hash(&r.0, of[i] as u32);
            match first.get(&h) {
                Some(&f) => dups[f] += 1,
                None => {
                    first.insert(h, i);
                    distinct[of[i]].push(i);
                }
            }
        }
        let counts: Vec<u64> = distinct.iter().map(|d| d.len() as u64).collect();
        let quotas = allocate(max_rows as u64, &counts, true);
        chosen.clear();
        for (s, d) in distinct.iter_mut().enumerate() {
            d.sort_by_key(|&i| rank(row_hash(&rows[i].0, s as u32), seed));
            d.truncate(quotas[s] as usize);
            for &i in d.iter() {
                folded[s] += dups[i];
            }
            chosen.extend_from_slice(d);
        }
        chosen.sort_unstable();
    }
    let mut d = names(n);
    let mut kept = vec![0u64; strata.len()];
    for &i in &chosen {
        let (f, m, c, g, t) = &rows[i];
        d.features.extend_from_slice(f);
        d.target.push(*m);
        d.class.push(*c);
        d.group.push(*g);
        d.time.push(*t);
        kept[of[i]] += 1;
    }
    let counts = (0..strata.len())
        .map(|s| (seen[s], kept[s], folded[s]))
        .collect();
    (d, counts)
}

#[test]
fn allocation_is_an_equal_share_with_the_leftover_shared_again() {
    // 10 rows over strata of 2, 100 and 7 distinct rows: the first keeps its 2, the other two
    // share 8.
    assert_eq!(allocate(10, &[2, 100, 7], true), [2, 4, 4]);
    // One more row: the remainder goes to the first stratum (by index) above the share.
    assert_eq!(allocate(11, &[2, 100, 7], true), [2, 5, 4]);
    // While reading, every stratum above the share gets one more (an upper bound).
    assert_eq!(allocate(11, &[2, 100, 7], false), [2, 5, 5]);
    // Everything fits: every row.
    assert_eq!(allocate(200, &[2, 100, 7], true), [2, 100, 7]);
    // Fewer rows than strata: one each to the first strata.
    assert_eq!(allocate(2, &[5, 5, 5], true), [1, 1, 0]);
    assert_eq!(allocate(0, &[3], true), [0]);
    assert_eq!(allocate(5, &[], true), Vec::<u64>::new());
}

#[test]
fn every_row_is_kept_in_order_while_they_fit() {
    let rows: Vec<Row> = (0..50)
        .map(|i| {
            // Duplicates too: they are kept as they came when nothing has to go.
            let v = (i % 7) as f32;
            (
                vec![v, -v],
                i % 3 == 0,
                (i % 3) as u32,
                (i / 20) as u32,
                i as f64,
            )
        })
        .collect();
    let (d, report) = sample(&rows, 50, 1);
    let (want, _) = reference(&rows, 50, 1);
    assert_eq!(d, want);
    assert_eq!(d.n_rows(), 50);
    assert!(!report.sampled);
    assert_eq!(
        (report.seen, report.kept, report.folded, report.sampled_away),
        (50, 50, 0, 0)
    );
}

#[test]
fn repeated_scans_are_folded_and_do_not_crowd_out_the_other_strata() {
    let mut rows: Vec<Row> = Vec::new();
    // Capture a: 10 identical scan rows, then 5 distinct benign rows; capture b: one C&C row.
    for i in 0..10 {
        rows.push((vec![1.0, 2.0], true, 1, 0, i as f64));
    }
    for i in 0..5 {
        rows.push((vec![i as f32, 0.5], false, 0, 0, 10.0 + i as f64));
    }
    rows.push((vec![9.0, 9.0], true, 2, 1, 20.0));
    let (d, report) = sample(&rows, 4, 7);
    // Distinct rows per stratum 1, 5, 1: quotas 1, 2, 1.
    assert!(report.sampled);
    let counts: Vec<(&str, u64, u64, u64, u64)> = report
        .strata
        .iter()
        .map(|s| (s.class.as_str(), s.seen, s.kept, s.folded, s.sampled_away))
        .collect();
    assert_eq!(
        counts,
        [
            ("Scan", 10, 1, 9, 0),
            ("Benign", 5, 2, 0, 3),
            ("C&C", 1, 1, 0, 0)
        ]
    );
    assert_eq!(
        (report.seen, report.kept, report.folded, report.sampled_away),
        (16, 4, 9, 3)
    );
    assert_eq!(
        (report.strata[2].group.as_str(), report.strata[2].malicious),
        ("b", true)
    );
    // The scan row first (time of its first occurrence), the two benign rows of lowest rank,
    // then the C&C row.
    assert_eq!(d.n_rows(), 4);
    assert_eq!((d.row(0), d.time[0]), (&[1.0, 2.0][..], 0.0));
    let mut benign: Vec<usize> = (0..5).collect();
    benign.sort_by_key(|&i| rank(row_hash(&[i as f32, 0.5], 1), 7));
    benign.truncate(2);
    benign.sort_unstable();
    assert_eq!(d.row(1), [benign[0] as f32, 0.5]);
    assert_eq!(d.row(2), [benign[1] as f32, 0.5]);
    assert_eq!((d.row(3), d.group[3], d.class[3]), (&[9.0, 9.0][..], 1, 2));
    let (want, _) = reference(&rows, 4, 7);
    assert_eq!(d, want);
}

#[test]
fn the_sample_depends_on_the_seed_only_through_the_ranks() {
    let rows: Vec<Row> = (0..1000)
        .map(|i| (vec![i as f32, (i % 13) as f32], i % 2 == 0, 0, 0, i as f64))
        .collect();
    let (a, ra) = sample(&rows, 100, 1);
    let (b, rb) = sample(&rows, 100, 1);
    let (c, _) = sample(&rows, 100, 2);
    assert_eq!((a.clone(), ra.clone()), (b, rb));
    assert_ne!(a.features, c.features);
    // Two strata of 500 distinct rows: 50 each.
    assert_eq!(
        ra.strata.iter().map(|s| s.kept).collect::<Vec<_>>(),
        [50, 50]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The streaming sample (folds and cuts while reading) equals the reference computed over
    /// every row at once, and every row is accounted for.
    #[test]
    fn prop_streaming_sample_equals_the_reference(
        rows in prop::collection::vec((0u8..6, 0u8..4, 0u32..3, 0u32..3), 0..400),
        max_rows in 1usize..80,
        seed in 0u64..4,
    ) {
        let rows: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(i, &(a, b, c, g))| {
                (vec![f32::from(a), f32::from(b), f32::from(a * b)], c == 1, c, g, i as f64)
            })
            .collect();
        let (d, report) = sample(&rows, max_rows, seed);
        let (want, counts) = reference(&rows, max_rows, seed);
        prop_assert_eq!(&d, &want);
        let got: Vec<(u64, u64, u64)> =
            report.strata.iter().map(|s| (s.seen, s.kept, s.folded)).collect();
        prop_assert_eq!(got, counts);
        for s in &report.strata {
            prop_assert_eq!(s.seen, s.kept + s.folded + s.sampled_away);
        }
        prop_assert_eq!(report.seen, rows.len() as u64);
        prop_assert!(d.n_rows() <= max_rows);
    }
}
