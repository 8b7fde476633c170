//! `fuselm`: the native command-line tool (the commands live in `lib.rs`).

use std::process::ExitCode;

use fuselm_native::{explain_sigbus, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(usage) => usage.exit(),
    };
    explain_sigbus();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // User mistakes get one clean line, not a backtrace.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
