//! TEMPORARY stub (replaced by the data branch).
#[derive(clap::Args, Debug)]
pub struct SynthArgs {}
pub fn run(_a: &SynthArgs) -> crate::Result<()> {
    Err(crate::Error::config("stub"))
}
