//! The transaction workloads: the real transactional engine ([`TxnEngine`])
//! in a crashable node, with client tasks running interleaved transactions
//! at the scenario's isolation level, and the history checked at every
//! restart ([`TxnHistory`]).
//!
//! `isolation` mixes three workloads over two tables:
//! * **list-append** (`lists`): transactions of one to four operations, each
//!   reading a key's list or appending a unique element to it (a read, then
//!   a write of the longer list); the lists reveal the order of writes, from
//!   which the Elle-style checker infers every dependency;
//! * **on-call doctors** (`lists`, keys from [`DOCTORS`]): a doctor goes off
//!   call only if the group's read shows another on call: write skew under
//!   snapshot isolation leaves nobody on call (and shows as G2-item);
//! * **bank** (`bank`): transfers between accounts (read both, write both)
//!   and reads of all accounts, whose sum must never change.
//!
//! `deadlock` runs transactions that lock two to four rows `FOR UPDATE` in
//! random order and then update them: deadlocks are frequent and must be
//! detected and resolved, with no transaction hung (a watchdog checks).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use rustydb_core::buffer::policy::PolicyKind;
use rustydb_core::env::{Env, Instant};
use rustydb_core::store::{StoreConfig, TableId};
use rustydb_core::txn::{IsolationLevel, RowLock, Transaction, TxnConfig, TxnEngine};
use rustydb_core::{Error, Result};

use super::Workload;
use crate::checkers::isolation::{Element, Key, Op, Outcome};
use crate::checkers::transactions::{DOCTORS, DOCTORS_PER_GROUP, TxnHistory, on_call};
use crate::options::RunOptions;
use crate::runtime::{NodeProgram, Simulator, lock};

const LISTS: &str = "lists";
const BANK: &str = "bank";
const ACCOUNTS: u32 = 8;
const INITIAL_BALANCE: i64 = 100;
const DOCTOR_GROUPS: u32 = 3;
/// List-append keys in play at once; the window moves on as elements are
/// handed out, so no list outgrows a row.
const KEY_WINDOW: u32 = 8;
const ELEMENTS_PER_WINDOW_STEP: u64 = 200;
/// Rows the deadlock workload locks among.
const DEADLOCK_ROWS: u32 = 6;
/// A transaction open longer than this (simulated) is hung.
const HANG_LIMIT: Duration = Duration::from_secs(5);

type History = Arc<Mutex<TxnHistory>>;

/// Which transactions the clients run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    Isolation,
    Deadlock,
}

/// The workload: one crashable node running the engine and its clients.
pub struct TransactionsWorkload {
    options: RunOptions,
    mix: Mix,
    history: History,
    /// Start times of open transactions, by client, for the hang watchdog.
    open: Arc<Mutex<BTreeMap<usize, Instant>>>,
}

impl TransactionsWorkload {
    pub fn new(options: &RunOptions, mix: Mix) -> Self {
        TransactionsWorkload { options: options.clone(), mix, history: Arc::default(), open: Arc::default() }
    }
}

impl Workload for TransactionsWorkload {
    fn install(&self, sim: &mut Simulator) {
        let node = Node {
            history: self.history.clone(),
            open: self.open.clone(),
            mix: self.mix,
            level: self.options.transactions.isolation,
            check_as: self.options.transactions.check_as,
            clients: self.options.client.tasks.clamp(1, 32) as usize,
            config: config(&self.options),
        };
        let node = Arc::new(node);
        let program: NodeProgram = Arc::new(move |env| {
            let node = node.clone();
            Box::pin(async move { node.main(env).await })
        });
        sim.add_node("server0", true, program);
    }

    fn progress(&self) -> u64 {
        lock(&self.history).acks()
    }

    fn recoveries(&self) -> u64 {
        lock(&self.history).recoveries()
    }

    fn violation(&self) -> Option<String> {
        lock(&self.history).violation().map(str::to_string)
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        lock(&self.history).counts.iter().map(|(name, count)| (*name, *count)).collect()
    }
}

/// The engine configuration a run draws from its seed.
pub(crate) fn config(options: &RunOptions) -> TxnConfig {
    let seed = options.seed;
    TxnConfig {
        store: StoreConfig {
            pool_frames: 32 + (seed % 4) as usize * 16,
            policy: PolicyKind::ALL[(seed % PolicyKind::ALL.len() as u64) as usize],
            checkpoint_log_bytes: 256 * 1024,
            recycle_log_bytes: 64 * 1024,
        },
        deadlock_check_after: Duration::from_millis(options.transactions.deadlock_check_ms),
        lock_timeout: None,
        vacuum_interval: Some(Duration::from_millis(options.transactions.vacuum_interval_ms.max(1))),
    }
}

struct Tables {
    lists: TableId,
    bank: TableId,
}

struct Node {
    history: History,
    open: Arc<Mutex<BTreeMap<usize, Instant>>>,
    mix: Mix,
    level: IsolationLevel,
    check_as: IsolationLevel,
    clients: usize,
    config: TxnConfig,
}

impl Node {
    async fn main(self: Arc<Self>, env: Env) -> Result<()> {
        lock(&self.open).clear();
        let engine = match TxnEngine::open(&env, self.config.clone()).await {
            Ok(engine) => engine,
            Err(error @ (Error::Corrupt(_) | Error::CorruptPage { .. })) => {
                lock(&self.history).violate(format!("recovery failed: {error}"));
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        let tables = Arc::new(self.prepare(&engine).await?);
        let (fatal, mut fatal_errors) = mpsc::channel::<Error>(self.clients + 1);
        for client in 0..self.clients {
            let (node, env, engine, tables, fatal) =
                (self.clone(), env.clone(), engine.clone(), tables.clone(), fatal.clone());
            drop(env.clone().spawn("client", async move { node.client(env, engine, tables, client, fatal).await }));
        }
        drop(env.spawn("watchdog", self.clone().watchdog(env.clone())));
        drop(fatal);
        match fatal_errors.next().await {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Creates and fills the tables on first boot; later, checks the recovered state.
    async fn prepare(&self, engine: &TxnEngine) -> Result<Tables> {
        let (lists, lists_created) = open_or_create(engine, LISTS).await?;
        let (bank, bank_created) = open_or_create(engine, BANK).await?;
        let tables = Tables { lists, bank };
        if (lists_created || bank_created) && lock(&self.history).initialised() {
            lock(&self.history).violate("the tables were created and filled, but are gone".into());
        }
        if !lock(&self.history).initialised() {
            self.fill(engine, &tables).await?;
            return Ok(tables);
        }
        let mut txn = engine.begin(IsolationLevel::Serializable).await?;
        let state = read_lists(&mut txn, tables.lists).await?;
        let bank_sum = read_bank(&mut txn, tables.bank).await?.iter().sum();
        txn.commit().await?;
        lock(&self.history).recovered(self.check_as, state, bank_sum);
        Ok(tables)
    }

    /// Writes the initial accounts and doctors (all on call: empty lists).
    async fn fill(&self, engine: &TxnEngine, tables: &Tables) -> Result<()> {
        let mut txn = engine.begin(IsolationLevel::Serializable).await?;
        for account in 0..ACCOUNTS {
            txn.put(tables.bank, &account.to_be_bytes(), &INITIAL_BALANCE.to_be_bytes()).await?;
        }
        for doctor in 0..DOCTOR_GROUPS * DOCTORS_PER_GROUP {
            txn.put(tables.lists, &(DOCTORS + doctor).to_be_bytes(), &[]).await?;
        }
        for row in 0..DEADLOCK_ROWS {
            txn.put(tables.bank, &(1000 + row).to_be_bytes(), &0i64.to_be_bytes()).await?;
        }
        txn.commit().await?;
        lock(&self.history).set_initialised(INITIAL_BALANCE * i64::from(ACCOUNTS), self.check_as);
        Ok(())
    }

    async fn client(
        &self,
        env: Env,
        engine: Arc<TxnEngine>,
        tables: Arc<Tables>,
        client: usize,
        mut fatal: mpsc::Sender<Error>,
    ) {
        loop {
            env.clock.sleep(Duration::from_micros(env.random.below(2000))).await;
            lock(&self.open).insert(client, env.clock.now());
            let result = match self.mix {
                Mix::Isolation => self.isolation_txn(&env, &engine, &tables).await,
                Mix::Deadlock => self.deadlock_txn(&env, &engine, &tables).await,
            };
            lock(&self.open).remove(&client);
            if let Err(error) = result {
                if let Error::Corrupt(_) | Error::CorruptPage { .. } = error {
                    lock(&self.history).violate(format!("client {client}: {error}"));
                }
                let _ = fatal.try_send(error);
                return;
            }
        }
    }

    /// Fails the run if a transaction stays open past [`HANG_LIMIT`].
    async fn watchdog(self: Arc<Self>, env: Env) {
        loop {
            env.clock.sleep(Duration::from_millis(100)).await;
            let now = env.clock.now();
            let hung =
                lock(&self.open).iter().find(|(_, start)| now.saturating_since(**start) > HANG_LIMIT).map(|(c, _)| *c);
            if let Some(client) = hung {
                lock(&self.history).violate(format!(
                    "hung transaction: client {client}'s transaction has been open for over {} s",
                    HANG_LIMIT.as_secs()
                ));
                return;
            }
        }
    }

    /// Runs one transaction of the isolation mix, recording it.
    async fn isolation_txn(&self, env: &Env, engine: &TxnEngine, tables: &Tables) -> Result<()> {
        let choice = env.random.below(100);
        let mut txn = engine.begin(self.level).await?;
        let index = lock(&self.history).begin();
        let body = match choice {
            0..60 => self.list_append(env, &mut txn, tables.lists, index).await,
            60..75 => self.doctor(env, &mut txn, tables.lists, index).await,
            75..95 => transfer(env, &mut txn, tables.bank).await,
            _ => self.audit(&mut txn, tables.bank).await,
        };
        self.settle(txn, index, body).await
    }

    /// Commits (or, after `body` failed, rolls back) and records the outcome.
    async fn settle(&self, txn: Transaction, index: usize, body: Result<()>) -> Result<()> {
        let committed = match body {
            Ok(()) => txn.commit().await,
            Err(error) => {
                drop(txn);
                Err(error)
            }
        };
        let mut history = lock(&self.history);
        match committed {
            Ok(()) => {
                history.finish(index, Outcome::Committed);
                history.count("commits");
                Ok(())
            }
            Err(error) if error.is_retryable() || matches!(error, Error::LockTimeout(_)) => {
                history.finish(index, Outcome::Aborted);
                history.count(match error {
                    Error::Deadlock(_) => "deadlocks",
                    Error::LockTimeout(_) => "lock_timeouts",
                    Error::SerializationFailure(_) => "serialization_failures",
                    _ => "conflicts",
                });
                Ok(())
            }
            // An I/O failure: the outcome stays unknown and the node restarts.
            Err(error) => Err(error),
        }
    }

    async fn list_append(&self, env: &Env, txn: &mut Transaction, table: TableId, index: usize) -> Result<()> {
        let base = (lock(&self.history).elements() / ELEMENTS_PER_WINDOW_STEP) as u32 * (KEY_WINDOW / 2);
        for _ in 0..1 + env.random.below(4) {
            let key: Key = base + env.random.below(u64::from(KEY_WINDOW)) as u32;
            let list = read_list(txn, table, key).await?;
            lock(&self.history).record(index, Op::Read { key, list: list.clone() });
            if env.random.below(2) == 0 {
                self.append(txn, table, index, key, list).await?;
            }
        }
        Ok(())
    }

    async fn append(
        &self,
        txn: &mut Transaction,
        table: TableId,
        index: usize,
        key: Key,
        mut list: Vec<Element>,
    ) -> Result<()> {
        let element = lock(&self.history).element();
        lock(&self.history).record(index, Op::Append { key, element });
        list.push(element);
        txn.put(table, &key.to_be_bytes(), &encode_list(&list)).await
    }

    /// A doctor goes off call if another in the group is on call, or back on.
    async fn doctor(&self, env: &Env, txn: &mut Transaction, table: TableId, index: usize) -> Result<()> {
        let group = env.random.below(u64::from(DOCTOR_GROUPS)) as u32;
        let mut lists = Vec::new();
        for doctor in 0..DOCTORS_PER_GROUP {
            let key = DOCTORS + group * DOCTORS_PER_GROUP + doctor;
            let list = read_list(txn, table, key).await?;
            lock(&self.history).record(index, Op::Read { key, list: list.clone() });
            lists.push(list);
        }
        // The invariant is checked on the state after each restart, after the isolation
        // check: write skew must be reported as the anomaly it is (G2-item).
        let me = env.random.below(u64::from(DOCTORS_PER_GROUP)) as usize;
        let on_call_count = lists.iter().filter(|list| on_call(list)).count();
        if !on_call(&lists[me]) || on_call_count >= 2 {
            let key = DOCTORS + group * DOCTORS_PER_GROUP + me as u32;
            self.append(txn, table, index, key, lists.swap_remove(me)).await?;
        }
        Ok(())
    }

    /// Reads every account; the sum is checked once the transaction commits.
    async fn audit(&self, txn: &mut Transaction, table: TableId) -> Result<()> {
        let sum: i64 = read_bank(txn, table).await?.iter().sum();
        // One scan is one statement: a consistent snapshot at every level.
        lock(&self.history).bank_read("an audit", sum);
        Ok(())
    }

    /// Locks rows FOR UPDATE in random order, then bumps each.
    async fn deadlock_txn(&self, env: &Env, engine: &TxnEngine, tables: &Tables) -> Result<()> {
        let mut txn = engine.begin(self.level).await?;
        let index = lock(&self.history).begin();
        let mut rows: Vec<u32> = (0..DEADLOCK_ROWS).map(|row| 1000 + row).collect();
        for i in (1..rows.len()).rev() {
            rows.swap(i, env.random.below(i as u64 + 1) as usize);
        }
        rows.truncate(2 + env.random.below(3) as usize);
        let body = async {
            for row in &rows {
                let value = txn.lock_row(tables.bank, &row.to_be_bytes(), RowLock::Update).await?;
                let value = decode_i64(&value.unwrap_or_default())?;
                env.clock.sleep(Duration::from_micros(env.random.below(3000))).await;
                txn.put(tables.bank, &row.to_be_bytes(), &(value + 1).to_be_bytes()).await?;
            }
            Ok(())
        }
        .await;
        self.settle(txn, index, body).await
    }
}

/// The table called `name`, created if missing (then the flag is true).
async fn open_or_create(engine: &TxnEngine, name: &str) -> Result<(TableId, bool)> {
    match engine.table(name).await {
        Ok(table) => Ok((table, false)),
        Err(Error::InvalidInput(_)) => Ok((engine.create_table(name).await?, true)),
        Err(error) => Err(error),
    }
}

/// Moves a random amount between two accounts, never below zero.
async fn transfer(env: &Env, txn: &mut Transaction, table: TableId) -> Result<()> {
    let from = env.random.below(u64::from(ACCOUNTS)) as u32;
    let to = (from + 1 + env.random.below(u64::from(ACCOUNTS) - 1) as u32) % ACCOUNTS;
    let amount = 1 + env.random.below(20) as i64;
    let from_balance = decode_i64(&txn.get(table, &from.to_be_bytes()).await?.unwrap_or_default())?;
    let to_balance = decode_i64(&txn.get(table, &to.to_be_bytes()).await?.unwrap_or_default())?;
    if from_balance < amount {
        return Ok(());
    }
    txn.put(table, &from.to_be_bytes(), &(from_balance - amount).to_be_bytes()).await?;
    txn.put(table, &to.to_be_bytes(), &(to_balance + amount).to_be_bytes()).await
}

async fn read_list(txn: &mut Transaction, table: TableId, key: Key) -> Result<Vec<Element>> {
    decode_list(&txn.get(table, &key.to_be_bytes()).await?.unwrap_or_default())
}

async fn read_lists(txn: &mut Transaction, table: TableId) -> Result<BTreeMap<Key, Vec<Element>>> {
    let mut state = BTreeMap::new();
    for (key, row) in txn.scan(table, Bound::Unbounded, Bound::Unbounded).await? {
        let key: [u8; 4] = key.as_slice().try_into().map_err(|_| Error::Corrupt("a list key of bad length".into()))?;
        state.insert(u32::from_be_bytes(key), decode_list(&row)?);
    }
    Ok(state)
}

async fn read_bank(txn: &mut Transaction, table: TableId) -> Result<Vec<i64>> {
    let end = ACCOUNTS.to_be_bytes();
    let rows = txn.scan(table, Bound::Unbounded, Bound::Excluded(&end)).await?;
    rows.iter().map(|(_, row)| decode_i64(row)).collect()
}

/// Lists are stored as 4-byte big-endian elements (the run hands out far fewer than 2^32).
fn encode_list(list: &[Element]) -> Vec<u8> {
    list.iter().flat_map(|element| (*element as u32).to_be_bytes()).collect()
}

fn decode_list(bytes: &[u8]) -> Result<Vec<Element>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::Corrupt(format!("a list of {} bytes", bytes.len())));
    }
    Ok(bytes.chunks_exact(4).map(|chunk| u64::from(u32::from_be_bytes(chunk.try_into().expect("4 bytes")))).collect())
}

fn decode_i64(bytes: &[u8]) -> Result<i64> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| Error::Corrupt(format!("a balance of {} bytes", bytes.len())))?;
    Ok(i64::from_be_bytes(bytes))
}
