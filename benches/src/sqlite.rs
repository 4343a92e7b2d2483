//! The SQLite side: rusqlite with the bundled SQLite, WAL mode,
//! `synchronous=FULL` (every commit is durable when it returns), a
//! [`CACHE_BYTES`] page cache and the table
//! `t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)`.

use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::{BenchResult, CACHE_BYTES, Rate, VALUE_LEN, Workload, timed, value};

const DB_FILE: &str = "bench.sqlite";

/// Opens (creating if missing) the database in `dir` with the bench settings.
pub fn open(dir: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(dir.join(DB_FILE))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    assert_eq!(mode, "wal", "SQLite refused WAL mode");
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -((CACHE_BYTES / 1024) as i64))?;
    conn.busy_timeout(Duration::from_secs(60))?;
    Ok(conn)
}

/// A fresh database in `dir` holding the empty table `t`.
pub fn create(dir: &Path) -> rusqlite::Result<Connection> {
    let conn = open(dir)?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")?;
    Ok(conn)
}

/// `bulk_insert_1m`: rows `0..rows` in ascending id order, in one
/// transaction through one prepared statement; the commit is timed.
pub fn bulk_insert(conn: &mut Connection, rows: u64) -> BenchResult<Rate> {
    timed(rows, || {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare("INSERT INTO t (id, v) VALUES (?1, ?2)")?;
            for id in 0..rows {
                insert.execute(params![id as i64, &value(id)[..]])?;
            }
        }
        txn.commit()?;
        Ok(())
    })
}

/// `commit_1`: one connection, one autocommit (durable) insert per id.
pub fn commit_1(dir: &Path, work: &Workload) -> BenchResult<Rate> {
    let conn = create(dir)?;
    let ids = work.committer_ids(0, 1);
    let mut insert = conn.prepare("INSERT INTO t (id, v) VALUES (?1, ?2)")?;
    timed(ids.end - ids.start, || {
        for id in ids {
            insert.execute(params![id as i64, &value(id)[..]])?;
        }
        Ok(())
    })
}

/// `commit_16`: `work.committers` threads, each with its own connection,
/// each committing its own id range one row at a time; SQLite serialises
/// the writers (busy timeout 60 s). Timed from when all are ready.
pub fn commit_n(dir: &Path, work: &Workload) -> BenchResult<Rate> {
    drop(create(dir)?);
    let committers = work.committers;
    let ready = Barrier::new(committers as usize + 1);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..committers)
            .map(|index| {
                let ready = &ready;
                scope.spawn(move || -> rusqlite::Result<u64> {
                    let conn = open(dir)?;
                    let mut insert = conn.prepare("INSERT INTO t (id, v) VALUES (?1, ?2)")?;
                    let ids = work.committer_ids(index, committers);
                    ready.wait();
                    for id in ids.clone() {
                        insert.execute(params![id as i64, &value(id)[..]])?;
                    }
                    Ok(ids.end - ids.start)
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        let mut commits = 0;
        for handle in handles {
            commits += handle.join().map_err(|_| "a SQLite committer panicked")??;
        }
        Ok(Rate::since(commits, start))
    })
}

/// `point_lookup_1m`: one `query_row` of a prepared statement per id, all
/// in one read transaction.
pub fn point_lookups(conn: &mut Connection, ids: &[u64]) -> BenchResult<Rate> {
    let txn = conn.transaction()?;
    let mut select = txn.prepare("SELECT v FROM t WHERE id = ?1")?;
    let mut bytes = 0;
    let rate = timed(ids.len() as u64, || {
        for &id in ids {
            let v: Vec<u8> = select.query_row([id as i64], |row| row.get(0))?;
            bytes += v.len();
        }
        Ok(())
    })?;
    drop(select);
    txn.commit()?;
    if bytes != ids.len() * VALUE_LEN {
        return Err(format!("SQLite point lookups read {bytes} bytes, expected {}", ids.len() * VALUE_LEN).into());
    }
    Ok(rate)
}

/// `range_scan`: for each start, the `len` rows from it in id order, keys
/// and values read out, all in one read transaction; the rate is in rows.
pub fn range_scans(conn: &mut Connection, starts: &[u64], len: u64) -> BenchResult<Rate> {
    let txn = conn.transaction()?;
    let mut select = txn.prepare("SELECT id, v FROM t WHERE id >= ?1 AND id < ?2 ORDER BY id")?;
    let mut rows_read = 0;
    let rate = timed(starts.len() as u64 * len, || {
        for &start in starts {
            let mut rows = select.query(params![start as i64, (start + len) as i64])?;
            while let Some(row) = rows.next()? {
                let _id: i64 = row.get(0)?;
                let _v: Vec<u8> = row.get(1)?;
                rows_read += 1;
            }
        }
        Ok(())
    })?;
    drop(select);
    txn.commit()?;
    if rows_read != rate.ops {
        return Err(format!("SQLite range scans read {rows_read} rows, expected {}", rate.ops).into());
    }
    Ok(rate)
}
