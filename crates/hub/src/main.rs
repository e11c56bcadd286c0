fn main() -> std::process::ExitCode {
    hub::cli::entry()
}
