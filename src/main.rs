//! The `hepae` binary: parse arguments, run, print one error line, set the exit code.

use clap::Parser;

fn main() {
    let cli = hepae::cli::Cli::parse();
    if let Err(e) = hepae::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
