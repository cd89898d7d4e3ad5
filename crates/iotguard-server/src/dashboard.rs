//! The dashboard: one page of our own HTML, CSS and JavaScript, embedded in the binary (no CDN,
//! no build step, works offline). It reads the JSON API and the live SSE feed. Beside it, the
//! glossary page: `docs/glossary.md` (attack types, severities, every feature in words) rendered
//! once from the text embedded at build time.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::Path;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const GLOSSARY_MD: &str = include_str!("../../../docs/glossary.md");

/// Serves the page.
pub(crate) async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// Serves the page's script and style sheet.
pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("no asset {file}"))),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// Serves the glossary as a page in the dashboard's style.
pub(crate) async fn glossary() -> Html<&'static str> {
    static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut body = String::new();
        let options = pulldown_cmark::Options::ENABLE_TABLES;
        pulldown_cmark::html::push_html(
            &mut body,
            pulldown_cmark::Parser::new_ext(GLOSSARY_MD, options),
        );
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>iotguard glossary</title>\n<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body class=\"glossary\">\n<header><h1><a href=\"/\">iotguard</a> · glossary</h1></header>\n<main class=\"doc\">\n{body}</main>\n</body>\n</html>\n"
        )
    });
    Html(PAGE.as_str())
}
