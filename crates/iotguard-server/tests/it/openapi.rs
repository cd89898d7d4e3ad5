//! The OpenAPI document matches the router: every API route is documented with its method,
//! every documented operation is a route, and every documented response is JSON-described.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use iotguard_server::{app, routes, AppState, RouteKind, OPENAPI_JSON};
use serde_json::Value;

use crate::{call, get};

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("the OpenAPI document is JSON")
}

#[test]
fn every_api_route_is_documented_and_nothing_else() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.0.3");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = routes()
        .into_iter()
        .filter(|(_, _, kind)| *kind == RouteKind::Api)
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // The dashboard's routes are pages, not API.
    let pages: Vec<_> = routes()
        .into_iter()
        .filter(|(_, _, kind)| *kind == RouteKind::Page)
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(pages, ["/", "/glossary", "/assets/{file}"]);
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20);
    for r in refs {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn write_operations_and_only_they_need_the_token() {
    let doc = document();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let write = path == "/api/v1/models/activate"
                || path == "/api/v1/models/threshold"
                || (path == "/api/v1/alerts/{id}/feedback" && method == "post");
            assert_eq!(secured, write, "{method} {path}");
            if write {
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let (status, body) = call(
        &app(AppState::builder().build()),
        get("/api/v1/openapi.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, document());
}
