//! The command-line tool: one file per subcommand, each with its `Args` and `run`.

pub mod import;
pub mod synth;
