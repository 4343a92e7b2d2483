//! Committed changes of one SQL table, as rows of values: what the server's
//! GraphQL subscriptions and WebSocket change streams hand to clients.
//!
//! A [`TableChanges`] wraps the engine's [`ChangeStream`] over the table's
//! key prefix and decodes each change with the table's current definition
//! (reloaded when the catalog generation moves, so column names follow
//! ALTER TABLE). Dropping the table ends the stream with 42P01.

use std::sync::Arc;

use crate::sql::catalog::TableDef;
use crate::sql::database::Database;
use crate::sql::row::decode_row;
use crate::sql::value::Value;
use crate::txn::{ChangeKind, ChangeStream, CommittedChange};
use crate::wal::Lsn;
use crate::{Error, Result};

/// One committed change of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChange {
    pub table: String,
    pub kind: ChangeKind,
    /// The row after the change, or the deleted row for a delete.
    pub row: Vec<Value>,
    /// The row before an update (`None` for inserts and deletes).
    pub old_row: Option<Vec<Value>>,
    /// Column names, in row order.
    pub columns: Arc<[String]>,
    /// The commit's sequence number (commits are delivered in this order).
    pub csn: u64,
    /// Where the commit record is in the write-ahead log.
    pub commit_lsn: Lsn,
}

/// A subscription to committed changes of one table.
pub struct TableChanges {
    db: Arc<Database>,
    def: Arc<TableDef>,
    columns: Arc<[String]>,
    generation: u64,
    stream: ChangeStream,
    /// A change taken from the stream but not yet returned.
    pending: Option<CommittedChange>,
}

impl TableChanges {
    /// Subscribes to table `name`; at most `capacity` changes may wait
    /// unread before the stream lags and fails (SQLSTATE 54000).
    pub async fn open(db: &Arc<Database>, name: &str, capacity: usize) -> Result<TableChanges> {
        let generation = db.catalog.generation();
        let def = current_def(db, name).await?;
        let stream = db.engine.watch(def.table_id()?, def.key_prefix().to_vec(), capacity)?;
        Ok(TableChanges { db: db.clone(), columns: column_names(&def), def, generation, stream, pending: None })
    }

    /// The table's column names as of the last change read.
    pub fn columns(&self) -> &Arc<[String]> {
        &self.columns
    }

    /// The next committed change, waiting for one.
    ///
    /// Cancel-safe: a change taken from the stream is kept until it is
    /// returned, so dropping this future (a `select!` that chose another
    /// branch) loses nothing.
    pub async fn next(&mut self) -> Result<TableChange> {
        if self.pending.is_none() {
            self.pending = Some(self.stream.next().await?);
        }
        self.refresh_definition().await?;
        // Commits are visible (and published) before they are durable.
        let commit_lsn = self.pending.as_ref().expect("a change is pending").commit_lsn;
        self.db.engine.store().make_durable(commit_lsn).await?;
        let committed = self.pending.take().expect("a change is pending");
        let change = &committed.change;
        let image = match change.kind {
            ChangeKind::Delete => &change.before,
            ChangeKind::Insert | ChangeKind::Update => &change.after,
        };
        let row = self.decode(image.as_deref())?;
        let old_row = match change.kind {
            ChangeKind::Update => Some(self.decode(change.before.as_deref())?),
            ChangeKind::Insert | ChangeKind::Delete => None,
        };
        Ok(TableChange {
            table: self.def.name.clone(),
            kind: change.kind,
            row,
            old_row,
            columns: self.columns.clone(),
            csn: committed.csn,
            commit_lsn: committed.commit_lsn,
        })
    }

    async fn refresh_definition(&mut self) -> Result<()> {
        let generation = self.db.catalog.generation();
        if generation != self.generation {
            let def = current_def(&self.db, &self.def.name).await?;
            if def.id != self.def.id {
                return Err(dropped(&self.def.name));
            }
            self.columns = column_names(&def);
            self.def = def;
            self.generation = generation;
        }
        Ok(())
    }

    /// A stored row as values, one per column (rows written before an
    /// ADD COLUMN committed are padded with NULLs).
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Vec<Value>> {
        let bytes = bytes.ok_or_else(|| Error::Corrupt(format!("a change of {} has no row image", self.def.name)))?;
        let mut row = decode_row(bytes)?;
        row.resize(self.def.columns.len(), Value::Null);
        Ok(row)
    }
}

async fn current_def(db: &Arc<Database>, name: &str) -> Result<Arc<TableDef>> {
    db.catalog.committed().await?.table(name).cloned().ok_or_else(|| dropped(name))
}

fn dropped(name: &str) -> Error {
    Error::sql("42P01", format!("relation \"{name}\" does not exist"))
}

fn column_names(def: &TableDef) -> Arc<[String]> {
    def.columns.iter().map(|c| c.name.clone()).collect()
}
