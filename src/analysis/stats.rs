//! Shared statistics.
