//! One seed, start to verdict, in three phases:
//!
//! 1. **Faults**: the workload runs for `duration_ms` while every configured
//!    fault is injected.
//! 2. **Liveness** (if the scenario has one): faults stop and partitions
//!    heal; the workload must acknowledge `progress_min` operations within
//!    `within_ms`, or the seed fails.
//! 3. **Settling** (if the workload asks for it, [`Workload::stop_clients`]):
//!    the clients stop and the workload checks that the system settles
//!    (sessions ended, locks released) within [`SETTLE_MILLIS`].
//! 4. **Final recovery**: every server is crashed once more (the disk crash
//!    model applies) and restarted; each must recover within
//!    [`FINAL_RECOVERY_MILLIS`], and the checker sees every recovery.
//!
//! A checker violation in any phase ends the run at once.

use std::io::Write;

use crate::faults::FaultCounts;
use crate::options::RunOptions;
use crate::runtime::{RunEnd, Simulator};
use crate::scenario::Scenario;
use crate::workloads::{self, Workload};

/// Simulated time allowed for the final recovery of every server.
pub const FINAL_RECOVERY_MILLIS: u64 = 10_000;

/// Simulated time allowed for the workload's settle checks.
pub const SETTLE_MILLIS: u64 = 20_000;

const NANOS_PER_MILLI: u64 = 1_000_000;

/// What one seed did.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub seed: u64,
    pub options: RunOptions,
    /// `None` when every invariant held; otherwise why the seed failed.
    pub failure: Option<String>,
    pub trace_digest: u64,
    pub sim_millis: u64,
    pub faults: FaultCounts,
    pub progress: u64,
    /// The workload's own counts (see [`Workload::counters`]).
    pub counters: Vec<(&'static str, u64)>,
    /// The last trace events, for failure reports.
    pub trace_tail: Vec<String>,
}

impl SeedReport {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs `scenario` with `seed`. With `verbose`, prints the drawn options and
/// then every trace event as it happens.
pub fn run_seed(scenario: &Scenario, seed: u64, verbose: bool) -> SeedReport {
    let options = scenario.draw(seed);
    if verbose {
        let _ = writeln!(std::io::stdout().lock(), "options drawn from seed {seed}:\n{options:#?}");
    }
    let mut sim = Simulator::new(options.clone(), verbose);
    let workload = workloads::build(&options);
    workload.install(&mut sim);
    sim.start_fault_plan();
    let failure = run_phases(&mut sim, workload.as_ref(), &options);
    let report = SeedReport {
        seed,
        failure,
        trace_digest: sim.trace_digest(),
        sim_millis: sim.now_nanos() / NANOS_PER_MILLI,
        faults: sim.faults(),
        progress: workload.progress(),
        counters: workload.counters(),
        trace_tail: sim.trace_tail(),
        options,
    };
    sim.shutdown();
    report
}

fn run_phases(sim: &mut Simulator, workload: &dyn Workload, options: &RunOptions) -> Option<String> {
    let violated = || workload.violation().is_some();
    let end = sim.run_until(options.duration_ms * NANOS_PER_MILLI, &violated);
    if let Some(failure) = verdict(workload, end, "fault phase") {
        return Some(failure);
    }
    sim.stop_faults();
    if let Some(liveness) = &options.liveness {
        let start = sim.now_nanos();
        let target = workload.progress() + liveness.progress_min;
        let done = || violated() || workload.progress() >= target;
        let end = sim.run_until(start + liveness.within_ms * NANOS_PER_MILLI, &done);
        if let Some(failure) = verdict(workload, end, "liveness phase") {
            return Some(failure);
        }
        if workload.progress() < target {
            let made = liveness.progress_min - (target - workload.progress());
            return Some(format!(
                "liveness: only {made} of {} operations acknowledged within {} ms after faults stopped",
                liveness.progress_min, liveness.within_ms
            ));
        }
    }
    if let Some(failure) = settle(sim, workload) {
        return Some(failure);
    }
    final_recovery(sim, workload)
}

fn settle(sim: &mut Simulator, workload: &dyn Workload) -> Option<String> {
    if !workload.stop_clients() {
        return None;
    }
    sim.note("clients stopped; settling".to_string());
    let done = || workload.violation().is_some() || workload.settled();
    let end = sim.run_until(sim.now_nanos() + SETTLE_MILLIS * NANOS_PER_MILLI, &done);
    if let Some(failure) = verdict(workload, end, "settle phase") {
        return Some(failure);
    }
    (!workload.settled())
        .then(|| format!("settle: the workload's final checks did not finish within {SETTLE_MILLIS} ms"))
}

fn final_recovery(sim: &mut Simulator, workload: &dyn Workload) -> Option<String> {
    let servers = sim.server_ids();
    let target = workload.recoveries() + servers.len() as u64;
    sim.note("final crash of every server".to_string());
    for server in &servers {
        sim.crash(*server, false, None);
        sim.restart_now(*server);
    }
    let done = || workload.violation().is_some() || workload.recoveries() >= target;
    let end = sim.run_until(sim.now_nanos() + FINAL_RECOVERY_MILLIS * NANOS_PER_MILLI, &done);
    if let Some(failure) = verdict(workload, end, "final recovery") {
        return Some(failure);
    }
    if workload.recoveries() < target {
        return Some(format!("final recovery: servers did not all recover within {FINAL_RECOVERY_MILLIS} ms"));
    }
    None
}

fn verdict(workload: &dyn Workload, end: RunEnd, phase: &str) -> Option<String> {
    if let Some(violation) = workload.violation() {
        return Some(violation);
    }
    (end == RunEnd::Livelock).then(|| format!("livelock in the {phase}: too many steps without time advancing"))
}
