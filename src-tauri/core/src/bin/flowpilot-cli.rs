fn main() -> std::process::ExitCode {
    flowpilot_core::cli::main()
}
