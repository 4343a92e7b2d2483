//! The SQL workload: the bank and on-call-doctor workloads of the
//! transaction issue, written in SQL and run through [`Session`] — the API
//! the server's connections use — against the real engine in a crashable
//! node.
//!
//! Clients, each with its own session, run at the scenario's isolation level:
//! * **transfers**: read two balances, write both, and insert the transfer's
//!   unique id into `transfers`, in one transaction; acknowledged ids must
//!   survive every crash;
//! * **doctors**: a doctor goes off call only if the group's count of
//!   doctors on call (a `count(*)` read) is at least two; another puts a
//!   doctor back on call; at SERIALIZABLE every group keeps someone on call,
//!   while snapshot isolation lets two concurrent doctors both leave;
//! * **audits**: `sum(balance)` must equal the total at REPEATABLE READ and
//!   above, and (at SERIALIZABLE) every group must have a doctor on call.
//!
//! After each restart the same invariants are checked on the recovered
//! database. A failed statement's SQLSTATE decides what happens: 40001 and
//! 40P01 roll back and count as aborts; anything else ends the node's run
//! (the simulator restarts it), except data corruption, a violation.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use rustydb_core::env::Env;
use rustydb_core::sql::{Database, DatabaseConfig, Session, Value};
use rustydb_core::txn::IsolationLevel;
use rustydb_core::{Error, Result};

use super::Workload;
use crate::options::RunOptions;
use crate::runtime::{NodeProgram, Simulator, lock};

const ACCOUNTS: i64 = 8;
const INITIAL_BALANCE: i64 = 100;
const GROUPS: i64 = 3;
const DOCTORS_PER_GROUP: i64 = 3;

/// What the clients and the recovery checks observed.
#[derive(Debug, Default)]
struct History {
    initialised: bool,
    /// Transfer ids whose COMMIT returned success.
    acknowledged: BTreeSet<i64>,
    commits: u64,
    aborts: u64,
    recoveries: u64,
    /// Program starts so far: part of every transfer id, which must not
    /// repeat an id an earlier boot committed.
    boots: i64,
    violation: Option<String>,
}

impl History {
    fn violate(&mut self, what: String) {
        self.violation.get_or_insert(what);
    }
}

/// The workload: one crashable node running the SQL engine and its clients.
pub struct SqlWorkload {
    options: RunOptions,
    history: Arc<Mutex<History>>,
}

impl SqlWorkload {
    pub fn new(options: &RunOptions) -> Self {
        SqlWorkload { options: options.clone(), history: Arc::default() }
    }
}

impl Workload for SqlWorkload {
    fn install(&self, sim: &mut Simulator) {
        let node = Arc::new(Node {
            history: self.history.clone(),
            level: self.options.transactions.isolation,
            check_as: self.options.transactions.check_as,
            clients: self.options.client.tasks.clamp(1, 32) as usize,
            config: DatabaseConfig { txn: super::transactions::config(&self.options) },
        });
        let program: NodeProgram = Arc::new(move |env| {
            let node = node.clone();
            Box::pin(async move { node.main(env).await })
        });
        sim.add_node("server0", true, program);
    }

    fn progress(&self) -> u64 {
        lock(&self.history).commits
    }

    fn recoveries(&self) -> u64 {
        lock(&self.history).recoveries
    }

    fn violation(&self) -> Option<String> {
        lock(&self.history).violation.clone()
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let h = lock(&self.history);
        vec![("commits", h.commits), ("serialization_failures", h.aborts)]
    }
}

struct Node {
    history: Arc<Mutex<History>>,
    level: IsolationLevel,
    check_as: IsolationLevel,
    clients: usize,
    config: DatabaseConfig,
}

/// Whether a level guarantees the bank total (no lost update, no read skew).
fn keeps_total(level: IsolationLevel) -> bool {
    level != IsolationLevel::ReadCommitted
}

impl Node {
    async fn main(self: Arc<Self>, env: Env) -> Result<()> {
        let db = match Database::open(&env, self.config.clone()).await {
            Ok(db) => db,
            Err(error @ (Error::Corrupt(_) | Error::CorruptPage { .. })) => {
                lock(&self.history).violate(format!("recovery failed: {error}"));
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        let mut session = db.session();
        if !lock(&self.history).initialised && !already_set_up(&mut session).await? {
            setup(&mut session).await?;
            lock(&self.history).initialised = true;
        } else {
            lock(&self.history).initialised = true;
            self.check_recovered(&mut session).await?;
        }
        let boot = {
            let mut history = lock(&self.history);
            history.boots += 1;
            history.boots
        };
        let (fatal, mut fatal_errors) = mpsc::channel::<Error>(self.clients + 1);
        for client in 0..self.clients {
            let (node, env, db, fatal) = (self.clone(), env.clone(), db.clone(), fatal.clone());
            let first_id = (boot * 1_000 + client as i64) * 1_000_000_000;
            drop(env.clone().spawn("sql-client", async move { node.client(env, db, first_id, fatal).await }));
        }
        drop(fatal);
        match fatal_errors.next().await {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The recovered database must hold every invariant and every
    /// acknowledged transfer.
    async fn check_recovered(&self, session: &mut Session) -> Result<()> {
        let ids = column(session, "SELECT id FROM transfers").await?;
        let present: BTreeSet<i64> =
            ids.iter().filter_map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect();
        let violation = {
            let history = lock(&self.history);
            history
                .acknowledged
                .iter()
                .find(|id| !present.contains(id))
                .map(|id| format!("acknowledged transfer {id} lost after recovery"))
        };
        if let Some(v) = violation {
            lock(&self.history).violate(v);
        }
        self.check_invariants(session, "after recovery").await?;
        lock(&self.history).recoveries += 1;
        Ok(())
    }

    /// The bank total and the on-call rule, as far as the checked level guarantees them.
    async fn check_invariants(&self, session: &mut Session, when: &str) -> Result<()> {
        if keeps_total(self.check_as) {
            let total = column(session, "SELECT sum(balance) FROM accounts").await?;
            if total.first() != Some(&Value::Numeric((ACCOUNTS * INITIAL_BALANCE).into())) {
                lock(&self.history).violate(format!("bank total not conserved {when}: {total:?}"));
            }
        }
        if self.check_as == IsolationLevel::Serializable {
            let sql = "SELECT grp FROM doctors GROUP BY grp HAVING count(*) FILTER (WHERE on_call) = 0";
            let empty = column(session, sql).await?;
            if let Some(group) = empty.first() {
                lock(&self.history).violate(format!("nobody on call in group {group:?} {when}"));
            }
        }
        Ok(())
    }

    /// One client: transfer ids count up from `first_id`, unique to this
    /// client and boot.
    async fn client(self: Arc<Self>, env: Env, db: Arc<Database>, first_id: i64, mut fatal: mpsc::Sender<Error>) {
        let mut session = db.session();
        let mut n = 0i64;
        loop {
            env.clock.sleep(Duration::from_micros(env.random.below(2000))).await;
            n += 1;
            let id = first_id + n;
            let result = match env.random.below(10) {
                0..=4 => self.transfer(&env, &mut session, id).await,
                5..=7 => self.doctor(&env, &mut session).await,
                _ => self.audit(&mut session).await,
            };
            if let Err(error) = result {
                if let Error::Corrupt(_) | Error::CorruptPage { .. } = error {
                    lock(&self.history).violate(format!("client {}: {error}", first_id / 1_000_000_000 % 1_000));
                }
                let _ = fatal.try_send(error);
                return;
            }
        }
    }

    /// Runs `body` in a transaction block; a serialization failure or
    /// deadlock rolls back and counts as an abort. True if it committed.
    async fn in_transaction(
        &self,
        session: &mut Session,
        statements: &[(String, Vec<Value>)],
    ) -> Result<Option<Vec<Vec<Value>>>> {
        session.execute(&format!("BEGIN ISOLATION LEVEL {}", self.level.name())).await?;
        let mut rows = Vec::new();
        let mut outcome = Ok(());
        for (sql, params) in statements {
            match session.query(sql, params).await {
                Ok(result) => rows.extend(result.rows),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            outcome = session.execute("COMMIT").await.map(|_| ());
        }
        match outcome {
            Ok(()) => {
                lock(&self.history).commits += 1;
                Ok(Some(rows))
            }
            Err(e) if e.is_retryable() => {
                if session.in_transaction() {
                    session.execute("ROLLBACK").await?;
                }
                lock(&self.history).aborts += 1;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn transfer(&self, env: &Env, session: &mut Session, id: i64) -> Result<()> {
        let from = env.random.below(ACCOUNTS as u64) as i64;
        let to = (from + 1 + env.random.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
        let amount = 1 + env.random.below(10) as i64;
        // Reads first, as a client computing new balances would.
        let read = "SELECT balance FROM accounts WHERE id = $1";
        session.execute(&format!("BEGIN ISOLATION LEVEL {}", self.level.name())).await?;
        let balances = async {
            let a = session.query(read, &[Value::Int(from)]).await?;
            let b = session.query(read, &[Value::Int(to)]).await?;
            Ok::<_, Error>((a.rows[0][0].clone(), b.rows[0][0].clone()))
        }
        .await;
        let (Value::Int(a), Value::Int(b)) = (match balances {
            Ok(v) => v,
            Err(e) => return self.abort_or_fail(session, e).await,
        }) else {
            return Err(Error::Corrupt("a balance is not a bigint".into()));
        };
        let write = "UPDATE accounts SET balance = $2 WHERE id = $1";
        let statements = vec![
            (write.to_string(), vec![Value::Int(from), Value::Int(a - amount)]),
            (write.to_string(), vec![Value::Int(to), Value::Int(b + amount)]),
            ("INSERT INTO transfers VALUES ($1)".to_string(), vec![Value::Int(id)]),
        ];
        for (sql, params) in &statements {
            if let Err(e) = session.query(sql, params).await {
                return self.abort_or_fail(session, e).await;
            }
        }
        match session.execute("COMMIT").await {
            Ok(_) => {
                let mut h = lock(&self.history);
                h.commits += 1;
                h.acknowledged.insert(id);
                Ok(())
            }
            Err(e) => self.abort_or_fail(session, e).await,
        }
    }

    async fn abort_or_fail(&self, session: &mut Session, error: Error) -> Result<()> {
        if !error.is_retryable() {
            return Err(error);
        }
        if session.in_transaction() {
            session.execute("ROLLBACK").await?;
        }
        lock(&self.history).aborts += 1;
        Ok(())
    }

    async fn doctor(&self, env: &Env, session: &mut Session) -> Result<()> {
        let group = env.random.below(GROUPS as u64) as i64;
        let doctor = env.random.below(DOCTORS_PER_GROUP as u64) as i64;
        if env.random.below(3) == 0 {
            let back = (
                "UPDATE doctors SET on_call = true WHERE grp = $1 AND id = $2".to_string(),
                vec![Value::Int(group), Value::Int(doctor)],
            );
            self.in_transaction(session, &[back]).await?;
            return Ok(());
        }
        session.execute(&format!("BEGIN ISOLATION LEVEL {}", self.level.name())).await?;
        let count = "SELECT count(*) FROM doctors WHERE grp = $1 AND on_call";
        let on_call = match session.query(count, &[Value::Int(group)]).await {
            Ok(r) => r.rows[0][0].clone(),
            Err(e) => return self.abort_or_fail(session, e).await,
        };
        if matches!(on_call, Value::Int(n) if n >= 2) {
            let leave = "UPDATE doctors SET on_call = false WHERE grp = $1 AND id = $2";
            if let Err(e) = session.query(leave, &[Value::Int(group), Value::Int(doctor)]).await {
                return self.abort_or_fail(session, e).await;
            }
        }
        match session.execute("COMMIT").await {
            Ok(_) => {
                lock(&self.history).commits += 1;
                Ok(())
            }
            Err(e) => self.abort_or_fail(session, e).await,
        }
    }

    async fn audit(&self, session: &mut Session) -> Result<()> {
        session.execute(&format!("BEGIN ISOLATION LEVEL {}", self.level.name())).await?;
        let checked = self.check_invariants(session, "in an audit").await;
        match checked {
            Ok(()) => match session.execute("COMMIT").await {
                Ok(_) => Ok(()),
                Err(e) => self.abort_or_fail(session, e).await,
            },
            Err(e) => self.abort_or_fail(session, e).await,
        }
    }
}

/// Creates and fills the tables in one transaction.
async fn setup(session: &mut Session) -> Result<()> {
    let mut sql = String::from(
        "BEGIN;
         CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);
         CREATE TABLE doctors (grp BIGINT, id BIGINT, on_call BOOLEAN NOT NULL, PRIMARY KEY (grp, id));
         CREATE TABLE transfers (id BIGINT PRIMARY KEY);",
    );
    for account in 0..ACCOUNTS {
        sql.push_str(&format!("INSERT INTO accounts VALUES ({account}, {INITIAL_BALANCE});"));
    }
    for group in 0..GROUPS {
        for doctor in 0..DOCTORS_PER_GROUP {
            sql.push_str(&format!("INSERT INTO doctors VALUES ({group}, {doctor}, true);"));
        }
    }
    sql.push_str("COMMIT;");
    session.execute(&sql).await.map(|_| ())
}

/// Whether an earlier boot's setup committed (a crash may have come between
/// its commit and the history noting it).
pub(super) async fn already_set_up(session: &mut Session) -> Result<bool> {
    match session.query("SELECT count(*) FROM accounts", &[]).await {
        Ok(_) => Ok(true),
        Err(e) if e.sqlstate() == "42P01" => Ok(false),
        Err(e) => Err(e),
    }
}

/// The first column of every row of `sql`.
async fn column(session: &mut Session, sql: &str) -> Result<Vec<Value>> {
    Ok(session.query(sql, &[]).await?.rows.into_iter().filter_map(|r| r.into_iter().next()).collect())
}
