//! [`WebhookSink`]: alerts POSTed as a JSON array to an HTTP endpoint, with retries and
//! exponential backoff.
//!
//! `send` buffers; `flush` POSTs the buffered documents (in chunks of `batch` documents) and
//! returns only when each chunk got a 2xx answer. A failed attempt (connection error, timeout,
//! 5xx or 429) is retried after `backoff`, doubling each time up to `max_backoff`, at most
//! `retries` times; a 4xx other than 429 is not retried (the receiver refuses the documents, so
//! sending them again cannot help). Plain `http://` only: TLS would add a TLS stack to the
//! build; put a TLS-terminating proxy in front for `https` receivers.

use std::time::Duration;

use super::{AlertSink, SinkError};
use crate::alert::Alert;

/// Where and how the webhook posts.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// The URL (`http://host:port/path`).
    pub url: String,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubles each retry.
    pub backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Most documents per request.
    pub batch: usize,
}

impl WebhookConfig {
    /// Five retries from 200 ms up to 10 s, 10 s timeout, 500 documents per request.
    pub fn new(url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            retries: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            batch: 500,
        }
    }
}

/// POSTs alerts to a webhook; see the module docs.
pub struct WebhookSink {
    config: WebhookConfig,
    name: String,
    agent: ureq::Agent,
    pending: Vec<Alert>,
    body: Vec<u8>,
    /// Requests that succeeded, attempts that failed.
    pub(crate) delivered: u64,
    pub(crate) failed_attempts: u64,
}

impl WebhookSink {
    /// Builds the sink (no connection is made until the first flush).
    pub fn new(config: WebhookConfig) -> WebhookSink {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        WebhookSink {
            name: format!("webhook:{}", config.url),
            config,
            agent,
            pending: Vec::new(),
            body: Vec::new(),
            delivered: 0,
            failed_attempts: 0,
        }
    }

    /// POSTs `self.body`, retrying; returns the attempts made.
    fn post(&mut self) -> Result<u32, SinkError> {
        let mut wait = self.config.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .agent
                .post(&self.config.url)
                .header("content-type", "application/json")
                .send(&self.body[..]);
            let (retry, reason) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if (200..300).contains(&status) {
                        return Ok(attempt);
                    }
                    (
                        status >= 500 || status == 429,
                        format!("HTTP status {status}"),
                    )
                }
                Err(e) => (true, e.to_string()),
            };
            self.failed_attempts += 1;
            if !retry || attempt > self.config.retries {
                return Err(SinkError::Http {
                    url: self.config.url.clone(),
                    reason,
                    attempts: attempt,
                });
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(self.config.max_backoff);
        }
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        self.pending.extend_from_slice(alerts);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.config.batch.max(1));
            self.body.clear();
            serde_json::to_writer(&mut self.body, &self.pending[..n])?;
            self.post()?;
            self.delivered += 1;
            self.pending.drain(..n);
        }
        Ok(())
    }
}
