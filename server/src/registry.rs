//! Live connections: their cancel keys and flags, and the shutdown state.
//!
//! A PostgreSQL cancel request arrives on a new connection carrying the
//! target's process id and secret key; the registry maps one to the other's
//! cancel flag. Shutdown cancels every running statement through the same
//! flags.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use rustydb_core::env::Random;

/// A connection's entry in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnectionId(i32);

struct Entry {
    secret: i32,
    cancel: Arc<AtomicBool>,
    /// Woken when shutdown begins (the connection may be waiting to read).
    waker: Option<Waker>,
}

/// The most connections served at once; more are refused with 53300.
pub const MAX_CONNECTIONS: usize = 1024;

pub struct Registry {
    random: Arc<dyn Random>,
    entries: Mutex<Entries>,
    shutting_down: AtomicBool,
}

#[derive(Default)]
struct Entries {
    by_pid: BTreeMap<i32, Entry>,
    /// Where the search for a free process id starts.
    next_pid: i32,
}

impl Registry {
    pub fn new(random: Arc<dyn Random>) -> Registry {
        Registry { random, entries: Mutex::new(Entries::default()), shutting_down: AtomicBool::new(false) }
    }

    /// Registers a connection whose running statement `cancel` stops.
    pub fn register(&self, cancel: Arc<AtomicBool>) -> ConnectionId {
        let secret = self.random.next_u64() as i32;
        let mut entries = self.lock();
        // Process ids are positive and unique among live connections.
        let mut pid = entries.next_pid.max(1);
        while entries.by_pid.contains_key(&pid) {
            pid = pid.checked_add(1).unwrap_or(1);
        }
        entries.next_pid = pid.checked_add(1).unwrap_or(1);
        entries.by_pid.insert(pid, Entry { secret, cancel, waker: None });
        ConnectionId(pid)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().expect("registry lock")
    }

    pub fn unregister(&self, id: ConnectionId) {
        self.lock().by_pid.remove(&id.0);
    }

    /// The (process id, secret key) a client uses to cancel this connection.
    pub fn key(&self, id: ConnectionId) -> (i32, i32) {
        (id.0, self.lock().by_pid.get(&id.0).map_or(0, |e| e.secret))
    }

    /// Cancels the running statement of `pid` if `secret` matches.
    pub fn cancel(&self, pid: i32, secret: i32) -> bool {
        match self.lock().by_pid.get(&pid) {
            Some(entry) if entry.secret == secret => {
                entry.cancel.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().by_pid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts shutting down: running statements are cancelled, and idle
    /// connections end at their next message.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for entry in self.lock().by_pid.values_mut() {
            entry.cancel.store(true, Ordering::Relaxed);
            if let Some(waker) = entry.waker.take() {
                waker.wake();
            }
        }
    }

    /// Resolves once shutdown begins; `id`'s task is woken then.
    pub fn shutdown_started(&self, id: ConnectionId) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.shutting_down() {
                return Poll::Ready(());
            }
            if let Some(entry) = self.lock().by_pid.get_mut(&id.0) {
                entry.waker = Some(cx.waker().clone());
            }
            // Checked again: shutdown may have begun before the waker was stored.
            if self.shutting_down() { Poll::Ready(()) } else { Poll::Pending }
        })
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use rustydb_core::env::SplitMix64;

    use super::*;

    struct Fixed(Mutex<SplitMix64>);
    impl Random for Fixed {
        fn next_u64(&self) -> u64 {
            self.0.lock().unwrap().next_u64()
        }
    }

    #[test]
    fn cancel_needs_the_right_secret() {
        let registry = Registry::new(Arc::new(Fixed(Mutex::new(SplitMix64::new(7)))));
        let flag = Arc::new(AtomicBool::new(false));
        let id = registry.register(flag.clone());
        let (pid, secret) = registry.key(id);
        assert!(!registry.cancel(pid, secret.wrapping_add(1)));
        assert!(!flag.load(Ordering::Relaxed));
        assert!(registry.cancel(pid, secret));
        assert!(flag.load(Ordering::Relaxed));
        registry.unregister(id);
        assert!(registry.is_empty());
    }
}
