//! How hepae writes files, whatever their format: atomic replacement of one output
//! (`atomic`: temporary file, fsync, rename; nothing partial survives a failure) and the
//! checks every command runs on its output paths before any work starts (`outputs`).

pub mod atomic;
pub mod outputs;
