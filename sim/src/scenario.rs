//! Scenario files: TOML naming the workload, nodes, duration, faults and the
//! liveness phase. Any value may be fixed (`0.01`) or a range `[lo, hi]` from
//! which each seed draws its own value (inclusive). Omitted fault knobs are
//! off. Unknown keys and malformed values are errors that name the line.
//!
//! ```toml
//! workload = "mirrored-log"
//! duration_ms = 4000
//! [nodes]
//! servers = [1, 3]
//! [disk]
//! read_error_probability = [0.0, 0.01]
//! [liveness]
//! within_ms = 4000
//! progress_min = 10
//! ```

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::Deserialize;

use crate::error::SimError;
use crate::options::{
    ClientOptions, ClockOptions, CrashOptions, DiskOptions, LivenessOptions, NetworkOptions, RunOptions,
    TransactionOptions,
};

/// The workloads a scenario may name.
pub const WORKLOADS: [&str; 6] = ["mirrored-log", "crash-recovery", "isolation", "deadlock", "sql", "pg-clients"];

/// A fixed value or an inclusive range drawn per seed.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Draw<T> {
    Fixed(T),
    Range(T, T),
}

impl<T: Default> Default for Draw<T> {
    fn default() -> Self {
        Draw::Fixed(T::default())
    }
}

/// A parsed scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(skip)]
    pub path: String,
    pub workload: String,
    pub duration_ms: Draw<u64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub nodes: NodesSection,
    #[serde(default)]
    pub client: ClientSection,
    #[serde(default)]
    pub disk: DiskSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub clock: ClockSection,
    #[serde(default)]
    pub crash: CrashSection,
    pub liveness: Option<LivenessSection>,
    #[serde(default)]
    pub transactions: TransactionsSection,
}

/// The transaction workloads' settings (`isolation`, `deadlock`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransactionsSection {
    /// `read committed`, `repeatable read` or `serializable`.
    pub isolation: String,
    /// The level whose guarantees the checker holds the history to; by
    /// default `isolation`. A negative scenario runs a weaker level against
    /// a stronger check, to prove the checker sees the difference.
    pub check_as: Option<String>,
    /// How long a lock wait lasts before it searches for a deadlock.
    pub deadlock_check_ms: Draw<u64>,
    /// How often the background vacuum runs.
    pub vacuum_interval_ms: Draw<u64>,
}

impl Default for TransactionsSection {
    fn default() -> Self {
        TransactionsSection {
            isolation: "serializable".to_string(),
            check_as: None,
            deadlock_check_ms: Draw::Fixed(10),
            vacuum_interval_ms: Draw::Fixed(50),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesSection {
    pub servers: Draw<u64>,
    pub clients: Draw<u64>,
}

impl Default for NodesSection {
    fn default() -> Self {
        NodesSection { servers: Draw::Fixed(1), clients: Draw::Fixed(1) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientSection {
    pub tasks: Draw<u64>,
    pub request_timeout_ms: Draw<u64>,
    pub retries_max: Draw<u64>,
    /// `pg-clients`: loops that hang in an open transaction when the clients stop.
    pub hung_tasks: Draw<u64>,
    /// `pg-clients`: the sessions' idle-in-transaction timeout (0: off).
    pub idle_timeout_ms: Draw<u64>,
}

impl Default for ClientSection {
    fn default() -> Self {
        ClientSection {
            tasks: Draw::Fixed(2),
            request_timeout_ms: Draw::Fixed(200),
            retries_max: Draw::Fixed(20),
            hung_tasks: Draw::Fixed(0),
            idle_timeout_ms: Draw::Fixed(0),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskSection {
    pub latency_us: Draw<u64>,
    pub sync_latency_us: Draw<u64>,
    pub spike_probability: Draw<f64>,
    pub spike_ms: Draw<u64>,
    pub read_error_probability: Draw<f64>,
    pub write_error_probability: Draw<f64>,
    pub sync_error_probability: Draw<f64>,
    pub misdirected_write_probability: Draw<f64>,
    pub bit_rot_probability: Draw<f64>,
    pub corruption_budget: Draw<u64>,
    pub unsynced_loss_probability: Draw<f64>,
    pub torn_write_probability: Draw<f64>,
    pub sync_lies: bool,
    /// With `sync_lies`, lie only about this file (and keep directory syncs honest).
    pub sync_lies_only: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    pub latency_us: Draw<u64>,
    pub loss_probability: Draw<f64>,
    pub duplicate_probability: Draw<f64>,
    pub reorder_probability: Draw<f64>,
    pub reorder_delay_ms: Draw<u64>,
    pub reset_probability: Draw<f64>,
    pub partition_interval_ms: Draw<u64>,
    pub partition_duration_ms: Draw<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSection {
    pub skew_ms: Draw<u64>,
    pub drift_ppm: Draw<u64>,
    pub jump_interval_ms: Draw<u64>,
    pub jump_ms: Draw<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrashSection {
    pub interval_ms: Draw<u64>,
    pub restart_delay_ms: Draw<u64>,
    /// The chance that a restarted server crashes again soon after booting,
    /// while it is most likely still recovering.
    pub recovery_crash_probability: Draw<f64>,
    /// How soon: a crash time is drawn around this many microseconds after the boot.
    pub recovery_crash_within_us: Draw<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSection {
    pub within_ms: Draw<u64>,
    pub progress_min: Draw<u64>,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &str) -> Result<Scenario, SimError> {
        // The CLI reads the file; the simulator never touches the real disk
        // during a run.
        #[allow(clippy::disallowed_methods)]
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::ReadScenario { path: path.to_string(), source })?;
        Scenario::parse(path, &text)
    }

    /// Parses and validates scenario text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Scenario, SimError> {
        let mut scenario: Scenario = toml::from_str(text)
            .map_err(|error| SimError::ParseScenario { path: path.to_string(), message: error.to_string() })?;
        scenario.path = path.to_string();
        scenario.validate()?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), SimError> {
        if !WORKLOADS.contains(&self.workload.as_str()) {
            return Err(SimError::UnknownWorkload {
                path: self.path.clone(),
                workload: self.workload.clone(),
                known: WORKLOADS.join(", "),
            });
        }
        if let Err(error) = self.transactions.isolation.parse::<rustydb_core::txn::IsolationLevel>() {
            return Err(self.invalid("transactions.isolation", &error.to_string()));
        }
        if let Some(Err(error)) =
            self.transactions.check_as.as_ref().map(|l| l.parse::<rustydb_core::txn::IsolationLevel>())
        {
            return Err(self.invalid("transactions.check_as", &error.to_string()));
        }
        let d = &self.disk;
        let n = &self.network;
        let probabilities = [
            ("disk.spike_probability", d.spike_probability),
            ("disk.read_error_probability", d.read_error_probability),
            ("disk.write_error_probability", d.write_error_probability),
            ("disk.sync_error_probability", d.sync_error_probability),
            ("disk.misdirected_write_probability", d.misdirected_write_probability),
            ("disk.bit_rot_probability", d.bit_rot_probability),
            ("disk.unsynced_loss_probability", d.unsynced_loss_probability),
            ("disk.torn_write_probability", d.torn_write_probability),
            ("network.loss_probability", n.loss_probability),
            ("network.duplicate_probability", n.duplicate_probability),
            ("network.reorder_probability", n.reorder_probability),
            ("network.reset_probability", n.reset_probability),
        ];
        for (key, draw) in probabilities {
            let (lo, hi) = bounds(draw);
            if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo > hi {
                return Err(self.invalid(key, "must be a probability in [0, 1] (or an ascending range of them)"));
            }
        }
        self.validate_counts()
    }

    fn validate_counts(&self) -> Result<(), SimError> {
        let ranges = [
            ("duration_ms", self.duration_ms, 1),
            ("nodes.servers", self.nodes.servers, 1),
            ("nodes.clients", self.nodes.clients, 1),
            ("client.tasks", self.client.tasks, 1),
            ("client.request_timeout_ms", self.client.request_timeout_ms, 1),
        ];
        for (key, draw, minimum) in ranges {
            let (lo, hi) = bounds(draw);
            if lo < minimum || lo > hi {
                return Err(self.invalid(key, &format!("must be at least {minimum} (ranges ascending)")));
            }
        }
        let (_, servers_max) = bounds(self.nodes.servers);
        if servers_max > NODES_MAX {
            return Err(self.invalid("nodes.servers", &format!("must be at most {NODES_MAX}")));
        }
        Ok(())
    }

    fn invalid(&self, key: &str, problem: &str) -> SimError {
        SimError::InvalidScenario { path: self.path.clone(), key: key.to_string(), problem: problem.to_string() }
    }

    /// Draws every option for `seed`. The same scenario and seed always give
    /// the same options.
    pub fn draw(&self, seed: u64) -> RunOptions {
        // A stream of its own, so option draws never shift the run's stream.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6f70_7469_6f6e_7321);
        let mut u = |draw: Draw<u64>| draw_u64(&mut rng, draw);
        let duration_ms = u(self.duration_ms);
        let servers = u(self.nodes.servers);
        let clients = u(self.nodes.clients);
        let mut client = ClientOptions {
            tasks: u(self.client.tasks),
            request_timeout_ms: u(self.client.request_timeout_ms),
            retries_max: u(self.client.retries_max),
            hung_tasks: 0,
            idle_timeout_ms: 0,
        };
        let disk = self.draw_disk(&mut rng);
        let network = self.draw_network(&mut rng);
        let mut u = |draw: Draw<u64>| draw_u64(&mut rng, draw);
        let clock = ClockOptions {
            skew_ms: u(self.clock.skew_ms),
            drift_ppm: u(self.clock.drift_ppm),
            jump_interval_ms: u(self.clock.jump_interval_ms),
            jump_ms: u(self.clock.jump_ms),
        };
        let mut crash = CrashOptions {
            interval_ms: u(self.crash.interval_ms),
            restart_delay_ms: u(self.crash.restart_delay_ms),
            recovery_crash_within_us: 0,
            recovery_crash_probability: 0.0,
        };
        let liveness = self
            .liveness
            .as_ref()
            .map(|l| LivenessOptions { within_ms: u(l.within_ms), progress_min: u(l.progress_min) });
        // Drawn last, so adding them left every earlier draw (and old seeds' runs) as it was.
        crash.recovery_crash_within_us = u(self.crash.recovery_crash_within_us);
        crash.recovery_crash_probability = draw_f64(&mut rng, self.crash.recovery_crash_probability);
        let isolation = self.transactions.isolation.parse().expect("validated at load");
        let transactions = TransactionOptions {
            isolation,
            check_as: self.transactions.check_as.as_ref().map_or(isolation, |l| l.parse().expect("validated at load")),
            deadlock_check_ms: draw_u64(&mut rng, self.transactions.deadlock_check_ms),
            vacuum_interval_ms: draw_u64(&mut rng, self.transactions.vacuum_interval_ms),
        };
        // Drawn last, like the recovery crashes, so old seeds draw as before.
        client.hung_tasks = draw_u64(&mut rng, self.client.hung_tasks);
        client.idle_timeout_ms = draw_u64(&mut rng, self.client.idle_timeout_ms);
        RunOptions {
            seed,
            workload: self.workload.clone(),
            duration_ms,
            servers,
            clients,
            client,
            disk,
            network,
            clock,
            crash,
            liveness,
            transactions,
        }
    }

    fn draw_disk(&self, rng: &mut ChaCha8Rng) -> DiskOptions {
        let d = &self.disk;
        DiskOptions {
            latency_us: draw_u64(rng, d.latency_us),
            sync_latency_us: draw_u64(rng, d.sync_latency_us),
            spike_probability: draw_f64(rng, d.spike_probability),
            spike_ms: draw_u64(rng, d.spike_ms),
            read_error_probability: draw_f64(rng, d.read_error_probability),
            write_error_probability: draw_f64(rng, d.write_error_probability),
            sync_error_probability: draw_f64(rng, d.sync_error_probability),
            misdirected_write_probability: draw_f64(rng, d.misdirected_write_probability),
            bit_rot_probability: draw_f64(rng, d.bit_rot_probability),
            corruption_budget: draw_u64(rng, d.corruption_budget),
            unsynced_loss_probability: draw_f64(rng, d.unsynced_loss_probability),
            torn_write_probability: draw_f64(rng, d.torn_write_probability),
            sync_lies: d.sync_lies,
            sync_lies_only: d.sync_lies_only.clone(),
        }
    }

    fn draw_network(&self, rng: &mut ChaCha8Rng) -> NetworkOptions {
        let n = &self.network;
        NetworkOptions {
            latency_us: draw_u64(rng, n.latency_us),
            loss_probability: draw_f64(rng, n.loss_probability),
            duplicate_probability: draw_f64(rng, n.duplicate_probability),
            reorder_probability: draw_f64(rng, n.reorder_probability),
            reorder_delay_ms: draw_u64(rng, n.reorder_delay_ms),
            reset_probability: draw_f64(rng, n.reset_probability),
            partition_interval_ms: draw_u64(rng, n.partition_interval_ms),
            partition_duration_ms: draw_u64(rng, n.partition_duration_ms),
        }
    }
}

/// The most server nodes a scenario may ask for.
pub const NODES_MAX: u64 = 16;

fn bounds<T: Copy>(draw: Draw<T>) -> (T, T) {
    match draw {
        Draw::Fixed(value) => (value, value),
        Draw::Range(lo, hi) => (lo, hi),
    }
}

fn draw_u64(rng: &mut ChaCha8Rng, draw: Draw<u64>) -> u64 {
    let (lo, hi) = bounds(draw);
    let span = hi - lo;
    if span == 0 {
        return lo;
    }
    lo + rng.next_u64() % (span + 1)
}

fn draw_f64(rng: &mut ChaCha8Rng, draw: Draw<f64>) -> f64 {
    let (lo, hi) = bounds(draw);
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    lo + (hi - lo) * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "workload = \"mirrored-log\"\nduration_ms = [100, 200]\n";

    #[test]
    fn draws_are_within_ranges_and_repeatable() {
        let scenario = Scenario::parse("t.toml", MINIMAL).unwrap();
        for seed in 0..50 {
            let options = scenario.draw(seed);
            assert!((100..=200).contains(&options.duration_ms));
            assert_eq!(options, scenario.draw(seed));
        }
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = format!("{MINIMAL}[disk]\nlatency_us = 5\nbogus_knob = 1\n");
        let error = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(error.contains("line 5"), "{error}");
        assert!(error.contains("bogus_knob"), "{error}");
    }

    #[test]
    fn malformed_value_names_its_line() {
        let text = format!("{MINIMAL}[disk]\nlatency_us = \"fast\"\n");
        let error = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(error.contains("line 4"), "{error}");
    }

    #[test]
    fn bad_probability_and_unknown_workload_are_rejected() {
        let text = format!("{MINIMAL}[network]\nloss_probability = 1.5\n");
        let error = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(error.contains("network.loss_probability"), "{error}");
        let error = Scenario::parse("t.toml", "workload = \"nope\"\nduration_ms = 1\n").unwrap_err().to_string();
        assert!(error.contains("unknown workload"), "{error}");
    }
}
