//! The `pg-clients` workload: the real PostgreSQL wire-protocol server
//! (`rustydb_server::postgres::serve` and its `Connection`s) on a crashable
//! node, driven over the simulated network by clients that misbehave.
//!
//! **Server** (`server0`): opens the database, creates `accounts` (every
//! account starts with [`INITIAL_BALANCE`]) and `transfers` on first boot,
//! or checks the recovered state against the clients' history
//! ([`TransferModel::check`]) after every restart, then serves on
//! [`PG_PORT`] with a fresh [`Registry`].
//!
//! **Clients** (node `clients`, never crashed; `[client] tasks` loops):
//! each transfer is `BEGIN`, two `UPDATE`s, an `INSERT INTO transfers`
//! and `COMMIT`, one simple Query each. Per transfer the client may, drawn
//! from the seed ([`plan`]):
//! * vanish mid-transaction (close the stream before a statement);
//! * crash mid-query (send a statement, close without reading the reply;
//!   if the statement is COMMIT the transfer is in doubt);
//! * send garbage bytes instead of a statement;
//! * be slow: pause between statements while holding row locks.
//!
//! A statement that does not answer within `request_timeout_ms` is
//! abandoned the same way. 40001 and 40P01 roll back and count as aborts.
//! `[client] hung_tasks` loops hang when the clients stop: inside an open
//! transaction holding a row lock, connection open, forever, as a frozen
//! client or a half-open connection would. Only a session setting
//! (`[client] idle_timeout_ms`, PostgreSQL's
//! `idle_in_transaction_session_timeout`) gets rid of them.
//!
//! Clients log in with SCRAM-SHA-256 as a role that holds only the
//! privileges the transfers need; the settle check logs in as the
//! bootstrap superuser.
//!
//! **Settling** (after the liveness phase, see [`Workload::stop_clients`]):
//! the clients stop, then one last client connects and checks that within
//! [`SESSIONS_GRACE_MILLIS`] the registry holds only its own session
//! (sessions cleaned up), and that one transaction updating every account
//! commits within [`LOCK_CHECK_MILLIS`] (locks released). The final
//! recovery then checks the data once more.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustydb_core::env::{Env, NetAddr, timeout};
use rustydb_core::sql::roles::BOOTSTRAP_SUPERUSER;
use rustydb_core::sql::{Database, DatabaseConfig, Session, Value};
use rustydb_core::{Error, Result};
use rustydb_server::Registry;
use rustydb_server::audit::AuditLog;
use rustydb_server::auth::{AuthMethod, Authenticator};
use rustydb_server::postgres;

use super::Workload;
use super::pg_wire::{Reply, WireClient};
use super::sql::already_set_up;
use crate::checkers::bank_transfers::{LoggedTransfers, TransferModel, TransferState};
use crate::options::RunOptions;
use crate::runtime::{NodeProgram, Simulator, lock};

pub const ACCOUNTS: i64 = 8;
pub const INITIAL_BALANCE: i64 = 1000;
pub const PG_PORT: u16 = 5432;
/// The bootstrap superuser's password (the settle check logs in with it).
const SUPERUSER_PASSWORD: &str = "sim-superuser";
/// The role the transfer clients log in as: it may read and change the two
/// tables and nothing else.
const APP_USER: &str = "app";
const APP_PASSWORD: &str = "sim-app";
const SERVER: &str = "server0";
/// How long after every client left the server may take to end their sessions.
pub const SESSIONS_GRACE_MILLIS: u64 = 2_000;
/// How long the final transaction over every account may wait for locks.
pub const LOCK_CHECK_MILLIS: u64 = 2_000;
/// The longest pause of a slow client between two statements.
const SLOW_PAUSE_MILLIS_MAX: u64 = 300;
/// The most bytes of garbage a client sends.
const GARBAGE_BYTES_MAX: u64 = 64;
/// Statement index of COMMIT in a transfer.
const COMMIT_STEP: usize = 4;
/// How often the settle check polls for its next condition.
const POLL_MILLIS: u64 = 10;

/// Everything the server, the clients and the settle check share.
#[derive(Default)]
struct Shared {
    model: TransferModel,
    initialised: bool,
    recoveries: u64,
    /// The registry of the server's current incarnation, once it serves.
    registry: Option<Arc<Registry>>,
    stopping: bool,
    clients_active: u64,
    settled: bool,
    violation: Option<String>,
    aborts: u64,
    misbehaviours: u64,
    timeouts: u64,
}

impl Shared {
    fn violate(&mut self, what: String) {
        self.violation.get_or_insert(what);
    }
}

type SharedState = Arc<Mutex<Shared>>;

pub struct PgClientsWorkload {
    options: RunOptions,
    shared: SharedState,
}

impl PgClientsWorkload {
    pub fn new(options: &RunOptions) -> Self {
        PgClientsWorkload { options: options.clone(), shared: Arc::default() }
    }
}

impl Workload for PgClientsWorkload {
    fn install(&self, sim: &mut Simulator) {
        let config = DatabaseConfig { txn: super::transactions::config(&self.options) };
        let shared = self.shared.clone();
        let server: NodeProgram = Arc::new(move |env| Box::pin(server_main(env, config.clone(), shared.clone())));
        sim.add_node(SERVER, true, server);
        let shared = self.shared.clone();
        let tasks = self.options.client.tasks.clamp(1, 64);
        let request_timeout = Duration::from_millis(self.options.client.request_timeout_ms);
        let hung_tasks = self.options.client.hung_tasks;
        let idle_timeout_ms = self.options.client.idle_timeout_ms;
        let clients: NodeProgram = Arc::new(move |env: Env| {
            let shared = shared.clone();
            Box::pin(async move {
                lock(&shared).clients_active = tasks;
                for index in 0..tasks {
                    let hangs = index < hung_tasks;
                    let client = Client {
                        env: env.clone(),
                        shared: shared.clone(),
                        index,
                        request_timeout,
                        hangs,
                        idle_timeout_ms,
                    };
                    drop(env.spawn("pg-client", client.run()));
                }
                drop(env.spawn("pg-settle", settle(env.clone(), shared.clone())));
                Ok(())
            })
        });
        sim.add_node("clients", false, clients);
    }

    fn progress(&self) -> u64 {
        lock(&self.shared).model.count(TransferState::Acknowledged)
    }

    fn recoveries(&self) -> u64 {
        lock(&self.shared).recoveries
    }

    fn violation(&self) -> Option<String> {
        lock(&self.shared).violation.clone()
    }

    fn stop_clients(&self) -> bool {
        lock(&self.shared).stopping = true;
        true
    }

    fn settled(&self) -> bool {
        lock(&self.shared).settled
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = lock(&self.shared);
        vec![
            ("commits", s.model.count(TransferState::Acknowledged)),
            ("in_doubt", s.model.count(TransferState::CommitSent)),
            ("serialization_failures", s.aborts),
            ("misbehaviours", s.misbehaviours),
            ("timeouts", s.timeouts),
        ]
    }
}

/// The server node: open (and check) the database, then serve until crashed.
async fn server_main(env: Env, config: DatabaseConfig, shared: SharedState) -> Result<()> {
    let db = match Database::open(&env, config).await {
        Ok(db) => db,
        Err(error @ (Error::Corrupt(_) | Error::CorruptPage { .. })) => {
            lock(&shared).violate(format!("recovery failed: {error}"));
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    db.bootstrap_superuser(SUPERUSER_PASSWORD).await?;
    let mut session = db.session();
    if !lock(&shared).initialised && !already_set_up(&mut session).await? {
        setup(&mut session).await?;
        lock(&shared).initialised = true;
    } else {
        lock(&shared).initialised = true;
        let (balances, logged) = read_state(&mut session).await?;
        let mut state = lock(&shared);
        if let Some(violation) = state.model.check(ACCOUNTS, INITIAL_BALANCE, &balances, &logged) {
            state.violate(format!("after recovery: {violation}"));
        }
        state.recoveries += 1;
    }
    drop(session);
    let registry = Arc::new(Registry::new(env.random.clone()));
    let listener = env.network.listen(PG_PORT).await?;
    lock(&shared).registry = Some(registry.clone());
    let audit = AuditLog::open(&env).await?;
    let auth = Authenticator::new(&env, db.clone(), AuthMethod::Password, Some(audit));
    postgres::serve(env.clone(), db, listener, registry, auth, None, futures::future::pending()).await
}

async fn setup(session: &mut Session) -> Result<()> {
    let mut sql = String::from(
        "BEGIN;
         CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);
         CREATE TABLE transfers (id BIGINT PRIMARY KEY, src BIGINT NOT NULL, dst BIGINT NOT NULL, amount BIGINT NOT NULL);",
    );
    for account in 0..ACCOUNTS {
        sql.push_str(&format!("INSERT INTO accounts VALUES ({account}, {INITIAL_BALANCE});"));
    }
    sql.push_str(&format!(
        "CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}';
         GRANT SELECT, INSERT, UPDATE ON accounts, transfers TO {APP_USER};
         COMMIT;"
    ));
    session.execute(&sql).await.map(|_| ())
}

/// The balances by account and the `transfers` log.
async fn read_state(session: &mut Session) -> Result<(BTreeMap<i64, i64>, LoggedTransfers)> {
    let int = |value: &Value| match value {
        Value::Int(i) => Ok(*i),
        other => Err(Error::Corrupt(format!("expected a bigint, found {other:?}"))),
    };
    let mut balances = BTreeMap::new();
    for row in session.query("SELECT id, balance FROM accounts", &[]).await?.rows {
        balances.insert(int(&row[0])?, int(&row[1])?);
    }
    let mut logged = LoggedTransfers::new();
    for row in session.query("SELECT id, src, dst, amount FROM transfers", &[]).await?.rows {
        logged.insert(int(&row[0])?, (int(&row[1])?, int(&row[2])?, int(&row[3])?));
    }
    Ok((balances, logged))
}

/// How a client misbehaves in one transfer, at which statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misbehaviour {
    /// Close the stream instead of sending the statement.
    Vanish,
    /// Send the statement and close without reading the reply.
    SendAndVanish,
    /// Send garbage instead of the statement, then close.
    Garbage,
}

/// One transfer's behaviour, drawn from the seed.
#[derive(Debug, Clone, Copy, Default)]
struct Plan {
    misbehaviour: Option<(usize, Misbehaviour)>,
    /// A slow client pauses up to this long before each statement.
    pause_millis_max: u64,
}

/// Draws a transfer's plan: about one in four misbehaves, one in ten is slow.
fn plan(env: &Env) -> Plan {
    let roll = env.random.below(100);
    let step = 1 + env.random.below(COMMIT_STEP as u64) as usize;
    let misbehaviour = match roll {
        0..6 => Some((step, Misbehaviour::Vanish)),
        6..12 => Some((step, Misbehaviour::SendAndVanish)),
        12..15 => Some((step - 1, Misbehaviour::Garbage)),
        _ => None,
    };
    let slow = (15..25).contains(&roll);
    Plan { misbehaviour, pause_millis_max: if slow { SLOW_PAUSE_MILLIS_MAX } else { 0 } }
}

struct Client {
    env: Env,
    shared: SharedState,
    index: u64,
    request_timeout: Duration,
    /// Hang in an open transaction when the clients stop.
    hangs: bool,
    /// `idle_in_transaction_session_timeout` to set on each session (0: none).
    idle_timeout_ms: u64,
}

impl Client {
    async fn run(self) {
        let mut connection: Option<WireClient> = None;
        let server = NetAddr::new(SERVER, PG_PORT);
        for sequence in 1i64.. {
            if lock(&self.shared).stopping {
                break;
            }
            let Some(client) = connection.take() else {
                match timeout(self.env.clock.as_ref(), self.request_timeout, self.connect(&server)).await {
                    Ok(Ok(client)) => connection = Some(client),
                    _ => self.pause(50).await,
                }
                continue;
            };
            let id = self.index as i64 * 1_000_000_000 + sequence;
            connection = self.transfer(client, id).await;
            // Now and then a client leaves properly and comes back.
            if self.env.random.below(20) == 0
                && let Some(client) = connection.take()
            {
                client.terminate().await;
            }
            self.pause(2).await;
        }
        lock(&self.shared).clients_active -= 1;
        if self.hangs {
            self.hang(connection).await;
        } else if let Some(client) = connection
            && self.env.random.below(2) == 0
        {
            client.terminate().await;
        }
    }

    /// Logs in as the application role and applies the session settings.
    async fn connect(&self, server: &NetAddr) -> Result<WireClient> {
        let mut client = WireClient::connect(&self.env, server, APP_USER, APP_PASSWORD).await?;
        if self.idle_timeout_ms > 0 {
            let set = format!("SET idle_in_transaction_session_timeout = '{}ms'", self.idle_timeout_ms);
            if let Reply::Failed { sqlstate, message } = client.query(&set).await? {
                return Err(Error::sql("08004", format!("{sqlstate}: {message}")));
            }
        }
        Ok(client)
    }

    /// Takes a row lock in a transaction and never finishes it.
    async fn hang(&self, connection: Option<WireClient>) {
        let server = NetAddr::new(SERVER, PG_PORT);
        let mut client = match connection {
            Some(client) => client,
            None => loop {
                if let Ok(client) = self.connect(&server).await {
                    break client;
                }
                self.pause(50).await;
            },
        };
        let _ = client.query("BEGIN").await;
        let _ = client.query("UPDATE accounts SET balance = balance WHERE id = 0").await;
        futures::future::pending::<()>().await;
    }

    async fn pause(&self, millis_max: u64) {
        if millis_max > 0 {
            self.env.clock.sleep(Duration::from_micros(self.env.random.below(millis_max * 1000 + 1))).await;
        }
    }

    /// One transfer; returns the connection if it is still usable.
    async fn transfer(&self, mut client: WireClient, id: i64) -> Option<WireClient> {
        let from = self.env.random.below(ACCOUNTS as u64) as i64;
        let to = (from + 1 + self.env.random.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
        let amount = 1 + self.env.random.below(100) as i64;
        let plan = plan(&self.env);
        lock(&self.shared).model.begin(id, from, to, amount);
        let statements = [
            "BEGIN".to_string(),
            format!("UPDATE accounts SET balance = balance - {amount} WHERE id = {from}"),
            format!("UPDATE accounts SET balance = balance + {amount} WHERE id = {to}"),
            format!("INSERT INTO transfers VALUES ({id}, {from}, {to}, {amount})"),
            "COMMIT".to_string(),
        ];
        for (step, sql) in statements.iter().enumerate() {
            self.pause(plan.pause_millis_max).await;
            if let Some((at, misbehaviour)) = plan.misbehaviour
                && at == step
            {
                self.misbehave(client, misbehaviour, sql, id, step).await;
                return None;
            }
            if step == COMMIT_STEP {
                lock(&self.shared).model.commit_sent(id);
            }
            match timeout(self.env.clock.as_ref(), self.request_timeout, client.query(sql)).await {
                Ok(Ok(Reply::Complete { tag })) => {
                    if step == COMMIT_STEP {
                        self.committed(id, &tag);
                    }
                }
                Ok(Ok(Reply::Failed { sqlstate, message })) => {
                    return self.failed(client, id, step, &sqlstate, &message).await;
                }
                Ok(Err(_)) | Err(_) => {
                    self.broken(id, step);
                    return None;
                }
            }
        }
        Some(client)
    }

    fn committed(&self, id: i64, tag: &str) {
        let mut shared = lock(&self.shared);
        match tag {
            "COMMIT" => shared.model.acknowledged(id),
            "ROLLBACK" => shared.model.aborted(id),
            other => shared.violate(format!("transfer {id}: COMMIT answered with tag {other:?}")),
        }
    }

    /// The connection broke or timed out at `step`: before COMMIT the
    /// transfer cannot commit; at COMMIT it is in doubt.
    fn broken(&self, id: i64, step: usize) {
        let mut shared = lock(&self.shared);
        shared.timeouts += 1;
        if step < COMMIT_STEP {
            shared.model.aborted(id);
        }
    }

    async fn failed(
        &self,
        mut client: WireClient,
        id: i64,
        step: usize,
        sqlstate: &str,
        message: &str,
    ) -> Option<WireClient> {
        let retryable = matches!(sqlstate, "40001" | "40P01");
        {
            let mut shared = lock(&self.shared);
            if sqlstate.starts_with("XX") {
                shared.violate(format!("transfer {id}: the server reported {sqlstate}: {message}"));
            }
            if retryable || step < COMMIT_STEP {
                shared.model.aborted(id);
            }
            if retryable {
                shared.aborts += 1;
            }
        }
        if !retryable || step == COMMIT_STEP {
            // Anything else (an I/O failure, shutdown): start afresh.
            return None;
        }
        match timeout(self.env.clock.as_ref(), self.request_timeout, client.query("ROLLBACK")).await {
            Ok(Ok(Reply::Complete { .. })) => Some(client),
            _ => None,
        }
    }

    async fn misbehave(&self, mut client: WireClient, misbehaviour: Misbehaviour, sql: &str, id: i64, step: usize) {
        lock(&self.shared).misbehaviours += 1;
        match misbehaviour {
            Misbehaviour::Vanish => {}
            Misbehaviour::SendAndVanish => {
                if step == COMMIT_STEP {
                    lock(&self.shared).model.commit_sent(id);
                }
                let _ = timeout(self.env.clock.as_ref(), self.request_timeout, client.send_query(sql)).await;
            }
            Misbehaviour::Garbage => {
                // 0xFF is no message type, so the bytes can never read as a statement.
                let mut garbage = vec![0xFFu8];
                garbage.extend((0..self.env.random.below(GARBAGE_BYTES_MAX)).map(|_| self.env.random.below(256) as u8));
                let _ = timeout(self.env.clock.as_ref(), self.request_timeout, client.send_raw(&garbage)).await;
            }
        }
        drop(client);
        let mut shared = lock(&self.shared);
        if shared.model.state(id) == Some(TransferState::Open) {
            shared.model.aborted(id);
        }
    }
}

/// After the clients stop: sessions must be cleaned up and locks released.
async fn settle(env: Env, shared: SharedState) {
    let poll = Duration::from_millis(POLL_MILLIS);
    while !lock(&shared).stopping || lock(&shared).clients_active > 0 {
        env.clock.sleep(poll).await;
    }
    let server = NetAddr::new(SERVER, PG_PORT);
    // The server may be restarting after a crash late in the fault phase.
    let mut client = loop {
        match WireClient::connect(&env, &server, BOOTSTRAP_SUPERUSER, SUPERUSER_PASSWORD).await {
            Ok(client) => break client,
            Err(_) => env.clock.sleep(poll).await,
        }
    };
    if !sessions_at_most(&env, &shared, 1).await {
        return;
    }
    let check = async {
        for sql in ["BEGIN", "UPDATE accounts SET balance = balance", "COMMIT"] {
            match client.query(sql).await {
                Ok(Reply::Complete { .. }) => {}
                other => return Err(format!("{sql} answered {other:?}")),
            }
        }
        Ok(())
    };
    match timeout(env.clock.as_ref(), Duration::from_millis(LOCK_CHECK_MILLIS), check).await {
        Ok(Ok(())) => {}
        Ok(Err(problem)) => {
            lock(&shared).violate(format!("locks not released: the final transaction failed: {problem}"));
            return;
        }
        Err(_) => {
            lock(&shared)
                .violate(format!("locks not released: updating every account took over {LOCK_CHECK_MILLIS} ms"));
            return;
        }
    }
    client.terminate().await;
    if sessions_at_most(&env, &shared, 0).await {
        lock(&shared).settled = true;
    }
}

/// Waits up to [`SESSIONS_GRACE_MILLIS`] for the registry to hold at most
/// `sessions` connections; a violation if it does not.
async fn sessions_at_most(env: &Env, shared: &SharedState, sessions: usize) -> bool {
    let polls = SESSIONS_GRACE_MILLIS / POLL_MILLIS;
    let mut live = usize::MAX;
    for _ in 0..=polls {
        live = lock(shared).registry.as_ref().map_or(0, |r| r.len());
        if live <= sessions {
            return true;
        }
        env.clock.sleep(Duration::from_millis(POLL_MILLIS)).await;
    }
    lock(shared).violate(format!(
        "sessions not cleaned up: {live} connections registered {SESSIONS_GRACE_MILLIS} ms after the clients left \
         (expected at most {sessions})"
    ));
    false
}
