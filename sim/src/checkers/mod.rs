//! Invariant checkers. Each checker has a negative scenario under
//! `scenarios/negative/` that must make it report a violation (a checker
//! that has never failed proves nothing).
//!
//! | checker | invariant | negative scenario |
//! |---|---|---|
//! | [`durable_log::LogHistory`] | every acknowledged append survives every crash, and recovery returns nothing no client wrote | `negative/lying-fsync.toml` |
//! | liveness (`run.rs`) | after faults stop, the workload acknowledges `progress_min` operations within `within_ms` | `negative/liveness-unreachable.toml` |
//! | [`store_model::StoreModel`] + engine consistency (`workloads/crash_recovery.rs`) | after every restart the storage engine holds exactly the acknowledged commits (plus at most each writer's one commit in doubt), its B+Trees are valid and agree with the heap | `negative/store-lying-fsync.toml`, `negative/checkpoint-never-written.toml` |

pub mod durable_log;
pub mod store_model;
