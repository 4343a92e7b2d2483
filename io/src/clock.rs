//! [`TokioClock`]: the node's clocks from the operating system.
//!
//! The monotonic clock counts from the clock's creation, so [`Instant`]s are
//! small numbers that never go backwards (std's `Instant` guarantees that);
//! the wall clock is `SystemTime` and may jump, as the contract allows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustydb_core::env::{BoxFuture, Clock, Instant, WallTime};

/// The production [`Clock`]: std time for reading, tokio timers for sleeping.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: std::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        TokioClock { start: std::time::Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn wall_now(&self) -> WallTime {
        let unix_nanos = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => signed_nanos(after),
            Err(before) => -signed_nanos(before.duration()),
        };
        WallTime { unix_nanos }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        // The deadline is fixed now, so the sleep counts from the call; the
        // timer is created on first poll, so calling `sleep` outside a tokio
        // runtime does not panic.
        let deadline = tokio::time::Instant::now().checked_add(duration);
        Box::pin(async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                // Past the end of representable time: never wakes.
                None => std::future::pending().await,
            }
        })
    }
}

fn signed_nanos(duration: Duration) -> i128 {
    i128::try_from(duration.as_nanos()).unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use rustydb_core::Error;
    use rustydb_core::env::timeout;

    use super::*;

    #[tokio::test]
    async fn sleep_advances_the_monotonic_clock() {
        let clock = TokioClock::new();
        let before = clock.now();
        clock.sleep(Duration::from_millis(20)).await;
        assert!(clock.now().saturating_since(before) >= Duration::from_millis(20));
        assert!(clock.wall_now().unix_millis() > 1_600_000_000_000, "wall clock is after 2020");
    }

    #[tokio::test]
    async fn timeout_cancels_slow_futures_only() {
        let clock = TokioClock::new();
        let slow = timeout(&clock, Duration::from_millis(10), clock.sleep(Duration::from_secs(60))).await;
        assert_eq!(slow, Err(Error::Timeout { after_ms: 10 }));
        let fast = timeout(&clock, Duration::from_secs(60), async { 7 }).await;
        assert_eq!(fast, Ok(7));
    }
}
