//! The `lockcheck` binary: see `lockcheck --help`.

fn main() -> std::process::ExitCode {
    lockcheck::cli::main()
}
