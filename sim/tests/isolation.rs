//! Isolation anomaly tests in the style of Hermitage (Kleppmann's test suite
//! of isolation levels): two or three sessions run interleaved steps against
//! a table holding `x = 10` and `y = 20`, and each test states the outcome of
//! every step at each level, matching PostgreSQL's.
//!
//! Each session is a task on one simulated node. A step is sent to its
//! session and gets `BLOCKED` if it has not answered within 100 ms of
//! simulated time (it waits for a lock); a later `Await(session)` step
//! collects its answer. A session begins a transaction at the test's level
//! on its first step after a commit or rollback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use futures::future::{self, Either};
use rustydb_core::env::Env;
use rustydb_core::store::{StoreConfig, TableId};
use rustydb_core::txn::{IsolationLevel, LockMode, RowLock, Transaction, TxnConfig, TxnEngine, TxnOptions};
use rustydb_core::{Error, Result};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::Simulator;

use IsolationLevel::{ReadCommitted as RC, RepeatableRead as RR, Serializable as SER};

const DEADLINE_NANOS: u64 = 600_000_000_000;
const BLOCKED_AFTER: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
enum Cmd {
    Get(&'static str),
    Put(&'static str, i64),
    Insert(&'static str, i64),
    Delete(&'static str),
    /// Every row, as `key=value`.
    Scan,
    Lock(&'static str, RowLock),
    LockTable(LockMode),
    Savepoint(&'static str),
    RollbackTo(&'static str),
    Commit,
    Rollback,
    /// Collects the answer of the session's blocked step.
    Await,
}
use Cmd::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Ok,
    Value(Option<i64>),
    Rows(String),
    Done(bool),
    /// Failed with this SQLSTATE.
    Err(&'static str),
    Blocked,
}

fn v(value: i64) -> Out {
    Out::Value(Some(value))
}

fn rows(text: &str) -> Out {
    Out::Rows(text.to_string())
}

const SERIALIZATION: Out = Out::Err("40001");
const DEADLOCK: Out = Out::Err("40P01");
const LOCK_TIMEOUT: Out = Out::Err("55P03");
const BLOCKED: Out = Out::Blocked;
const OK: Out = Out::Ok;

type Request = (Cmd, oneshot::Sender<Out>);

/// Runs `steps` at `level` and returns each step's outcome (`Await` steps included).
fn run(level: IsolationLevel, steps: &[(usize, Cmd)]) -> Vec<Out> {
    run_with(level, None, steps)
}

fn run_with(level: IsolationLevel, lock_timeout: Option<Duration>, steps: &[(usize, Cmd)]) -> Vec<Out> {
    let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\n";
    let mut sim = Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(1), false);
    let outcomes: Arc<Mutex<Option<Vec<Out>>>> = Arc::default();
    let (steps, slot) = (steps.to_vec(), outcomes.clone());
    sim.add_node(
        "n",
        false,
        Arc::new(move |env: Env| {
            let (steps, slot) = (steps.clone(), slot.clone());
            Box::pin(async move {
                let result = script(&env, level, lock_timeout, &steps).await?;
                *slot.lock().unwrap() = Some(result);
                futures::future::pending::<()>().await;
                Ok(())
            })
        }),
    );
    sim.run_until(DEADLINE_NANOS, &|| outcomes.lock().unwrap().is_some());
    let result = outcomes.lock().unwrap().take().expect("the script finished");
    sim.shutdown();
    result
}

fn config() -> TxnConfig {
    TxnConfig {
        store: StoreConfig { pool_frames: 64, ..StoreConfig::default() },
        deadlock_check_after: Duration::from_millis(20),
        lock_timeout: None,
        vacuum_interval: None,
    }
}

async fn script(
    env: &Env,
    level: IsolationLevel,
    lock_timeout: Option<Duration>,
    steps: &[(usize, Cmd)],
) -> Result<Vec<Out>> {
    let engine = TxnEngine::open(env, config()).await?;
    let table = engine.create_table("t").await?;
    let mut setup = engine.begin(RR).await?;
    setup.put(table, b"x", b"10").await?;
    setup.put(table, b"y", b"20").await?;
    setup.commit().await?;
    let sessions = steps.iter().map(|(session, _)| *session).max().unwrap_or(0) + 1;
    let mut senders = Vec::new();
    for _ in 0..sessions {
        let (sender, receiver) = mpsc::channel::<Request>(1);
        let options = TxnOptions { level, lock_timeout };
        drop(env.spawn("session", session(engine.clone(), table, options, receiver)));
        senders.push(sender);
    }
    let mut pending: Vec<Option<oneshot::Receiver<Out>>> = (0..sessions).map(|_| None).collect();
    let mut outcomes = Vec::new();
    for (session, cmd) in steps {
        let receiver = match cmd {
            Await => pending[*session].take().expect("an Await follows a blocked step"),
            _ => {
                let (reply, receiver) = oneshot::channel();
                senders[*session].try_send((cmd.clone(), reply)).expect("the session is idle");
                receiver
            }
        };
        match future::select(receiver, env.clock.sleep(BLOCKED_AFTER)).await {
            Either::Left((out, _)) => outcomes.push(out.expect("the session answers")),
            Either::Right(((), receiver)) => {
                outcomes.push(Out::Blocked);
                pending[*session] = Some(receiver);
            }
        }
    }
    Ok(outcomes)
}

async fn session(engine: Arc<TxnEngine>, table: TableId, options: TxnOptions, mut requests: mpsc::Receiver<Request>) {
    let mut txn: Option<Transaction> = None;
    while let Some((cmd, reply)) = requests.next().await {
        if txn.is_none() {
            match engine.begin_with(options).await {
                Ok(started) => txn = Some(started),
                Err(error) => {
                    let _ = reply.send(Out::Err(error.sqlstate()));
                    continue;
                }
            }
        }
        let out = match cmd {
            Commit => txn.take().expect("begun").commit().await.map(|()| Out::Ok),
            Rollback => txn.take().expect("begun").rollback().await.map(|()| Out::Ok),
            cmd => step(txn.as_mut().expect("begun"), table, cmd).await,
        };
        let _ = reply.send(out.unwrap_or_else(|error: Error| Out::Err(error.sqlstate())));
    }
}

async fn step(txn: &mut Transaction, table: TableId, cmd: Cmd) -> Result<Out> {
    let int = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap().parse::<i64>().unwrap();
    Ok(match cmd {
        Get(key) => Out::Value(txn.get(table, key.as_bytes()).await?.map(int)),
        Put(key, value) => txn.put(table, key.as_bytes(), value.to_string().as_bytes()).await.map(|()| Out::Ok)?,
        Insert(key, value) => {
            txn.insert(table, key.as_bytes(), value.to_string().as_bytes()).await.map(|()| Out::Ok)?
        }
        Delete(key) => Out::Done(txn.delete(table, key.as_bytes()).await?),
        Scan => {
            let all = txn.scan(table, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded).await?;
            let text: Vec<String> =
                all.into_iter().map(|(key, row)| format!("{}={}", String::from_utf8(key).unwrap(), int(row))).collect();
            Out::Rows(text.join(" "))
        }
        Lock(key, mode) => Out::Value(txn.lock_row(table, key.as_bytes(), mode).await?.map(int)),
        LockTable(mode) => txn.lock_table(table, mode).await.map(|()| Out::Ok)?,
        Savepoint(name) => txn.savepoint(name).map(|()| Out::Ok)?,
        RollbackTo(name) => txn.rollback_to_savepoint(name).await.map(|()| Out::Ok)?,
        Commit | Rollback | Await => unreachable!("handled by the session"),
    })
}

/// Runs `steps` at each level in `levels` and checks the outcomes.
fn check(levels: &[IsolationLevel], steps: &[(usize, Cmd)], expected: &[Out]) {
    for &level in levels {
        let outcomes = run(level, steps);
        assert_eq!(outcomes, expected, "at {}", level.name());
    }
}

/// G0, dirty write: T2's write of x waits for T1; the final state is one
/// transaction's writes, never a mix. The snapshot levels abort T2.
#[test]
fn g0_dirty_write() {
    let steps = [
        (1, Put("x", 11)),
        (2, Put("x", 12)),
        (1, Put("y", 21)),
        (1, Commit),
        (2, Await),
        (2, Put("y", 22)),
        (2, Commit),
        (3, Scan),
    ];
    check(&[RC], &steps, &[OK, BLOCKED, OK, OK, OK, OK, OK, rows("x=12 y=22")]);
    check(
        &[RR, SER],
        &steps,
        &[OK, BLOCKED, OK, OK, SERIALIZATION, Out::Err("22023"), Out::Err("22023"), rows("x=11 y=21")],
    );
}

/// G1a, aborted read: nobody sees a rolled-back write.
#[test]
fn g1a_aborted_read() {
    let steps = [(1, Put("x", 101)), (2, Get("x")), (1, Rollback), (2, Get("x")), (2, Commit)];
    check(&[RC, RR, SER], &steps, &[OK, v(10), OK, v(10), OK]);
}

/// G1b, intermediate read: T2 never sees T1's intermediate value 101.
#[test]
fn g1b_intermediate_read() {
    let steps = [(1, Put("x", 101)), (2, Get("x")), (1, Put("x", 11)), (1, Commit), (2, Get("x")), (2, Commit)];
    check(&[RC], &steps, &[OK, v(10), OK, OK, v(11), OK]);
    check(&[RR, SER], &steps, &[OK, v(10), OK, OK, v(10), OK]);
}

/// G1c, circular information flow: neither sees the other's uncommitted
/// write. Each then read what the other overwrote, a cycle of two rw
/// dependencies, so SERIALIZABLE fails the second to commit (as PostgreSQL does).
#[test]
fn g1c_circular_information_flow() {
    let steps = [(1, Put("x", 11)), (2, Put("y", 22)), (1, Get("y")), (2, Get("x")), (1, Commit), (2, Commit)];
    check(&[RC, RR], &steps, &[OK, OK, v(20), v(10), OK, OK]);
    check(&[SER], &steps, &[OK, OK, v(20), v(10), OK, SERIALIZATION]);
}

/// OTV, observed transaction vanishes: T3 never sees a mix of T1 and T2.
#[test]
fn otv_observed_transaction_vanishes() {
    let steps = [
        (1, Put("x", 11)),
        (1, Put("y", 19)),
        (2, Put("x", 12)),
        (1, Commit),
        (2, Await),
        (3, Get("x")),
        (2, Put("y", 18)),
        (3, Get("y")),
        (2, Commit),
        (3, Get("x")),
        (3, Get("y")),
        (3, Commit),
    ];
    check(&[RC], &steps, &[OK, OK, BLOCKED, OK, OK, v(11), OK, v(19), OK, v(12), v(18), OK]);
}

/// PMP, predicate-many-preceders: a snapshot level's second scan does not see
/// a row inserted and committed meanwhile; READ COMMITTED does.
#[test]
fn pmp_predicate_many_preceders() {
    let steps = [(1, Scan), (2, Insert("z", 30)), (2, Commit), (1, Scan), (1, Commit)];
    check(&[RC], &steps, &[rows("x=10 y=20"), OK, OK, rows("x=10 y=20 z=30"), OK]);
    check(&[RR, SER], &steps, &[rows("x=10 y=20"), OK, OK, rows("x=10 y=20"), OK]);
}

/// P4, lost update: under the snapshot levels the second writer fails
/// instead of overwriting an update it never saw.
#[test]
fn p4_lost_update() {
    let steps =
        [(1, Get("x")), (2, Get("x")), (1, Put("x", 11)), (2, Put("x", 11)), (1, Commit), (2, Await), (2, Commit)];
    check(&[RC], &steps, &[v(10), v(10), OK, BLOCKED, OK, OK, OK]);
    check(&[RR, SER], &steps, &[v(10), v(10), OK, BLOCKED, OK, SERIALIZATION, Out::Err("22023")]);
}

/// FOR UPDATE prevents the lost update at every level: the second locker
/// waits and (READ COMMITTED) then reads the new value.
#[test]
fn select_for_update_serialises_read_modify_write() {
    let steps = [
        (1, Lock("x", RowLock::Update)),
        (2, Lock("x", RowLock::Update)),
        (1, Put("x", 11)),
        (1, Commit),
        (2, Await),
        (2, Commit),
    ];
    check(&[RC], &steps, &[v(10), BLOCKED, OK, OK, v(11), OK]);
    check(&[RR, SER], &steps, &[v(10), BLOCKED, OK, OK, SERIALIZATION, Out::Err("22023")]);
}

/// G-single, read skew: T1 reads x before and y after T2's transfer.
#[test]
fn g_single_read_skew() {
    let steps = [
        (1, Get("x")),
        (2, Get("x")),
        (2, Get("y")),
        (2, Put("x", 12)),
        (2, Put("y", 18)),
        (2, Commit),
        (1, Get("y")),
        (1, Commit),
    ];
    check(&[RC], &steps, &[v(10), v(10), v(20), OK, OK, OK, v(18), OK]);
    check(&[RR, SER], &steps, &[v(10), v(10), v(20), OK, OK, OK, v(20), OK]);
}

/// G-single with a write: T1 read x, T2 changed both, T1 then writes y.
#[test]
fn g_single_write_skew_on_a_changed_row() {
    let steps = [(1, Get("x")), (2, Put("x", 12)), (2, Put("y", 18)), (2, Commit), (1, Delete("y")), (1, Commit)];
    check(&[RC], &steps, &[v(10), OK, OK, OK, Out::Done(true), OK]);
    check(&[RR, SER], &steps, &[v(10), OK, OK, OK, SERIALIZATION, Out::Err("22023")]);
}

/// G2-item, write skew: both read x and y, each writes one. REPEATABLE READ
/// lets both commit; SERIALIZABLE fails the second to commit.
#[test]
fn g2_item_write_skew() {
    let steps = [
        (1, Get("x")),
        (1, Get("y")),
        (2, Get("x")),
        (2, Get("y")),
        (1, Put("x", 11)),
        (2, Put("y", 21)),
        (1, Commit),
        (2, Commit),
    ];
    check(&[RC, RR], &steps, &[v(10), v(20), v(10), v(20), OK, OK, OK, OK]);
    check(&[SER], &steps, &[v(10), v(20), v(10), v(20), OK, OK, OK, SERIALIZATION]);
}

/// G2, anti-dependency cycle over predicates: each scans, then inserts a row
/// the other's scan would have returned.
#[test]
fn g2_predicate_anti_dependency_cycle() {
    let steps = [(1, Scan), (2, Scan), (1, Insert("a", 30)), (2, Insert("b", 42)), (1, Commit), (2, Commit)];
    check(&[RC, RR], &steps, &[rows("x=10 y=20"), rows("x=10 y=20"), OK, OK, OK, OK]);
    check(&[SER], &steps, &[rows("x=10 y=20"), rows("x=10 y=20"), OK, OK, OK, SERIALIZATION]);
}

/// The read-only anomaly (Fekete et al.): T3 only reads, yet at SERIALIZABLE
/// one of the three must fail, since T3 saw T2's effect but not T1's.
#[test]
fn read_only_transaction_anomaly() {
    let steps = [
        (2, Get("x")),
        (2, Get("y")),
        (1, Get("y")),
        (1, Put("y", 30)),
        (1, Commit),
        (3, Get("x")),
        (3, Get("y")),
        (3, Commit),
        (2, Put("x", -1)),
        (2, Commit),
    ];
    check(&[RR], &steps, &[v(10), v(20), v(20), OK, OK, v(10), v(30), OK, OK, OK]);
    let outcomes = run(SER, &steps);
    assert!(outcomes.contains(&SERIALIZATION), "{outcomes:?}");
}

/// Two sessions lock rows in opposite orders: the one whose deadlock check
/// fires is the victim (40P01), and the other proceeds.
#[test]
fn deadlock_is_detected_and_one_side_proceeds() {
    let steps = [
        (1, Lock("x", RowLock::Update)),
        (2, Lock("y", RowLock::Update)),
        (1, Lock("y", RowLock::Update)),
        (2, Lock("x", RowLock::Update)),
        (1, Await),
        (1, Commit),
        (2, Rollback),
    ];
    check(&[RC, RR, SER], &steps, &[v(10), v(20), BLOCKED, DEADLOCK, v(20), OK, OK]);
}

/// A lock wait longer than the lock timeout fails with 55P03.
#[test]
fn lock_timeout_fails_the_wait() {
    let steps = [(1, Lock("x", RowLock::Update)), (2, Put("x", 1)), (2, Await), (1, Commit)];
    let outcomes = run_with(RC, Some(Duration::from_millis(150)), &steps);
    assert_eq!(outcomes, [v(10), BLOCKED, LOCK_TIMEOUT, OK]);
}

/// LOCK TABLE: ACCESS EXCLUSIVE blocks readers until the holder ends; SHARE
/// lets readers through but blocks writers.
#[test]
fn table_locks_block_by_mode() {
    let steps = [(1, LockTable(LockMode::AccessExclusive)), (2, Get("x")), (1, Commit), (2, Await)];
    check(&[RC], &steps, &[OK, BLOCKED, OK, v(10)]);
    let steps = [(1, LockTable(LockMode::Share)), (2, Get("x")), (2, Put("x", 5)), (1, Commit), (2, Await)];
    check(&[RC], &steps, &[OK, v(10), BLOCKED, OK, OK]);
}

/// Savepoints: rolling back to one undoes later writes and keeps earlier ones.
#[test]
fn savepoints_undo_only_later_writes() {
    let steps = [
        (1, Put("x", 11)),
        (1, Savepoint("a")),
        (1, Put("x", 12)),
        (1, Put("y", 22)),
        (1, Insert("z", 1)),
        (1, RollbackTo("a")),
        (1, Scan),
        (1, Put("y", 23)),
        (1, Commit),
        (2, Scan),
    ];
    check(&[RC, RR, SER], &steps, &[OK, OK, OK, OK, OK, OK, rows("x=11 y=20"), OK, OK, rows("x=11 y=23")]);
}

/// A failed transaction refuses further work until rolled back (or rolled
/// back to a savepoint).
#[test]
fn errors_fail_the_transaction_until_rollback() {
    let steps =
        [(1, Savepoint("s")), (1, Insert("x", 1)), (1, Get("x")), (1, RollbackTo("s")), (1, Get("x")), (1, Commit)];
    check(&[RC, RR, SER], &steps, &[OK, Out::Err("23505"), Out::Err("22023"), OK, v(10), OK]);
}
