//! Flow records, the readers that make them and the writers that write them back out.
//!
//! Every input format becomes the same [`FlowRecord`]: Zeek conn logs as TSV (with the IoT-23
//! and Stratosphere label variants) and as JSON lines (Zeek's JSON writer, zeek-kafka), CSV with
//! Zeek column names, Argus `ra` output, BoT-IoT, UNSW-NB15 and TON_IoT CSV. Readers are driven
//! by the input's own header, never by assumed column positions, and yield one
//! `Result<FlowRecord, ParseError>` per record: a bad record is reported with its input, line and
//! reason and the stream goes on.
//!
//! Invariants: no file is opened here (readers take `Read`/`BufRead`), nothing is async, nothing
//! knows about features or models, and no input can make a reader panic or hang (fuzzed).

mod compress;
mod delimited;
mod detect;
mod error;
mod fields;
mod label;
mod lines;
mod message;
mod native;
mod parallel;
mod reader;
mod record;
mod time;
mod write;
mod zeek;

pub use compress::{decompress, sniff as sniff_compression, Compression};
pub use detect::{detect, Format};
pub use error::{panic_message, ErrorKind, ParseError};
pub use label::{Label, LabelCache, LabelClass};
pub use lines::DEFAULT_MAX_LINE;
pub use message::MessageDecoder;
pub use native::{Native, NativeFamily};
pub use parallel::ParallelFlowReader;
pub use reader::{FlowReader, OpenError, ReadOptions, RecordIter};
pub use record::{ConnState, FlowRecord, Protocol};
pub use time::{Interval, Timestamp};
pub use write::{TsvWriteOptions, ZeekJsonWriter, ZeekTsvWriter};
