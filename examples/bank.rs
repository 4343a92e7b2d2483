//! Transfers between two accounts at SERIALIZABLE, retrying on serialization
//! failures and deadlocks (SQLSTATE 40001 / 40P01), then a crash-safe reopen.
//!
//! Run: `cargo run --release --example bank -- /tmp/rustydb-bank`

use std::ops::Bound;

use rustydb::{IsolationLevel, TableId, TxnConfig, TxnEngine};

#[tokio::main]
async fn main() -> rustydb::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "rustydb-bank-example".to_string());
    std::fs::create_dir_all(&dir).map_err(|e| rustydb::Error::InvalidInput(format!("{dir}: {e}")))?;
    let db = rustydb::open(dir.as_ref(), TxnConfig::default()).await?;
    let accounts = match db.table("accounts").await {
        Ok(table) => table,
        Err(_) => {
            let table = db.create_table("accounts").await?;
            let mut txn = db.begin(IsolationLevel::Serializable).await?;
            txn.put(table, b"alice", &100i64.to_be_bytes()).await?;
            txn.put(table, b"bob", &100i64.to_be_bytes()).await?;
            txn.commit().await?;
            table
        }
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            let (from, to): (&[u8], &[u8]) = if i % 2 == 0 { (b"alice", b"bob") } else { (b"bob", b"alice") };
            tokio::spawn(async move { transfer(&db, accounts, from, to, 5).await })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| rustydb::Error::InvalidInput(e.to_string()))??;
    }
    let mut txn = db.begin(IsolationLevel::RepeatableRead).await?;
    let mut total = 0;
    for (name, row) in txn.scan(accounts, Bound::Unbounded, Bound::Unbounded).await? {
        let balance = i64::from_be_bytes(row.as_slice().try_into().unwrap_or_default());
        println!("{}: {balance}", String::from_utf8_lossy(&name));
        total += balance;
    }
    txn.commit().await?;
    let stats = db.stats();
    println!(
        "total {total}; commits {}, retried after serialization failures {}",
        stats.commits, stats.serialization_failures
    );
    Ok(())
}

/// Moves `amount` from `from` to `to` in one transaction, retried (with
/// backoff) while it loses conflicts with the others.
async fn transfer(
    db: &TxnEngine,
    table: TableId,
    from: &'static [u8],
    to: &'static [u8],
    amount: i64,
) -> rustydb::Result<()> {
    db.run(IsolationLevel::Serializable, 100, |txn| {
        Box::pin(async move {
            let a = balance(txn.get(table, from).await?);
            let b = balance(txn.get(table, to).await?);
            txn.put(table, from, &(a - amount).to_be_bytes()).await?;
            txn.put(table, to, &(b + amount).to_be_bytes()).await
        })
    })
    .await
}

fn balance(row: Option<Vec<u8>>) -> i64 {
    row.and_then(|row| row.as_slice().try_into().ok()).map_or(0, i64::from_be_bytes)
}
