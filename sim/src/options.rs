//! Run options: every knob of one simulated run, drawn from a scenario and a
//! seed (see `scenario.rs`). `--verbose` prints them first, so a failing seed
//! can be read and not only replayed.
//!
//! Values here are per run. Where a knob is a duration or latency, individual
//! events draw uniformly around it at run time (from half to one and a half
//! times the value), so the seed explores orderings without the scenario
//! having to name distributions.

/// Everything drawn for one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub seed: u64,
    pub workload: String,
    /// Length of the fault phase in simulated milliseconds.
    pub duration_ms: u64,
    /// Nodes that serve and may crash.
    pub servers: u64,
    /// Nodes that drive the workload; they never crash (they are the observer).
    pub clients: u64,
    pub client: ClientOptions,
    pub disk: DiskOptions,
    pub network: NetworkOptions,
    pub clock: ClockOptions,
    pub crash: CrashOptions,
    pub liveness: Option<LivenessOptions>,
    pub transactions: TransactionOptions,
}

/// Settings of the transaction workloads.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionOptions {
    pub isolation: rustydb_core::txn::IsolationLevel,
    /// The level the checker holds the history to.
    pub check_as: rustydb_core::txn::IsolationLevel,
    pub deadlock_check_ms: u64,
    pub vacuum_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Concurrent request loops per client node.
    pub tasks: u64,
    pub request_timeout_ms: u64,
    /// Retries of one request before the client gives up on it.
    pub retries_max: u64,
    /// `pg-clients`: client loops that, when the clients stop, hang inside
    /// an open transaction and never close their connection (a frozen
    /// client, or a half-open connection whose host lost power).
    pub hung_tasks: u64,
    /// `pg-clients`: the `idle_in_transaction_session_timeout` every
    /// session sets, in ms (0: off), which must end a hung client's session.
    pub idle_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskOptions {
    pub latency_us: u64,
    pub sync_latency_us: u64,
    pub spike_probability: f64,
    pub spike_ms: u64,
    pub read_error_probability: f64,
    pub write_error_probability: f64,
    pub sync_error_probability: f64,
    pub misdirected_write_probability: f64,
    pub bit_rot_probability: f64,
    /// Misdirected writes plus bit-rot events allowed per node per run: the
    /// bound that keeps corruption survivable by a workload with redundancy.
    pub corruption_budget: u64,
    /// At a crash, the chance that each unsynced write is lost.
    pub unsynced_loss_probability: f64,
    /// At a crash, the chance that a surviving unsynced write is torn.
    pub torn_write_probability: f64,
    /// The disk acknowledges `sync` without persisting anything (negative scenarios).
    pub sync_lies: bool,
    /// With `sync_lies`, only syncs of this file lie.
    pub sync_lies_only: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkOptions {
    pub latency_us: u64,
    pub loss_probability: f64,
    pub duplicate_probability: f64,
    pub reorder_probability: f64,
    pub reorder_delay_ms: u64,
    /// Chance that a stream segment resets its connection instead of arriving.
    pub reset_probability: f64,
    /// Mean time between partitions; 0 disables them.
    pub partition_interval_ms: u64,
    pub partition_duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClockOptions {
    /// Largest wall-clock offset of a node from true time.
    pub skew_ms: u64,
    /// Largest rate error of a node's clocks, in parts per million.
    pub drift_ppm: u64,
    /// Mean time between wall-clock steps; 0 disables them.
    pub jump_interval_ms: u64,
    pub jump_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrashOptions {
    /// Mean time between crashes of some server; 0 disables them.
    pub interval_ms: u64,
    pub restart_delay_ms: u64,
    /// The chance that a server crashes again right after a restart (while recovering).
    pub recovery_crash_probability: f64,
    /// Mean delay after the boot of such a crash, in microseconds.
    pub recovery_crash_within_us: u64,
}

/// After the fault phase: faults stop and the workload must progress.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessOptions {
    pub within_ms: u64,
    /// Acknowledged operations required within `within_ms`.
    pub progress_min: u64,
}
