//! Table and column statistics for the cost-based planner.
//!
//! ANALYZE reads a table once, in batches, and records its row count and,
//! per column, the number of distinct values, the NULL fraction and the
//! minimum and maximum ([`StatsBuilder`]). Its memory is bounded whatever
//! the table's size: distinct values are counted exactly (as 64-bit hashes)
//! up to 100,000 per column, and estimated beyond that by a HyperLogLog
//! sketch (about 0.8 % standard error).
//! Between ANALYZEs the row count follows inserts and deletes, and a table
//! whose modifications since its last ANALYZE exceed [`AUTO_ANALYZE_FRACTION`]
//! of its rows (plus [`AUTO_ANALYZE_MIN`]) is re-analyzed before the next
//! statement plans against it, as PostgreSQL's autovacuum would. Statistics
//! live in memory: after a restart each table is analyzed on first use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use crate::env::Instant;

use crate::sql::value::Value;

/// An automatic ANALYZE of one table runs at most this often (PostgreSQL's
/// autovacuum wakes once a minute): a ten-row table updated by every
/// transaction would otherwise be re-read every few dozen commits.
pub const AUTO_ANALYZE_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Re-analyze once this fraction of rows changed…
pub const AUTO_ANALYZE_FRACTION: f64 = 0.2;
/// …plus this many rows.
pub const AUTO_ANALYZE_MIN: f64 = 50.0;
/// How many distinct values per column ANALYZE counts exactly (as hashes,
/// 8 bytes each); beyond this it trusts the sketch.
const DISTINCT_EXACT_LIMIT: usize = 100_000;

/// What ANALYZE learned about one column.
#[derive(Debug, Clone, Default)]
pub struct ColumnStats {
    pub distinct: f64,
    pub null_fraction: f64,
    pub min: Option<Value>,
    pub max: Option<Value>,
}

/// What the planner knows about one table.
#[derive(Debug, Clone, Default)]
pub struct TableStats {
    pub rows: f64,
    pub columns: Vec<ColumnStats>,
    /// Inserted, updated or deleted rows since the last ANALYZE.
    pub modified: f64,
    pub analyzed: bool,
    /// A session is re-analyzing the table (see [`StatsStore::claim_stale`]).
    pub analyzing: bool,
    /// When the last automatic ANALYZE finished (Env clock).
    pub auto_analyzed_at: Option<Instant>,
}

impl TableStats {
    /// Whether enough changed since the last ANALYZE to redo it.
    pub fn stale(&self) -> bool {
        !self.analyzed || self.modified > AUTO_ANALYZE_MIN + AUTO_ANALYZE_FRACTION * self.rows
    }

    /// Distinct values of column `c`; without statistics PostgreSQL's
    /// default of 200, capped by the row count.
    pub fn distinct(&self, c: usize) -> f64 {
        self.columns.get(c).map(|s| s.distinct).unwrap_or(self.rows.clamp(1.0, 200.0))
    }
}

/// Accumulates a table's statistics one row at a time, in memory bounded by
/// its width (see the module documentation).
pub struct StatsBuilder {
    rows: u64,
    columns: Vec<ColumnAccumulator>,
    /// Fixed seeds, so the same values give the same statistics (and plans)
    /// in every run, as the simulator's replays need.
    hasher: ahash::RandomState,
}

struct ColumnAccumulator {
    nulls: u64,
    min: Option<Value>,
    max: Option<Value>,
    distinct: DistinctCounter,
}

impl StatsBuilder {
    pub fn new(width: usize) -> StatsBuilder {
        let columns = (0..width)
            .map(|_| ColumnAccumulator { nulls: 0, min: None, max: None, distinct: DistinctCounter::new() })
            .collect();
        StatsBuilder { rows: 0, columns, hasher: crate::sql::exec::fixed_hasher() }
    }

    /// Adds one row; a row shorter than the table (written before an ADD
    /// COLUMN) reads NULL in the columns it lacks.
    pub fn add(&mut self, row: &[Value]) {
        self.rows += 1;
        for (c, column) in self.columns.iter_mut().enumerate() {
            let value = row.get(c).unwrap_or(&Value::Null);
            if value.is_null() {
                column.nulls += 1;
                continue;
            }
            column.distinct.add(self.hasher.hash_one(value));
            if column.min.as_ref().is_none_or(|m| value < m) {
                column.min = Some(value.clone());
            }
            if column.max.as_ref().is_none_or(|m| value > m) {
                column.max = Some(value.clone());
            }
        }
    }

    pub fn finish(self) -> TableStats {
        let n = self.rows.max(1) as f64;
        let columns = self
            .columns
            .into_iter()
            .map(|c| ColumnStats {
                distinct: c.distinct.count().max(1.0),
                null_fraction: c.nulls as f64 / n,
                min: c.min,
                max: c.max,
            })
            .collect();
        TableStats {
            rows: self.rows as f64,
            columns,
            modified: 0.0,
            analyzed: true,
            analyzing: false,
            auto_analyzed_at: None,
        }
    }
}

/// Distinct values of one column: exact while few, then sketched.
struct DistinctCounter {
    /// The hashes seen, until there are more than [`DISTINCT_EXACT_LIMIT`].
    exact: Option<BTreeSet<u64>>,
    sketch: DistinctSketch,
}

impl DistinctCounter {
    fn new() -> DistinctCounter {
        DistinctCounter { exact: Some(BTreeSet::new()), sketch: DistinctSketch::new() }
    }

    fn add(&mut self, hash: u64) {
        self.sketch.add(hash);
        if let Some(exact) = &mut self.exact {
            exact.insert(hash);
            if exact.len() > DISTINCT_EXACT_LIMIT {
                self.exact = None;
            }
        }
    }

    fn count(&self) -> f64 {
        match &self.exact {
            Some(exact) => exact.len() as f64,
            None => self.sketch.estimate().round(),
        }
    }
}

/// A HyperLogLog sketch (Flajolet, Fusy, Gandouet and Meunier, 2007) of
/// 2^[`Self::BITS`] one-byte registers: the first bits of a value's hash
/// pick a register, which keeps the longest run of leading zeros (plus one)
/// seen in the rest. Small counts use linear counting, as the paper says.
struct DistinctSketch {
    registers: Vec<u8>,
}

impl DistinctSketch {
    const BITS: u32 = 14;

    fn new() -> DistinctSketch {
        DistinctSketch { registers: vec![0; 1 << Self::BITS] }
    }

    fn add(&mut self, hash: u64) {
        let register = (hash >> (64 - Self::BITS)) as usize;
        let rest = hash << Self::BITS;
        let rank = (rest.leading_zeros() + 1).min(64 - Self::BITS + 1) as u8;
        let slot = &mut self.registers[register];
        *slot = (*slot).max(rank);
    }

    fn estimate(&self) -> f64 {
        let m = self.registers.len() as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let harmonic: f64 = self.registers.iter().map(|&r| (-f64::from(r)).exp2()).sum();
        let raw = alpha * m * m / harmonic;
        let empty = self.registers.iter().filter(|&&r| r == 0).count();
        if raw <= 2.5 * m && empty > 0 { m * (m / empty as f64).ln() } else { raw }
    }
}

/// Statistics of every table, by table id.
#[derive(Default)]
pub struct StatsStore {
    tables: Mutex<BTreeMap<u64, TableStats>>,
}

impl StatsStore {
    pub fn get(&self, table: u64) -> Option<TableStats> {
        self.tables.lock().expect("stats lock").get(&table).cloned()
    }

    pub fn set(&self, table: u64, stats: TableStats) {
        self.tables.lock().expect("stats lock").insert(table, stats);
    }

    /// Claims the re-analysis of `table` when its statistics are stale and
    /// no session is already at it: a burst of statements against a table
    /// that just went stale then runs one ANALYZE, not one each (under
    /// pgbench, four clients used to re-scan the accounts table together and
    /// every statement arriving meanwhile started another). The claimer
    /// ends it with [`StatsStore::set`] or [`StatsStore::release_claim`].
    pub fn claim_stale(&self, table: u64, now: Instant) -> bool {
        let mut tables = self.tables.lock().expect("stats lock");
        match tables.get_mut(&table) {
            Some(stats) if stats.analyzing || !stats.stale() => false,
            Some(stats)
                if stats.auto_analyzed_at.is_some_and(|t| now.saturating_since(t) < AUTO_ANALYZE_MIN_INTERVAL) =>
            {
                false
            }
            Some(stats) => {
                stats.analyzing = true;
                true
            }
            None => true,
        }
    }

    /// Records that an automatic ANALYZE of `table` started at `at`.
    pub fn mark_auto_analyzed(&self, table: u64, at: Instant) {
        if let Some(stats) = self.tables.lock().expect("stats lock").get_mut(&table) {
            stats.auto_analyzed_at = Some(at);
        }
    }

    /// Gives up a claim from [`StatsStore::claim_stale`] (the ANALYZE failed).
    pub fn release_claim(&self, table: u64) {
        if let Some(stats) = self.tables.lock().expect("stats lock").get_mut(&table) {
            stats.analyzing = false;
        }
    }

    /// Records `inserted` new rows, `deleted` removed ones and `updated` changed ones.
    pub fn note_changes(&self, table: u64, inserted: u64, deleted: u64, updated: u64) {
        let mut tables = self.tables.lock().expect("stats lock");
        let stats = tables.entry(table).or_default();
        stats.rows = (stats.rows + inserted as f64 - deleted as f64).max(0.0);
        stats.modified += (inserted + deleted + updated) as f64;
    }

    pub fn forget(&self, table: u64) {
        self.tables.lock().expect("stats lock").remove(&table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(rows: &[Vec<Value>], width: usize) -> TableStats {
        let mut builder = StatsBuilder::new(width);
        for row in rows {
            builder.add(row);
        }
        builder.finish()
    }

    #[test]
    fn small_tables_are_counted_exactly() {
        let rows: Vec<Vec<Value>> =
            (0..1_000).map(|i| vec![Value::Int(i % 7), if i % 4 == 0 { Value::Null } else { Value::Int(i) }]).collect();
        let stats = stats_of(&rows, 2);
        assert_eq!(stats.rows, 1_000.0);
        assert_eq!(stats.columns[0].distinct, 7.0);
        assert_eq!(stats.columns[1].distinct, 750.0);
        assert_eq!(stats.columns[1].null_fraction, 0.25);
        assert_eq!(stats.columns[0].min, Some(Value::Int(0)));
        assert_eq!(stats.columns[1].max, Some(Value::Int(999)));
    }

    #[test]
    fn rows_shorter_than_the_table_read_null() {
        let stats = stats_of(&[vec![Value::Int(1)], vec![Value::Int(2), Value::Int(3)]], 2);
        assert_eq!(stats.columns[1].null_fraction, 0.5);
        assert_eq!(stats.columns[1].distinct, 1.0);
    }

    #[test]
    fn past_the_exact_limit_the_sketch_estimates_within_a_few_percent() {
        let mut builder = StatsBuilder::new(1);
        let n = 3 * DISTINCT_EXACT_LIMIT as i64;
        for i in 0..n {
            // Every value twice: duplicates must not count.
            builder.add(&[Value::Int(i % (n / 2))]);
        }
        let distinct = builder.finish().columns[0].distinct;
        let truth = (n / 2) as f64;
        assert!((distinct - truth).abs() / truth < 0.05, "estimated {distinct} for {truth}");
    }

    #[test]
    fn the_sketch_counts_small_sets_closely() {
        for truth in [1u64, 10, 100, 1_000, 10_000, 30_000, 100_000] {
            let mut sketch = DistinctSketch::new();
            let hasher = crate::sql::exec::fixed_hasher();
            for i in 0..truth {
                sketch.add(hasher.hash_one(Value::Int(i as i64)));
            }
            let estimate = sketch.estimate();
            let error = (estimate - truth as f64).abs() / truth as f64;
            assert!(error < 0.05, "estimated {estimate} for {truth}");
        }
    }

    #[test]
    fn only_one_session_claims_a_stale_table_until_it_is_analyzed() {
        let store = StatsStore::default();
        let now = Instant::from_nanos(0);
        assert!(store.claim_stale(1, now), "a table never analyzed is claimed");
        store.set(1, stats_of(&[vec![Value::Int(1)]], 1));
        assert!(!store.claim_stale(1, now), "fresh statistics need no ANALYZE");

        store.note_changes(1, 0, 0, 1_000);
        assert!(store.claim_stale(1, now));
        assert!(!store.claim_stale(1, now), "a second session plans with the stale statistics");

        store.release_claim(1);
        assert!(store.claim_stale(1, now), "a failed ANALYZE gives the claim back");
        store.set(1, stats_of(&[], 1));
        assert!(!store.claim_stale(1, now));

        store.mark_auto_analyzed(1, now);
        store.note_changes(1, 0, 0, 1_000);
        assert!(!store.claim_stale(1, now), "not again within the interval");
        assert!(store.claim_stale(1, now.saturating_add(AUTO_ANALYZE_MIN_INTERVAL)));
    }
}
