//! The catalog: tables, columns, constraints, indexes, views, sequences and
//! roles, stored in the engine itself and changed transactionally.
//!
//! Every object is one or more rows of the versioned table `sql.catalog`
//! (key: kind byte, name, chunk number; rows: the definition as JSON, split
//! into chunks that fit a B+Tree entry), written by the DDL statement's own
//! transaction, so DDL commits and rolls back with it.
//!
//! Readers outside a DDL transaction use a cached [`Schema`] of the latest
//! committed catalog, as PostgreSQL's catalog snapshots do. A transaction
//! that changed the catalog reads its own uncommitted version instead. Every
//! committed catalog change bumps the generation, which drops the cache and
//! every cached plan. All tables share one storage table (`sql.rows`) and
//! all secondary indexes another (`sql.index`), each object's keys prefixed
//! by its id, so creating and dropping objects never touches storage-level
//! DDL.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::sql::privileges::Acl;
use crate::sql::roles::RoleDef;
use crate::sql::value::DataType;
use crate::store::TableId;
use crate::txn::{Transaction, TxnEngine};
use crate::{Error, Result};

const CATALOG_TABLE: &str = "sql.catalog";

/// One column of a table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The DEFAULT expression as SQL text, bound when a row needs it.
    pub default: Option<String>,
}

/// A FOREIGN KEY constraint: `columns` reference `ref_columns` of `ref_table`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub ref_table: String,
    pub ref_columns: Vec<usize>,
}

/// A CHECK constraint as SQL text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

/// A table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableDef {
    /// Unique among all catalog objects; names the storage table.
    pub id: u64,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Columns of the primary key; empty means rows are keyed by a hidden
    /// row id drawn from the sequence `rowid_sequence`.
    pub primary_key: Vec<usize>,
    pub checks: Vec<CheckDef>,
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Owner and grants.
    #[serde(default)]
    pub acl: Acl,
    /// The storage table the rows live in (shared by every table; set when
    /// the catalog is loaded).
    #[serde(skip)]
    pub storage_id: Option<TableId>,
}

impl TableDef {
    /// The position of column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The storage table id, resolved when the catalog was loaded.
    pub fn table_id(&self) -> Result<TableId> {
        self.storage_id.ok_or_else(|| Error::Corrupt(format!("table {} has no storage", self.name)))
    }

    /// The sequence hidden row ids come from.
    pub fn rowid_sequence(&self) -> String {
        format!("sql.rowid.{}", self.id)
    }

    /// Every storage key of this table starts with this prefix.
    pub fn key_prefix(&self) -> Vec<u8> {
        object_key_prefix(self.id)
    }

    /// The lock-manager target standing for the whole table: DDL takes it
    /// exclusively, readers and writers in shared modes (the storage table
    /// itself is shared by every SQL table).
    pub fn lock_target(&self) -> TableId {
        TableId(LOCK_TARGET_BASE | self.id)
    }
}

/// Lock targets of SQL tables live above every real storage table id.
const LOCK_TARGET_BASE: u64 = 1 << 62;

/// A B+Tree index on columns of a table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexDef {
    pub id: u64,
    pub name: String,
    pub table: String,
    pub columns: Vec<usize>,
    pub unique: bool,
    /// Whether it is the index behind a PRIMARY KEY or UNIQUE constraint.
    pub constraint: bool,
    /// Whether it is the primary key: the table's own rows, keyed by it.
    #[serde(default)]
    pub primary: bool,
    #[serde(skip)]
    pub storage_id: Option<TableId>,
}

impl IndexDef {
    pub fn table_id(&self) -> Result<TableId> {
        self.storage_id.ok_or_else(|| Error::Corrupt(format!("index {} has no storage", self.name)))
    }

    /// Every entry key of this index starts with this prefix (the table's
    /// own prefix for a primary key, whose id is the table's).
    pub fn key_prefix(&self) -> Vec<u8> {
        object_key_prefix(self.id)
    }
}

/// The key prefix of a table's rows or an index's entries: the object id as
/// an ordered varint, two bytes for the first 255 ids rather than eight
/// mostly-zero ones (each of which a version key's escape would double). No
/// prefix is a prefix of another, so objects' key ranges never interleave.
fn object_key_prefix(id: u64) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(9);
    crate::storage::varint::put_ordered_u64(id, &mut prefix);
    prefix
}

/// A view: a stored query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: String,
    /// Column names given in CREATE VIEW v(a, b), if any.
    pub columns: Vec<String>,
    pub query: String,
    /// Owner and grants.
    #[serde(default)]
    pub acl: Acl,
}

/// A sequence's definition; its current value lives in [`super::sequence`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceDef {
    pub name: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cycle: bool,
    /// The table column that owns it (SERIAL, IDENTITY), dropped with it.
    pub owned_by: Option<String>,
}

/// Every catalog object of one catalog version.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, Arc<TableDef>>,
    pub indexes: BTreeMap<String, Arc<IndexDef>>,
    pub views: BTreeMap<String, Arc<ViewDef>>,
    pub sequences: BTreeMap<String, Arc<SequenceDef>>,
    pub roles: BTreeMap<String, Arc<RoleDef>>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Arc<TableDef>> {
        self.tables.get(name)
    }

    /// The indexes of table `name`, constraint indexes first.
    pub fn indexes_of(&self, table: &str) -> Vec<Arc<IndexDef>> {
        let mut found: Vec<_> = self.indexes.values().filter(|i| i.table == table).cloned().collect();
        found.sort_by_key(|i| (!i.constraint, i.id));
        found
    }
}

/// What kind of object a catalog row holds (the first byte of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table = b't' as isize,
    Index = b'i' as isize,
    View = b'v' as isize,
    Sequence = b's' as isize,
    Role = b'r' as isize,
}

/// Storage table holding the rows of every SQL table.
const ROWS_TABLE: &str = "sql.rows";
/// Storage table holding the entries of every secondary index.
const INDEX_TABLE: &str = "sql.index";
/// Catalog entries are split into chunks this long (a B+Tree entry holds
/// about a thousand bytes).
const CHUNK_BYTES: usize = 768;

/// The catalog: storage of definitions plus the cache of the committed one.
pub struct Catalog {
    engine: Arc<TxnEngine>,
    table: TableId,
    rows_table: TableId,
    index_table: TableId,
    generation: AtomicU64,
    cached: Mutex<Option<(u64, Arc<Schema>)>>,
}

impl Catalog {
    pub async fn open(engine: &Arc<TxnEngine>) -> Result<Catalog> {
        let table = storage_table(engine, CATALOG_TABLE).await?;
        let rows_table = storage_table(engine, ROWS_TABLE).await?;
        let index_table = storage_table(engine, INDEX_TABLE).await?;
        Ok(Catalog {
            engine: engine.clone(),
            table,
            rows_table,
            index_table,
            generation: AtomicU64::new(1),
            cached: Mutex::new(None),
        })
    }

    /// Fills in where a new table's rows live.
    pub fn attach_table(&self, def: &mut TableDef) {
        def.storage_id = Some(self.rows_table);
    }

    /// Fills in where a new index's entries live.
    pub fn attach_index(&self, def: &mut IndexDef) {
        def.storage_id = Some(if def.primary { self.rows_table } else { self.index_table });
    }

    /// Bumped by every committed catalog change; plans cached under an older
    /// generation are stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called after a transaction that changed the catalog commits or rolls back.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.cached.lock().expect("catalog cache lock") = None;
    }

    /// The latest committed schema, from the cache when it is current.
    pub async fn committed(&self) -> Result<Arc<Schema>> {
        let generation = self.generation();
        if let Some((cached_at, schema)) = self.cached.lock().expect("catalog cache lock").as_ref()
            && *cached_at == generation
        {
            return Ok(schema.clone());
        }
        let mut txn = self.engine.begin(crate::txn::IsolationLevel::ReadCommitted).await?;
        let schema = Arc::new(self.load(&mut txn).await?);
        txn.commit().await?;
        let mut cached = self.cached.lock().expect("catalog cache lock");
        if self.generation() == generation {
            *cached = Some((generation, schema.clone()));
        }
        Ok(schema)
    }

    /// The schema as transaction `txn` sees it (its own changes included).
    pub async fn load(&self, txn: &mut Transaction) -> Result<Schema> {
        let rows = txn.scan(self.table, Bound::Unbounded, Bound::Unbounded).await?;
        let mut schema = Schema::default();
        let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
        for (key, chunk) in rows {
            let object = object_of(&key)?;
            match &mut current {
                Some((name, bytes)) if name.as_slice() == object => bytes.extend_from_slice(&chunk),
                _ => {
                    if let Some((name, bytes)) = current.replace((object.to_vec(), chunk)) {
                        self.add_object(&mut schema, &name, &bytes)?;
                    }
                }
            }
        }
        if let Some((name, bytes)) = current {
            self.add_object(&mut schema, &name, &bytes)?;
        }
        Ok(schema)
    }

    fn add_object(&self, schema: &mut Schema, key: &[u8], row: &[u8]) -> Result<()> {
        let corrupt = |e: serde_json::Error| Error::Corrupt(format!("catalog entry: {e}"));
        match key.first().copied() {
            Some(b't') => {
                let mut def: TableDef = serde_json::from_slice(row).map_err(corrupt)?;
                self.attach_table(&mut def);
                schema.tables.insert(def.name.clone(), Arc::new(def));
            }
            Some(b'i') => {
                let mut def: IndexDef = serde_json::from_slice(row).map_err(corrupt)?;
                self.attach_index(&mut def);
                schema.indexes.insert(def.name.clone(), Arc::new(def));
            }
            Some(b'v') => {
                let def: ViewDef = serde_json::from_slice(row).map_err(corrupt)?;
                schema.views.insert(def.name.clone(), Arc::new(def));
            }
            Some(b's') => {
                let def: SequenceDef = serde_json::from_slice(row).map_err(corrupt)?;
                schema.sequences.insert(def.name.clone(), Arc::new(def));
            }
            Some(b'r') => {
                let def: RoleDef = serde_json::from_slice(row).map_err(corrupt)?;
                schema.roles.insert(def.name.clone(), Arc::new(def));
            }
            _ => return Err(Error::Corrupt("catalog entry of unknown kind".into())),
        }
        Ok(())
    }

    pub async fn put_table(&self, txn: &mut Transaction, def: &TableDef) -> Result<()> {
        self.put(txn, Kind::Table, &def.name, serde_json::to_vec(def)).await
    }

    pub async fn put_index(&self, txn: &mut Transaction, def: &IndexDef) -> Result<()> {
        self.put(txn, Kind::Index, &def.name, serde_json::to_vec(def)).await
    }

    pub async fn put_view(&self, txn: &mut Transaction, def: &ViewDef) -> Result<()> {
        self.put(txn, Kind::View, &def.name, serde_json::to_vec(def)).await
    }

    pub async fn put_sequence(&self, txn: &mut Transaction, def: &SequenceDef) -> Result<()> {
        self.put(txn, Kind::Sequence, &def.name, serde_json::to_vec(def)).await
    }

    pub async fn put_role(&self, txn: &mut Transaction, def: &RoleDef) -> Result<()> {
        self.put(txn, Kind::Role, &def.name, serde_json::to_vec(def)).await
    }

    async fn put(&self, txn: &mut Transaction, kind: Kind, name: &str, row: serde_json::Result<Vec<u8>>) -> Result<()> {
        let row = row.map_err(|e| Error::Corrupt(format!("catalog entry: {e}")))?;
        self.delete(txn, kind, name).await?;
        for (i, chunk) in row.chunks(CHUNK_BYTES).enumerate() {
            txn.put(self.table, &chunk_key(kind, name, i as u16), chunk).await?;
        }
        Ok(())
    }

    pub async fn delete_table(&self, txn: &mut Transaction, name: &str) -> Result<()> {
        self.delete(txn, Kind::Table, name).await
    }

    pub async fn delete_index(&self, txn: &mut Transaction, name: &str) -> Result<()> {
        self.delete(txn, Kind::Index, name).await
    }

    pub async fn delete_view(&self, txn: &mut Transaction, name: &str) -> Result<()> {
        self.delete(txn, Kind::View, name).await
    }

    pub async fn delete_sequence(&self, txn: &mut Transaction, name: &str) -> Result<()> {
        self.delete(txn, Kind::Sequence, name).await
    }

    pub async fn delete_role(&self, txn: &mut Transaction, name: &str) -> Result<()> {
        self.delete(txn, Kind::Role, name).await
    }

    async fn delete(&self, txn: &mut Transaction, kind: Kind, name: &str) -> Result<()> {
        let lo = chunk_key(kind, name, 0);
        let hi = chunk_key(kind, name, u16::MAX);
        let chunks = txn.scan(self.table, Bound::Included(&lo[..]), Bound::Included(&hi[..])).await?;
        for (key, _) in chunks {
            txn.delete(self.table, &key).await?;
        }
        Ok(())
    }
}

async fn storage_table(engine: &TxnEngine, name: &str) -> Result<TableId> {
    match engine.table(name).await {
        Ok(id) => Ok(id),
        Err(_) => engine.create_table(name).await,
    }
}

/// `kind ‖ name ‖ 0 ‖ chunk number`: names hold no NUL byte, so an
/// object's chunks are adjacent and in order.
fn chunk_key(kind: Kind, name: &str, chunk: u16) -> Vec<u8> {
    let mut key = vec![kind as u8];
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&chunk.to_be_bytes());
    key
}

/// The `kind ‖ name` part of a chunk key.
fn object_of(key: &[u8]) -> Result<&[u8]> {
    match key.len().checked_sub(3) {
        Some(end) if key[end] == 0 => Ok(&key[..end]),
        _ => Err(Error::Corrupt("catalog key without a chunk number".into())),
    }
}
