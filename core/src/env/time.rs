//! Time: a monotonic clock for measuring and sleeping, a wall clock for
//! timestamps that humans read.
//!
//! Guarantees: [`Clock::now`] never goes backwards on one node (between
//! restarts of a simulated node it restarts from an arbitrary point, as after
//! a reboot). [`Clock::wall_now`] may jump in either direction at any time
//! (NTP steps, operator changes); never use it to order events or measure
//! durations. [`Clock::sleep`] completes no earlier than the monotonic clock
//! has advanced by the duration, and may complete arbitrarily later.

use std::future::Future;
use std::time::Duration;

use futures::future::{Either, select};

use super::BoxFuture;
use crate::{Error, Result};

/// A point on a node's monotonic clock, in nanoseconds from an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    pub nanos: u64,
}

impl Instant {
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant { nanos }
    }

    /// The time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// This instant moved forward by `duration`, saturating at the end of time.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant { nanos: self.nanos.saturating_add(nanos) }
    }
}

/// Wall-clock time: nanoseconds since the Unix epoch, possibly negative when a
/// clock was set before 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WallTime {
    pub unix_nanos: i128,
}

impl WallTime {
    pub fn unix_millis(self) -> i128 {
        self.unix_nanos / 1_000_000
    }
}

/// The node's clocks.
pub trait Clock: Send + Sync {
    /// The monotonic clock; see the module doc for its guarantees.
    fn now(&self) -> Instant;
    /// The wall clock; may jump. For timestamps only.
    fn wall_now(&self) -> WallTime;
    /// Completes once the monotonic clock has advanced by at least `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Runs `future` but gives up after `duration` on `clock`, returning
/// [`Error::Timeout`]. The future is dropped (cancelled) on timeout.
pub async fn timeout<T, F>(clock: &dyn Clock, duration: Duration, future: F) -> Result<T>
where
    F: Future<Output = T>,
{
    let future = std::pin::pin!(future);
    match select(future, clock.sleep(duration)).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), _)) => {
            let after_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            Err(Error::Timeout { after_ms })
        }
    }
}
