//! Invariant checkers. Each checker has a negative scenario under
//! `scenarios/negative/` that must make it report a violation (a checker
//! that has never failed proves nothing).
//!
//! | checker | invariant | negative scenario |
//! |---|---|---|
//! | [`durable_log::LogHistory`] | every acknowledged append survives every crash, and recovery returns nothing no client wrote | `negative/lying-fsync.toml` |
//! | liveness (`run.rs`) | after faults stop, the workload acknowledges `progress_min` operations within `within_ms` | `negative/liveness-unreachable.toml` |

pub mod durable_log;
