//! The SQL engine: text in, typed rows out.
//!
//! A statement flows through one file per stage:
//! `sqlparser` parses it; [`binder`] resolves names against the [`catalog`]
//! and types every expression ([`expr`]); [`planner`] rewrites the logical
//! [`plan`] and picks access paths, join order and algorithms from
//! [`stats`]; [`exec`] runs the physical plan on column [`batch`]es;
//! [`session`] owns transactions, settings and prepared statements and is
//! what the embedded library and the server talk to; [`dml`] and [`ddl`]
//! carry out writes and schema changes.
//!
//! Values and types live in [`value`]; casts and the text forms of values in
//! [`cast`]; operators in [`ops`]; scalar functions in [`functions`]; how rows
//! and keys are stored in [`row`]; sequences in [`sequence`]; committed row
//! changes for subscribers in [`changes`]; roles and passwords in [`roles`],
//! and what each role may do to each relation in [`privileges`].

pub mod batch;
pub mod binder;
pub mod byte_encoding;
pub mod cast;
pub mod catalog;
pub mod changes;
pub mod copy;
pub mod database;
pub mod ddl;
pub mod dml;
pub mod exec;
pub mod expr;
pub mod functions;
pub mod ops;
pub mod parse_cache;
pub mod plan;
pub mod planner;
pub mod privileges;
pub mod roles;
pub mod row;
pub mod script;
pub mod sequence;
pub mod session;
pub mod stats;
pub mod system_catalog;
pub mod value;

pub use changes::{TableChange, TableChanges};
pub use database::{Database, DatabaseConfig};
pub use script::{CopyDirection, ParsedStatement, parse_script};
pub use session::{PreparedStatement, QueryResult, ResultColumn, Session};
pub use value::{DataType, Interval, Value};
