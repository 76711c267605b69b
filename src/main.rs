//! The `hepae` binary: parse arguments, run, print one error line, set the exit code.

use clap::FromArgMatches;

/// Prints a command-line error as one line (its first paragraph) and exits with status 1;
/// `--help` and `--version` print and exit 0 as usual.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        std::process::exit(1);
    }
    let text = e.render().to_string();
    let para: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let line = para.join(" ");
    eprintln!("error: {}", line.strip_prefix("error: ").unwrap_or(&line));
    std::process::exit(1);
}

fn main() {
    let matches = hepae::cli::command().try_get_matches().unwrap_or_else(|e| usage_error(e));
    let cli = hepae::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| usage_error(e));
    if let Err(e) = hepae::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
