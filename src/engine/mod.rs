//! The numeric substrate the ops run on: tensor views with a shape, the GEMM (parallelism
//! passed as a value), and the plan (one arena per net and batch size).

pub mod gemm;
pub mod plan;
pub mod tensor;
