//! Topics: how many partitions a topic has, and creating the ones a stage writes to. tansu (and
//! a Kafka with `auto.create.topics.enable=false`) does not create topics on first produce, so
//! stages check their topics at startup and fail with a clear message instead of timing out.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// How long metadata and admin requests may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Returns the number of partitions of `topic`, or `None` when it does not exist.
pub fn partition_count(config: &KafkaConfig, topic: &str) -> Result<Option<usize>> {
    let client: BaseConsumer = config
        .admin()
        .create()
        .map_err(Error::kafka("creating a metadata client"))?;
    let metadata = client
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(Error::kafka(format!("reading the metadata of `{topic}`")))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len()))
}

/// Creates `topic` with `partitions` partitions (replication factor 1) unless it exists;
/// returns true if it was created.
pub fn ensure_topic(config: &KafkaConfig, topic: &str, partitions: usize) -> Result<bool> {
    if partition_count(config, topic)?.is_some() {
        return Ok(false);
    }
    let admin: AdminClient<DefaultClientContext> = config
        .admin()
        .create()
        .map_err(Error::kafka("creating an admin client"))?;
    let partitions = i32::try_from(partitions.max(1)).unwrap_or(i32::MAX);
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::Stage(format!("starting an admin runtime: {e}")))?;
    let results = runtime
        .block_on(admin.create_topics([&new], &options))
        .map_err(Error::kafka(format!("creating topic `{topic}`")))?;
    for result in results {
        match result {
            Ok(_) => {}
            // Another client created it between our check and our request.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => return Ok(false),
            Err((name, code)) => {
                return Err(Error::Kafka {
                    what: format!("creating topic `{name}`"),
                    source: rdkafka::error::KafkaError::AdminOp(code),
                })
            }
        }
    }
    Ok(true)
}

/// Fails with [`Error::MissingTopic`] unless `topic` exists; returns its partition count.
pub fn require_topic(config: &KafkaConfig, topic: &str) -> Result<usize> {
    partition_count(config, topic)?.ok_or_else(|| Error::MissingTopic(topic.to_string()))
}

/// Returns, per partition of `topic`, the offset `group` has committed (`None`: nothing yet)
/// and the high watermark: how far the group has confirmed, and how far there is to go.
pub fn group_progress(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
) -> Result<Vec<(Option<i64>, i64)>> {
    let partitions = require_topic(config, topic)?;
    let mut client_config = config.admin();
    client_config
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    let client: BaseConsumer = client_config
        .create()
        .map_err(Error::kafka("creating a metadata client"))?;
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
        list.add_partition(topic, partition);
    }
    let committed = client
        .committed_offsets(list, TIMEOUT)
        .map_err(Error::kafka(format!(
            "reading the commits of group `{group}`"
        )))?;
    let mut out = Vec::new();
    for e in committed.elements() {
        let (_, high) = client
            .fetch_watermarks(topic, e.partition(), TIMEOUT)
            .map_err(Error::kafka(format!("reading the watermarks of `{topic}`")))?;
        let offset = match e.offset() {
            rdkafka::Offset::Offset(o) => Some(o),
            _ => None,
        };
        out.push((offset, high));
    }
    Ok(out)
}
