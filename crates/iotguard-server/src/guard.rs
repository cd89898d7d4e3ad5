//! What the real server checks before the router sees a request, and what every answer
//! carries:
//!
//! - the `Host` header must name this server (against DNS rebinding: a web page whose name
//!   now resolves to 127.0.0.1 would otherwise read the loopback API). Accepted: the listen
//!   address's host, `localhost`/`127.0.0.1`/`[::1]` on loopback, and every `--allowed-host`,
//!   with any port or none. On an unspecified address (`0.0.0.0`, `[::]`) without
//!   `--allowed-host` any host is accepted (the CLI says so at startup). Anything else: 421.
//! - off loopback (unless `--public-read`), every route but `/health` and the dashboard's
//!   static files (`/`, `/assets/…`, which hold no data) needs the token, as
//!   `Authorization: Bearer TOKEN` or `?token=TOKEN` (the live feed's `EventSource` and the
//!   report's iframe cannot send headers).
//! - security headers ([`add_security_headers`]) on every answer, the guard's own included.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ServerConfig;

/// The dashboard's policy: our own script and style sheet only, `style="…"` attributes (the
/// bars and the inline SVG chart set widths and colours that way), same-origin API calls and
/// the comparison report in a same-origin iframe; no framing of the dashboard itself.
pub(crate) const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
     connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The policy of the report pages `compare` and `explore` write: their inline `<style>`, no
/// script at all, framed only by the dashboard (same origin).
pub(crate) const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// Adds the security headers an answer does not set itself (the report pages set a looser
/// policy and `X-Frame-Options: SAMEORIGIN`, so the dashboard can show them in an iframe).
pub(crate) fn add_security_headers(headers: &mut HeaderMap) {
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// The router's last layer: [`add_security_headers`] on every answer.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    add_security_headers(response.headers_mut());
    response
}

/// What the guard checks, from the server's configuration.
#[derive(Clone)]
pub(crate) struct Guard {
    /// Accepted host names, lower case, without port; `None` accepts any.
    hosts: Option<Arc<[String]>>,
    /// The token reads need, when they need one.
    read_token: Option<Arc<str>>,
}

impl Guard {
    /// The guard of a (validated) configuration.
    pub(crate) fn new(config: &ServerConfig) -> Guard {
        let ip = config.listen.ip();
        let hosts = if config.accepts_any_host() {
            None
        } else {
            let mut hosts: Vec<String> = config
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            if !ip.is_unspecified() {
                hosts.push(match ip {
                    std::net::IpAddr::V4(v4) => v4.to_string(),
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                });
            }
            if ip.is_loopback() {
                hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
            }
            Some(hosts.into())
        };
        let read_token = if config.reads_need_token() {
            config.token.as_deref().map(Arc::from)
        } else {
            None
        };
        Guard { hosts, read_token }
    }

    /// Whether the `Host` header names this server.
    fn host_ok(&self, host: Option<&str>) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let Some(host) = host else {
            return false;
        };
        let name = strip_port(host);
        hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// `example.com:8080` → `example.com`, `[::1]:8080` → `[::1]`, `[::1]` → `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a path is served without the token even when reads need it.
fn open_path(path: &str) -> bool {
    path == "/health" || path == "/" || path.starts_with("/assets/")
}

/// The middleware: 421 for a foreign `Host`, 401 for a read without the token when reads need
/// it, security headers on both.
pub(crate) async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !guard.host_ok(host) {
        let message = match host {
            Some(h) => format!(
                "misdirected request: this server does not answer for host {h:?} \
                 (start it with --allowed-host NAME to accept that name)\n"
            ),
            None => "misdirected request: no Host header\n".to_string(),
        };
        let mut response = (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response();
        add_security_headers(response.headers_mut());
        return response;
    }
    if let Some(expected) = &guard.read_token {
        if !open_path(request.uri().path()) {
            let header_token = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string);
            let given = header_token.or_else(|| {
                Query::<HashMap<String, String>>::try_from_uri(request.uri())
                    .ok()
                    .and_then(|Query(mut q)| q.remove("token"))
            });
            if let Err(e) = crate::auth::check(given.as_deref(), expected) {
                let mut response = e.into_response();
                add_security_headers(response.headers_mut());
                return response;
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("127.0.0.1:1"), "127.0.0.1");
    }

    fn guard(listen: &str, allowed: &[&str]) -> Guard {
        Guard::new(&ServerConfig {
            listen: listen.parse().unwrap(),
            token: Some("t".into()),
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            public_read: false,
        })
    }

    #[test]
    fn hosts_accepted() {
        let g = guard("127.0.0.1:8080", &["box.lan"]);
        for ok in ["127.0.0.1:8080", "LOCALHOST", "[::1]:9", "box.lan:8080"] {
            assert!(g.host_ok(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
        ] {
            assert!(!g.host_ok(Some(bad)), "{bad}");
        }
        assert!(!g.host_ok(None));
        let g = guard("192.168.1.5:80", &[]);
        assert!(g.host_ok(Some("192.168.1.5")));
        assert!(!g.host_ok(Some("localhost")));
        assert!(guard("0.0.0.0:80", &[]).host_ok(Some("anything.example")));
        let g = guard("0.0.0.0:80", &["box.lan"]);
        assert!(g.host_ok(Some("box.lan:80")) && !g.host_ok(Some("0.0.0.0")));
    }
}
