//! The Kafka-protocol broker the Kafka tests talk to: its address comes from
//! `IOTGUARD_KAFKA_BROKER` (`.ci/run` starts tansu and sets it), and each test makes topics of
//! its own with unique names, so tests run in parallel against one broker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable holding the broker's `host:port`.
pub const BROKER_ENV: &str = "IOTGUARD_KAFKA_BROKER";

/// Returns the broker's address, or `None` after printing a visible skip line when
/// `IOTGUARD_KAFKA_BROKER` is not set.
pub fn kafka_broker(test: &str) -> Option<String> {
    match std::env::var(BROKER_ENV) {
        Ok(addr) if !addr.trim().is_empty() => Some(addr.trim().to_string()),
        _ => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "SKIPPED {test}: {BROKER_ENV} not set (.ci/run starts a broker and sets it)"
                );
            }
            None
        }
    }
}

/// Returns a topic (or group) name no other test or run uses: `prefix`, the process id, the
/// time in microseconds and a counter.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!(
        "{prefix}-{}-{micros}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_keep_the_prefix() {
        let a = unique_name("flows");
        let b = unique_name("flows");
        assert_ne!(a, b);
        assert!(a.starts_with("flows-") && b.starts_with("flows-"));
    }
}
