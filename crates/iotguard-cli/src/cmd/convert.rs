//! `iotguard convert`: flow inputs to Zeek TSV, Zeek JSON lines or Parquet.
//!
//! Every field of a record is written, so converting back gives identical records. Rejected
//! input lines are reported and counted as in `inspect`, and kept with `--rejects`. Parquet
//! also keeps where each flow came from (`input` and `capture` columns), and flows met again in
//! a later input (the same uid and time) are counted and warned about, in every format.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekJsonWriter, ZeekTsvWriter};

use iotguard_runtime::input::Input;

use super::InputArgs;
use crate::{exit, output};

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    /// Zeek TSV conn log, every column (label and extra columns included).
    ZeekTsv,
    /// Zeek JSON lines, as Zeek's JSON writer writes them.
    #[value(alias = "jsonl")]
    ZeekJson,
    /// Parquet, schema in docs/parquet-schema.md.
    Parquet,
}

/// Arguments of `convert`.
#[derive(Args, Debug)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The output format.
    #[arg(long, value_enum, ignore_case = true)]
    to: Target,
    /// The output file; standard output when absent or `-` (not for Parquet).
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// One of the writers, behind one interface.
enum Writer {
    Tsv(ZeekTsvWriter<Box<dyn Write>>),
    Json(ZeekJsonWriter<Box<dyn Write>>),
    // Boxed: the Parquet writer holds its column builders inline.
    #[cfg(feature = "parquet")]
    Parquet(Box<iotguard_runtime::parquet::ProvenanceWriter<BufWriter<File>>>),
}

/// Where a record came from: its input's name and its capture's.
struct Origin {
    input: String,
    capture: String,
}

impl Origin {
    fn of(input: &Input) -> Origin {
        let name = input.name();
        let capture = match input {
            Input::Capture { capture, .. } => capture.clone(),
            _ => capture_name(&name),
        };
        Origin {
            input: name,
            capture,
        }
    }
}

/// The capture's name of an input (its file name without format suffixes).
#[cfg(feature = "parquet")]
fn capture_name(name: &str) -> String {
    iotguard_runtime::parquet::capture_name(name)
}

#[cfg(not(feature = "parquet"))]
fn capture_name(name: &str) -> String {
    name.to_string()
}

impl Writer {
    fn write(&mut self, rec: &FlowRecord, origin: &Origin) -> anyhow::Result<()> {
        match self {
            Writer::Tsv(w) => w.write(rec)?,
            Writer::Json(w) => w.write(rec)?,
            #[cfg(feature = "parquet")]
            Writer::Parquet(w) => w.write(rec, &origin.input, &origin.capture)?,
        }
        let _ = origin;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Writer::Tsv(w) => w.finish()?.flush()?,
            Writer::Json(w) => w.finish()?.flush()?,
            #[cfg(feature = "parquet")]
            Writer::Parquet(w) => (*w).finish()?.flush()?,
        }
        Ok(())
    }
}

pub(crate) fn run(mut args: ConvertArgs) -> anyhow::Result<u8> {
    if args.out.as_deref().is_some_and(output::is_stdout) {
        args.out = None;
    }
    let text_out = || -> anyhow::Result<Box<dyn Write>> {
        Ok(match &args.out {
            Some(path) => Box::new(BufWriter::with_capacity(
                1 << 20,
                File::create(path).with_context(|| format!("creating {}", path.display()))?,
            )),
            None => Box::new(io::stdout().lock()),
        })
    };
    let mut writer = match args.to {
        Target::ZeekTsv => Writer::Tsv(ZeekTsvWriter::new(
            text_out()?,
            TsvWriteOptions::all_columns(),
        )?),
        Target::ZeekJson => Writer::Json(ZeekJsonWriter::new(text_out()?)),
        Target::Parquet => parquet_writer(args.out.as_ref())?,
    };
    let (inputs, config) = args.input.prepare()?;
    let origins: Vec<Origin> = inputs.iter().map(Origin::of).collect();
    let mut duplicates = Duplicates::default();
    // The sink keeps the first write error; the batch stops at it.
    let mut failure: Option<anyhow::Error> = None;
    // The text formats keep neither a dataset's own (native) columns: counted and said at the end.
    let mut native: Option<(iotguard_flow::NativeFamily, u64)> = None;
    // nor the mark of a record without a time (written with `ts` 0, it reads back as timed).
    let mut untimed = 0u64;
    let read = args
        .input
        .read_prepared(inputs, &config, &mut |index, rec| {
            duplicates.see(index, &rec);
            untimed += u64::from(rec.untimed);
            if let Some(n) = &rec.native {
                native.get_or_insert((n.family, 0)).1 += 1;
            }
            match writer.write(&rec, &origins[index]) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let io = io::Error::other(e.to_string());
                    failure = Some(e);
                    Err(iotguard_runtime::Error::io("output", io))
                }
            }
        });
    if let Some(e) = failure {
        return Err(e.context("writing the output"));
    }
    let (_, outcome) = read?;
    writer.finish().context("finishing the output")?;
    if let Some(warning) = duplicates.warning(&origins) {
        output::warn(&warning);
    }
    let total = outcome.total().finish(0);
    output::info(&format!(
        "converted {} records ({} rejected) from {} input(s)",
        total.records,
        total.bad_records,
        outcome.per_input.len()
    ));
    // Parquet keeps both (`native_family`/`native_values`, `untimed`); the text formats do not.
    let keeps_extras = matches!(args.to, Target::Parquet);
    if let Some((family, n)) = native.filter(|_| !keeps_extras) {
        output::warn(&format!(
            "{n} records carried the {family} native columns, which the output does not keep: \
             train with --features native on the original input"
        ));
    }
    if untimed > 0 && !keeps_extras {
        output::warn(&format!(
            "{untimed} records have no time (their input has no time column); the output writes \
             them at ts 0 (1970-01-01), where they read back as timed flows"
        ));
    }
    Ok(if outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// Flows seen again in a later input: the same uid and time as a flow of an earlier input (the
/// same capture converted from two formats, or a folder holding a file twice).
#[derive(Default)]
struct Duplicates {
    /// The input each (uid, time) was first seen in, by a 64-bit hash of the pair.
    first_seen: HashMap<u64, u32>,
    /// Duplicates per input that repeats an earlier one.
    per_input: HashMap<usize, u64>,
}

impl Duplicates {
    fn see(&mut self, index: usize, rec: &FlowRecord) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let Some(uid) = rec.uid.as_deref() else {
            return;
        };
        let key = BuildHasherDefault::<DefaultHasher>::default().hash_one((uid, rec.ts.0));
        let first = *self.first_seen.entry(key).or_insert(index as u32);
        if first as usize != index {
            *self.per_input.entry(index).or_default() += 1;
        }
    }

    /// The warning to print, if any flow was seen in two inputs.
    fn warning(&self, origins: &[Origin]) -> Option<String> {
        let total: u64 = self.per_input.values().sum();
        if total == 0 {
            return None;
        }
        let mut per: Vec<(usize, u64)> = self.per_input.iter().map(|(i, n)| (*i, *n)).collect();
        per.sort();
        let list: Vec<String> = per
            .iter()
            .map(|(i, n)| format!("{} ({n})", origins[*i].input))
            .collect();
        Some(format!(
            "{total} flow(s) have the same uid and ts as a flow of an earlier input (duplicates \
             across inputs, all written): {}",
            list.join(", ")
        ))
    }
}

#[cfg(feature = "parquet")]
fn parquet_writer(out: Option<&PathBuf>) -> anyhow::Result<Writer> {
    let path = out.context("--to parquet needs --out FILE")?;
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let writer =
        iotguard_runtime::parquet::ProvenanceWriter::new(BufWriter::new(file), Default::default())?;
    Ok(Writer::Parquet(Box::new(writer)))
}

#[cfg(not(feature = "parquet"))]
fn parquet_writer(_out: Option<&PathBuf>) -> anyhow::Result<Writer> {
    anyhow::bail!("this build has no Parquet support (build with the `parquet` feature)")
}
