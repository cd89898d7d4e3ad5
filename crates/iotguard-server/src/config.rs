//! The `[server]` section: where to listen and the API token. Validated before anything
//! starts: listening anywhere but loopback without a token is refused.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Error, Result};

/// The environment variable the API token is read from when no configuration gives one.
pub const TOKEN_ENV: &str = "IOTGUARD_API_TOKEN";

/// The default address: loopback only, port 8080.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How the server listens and who may change things.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The bearer token write endpoints require. Without one, write endpoints refuse every
    /// request, and only loopback addresses may be listened on.
    pub token: Option<String>,
    /// Host names (without port) the `Host` header may carry besides the listen address's
    /// own host (and `localhost`, `127.0.0.1`, `[::1]` on loopback). Empty on an unspecified
    /// address (`0.0.0.0`, `[::]`) means any host is accepted.
    pub allowed_hosts: Vec<String>,
    /// Off a loopback address, reads need the token too unless this is set (`--public-read`):
    /// then reads are open and only writes need the token. No effect on loopback.
    pub public_read: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("allowed_hosts", &self.allowed_hosts)
            .field("public_read", &self.public_read)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            token: None,
            allowed_hosts: Vec::new(),
            public_read: false,
        }
    }
}

impl ServerConfig {
    /// Checks the configuration: a token, when given, is non-empty and printable; a
    /// non-loopback address needs a token.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.token {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::Config(
                    "the API token must be non-empty printable ASCII without spaces".into(),
                ));
            }
        }
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(Error::Config(format!(
                "refusing to listen on {} without an API token: set {TOKEN_ENV} (or --token), \
                 or listen on 127.0.0.1",
                self.listen
            )));
        }
        for h in &self.allowed_hosts {
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
            {
                return Err(Error::Config(format!(
                    "--allowed-host takes a host name without scheme or path, not {h:?}"
                )));
            }
        }
        Ok(())
    }

    /// Whether every `Host` header is accepted: an unspecified address (`0.0.0.0`, `[::]`)
    /// without `allowed_hosts`. Say so at startup ([`ServerConfig::any_host_warning`]).
    pub fn accepts_any_host(&self) -> bool {
        self.listen.ip().is_unspecified() && self.allowed_hosts.is_empty()
    }

    /// The startup warning when [`ServerConfig::accepts_any_host`], else `None`.
    pub fn any_host_warning(&self) -> Option<String> {
        self.accepts_any_host().then(|| {
            format!(
                "listening on {} without --allowed-host: any Host header is accepted \
                 (add --allowed-host NAME for each name this server is reached by to refuse \
                 the others)",
                self.listen
            )
        })
    }

    /// Whether reads (every route but `/health` and the dashboard's static files) need the
    /// token: off loopback, unless `public_read`.
    pub fn reads_need_token(&self) -> bool {
        !self.listen.ip().is_loopback() && !self.public_read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, token: Option<&str>) -> ServerConfig {
        ServerConfig {
            listen: listen.parse().unwrap(),
            token: token.map(str::to_string),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn loopback_needs_no_token() {
        assert!(config("127.0.0.1:8080", None).validate().is_ok());
        assert!(config("[::1]:0", None).validate().is_ok());
    }

    #[test]
    fn other_addresses_need_a_token() {
        let err = config("0.0.0.0:8080", None).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "server configuration: refusing to listen on 0.0.0.0:8080 without an API token: \
             set IOTGUARD_API_TOKEN (or --token), or listen on 127.0.0.1"
        );
        assert!(config("0.0.0.0:8080", Some("s3cret")).validate().is_ok());
    }

    #[test]
    fn empty_or_spaced_token_is_refused() {
        assert!(config("127.0.0.1:1", Some("")).validate().is_err());
        assert!(config("127.0.0.1:1", Some("a b")).validate().is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let s = format!("{:?}", config("127.0.0.1:1", Some("s3cret")));
        assert!(!s.contains("s3cret"), "{s}");
    }
}
