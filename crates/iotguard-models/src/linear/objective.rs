//! The training objective of the linear models: per-row losses and the parallel, deterministic
//! evaluation of `(1/n) Σᵢ cᵢ ℓ(yᵢ, rawᵢ) + (l2/2)‖w‖²` and its gradient.

use crate::parallel;

/// Rows per unit of parallel work; fixed so results do not depend on the thread count.
const CHUNK_ROWS: usize = 4096;

/// The loss of one row given `y ∈ {−1, +1}` and the raw output.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loss {
    /// `log(1 + exp(−y·raw))`.
    Logistic,
    /// `max(0, 1 − y·raw)²`.
    SquaredHinge,
}

impl Loss {
    /// Returns the loss and its derivative with respect to the raw output.
    #[inline]
    fn value_and_slope(self, positive: bool, raw: f64) -> (f64, f64) {
        let y = if positive { 1.0 } else { -1.0 };
        let m = y * raw;
        match self {
            Loss::Logistic => {
                // softplus(−m) and −y·sigmoid(−m), both stable for large |m|.
                let e = (-m.abs()).exp();
                let loss = (-m).max(0.0) + e.ln_1p();
                let sig_neg = if m >= 0.0 {
                    e / (1.0 + e)
                } else {
                    1.0 / (1.0 + e)
                };
                (loss, -y * sig_neg)
            }
            Loss::SquaredHinge => {
                let h = 1.0 - m;
                if h > 0.0 {
                    (h * h, -2.0 * y * h)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }
}

/// The training problem over a standardised matrix.
pub(crate) struct Problem<'a> {
    pub(crate) z: &'a [f32],
    pub(crate) d: usize,
    pub(crate) target: &'a [bool],
    pub(crate) weights: [f64; 2],
    pub(crate) l2: f64,
    pub(crate) loss: Loss,
    pub(crate) n_threads: usize,
}

/// Returns the dot product of an `f32` row and `f64` weights with four accumulators (breaks the
/// add dependency chain; the summation order is fixed, so results stay deterministic).
#[inline]
fn dot_row(row: &[f32], w: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut rc = row.chunks_exact(4);
    let mut wc = w.chunks_exact(4);
    for (r, w) in (&mut rc).zip(&mut wc) {
        for k in 0..4 {
            acc[k] += f64::from(r[k]) * w[k];
        }
    }
    let tail: f64 = rc
        .remainder()
        .iter()
        .zip(wc.remainder())
        .map(|(&x, w)| f64::from(x) * w)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

impl Problem<'_> {
    fn n(&self) -> usize {
        self.target.len()
    }

    /// Returns the loss and gradient sums of `rows` as `[loss, ∂w…, ∂b]`.
    fn chunk(&self, rows: std::ops::Range<usize>, theta: &[f64]) -> Vec<f64> {
        let d = self.d;
        let (w, b) = (&theta[..d], theta[d]);
        let mut out = vec![0.0; d + 2];
        let (head, grad) = out.split_at_mut(1);
        let (gw, gb) = grad.split_at_mut(d);
        let mut loss = 0.0;
        let mut slope_sum = 0.0;
        for i in rows {
            let row = &self.z[i * d..(i + 1) * d];
            let t = self.target[i];
            let (l, s) = self.loss.value_and_slope(t, b + dot_row(row, w));
            let c = self.weights[usize::from(t)];
            loss += c * l;
            let cs = c * s;
            if cs != 0.0 {
                slope_sum += cs;
                gw.iter_mut()
                    .zip(row)
                    .for_each(|(g, &x)| *g += cs * f64::from(x));
            }
        }
        head[0] = loss;
        gb[0] = slope_sum;
        out
    }

    /// Returns the objective at `theta = [w…, b]` and writes its gradient into `grad`.
    pub(crate) fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.d;
        let partials = parallel::map_chunks(self.n(), CHUNK_ROWS, self.n_threads, |rows| {
            self.chunk(rows, theta)
        });
        // Reduce in chunk order: deterministic whatever the threads did.
        let mut total = vec![0.0f64; d + 2];
        for p in &partials {
            total.iter_mut().zip(p).for_each(|(t, p)| *t += p);
        }
        let inv_n = 1.0 / self.n() as f64;
        let w = &theta[..d];
        let penalty = 0.5 * self.l2 * w.iter().map(|x| x * x).sum::<f64>();
        for j in 0..d {
            grad[j] = total[1 + j] * inv_n + self.l2 * w[j];
        }
        grad[d] = total[1 + d] * inv_n;
        total[0] * inv_n + penalty
    }
}
