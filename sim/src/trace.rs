//! The trace: every scheduling decision and fault of a run, folded into one
//! running hash, with the most recent events kept for failure reports.
//!
//! Two runs of the same scenario and seed must produce the same hash; any
//! difference means something nondeterministic leaked into the simulation.
//! The hash covers event content (not wall time), so it is stable across
//! machines for the same binary.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;

use crate::faults::FaultKind;

/// How many recent events a failure report shows.
pub const TRACE_TAIL_EVENTS_MAX: usize = 40;

/// One thing the simulator did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TraceEvent {
    /// A task was polled.
    Poll { node: usize, task: u64 },
    /// A node's program (re)started.
    NodeStart { node: usize, incarnation: u64 },
    /// A node's program returned an error and the node is restarted.
    NodeFailed { node: usize, error: String },
    /// A scheduled event fired.
    Fire { what: &'static str, node: usize },
    /// A fault was injected; `detail` is kind-specific (a file, offset, peer).
    Fault { kind: FaultKind, node: usize, detail: u64 },
    /// The fault phase ended.
    FaultsStopped,
    /// A line from the workload or checker.
    Note(String),
}

/// A timestamped event.
#[derive(Debug, Clone)]
pub struct TracedEvent {
    pub time_nanos: u64,
    pub event: TraceEvent,
}

impl fmt::Display for TracedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.time_nanos / 1_000;
        write!(f, "[{:>6}.{:03} ms] ", micros / 1_000, micros % 1_000)?;
        match &self.event {
            TraceEvent::Poll { node, task } => write!(f, "poll n{node} task {task}"),
            TraceEvent::NodeStart { node, incarnation } => write!(f, "start n{node} incarnation {incarnation}"),
            TraceEvent::NodeFailed { node, error } => write!(f, "n{node} program failed: {error}"),
            TraceEvent::Fire { what, node } => write!(f, "fire {what} n{node}"),
            TraceEvent::Fault { kind, node, detail } => write!(f, "FAULT {} n{node} ({detail})", kind.name()),
            TraceEvent::FaultsStopped => write!(f, "faults stopped; liveness phase begins"),
            TraceEvent::Note(text) => write!(f, "{text}"),
        }
    }
}

/// The running hash and the recent-event window.
pub struct Trace {
    hasher: Fnv1a,
    tail: VecDeque<TracedEvent>,
    verbose: bool,
    events_count: u64,
}

impl Trace {
    pub fn new(verbose: bool) -> Self {
        Trace { hasher: Fnv1a::new(), tail: VecDeque::with_capacity(TRACE_TAIL_EVENTS_MAX), verbose, events_count: 0 }
    }

    pub fn record(&mut self, time_nanos: u64, event: TraceEvent) {
        time_nanos.hash(&mut self.hasher);
        event.hash(&mut self.hasher);
        self.events_count += 1;
        let traced = TracedEvent { time_nanos, event };
        if self.verbose {
            let _ = writeln!(std::io::stdout().lock(), "{traced}");
        }
        if self.tail.len() == TRACE_TAIL_EVENTS_MAX {
            self.tail.pop_front();
        }
        self.tail.push_back(traced);
    }

    /// The trace hash so far.
    pub fn digest(&self) -> u64 {
        self.hasher.finish()
    }

    pub fn events_count(&self) -> u64 {
        self.events_count
    }

    pub fn tail(&self) -> impl Iterator<Item = &TracedEvent> {
        self.tail.iter()
    }
}

/// FNV-1a: fixed, seedless, stable across runs (std's SipHash keys are random).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_events_same_digest_and_order_matters() {
        let mut a = Trace::new(false);
        let mut b = Trace::new(false);
        let mut c = Trace::new(false);
        for trace in [&mut a, &mut b] {
            trace.record(1, TraceEvent::Poll { node: 0, task: 1 });
            trace.record(2, TraceEvent::Poll { node: 0, task: 2 });
        }
        c.record(1, TraceEvent::Poll { node: 0, task: 2 });
        c.record(2, TraceEvent::Poll { node: 0, task: 1 });
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn tail_is_bounded() {
        let mut trace = Trace::new(false);
        for i in 0..(TRACE_TAIL_EVENTS_MAX as u64 * 2) {
            trace.record(i, TraceEvent::Poll { node: 0, task: i });
        }
        assert_eq!(trace.tail().count(), TRACE_TAIL_EVENTS_MAX);
        assert_eq!(trace.events_count(), TRACE_TAIL_EVENTS_MAX as u64 * 2);
    }
}
