//! Bearer-token checking. Anything that changes the running system needs
//! `Authorization: Bearer TOKEN`; reads need it too off loopback (unless `--public-read`),
//! checked by [`crate::guard`], which also takes `?token=` there (an `EventSource` or an
//! iframe cannot send headers).

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

/// Lets a request through only with the configured bearer token. Without a configured token
/// every write is refused (with a message saying how to set one).
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = state.token() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "write endpoints are disabled: start the server with an API token ({})",
                crate::config::TOKEN_ENV
            ),
        ));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    check(given, expected)?;
    Ok(next.run(request).await)
}

/// Checks a given token against the expected one.
pub(crate) fn check(given: Option<&str>, expected: &str) -> Result<(), ApiError> {
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: send `Authorization: Bearer TOKEN`",
        )),
        Some(t) if constant_time_eq(t.trim().as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong bearer token",
        )),
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_every_byte_is() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
