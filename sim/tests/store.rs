//! The storage engine on the simulator: what boot 0 commits survives a crash
//! (with lost and torn unsynced writes) into boot 1, and nothing it left
//! uncommitted or rolled back does.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustydb_core::Result;
use rustydb_core::env::{BoxFuture, Env};
use rustydb_core::store::{Store, StoreConfig};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::Simulator;

const DEADLINE_NANOS: u64 = 120_000_000_000;

fn simulator(seed: u64) -> Simulator {
    let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\nunsynced_loss_probability = 0.5\ntorn_write_probability = 0.5\n";
    Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(seed), false)
}

fn config() -> StoreConfig {
    StoreConfig { pool_frames: 16, ..StoreConfig::default() }
}

type Boot = fn(Arc<Store>) -> BoxFuture<'static, Result<()>>;
type Observe = fn(Arc<Store>) -> BoxFuture<'static, Result<Vec<Vec<u8>>>>;

/// Opens a store on a crashable node and runs `first` on it; crashes the node
/// once `first` has returned; reopens the store (recovery) and returns what
/// `observe` reads from it.
fn crash_between(seed: u64, first: Boot, observe: Observe) -> Vec<Vec<u8>> {
    let mut sim = simulator(seed);
    let seen: Arc<Mutex<Option<Vec<Vec<u8>>>>> = Arc::default();
    let done = Arc::new(AtomicU64::new(0));
    let boots = Arc::new(AtomicU64::new(0));
    let (seen_in_node, done_in_node) = (seen.clone(), done.clone());
    let node = sim.add_node(
        "n",
        true,
        Arc::new(move |env: Env| {
            let (seen, done) = (seen_in_node.clone(), done_in_node.clone());
            let boot = boots.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let store = Store::open(&env, config()).await?;
                if boot == 0 {
                    first(store).await?;
                    done.store(1, Ordering::SeqCst);
                } else {
                    *seen.lock().unwrap() = Some(observe(store).await?);
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
    let observed = seen.lock().unwrap().take().unwrap_or_else(|| panic!("seed {seed}: boot 1 did not finish"));
    sim.shutdown();
    observed
}

fn row(i: u32) -> Vec<u8> {
    let mut row = i.to_be_bytes().to_vec();
    row.resize(20 + (i as usize * 7) % 90, i as u8);
    row
}

/// Boot 0 commits 300 rows and leaves a second transaction's 200 rows
/// uncommitted (after a checkpoint); boot 1 must see exactly the 300, and
/// recovery must have rolled the loser back.
#[test]
fn recovery_keeps_committed_rows_and_drops_uncommitted_ones() {
    fn first(store: Arc<Store>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
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
            std::mem::forget(loser); // neither committed nor rolled back when the crash comes
            let names: Vec<String> = store.tables().await?.into_iter().map(|table| table.name).collect();
            assert_eq!(names, ["t"]);
            assert!(store.pool_stats().write_backs > 0, "a 16-frame pool must have written pages back");
            Ok(())
        })
    }
    fn observe(store: Arc<Store>) -> BoxFuture<'static, Result<Vec<Vec<u8>>>> {
        Box::pin(async move {
            let report = store.recovery_report();
            assert_eq!(report.losers_rolled_back, 1, "{report:?}");
            assert!(report.clrs_written >= 200, "{report:?}");
            let mut txn = store.begin().await?;
            let table = txn.table("t").await?.id;
            let mut rows: Vec<Vec<u8>> = txn.heap_scan(table).await?.into_iter().map(|(_, row)| row).collect();
            txn.commit().await?;
            rows.sort();
            Ok(rows)
        })
    }
    for seed in 1..6 {
        let mut expected: Vec<Vec<u8>> = (0..300).map(row).collect();
        expected.sort();
        assert_eq!(crash_between(seed, first, observe), expected, "seed {seed}");
    }
}

/// In-order inserts take the append fast path; a rolled-back run of them, a
/// committed run, and a crash must leave exactly the committed keys in a
/// structurally valid tree.
#[test]
fn in_order_inserts_survive_rollback_and_crash() {
    fn first(store: Arc<Store>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
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
            // A clean shutdown point: the crash then loses no page write.
            store.flush().await
        })
    }
    fn observe(store: Arc<Store>) -> BoxFuture<'static, Result<Vec<Vec<u8>>>> {
        Box::pin(async move {
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
            Ok(keys)
        })
    }
    for seed in 1..4 {
        let expected: Vec<Vec<u8>> = (0..3000u64).chain(6000..7000).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(crash_between(seed, first, observe), expected, "seed {seed}");
    }
}
