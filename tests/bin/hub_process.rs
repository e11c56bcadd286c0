//! The `hub` program, built here so that end-to-end tests can run the hub
//! as a process of its own and kill it (`CARGO_BIN_EXE_hub-process`).

fn main() -> std::process::ExitCode {
    hub::cli::entry()
}
