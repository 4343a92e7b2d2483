//! `rustydb-server`: the network front ends of a RustyDB node.
//!
//! | concept | file |
//! |---|---|
//! | settings: file, environment, flags | `config.rs` |
//! | PostgreSQL protocol: accept loop | `postgres/mod.rs` |
//! | PostgreSQL protocol: one connection's state machine | `postgres/connection.rs` |
//! | SQL values in the protocol's text and binary formats, type OIDs | `postgres/types.rs` |
//! | live connections, cancel keys, shutdown | `registry.rs` |
//! | HTTP: REST, GraphQL, WebSocket change streams (axum) | `http/mod.rs` and its table |
//! | roles' logins: SCRAM verifiers, the failed-login throttle | `auth.rs` |
//! | SCRAM-SHA-256 exchange inside PostgreSQL's SASL messages | `postgres/scram.rs` |
//! | audit log of logins, DDL and privilege changes | `audit.rs` |
//!
//! The PostgreSQL protocol's sockets are Env streams, so the simulator runs
//! the same connection code the production binary does (the binary chooses
//! the Env); the HTTP front end runs on tokio sockets through axum.
//! The HTTP front end has no login yet (every request runs as the embedded
//! owner), which is why the binary serves HTTP only on loopback.

pub mod audit;
pub mod auth;
pub mod config;
pub mod http;
pub mod postgres;
pub mod registry;

pub use config::ServerConfig;
pub use registry::Registry;
