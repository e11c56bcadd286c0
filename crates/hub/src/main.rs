use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = hub::cli::Cli::parse();
    let filter =
        EnvFilter::try_from_env("HUB_LOG").unwrap_or_else(|_| EnvFilter::new("info,rumqttd=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var_os("HUB_LOG_JSON").is_some() {
        logs.json().init();
    } else {
        logs.init();
    }
    let stdout = std::io::stdout();
    match hub::cli::run(cli, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hub: {err:#}");
            ExitCode::FAILURE
        }
    }
}
