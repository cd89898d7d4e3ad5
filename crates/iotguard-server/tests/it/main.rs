//! Integration tests of the server: the API through the router without a socket
//! (`tower::ServiceExt::oneshot`), the live feed, the OpenAPI document against the router, and
//! the real server on a loopback port. Models are trained here on simulated captures and alerts
//! come from the real detector into a real SQLite store.

mod api;
mod drift;
mod feedback;
mod guard;
mod live;
mod load;
mod models;
mod openapi;
mod server;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use iotguard_detect::{AlertStore, DetectConfig, Detector, ModelHandle};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_sim::{SimConfig, Simulator};
use serde_json::Value;
use tower::ServiceExt;

/// Simulated flows of a seed.
pub(crate) fn sim_flows(seed: u64, n: usize) -> Vec<FlowRecord> {
    Simulator::new(SimConfig::default().with_seed(seed))
        .unwrap()
        .flows()
        .take(n)
        .collect()
}

/// Trains a model of `kind` on `n` simulated flows of `seed` into `dir`, returning its path.
pub(crate) fn train(dir: &Path, kind: ModelKind, seed: u64, n: usize) -> PathBuf {
    let capture = dir.join(format!("sim-{seed}.log"));
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: None,
    };
    let mut w = ZeekTsvWriter::new(std::fs::File::create(&capture).unwrap(), options).unwrap();
    for f in sim_flows(seed, n) {
        w.write(&f).unwrap();
    }
    w.finish().unwrap();
    let batch = BatchConfig {
        options: Default::default(),
        threads: 1,
        ..Default::default()
    };
    let (file, _) = iotguard_runtime::lab::train_model(
        kind,
        &[Input::File(capture)],
        &batch,
        &Default::default(),
        seed,
        &iotguard_runtime::lab::Choice::Default,
        &mut |e| panic!("simulated flows are readable: {e}"),
    )
    .unwrap();
    let path = dir.join(format!("{}-{seed}.json", kind.name()));
    file.save(std::fs::File::create(&path).unwrap()).unwrap();
    path
}

/// Two models trained once for every test, on different simulated flows.
pub(crate) struct Models {
    _dir: tempfile::TempDir,
    /// A logistic regression trained on seed 1.
    pub(crate) a: PathBuf,
    /// A logistic regression trained on seed 2.
    pub(crate) b: PathBuf,
}

/// Returns the models, training them on first use.
pub(crate) fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let a = train(dir.path(), ModelKind::Logreg, 1, 6_000);
        let b = train(dir.path(), ModelKind::Logreg, 2, 6_000);
        Models { _dir: dir, a, b }
    })
}

/// An alert store filled by the real detector running over simulated flows of seed 3.
pub(crate) fn store_with_alerts(dir: &Path) -> AlertStore {
    let store = AlertStore::open(&dir.join("alerts.db")).unwrap();
    let handle = ModelHandle::load(&models().a).unwrap();
    let mut detector = Detector::new(handle, DetectConfig::default()).unwrap();
    let mut alerts = Vec::new();
    for f in sim_flows(3, 8_000) {
        detector.process(&f);
    }
    detector.drain_alerts(&mut alerts);
    assert!(!alerts.is_empty(), "simulated attacks raise alerts");
    store.upsert(&alerts).unwrap();
    store.commit().unwrap();
    store
}

/// Sends a request through the router and returns the status and the body as JSON (or as a
/// JSON string when the body is not JSON).
pub(crate) async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// A GET request.
pub(crate) fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// A POST request with a JSON body and an optional bearer token.
pub(crate) fn post_json(uri: &str, body: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

/// A value as JSON the way the server writes it (through text, so `f32`s keep their short
/// form).
pub(crate) fn as_json(v: &impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}
