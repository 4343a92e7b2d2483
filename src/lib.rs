//! `rustydb`: the embedded library facade.
//!
//! Today it offers the transactional key-value engine underneath SQL:
//! [`open`] a directory, then [`TxnEngine::begin`] transactions at an
//! [`IsolationLevel`], read and write versioned tables of byte keys and
//! rows, set savepoints, commit or roll back (see [`rustydb_core::txn`]).
//! The SQL API (`Database::open`, sessions, queries) arrives with the SQL
//! engine. `examples/bank.rs` shows transfers at SERIALIZABLE with retries.

use std::path::Path;
use std::sync::Arc;

pub use rustydb_core::env;
pub use rustydb_core::store::TableId;
pub use rustydb_core::txn::{
    IsolationLevel, LockMode, RowLock, Transaction, TxnConfig, TxnEngine, TxnOptions, TxnStats,
};
pub use rustydb_core::{Error, IoErrorKind, Result};

/// Opens (creating or recovering) the database in `dir` on the production
/// Env: real files with fsync, the tokio runtime this is called on.
pub async fn open(dir: &Path, config: TxnConfig) -> Result<Arc<TxnEngine>> {
    let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
    TxnEngine::open(&env, config).await
}
