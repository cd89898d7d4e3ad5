//! Errors for records that could not be read.
//!
//! A bad record is data, not a failure of the program: a reader yields a [`ParseError`] for it and
//! goes on with the next line. The error says where (input name, line) and why (field, value,
//! reason) and keeps the rejected line verbatim so it can be written to a reject file.

use std::fmt;
use std::sync::Arc;

/// Why a record was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A field's value could not be parsed, or a required field is missing.
    BadValue,
    /// The line has fewer or more fields than the header names.
    FieldCount,
    /// The line is not valid in the format at all (bad JSON, not UTF-8, no header seen).
    Malformed,
    /// The line is longer than the reader's limit; it was skipped up to its end.
    LineTooLong,
    /// Reading the input failed (a truncated gzip stream, a device error); the input ends here.
    Io,
}

impl ErrorKind {
    /// Returns a short stable name for counters and JSON (`bad_value`, `field_count`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadValue => "bad_value",
            ErrorKind::FieldCount => "field_count",
            ErrorKind::Malformed => "malformed",
            ErrorKind::LineTooLong => "line_too_long",
            ErrorKind::Io => "io",
        }
    }
}

/// A record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The input's name (a path, `-` for standard input, a Kafka topic and offset).
    pub input: Arc<str>,
    /// The 1-based line number (the message number for message inputs); 0 when unknown.
    pub line: u64,
    /// The class of problem.
    pub kind: ErrorKind,
    /// The field (column) at fault, where one is.
    pub field: Option<String>,
    /// What is wrong, in words, with the offending value shortened.
    pub reason: String,
    /// The rejected line as it was read, without its line ending (cut at the line limit).
    pub raw: Vec<u8>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.input, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseError {}

/// A problem found while parsing one line, before the reader adds where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineError {
    pub(crate) kind: ErrorKind,
    pub(crate) field: Option<String>,
    pub(crate) reason: String,
}

impl LineError {
    pub(crate) fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        LineError {
            kind,
            field: None,
            reason: reason.into(),
        }
    }

    /// Adds where the problem happened.
    pub(crate) fn at(self, input: &Arc<str>, line: u64, raw: &[u8]) -> ParseError {
        ParseError {
            input: input.clone(),
            line,
            kind: self.kind,
            field: self.field,
            reason: self.reason,
            raw: raw.to_vec(),
        }
    }

    pub(crate) fn bad_value(field: &str, what: &str, value: &[u8]) -> Self {
        LineError {
            kind: ErrorKind::BadValue,
            field: Some(field.to_string()),
            reason: format!("invalid {what} `{}`", shorten(value)),
        }
    }
}

/// Shortens a value for an error message: at most 40 characters, lossy UTF-8.
pub(crate) fn shorten(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(&value[..value.len().min(120)]);
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 || value.len() > 120 {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// The text of a panic's payload (a thread's, or one caught with `catch_unwind`), to report it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked".to_string()
    }
}
