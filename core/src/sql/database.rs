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
use crate::sql::parse_cache::ParseCache;
use crate::sql::privileges::{self, Privilege};
use crate::sql::roles::{self, RoleDef};
use crate::sql::script::ParsedStatement;
use crate::sql::sequence::Sequences;
use crate::sql::session::Session;
use crate::sql::stats::StatsStore;
use crate::txn::{IsolationLevel, TxnConfig, TxnEngine};

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
    parse_cache: ParseCache,
}

impl Database {
    /// Opens (recovering) the database in `env.storage`.
    pub async fn open(env: &Env, config: DatabaseConfig) -> Result<Arc<Database>> {
        let engine = TxnEngine::open(env, config.txn).await?;
        let catalog = Catalog::open(&engine).await?;
        let sequences = Sequences::open(env, &engine).await?;
        Ok(Arc::new(Database {
            env: env.clone(),
            engine,
            catalog,
            sequences,
            stats: StatsStore::default(),
            parse_cache: ParseCache::default(),
        }))
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

    /// Parses a script as [`crate::sql::script::parse_script`] does, reusing the parse of an
    /// earlier text that differed only in its literals (see [`ParseCache`]).
    pub fn parse_script(&self, sql: &str) -> Result<Vec<ParsedStatement>> {
        self.parse_cache.parse(sql)
    }

    /// Role `name` as last committed, if it exists.
    pub async fn role(&self, name: &str) -> Result<Option<Arc<RoleDef>>> {
        Ok(self.schema().await?.roles.get(name).cloned())
    }

    /// Creates the superuser [`roles::BOOTSTRAP_SUPERUSER`] with `password`
    /// if the database has no roles yet; whether it did.
    pub async fn bootstrap_superuser(self: &Arc<Self>, password: &str) -> Result<bool> {
        let schema = self.schema().await?;
        if !schema.roles.is_empty() {
            return Ok(false);
        }
        let role = roles::bootstrap_superuser(password, self.env.random.as_ref())?;
        let mut txn = self.engine.begin(IsolationLevel::Serializable).await?;
        if let Err(e) = self.catalog.put_role(&mut txn, &role).await {
            let _ = txn.rollback().await;
            return Err(e);
        }
        txn.commit().await?;
        self.catalog.invalidate();
        Ok(true)
    }

    /// Fails with 42501 unless role `user` (`None`: the owner) holds
    /// `privilege` on `relation`, and with 28000 if the role is gone.
    pub async fn check_privilege(&self, user: Option<&str>, relation: &str, privilege: Privilege) -> Result<()> {
        let schema = self.schema().await?;
        let actor = roles::Actor::of(user, &schema)?;
        privileges::require(&schema, &actor, relation, privilege)
    }

    /// Subscribes to committed changes of table `name` (see [`TableChanges`]).
    pub async fn subscribe(self: &Arc<Self>, name: &str, capacity: usize) -> Result<TableChanges> {
        TableChanges::open(self, name, capacity).await
    }
}
