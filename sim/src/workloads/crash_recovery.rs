//! The crash-recovery workload: the real storage engine ([`Store`]) embedded
//! in a crashable node, with concurrent writer tasks and a checkpointer.
//!
//! Every logical row `key → value` lives in three structures that must agree:
//! a heap table `rows` (the row bytes are `key ‖ value`), a unique B+Tree
//! `rows_by_key` (key → the row's [`Rid`]) and a clustered B+Tree `kv`
//! (key → value). Each writer task owns the keys `(writer, 0..KEYS_PER_WRITER)`
//! and runs transactions of one to five puts and deletes, committing most and
//! rolling back some on purpose; table locks make writers conflict, and a
//! conflict (a wait that would deadlock) rolls the transaction back.
//!
//! At every boot the node opens the store (running recovery), checks the
//! engine's own consistency (trees valid, index ↔ heap ↔ clustered table)
//! and reports every key's value to [`StoreModel`], which checks it against
//! the acknowledged commits. An I/O error ends the node's program: the
//! simulator restarts it, and recovery must cope. A corruption error outside
//! recovery is a violation (no fault in these scenarios may cause one).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use rustydb_core::buffer::policy::PolicyKind;
use rustydb_core::env::Env;
use rustydb_core::store::{Rid, Store, StoreConfig, TableId, Txn};
use rustydb_core::{Error, Result};

use super::Workload;
use crate::checkers::store_model::{Change, Key, StoreModel};
use crate::options::RunOptions;
use crate::runtime::{NodeProgram, Simulator, lock};

const HEAP: &str = "rows";
const INDEX: &str = "rows_by_key";
const CLUSTERED: &str = "kv";
const KEYS_PER_WRITER: u16 = 400;
/// Values are long enough that pages split, merge and rows move.
const VALUE_BYTES_MAX: u64 = 300;

type Model = Arc<Mutex<StoreModel>>;

struct Tables {
    heap: TableId,
    index: TableId,
    clustered: TableId,
}

/// The workload: one crashable node running the engine, and the model.
pub struct CrashRecoveryWorkload {
    options: RunOptions,
    model: Model,
}

impl CrashRecoveryWorkload {
    pub fn new(options: &RunOptions) -> Self {
        CrashRecoveryWorkload { options: options.clone(), model: Arc::default() }
    }
}

impl Workload for CrashRecoveryWorkload {
    fn install(&self, sim: &mut Simulator) {
        let model = self.model.clone();
        let writers = u8::try_from(self.options.client.tasks.clamp(1, 16)).expect("clamped");
        let seed = self.options.seed;
        let program: NodeProgram = Arc::new(move |env| Box::pin(node_main(env, model.clone(), writers, seed)));
        sim.add_node("server0", true, program);
    }

    fn progress(&self) -> u64 {
        lock(&self.model).acks()
    }

    fn recoveries(&self) -> u64 {
        lock(&self.model).recoveries()
    }

    fn violation(&self) -> Option<String> {
        lock(&self.model).violation().map(str::to_string)
    }
}

/// The store's configuration for a seed: a small pool (so pages are evicted
/// and written back often), frequent checkpoints and log recycling, with the
/// eviction policy varied.
fn config(seed: u64) -> StoreConfig {
    let policy = PolicyKind::ALL[(seed % PolicyKind::ALL.len() as u64) as usize];
    StoreConfig {
        pool_frames: 24 + (seed % 4) as usize * 8,
        policy,
        checkpoint_log_bytes: 256 * 1024,
        recycle_log_bytes: 64 * 1024,
    }
}

async fn node_main(env: Env, model: Model, writers: u8, seed: u64) -> Result<()> {
    let store = match Store::open(&env, config(seed)).await {
        Ok(store) => store,
        Err(error @ (Error::Corrupt(_) | Error::CorruptPage { .. })) => {
            // No fault in a positive scenario may make recovery fail: that is data loss.
            lock(&model).violate(format!("recovery failed: {error}"));
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    let tables = verify_and_prepare(&store, &model, writers).await?;
    let tables = Arc::new(tables);
    let (fatal, mut fatal_errors) = mpsc::channel::<Error>(usize::from(writers) + 1);
    for writer in 0..writers {
        let task = writer_loop(env.clone(), store.clone(), tables.clone(), model.clone(), writer, fatal.clone());
        drop(env.spawn("writer", task));
    }
    drop(env.spawn("checkpointer", checkpointer(env.clone(), store.clone(), fatal.clone())));
    drop(fatal);
    match fatal_errors.next().await {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Checks the recovered store and creates the tables on first boot.
async fn verify_and_prepare(store: &Arc<Store>, model: &Model, writers: u8) -> Result<Tables> {
    let mut txn = store.begin().await?;
    let existing = txn.table(HEAP).await;
    let tables = match existing {
        Ok(heap) => {
            Tables { heap: heap.id, index: txn.table(INDEX).await?.id, clustered: txn.table(CLUSTERED).await?.id }
        }
        Err(Error::InvalidInput(_)) => {
            if lock(model).tables_created() {
                lock(model).violate("the tables were created and committed, but are gone after recovery".into());
            }
            let tables = Tables {
                heap: txn.create_heap(HEAP).await?,
                index: txn.create_btree(INDEX, true).await?,
                clustered: txn.create_btree(CLUSTERED, true).await?,
            };
            txn.commit().await?;
            lock(model).set_tables_created();
            let mut check = store.begin().await?;
            report_state(&mut check, &tables, model, writers).await?;
            check.commit().await?;
            return Ok(tables);
        }
        Err(error) => return Err(error),
    };
    report_state(&mut txn, &tables, model, writers).await?;
    txn.commit().await?;
    Ok(tables)
}

/// Reads every structure, checks they agree, and reports the state to the model.
async fn report_state(txn: &mut Txn, tables: &Tables, model: &Model, writers: u8) -> Result<()> {
    match read_state(txn, tables).await {
        Ok(state) => lock(model).recovered(&state, writers),
        Err(Error::Corrupt(why)) => lock(model).violate(format!("engine inconsistent after recovery: {why}")),
        Err(error @ Error::CorruptPage { .. }) => lock(model).violate(format!("after recovery: {error}")),
        Err(error) => return Err(error),
    }
    Ok(())
}

async fn read_state(txn: &mut Txn, tables: &Tables) -> Result<BTreeMap<Key, Vec<u8>>> {
    txn.tree_check(tables.index).await?;
    txn.tree_check(tables.clustered).await?;
    let mut heap = BTreeMap::new();
    for (rid, row) in txn.heap_scan(tables.heap).await? {
        let key = decode_key(&row[..row.len().min(3)])?;
        if heap.insert(key, (rid, row[3..].to_vec())).is_some() {
            return Err(Error::Corrupt(format!("heap holds key {key:?} twice")));
        }
    }
    let index = scan(txn, tables.index).await?;
    let clustered = scan(txn, tables.clustered).await?;
    if index.len() != heap.len() || clustered.len() != heap.len() {
        let (h, i, c) = (heap.len(), index.len(), clustered.len());
        return Err(Error::Corrupt(format!("heap has {h} rows, index {i} entries, clustered table {c}")));
    }
    let mut state = BTreeMap::new();
    for ((key, (rid, value)), ((index_key, index_rid), (clustered_key, clustered_value))) in
        heap.into_iter().zip(index.into_iter().zip(clustered))
    {
        if index_key != encode_key(key) || Rid::decode(&index_rid)? != rid {
            return Err(Error::Corrupt(format!("index entry for {key:?} does not point at its heap row")));
        }
        if clustered_key != encode_key(key) || clustered_value != value {
            return Err(Error::Corrupt(format!("clustered table disagrees with the heap at {key:?}")));
        }
        state.insert(key, value);
    }
    Ok(state)
}

async fn scan(txn: &mut Txn, table: TableId) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut cursor = txn.tree_range(table, Bound::Unbounded, Bound::Unbounded).await?;
    let mut pairs = Vec::new();
    while let Some(pair) = cursor.next().await? {
        pairs.push(pair);
    }
    Ok(pairs)
}

fn encode_key((writer, number): Key) -> Vec<u8> {
    let mut key = vec![writer];
    key.extend_from_slice(&number.to_be_bytes());
    key
}

fn decode_key(bytes: &[u8]) -> Result<Key> {
    match bytes {
        [writer, high, low] => Ok((*writer, u16::from_be_bytes([*high, *low]))),
        _ => Err(Error::Corrupt(format!("a heap row with a {}-byte key", bytes.len()))),
    }
}

async fn checkpointer(env: Env, store: Arc<Store>, mut fatal: mpsc::Sender<Error>) {
    loop {
        env.clock.sleep(Duration::from_millis(20 + env.random.below(200))).await;
        if let Err(error) = store.checkpoint().await {
            let _ = fatal.try_send(error);
            return;
        }
    }
}

async fn writer_loop(
    env: Env,
    store: Arc<Store>,
    tables: Arc<Tables>,
    model: Model,
    writer: u8,
    mut fatal: mpsc::Sender<Error>,
) {
    loop {
        env.clock.sleep(Duration::from_micros(env.random.below(3000))).await;
        if let Err(error) = one_transaction(&env, &store, &tables, &model, writer).await {
            if let Error::Corrupt(_) | Error::CorruptPage { .. } = error {
                lock(&model).violate(format!("writer {writer}: {error}"));
            }
            let _ = fatal.try_send(error);
            return;
        }
    }
}

/// Runs one transaction; conflicts and deliberate rollbacks are not errors.
async fn one_transaction(env: &Env, store: &Arc<Store>, tables: &Tables, model: &Model, writer: u8) -> Result<()> {
    let mut txn = store.begin().await?;
    let mut changes = Vec::new();
    let mut current: BTreeMap<Key, Option<Vec<u8>>> = BTreeMap::new();
    for _ in 0..1 + env.random.below(5) {
        let key = (writer, u16::try_from(env.random.below(u64::from(KEYS_PER_WRITER))).expect("below u16"));
        let before = match current.get(&key) {
            Some(value) => value.clone(),
            None => lock(model).value(key).cloned(),
        };
        let change = if before.is_some() && env.random.below(3) == 0 {
            Change::Delete(key)
        } else {
            let mut value = vec![0u8; 1 + env.random.below(VALUE_BYTES_MAX) as usize];
            env.random.fill(&mut value);
            Change::Put(key, value)
        };
        match apply_change(&mut txn, tables, &change, before.is_some()).await {
            Ok(()) => {}
            Err(Error::Conflict(_)) => {
                txn.rollback().await?;
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        current.insert(
            key,
            match &change {
                Change::Put(_, value) => Some(value.clone()),
                Change::Delete(_) => None,
            },
        );
        changes.push(change);
    }
    if env.random.below(8) == 0 {
        txn.rollback().await?;
        lock(model).rolled_back();
        return Ok(());
    }
    lock(model).commit_requested(writer, changes);
    txn.commit().await?;
    lock(model).commit_acknowledged(writer);
    Ok(())
}

async fn apply_change(txn: &mut Txn, tables: &Tables, change: &Change, exists: bool) -> Result<()> {
    match change {
        Change::Put(key, value) => {
            let encoded = encode_key(*key);
            let mut row = encoded.clone();
            row.extend_from_slice(value);
            if exists {
                let rid = Rid::decode(&txn.tree_get(tables.index, &encoded).await?.ok_or_else(missing(*key))?)?;
                let moved = txn.heap_update(tables.heap, rid, &row).await?.ok_or_else(missing(*key))?;
                if moved != rid {
                    txn.tree_delete(tables.index, &encoded, None).await?;
                    txn.tree_insert(tables.index, &encoded, &moved.encode()).await?;
                }
                txn.tree_delete(tables.clustered, &encoded, None).await?;
            } else {
                let rid = txn.heap_insert(tables.heap, &row).await?;
                txn.tree_insert(tables.index, &encoded, &rid.encode()).await?;
            }
            txn.tree_insert(tables.clustered, &encoded, value).await
        }
        Change::Delete(key) => {
            let encoded = encode_key(*key);
            let rid = Rid::decode(&txn.tree_get(tables.index, &encoded).await?.ok_or_else(missing(*key))?)?;
            txn.heap_delete(tables.heap, rid).await?;
            txn.tree_delete(tables.index, &encoded, None).await?;
            txn.tree_delete(tables.clustered, &encoded, None).await?;
            Ok(())
        }
    }
}

fn missing(key: Key) -> impl FnOnce() -> Error {
    move || Error::Corrupt(format!("key {key:?} is committed but not found"))
}
