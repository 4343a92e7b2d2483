//! `rustydb-server`: the network front ends of a RustyDB node.
//!
//! | concept | file |
//! |---|---|
//! | settings: file, environment, flags | `config.rs` |
//! | PostgreSQL protocol: accept loop | `postgres/mod.rs` |
//! | PostgreSQL protocol: one connection's state machine | `postgres/connection.rs` |
//! | SQL values in the protocol's text and binary formats, type OIDs | `postgres/types.rs` |
//! | live connections, cancel keys, shutdown | `registry.rs` |
//!
//! The crate depends on `rustydb-core` only: sockets are Env streams, so
//! the simulator runs the same connection code the production binary does
//! (the binary chooses the Env). Authentication is not built yet: every
//! connection is trusted, which is why the binary refuses to listen on
//! anything but a loopback address.

pub mod config;
pub mod postgres;
pub mod registry;

pub use config::ServerConfig;
pub use registry::Registry;
