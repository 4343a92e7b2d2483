//! Shared pieces of the `storage` bench (`benches/benches/storage.rs`):
//! configuration from the environment, the workload both engines run, the
//! timing helper, output lines and scratch directories.
//!
//! One module per side: [`sqlite`] (SQLite through rusqlite, WAL,
//! `synchronous=FULL`), [`rustydb`] (the RustyDB store on the production
//! Env), [`raw_sync`] (this machine's fsync latency) and [`eviction`]
//! (buffer-pool policy hit rates on synthetic page traces).

pub mod eviction;
pub mod raw_sync;
pub mod rustydb;
pub mod sqlite;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Any error a bench can hit (rusqlite, RustyDB, the OS).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The result of a bench step.
pub type BenchResult<T> = Result<T, BoxError>;

/// Every bench name accepted by `BENCH_ONLY`, in the order they run.
pub const BENCHES: [&str; 7] =
    ["raw_sync", "commit_1", "commit_16", "bulk_insert_1m", "point_lookup_1m", "range_scan", "eviction_hit_rate"];

/// Page cache given to each engine, so neither wins by caching more:
/// SQLite's `cache_size` and RustyDB's `pool_frames` (4 KiB frames).
pub const CACHE_BYTES: usize = 64 << 20;

/// Rounds of each table bench unless `BENCH_ROUNDS` says otherwise.
pub const DEFAULT_ROUNDS: usize = 3;
/// The most rounds `BENCH_ROUNDS` may ask for.
pub const MAX_ROUNDS: usize = 20;

/// Settings read from the environment: `BENCH_SCALE` (float, default 1.0)
/// multiplies every row and operation count; `BENCH_ONLY=a,b` runs a subset;
/// `BENCH_ROUNDS` (default [`DEFAULT_ROUNDS`]) is how many times each table
/// bench alternates the two engines, the median of each side counting.
#[derive(Debug, Clone)]
pub struct Config {
    pub scale: f64,
    pub rounds: usize,
    only: Option<Vec<String>>,
}

impl Config {
    /// Reads `BENCH_SCALE` and `BENCH_ONLY`; rejects bad values and names
    /// not in [`BENCHES`].
    pub fn from_env() -> BenchResult<Config> {
        Config::from_env_for(&BENCHES)
    }

    /// As [`Config::from_env`], for a bench binary whose selectable names are `names`.
    pub fn from_env_for(names: &[&str]) -> BenchResult<Config> {
        let scale = match std::env::var("BENCH_SCALE") {
            Ok(text) => text.trim().parse::<f64>().map_err(|err| format!("BENCH_SCALE={text:?}: {err}"))?,
            Err(_) => 1.0,
        };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(format!("BENCH_SCALE must be a positive number, got {scale}").into());
        }
        let rounds = match std::env::var("BENCH_ROUNDS") {
            Ok(text) => text.trim().parse::<usize>().map_err(|err| format!("BENCH_ROUNDS={text:?}: {err}"))?,
            Err(_) => DEFAULT_ROUNDS,
        };
        if !(1..=MAX_ROUNDS).contains(&rounds) {
            return Err(format!("BENCH_ROUNDS must be 1 to {MAX_ROUNDS}, got {rounds}").into());
        }
        let only = match std::env::var("BENCH_ONLY") {
            Ok(list) => Some(parse_only(&list, names)?),
            Err(_) => None,
        };
        Ok(Config { scale, rounds, only })
    }

    /// Whether the bench called `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|wanted| wanted == name))
    }

    /// `count` times the scale, rounded, at least `min`.
    pub fn scaled(&self, count: u64, min: u64) -> u64 {
        ((count as f64 * self.scale).round() as u64).max(min)
    }
}

fn parse_only(list: &str, valid: &[&str]) -> BenchResult<Vec<String>> {
    let names: Vec<String> =
        list.split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned).collect();
    if let Some(unknown) = names.iter().find(|name| !valid.contains(&name.as_str())) {
        return Err(format!("BENCH_ONLY: unknown bench {unknown:?}; valid: {}", valid.join(",")).into());
    }
    Ok(names)
}

/// The row and operation counts, and the deterministic keys both engines use.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Rows of the table that lookups and scans read (1,000,000 at scale 1).
    pub rows: u64,
    /// Single-row durable commits, in total over all committers (10,000).
    pub commits: u64,
    /// Concurrent committers of `commit_16`.
    pub committers: u64,
    /// Ids looked up by `point_lookup_1m`, uniform over `0..rows` (1,000,000).
    pub lookup_ids: Vec<u64>,
    /// First id of each scan of `range_scan` (1,000 scans).
    pub scan_starts: Vec<u64>,
    /// Rows per scan (1,000).
    pub scan_len: u64,
}

impl Workload {
    /// The workload at `config`'s scale; the same on every run.
    pub fn new(config: &Config) -> Workload {
        let rows = config.scaled(1_000_000, 1_000);
        let committers = 16;
        let commits = config.scaled(10_000, committers);
        let scan_len = 1_000.min(rows);
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
        let lookup_ids = (0..config.scaled(1_000_000, 1)).map(|_| rng.next_u64() % rows).collect();
        let scan_starts = (0..config.scaled(1_000, 1)).map(|_| rng.next_u64() % (rows - scan_len + 1)).collect();
        Workload { rows, commits, committers, lookup_ids, scan_starts, scan_len }
    }

    /// The ids committer `index` of `committers` inserts, one commit each:
    /// disjoint consecutive ranges covering `commits / committers` ids each.
    pub fn committer_ids(&self, index: u64, committers: u64) -> std::ops::Range<u64> {
        let per = self.commits / committers;
        index * per..(index + 1) * per
    }
}

/// The key of row `id`: big-endian, so byte order is numeric order.
pub fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Length of every row's value.
pub const VALUE_LEN: usize = 24;

/// The value of row `id`: `value-` and the id in 18 zero-padded decimal digits.
pub fn value(id: u64) -> [u8; VALUE_LEN] {
    let mut out = *b"value-000000000000000000";
    let mut rest = id;
    for digit in out[6..].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out
}

/// `ops` operations done in `elapsed`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub ops: u64,
    pub elapsed: Duration,
}

impl Rate {
    /// `ops` operations done since `start`.
    pub fn since(ops: u64, start: Instant) -> Rate {
        Rate { ops, elapsed: start.elapsed() }
    }

    /// Operations per second.
    pub fn per_sec(self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `work`, which does `ops` operations, and times it.
pub fn timed(ops: u64, work: impl FnOnce() -> BenchResult<()>) -> BenchResult<Rate> {
    let start = Instant::now();
    work()?;
    Ok(Rate::since(ops, start))
}

/// Both engines' rates over the rounds of one bench, run alternately so
/// that a slow spell of the machine hits both sides alike.
#[derive(Debug, Clone, Default)]
pub struct Rounds {
    rustydb: Vec<Rate>,
    sqlite: Vec<Rate>,
    rustydb_unavailable: bool,
}

impl Rounds {
    /// Records one round; `rustydb` is `None` when that side could not run.
    pub fn push(&mut self, rustydb: Option<Rate>, sqlite: Rate) {
        match rustydb {
            Some(rate) => self.rustydb.push(rate),
            None => self.rustydb_unavailable = true,
        }
        self.sqlite.push(sqlite);
    }

    /// The comparison line of the medians (see [`ratio_line`]), then, after
    /// more than one round, `bench=<name> rounds=<n> ratios=<r1>,<r2>,…`:
    /// each round's own ratio, to show the spread.
    pub fn lines(&self, name: &str) -> String {
        let sqlite = median(&self.sqlite).expect("at least one round");
        let rustydb = if self.rustydb_unavailable { None } else { median(&self.rustydb) };
        let mut out = ratio_line(name, rustydb, sqlite);
        if self.sqlite.len() > 1 && !self.rustydb_unavailable {
            let ratios: Vec<String> = self
                .rustydb
                .iter()
                .zip(&self.sqlite)
                .map(|(rustydb, sqlite)| format!("{:.2}", rustydb.per_sec() / sqlite.per_sec()))
                .collect();
            out.push_str(&format!("\nbench={name} rounds={} ratios={}", self.sqlite.len(), ratios.join(",")));
        }
        out
    }
}

/// The median rate (the lower middle one of an even count).
fn median(rates: &[Rate]) -> Option<Rate> {
    let mut sorted = rates.to_vec();
    sorted.sort_by(|a, b| a.per_sec().total_cmp(&b.per_sec()));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The comparison line: `bench=<name> rustydb=<ops/s> sqlite=<ops/s> ratio=<r/s>`;
/// `rustydb=unavailable` (and no ratio) when the RustyDB side could not run.
pub fn ratio_line(name: &str, rustydb: Option<Rate>, sqlite: Rate) -> String {
    let sqlite_rate = sqlite.per_sec();
    match rustydb {
        Some(rustydb) => {
            let rustydb_rate = rustydb.per_sec();
            format!(
                "bench={name} rustydb={:.0} sqlite={sqlite_rate:.0} ratio={:.2}",
                rustydb_rate,
                rustydb_rate / sqlite_rate
            )
        }
        None => format!("bench={name} rustydb=unavailable sqlite={sqlite_rate:.0} ratio=unavailable"),
    }
}

/// A fresh directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<temp>/rustydb-bench-<pid>-<time>-<n>-<label>`.
    pub fn new(label: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rustydb-bench-{}-{nanos}-{n}-{label}", std::process::id()));
        fs::create_dir(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_fixed_width_and_ordered() {
        assert_eq!(&value(42), b"value-000000000000000042");
        assert_eq!(&value(999_999), b"value-000000000000999999");
        assert!(key(255) < key(256));
    }

    #[test]
    fn only_rejects_unknown_names() {
        assert_eq!(parse_only("commit_1, range_scan", &BENCHES).unwrap(), ["commit_1", "range_scan"]);
        assert!(parse_only("commit_2", &BENCHES).is_err());
    }
}
