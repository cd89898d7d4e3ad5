//! ROC and precision-recall curve points for the report's plots, downsampled so the JSON stays
//! small while the plotted shape stays the same.

/// The most points a curve keeps (about; the last point is always kept).
pub(crate) const CURVE_POINTS: usize = 200;

/// Returns the ROC curve of `scores` against `target` as `[false-alert rate, recall]` points,
/// one per distinct score (from the highest), starting at `[0, 0]`, downsampled. Empty unless
/// both classes are present.
pub(crate) fn roc_points(scores: &[f32], target: &[bool]) -> Vec<[f64; 2]> {
    let (pos, neg) = class_counts(target);
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let mut points = vec![[0.0, 0.0]];
    walk(scores, target, |tp, fp| {
        points.push([fp as f64 / neg as f64, tp as f64 / pos as f64]);
    });
    downsample(&points)
}

/// Returns the precision-recall curve as `[recall, precision]` points, one per distinct score
/// (from the highest), downsampled. Empty without malicious rows.
pub(crate) fn pr_points(scores: &[f32], target: &[bool]) -> Vec<[f64; 2]> {
    let (pos, _) = class_counts(target);
    if pos == 0 {
        return Vec::new();
    }
    let mut points = Vec::new();
    walk(scores, target, |tp, fp| {
        points.push([tp as f64 / pos as f64, tp as f64 / (tp + fp) as f64]);
    });
    downsample(&points)
}

fn class_counts(target: &[bool]) -> (u64, u64) {
    let pos = target.iter().filter(|t| **t).count() as u64;
    (pos, target.len() as u64 - pos)
}

/// Calls `at(tp, fp)` after each group of tied scores, from the highest score down.
fn walk(scores: &[f32], target: &[bool], mut at: impl FnMut(u64, u64)) {
    let mut order: Vec<usize> = (0..scores.len().min(target.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0u64, 0u64);
    for (k, &i) in order.iter().enumerate() {
        if target[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&j| scores[j].total_cmp(&scores[i]).is_ne());
        if last_of_tie {
            at(tp, fp);
        }
    }
}

/// Keeps a point when it moved by at least 1/[`CURVE_POINTS`] on an axis from the last kept
/// one, or when its x grew by 10 % or more (so log-scale false-alert rates keep their shape);
/// the first and last points are always kept. Values are rounded to six decimals.
fn downsample(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let step = 1.0 / CURVE_POINTS as f64;
    let round = |p: [f64; 2]| p.map(|v| (v * 1e6).round() / 1e6);
    let mut kept: Vec<[f64; 2]> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        let keep = match kept.last() {
            None => true,
            Some(last) => {
                i + 1 == points.len()
                    || (p[0] - last[0]).abs() >= step
                    || (p[1] - last[1]).abs() >= step
                    || (p[0] > 0.0 && p[0] >= last[0] * 1.1)
            }
        };
        if keep {
            kept.push(round(p));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_of_a_small_ranking() {
        // From the highest score: malicious, benign, a malicious and a benign tied at 0.5, benign.
        let scores = [0.9, 0.8, 0.5, 0.5, 0.1];
        let target = [true, false, true, false, false];
        assert_eq!(
            roc_points(&scores, &target),
            vec![
                [0.0, 0.0],
                [0.0, 0.5],
                [0.333333, 0.5],
                [0.666667, 1.0],
                [1.0, 1.0]
            ]
        );
        assert_eq!(
            pr_points(&scores, &target),
            vec![[0.5, 1.0], [0.5, 0.5], [1.0, 0.5], [1.0, 0.4]]
        );
        assert!(roc_points(&scores, &[false; 5]).is_empty());
        assert!(pr_points(&scores, &[false; 5]).is_empty());
    }

    #[test]
    fn long_curves_are_downsampled_and_keep_their_ends() {
        let n = 100_000;
        let scores: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let target: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let roc = roc_points(&scores, &target);
        assert!(roc.len() < 4 * CURVE_POINTS, "{}", roc.len());
        assert_eq!(roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(roc.last(), Some(&[1.0, 1.0]));
        assert!(roc
            .windows(2)
            .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1]));
    }
}
