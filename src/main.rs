//! The `hepae` binary: parse arguments, run, print one error line, set the exit code.

use clap::FromArgMatches;
use std::sync::Mutex;

/// Where the last panic happened, and its backtrace when RUST_BACKTRACE asks for one (for
/// the report of a bug; see `main`).
static PANIC_AT: Mutex<Option<(String, std::backtrace::Backtrace)>> = Mutex::new(None);

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
    // Panics never print Rust's multi-line message: the library catches the ROOT reader's
    // panics on corrupt files and returns an error (reported below as one line); any other
    // panic is a bug that reaches `main`, reported as one `error: internal error` line with
    // its location (and, with RUST_BACKTRACE set, the backtrace after it), exit 101.
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut at) = PANIC_AT.lock() {
            let loc = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            // (Frames only: symbols are resolved if the panic turns out to be a bug.)
            *at = Some((loc, std::backtrace::Backtrace::capture()));
        }
    }));

    let matches = hepae::cli::command().try_get_matches().unwrap_or_else(|e| usage_error(e));
    let cli = hepae::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| usage_error(e));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hepae::cli::run(cli))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("panic");
            let (at, trace) = match PANIC_AT.lock().ok().and_then(|mut a| a.take()) {
                Some((at, trace)) => (at, trace.to_string()),
                None => ("an unknown location".to_string(), String::new()),
            };
            let msg = msg.lines().collect::<Vec<_>>().join(" ");
            eprintln!("error: internal error at {at}: {msg} (a bug in hepae; please report it)");
            if !trace.is_empty() {
                eprint!("{trace}");
            }
            std::process::exit(101);
        }
    }
}
