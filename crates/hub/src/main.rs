use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hub::cli::Cli::parse();
    let stdout = std::io::stdout();
    match hub::cli::run(cli, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hub: {err:#}");
            ExitCode::FAILURE
        }
    }
}
