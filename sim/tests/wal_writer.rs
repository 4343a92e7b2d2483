//! The log writer under the simulator: records round-trip through a reopen,
//! concurrent commits share syncs (group commit), a crash never loses a
//! flushed record nor returns garbage, a failed sync poisons the writer, and
//! recycling keeps LSNs and every record from its `keep_from` on, even across
//! a crash in the middle of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustydb_core::env::{BoxFuture, Env, File, OpenMode, Storage};
use rustydb_core::storage::PageId;
use rustydb_core::wal::record::{LogBody, LogRecord, PageOp};
use rustydb_core::wal::writer::{LOG_FILE, LogWriter, NEXT_LOG_FILE};
use rustydb_core::wal::{Lsn, TxnId};
use rustydb_core::{Error, Result};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::{NodeProgram, Simulator};

const DEADLINE_NANOS: u64 = 60_000_000_000;

fn simulator(disk: &str, seed: u64) -> Simulator {
    let text = format!("workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\n{disk}");
    Simulator::new(Scenario::parse("t.toml", &text).unwrap().draw(seed), false)
}

/// An update whose size and contents depend on `i`, so records differ.
fn body(i: u64) -> LogBody {
    let n = 50 + (i as usize * 37) % 700;
    let op = PageOp::WriteBytes { offset: 0, before: vec![0; n], after: vec![i as u8; n] };
    LogBody::Update { file: 1, page: PageId(i), op }
}

/// A node program that runs `f` once per boot, passing the boot number.
fn program<F>(f: F) -> NodeProgram
where
    F: Fn(Env, u64) -> BoxFuture<'static, Result<()>> + Send + Sync + 'static,
{
    let boots = Arc::new(AtomicU64::new(0));
    Arc::new(move |env| f(env, boots.fetch_add(1, Ordering::SeqCst)))
}

type Records = Arc<Mutex<Option<Vec<LogRecord>>>>;

#[test]
fn flushed_records_come_back_in_order_after_reopen() {
    let mut sim = simulator("", 1);
    let appended: Records = Arc::default();
    let recovered: Records = Arc::default();
    let (a, r) = (appended.clone(), recovered.clone());
    sim.add_node(
        "n",
        true,
        program(move |env, _| {
            let (a, r) = (a.clone(), r.clone());
            Box::pin(async move {
                let (writer, existing) = LogWriter::open(&env).await?;
                assert!(existing.is_empty());
                let mut records = Vec::new();
                let mut prev = Lsn::ZERO;
                for i in 0..300u64 {
                    let lsn = writer.append(TxnId(7), prev, body(i)).await?;
                    records.push(LogRecord { lsn, prev_lsn: prev, txn: TxnId(7), body: body(i) });
                    prev = lsn;
                    if i % 10 == 9 {
                        writer.flush(lsn).await?;
                    }
                }
                assert_eq!(writer.durable_lsn(), prev);
                drop(writer);
                let (_, again) = LogWriter::open(&env).await?;
                *a.lock().unwrap() = Some(records);
                *r.lock().unwrap() = Some(again);
                Ok(())
            })
        }),
    );
    sim.run_until(DEADLINE_NANOS, &|| recovered.lock().unwrap().is_some());
    let appended = appended.lock().unwrap().clone().expect("program finished");
    let recovered = recovered.lock().unwrap().clone().unwrap();
    assert_eq!(appended.len(), 300);
    assert_eq!(recovered, appended);
}

#[test]
fn concurrent_commits_share_syncs() {
    let mut sim = simulator("sync_latency_us = 2000\n", 3);
    let stats: Arc<Mutex<Option<(u64, u64)>>> = Arc::default();
    let sink = stats.clone();
    sim.add_node(
        "n",
        true,
        program(move |env, _| {
            let sink = sink.clone();
            Box::pin(async move {
                let (writer, _) = LogWriter::open(&env).await?;
                let writer = Arc::new(writer);
                let mut handles = Vec::new();
                for task in 0..16u64 {
                    let writer = writer.clone();
                    handles.push(env.spawn("committer", async move {
                        let mut prev = Lsn::ZERO;
                        for i in 0..20u64 {
                            prev = writer.append(TxnId(task), prev, body(task * 100 + i)).await?;
                            prev = writer.append(TxnId(task), prev, LogBody::Commit).await?;
                            writer.flush(prev).await?;
                            assert!(writer.durable_lsn() >= prev);
                        }
                        Ok::<(), Error>(())
                    }));
                }
                for handle in handles {
                    handle.await??;
                }
                *sink.lock().unwrap() = Some(writer.stats());
                Ok(())
            })
        }),
    );
    sim.run_until(DEADLINE_NANOS, &|| stats.lock().unwrap().is_some());
    let (requests, syncs) = stats.lock().unwrap().expect("all commits finished");
    assert_eq!(requests, 16 * 20);
    assert!(syncs < requests, "no group commit: {syncs} syncs for {requests} flushes");
    println!("{requests} flush requests, {syncs} syncs");
}

/// State shared between the test and the crash test's two boots.
#[derive(Default)]
struct CrashLog {
    appended: Vec<LogRecord>,
    flushed: usize,
    first_boot_done: bool,
}

async fn crash_first_boot(env: Env, log: Arc<Mutex<CrashLog>>, seed: u64) -> Result<()> {
    let (writer, existing) = LogWriter::open(&env).await?;
    assert!(existing.is_empty());
    let writer = Arc::new(writer);
    let mut prev = Lsn::ZERO;
    let flushed = 5 + seed as usize % 20;
    for i in 0..flushed as u64 + 30 {
        let lsn = writer.append(TxnId(1), prev, body(i)).await?;
        log.lock().unwrap().appended.push(LogRecord { lsn, prev_lsn: prev, txn: TxnId(1), body: body(i) });
        prev = lsn;
        if i as usize + 1 == flushed {
            writer.flush(lsn).await?;
            log.lock().unwrap().flushed = flushed;
        }
        if i as usize == flushed + 10 {
            // In flight when the crash comes: its bytes are written but maybe not synced.
            let writer = writer.clone();
            env.spawn("late flush", async move { writer.flush(lsn).await });
        }
    }
    log.lock().unwrap().first_boot_done = true;
    env.clock.sleep(std::time::Duration::from_secs(3600)).await;
    Ok(())
}

/// What the boot after a crash found: the log's records, and whether an
/// interrupted recycling left its `wal.next` behind.
struct Reopened {
    records: Vec<LogRecord>,
    leftover_next: bool,
}

type FirstBoot<S> = fn(Env, Arc<Mutex<S>>, u64) -> BoxFuture<'static, Result<()>>;

/// Runs `first` on a crashable node until `ready` holds for its state, lets
/// `extra_nanos` more of simulated time pass, crashes the node (unsynced
/// writes lost or torn), reopens the log and returns what it holds.
fn crash_and_reopen<S: Send + 'static>(
    seed: u64,
    state: &Arc<Mutex<S>>,
    first: FirstBoot<S>,
    ready: fn(&S) -> bool,
    extra_nanos: u64,
) -> Reopened {
    let disk = "unsynced_loss_probability = 0.5\ntorn_write_probability = 0.5\n";
    let mut sim = simulator(disk, seed);
    let reopened: Arc<Mutex<Option<Reopened>>> = Arc::default();
    let (shared, found) = (state.clone(), reopened.clone());
    let node = sim.add_node(
        "n",
        true,
        program(move |env, boot| {
            let (state, found) = (shared.clone(), found.clone());
            Box::pin(async move {
                if boot == 0 {
                    return first(env, state, seed).await;
                }
                let (_, records) = LogWriter::open(&env).await?;
                let leftover_next = env.storage.list().await?.iter().any(|name| name == NEXT_LOG_FILE);
                *found.lock().unwrap() = Some(Reopened { records, leftover_next });
                Ok(())
            })
        }),
    );
    sim.run_until(DEADLINE_NANOS, &|| ready(&state.lock().unwrap()));
    sim.run_until(sim.now_nanos() + extra_nanos, &|| false);
    sim.crash(node, false, None);
    sim.restart_now(node);
    sim.run_until(DEADLINE_NANOS, &|| reopened.lock().unwrap().is_some());
    let found = reopened.lock().unwrap().take();
    found.unwrap_or_else(|| panic!("seed {seed}: no recovery"))
}

fn crash_run(seed: u64) {
    let log: Arc<Mutex<CrashLog>> = Arc::default();
    let recovered = crash_and_reopen(
        seed,
        &log,
        |env, log, seed| Box::pin(crash_first_boot(env, log, seed)),
        |log| log.first_boot_done,
        4_000 * (seed % 8),
    )
    .records;
    let log = log.lock().unwrap();
    assert!(log.first_boot_done && log.flushed > 0, "seed {seed}: first boot did not finish");
    println!("seed {seed}: {} appended, {} flushed, {} recovered", log.appended.len(), log.flushed, recovered.len());
    assert!(recovered.len() >= log.flushed, "seed {seed}: lost flushed records");
    assert!(recovered.len() <= log.appended.len(), "seed {seed}: extra records");
    assert_eq!(recovered[..], log.appended[..recovered.len()], "seed {seed}: not a prefix");
}

#[test]
fn a_crash_keeps_every_flushed_record_and_returns_a_prefix() {
    for seed in 0..30 {
        crash_run(seed);
    }
}

/// Storage whose syncs pretend success until `failing` is set, then reach
/// the simulated disk (configured to fail every sync).
struct SwitchedStorage {
    inner: Arc<dyn Storage>,
    failing: Arc<AtomicBool>,
}

struct SwitchedFile {
    inner: Box<dyn File>,
    failing: Arc<AtomicBool>,
}

impl Storage for SwitchedStorage {
    fn open<'a>(&'a self, name: &'a str, mode: OpenMode) -> BoxFuture<'a, Result<Box<dyn File>>> {
        Box::pin(async move {
            let inner = self.inner.open(name, mode).await?;
            Ok(Box::new(SwitchedFile { inner, failing: self.failing.clone() }) as Box<dyn File>)
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        self.inner.list()
    }
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        self.inner.remove(name)
    }
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<()>> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self) -> BoxFuture<'_, Result<()>> {
        if self.failing.load(Ordering::SeqCst) { self.inner.sync_dir() } else { Box::pin(async { Ok(()) }) }
    }
}

impl File for SwitchedFile {
    fn read_at<'a>(&'a self, offset: u64, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        self.inner.read_at(offset, buf)
    }
    fn write_at<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        self.inner.write_at(offset, data)
    }
    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        if self.failing.load(Ordering::SeqCst) { self.inner.sync() } else { Box::pin(async { Ok(()) }) }
    }
    fn truncate(&self, len: u64) -> BoxFuture<'_, Result<()>> {
        self.inner.truncate(len)
    }
    fn len(&self) -> BoxFuture<'_, Result<u64>> {
        self.inner.len()
    }
}

async fn poison_run(mut env: Env) -> Result<Vec<String>> {
    let failing = Arc::new(AtomicBool::new(false));
    env.storage = Arc::new(SwitchedStorage { inner: env.storage.clone(), failing: failing.clone() });
    let (writer, _) = LogWriter::open(&env).await?;
    let lsn = writer.append(TxnId(1), Lsn::ZERO, LogBody::Begin).await?;
    failing.store(true, Ordering::SeqCst);
    let mut outcomes = vec![format!("flush err: {}", writer.flush(lsn).await.is_err())];
    outcomes.push(format!("append err: {}", writer.append(TxnId(1), lsn, LogBody::Commit).await.is_err()));
    outcomes.push(format!("flush again err: {}", writer.flush(lsn).await.is_err()));
    outcomes.push(format!("durable: {}", writer.durable_lsn() == Lsn::ZERO));
    Ok(outcomes)
}

#[test]
fn a_failed_sync_poisons_the_writer() {
    let mut sim = simulator("sync_error_probability = 1.0\n", 5);
    let outcomes: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = outcomes.clone();
    sim.add_node(
        "n",
        true,
        program(move |env, _| {
            let sink = sink.clone();
            Box::pin(async move {
                *sink.lock().unwrap() = poison_run(env).await?;
                Ok(())
            })
        }),
    );
    sim.run_until(DEADLINE_NANOS, &|| !outcomes.lock().unwrap().is_empty());
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes[..], ["flush err: true", "append err: true", "flush again err: true", "durable: true"]);
}

/// What the recycling test saw on its first and second open.
#[derive(Default)]
struct RecycleSeen {
    appended: Vec<LogRecord>,
    keep_from: Lsn,
    base_after: Lsn,
    read_across: Vec<LogRecord>,
    below_base: Option<String>,
    recovered: Option<Vec<LogRecord>>,
    reread: Vec<LogRecord>,
    names: Vec<String>,
}

async fn append_some(writer: &LogWriter, seen: &Mutex<RecycleSeen>, range: std::ops::Range<u64>) -> Result<Lsn> {
    let mut prev = seen.lock().unwrap().appended.last().map_or(Lsn::ZERO, |record| record.lsn);
    for i in range {
        let lsn = writer.append(TxnId(3), prev, body(i)).await?;
        seen.lock().unwrap().appended.push(LogRecord { lsn, prev_lsn: prev, txn: TxnId(3), body: body(i) });
        prev = lsn;
        if i % 7 == 6 {
            writer.flush(lsn).await?;
        }
    }
    Ok(prev)
}

async fn recycle_and_reopen(env: Env, seen: Arc<Mutex<RecycleSeen>>) -> Result<()> {
    let (writer, _) = LogWriter::open(&env).await?;
    assert_eq!(writer.base(), Lsn(64));
    append_some(&writer, &seen, 0..150).await?;
    let keep_from = seen.lock().unwrap().appended[100].lsn;
    // Below the threshold: nothing happens.
    writer.recycle(&env, keep_from, 1 << 30).await?;
    assert_eq!(writer.base(), Lsn(64));
    writer.recycle(&env, keep_from, 1024).await?;
    let last = append_some(&writer, &seen, 150..300).await?;
    writer.flush(last).await?;
    let below = seen.lock().unwrap().appended[50].lsn;
    let below_base = match writer.read_record(below).await {
        Err(Error::Corrupt(why)) => Some(why),
        other => panic!("reading below the base: {other:?}"),
    };
    let mut read_across = Vec::new();
    for index in [100, 101, 149, 150, 299] {
        let lsn = seen.lock().unwrap().appended[index].lsn;
        read_across.push(writer.read_record(lsn).await?);
    }
    let base_after = writer.base();
    drop(writer);
    let (writer, recovered) = LogWriter::open(&env).await?;
    let reread = vec![writer.read_record(keep_from).await?, writer.read_record(last).await?];
    let names = env.storage.list().await?;
    let mut seen = seen.lock().unwrap();
    seen.keep_from = keep_from;
    seen.base_after = base_after;
    seen.read_across = read_across;
    seen.below_base = below_base;
    seen.reread = reread;
    seen.names = names;
    seen.recovered = Some(recovered);
    Ok(())
}

#[test]
fn records_appended_across_a_recycle_keep_their_lsns() {
    let mut sim = simulator("", 11);
    let seen: Arc<Mutex<RecycleSeen>> = Arc::default();
    let shared = seen.clone();
    sim.add_node("n", true, program(move |env, _| Box::pin(recycle_and_reopen(env, shared.clone()))));
    sim.run_until(DEADLINE_NANOS, &|| seen.lock().unwrap().recovered.is_some());
    let seen = seen.lock().unwrap();
    let recovered = seen.recovered.clone().expect("program finished");
    assert_eq!(seen.base_after, seen.keep_from);
    assert_eq!(recovered[..], seen.appended[100..]);
    let expected: Vec<LogRecord> = [100, 101, 149, 150, 299].iter().map(|i| seen.appended[*i].clone()).collect();
    assert_eq!(seen.read_across, expected);
    assert_eq!(seen.reread, [seen.appended[100].clone(), seen.appended[299].clone()]);
    assert!(seen.below_base.as_deref().is_some_and(|why| why.contains("base")), "{:?}", seen.below_base);
    assert!(seen.names.iter().any(|name| name == LOG_FILE) && !seen.names.iter().any(|name| name == NEXT_LOG_FILE));
}

/// State shared between the test and the recycling crash test's two boots.
#[derive(Default)]
struct RecycleCrash {
    appended: Vec<LogRecord>,
    /// Records `..flushed` were reported durable.
    flushed: usize,
    keep_from: usize,
    recycling: bool,
    recycled: bool,
}

async fn recycle_crash_first_boot(env: Env, log: Arc<Mutex<RecycleCrash>>, seed: u64) -> Result<()> {
    let (writer, _) = LogWriter::open(&env).await?;
    let writer = Arc::new(writer);
    let mut prev = Lsn::ZERO;
    let keep_from = 100 + seed as usize % 50;
    log.lock().unwrap().keep_from = keep_from;
    for i in 0..400u64 {
        let lsn = writer.append(TxnId(1), prev, body(i)).await?;
        log.lock().unwrap().appended.push(LogRecord { lsn, prev_lsn: prev, txn: TxnId(1), body: body(i) });
        prev = lsn;
        if i == 200 {
            writer.flush(lsn).await?;
            log.lock().unwrap().flushed = 201;
            let (writer, log, env) = (writer.clone(), log.clone(), env.clone());
            let keep = log.lock().unwrap().appended[keep_from].lsn;
            log.lock().unwrap().recycling = true;
            env.clone().spawn("recycle", async move {
                writer.recycle(&env, keep, 0).await?;
                log.lock().unwrap().recycled = true;
                Ok::<(), Error>(())
            });
        } else if i > 200 && i % 20 == 0 {
            writer.flush(lsn).await?;
            log.lock().unwrap().flushed = i as usize + 1;
        }
    }
    env.clock.sleep(std::time::Duration::from_secs(3600)).await;
    Ok(())
}

fn recycle_crash_run(seed: u64) -> bool {
    let log: Arc<Mutex<RecycleCrash>> = Arc::default();
    // Crash at a point spread over the recycling and the appends around it.
    let Reopened { records: recovered, leftover_next } = crash_and_reopen(
        seed,
        &log,
        |env, log, seed| Box::pin(recycle_crash_first_boot(env, log, seed)),
        |log| log.recycling,
        5_000 * (seed % 60),
    );
    let log = log.lock().unwrap();
    assert!(!leftover_next, "seed {seed}: {NEXT_LOG_FILE} left behind");
    let start = if recovered.first() == log.appended.first() { 0 } else { log.keep_from };
    assert!(recovered.len() + start >= log.flushed, "seed {seed}: lost flushed records");
    assert!(recovered.len() + start <= log.appended.len(), "seed {seed}: extra records");
    assert_eq!(recovered[..], log.appended[start..start + recovered.len()], "seed {seed}: not a run of the log");
    assert!(!log.recycled || start == log.keep_from, "seed {seed}: recycled, yet the old log came back");
    start == log.keep_from
}

#[test]
fn a_crash_during_recycling_keeps_every_flushed_record_from_keep_from() {
    let mut outcomes = [0usize; 2];
    for seed in 0..60 {
        outcomes[usize::from(recycle_crash_run(seed))] += 1;
    }
    println!("old log came back {} times, the recycled one {} times", outcomes[0], outcomes[1]);
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "crashes never hit both sides of the rename: {outcomes:?}");
}
