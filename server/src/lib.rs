//! `rustydb-server`: the network front ends (PostgreSQL wire protocol, HTTP).
//!
//! Not built yet: `rustydb server` answers "feature not supported". The
//! crate exists so the workspace has its final shape and dependency rules
//! (the server depends on `rustydb-core` only; binaries choose the Env).
