//! [`Database`]: one open SQL database, shared by every session.
//!
//! It owns the transactional engine underneath, the catalog cache, the
//! sequences and the plan-cache generation. Sessions ([`Session`]) are cheap
//! and each belongs to one client.

use std::sync::Arc;

use crate::Result;
use crate::env::Env;
use crate::sql::catalog::{Catalog, Schema};
use crate::sql::changes::TableChanges;
use crate::sql::sequence::Sequences;
use crate::sql::session::Session;
use crate::sql::stats::StatsStore;
use crate::txn::{TxnConfig, TxnEngine};

/// Configuration of a SQL database.
#[derive(Debug, Clone, Default)]
pub struct DatabaseConfig {
    pub txn: TxnConfig,
}

/// An open database.
pub struct Database {
    pub(crate) env: Env,
    pub(crate) engine: Arc<TxnEngine>,
    pub(crate) catalog: Catalog,
    pub(crate) sequences: Sequences,
    pub(crate) stats: StatsStore,
}

impl Database {
    /// Opens (recovering) the database in `env.storage`.
    pub async fn open(env: &Env, config: DatabaseConfig) -> Result<Arc<Database>> {
        let engine = TxnEngine::open(env, config.txn).await?;
        let catalog = Catalog::open(&engine).await?;
        let sequences = Sequences::open(&engine).await?;
        Ok(Arc::new(Database { env: env.clone(), engine, catalog, sequences, stats: StatsStore::default() }))
    }

    /// A new session with default settings and no open transaction.
    pub fn session(self: &Arc<Self>) -> Session {
        Session::new(self.clone())
    }

    /// The transactional engine underneath.
    pub fn engine(&self) -> &Arc<TxnEngine> {
        &self.engine
    }

    /// The Env the database runs on (the server's timers use its clock).
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The latest committed catalog: tables, indexes, views, sequences.
    pub async fn schema(&self) -> Result<Arc<Schema>> {
        self.catalog.committed().await
    }

    /// Subscribes to committed changes of table `name` (see [`TableChanges`]).
    pub async fn subscribe(self: &Arc<Self>, name: &str, capacity: usize) -> Result<TableChanges> {
        TableChanges::open(self, name, capacity).await
    }
}
