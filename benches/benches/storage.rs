//! `cargo bench -p rustydb-benches --bench storage`: RustyDB against SQLite
//! (WAL, `synchronous=FULL`) on the same machine in the same run, plus the
//! raw fsync latency and the eviction-policy hit rates. `BENCH_SCALE=0.1`
//! scales every count; `BENCH_ONLY=commit_1,range_scan` runs a subset. See
//! `benches/README.md` for what each bench does.

use std::path::Path;

use rustydb_benches::rustydb::RustyDb;
use rustydb_benches::{BenchResult, Config, Rounds, TempDir, Workload, eviction, ratio_line, raw_sync, sqlite};

fn main() -> BenchResult<()> {
    let config = Config::from_env()?;
    let work = Workload::new(&config);
    println!(
        "# storage bench: scale={} rows={} commits={} committers={} lookups={} scans={}x{} temp={}",
        config.scale,
        work.rows,
        work.commits,
        work.committers,
        work.lookup_ids.len(),
        work.scan_starts.len(),
        work.scan_len,
        std::env::temp_dir().display()
    );
    if config.wants("raw_sync") {
        bench_raw_sync(&config)?;
    }
    if config.wants("commit_1") {
        bench_commits("commit_1", &work, 1)?;
    }
    if config.wants("commit_16") {
        bench_commits("commit_16", &work, work.committers)?;
    }
    if ["bulk_insert_1m", "point_lookup_1m", "range_scan"].iter().any(|name| config.wants(name)) {
        bench_loaded_table(&config, &work)?;
    }
    if config.wants("eviction_hit_rate") {
        for result in eviction::run(config.scaled(500_000, 1_000) as usize) {
            println!("{}", result.line());
        }
    }
    Ok(())
}

/// `raw_sync`: 200 × (write 4 KiB + fsync) in the temp dir.
fn bench_raw_sync(config: &Config) -> BenchResult<()> {
    let dir = TempDir::new("raw-sync")?;
    println!("{}", raw_sync::measure(dir.path(), config.scaled(200, 20) as usize)?.line());
    Ok(())
}

/// `commit_1` / `commit_16`: single-row durable commits by `committers`
/// committers, each engine in a fresh directory.
fn bench_commits(name: &str, work: &Workload, committers: u64) -> BenchResult<()> {
    let rustydb_dir = TempDir::new("rustydb-commit")?;
    let rustydb = rustydb_side(rustydb_dir.path())?.map(|db| db.commits(work, committers)).transpose()?;
    let sqlite_dir = TempDir::new("sqlite-commit")?;
    let sqlite = match committers {
        1 => sqlite::commit_1(sqlite_dir.path(), work)?,
        _ => sqlite::commit_n(sqlite_dir.path(), work)?,
    };
    println!("{}", ratio_line(name, rustydb.map(|result| result.rate), sqlite));
    if let Some(result) = rustydb {
        println!("bench={name} commits_per_sync={:.2}", result.commits_per_sync);
        println!("bench={name} conflict_retries={}", result.conflict_retries);
    }
    Ok(())
}

/// `bulk_insert_1m`, then `point_lookup_1m` and `range_scan` on the table
/// it loaded (the load runs even when only the readers are selected). Each
/// bench runs `config.rounds` rounds, the engines taking turns; every load
/// round starts from fresh directories, and the readers use the last load.
fn bench_loaded_table(config: &Config, work: &Workload) -> BenchResult<()> {
    let load_rounds = if config.wants("bulk_insert_1m") { config.rounds } else { 1 };
    let mut loads = Rounds::default();
    let mut loaded = None;
    for _ in 0..load_rounds {
        // Drop the previous round's engines before making new ones.
        drop(loaded.take());
        loaded = Some(LoadedTable::load(work, &mut loads)?);
    }
    let LoadedTable { rustydb, mut conn, .. } = loaded.expect("at least one load round");
    if config.wants("bulk_insert_1m") {
        println!("{}", loads.lines("bulk_insert_1m"));
    }
    if config.wants("point_lookup_1m") {
        let mut lookups = Rounds::default();
        for _ in 0..config.rounds {
            let rustydb_rate = rustydb.as_ref().map(|db| db.point_lookups(&work.lookup_ids)).transpose()?;
            lookups.push(rustydb_rate, sqlite::point_lookups(&mut conn, &work.lookup_ids)?);
        }
        println!("{}", lookups.lines("point_lookup_1m"));
    }
    if config.wants("range_scan") {
        let mut scans = Rounds::default();
        for _ in 0..config.rounds {
            let rustydb_rate =
                rustydb.as_ref().map(|db| db.range_scans(&work.scan_starts, work.scan_len)).transpose()?;
            scans.push(rustydb_rate, sqlite::range_scans(&mut conn, &work.scan_starts, work.scan_len)?);
        }
        println!("{}", scans.lines("range_scan"));
    }
    Ok(())
}

/// Both engines with table `t` loaded, each in its own temp directory. The
/// fields drop in order: each engine before its directory is removed.
struct LoadedTable {
    rustydb: Option<RustyDb>,
    _rustydb_dir: TempDir,
    conn: rusqlite::Connection,
    _sqlite_dir: TempDir,
}

impl LoadedTable {
    /// Loads `work.rows` rows into fresh engines, recording the load rates.
    fn load(work: &Workload, loads: &mut Rounds) -> BenchResult<LoadedTable> {
        let rustydb_dir = TempDir::new("rustydb-table")?;
        let rustydb = rustydb_side(rustydb_dir.path())?;
        let rustydb_load = rustydb.as_ref().map(|db| db.bulk_insert(work.rows)).transpose()?;
        let sqlite_dir = TempDir::new("sqlite-table")?;
        let mut conn = sqlite::create(sqlite_dir.path())?;
        loads.push(rustydb_load, sqlite::bulk_insert(&mut conn, work.rows)?);
        Ok(LoadedTable { rustydb, _rustydb_dir: rustydb_dir, conn, _sqlite_dir: sqlite_dir })
    }
}

/// The RustyDB store with table `t`, fresh in `dir`; `None` when the RustyDB
/// side is not available (the line then says `rustydb=unavailable`).
fn rustydb_side(dir: &Path) -> BenchResult<Option<RustyDb>> {
    Ok(Some(RustyDb::create(dir)?))
}
