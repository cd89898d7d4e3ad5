//! The `iotguard` command: thin glue over the runtime. Parses arguments, runs a subcommand and
//! maps the outcome to an exit code. The only crate that prints.

mod cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes, documented in `--help`.
pub(crate) mod exit {
    /// Everything worked (rejected records, if any, were reported and counted).
    pub(crate) const OK: u8 = 0;
    /// An input could not be read, or the command failed.
    pub(crate) const ERROR: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "iotguard",
    version,
    about = "Real-time anomaly and intrusion detection for IoT networks, from flow records",
    after_help = "Exit codes: 0 success (rejected records are reported, not failures); 1 retrain: the shadow model is not better than the current one; 2 an input could not be read or the command failed."
)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = cmd::run(cli.command);
    cmd::s3::cleanup();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A closed pipe (`iotguard inspect ... | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(exit::OK);
            }
            output::error(&output::causes(e.as_ref()));
            ExitCode::from(exit::ERROR)
        }
    }
}
