//! `rustydb-core`: the RustyDB engine and the [`env`](mod@env) boundary it runs on.
//!
//! Everything in this crate reaches time, disk, network, randomness and task
//! scheduling only through [`env::Env`]. The production binary hands it an Env
//! backed by tokio and the operating system (`rustydb-io`); the simulator hands
//! it a deterministic Env that injects faults (`rustydb-sim`). The same engine
//! code runs under both; there are no `cfg` forks of engine logic.
//!
//! The determinism rule is enforced mechanically by `core/clippy.toml`,
//! which forbids the std clock, file system, network, thread
//! and OS-randomness APIs, and iteration-order-leaking `HashMap`/`HashSet`.

pub mod buffer;
pub mod env;
pub mod error;
pub mod index;
pub mod sql;
pub mod storage;
pub mod store;
pub mod txn;
pub mod wal;

pub use error::{Error, IoErrorKind, Result};
