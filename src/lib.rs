//! `rustydb`: the embedded library.
//!
//! Open a directory, connect, run SQL:
//!
//! ```no_run
//! # async fn demo() -> rustydb::Result<()> {
//! let db = rustydb::Database::open("my-data").await?;
//! let mut conn = db.connect();
//! conn.execute_batch("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)").await?;
//! conn.execute("INSERT INTO t VALUES ($1, $2)", &[1.into(), "one".into()]).await?;
//! let rows = conn.query("SELECT name FROM t WHERE id = $1", &[1.into()]).await?;
//! let name: String = rows.rows[0].get(0)?;
//! # Ok(()) }
//! ```
//!
//! [`Connection::transaction`] runs a closure in a transaction and retries it
//! on serialization failures and deadlocks; [`Connection::prepare`] parses
//! and plans a statement once. Everything is async on the tokio runtime the
//! calls are made from; the engine underneath runs on the production Env
//! (real files with fsync).
//!
//! The transactional key-value layer under SQL stays available through
//! [`open`] and [`TxnEngine`] (see `examples/bank.rs`).

use std::path::Path;
use std::sync::Arc;

pub use rustydb_core::env;
pub use rustydb_core::sql::{DataType, QueryResult, ResultColumn, Value};
pub use rustydb_core::store::TableId;
pub use rustydb_core::txn::{
    ChangeKind, IsolationLevel, LockMode, RowLock, Transaction, TxnConfig, TxnEngine, TxnOptions, TxnStats,
};
pub use rustydb_core::{Error, IoErrorKind, Result};

use rustydb_core::sql;

/// Opens (creating or recovering) the transactional key-value engine in
/// `dir` on the production Env, on the tokio runtime this is called on.
pub async fn open(dir: &Path, config: TxnConfig) -> Result<Arc<TxnEngine>> {
    let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
    TxnEngine::open(&env, config).await
}

/// An open SQL database.
#[derive(Clone)]
pub struct Database {
    inner: Arc<sql::Database>,
}

impl Database {
    /// Opens (creating or recovering) the database in `dir`.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(dir, sql::DatabaseConfig::default()).await
    }

    pub async fn open_with(dir: impl AsRef<Path>, config: sql::DatabaseConfig) -> Result<Database> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::InvalidInput(format!("{}: {e}", dir.display())))?;
        let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
        Ok(Database { inner: sql::Database::open(&env, config).await? })
    }

    /// A new connection (a session with its own transaction state).
    pub fn connect(&self) -> Connection {
        Connection { session: self.inner.session() }
    }

    /// The SQL engine underneath (for the server).
    pub fn engine(&self) -> &Arc<sql::Database> {
        &self.inner
    }
}

/// One connection: statements run one at a time, in autocommit mode
/// unless inside [`Connection::transaction`] or an explicit `BEGIN`.
pub struct Connection {
    session: sql::Session,
}

/// Rows returned by a query.
#[derive(Debug, Clone)]
pub struct Rows {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Row>,
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

impl Row {
    /// Column `index` converted to `T` (an error if out of range or of another type).
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self.values.get(index).ok_or_else(|| Error::InvalidInput(format!("no column {index}")))?;
        T::from_value(value)
    }
}

impl Connection {
    /// Runs one statement with `$n` parameters; the rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        Ok(self.session.query(sql, params).await?.affected)
    }

    /// Runs every statement of `sql` (no parameters).
    pub async fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.session.execute(sql).await.map(|_| ())
    }

    /// Runs a query with `$n` parameters and returns its rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        Ok(rows(self.session.query(sql, params).await?))
    }

    /// Parses and plans `sql` once for repeated execution.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement> {
        Ok(Statement { prepared: self.session.prepare(sql, &[]).await? })
    }

    /// Runs a prepared statement.
    pub async fn run(&mut self, statement: &mut Statement, params: &[Value]) -> Result<Rows> {
        Ok(rows(self.session.execute_prepared(&mut statement.prepared, params).await?))
    }

    /// Runs `body` in a transaction at `level` and commits; on a
    /// serialization failure or deadlock (40001 / 40P01) rolls back and runs
    /// it again, up to `attempts` times in all. Any other error rolls back
    /// and is returned.
    pub async fn transaction<T>(
        &mut self,
        level: IsolationLevel,
        attempts: usize,
        mut body: impl for<'c> FnMut(&'c mut Connection) -> env::BoxFuture<'c, Result<T>>,
    ) -> Result<T> {
        let begin = format!("BEGIN ISOLATION LEVEL {}", level.name());
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.session.execute(&begin).await?;
            let outcome = match body(self).await {
                Ok(value) => self.session.execute("COMMIT").await.map(|_| value),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(e) => {
                    if self.session.in_transaction() {
                        self.session.execute("ROLLBACK").await?;
                    }
                    if !e.is_retryable() || attempt >= attempts.max(1) {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// A prepared statement (see [`Connection::prepare`]).
pub struct Statement {
    prepared: sql::PreparedStatement,
}

impl Statement {
    /// The types of its `$n` parameters.
    pub fn param_types(&self) -> &[DataType] {
        &self.prepared.param_types
    }
}

fn rows(result: QueryResult) -> Rows {
    Rows { columns: result.columns, rows: result.rows.into_iter().map(|values| Row { values }).collect() }
}

/// Conversion from a SQL value to a Rust type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self>;
}

fn mismatch(value: &Value, want: &str) -> Error {
    Error::InvalidInput(format!("cannot read {value:?} as {want}"))
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Int(i) => Ok(*i),
            other => Err(mismatch(other, "i64")),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<Self> {
        i32::try_from(i64::from_value(value)?).map_err(|_| mismatch(value, "i32"))
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            Value::Numeric(d) => d.to_string().parse().map_err(|_| mismatch(value, "f64")),
            other => Err(mismatch(other, "f64")),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self> {
        value.as_bool().ok_or_else(|| mismatch(value, "bool"))
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Err(mismatch(value, "String")),
            Value::Text(s) => Ok(s.clone()),
            other => Ok(sql::cast::format_value(other)),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self> {
        if value.is_null() { Ok(None) } else { T::from_value(value).map(Some) }
    }
}
