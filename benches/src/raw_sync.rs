//! This machine's durable-write latency: the physical limit for commits that
//! each wait for their own sync.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Latency of one 4 KiB write followed by `fsync`.
#[derive(Debug, Clone, Copy)]
pub struct SyncLatency {
    pub median: Duration,
    pub p99: Duration,
    /// Write+fsync pairs per second over the whole loop.
    pub syncs_per_sec: f64,
}

impl SyncLatency {
    /// `bench=raw_sync latency_us=<median> p99_us=<p99> syncs_per_s=<n>`.
    pub fn line(&self) -> String {
        format!(
            "bench=raw_sync latency_us={} p99_us={} syncs_per_s={:.0}",
            self.median.as_micros(),
            self.p99.as_micros(),
            self.syncs_per_sec
        )
    }
}

/// Writes 4 KiB and fsyncs (`File::sync_all`, what the production Env's
/// `sync` does), `iterations` times, each at the next block of a file
/// preallocated and synced first, so the loop measures data syncs rather
/// than file growth.
pub fn measure(dir: &Path, iterations: usize) -> io::Result<SyncLatency> {
    const BLOCK: usize = 4096;
    let file = OpenOptions::new().create_new(true).write(true).open(dir.join("raw_sync"))?;
    let block = [0xa5_u8; BLOCK];
    for i in 0..iterations {
        file.write_all_at(&block, (i * BLOCK) as u64)?;
    }
    file.sync_all()?;
    let mut latencies = Vec::with_capacity(iterations);
    let start = Instant::now();
    for i in 0..iterations {
        let one = Instant::now();
        file.write_all_at(&block, (i * BLOCK) as u64)?;
        file.sync_all()?;
        latencies.push(one.elapsed());
    }
    let total = start.elapsed();
    latencies.sort_unstable();
    let at =
        |quantile: f64| latencies[((latencies.len() as f64 * quantile).ceil() as usize).clamp(1, latencies.len()) - 1];
    Ok(SyncLatency { median: at(0.5), p99: at(0.99), syncs_per_sec: iterations as f64 / total.as_secs_f64() })
}
