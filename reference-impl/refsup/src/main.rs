//! The `refsup` binary: see `refsup --help`.

fn main() -> std::process::ExitCode {
    refsup::cli::main()
}
