//! Model families. Each is a set of MLPs whose parameters live in one flat buffer
//! ([`params::ParamStore`]) so that Adam updates all of them in one kernel call.

pub mod ae;
pub mod mlp;
pub mod params;
