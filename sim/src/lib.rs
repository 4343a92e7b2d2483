//! `rustydb-sim`: the deterministic simulator.
//!
//! It runs real engine code (anything written against `rustydb_core::env`)
//! on simulated nodes, each with its own disk, clocks and network endpoints,
//! on one thread in virtual time. Every choice, which task runs next, which
//! event fires, which fault strikes, is drawn from a ChaCha stream seeded
//! by the run's seed, so a seed replays exactly and its trace hash proves it.
//!
//! Layout, one concept per file:
//! * `runtime.rs`: executor, virtual time, event queue, crashes and the
//!   periodic fault plan;
//! * `env.rs`: the simulated clock, randomness and spawner handed to nodes;
//! * `disk.rs`, `net.rs`: simulated storage and network with their fault models;
//! * `faults.rs`: fault kinds and counters; `trace.rs`: the trace hash;
//! * `scenario.rs`, `options.rs`: scenario files and the options a seed draws;
//! * `workloads/`, `checkers/`: what runs on the nodes and what must hold;
//! * `run.rs`: one seed, from options to verdict.

pub mod checkers;
mod disk;
mod env;
pub mod error;
pub mod faults;
mod net;
pub mod options;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod trace;
pub mod workloads;

pub use error::SimError;
pub use faults::{FaultCounts, FaultKind};
pub use run::{SeedReport, run_seed};
pub use scenario::Scenario;
