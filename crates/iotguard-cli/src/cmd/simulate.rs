//! `iotguard simulate`: a realistic IoT network's flows. (Being written.)

use clap::Args;

/// Arguments of `simulate`.
#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {}

pub(crate) fn run(_args: SimulateArgs) -> anyhow::Result<u8> {
    anyhow::bail!("simulate is not written yet")
}
