//! Zeek JSON lines: one conn record per line, as Zeek's JSON writer and the zeek-kafka plugin
//! write them.
//!
//! A line is one flat object with dotted keys (`id.orig_h`) or Security Onion's underscore keys
//! (`id_orig_h`); unset optional fields are absent, and `null` is read as unset too. zeek-kafka's
//! `tag_json=T` wrapper, `{"conn": {...}, "zeek_server": "sensor-1"}`, is read as well: the
//! fields are inside `conn`, and a sensor name at the root (`zeek_server`, `_system_name`,
//! `sensorname`) overrides one inside. A record of another log is an error naming that log: a
//! `_path` other than `conn` (or `conn_*`), or a wrapper whose object is not `conn`
//! (`{"dns": {...}}`; an object-valued key in a line that has its own `ts` is just ignored).
//!
//! `ts` is epoch seconds (`TS_EPOCH`), epoch milliseconds (`TS_MILLIS`) or an ISO-8601 string
//! (`TS_ISO8601`). Numbers are never read through `f64`: each value is borrowed from the line as
//! raw JSON text and decimal numbers are parsed exactly, so `1664462456.755299` is exactly
//! `1664462456755299000` ns and `0.27964200000000083` is `279642000` ns.
//!
//! This runs at line rate: no `serde_json::Value`, no per-key allocation, and strings without
//! escapes are borrowed from the line.

mod iso8601;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use compact_str::CompactString;
use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{shorten, ErrorKind, LineError};
use crate::fields::{self, Field, PendingLabel};
use crate::label::LabelCache;
use crate::reader::{LineParser, Parsed};
use crate::record::FlowRecord;
use crate::time::Timestamp;

/// An integer `ts` of at least this magnitude is epoch milliseconds (`TS_MILLIS`), below it
/// epoch seconds.
///
/// 1e11 seconds is the year 5138 and 1e11 milliseconds is March 1973, so neither reading of a
/// real capture's time falls on the wrong side. Relative times (Stratosphere's `ts` from 15 s)
/// are small and read as seconds. Zeek writes `TS_EPOCH` times with a fraction, so they are never
/// taken for milliseconds.
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

/// Parses Zeek JSON conn records.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZeekJsonParser {
    labels: LabelCacheCell,
    /// The last sensor name seen, reused while it repeats (it nearly always does).
    sensor: Option<Arc<str>>,
}

/// The label cache is per parser; a fork starts an empty one (it is only a cache).
#[derive(Debug, Default)]
struct LabelCacheCell(LabelCache);

impl Clone for LabelCacheCell {
    fn clone(&self) -> Self {
        LabelCacheCell::default()
    }
}

impl LineParser for ZeekJsonParser {
    fn parse(&mut self, line: &[u8]) -> Parsed {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Parsed::Skip;
        }
        match self.record(line) {
            Ok(rec) => Parsed::Record(Box::new(rec)),
            Err(e) => Parsed::Error(e),
        }
    }

    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    fn is_header(&self, _line: &[u8]) -> bool {
        false
    }
}

impl ZeekJsonParser {
    fn record(&mut self, line: &[u8]) -> Result<FlowRecord, LineError> {
        let mut state = LineState::default();
        let mut de = serde_json::Deserializer::from_slice(line);
        let parsed = de
            .deserialize_map(ObjectVisitor {
                state: &mut state,
                root: true,
            })
            .and_then(|()| de.end());
        // A field error aborts the parse through serde; the stashed error says what it was.
        if let Some(e) = state.error {
            return Err(e);
        }
        if let Err(e) = parsed {
            return Err(LineError::new(
                ErrorKind::Malformed,
                format!("invalid JSON: {e}"),
            ));
        }
        if !state.has_ts {
            return Err(match state.other_log {
                Some(log) => other_log(&log),
                None => fields::missing_ts(),
            });
        }
        let mut rec = state.rec;
        if let Some(name) = state.root_sensor.or(state.sensor) {
            rec.sensor = Some(self.sensor(&name));
        }
        PendingLabel {
            name: state.label.as_deref(),
            detailed: state.detailed.as_deref(),
        }
        .finish(&mut rec, &mut self.labels.0);
        Ok(rec)
    }

    /// Returns the sensor name as an `Arc`, reusing the last one when it is the same.
    fn sensor(&mut self, name: &str) -> Arc<str> {
        match &self.sensor {
            Some(last) if **last == *name => last.clone(),
            _ => self.sensor.insert(Arc::from(name)).clone(),
        }
    }
}

/// What one line has given so far.
#[derive(Default)]
struct LineState<'de> {
    rec: FlowRecord,
    has_ts: bool,
    label: Option<Cow<'de, str>>,
    detailed: Option<Cow<'de, str>>,
    /// The sensor named inside the record.
    sensor: Option<Cow<'de, str>>,
    /// The sensor named at the root of a zeek-kafka wrapper.
    root_sensor: Option<Cow<'de, str>>,
    /// The first object-valued root key that is not `conn`: the log a wrapper holds.
    other_log: Option<CompactString>,
    /// The error that stopped the parse, when a value (not the JSON) was at fault.
    error: Option<LineError>,
}

impl<'de> LineState<'de> {
    /// Sets one field from its raw JSON value.
    fn set(&mut self, field: Field, raw: &'de str, root: bool) -> Result<(), LineError> {
        let kind = Kind::of(raw);
        if kind == Kind::Null {
            return Ok(());
        }
        let wrong = |expected: &str| wrong_type(field, expected, kind, raw);
        match field {
            Field::Ts => {
                self.rec.ts = match kind {
                    Kind::Number => number_ts(raw),
                    Kind::String => iso8601::parse(string(field, raw)?.as_bytes()),
                    _ => return Err(wrong("a number or an ISO-8601 string")),
                }
                .ok_or_else(|| LineError::bad_value(field.name(), "time", raw.as_bytes()))?;
                self.has_ts = true;
            }
            Field::OrigP
            | Field::RespP
            | Field::Duration
            | Field::OrigBytes
            | Field::RespBytes
            | Field::MissedBytes
            | Field::OrigPkts
            | Field::OrigIpBytes
            | Field::RespPkts
            | Field::RespIpBytes => {
                if kind != Kind::Number {
                    return Err(wrong("a number"));
                }
                self.set_text(field, raw)?;
            }
            Field::LocalOrig | Field::LocalResp => {
                let value = match kind {
                    Kind::True => true,
                    Kind::False => false,
                    _ => return Err(wrong("true or false")),
                };
                if field == Field::LocalOrig {
                    self.rec.local_orig = Some(value);
                } else {
                    self.rec.local_resp = Some(value);
                }
            }
            Field::TunnelParents => {
                if kind != Kind::Array {
                    return Err(wrong("an array of strings"));
                }
                self.rec.tunnel_parents = Some(string_array(field, raw)?);
            }
            _ if kind != Kind::String => return Err(wrong("a string")),
            Field::Label => self.label = Some(string(field, raw)?),
            Field::DetailedLabel => self.detailed = Some(string(field, raw)?),
            Field::Sensor if root => self.root_sensor = Some(string(field, raw)?),
            Field::Sensor => self.sensor = Some(string(field, raw)?),
            _ => {
                let text = string(field, raw)?;
                self.set_text(field, &text)?;
            }
        }
        Ok(())
    }

    /// Sets a field from its text through the rules every format shares.
    fn set_text(&mut self, field: Field, text: &str) -> Result<(), LineError> {
        // Labels never come this way, so the pending label is a throwaway.
        let mut unused = PendingLabel::default();
        // JSON has no empty-set marker: an empty string is an empty string.
        fields::set_field(
            &mut self.rec,
            &mut unused,
            field,
            text.as_bytes(),
            b',',
            b"",
        )
    }
}

/// The JSON type of a raw value, from its first byte (serde_json has validated the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn of(raw: &str) -> Kind {
        match raw.as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't') => Kind::True,
            Some(b'f') => Kind::False,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::True | Kind::False => "a bool",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

fn wrong_type(field: Field, expected: &str, found: Kind, raw: &str) -> LineError {
    LineError {
        kind: ErrorKind::BadValue,
        field: Some(field.name().into()),
        reason: format!(
            "expected {expected}, found {} `{}`",
            found.name(),
            shorten(raw.as_bytes())
        ),
    }
}

fn other_log(log: &str) -> LineError {
    LineError::new(
        ErrorKind::Malformed,
        format!(
            "a Zeek `{}` log record, not a conn record",
            shorten(log.as_bytes())
        ),
    )
}

/// Returns a raw JSON string's content: borrowed from the line when it has no escapes.
fn string<'de>(field: Field, raw: &'de str) -> Result<Cow<'de, str>, LineError> {
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw)
        .map(Cow::Owned)
        .map_err(|e| LineError::bad_value(field.name(), &format!("string ({e})"), raw.as_bytes()))
}

/// Reads a raw JSON array of strings (`tunnel_parents`).
fn string_array(field: Field, raw: &str) -> Result<Vec<CompactString>, LineError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw)
        .map_err(|_| LineError::bad_value(field.name(), "array of strings", raw.as_bytes()))?;
    items
        .into_iter()
        .map(|item| match Kind::of(item.get()) {
            Kind::String => string(field, item.get()).map(|s| CompactString::from(&*s)),
            kind => Err(wrong_type(field, "an array of strings", kind, raw)),
        })
        .collect()
}

/// Reads a numeric `ts`: decimal epoch seconds, or an integer of epoch milliseconds (see
/// [`MILLIS_THRESHOLD`]).
fn number_ts(raw: &str) -> Option<Timestamp> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        let magnitude = fields::parse_u64(digits.as_bytes())?;
        if magnitude >= MILLIS_THRESHOLD {
            let ms = i64::try_from(magnitude).ok()?;
            let ms = if raw.starts_with('-') { -ms } else { ms };
            return ms.checked_mul(1_000_000).map(Timestamp);
        }
    }
    Timestamp::parse_decimal(raw.as_bytes())
}

/// A key of the line's object, classified without allocating.
enum Key {
    /// A conn field (or an ignored one).
    Field(Field),
    /// zeek-kafka's `tag_json` wrapper around a conn record.
    Conn,
    /// The log's name (json-streaming-logs, Security Onion).
    Path,
    /// A key naming no field; kept (inline, short) in case it wraps another log.
    Other(CompactString),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "conn" => Key::Conn,
            "_path" => Key::Path,
            _ => match Field::from_name(key) {
                Field::Ignored => Key::Other(CompactString::from(key)),
                field => Key::Field(field),
            },
        })
    }
}

/// Visits a record object: the line's root, or the `conn` object of a wrapper.
struct ObjectVisitor<'s, 'de> {
    state: &'s mut LineState<'de>,
    root: bool,
}

impl<'de> ObjectVisitor<'_, 'de> {
    /// Stashes a value's error and returns the error that makes serde stop.
    fn fail<E: de::Error>(&mut self, e: LineError) -> E {
        self.state.error = Some(e);
        E::custom("invalid field value")
    }
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (a Zeek conn record)")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Conn if self.root => map.next_value_seed(ObjectVisitor {
                    state: &mut *self.state,
                    root: false,
                })?,
                Key::Field(field) => {
                    let raw: &'de RawValue = map.next_value()?;
                    if let Err(e) = self.state.set(field, raw.get(), self.root) {
                        return Err(self.fail(e));
                    }
                }
                Key::Path => {
                    let raw: &'de RawValue = map.next_value()?;
                    if Kind::of(raw.get()) == Kind::String {
                        let path = string(Field::Ignored, raw.get()).unwrap_or_default();
                        if !path.starts_with("conn") {
                            return Err(self.fail(other_log(&path)));
                        }
                    }
                }
                Key::Conn | Key::Other(_) => {
                    let raw: &'de RawValue = map.next_value()?;
                    if let Key::Other(name) = key {
                        if self.root
                            && self.state.other_log.is_none()
                            && Kind::of(raw.get()) == Kind::Object
                        {
                            self.state.other_log = Some(name);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ObjectVisitor<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

#[cfg(test)]
mod tests;
