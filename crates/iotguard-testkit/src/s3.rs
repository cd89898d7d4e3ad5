//! The S3-protocol server the S3 archive tests talk to: its endpoint comes from
//! `IOTGUARD_S3_ENDPOINT` and its bucket from `IOTGUARD_S3_BUCKET` (`bench/s3_server.sh`
//! starts moto's server and sets both; `.ci/run` sources it). Tests write under prefixes of
//! their own ([`crate::kafka::unique_name`]), so they run in parallel against one server. The
//! fault test starts servers of its own from `IOTGUARD_S3_SERVER_BIN`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable holding the server's `http://host:port`.
pub const ENDPOINT_ENV: &str = "IOTGUARD_S3_ENDPOINT";
/// The environment variable holding the test bucket's name.
pub const BUCKET_ENV: &str = "IOTGUARD_S3_BUCKET";
/// The environment variable holding the server program (`moto_server`).
pub const SERVER_BIN_ENV: &str = "IOTGUARD_S3_SERVER_BIN";

/// A running test server.
#[derive(Clone, Debug)]
pub struct S3Server {
    /// `http://host:port`.
    pub endpoint: String,
    /// A bucket that exists.
    pub bucket: String,
}

/// Returns the test server, or `None` after printing a visible skip line when
/// `IOTGUARD_S3_ENDPOINT` is not set.
pub fn s3_server(test: &str) -> Option<S3Server> {
    let endpoint = std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|e| !e.trim().is_empty());
    let Some(endpoint) = endpoint else {
        skip(test, "no S3 server (IOTGUARD_S3_ENDPOINT unset)");
        return None;
    };
    let bucket = std::env::var(BUCKET_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "iotguard-test".to_string());
    Some(S3Server {
        endpoint: endpoint.trim().trim_end_matches('/').to_string(),
        bucket,
    })
}

/// Writes the skip line to the process's standard error directly, past the test harness's
/// capture, so it shows in every test run.
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

impl S3Server {
    /// The `object_store` settings that reach this server (test credentials, plain HTTP).
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "testing"),
            ("aws_secret_access_key", "testing"),
            ("aws_region", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The standard AWS environment variables that reach this server, for a child process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Creates a bucket (a plain `PUT /name`; moto takes it unsigned).
    pub fn create_bucket(&self, name: &str) -> std::io::Result<()> {
        let hostport = self
            .endpoint
            .strip_prefix("http://")
            .unwrap_or(&self.endpoint);
        let mut s = TcpStream::connect(hostport)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "creating bucket {name}: {}",
                answer.lines().next().unwrap_or("no answer")
            )))
        }
    }
}

/// A server process of a test's own (for stopping it mid-run), from `IOTGUARD_S3_SERVER_BIN`.
#[derive(Debug)]
pub struct OwnServer {
    child: Child,
    /// Where it listens.
    pub server: S3Server,
    port: u16,
}

impl OwnServer {
    /// Starts `moto_server` on a free port with bucket `bucket`, or returns `None` after a
    /// visible skip line when `IOTGUARD_S3_SERVER_BIN` is not set.
    pub fn start(test: &str, bucket: &str) -> Option<OwnServer> {
        let Some(bin) = std::env::var_os(SERVER_BIN_ENV).filter(|b| !b.is_empty()) else {
            skip(
                test,
                "no S3 server program (IOTGUARD_S3_SERVER_BIN unset; bench/s3_server.sh sets it)",
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = spawn(Path::new(&bin), port);
        let server = OwnServer {
            child,
            server: S3Server {
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: bucket.to_string(),
            },
            port,
        };
        server.wait_ready();
        server
            .server
            .create_bucket(bucket)
            .expect("creating the bucket");
        Some(server)
    }

    /// Stops the server (moto forgets every bucket).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, with no bucket.
    pub fn restart(&mut self) {
        let bin = std::env::var_os(SERVER_BIN_ENV).expect("IOTGUARD_S3_SERVER_BIN");
        self.child = spawn(Path::new(&bin), self.port);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the S3 server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(bin: &Path, port: u16) -> Child {
    Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the S3 server")
}
