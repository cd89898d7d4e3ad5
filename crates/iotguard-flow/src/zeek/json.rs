//! Zeek JSON lines. (Being written.)

use crate::error::{ErrorKind, LineError};
use crate::reader::{LineParser, Parsed};

/// Parses Zeek JSON conn records.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZeekJsonParser {}

impl LineParser for ZeekJsonParser {
    fn parse(&mut self, _line: &[u8]) -> Parsed {
        Parsed::Error(LineError::new(
            ErrorKind::Malformed,
            "zeek json: not implemented yet",
        ))
    }

    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    fn is_header(&self, _line: &[u8]) -> bool {
        false
    }
}
