//! Fault kinds and their counters.
//!
//! Where each fault is injected is documented at the injection point:
//! disk faults in `disk.rs`, network faults in `net.rs`, crashes, partitions
//! and clock jumps in `runtime.rs` (the periodic fault plan). Probabilities
//! and schedules come from the scenario (`options.rs`). All faults stop when
//! the liveness phase begins.

use std::fmt;

/// Every fault the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A node's process died: tasks and memory dropped, disk per the crash model.
    Crash,
    /// A crash soon after a restart, aimed at recovery itself (also counted as a crash).
    RecoveryCrash,
    /// An unsynced write vanished at a crash.
    LostWrite,
    /// An unsynced write survived a crash only in part (some sectors).
    TornWrite,
    /// An unsynced write survived a crash although an earlier one was lost.
    ReorderedWrite,
    /// A write landed at the wrong offset.
    MisdirectedWrite,
    /// Stored bits flipped, discovered by a read.
    BitRot,
    /// A read failed.
    ReadError,
    /// A write failed.
    WriteError,
    /// A sync failed.
    SyncError,
    /// A disk operation took far longer than usual.
    DiskLatencySpike,
    /// A datagram was dropped.
    NetLoss,
    /// A datagram was delivered twice.
    NetDuplicate,
    /// A datagram was held back so later ones overtake it.
    NetReorder,
    /// A stream connection was reset.
    NetReset,
    /// The nodes were split into two groups that cannot talk.
    Partition,
    /// A node's wall clock stepped.
    ClockJump,
}

impl FaultKind {
    pub const ALL: [FaultKind; 17] = [
        FaultKind::Crash,
        FaultKind::RecoveryCrash,
        FaultKind::LostWrite,
        FaultKind::TornWrite,
        FaultKind::ReorderedWrite,
        FaultKind::MisdirectedWrite,
        FaultKind::BitRot,
        FaultKind::ReadError,
        FaultKind::WriteError,
        FaultKind::SyncError,
        FaultKind::DiskLatencySpike,
        FaultKind::NetLoss,
        FaultKind::NetDuplicate,
        FaultKind::NetReorder,
        FaultKind::NetReset,
        FaultKind::Partition,
        FaultKind::ClockJump,
    ];

    /// The name used in result lines (`crashes=3 lost_writes=5 …`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crashes",
            FaultKind::RecoveryCrash => "recovery_crashes",
            FaultKind::LostWrite => "lost_writes",
            FaultKind::TornWrite => "torn_writes",
            FaultKind::ReorderedWrite => "reordered_writes",
            FaultKind::MisdirectedWrite => "misdirected_writes",
            FaultKind::BitRot => "bit_rot",
            FaultKind::ReadError => "read_errors",
            FaultKind::WriteError => "write_errors",
            FaultKind::SyncError => "sync_errors",
            FaultKind::DiskLatencySpike => "disk_spikes",
            FaultKind::NetLoss => "net_loss",
            FaultKind::NetDuplicate => "net_duplicates",
            FaultKind::NetReorder => "net_reorders",
            FaultKind::NetReset => "net_resets",
            FaultKind::Partition => "partitions",
            FaultKind::ClockJump => "clock_jumps",
        }
    }

    fn index(self) -> usize {
        FaultKind::ALL.iter().position(|kind| *kind == self).expect("every kind is in ALL")
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    counts: [u64; FaultKind::ALL.len()],
}

impl FaultCounts {
    pub fn add(&mut self, kind: FaultKind, count: u64) {
        self.counts[kind.index()] += count;
    }

    pub fn get(&self, kind: FaultKind) -> u64 {
        self.counts[kind.index()]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn merge(&mut self, other: &FaultCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
    }

    /// Kinds never injected.
    pub fn missing(&self) -> Vec<FaultKind> {
        FaultKind::ALL.into_iter().filter(|kind| self.get(*kind) == 0).collect()
    }
}

impl fmt::Display for FaultCounts {
    /// `crashes=N lost_writes=N …`, every kind, in a fixed order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in FaultKind::ALL {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{}={}", kind.name(), self.get(kind))?;
        }
        Ok(())
    }
}
