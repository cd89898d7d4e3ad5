//! `iotguard convert`: flow inputs to Parquet, Zeek JSON lines or Zeek TSV. (Being written.)

use clap::Args;

use super::InputArgs;

/// Arguments of `convert`.
#[derive(Args, Debug)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
}

pub(crate) fn run(_args: ConvertArgs) -> anyhow::Result<u8> {
    anyhow::bail!("convert is not written yet")
}
