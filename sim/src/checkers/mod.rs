//! Invariant checkers. Each checker has a negative scenario under
//! `scenarios/negative/` that must make it report a violation (a checker
//! that has never failed proves nothing).
//!
//! | checker | invariant | negative scenario |
//! |---|---|---|
//! | [`durable_log::LogHistory`] | every acknowledged append survives every crash, and recovery returns nothing no client wrote | `negative/lying-fsync.toml` |
//! | liveness (`run.rs`) | after faults stop, the workload acknowledges `progress_min` operations within `within_ms` | `negative/liveness-unreachable.toml` |
//! | [`store_model::StoreModel`] + engine consistency (`workloads/crash_recovery.rs`) | after every restart the storage engine holds exactly the acknowledged commits (plus at most each writer's one commit in doubt), its B+Trees are valid and agree with the heap | `negative/store-lying-fsync.toml`, `negative/checkpoint-never-written.toml` |
//! | [`isolation::check`] via [`transactions::TxnHistory`] | the list-append history has no anomaly (G0, G1a, G1b, G1c, G-single, G2-item, lost update) the isolation level forbids (`serializable.toml`, `repeatable-read.toml`, `read-committed.toml`) | `negative/snapshot-write-skew.toml` (REPEATABLE READ held to SERIALIZABLE: G2-item) |
//! | [`transactions::TxnHistory`]: bank | every audit and the state after each restart sum to the initial total | `negative/read-committed-lost-update.toml` |
//! | [`transactions::TxnHistory`]: durability | every acknowledged transaction's appends survive every crash | `negative/txn-lying-fsync.toml` |
//! | hang watchdog (`workloads/transactions.rs`) | no transaction stays open over 5 s: every deadlock is detected and resolved | `negative/deadlock-undetected.toml` |
//! | [`bank_transfers::TransferModel`] (`workloads/pg_clients.rs`) | through the wire-protocol server with misbehaving clients: every acknowledged transfer survives every crash, no transfer commits that its client never sent COMMIT for, balances equal the logged transfers' effects | `negative/pg-clients-lying-fsync.toml` |
//! | settle checks (`workloads/pg_clients.rs`) | once the clients stop, the server ends their sessions within 2 s and a transaction over every account gets its locks within 2 s | `negative/pg-clients-hung-client.toml` (a client hangs in an open transaction) |

pub mod bank_transfers;
pub mod durable_log;
pub mod isolation;
pub mod store_model;
pub mod transactions;
