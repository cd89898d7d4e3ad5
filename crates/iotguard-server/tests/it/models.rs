//! The model endpoints: the active model, the comparison report, and the hot swap behind the
//! bearer token.

use axum::http::StatusCode;
use iotguard_detect::ModelHandle;
use iotguard_server::{app, AppState};
use serde_json::json;

use crate::{call, get, models, post_json};

/// The one answer to a path that is not a regular file inside the models directory.
const REFUSED: &str = "refused: the path must name a regular model file inside the server's \
    models directory (a name relative to it, or an absolute path inside it)";

fn app_with(
    token: Option<&str>,
    report: Option<std::path::PathBuf>,
) -> (axum::Router, ModelHandle) {
    let handle = ModelHandle::load(&models().a).unwrap();
    let state = AppState::builder()
        .model(handle.clone())
        .token(token.map(str::to_string))
        .report_dir(report)
        .build();
    (app(state), handle)
}

#[tokio::test]
async fn models_describe_the_active_model_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("report.json"),
        r#"{"models": [{"kind": "gbdt", "pooled": {"f1": 0.9}}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("report.html"),
        "<!DOCTYPE html>\n<html lang=\"en\">plots</html>",
    )
    .unwrap();
    let (app, _) = app_with(None, Some(dir.path().to_path_buf()));
    let (status, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let active = &body["active"];
    assert_eq!(active["kind"], json!("logreg"));
    assert_eq!(active["path"], json!(models().a.display().to_string()));
    assert_eq!(active["training"]["rows"], json!(6_000));
    assert!(
        active["metrics"]["validation"]["f1"].is_number(),
        "{active}"
    );
    assert_eq!(active["generation"], json!(0));
    assert_eq!(active["lineage"], json!(null), "trained, not retrained");
    assert_eq!(body["comparison"]["models"][0]["kind"], json!("gbdt"));
    assert_eq!(body["comparison_html"], json!("/api/v1/models/report"));
    let (status, html) = call(&app, get("/api/v1/models/report")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        html,
        json!("<!DOCTYPE html>\n<html lang=\"en\">plots</html>")
    );
    // The dashboard's dark page asks for the dark variant.
    let (status, html) = call(&app, get("/api/v1/models/report?theme=dark")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        html,
        json!("<!DOCTYPE html>\n<html lang=\"en\" class=\"dark\">plots</html>")
    );
    let (status, body) = call(&app, get("/api/v1/models/report?theme=sepia")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        json!("unknown theme `sepia`; one of: light, dark")
    );
}

/// A shadow on trial beside the active model is listed with its names and counts, and goes
/// from the answer once cleared.
#[tokio::test]
async fn models_show_the_shadow_on_trial() {
    let (app, handle) = app_with(None, None);
    let (_, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(body["active"]["shadow"], json!(null));
    let loaded = iotguard_runtime::lab::load_model(&models().b).unwrap();
    handle
        .set_shadow(iotguard_detect::ActiveModel::new(loaded, Some(&models().b)))
        .unwrap();
    let (status, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let shadow = &body["active"]["shadow"];
    assert_eq!(
        shadow["model"]["path"],
        json!(models().b.display().to_string())
    );
    assert_eq!(
        shadow["beside"]["path"],
        json!(models().a.display().to_string())
    );
    assert_eq!(
        shadow["counts"],
        json!({"flows": 0, "active_alerts": 0, "shadow_alerts": 0, "shadow_only": 0, "active_only": 0})
    );
    assert!(shadow["since"].as_str().unwrap().ends_with('Z'), "{shadow}");
    assert_eq!(body["active"]["generation"], json!(1));
    handle.clear_shadow().unwrap();
    let (_, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(body["active"]["shadow"], json!(null));
}

/// Every model file of the models directory is listed, newest first, with its lineage and the
/// active one marked; other JSON files are left out, a broken model file is listed with its
/// error, and activating another file moves the mark.
#[tokio::test]
async fn models_list_every_version_in_the_models_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("current.json");
    std::fs::copy(&models().a, &a).unwrap();
    // A retrained version of it, created an hour later, with a lineage.
    let mut retrained: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&models().b).unwrap()).unwrap();
    let created = retrained["created_unix_secs"].as_i64().unwrap();
    let a_created = iotguard_runtime::lab::load_model(&a)
        .unwrap()
        .file
        .created_unix_secs;
    retrained["created_unix_secs"] = json!(created.max(a_created) + 3600);
    let a_id = iotguard_runtime::lab::load_model(&a).unwrap().file.id();
    retrained["lineage"] = json!({
        "parent": {"id": a_id, "kind": "logreg"},
        "trigger": "10 verdicts (37 in the store)",
        "promoted": false,
        "reason": "not swapped in: as a shadow on 10000 live flows it would have added 300 alerts",
    });
    std::fs::write(
        d.join("current.retrained-1.json"),
        serde_json::to_vec(&retrained).unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("report.json"), r#"{"models": []}"#).unwrap();
    std::fs::write(d.join("broken.json"), r#"{"format": "iotguard-model"}"#).unwrap();
    let handle = ModelHandle::load(&a).unwrap();
    let state = AppState::builder()
        .model(handle.clone())
        .token(Some("t".to_string()))
        .build();
    let app = app(state);
    let (status, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let versions = body["versions"].as_array().unwrap();
    let files: Vec<&str> = versions
        .iter()
        .map(|v| v["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["current.retrained-1.json", "current.json", "broken.json"]
    );
    let (new, old, broken) = (&versions[0], &versions[1], &versions[2]);
    assert_eq!(old["active"], json!(true));
    assert_eq!(old["id"], json!(a_id));
    assert_eq!(old["parent"], json!(null));
    assert_eq!(old["kind"], json!("logreg"));
    assert_eq!(new["active"], json!(false));
    assert_eq!(new["parent"], json!(a_id));
    assert_eq!(new["promoted"], json!(false));
    assert_eq!(new["trigger"], json!("10 verdicts (37 in the store)"));
    assert!(new["reason"]
        .as_str()
        .unwrap()
        .starts_with("not swapped in: as a shadow"));
    assert!(new["threshold"].is_number());
    assert_eq!(broken["id"], json!(null));
    assert_eq!(
        broken["error"],
        json!("model file: model file version missing is not the version this build reads (1)")
    );
    // Activating the retrained version moves the mark (the listing is read again).
    let (status, _) = call(
        &app,
        post_json(
            "/api/v1/models/activate",
            r#"{"path": "current.retrained-1.json"}"#,
            Some("t"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(&app, get("/api/v1/models")).await;
    let active: Vec<&str> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["active"] == json!(true))
        .map(|v| v["file"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["current.retrained-1.json"]);
}

#[tokio::test]
async fn without_a_report_the_report_is_absent() {
    let (app, _) = app_with(None, None);
    let (_, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(body["comparison"], json!(null));
    assert_eq!(body["comparison_html"], json!(null));
    let (status, _) = call(&app, get("/api/v1/models/report")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_exploration_of_the_training_data_is_linked_and_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("explore.json"),
        r#"{"inputs": [{"input": "/data/a.conn.log"}, {"input": "b.log"}], "checks": {}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("explore.html"), "<html>matrix</html>").unwrap();
    let state = AppState::builder()
        .model(ModelHandle::load(&models().a).unwrap())
        .explore_dir(Some(dir.path().to_path_buf()))
        .build();
    let app = app(state);
    let (_, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(
        body["exploration"],
        json!({"html": "/api/v1/models/explore", "inputs": ["a.conn.log", "b.log"]})
    );
    let (status, html) = call(&app, get("/api/v1/models/explore")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html, json!("<html>matrix</html>"));
    // Without one: no link, and the page is a 404 saying how to get one.
    let (app, _) = app_with(None, None);
    let (_, body) = call(&app, get("/api/v1/models")).await;
    assert_eq!(body["exploration"], json!(null));
    let (status, body) = call(&app, get("/api/v1/models/explore")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"].as_str().unwrap().contains("--explore DIR"),
        "{body}"
    );
}

#[tokio::test]
async fn activation_needs_the_token() {
    let body = json!({"path": models().b}).to_string();
    let (app, handle) = app_with(Some("s3cret"), None);
    for (token, message) in [
        (
            None,
            "missing bearer token: send `Authorization: Bearer TOKEN`",
        ),
        (Some("guess"), "wrong bearer token"),
    ] {
        let (status, answer) = call(&app, post_json("/api/v1/models/activate", &body, token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer, json!({"error": "unauthorized", "message": message}));
    }
    assert_eq!(handle.generation(), 0, "nothing swapped");

    // A server started without a token refuses every write.
    let (open, handle) = app_with(None, None);
    let (status, answer) = call(
        &open,
        post_json("/api/v1/models/activate", &body, Some("anything")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["message"],
        json!(
            "write endpoints are disabled: start the server with an API token (IOTGUARD_API_TOKEN)"
        )
    );
    assert_eq!(handle.generation(), 0);
}

#[tokio::test]
async fn activation_swaps_the_model_the_detector_uses() {
    let (app, handle) = app_with(Some("s3cret"), None);
    let body = json!({"path": models().b}).to_string();
    let (status, answer) = call(
        &app,
        post_json("/api/v1/models/activate", &body, Some("s3cret")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(handle.generation(), 1);
    assert_eq!(
        answer["active"]["path"],
        json!(models().b.display().to_string())
    );
    assert_eq!(answer["active"]["generation"], json!(1));
    assert_eq!(
        handle.info().path.as_deref(),
        Some(models().b.display().to_string().as_str())
    );

    let missing = json!({"path": "/no/such/model.json"}).to_string();
    let (status, answer) = call(
        &app,
        post_json("/api/v1/models/activate", &missing, Some("s3cret")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["message"], json!(REFUSED), "{answer}");
    assert_eq!(handle.generation(), 1, "a failed load changes nothing");

    let (status, answer) = call(
        &app,
        post_json(
            "/api/v1/models/activate",
            r#"{"file": "x"}"#,
            Some("s3cret"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `file`"),
        "{answer}"
    );
}

/// Activates `path` on a server whose models directory is `dir`; returns the answer.
async fn activate_in(
    dir: &std::path::Path,
    path: &str,
) -> (StatusCode, serde_json::Value, ModelHandle) {
    let handle = ModelHandle::load(&models().a).unwrap();
    let app = app(AppState::builder()
        .model(handle.clone())
        .token(Some("s3cret".into()))
        .models_dir(Some(dir.to_path_buf()))
        .build());
    let body = json!({ "path": path }).to_string();
    let (status, answer) = call(
        &app,
        post_json("/api/v1/models/activate", &body, Some("s3cret")),
    )
    .await;
    (status, answer, handle)
}

#[tokio::test]
async fn activation_loads_a_model_by_its_name_in_the_models_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&models().b, dir.path().join("b.json")).unwrap();
    let (status, answer, handle) = activate_in(dir.path(), "b.json").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(handle.generation(), 1);
    let real = std::fs::canonicalize(dir.path().join("b.json")).unwrap();
    assert_eq!(answer["active"]["path"], json!(real.display().to_string()));
    // An absolute path inside the directory is accepted too.
    let (status, answer, _) = activate_in(dir.path(), &real.display().to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn activation_refuses_paths_outside_the_models_directory_alike() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("models");
    std::fs::create_dir(&dir).unwrap();
    // A JSON file outside the directory whose `format` an error would echo.
    let outside = root.path().join("secret.json");
    std::fs::write(&outside, r#"{"format": "top-secret-value"}"#).unwrap();
    std::fs::copy(&models().b, root.path().join("b.json")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("link.json")).unwrap();
    std::os::unix::fs::symlink(root.path().join("b.json"), dir.join("b-link.json")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    for path in [
        outside.display().to_string(),
        root.path().join("missing.json").display().to_string(),
        "../secret.json".to_string(),
        "../b.json".to_string(),
        "sub/../../b.json".to_string(),
        "link.json".to_string(),
        "b-link.json".to_string(),
        "sub".to_string(),
        "missing.json".to_string(),
        "/etc/passwd".to_string(),
        String::new(),
    ] {
        let (status, answer, handle) = activate_in(&dir, &path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        assert_eq!(
            answer,
            json!({"error": "unprocessable", "message": REFUSED}),
            "{path}"
        );
        assert_eq!(handle.generation(), 0, "{path}");
    }
}

#[tokio::test]
async fn activation_refuses_a_fifo_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let Ok(answer) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        activate_in(dir.path(), "model.json"),
    )
    .await
    else {
        // Release the blocked open (read+write does not block on Linux) so the runtime can
        // end, then fail.
        drop(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&fifo),
        );
        panic!("a FIFO blocked activation");
    };
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.1);
    assert_eq!(answer.1["message"], json!(REFUSED));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
