//! What a trained model's outputs say: reconstruction figures of merit (`metrics`), anomaly
//! scores with their ROC/AUC (`anomaly`), and the statistics both share (`stats`: quantiles,
//! binning, correlation, the one AUC).

pub mod anomaly;
pub mod metrics;
pub mod stats;
