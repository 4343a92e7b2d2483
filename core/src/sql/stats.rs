//! Table and column statistics for the cost-based planner.
//!
//! ANALYZE reads a table and records its row count and, per column, the
//! number of distinct values, the NULL fraction and the minimum and maximum.
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
/// How many distinct values per column ANALYZE tracks exactly; beyond this
/// it scales the sample's count.
const DISTINCT_LIMIT: usize = 100_000;

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
    /// Computes statistics from all of a table's rows.
    pub fn from_rows(rows: &[Vec<Value>], width: usize) -> TableStats {
        let mut columns = Vec::with_capacity(width);
        for c in 0..width {
            let mut distinct: BTreeSet<&Value> = BTreeSet::new();
            let mut nulls = 0usize;
            let mut min: Option<&Value> = None;
            let mut max: Option<&Value> = None;
            for row in rows {
                let v = &row[c];
                if v.is_null() {
                    nulls += 1;
                    continue;
                }
                if distinct.len() < DISTINCT_LIMIT {
                    distinct.insert(v);
                }
                if min.is_none_or(|m| v < m) {
                    min = Some(v);
                }
                if max.is_none_or(|m| v > m) {
                    max = Some(v);
                }
            }
            let n = rows.len().max(1) as f64;
            columns.push(ColumnStats {
                distinct: distinct.len().max(1) as f64,
                null_fraction: nulls as f64 / n,
                min: min.cloned(),
                max: max.cloned(),
            });
        }
        TableStats {
            rows: rows.len() as f64,
            columns,
            modified: 0.0,
            analyzed: true,
            analyzing: false,
            auto_analyzed_at: None,
        }
    }

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

    #[test]
    fn only_one_session_claims_a_stale_table_until_it_is_analyzed() {
        let store = StatsStore::default();
        let now = Instant::from_nanos(0);
        assert!(store.claim_stale(1, now), "a table never analyzed is claimed");
        store.set(1, TableStats::from_rows(&[vec![Value::Int(1)]], 1));
        assert!(!store.claim_stale(1, now), "fresh statistics need no ANALYZE");

        store.note_changes(1, 0, 0, 1_000);
        assert!(store.claim_stale(1, now));
        assert!(!store.claim_stale(1, now), "a second session plans with the stale statistics");

        store.release_claim(1);
        assert!(store.claim_stale(1, now), "a failed ANALYZE gives the claim back");
        store.set(1, TableStats::from_rows(&[], 1));
        assert!(!store.claim_stale(1, now));

        store.mark_auto_analyzed(1, now);
        store.note_changes(1, 0, 0, 1_000);
        assert!(!store.claim_stale(1, now), "not again within the interval");
        assert!(store.claim_stale(1, now.saturating_add(AUTO_ANALYZE_MIN_INTERVAL)));
    }
}
