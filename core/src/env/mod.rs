//! The Env boundary: the only way engine code reaches the outside world.
//!
//! An [`Env`] bundles five capabilities, each a trait in its own file:
//!
//! | capability | trait | file |
//! |---|---|---|
//! | time (monotonic, wall clock, sleep) | [`Clock`] | `time.rs` |
//! | files and directories | [`Storage`], [`File`] | `storage.rs` |
//! | byte streams and datagrams between nodes | [`Network`] | `network.rs` |
//! | seeded randomness | [`Random`] | `random.rs` |
//! | tasks (spawn, join, yield) | [`Spawner`] | `task.rs` |
//!
//! Two implementations exist: `rustydb-io` (tokio and the operating system)
//! and `rustydb-sim` (a seeded, single-threaded simulator that injects
//! faults). The guarantees written on each trait method are the contract the
//! simulator's fault model is defined against: the simulator may do anything
//! the contract allows (lose an unsynced write at a crash, reorder datagrams),
//! so engine code that is correct under the simulator relies only on what the
//! contract promises.
//!
//! Engine code is async. Futures handed to the Env must be `Send + 'static`
//! so the same code runs on tokio's multi-threaded runtime; the simulator
//! polls them on one thread in an order drawn from its seed.

mod network;
mod random;
mod storage;
mod task;
mod time;

use std::sync::Arc;

pub use network::{DatagramSocket, Listener, MAX_DATAGRAM_BYTES, NetAddr, Network, Stream};
pub use random::{Random, SplitMix64};
pub use storage::{File, OpenMode, Storage};
pub use task::{JoinHandle, Spawner, TaskId, yield_now};
pub use time::{Clock, Instant, WallTime, timeout};

/// A boxed, sendable future: what the object-safe Env traits return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A handle to the outside world, cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Env {
    pub clock: Arc<dyn Clock>,
    pub storage: Arc<dyn Storage>,
    pub network: Arc<dyn Network>,
    pub random: Arc<dyn Random>,
    pub spawner: Arc<dyn Spawner>,
}

impl Env {
    /// Runs `future` as a new task and returns a handle to await its output.
    ///
    /// The task runs concurrently with the caller; dropping the handle does
    /// not cancel it. If the task is dropped before finishing (its node
    /// crashed, the runtime stopped), joining yields [`crate::Error::TaskCancelled`].
    pub fn spawn<T, F>(&self, name: &'static str, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = T> + Send + 'static,
    {
        task::spawn_with(self.spawner.as_ref(), name, future)
    }
}
