//! `iotguard convert`: flow inputs to Zeek TSV, Zeek JSON lines or Parquet.
//!
//! Every field of a record is written, so converting back gives identical records. Rejected
//! input lines are reported and counted as in `inspect`, and kept with `--rejects`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekJsonWriter, ZeekTsvWriter};

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
    Parquet(Box<iotguard_runtime::parquet::ParquetFlowWriter<BufWriter<File>>>),
}

impl Writer {
    fn write(&mut self, rec: &FlowRecord) -> anyhow::Result<()> {
        match self {
            Writer::Tsv(w) => w.write(rec)?,
            Writer::Json(w) => w.write(rec)?,
            #[cfg(feature = "parquet")]
            Writer::Parquet(w) => w.write(rec)?,
        }
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
    // The sink keeps the first write error; the batch stops at it.
    let mut failure: Option<anyhow::Error> = None;
    // No output format keeps a dataset's own (native) columns: counted and said at the end.
    let mut native: Option<(iotguard_flow::NativeFamily, u64)> = None;
    // Nor the mark of a record without a time: written with `ts` 0, it reads back as timed.
    let mut untimed = 0u64;
    let read = args.input.read(&mut |_, rec| {
        untimed += u64::from(rec.untimed);
        if let Some(n) = &rec.native {
            native.get_or_insert((n.family, 0)).1 += 1;
        }
        match writer.write(&rec) {
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
    let total = outcome.total().finish(0);
    output::info(&format!(
        "converted {} records ({} rejected) from {} input(s)",
        total.records,
        total.bad_records,
        outcome.per_input.len()
    ));
    if let Some((family, n)) = native {
        output::warn(&format!(
            "{n} records carried the {family} native columns, which the output does not keep: \
             train with --features native on the original input"
        ));
    }
    if untimed > 0 {
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

#[cfg(feature = "parquet")]
fn parquet_writer(out: Option<&PathBuf>) -> anyhow::Result<Writer> {
    let path = out.context("--to parquet needs --out FILE")?;
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let writer = iotguard_runtime::parquet::ParquetFlowWriter::new(
        BufWriter::new(file),
        Default::default(),
    )?;
    Ok(Writer::Parquet(Box::new(writer)))
}

#[cfg(not(feature = "parquet"))]
fn parquet_writer(_out: Option<&PathBuf>) -> anyhow::Result<Writer> {
    anyhow::bail!("this build has no Parquet support (build with the `parquet` feature)")
}
