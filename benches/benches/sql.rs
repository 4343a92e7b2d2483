//! `cargo bench -p rustydb-benches --bench sql`: SQL queries against SQLite.
//!
//! Both engines load the same data: `t (id INT PRIMARY KEY, grp INT, val
//! INT, pad TEXT)` with [`ROWS`] rows (scaled by `BENCH_SCALE`), `d2 (id INT
//! PRIMARY KEY, grp INT)` with 1,000 rows and `d1 (id INT PRIMARY KEY, name
//! TEXT)` with 100 rows. Then, each timed on both sides in the same run
//! (`BENCH_ROUNDS` alternating rounds, medians reported):
//! - `point_select`: primary-key lookups through a prepared statement;
//! - `range_aggregate`: `sum`/`count` over a primary-key range of half the rows;
//! - `join3`: fact table joined to both dimensions, grouped by name;
//! - `group_by`: `count`/`sum`/`avg` per `grp` over every row;
//! - `insert_select`: copying a tenth of `t` into a new table.
//!
//! Each line reads `bench=<name> rustydb=<ops/s> sqlite=<ops/s> ratio=<r>`
//! (ratio > 1: RustyDB faster). Results are checked equal between engines.
//! `BENCH_ONLY=point_select,join3` times a subset (the data is loaded and the
//! results checked all the same).
//! SQLite runs with WAL and `synchronous=FULL`, as in the other benches.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rustydb_benches::{BenchResult, CACHE_BYTES, Config, Rate, Rounds, TempDir, sqlite};
use rustydb_core::sql::{Database, DatabaseConfig, Session, Value};
use rustydb_core::store::StoreConfig;
use rustydb_core::txn::TxnConfig;

/// mimalloc for both engines in this process: glibc's allocator spent a
/// third of the run in malloc/free bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: u64 = 1_000_000;
/// The benches of this binary, in the order they run (`BENCH_ONLY` picks some).
const BENCHES: [&str; 5] = ["point_select", "range_aggregate", "join3", "group_by", "insert_select"];
const LOOKUPS: u64 = 20_000;

fn main() -> BenchResult<()> {
    let config = Config::from_env_for(&BENCHES)?;
    let rows = config.scaled(ROWS, 2_000);
    let lookups = config.scaled(LOOKUPS, 200);
    println!("# sql bench: rows={rows} lookups={lookups} rounds={}", config.rounds);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let rusty_dir = TempDir::new("sql-rustydb")?;
    let sqlite_dir = TempDir::new("sql-sqlite")?;
    let load_start = Instant::now();
    let mut session = runtime.block_on(rustydb_load(rusty_dir.path(), rows))?;
    println!("# rustydb load: {:.1}s", load_start.elapsed().as_secs_f64());
    let load_start = Instant::now();
    let conn = sqlite_load(sqlite_dir.path(), rows)?;
    println!("# sqlite load: {:.1}s", load_start.elapsed().as_secs_f64());
    let queries = Queries::new(rows);
    for (name, sql) in queries.checked() {
        let ours = runtime.block_on(rustydb_rows(&mut session, &sql))?;
        let theirs = sqlite_rows(&conn, &sql)?;
        if ours != theirs {
            return Err(format!("{name}: results differ\nrustydb: {ours:?}\nsqlite:  {theirs:?}").into());
        }
    }
    let mut rounds: Vec<(&str, Rounds)> =
        BENCHES.iter().filter(|n| config.wants(n)).map(|n| (*n, Rounds::default())).collect();
    for round in 0..config.rounds {
        for (name, r) in rounds.iter_mut() {
            let ours = runtime.block_on(rustydb_bench(&mut session, name, &queries, lookups, round))?;
            let theirs = sqlite_bench(&conn, name, &queries, lookups, round)?;
            r.push(Some(ours), theirs);
        }
    }
    for (name, r) in &rounds {
        println!("{}", r.lines(name));
    }
    Ok(())
}

/// The benchmark queries for a table of `rows` rows.
struct Queries {
    rows: u64,
    range: String,
    join3: String,
    group_by: String,
}

impl Queries {
    fn new(rows: u64) -> Queries {
        Queries {
            rows,
            range: format!("SELECT sum(val), count(*) FROM t WHERE id BETWEEN {} AND {}", rows / 4, rows / 4 + rows / 2),
            join3: "SELECT d1.name, count(*), sum(t.val) FROM t JOIN d2 ON t.val = d2.id JOIN d1 ON d2.grp = d1.id GROUP BY d1.name ORDER BY d1.name".into(),
            group_by: "SELECT grp, count(*), sum(val), min(val), max(val) FROM t GROUP BY grp ORDER BY grp".into(),
        }
    }

    /// Queries whose results both engines must agree on.
    fn checked(&self) -> Vec<(&'static str, String)> {
        vec![
            ("range_aggregate", self.range.clone()),
            ("join3", self.join3.clone()),
            ("group_by", self.group_by.clone()),
            ("point_select", "SELECT val FROM t WHERE id = 4242".into()),
        ]
    }

    /// The id of lookup `n` (a fixed pseudo-random sequence).
    fn lookup_id(&self, n: u64) -> i64 {
        (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % self.rows + 1) as i64
    }
}

fn data_sql(rows: u64) -> Vec<String> {
    vec![
        "CREATE TABLE d1 (id INT PRIMARY KEY, name TEXT)".into(),
        "CREATE TABLE d2 (id INT PRIMARY KEY, grp INT)".into(),
        "CREATE TABLE t (id INT PRIMARY KEY, grp INT, val INT, pad TEXT)".into(),
        format!("INSERT INTO d1 SELECT g, 'name' || g FROM ({}) AS s", series(100)),
        format!("INSERT INTO d2 SELECT g, g % 100 FROM ({}) AS s", series(1000)),
        format!("INSERT INTO t SELECT g, g % 100, (g * 7) % 1000, 'padding' FROM ({}) AS s", series(rows)),
    ]
}

/// `SELECT g FROM 1..=n` written so both engines accept it.
fn series(n: u64) -> String {
    format!("WITH RECURSIVE r(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM r WHERE g < {n}) SELECT g FROM r")
}

async fn rustydb_load(dir: &Path, rows: u64) -> BenchResult<Session> {
    let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
    // The same page cache as SQLite's (CACHE_BYTES), as in the other benches.
    let store = StoreConfig { pool_frames: CACHE_BYTES / 4096, ..StoreConfig::default() };
    let config = DatabaseConfig { txn: TxnConfig { store, ..TxnConfig::default() } };
    let db: Arc<Database> = Database::open(&env, config).await?;
    let mut session = db.session();
    for sql in data_sql(rows) {
        session.execute(&sql).await?;
    }
    session.execute("ANALYZE").await?;
    Ok(session)
}

fn sqlite_load(dir: &Path, rows: u64) -> BenchResult<rusqlite::Connection> {
    let conn = sqlite::open(dir)?;
    for sql in data_sql(rows) {
        conn.execute_batch(&sql)?;
    }
    conn.execute_batch("ANALYZE")?;
    Ok(conn)
}

async fn rustydb_rows(session: &mut Session, sql: &str) -> BenchResult<Vec<Vec<String>>> {
    let result = session.query(sql, &[]).await?;
    Ok(result.rows.iter().map(|r| r.iter().map(canonical).collect()).collect())
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        other => rustydb_core::sql::cast::format_value(other),
    }
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> BenchResult<Vec<Vec<String>>> {
    let mut stmt = conn.prepare(sql)?;
    let width = stmt.column_count();
    let rows = stmt.query_map([], |row| {
        (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                })
            })
            .collect::<rusqlite::Result<Vec<String>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

async fn rustydb_bench(
    session: &mut Session,
    name: &str,
    q: &Queries,
    lookups: u64,
    round: usize,
) -> BenchResult<Rate> {
    let start = Instant::now();
    let ops = match name {
        "point_select" => {
            let mut stmt = session.prepare("SELECT val FROM t WHERE id = $1", &[]).await?;
            for n in 0..lookups {
                let r = session.execute_prepared(&mut stmt, &[Value::Int(q.lookup_id(n))]).await?;
                if r.rows.len() != 1 {
                    return Err(format!("lookup {n} found {} rows", r.rows.len()).into());
                }
            }
            lookups
        }
        "range_aggregate" => run_times(session, &q.range, 3).await?,
        "join3" => run_times(session, &q.join3, 3).await?,
        "group_by" => run_times(session, &q.group_by, 3).await?,
        _ => {
            let table = format!("copy{round}");
            session.execute(&format!("CREATE TABLE {table} (id INT PRIMARY KEY, grp INT, val INT, pad TEXT)")).await?;
            let n =
                session.execute(&format!("INSERT INTO {table} SELECT * FROM t WHERE id <= {}", q.rows / 10)).await?;
            n[0].affected
        }
    };
    Ok(Rate::since(ops, start))
}

async fn run_times(session: &mut Session, sql: &str, times: u64) -> BenchResult<u64> {
    for _ in 0..times {
        session.query(sql, &[]).await?;
    }
    Ok(times)
}

fn sqlite_bench(conn: &rusqlite::Connection, name: &str, q: &Queries, lookups: u64, round: usize) -> BenchResult<Rate> {
    let start = Instant::now();
    let ops = match name {
        "point_select" => {
            let mut stmt = conn.prepare("SELECT val FROM t WHERE id = ?1")?;
            for n in 0..lookups {
                let _: i64 = stmt.query_row([q.lookup_id(n)], |row| row.get(0))?;
            }
            lookups
        }
        "range_aggregate" | "join3" | "group_by" => {
            let sql = match name {
                "range_aggregate" => &q.range,
                "join3" => &q.join3,
                _ => &q.group_by,
            };
            for _ in 0..3 {
                sqlite_rows(conn, sql)?;
            }
            3
        }
        _ => {
            let table = format!("copy{round}");
            conn.execute_batch(&format!("CREATE TABLE {table} (id INT PRIMARY KEY, grp INT, val INT, pad TEXT)"))?;
            conn.execute(&format!("INSERT INTO {table} SELECT * FROM t WHERE id <= {}", q.rows / 10), [])? as u64
        }
    };
    Ok(Rate::since(ops, start))
}
