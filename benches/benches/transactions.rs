//! `cargo bench -p rustydb-benches --bench transactions`: a contended bank.
//!
//! [`CLIENTS`] concurrent clients move money between [`ACCOUNTS`] accounts:
//! each transfer reads two balances and writes both, in one durable
//! transaction, retried until it commits (`TxnEngine::run`: backoff
//! from 1 ms, doubling, capped at 64 ms). RustyDB runs it at SERIALIZABLE
//! (SSI) and at REPEATABLE READ (snapshot isolation), each on a fresh
//! database; the bench prints commits per second and the abort rate
//! (serialization failures and deadlocks over attempts). SQLite (WAL,
//! `synchronous=FULL`, one connection per client thread, `BEGIN IMMEDIATE`,
//! so writers queue on its database lock and never abort) runs the same
//! transfers in the same run for the ratio. Each side checks the total
//! balance is unchanged at the end. `BENCH_SCALE` scales the transfer count.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use rusqlite::{TransactionBehavior, params};
use rustydb_benches::{BenchResult, Config, Rate, TempDir, sqlite};
use rustydb_core::store::{StoreConfig, TableId};
use rustydb_core::txn::{IsolationLevel, Transaction, TxnConfig, TxnEngine, TxnStats};

/// Accounts: few enough that concurrent transfers often touch the same one.
const ACCOUNTS: u64 = 32;
const CLIENTS: u64 = 16;
const INITIAL_BALANCE: i64 = 1_000;

fn main() -> BenchResult<()> {
    let config = Config::from_env()?;
    let transfers = config.scaled(4_000, 200);
    println!(
        "# transactions bench: scale={} transfers={transfers} accounts={ACCOUNTS} clients={CLIENTS}",
        config.scale
    );
    let sqlite_dir = TempDir::new("sqlite-bank")?;
    let sqlite = sqlite_bank(sqlite_dir.path(), transfers)?;
    for level in [IsolationLevel::Serializable, IsolationLevel::RepeatableRead] {
        let dir = TempDir::new("rustydb-bank")?;
        let (rate, stats) = rustydb_bank(dir.path(), level, transfers)?;
        let aborts = stats.serialization_failures + stats.locks.deadlocks;
        let attempts = rate.ops + aborts;
        println!(
            "bench=bank_contended level={} rustydb={:.0} sqlite={:.0} ratio={:.2} abort_rate={:.3} serialization_failures={} deadlocks={}",
            level.name().replace(' ', "_"),
            rate.per_sec(),
            sqlite.per_sec(),
            rate.per_sec() / sqlite.per_sec(),
            aborts as f64 / attempts.max(1) as f64,
            stats.serialization_failures,
            stats.locks.deadlocks,
        );
    }
    Ok(())
}

/// The two accounts and the amount of transfer number `n` (a fixed pseudo-random sequence).
fn transfer_of(n: u64) -> (u64, u64, i64) {
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ n;
    let from = mixed % ACCOUNTS;
    let to = (from + 1 + (mixed >> 8) % (ACCOUNTS - 1)) % ACCOUNTS;
    (from, to, 1 + (mixed >> 20) as i64 % 10)
}

/// Runs `transfers` transfers at `level`; returns the commit rate and the engine's counters.
fn rustydb_bank(dir: &Path, level: IsolationLevel, transfers: u64) -> BenchResult<(Rate, TxnStats)> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
        let config =
            TxnConfig { store: StoreConfig { pool_frames: 4096, ..StoreConfig::default() }, ..TxnConfig::default() };
        let engine = TxnEngine::open(&env, config).await?;
        let table = engine.create_table("accounts").await?;
        let mut setup = engine.begin(level).await?;
        for account in 0..ACCOUNTS {
            setup.put(table, &account.to_be_bytes(), &INITIAL_BALANCE.to_be_bytes()).await?;
        }
        setup.commit().await?;
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (engine, next) = (engine.clone(), next.clone());
                tokio::spawn(async move { client(&engine, table, level, transfers, &next).await })
            })
            .collect();
        for client in clients {
            client.await??;
        }
        let rate = Rate::since(transfers, start);
        let mut check = engine.begin(level).await?;
        let rows = check.scan(table, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded).await?;
        check.commit().await?;
        let total: i64 = rows.iter().map(|(_, row)| decode(row)).sum();
        if total != INITIAL_BALANCE * ACCOUNTS as i64 {
            return Err(format!("rustydb at {}: total {total} after the run", level.name()).into());
        }
        BenchResult::Ok((rate, engine.stats()))
    })
}

async fn client(
    engine: &TxnEngine,
    table: TableId,
    level: IsolationLevel,
    transfers: u64,
    next: &AtomicU64,
) -> BenchResult<()> {
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= transfers {
            return Ok(());
        }
        // Retried with backoff after 40001/40P01 until it commits.
        engine.run(level, u32::MAX, |txn| Box::pin(transfer(txn, table, n))).await?;
    }
}

async fn transfer(txn: &mut Transaction, table: TableId, n: u64) -> rustydb_core::Result<()> {
    let (from, to, amount) = transfer_of(n);
    let from_balance = decode(&txn.get(table, &from.to_be_bytes()).await?.unwrap_or_default());
    let to_balance = decode(&txn.get(table, &to.to_be_bytes()).await?.unwrap_or_default());
    txn.put(table, &from.to_be_bytes(), &(from_balance - amount).to_be_bytes()).await?;
    txn.put(table, &to.to_be_bytes(), &(to_balance + amount).to_be_bytes()).await
}

fn decode(bytes: &[u8]) -> i64 {
    bytes.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

/// The same transfers on SQLite: one thread and connection per client.
fn sqlite_bank(dir: &Path, transfers: u64) -> BenchResult<Rate> {
    let conn = sqlite::open(dir)?;
    conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")?;
    for account in 0..ACCOUNTS {
        conn.execute("INSERT INTO accounts VALUES (?1, ?2)", params![account as i64, INITIAL_BALANCE])?;
    }
    let next = AtomicU64::new(0);
    let start = Instant::now();
    thread::scope(|scope| -> BenchResult<()> {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let next = &next;
                scope.spawn(move || -> rusqlite::Result<()> {
                    let mut conn = sqlite::open(dir)?;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= transfers {
                            return Ok(());
                        }
                        let (from, to, amount) = transfer_of(n);
                        let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                        let read = "SELECT balance FROM accounts WHERE id = ?1";
                        let from_balance: i64 = txn.query_row(read, [from as i64], |row| row.get(0))?;
                        let to_balance: i64 = txn.query_row(read, [to as i64], |row| row.get(0))?;
                        let write = "UPDATE accounts SET balance = ?2 WHERE id = ?1";
                        txn.execute(write, params![from as i64, from_balance - amount])?;
                        txn.execute(write, params![to as i64, to_balance + amount])?;
                        txn.commit()?;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| "a SQLite client panicked")??;
        }
        Ok(())
    })?;
    let rate = Rate::since(transfers, start);
    let total: i64 = conn.query_row("SELECT sum(balance) FROM accounts", [], |row| row.get(0))?;
    if total != INITIAL_BALANCE * ACCOUNTS as i64 {
        return Err(format!("sqlite: total {total} after the run").into());
    }
    Ok(rate)
}
