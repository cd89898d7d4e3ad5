//! Autoencoder: a small multilayer perceptron trained to reconstruct benign flows; how badly it
//! reconstructs a flow is the flow's anomaly score.
//!
//! Inputs are standardised with the training rows' statistics ([`Standardizer`]: a missing value
//! becomes the mean, i.e. 0) and clipped to `±clip`, so one extreme value cannot swamp training.
//! The network is dense layers `d → h₁ → … → h_k → … → h₁ → d` (the encoder's widths mirrored),
//! tanh on every hidden layer and a linear output. Training minimises the mean squared
//! reconstruction error with Adam over shuffled mini-batches. A mini-batch's gradient is the sum
//! of fixed chunks of rows, computed on all cores and added in chunk order, so the fitted weights
//! are the same bits whatever the thread count; the weights start from a seeded Glorot-uniform
//! draw and the rows are shuffled by the same seeded stream, so a seed fixes the model.
//!
//! The score is the mean over features of the squared difference between the standardised,
//! clipped input `zⱼ` and its reconstruction `ẑⱼ`: `score = (1/d) Σⱼ (ẑⱼ − zⱼ)²`, non-negative
//! and unbounded (0 is a perfect reconstruction; benign training rows score about the final
//! training loss, [`Autoencoder::train_loss`]). The explanation is that sum's terms: feature `j`
//! contributes `(ẑⱼ − zⱼ)²/d`, `base` is 0, and `base + Σ contributions = raw`, the score in
//! `f64` (the score is `raw` rounded to `f32`).
//!
//! This is a focused engine of our own rather than candle or burn; ARCHITECTURE.md gives the
//! measurements behind that choice.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Contribution, Explanation, Scorer};
use crate::parallel;
use crate::scale::Standardizer;

/// Rows per unit of gradient work inside a mini-batch (fixed, so results do not depend on the
/// thread count).
const GRAD_CHUNK_ROWS: usize = 32;

/// Rows per unit of parallel work when scoring a batch.
const SCORE_CHUNK_ROWS: usize = 2048;

/// Hyperparameters of an autoencoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderParams {
    /// The encoder's hidden widths, outermost first; the decoder mirrors them. The last one is
    /// the bottleneck.
    pub hidden: Vec<usize>,
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Standardised inputs are clipped to `±clip`.
    pub clip: f32,
    /// Worker threads; 0 uses all cores. Results do not depend on it.
    pub n_threads: usize,
    /// Seed for the initial weights and the row order.
    pub seed: u64,
}

impl Default for AutoencoderParams {
    fn default() -> Self {
        AutoencoderParams {
            hidden: vec![32, 8],
            epochs: 10,
            batch_size: 128,
            learning_rate: 3e-3,
            clip: 10.0,
            n_threads: 0,
            seed: 0,
        }
    }
}

impl AutoencoderParams {
    /// Sets the encoder's hidden widths.
    pub fn hidden(mut self, hidden: Vec<usize>) -> Self {
        self.hidden = hidden;
        self
    }

    /// Sets the number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the mini-batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets Adam's step size.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }

    /// Sets the number of threads (0: all cores).
    pub fn n_threads(mut self, n: usize) -> Self {
        self.n_threads = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            problems.push("hidden widths must be non-empty and positive".to_string());
        }
        if self.epochs == 0 || self.batch_size == 0 {
            problems.push("epochs and batch_size must be > 0".to_string());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            problems.push(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            ));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            problems.push(format!("clip must be positive, got {}", self.clip));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidParams(problems.join("; ")))
        }
    }

    /// Fits the autoencoder to every row of `data` (labels are ignored: pass benign rows).
    ///
    /// ```
    /// use iotguard_models::{AutoencoderParams, Dataset, Scorer};
    ///
    /// // Benign rows lie on the line b = 2a; (1, -2) does not.
    /// let rows: Vec<[f32; 2]> = (0..500).map(|i| [i as f32 / 500.0, i as f32 / 250.0]).collect();
    /// let data = Dataset {
    ///     feature_names: vec!["a".into(), "b".into()],
    ///     features: rows.iter().flatten().copied().collect(),
    ///     target: vec![false; rows.len()],
    ///     ..Dataset::default()
    /// };
    /// let ae = AutoencoderParams::default().hidden(vec![4, 1]).epochs(30).seed(7).fit(&data)?;
    /// assert!(ae.score(&[1.0, -2.0]) > 10.0 * ae.score(&[0.5, 1.0]));
    /// # Ok::<(), iotguard_models::Error>(())
    /// ```
    pub fn fit(&self, data: &Dataset) -> Result<Autoencoder> {
        self.check()?;
        data.validate()?;
        let (n, d) = (data.n_rows(), data.n_features());
        if n == 0 || d == 0 {
            return Err(Error::InvalidData(format!(
                "need rows and features to fit an autoencoder, got {n} rows of {d} features"
            )));
        }
        let threads = parallel::thread_count((self.n_threads > 0).then_some(self.n_threads));
        let standardizer = Standardizer::fit_threads(&data.features, d, threads)?;
        let mut z = standardizer.transform_threads(&data.features, threads);
        for v in &mut z {
            *v = v.clamp(-self.clip, self.clip);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut model = Autoencoder {
            standardizer,
            clip: self.clip,
            layers: init_layers(d, &self.hidden, &mut rng),
            train_loss: Vec::with_capacity(self.epochs),
        };
        let shape = Shape::of(&model.layers);
        let mut adam = Adam::new(shape.n_params, self.learning_rate);
        let mut order: Vec<usize> = (0..n).collect();
        let mut grad = vec![0f32; shape.n_params];
        for _ in 0..self.epochs {
            order.shuffle(&mut rng);
            let mut epoch_loss = 0.0;
            for batch in order.chunks(self.batch_size) {
                let layers = &model.layers;
                let parts = parallel::map_chunks(batch.len(), GRAD_CHUNK_ROWS, threads, |range| {
                    let mut g = vec![0f32; shape.n_params];
                    let mut work = Work::new(&shape);
                    let mut loss = 0.0;
                    for &r in &batch[range] {
                        work.acts[..d].copy_from_slice(&z[r * d..(r + 1) * d]);
                        forward(layers, &mut work.acts);
                        loss += backward(layers, &shape, &mut work, &mut g);
                    }
                    (g, loss)
                });
                grad.fill(0.0);
                for (g, loss) in &parts {
                    grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                    epoch_loss += loss;
                }
                let inv = 1.0 / batch.len() as f32;
                grad.iter_mut().for_each(|g| *g *= inv);
                adam.step(&mut model.layers, &grad);
            }
            model.train_loss.push(epoch_loss / n as f64);
        }
        let finite = model
            .layers
            .iter()
            .all(|l| l.weights.iter().chain(&l.bias).all(|w| w.is_finite()));
        if !finite {
            return Err(Error::InvalidData(
                "autoencoder training diverged (non-finite weights); lower the learning rate"
                    .into(),
            ));
        }
        Ok(model)
    }
}

/// A hidden or output layer's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Hyperbolic tangent (hidden layers).
    Tanh,
    /// None (the output layer).
    Identity,
}

/// One dense layer: `out = activation(W · in + b)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// Row-major weights: `n_out` rows of `n_in`.
    pub weights: Vec<f32>,
    /// One bias per output.
    pub bias: Vec<f32>,
    /// The activation applied to the outputs.
    pub activation: Activation,
}

impl Dense {
    fn forward(&self, x: &[f32], out: &mut [f32]) {
        for ((o, w), b) in out
            .iter_mut()
            .zip(self.weights.chunks_exact(self.n_in))
            .zip(&self.bias)
        {
            let s = dot(w, x) + b;
            *o = match self.activation {
                Activation::Tanh => s.tanh(),
                Activation::Identity => s,
            };
        }
    }
}

/// A fitted autoencoder; its score is the mean squared reconstruction error of the
/// standardised, clipped row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autoencoder {
    /// The training rows' means and standard deviations.
    pub standardizer: Standardizer,
    /// Standardised inputs are clipped to `±clip`.
    pub clip: f32,
    /// The layers, input side first.
    pub layers: Vec<Dense>,
    /// The mean training loss (mean squared reconstruction error) of each epoch.
    pub train_loss: Vec<f64>,
}

impl Autoencoder {
    /// Returns the number of features rows must have.
    pub fn n_features(&self) -> usize {
        self.standardizer.n_features()
    }

    /// Runs `row` through the network and returns the activations buffer: the standardised,
    /// clipped input first, the reconstruction last.
    fn run(&self, row: &[f32], acts: &mut [f32]) {
        let d = self.n_features();
        for (j, z) in acts[..d].iter_mut().enumerate() {
            let x = row.get(j).copied().unwrap_or(f32::NAN);
            *z = (self.standardizer.z(j, x) as f32).clamp(-self.clip, self.clip);
        }
        forward(&self.layers, acts);
    }

    /// Returns the standardised, clipped input and its reconstruction.
    pub fn reconstruct(&self, row: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let d = self.n_features();
        let mut acts = vec![0f32; Shape::of(&self.layers).n_acts];
        self.run(row, &mut acts);
        (acts[..d].to_vec(), acts[acts.len() - d..].to_vec())
    }

    /// Scores one row with a caller's activations buffer.
    fn score_with(&self, row: &[f32], acts: &mut [f32]) -> f64 {
        self.run(row, acts);
        let d = self.n_features();
        let (z, zhat) = (&acts[..d], &acts[acts.len() - d..]);
        let mut sum = 0.0;
        for (&a, &b) in z.iter().zip(zhat) {
            sum += feature_error(a, b, d);
        }
        sum
    }
}

/// Feature `j`'s term of the score: `(ẑⱼ − zⱼ)² / d`.
#[inline]
fn feature_error(z: f32, zhat: f32, d: usize) -> f64 {
    let e = f64::from(zhat) - f64::from(z);
    e * e / d as f64
}

impl Scorer for Autoencoder {
    fn kind(&self) -> &'static str {
        "autoencoder"
    }

    fn score(&self, row: &[f32]) -> f32 {
        let mut acts = vec![0f32; Shape::of(&self.layers).n_acts];
        self.score_with(row, &mut acts) as f32
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        let n_features = n_features.max(1);
        let n_rows = rows.len() / n_features;
        let mut out = vec![0f32; n_rows];
        let threads = parallel::thread_count(None);
        let n_acts = Shape::of(&self.layers).n_acts;
        parallel::fill_chunks(&mut out, 1, SCORE_CHUNK_ROWS, threads, |range, piece| {
            let mut acts = vec![0f32; n_acts];
            for (o, i) in piece.iter_mut().zip(range) {
                let row = &rows[i * n_features..(i + 1) * n_features];
                *o = self.score_with(row, &mut acts) as f32;
            }
        });
        out
    }

    /// Per-feature squared reconstruction errors (divided by the feature count): `base` is 0 and
    /// `Σ contributions = raw`, the score before rounding to `f32`.
    fn explain(&self, row: &[f32]) -> Explanation {
        let d = self.n_features();
        let (z, zhat) = self.reconstruct(row);
        let mut raw = 0.0;
        let contributions = z
            .iter()
            .zip(&zhat)
            .enumerate()
            .map(|(j, (&a, &b))| {
                let contribution = feature_error(a, b, d);
                raw += contribution;
                Contribution {
                    feature: j,
                    value: row.get(j).copied().unwrap_or(f32::NAN),
                    contribution,
                }
            })
            .collect();
        Explanation {
            raw,
            base: 0.0,
            contributions,
        }
    }
}

/// Returns the encoder and mirrored decoder with Glorot-uniform weights and zero biases.
fn init_layers(d: usize, hidden: &[usize], rng: &mut ChaCha8Rng) -> Vec<Dense> {
    let mut widths = vec![d];
    widths.extend_from_slice(hidden);
    widths.extend(hidden.iter().rev().skip(1));
    widths.push(d);
    let last = widths.len() - 2;
    widths
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (n_in, n_out) = (w[0], w[1]);
            let limit = (6.0 / (n_in + n_out) as f32).sqrt();
            Dense {
                n_in,
                n_out,
                weights: (0..n_in * n_out)
                    .map(|_| rng.random_range(-limit..limit))
                    .collect(),
                bias: vec![0.0; n_out],
                activation: if l == last {
                    Activation::Identity
                } else {
                    Activation::Tanh
                },
            }
        })
        .collect()
}

/// Offsets of each layer's activations and parameters in the flat buffers.
struct Shape {
    /// Where each layer's input starts in the activations buffer.
    act_start: Vec<usize>,
    /// Where each layer's weights start in the flat parameter vector (its biases follow).
    param_start: Vec<usize>,
    n_acts: usize,
    n_params: usize,
    max_width: usize,
}

impl Shape {
    fn of(layers: &[Dense]) -> Shape {
        let (mut act_start, mut param_start) = (Vec::new(), Vec::new());
        let (mut a, mut p, mut max_width) = (0, 0, 0);
        for l in layers {
            act_start.push(a);
            param_start.push(p);
            a += l.n_in;
            p += l.n_in * l.n_out + l.n_out;
            max_width = max_width.max(l.n_in).max(l.n_out);
        }
        let out = layers.last().map_or(0, |l| l.n_out);
        Shape {
            act_start,
            param_start,
            n_acts: a + out,
            n_params: p,
            max_width,
        }
    }
}

/// Scratch buffers of one worker.
struct Work {
    acts: Vec<f32>,
    delta: Vec<f32>,
    prev: Vec<f32>,
}

impl Work {
    fn new(shape: &Shape) -> Work {
        Work {
            acts: vec![0.0; shape.n_acts],
            delta: vec![0.0; shape.max_width],
            prev: vec![0.0; shape.max_width],
        }
    }
}

/// Fills every layer's outputs in `acts`, whose first part holds the input.
fn forward(layers: &[Dense], acts: &mut [f32]) {
    let mut start = 0;
    for layer in layers {
        let (done, rest) = acts.split_at_mut(start + layer.n_in);
        layer.forward(&done[start..], &mut rest[..layer.n_out]);
        start += layer.n_in;
    }
}

/// Adds one row's gradient of its loss `(1/d) Σ (ẑⱼ − zⱼ)²` to `grad` and returns the loss;
/// `work.acts` holds the row's forward pass.
fn backward(layers: &[Dense], shape: &Shape, work: &mut Work, grad: &mut [f32]) -> f64 {
    let Work { acts, delta, prev } = work;
    let d = layers[0].n_in;
    let out = &acts[shape.n_acts - d..];
    let mut loss = 0.0;
    let scale = 2.0 / d as f32;
    for ((dl, &zhat), &z) in delta.iter_mut().zip(out).zip(&acts[..d]) {
        loss += feature_error(z, zhat, d);
        *dl = scale * (zhat - z);
    }
    for (l, layer) in layers.iter().enumerate().rev() {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        let x = &acts[shape.act_start[l]..shape.act_start[l] + n_in];
        let (gw, rest) = grad[shape.param_start[l]..].split_at_mut(n_in * n_out);
        let gb = &mut rest[..n_out];
        for ((g_row, gb), &dl) in gw.chunks_exact_mut(n_in).zip(gb.iter_mut()).zip(&*delta) {
            axpy(g_row, dl, x);
            *gb += dl;
        }
        if l == 0 {
            break;
        }
        let p = &mut prev[..n_in];
        p.fill(0.0);
        for (w_row, &dl) in layer.weights.chunks_exact(n_in).zip(&*delta) {
            axpy(p, dl, w_row);
        }
        // The input of this layer is the previous layer's output: apply its derivative.
        if layers[l - 1].activation == Activation::Tanh {
            for (g, &a) in p.iter_mut().zip(x) {
                *g *= 1.0 - a * a;
            }
        }
        std::mem::swap(delta, prev);
    }
    loss
}

/// Returns `Σ a·b`, in eight lanes so the compiler vectorises it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    let mut s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += a·x`.
#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Adam's moment estimates over the flat parameter vector (layer by layer, weights then biases).
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f64,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(n: usize, lr: f64) -> Adam {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            lr,
        }
    }

    fn step(&mut self, layers: &mut [Dense], grad: &[f32]) {
        self.t += 1;
        let (b1, b2) = (Self::BETA1 as f32, Self::BETA2 as f32);
        let step = (self.lr * (1.0 - Self::BETA2.powi(self.t)).sqrt()
            / (1.0 - Self::BETA1.powi(self.t))) as f32;
        let params = layers
            .iter_mut()
            .flat_map(|l| l.weights.iter_mut().chain(l.bias.iter_mut()));
        for (((p, &g), m), v) in params
            .zip(grad)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step * *m / (v.sqrt() + Self::EPS);
        }
    }
}

#[cfg(test)]
mod tests;
