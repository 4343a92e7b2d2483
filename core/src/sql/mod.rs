//! The SQL engine: text in, typed rows out.
//!
//! A statement flows through one file per stage:
//! `sqlparser` parses it; [`binder`] resolves names against the [`catalog`]
//! and types every expression ([`expr`]); [`planner`] rewrites the logical
//! plan and picks access paths, join order and algorithms from [`stats`];
//! [`exec`] runs the physical plan on column [`batch`]es; [`session`] owns
//! transactions, settings and prepared statements and is what the embedded
//! library and the server talk to.
//!
//! Values and types live in [`value`]; casts and the text forms of values in
//! [`cast`]; operators in [`ops`]; scalar functions in [`functions`]; how rows
//! and keys are stored in [`row`].

pub mod cast;
pub mod functions;
pub mod ops;
pub mod value;

pub use value::{DataType, Interval, Value};
