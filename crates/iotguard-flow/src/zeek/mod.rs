//! Zeek conn logs: the TSV writer's format (with the IoT-23 and Stratosphere label variants) and
//! the JSON writer's format (as Zeek's JSON writer and its Kafka plugin write it).

pub(crate) mod json;
pub(crate) mod tsv;
