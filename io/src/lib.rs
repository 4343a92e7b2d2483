//! `rustydb-io`: the production [`Env`], backed by tokio and the operating system.
//!
//! The engine in `rustydb-core` reaches the outside world only through the Env
//! traits. This crate is the one place those traits meet real clocks, files,
//! sockets, OS entropy and threads; the simulator (`rustydb-sim`) is the other
//! implementation, and both keep the same contract.
//!
//! | capability | type | file |
//! |---|---|---|
//! | monotonic and wall clocks, sleep | [`TokioClock`] | `clock.rs` |
//! | files in one directory | [`DirStorage`] | `storage.rs` |
//! | TCP streams, UDP datagrams | [`TcpNetwork`] | `network.rs` |
//! | randomness seeded once from the OS | [`OsSeededRandom`] | `random.rs` |
//! | tasks on a tokio runtime | [`TokioSpawner`] | `spawner.rs` |
//! | OS error classification | — | `error.rs` |
//!
//! Invariants, and why:
//! * **The contract, no more.** Each method gives the guarantees written on the
//!   core trait. Engine code tested under the simulator relies on nothing else,
//!   so extra work here (say, an fsync on every create) would only cost time.
//! * **Async workers never block.** File-system calls run on tokio's blocking
//!   pool with owned buffers; sockets use tokio's non-blocking types.
//! * **Errors are core's.** OS errors become [`rustydb_core::Error::Io`] with a
//!   kind the simulator also produces and a context naming the operation and
//!   target, so the engine handles each failure once for both Envs.
//! * **Unix only**: positional file I/O and directory fsync are Unix concepts.

// The determinism bans live in `core/clippy.toml` and `sim/clippy.toml`;
// this crate is the production Env, the one place the OS is meant to be used.

mod clock;
mod error;
mod network;
mod random;
mod spawner;
mod storage;
#[cfg(test)]
mod temp_dir;

use std::path::Path;
use std::sync::Arc;

pub use clock::TokioClock;
pub use network::{TcpAcceptor, TcpNetwork, UdpDatagramSocket};
pub use random::OsSeededRandom;
use rustydb_core::env::Env;
pub use spawner::TokioSpawner;
pub use storage::DirStorage;

/// The Env a production node runs on: files in `data_dir` (created if
/// missing), sockets bound on `bind_host`, tasks on `runtime`.
pub fn production_env(data_dir: &Path, bind_host: &str, runtime: tokio::runtime::Handle) -> rustydb_core::Result<Env> {
    Ok(Env {
        clock: Arc::new(TokioClock::new()),
        storage: Arc::new(DirStorage::new(data_dir)?),
        network: Arc::new(TcpNetwork::new(bind_host)),
        random: Arc::new(OsSeededRandom::new()?),
        spawner: Arc::new(TokioSpawner::new(runtime)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustydb_core::Error;
    use rustydb_core::env::{OpenMode, timeout};

    use super::*;
    use crate::temp_dir::TempDir;

    #[tokio::test]
    async fn env_spawns_tasks_and_reaches_storage() {
        let dir = TempDir::new();
        let env = production_env(dir.path(), "127.0.0.1", tokio::runtime::Handle::current()).unwrap();
        assert!(dir.path().is_dir());

        let task_env = env.clone();
        let writer = env.spawn("writer", async move {
            let file = task_env.storage.open("f", OpenMode::CreateNew).await?;
            file.write_at(0, b"abc").await?;
            file.len().await
        });
        let other = env.spawn("other", async { 1 });
        assert_ne!(writer.id(), other.id());
        assert_eq!(writer.await, Ok(Ok(3)));
        assert_eq!(other.await, Ok(1));
    }

    #[tokio::test]
    async fn runtime_shutdown_cancels_tasks() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let dir = TempDir::new();
        let env = production_env(dir.path(), "127.0.0.1", runtime.handle().clone()).unwrap();
        let stuck = env.spawn("stuck", std::future::pending::<()>());
        runtime.shutdown_background();
        let joined = timeout(env.clock.as_ref(), Duration::from_secs(10), stuck).await;
        assert_eq!(joined, Ok(Err(Error::TaskCancelled)));
    }
}
