//! The transactional engine's versions on the simulator: what survives a
//! crash, what vacuum removes and what it must keep.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustydb_core::Result;
use rustydb_core::env::{BoxFuture, Env};
use rustydb_core::store::StoreConfig;
use rustydb_core::txn::{IsolationLevel, TxnConfig, TxnEngine};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::Simulator;

const DEADLINE_NANOS: u64 = 600_000_000_000;
const RR: IsolationLevel = IsolationLevel::RepeatableRead;

fn config() -> TxnConfig {
    TxnConfig {
        store: StoreConfig { pool_frames: 16, ..StoreConfig::default() },
        deadlock_check_after: Duration::from_millis(5),
        lock_timeout: None,
        vacuum_interval: None,
    }
}

type Boot = fn(Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>>;

/// Runs `boots` in turn on one node, crashing it (losing and tearing
/// unsynced writes) after each; returns what each boot reported.
fn boots(seed: u64, boots: &'static [Boot]) -> Vec<Vec<String>> {
    let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\nunsynced_loss_probability = 0.5\ntorn_write_probability = 0.5\n";
    let mut sim = Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(seed), false);
    let reports: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let boot_count = Arc::new(AtomicU64::new(0));
    let slot = reports.clone();
    let node = sim.add_node(
        "n",
        true,
        Arc::new(move |env: Env| {
            let slot = slot.clone();
            let boot = boot_count.fetch_add(1, Ordering::SeqCst) as usize;
            Box::pin(async move {
                let engine = TxnEngine::open(&env, config()).await?;
                let report = boots[boot](engine).await?;
                slot.lock().unwrap().push(report);
                futures::future::pending::<()>().await;
                Ok(())
            })
        }),
    );
    for boot in 1..=boots.len() {
        sim.run_until(DEADLINE_NANOS, &|| reports.lock().unwrap().len() == boot);
        assert_eq!(reports.lock().unwrap().len(), boot, "seed {seed}: boot {boot} did not finish");
        sim.crash(node, false, None);
        sim.restart_now(node);
    }
    sim.shutdown();
    reports.lock().unwrap().clone()
}

async fn rows(engine: &TxnEngine, name: &str) -> Result<Vec<String>> {
    let table = engine.table(name).await?;
    let mut txn = engine.begin(RR).await?;
    let rows = txn.scan(table, Bound::Unbounded, Bound::Unbounded).await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(&k), String::from_utf8_lossy(&v)))
        .collect())
}

/// Committed writes survive a crash; a rolled-back transaction's and an
/// unfinished one's never appear; vacuum removes their versions; xids are
/// not reused after the restart.
#[test]
fn commits_survive_crashes_and_the_rest_is_garbage() {
    fn first(engine: Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move {
            let table = engine.create_table("t").await?;
            let mut txn = engine.begin(RR).await?;
            for i in 0..50u32 {
                txn.put(table, format!("k{i:02}").as_bytes(), b"committed").await?;
            }
            txn.commit().await?;
            let mut undone = engine.begin(RR).await?;
            undone.put(table, b"k00", b"rolled back").await?;
            undone.put(table, b"r", b"rolled back").await?;
            undone.rollback().await?;
            let mut open = engine.begin(RR).await?;
            open.put(table, b"k01", b"unfinished").await?;
            open.put(table, b"u", b"unfinished").await?;
            let last_xid = open.id().0;
            std::mem::forget(open); // still open when the crash comes
            engine.store().checkpoint().await?;
            Ok(vec![last_xid.to_string()])
        })
    }
    fn second(engine: Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move {
            let mut report = rows(&engine, "t").await?;
            let removed = engine.vacuum().await?;
            report.push(format!("vacuumed={removed}"));
            report.extend(rows(&engine, "t").await?.into_iter().take(1));
            let txn = engine.begin(RR).await?;
            report.push(txn.id().0.to_string());
            Ok(report)
        })
    }
    for seed in 1..6 {
        let reports = boots(seed, &[first, second]);
        let last_xid: u64 = reports[0][0].parse().unwrap();
        let after = &reports[1];
        let expected: Vec<String> = (0..50).map(|i| format!("k{i:02}=committed")).collect();
        assert_eq!(after[..50], expected[..], "seed {seed}");
        assert_eq!(after[50], "vacuumed=4", "seed {seed}: two rolled-back and two unfinished versions");
        assert_eq!(after[51], "k00=committed", "seed {seed}");
        assert!(after[52].parse::<u64>().unwrap() > last_xid, "seed {seed}: xids must not repeat after a restart");
    }
}

/// Vacuum keeps every version an old snapshot may read, and removes
/// superseded versions and deleted rows once no snapshot needs them.
#[test]
fn vacuum_respects_the_oldest_snapshot() {
    fn only(engine: Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move {
            let table = engine.create_table("t").await?;
            let mut setup = engine.begin(RR).await?;
            setup.put(table, b"x", b"0").await?;
            setup.put(table, b"gone", b"soon").await?;
            setup.commit().await?;
            let mut old = engine.begin(RR).await?;
            let before = old.get(table, b"x").await?;
            for i in 1..=10u32 {
                let mut txn = engine.begin(RR).await?;
                txn.put(table, b"x", i.to_string().as_bytes()).await?;
                txn.commit().await?;
            }
            let mut delete = engine.begin(RR).await?;
            delete.delete(table, b"gone").await?;
            delete.commit().await?;
            let removed_while_old = engine.vacuum().await?;
            let still = old.get(table, b"x").await?;
            let gone_for_old = old.get(table, b"gone").await?;
            old.commit().await?;
            let removed_after = engine.vacuum().await?;
            let mut reinsert = engine.begin(RR).await?;
            reinsert.insert(table, b"gone", b"back").await?;
            reinsert.commit().await?;
            let text =
                |row: Option<Vec<u8>>| row.map_or("none".to_string(), |r| String::from_utf8_lossy(&r).into_owned());
            Ok(vec![
                text(before),
                text(still),
                text(gone_for_old),
                format!("{removed_while_old}"),
                format!("{removed_after}"),
                rows(&engine, "t").await?.join(" "),
            ])
        })
    }
    let reports = boots(7, &[only]);
    // While the old snapshot is open nothing committed after it is settled (one horizon, as
    // in PostgreSQL), so vacuum removes nothing; afterwards x's versions 0..=9 and the deleted
    // row's two versions go.
    assert_eq!(reports[0], ["0", "0", "soon", "0", "12", "gone=back x=10"]);
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Step {
    Put(u8, u8),
    Delete(u8),
    Get(u8),
    Scan,
    Savepoint,
    RollbackToSavepoint,
    Commit,
    Rollback,
    Vacuum,
}

fn step_strategy() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0..12u8, any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        2 => (0..12u8).prop_map(Step::Delete),
        3 => (0..12u8).prop_map(Step::Get),
        1 => Just(Step::Scan),
        1 => Just(Step::Savepoint),
        1 => Just(Step::RollbackToSavepoint),
        2 => Just(Step::Commit),
        1 => Just(Step::Rollback),
        1 => Just(Step::Vacuum),
    ]
}

/// Runs `steps` in one session against the engine and against a `BTreeMap`
/// model (committed state, the transaction's own view, savepoint copies);
/// returns the first disagreement.
async fn run_model(engine: Arc<TxnEngine>, steps: Vec<Step>) -> Result<Option<String>> {
    use std::collections::BTreeMap;
    let table = engine.create_table("m").await?;
    let mut committed: BTreeMap<u8, u8> = BTreeMap::new();
    let mut view = committed.clone();
    let mut saved: Vec<BTreeMap<u8, u8>> = Vec::new();
    let mut txn = engine.begin(RR).await?;
    for (index, step) in steps.into_iter().enumerate() {
        let mismatch = |what: String| Ok(Some(format!("step {index} {step:?}: {what}")));
        match step {
            Step::Put(k, v) => {
                txn.put(table, &[k], &[v]).await?;
                view.insert(k, v);
            }
            Step::Delete(k) => {
                if txn.delete(table, &[k]).await? != view.remove(&k).is_some() {
                    return mismatch("delete disagreed on existence".into());
                }
            }
            Step::Get(k) => {
                let got = txn.get(table, &[k]).await?.map(|row| row[0]);
                if got != view.get(&k).copied() {
                    return mismatch(format!("got {got:?}, model {:?}", view.get(&k)));
                }
            }
            Step::Scan => {
                let got: Vec<(u8, u8)> = txn
                    .scan(table, Bound::Unbounded, Bound::Unbounded)
                    .await?
                    .iter()
                    .map(|(k, v)| (k[0], v[0]))
                    .collect();
                let want: Vec<(u8, u8)> = view.iter().map(|(k, v)| (*k, *v)).collect();
                if got != want {
                    return mismatch(format!("scan {got:?}, model {want:?}"));
                }
                if let Some(problem) = streamed_mismatch(&mut txn, table, &view).await? {
                    return mismatch(problem);
                }
            }
            Step::Savepoint => {
                txn.savepoint("s")?;
                saved.push(view.clone());
            }
            Step::RollbackToSavepoint => {
                if let Some(state) = saved.last() {
                    txn.rollback_to_savepoint("s").await?;
                    view = state.clone();
                }
            }
            Step::Commit | Step::Rollback => {
                if matches!(step, Step::Commit) {
                    txn.commit().await?;
                    committed = view.clone();
                } else {
                    txn.rollback().await?;
                    view = committed.clone();
                }
                txn = engine.begin(RR).await?;
                saved.clear();
            }
            Step::Vacuum => {
                engine.vacuum().await?;
            }
        }
    }
    Ok(None)
}

/// How the streaming scan, resumed every three rows, disagrees with the
/// model's view, if it does.
async fn streamed_mismatch(
    txn: &mut rustydb_core::txn::Transaction,
    table: rustydb_core::store::TableId,
    view: &std::collections::BTreeMap<u8, u8>,
) -> Result<Option<String>> {
    let mut streamed = Vec::new();
    let mut scan = txn.row_scan(table, Bound::Unbounded, Bound::Unbounded);
    while !scan.ended() {
        let handed = txn
            .scan_rows(&mut scan, 3, |row| {
                streamed.push(row[0]);
                Ok(())
            })
            .await?;
        if handed > 3 || (handed < 3 && !scan.ended()) {
            return Ok(Some(format!("scan_rows handed {handed} rows of 3 before the end")));
        }
    }
    let want: Vec<u8> = view.values().copied().collect();
    Ok((streamed != want).then(|| format!("scan_rows {streamed:?}, model {want:?}")))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 96, ..proptest::prelude::ProptestConfig::default() })]

    /// Reads, scans, savepoints, commits, rollbacks and vacuum agree with a map model.
    #[test]
    fn one_session_agrees_with_a_map_model(steps in proptest::collection::vec(step_strategy(), 1..150)) {
        let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n";
        let mut sim = Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(3), false);
        let outcome: Arc<Mutex<Option<Option<String>>>> = Arc::default();
        let slot = outcome.clone();
        sim.add_node("n", false, Arc::new(move |env: Env| {
            let (slot, steps) = (slot.clone(), steps.clone());
            Box::pin(async move {
                let engine = TxnEngine::open(&env, config()).await?;
                let result = run_model(engine, steps).await.unwrap_or_else(|error| Some(format!("error: {error}")));
                *slot.lock().unwrap() = Some(result);
                futures::future::pending::<()>().await;
                Ok(())
            })
        }));
        sim.run_until(DEADLINE_NANOS, &|| outcome.lock().unwrap().is_some());
        let result = outcome.lock().unwrap().take();
        sim.shutdown();
        proptest::prop_assert_eq!(result, Some(None));
    }
}

/// A secondary index is a versioned table of `index key ‖ primary key`
/// written in the row's transaction: its entries appear, move and vanish for
/// each snapshot exactly when the row's versions do.
#[test]
fn index_entries_follow_row_visibility() {
    fn only(engine: Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move {
            let rows = engine.create_table("rows").await?;
            let index = engine.create_table("rows_by_v").await?;
            let entries = |found: Vec<(Vec<u8>, Vec<u8>)>| {
                found
                    .into_iter()
                    .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut writer = engine.begin(RR).await?;
            writer.insert(rows, b"k1", b"5").await?;
            writer.insert(index, b"5:k1", b"").await?;
            let mut early = engine.begin(RR).await?;
            let before_commit = entries(early.scan(index, Bound::Unbounded, Bound::Unbounded).await?);
            writer.commit().await?;
            let mut old = engine.begin(RR).await?;
            let committed = entries(old.scan(index, Bound::Unbounded, Bound::Unbounded).await?);
            let mut mover = engine.begin(RR).await?;
            mover.put(rows, b"k1", b"7").await?;
            mover.delete(index, b"5:k1").await?;
            mover.insert(index, b"7:k1", b"").await?;
            mover.commit().await?;
            let old_view = entries(old.scan(index, Bound::Unbounded, Bound::Unbounded).await?);
            let old_row = old.get(rows, b"k1").await?;
            let old_streamed = streamed(&mut old, rows).await?;
            old.commit().await?;
            early.commit().await?;
            let mut new = engine.begin(RR).await?;
            let new_view = entries(new.scan(index, Bound::Unbounded, Bound::Unbounded).await?);
            let new_streamed = streamed(&mut new, rows).await?;
            new.commit().await?;
            let row = String::from_utf8_lossy(&old_row.unwrap_or_default()).into_owned();
            Ok(vec![before_commit, committed, old_view, row, old_streamed, new_view, new_streamed])
        })
    }
    assert_eq!(boots(5, &[only])[0], ["", "5:k1", "5:k1", "5", "5", "7:k1", "7"]);
}

/// Every row of `table` through the streaming scan, joined by commas.
async fn streamed(txn: &mut rustydb_core::txn::Transaction, table: rustydb_core::store::TableId) -> Result<String> {
    let mut rows = Vec::new();
    let mut scan = txn.row_scan(table, Bound::Unbounded, Bound::Unbounded);
    let mut visit = |row: &[u8]| {
        rows.push(String::from_utf8_lossy(row).into_owned());
        Ok(())
    };
    while txn.scan_rows(&mut scan, 16, &mut visit).await? > 0 {}
    Ok(rows.join(","))
}

/// `TxnEngine::run` retries a transaction that loses a conflict until it
/// commits: two interleaved loops of increments lose none.
#[test]
fn run_retries_conflicting_increments_until_each_commits() {
    fn only(engine: Arc<TxnEngine>) -> BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move {
            let table = engine.create_table("counter").await?;
            let increments = async |engine: &TxnEngine| -> Result<()> {
                for _ in 0..20 {
                    engine
                        .run(IsolationLevel::Serializable, 1000, |txn| {
                            Box::pin(async move {
                                let now = txn.get(table, b"n").await?.map_or(0, |row| row[0]);
                                yield_now().await;
                                txn.put(table, b"n", &[now + 1]).await
                            })
                        })
                        .await?;
                }
                Ok(())
            };
            let (a, b) = futures::join!(increments(&engine), increments(&engine));
            a?;
            b?;
            let mut txn = engine.begin(RR).await?;
            let total = txn.get(table, b"n").await?.map_or(0, |row| row[0]);
            txn.commit().await?;
            let stats = engine.stats();
            Ok(vec![total.to_string(), (stats.serialization_failures > 0).to_string()])
        })
    }
    assert_eq!(boots(9, &[only])[0], ["40", "true"]);
}

/// Lets the scheduler run another task: a read and a write that never wait
/// for I/O would otherwise run back to back, and commits become visible
/// before they wait for the log, so two transactions would never overlap.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
