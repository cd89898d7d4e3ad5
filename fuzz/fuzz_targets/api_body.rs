//! Fuzz target: the API's request parsers on any bytes, through the real router (the same
//! extractors and handlers a client reaches). The first byte picks the request: a
//! `POST /api/v1/score` body (with and without explanations), a `POST /api/v1/models/activate`
//! body, or the query string of `GET /api/v1/alerts` (and an alert id in the path); the rest
//! is the body or the query. Whatever the bytes, the server must answer (no panic gets out),
//! never with a 500 (a panic on the blocking pool or a parse failure taken for an internal
//! error), and every answer but a 421 is JSON. The state: a logistic regression trained once
//! on a committed fixture, a models directory holding only it, an empty alert store.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use iotguard_detect::{AlertStore, ModelHandle};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_runtime::lab::Choice;
use iotguard_server::{app, AppState};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let capture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/zeek/explore_a.conn.log.labeled");
        let batch = BatchConfig {
            threads: 1,
            ..Default::default()
        };
        let (file, _) = iotguard_runtime::lab::train_model(
            ModelKind::Logreg,
            &[Input::File(capture)],
            &batch,
            &Default::default(),
            1,
            &Choice::Default,
            &mut |e| panic!("the fixture is readable: {e}"),
        )
        .expect("a model trains on the fixture");
        let models = dir.path().join("models");
        std::fs::create_dir(&models).expect("models folder");
        let path = models.join("model.json");
        file.save(std::fs::File::create(&path).expect("model file"))
            .expect("model saved");
        let store = AlertStore::open(&dir.path().join("alerts.db")).expect("alert store");
        let state = AppState::builder()
            .model(ModelHandle::load(&path).expect("model loads"))
            .models_dir(Some(models))
            .store(store)
            .build();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture {
            _dir: dir,
            runtime,
            router: app(state),
        }
    })
}

/// Percent-encodes every byte, so any bytes make a valid URI query or path segment.
fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn request(data: &[u8]) -> Request<Body> {
    let (kind, rest) = data.split_first().map_or((0, data), |(k, r)| (*k, r));
    let post = |uri: &str| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(rest.to_vec()))
            .expect("request")
    };
    match kind % 5 {
        0 => post("/api/v1/score"),
        1 => post("/api/v1/score?explain=false"),
        2 => post("/api/v1/models/activate"),
        // The query parsers: raw bytes where they are valid, percent-encoded otherwise.
        3 => {
            let raw = std::str::from_utf8(rest).ok().filter(|q| {
                q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~=&%+,:".contains(&b))
            });
            let query = raw.map_or_else(|| encode(rest), str::to_string);
            Request::get(format!("/api/v1/alerts?{query}"))
                .body(Body::empty())
                .expect("request")
        }
        _ => Request::get(format!("/api/v1/alerts/{}", encode(rest)))
            .body(Body::empty())
            .expect("request"),
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let response = fx
        .runtime
        .block_on(fx.router.clone().oneshot(request(data)))
        .expect("the router is infallible");
    let status = response.status();
    let body = fx
        .runtime
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("the body is read");
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500 on a client's bytes: {}",
        String::from_utf8_lossy(&body)
    );
    if status != StatusCode::MISDIRECTED_REQUEST {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
            "answer {status} is not JSON: {}",
            String::from_utf8_lossy(&body)
        );
    }
});
