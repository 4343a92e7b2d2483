//! The storage engine on the simulator: heap rows survive commit and reopen,
//! rollback leaves nothing, and recovery after a crash keeps exactly the
//! committed transactions.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustydb_core::Result;
use rustydb_core::env::{BoxFuture, Env};
use rustydb_core::store::{Store, StoreConfig};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::{NodeProgram, Simulator};

const DEADLINE_NANOS: u64 = 120_000_000_000;

fn simulator(seed: u64) -> Simulator {
    let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\nunsynced_loss_probability = 0.5\ntorn_write_probability = 0.5\n";
    Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(seed), false)
}

fn program<F>(f: F) -> NodeProgram
where
    F: Fn(Env, u64) -> BoxFuture<'static, Result<()>> + Send + Sync + 'static,
{
    let boots = Arc::new(AtomicU64::new(0));
    Arc::new(move |env| f(env, boots.fetch_add(1, Ordering::SeqCst)))
}

fn config() -> StoreConfig {
    StoreConfig { pool_frames: 16, ..StoreConfig::default() }
}

/// Boot 0 commits 300 rows and leaves a second transaction's 200 rows
/// uncommitted; after the crash, boot 1 must see exactly the 300.
#[test]
fn recovery_keeps_committed_rows_and_drops_uncommitted_ones() {
    for seed in 1..6 {
        let mut sim = simulator(seed);
        let seen: Arc<Mutex<Option<Vec<Vec<u8>>>>> = Arc::default();
        let done = Arc::new(AtomicU64::new(0));
        let (seen2, done2) = (seen.clone(), done.clone());
        let node = sim.add_node(
            "n",
            true,
            program(move |env, boot| {
                let (seen, done) = (seen2.clone(), done2.clone());
                Box::pin(async move {
                    let store = Store::open(&env, config()).await?;
                    if boot == 0 {
                        let mut txn = store.begin().await?;
                        let table = txn.create_heap("t").await?;
                        for i in 0..300u32 {
                            txn.heap_insert(table, &row(i)).await?;
                        }
                        txn.commit().await?;
                        let mut loser = store.begin().await?;
                        for i in 1000..1200u32 {
                            loser.heap_insert(table, &row(i)).await?;
                        }
                        store.checkpoint().await?;
                        std::mem::forget(loser);
                        done.store(1, Ordering::SeqCst);
                    } else {
                        let report = store.recovery_report();
                        assert_eq!(report.losers_rolled_back, 1, "{report:?}");
                        assert!(report.clrs_written >= 200, "{report:?}");
                        let mut txn = store.begin().await?;
                        let table = txn.table("t").await?.id;
                        let rows = txn.heap_scan(table).await?.into_iter().map(|(_, row)| row).collect();
                        txn.commit().await?;
                        *seen.lock().unwrap() = Some(rows);
                        done.store(2, Ordering::SeqCst);
                    }
                    futures::future::pending::<()>().await;
                    Ok(())
                })
            }),
        );
        sim.run_until(DEADLINE_NANOS, &|| done.load(Ordering::SeqCst) == 1);
        assert_eq!(done.load(Ordering::SeqCst), 1, "seed {seed}: boot 0 did not finish");
        sim.crash(node, false, None);
        sim.restart_now(node);
        sim.run_until(DEADLINE_NANOS, &|| done.load(Ordering::SeqCst) == 2);
        let mut rows = seen.lock().unwrap().take().unwrap_or_else(|| panic!("seed {seed}: boot 1 did not finish"));
        rows.sort();
        let mut expected: Vec<Vec<u8>> = (0..300).map(row).collect();
        expected.sort();
        assert_eq!(rows, expected, "seed {seed}");
        sim.shutdown();
    }
}

fn row(i: u32) -> Vec<u8> {
    let mut row = i.to_be_bytes().to_vec();
    row.resize(20 + (i as usize * 7) % 90, i as u8);
    row
}

/// In-order inserts take the append fast path; a rolled-back run of them, a
/// committed run, and a crash must leave exactly the committed keys in a
/// structurally valid tree.
#[test]
fn in_order_inserts_survive_rollback_and_crash() {
    for seed in 1..4 {
        let mut sim = simulator(seed);
        let seen: Arc<Mutex<Option<Vec<Vec<u8>>>>> = Arc::default();
        let done = Arc::new(AtomicU64::new(0));
        let (seen2, done2) = (seen.clone(), done.clone());
        let node = sim.add_node(
            "n",
            true,
            program(move |env, boot| {
                let (seen, done) = (seen2.clone(), done2.clone());
                Box::pin(async move {
                    let store = Store::open(&env, config()).await?;
                    if boot == 0 {
                        let mut txn = store.begin().await?;
                        let table = txn.create_btree("t", true).await?;
                        for i in 0..3000u64 {
                            txn.tree_insert(table, &i.to_be_bytes(), &[i as u8; 20]).await?;
                        }
                        txn.commit().await?;
                        let mut undone = store.begin().await?;
                        for i in 3000..6000u64 {
                            undone.tree_insert(table, &i.to_be_bytes(), &[1; 20]).await?;
                        }
                        undone.rollback().await?;
                        let mut more = store.begin().await?;
                        for i in 6000..7000u64 {
                            more.tree_insert(table, &i.to_be_bytes(), &[2; 20]).await?;
                        }
                        more.commit().await?;
                        done.store(1, Ordering::SeqCst);
                    } else {
                        let mut txn = store.begin().await?;
                        let table = txn.table("t").await?.id;
                        txn.tree_check(table).await?;
                        let mut cursor = txn.tree_range(table, Bound::Unbounded, Bound::Unbounded).await?;
                        let mut keys = Vec::new();
                        while let Some((key, _)) = cursor.next().await? {
                            keys.push(key);
                        }
                        drop(cursor);
                        txn.commit().await?;
                        *seen.lock().unwrap() = Some(keys);
                        done.store(2, Ordering::SeqCst);
                    }
                    futures::future::pending::<()>().await;
                    Ok(())
                })
            }),
        );
        sim.run_until(DEADLINE_NANOS, &|| done.load(Ordering::SeqCst) == 1);
        assert_eq!(done.load(Ordering::SeqCst), 1, "seed {seed}: boot 0 did not finish");
        sim.crash(node, false, None);
        sim.restart_now(node);
        sim.run_until(DEADLINE_NANOS, &|| done.load(Ordering::SeqCst) == 2);
        let keys = seen.lock().unwrap().take().unwrap_or_else(|| panic!("seed {seed}: boot 1 did not finish"));
        let expected: Vec<Vec<u8>> = (0..3000u64).chain(6000..7000).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(keys, expected, "seed {seed}");
        sim.shutdown();
    }
}
