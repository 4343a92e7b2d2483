//! [`TokioSpawner`]: runs the engine's tasks on a tokio runtime.
//!
//! Tasks are detached: core's `JoinHandle` carries the result over its own
//! channel, so tokio's handle is dropped, which matches the contract that
//! dropping a join handle does not cancel the task. When the runtime shuts
//! down its tasks are dropped and joiners see `TaskCancelled`.

use std::sync::atomic::{AtomicU64, Ordering};

use rustydb_core::env::{BoxFuture, Spawner, TaskId};
use tokio::runtime::Handle;

/// Spawns onto the runtime behind `handle`.
pub struct TokioSpawner {
    handle: Handle,
    next_id: AtomicU64,
}

impl TokioSpawner {
    pub fn new(handle: Handle) -> Self {
        TokioSpawner { handle, next_id: AtomicU64::new(0) }
    }
}

impl Spawner for TokioSpawner {
    fn spawn_boxed(&self, _name: &'static str, future: BoxFuture<'static, ()>) -> TaskId {
        // Ids only need to be unique, not ordered with anything. Task names
        // are unused: naming tokio tasks requires `tokio_unstable`.
        let id = TaskId(self.next_id.fetch_add(1, Ordering::Relaxed));
        drop(self.handle.spawn(future));
        id
    }
}
