//! Workloads: programs that run on simulated nodes, plus the history their
//! checker reads. A workload names its nodes, installs their programs, and
//! reports progress (for the liveness phase) and violations.

pub mod crash_recovery;
pub mod mirrored_log;
pub mod pg_clients;
pub mod pg_wire;
pub mod sql;
pub mod transactions;

use crate::options::RunOptions;
use crate::runtime::Simulator;

/// A workload as the run loop sees it.
pub trait Workload {
    /// Adds the workload's nodes and programs to the simulator.
    fn install(&self, sim: &mut Simulator);
    /// Operations acknowledged so far (the liveness measure).
    fn progress(&self) -> u64;
    /// Recoveries checked so far (the final phase waits for one per server).
    fn recoveries(&self) -> u64;
    /// The first invariant violation, if any.
    fn violation(&self) -> Option<String>;
    /// Named counts the workload observed (commits, aborts, deadlocks…), for the summary.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// Called once faults (and the liveness phase) are over: asks the
    /// clients to stop so the workload can check that the system settles.
    /// True if it has such checks; the run then waits for [`Workload::settled`].
    fn stop_clients(&self) -> bool {
        false
    }
    /// Whether the checks begun by [`Workload::stop_clients`] have finished
    /// (a failed check is a [`Workload::violation`]).
    fn settled(&self) -> bool {
        true
    }
}

/// Builds the workload a scenario names (validated at load).
pub fn build(options: &RunOptions) -> Box<dyn Workload> {
    match options.workload.as_str() {
        "mirrored-log" => Box::new(mirrored_log::MirroredLogWorkload::new(options)),
        "crash-recovery" => Box::new(crash_recovery::CrashRecoveryWorkload::new(options)),
        "isolation" => Box::new(transactions::TransactionsWorkload::new(options, transactions::Mix::Isolation)),
        "deadlock" => Box::new(transactions::TransactionsWorkload::new(options, transactions::Mix::Deadlock)),
        "sql" => Box::new(sql::SqlWorkload::new(options)),
        "pg-clients" => Box::new(pg_clients::PgClientsWorkload::new(options)),
        other => unreachable!("scenario validation admits only known workloads, got {other}"),
    }
}
