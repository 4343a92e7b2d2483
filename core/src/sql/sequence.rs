//! Sequence counters: `nextval`, SERIAL and IDENTITY columns, hidden row ids
//! and catalog object ids.
//!
//! As in PostgreSQL, sequences are not transactional: a value handed out is
//! never handed out again, even if the transaction that took it rolls back.
//! Values are reserved durably in blocks (one small committed transaction,
//! so one log sync, per block), so a crash skips at most the rest of a block
//! and never repeats a value. A block holds [`RESERVE_BLOCK`] values, doubled
//! (up to [`MAX_RESERVE_BLOCK`]) each time the last one ran out within
//! [`FAST_RESERVE`]: a bulk load into a table keyed by hidden row ids syncs
//! a few dozen times, not once per 64 rows, while a sequence used now and
//! then still loses at most 64 values to a crash.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::lock::Mutex;

use crate::env::{Env, Instant};
use crate::store::TableId;
use crate::txn::{IsolationLevel, TxnEngine};
use crate::{Error, Result};

const SEQUENCE_TABLE: &str = "sql.sequences";

/// How many values a durable reservation covers at first.
pub const RESERVE_BLOCK: i64 = 64;

/// The most values one reservation covers (what a crash may skip).
pub const MAX_RESERVE_BLOCK: i64 = 16_384;

/// A block used up faster than this makes the next one twice as large.
pub const FAST_RESERVE: std::time::Duration = std::time::Duration::from_secs(1);

/// The in-memory state of one sequence: values in `next..reserved_end` may be
/// handed out without touching the disk. `block` values were reserved at
/// `reserved_at`.
#[derive(Debug, Clone, Copy)]
struct Counter {
    next: i64,
    reserved_end: i64,
    block: i64,
    reserved_at: Option<Instant>,
}

impl Counter {
    /// The size of the block to reserve now that this one ran out at `now`.
    fn next_block(&self, now: Instant) -> i64 {
        match self.reserved_at {
            Some(at) if now.saturating_since(at) < FAST_RESERVE => (self.block * 2).min(MAX_RESERVE_BLOCK),
            _ => RESERVE_BLOCK,
        }
    }
}

/// Every sequence's counter.
pub struct Sequences {
    env: Env,
    engine: Arc<TxnEngine>,
    table: TableId,
    counters: Mutex<BTreeMap<String, Counter>>,
}

impl Sequences {
    pub async fn open(env: &Env, engine: &Arc<TxnEngine>) -> Result<Sequences> {
        let table = match engine.table(SEQUENCE_TABLE).await {
            Ok(id) => id,
            Err(_) => engine.create_table(SEQUENCE_TABLE).await?,
        };
        Ok(Sequences { env: env.clone(), engine: engine.clone(), table, counters: Mutex::new(BTreeMap::new()) })
    }

    /// The next value of the counter `name`, counting up by one from 1.
    pub async fn next(&self, name: &str) -> Result<i64> {
        self.next_stepped(name, 1, 1, i64::MAX, false).await
    }

    /// The next value of sequence `name` with the given shape. Counters are
    /// kept as a raw position (0, 1, 2 …) mapped onto `start + k * increment`.
    pub async fn next_stepped(
        &self,
        name: &str,
        start: i64,
        increment: i64,
        max_or_min: i64,
        cycle: bool,
    ) -> Result<i64> {
        let position = self.next_position(name).await?;
        let value = position.checked_mul(increment).and_then(|step| start.checked_add(step));
        let in_range = |v: i64| if increment > 0 { v <= max_or_min } else { v >= max_or_min };
        match value {
            Some(v) if in_range(v) => Ok(v),
            _ if cycle => {
                self.reset(name).await?;
                Ok(start)
            }
            _ => Err(Error::sql(
                "2200H",
                format!("nextval: reached maximum value of sequence \"{name}\" ({max_or_min})"),
            )),
        }
    }

    async fn next_position(&self, name: &str) -> Result<i64> {
        let mut counters = self.counters.lock().await;
        let counter = match counters.get(name) {
            Some(counter) => *counter,
            None => {
                let durable = self.read_reserved(name).await?;
                Counter { next: durable, reserved_end: durable, block: 0, reserved_at: None }
            }
        };
        let counter = if counter.next < counter.reserved_end {
            counter
        } else {
            let now = self.env.clock.now();
            let block = counter.next_block(now);
            let end = counter.reserved_end.saturating_add(block);
            self.write_reserved(name, end).await?;
            Counter { next: counter.reserved_end, reserved_end: end, block, reserved_at: Some(now) }
        };
        counters.insert(name.to_string(), Counter { next: counter.next + 1, ..counter });
        Ok(counter.next)
    }

    /// Forgets `name`'s position: the next value is its start again.
    pub async fn reset(&self, name: &str) -> Result<()> {
        let mut counters = self.counters.lock().await;
        self.write_reserved(name, 0).await?;
        counters.remove(name);
        Ok(())
    }

    /// Makes position `position` the next one handed out (setval).
    pub async fn set_position(&self, name: &str, position: i64) -> Result<()> {
        let mut counters = self.counters.lock().await;
        self.write_reserved(name, position).await?;
        counters
            .insert(name.to_string(), Counter { next: position, reserved_end: position, block: 0, reserved_at: None });
        Ok(())
    }

    async fn read_reserved(&self, name: &str) -> Result<i64> {
        let mut txn = self.engine.begin(IsolationLevel::ReadCommitted).await?;
        let row = txn.get(self.table, name.as_bytes()).await?;
        txn.commit().await?;
        match row {
            None => Ok(0),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes.try_into().map_err(|_| Error::Corrupt(format!("sequence {name} state")))?;
                Ok(i64::from_le_bytes(bytes))
            }
        }
    }

    async fn write_reserved(&self, name: &str, end: i64) -> Result<()> {
        let mut txn = self.engine.begin(IsolationLevel::ReadCommitted).await?;
        txn.put(self.table, name.as_bytes(), &end.to_le_bytes()).await?;
        txn.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(block: i64, at_secs: Option<u64>) -> Counter {
        Counter {
            next: 0,
            reserved_end: 0,
            block,
            reserved_at: at_secs.map(|s| Instant::from_nanos(s * 1_000_000_000)),
        }
    }

    #[test]
    fn blocks_grow_while_used_up_fast_and_fall_back_when_not() {
        let at = |secs: u64| Instant::from_nanos(secs * 1_000_000_000);
        assert_eq!(counter(0, None).next_block(at(5)), RESERVE_BLOCK, "a fresh counter starts small");
        assert_eq!(counter(64, Some(5)).next_block(at(5)), 128, "used up at once: doubled");
        assert_eq!(counter(MAX_RESERVE_BLOCK, Some(5)).next_block(at(5)), MAX_RESERVE_BLOCK, "capped");
        assert_eq!(counter(4096, Some(5)).next_block(at(6)), RESERVE_BLOCK, "a slow block resets the size");
    }
}
