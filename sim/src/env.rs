//! The simulated Env handed to each node incarnation: clock, random and
//! spawner live here; storage is in `disk.rs`, network in `net.rs`.
//!
//! Every handle carries its node and incarnation. A handle from an
//! incarnation that has crashed does nothing observable: its tasks are gone
//! and its pending completions are never delivered.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rand_core::Rng;
use rustydb_core::env::{BoxFuture, Clock, Env, Instant, Random, Spawner, TaskId, WallTime};

use crate::runtime::{NodeId, Shared, World, lock};

/// 2026-01-01T00:00:00Z: where simulated wall clocks start (never the real clock).
const WALL_EPOCH_NANOS: i128 = 1_767_225_600 * 1_000_000_000;

/// One node's clocks: a rate error (drift), a wall-clock offset (skew) and
/// the steps taken so far (jumps). The monotonic clock restarts at each boot.
#[derive(Debug, Clone)]
pub(crate) struct NodeClock {
    drift_ppm: i64,
    skew_nanos: i64,
    jumps_nanos: i64,
    boot_true_nanos: u64,
    boot_mono_nanos: u64,
}

impl NodeClock {
    pub fn draw(world: &mut World) -> NodeClock {
        let drift_max = world.options.clock.drift_ppm as i64;
        let skew_max = (world.options.clock.skew_ms * 1_000_000) as i64;
        let drift_ppm = world.below((2 * drift_max + 1) as u64) as i64 - drift_max;
        let skew_nanos = world.below((2 * skew_max + 1) as u64) as i64 - skew_max;
        NodeClock { drift_ppm, skew_nanos, jumps_nanos: 0, boot_true_nanos: 0, boot_mono_nanos: 0 }
    }

    pub fn boot(&mut self, now_nanos: u64, boot_mono_nanos: u64) {
        self.boot_true_nanos = now_nanos;
        self.boot_mono_nanos = boot_mono_nanos;
    }

    pub fn jump(&mut self, magnitude_nanos: u64, backwards: bool) {
        let step = magnitude_nanos as i64;
        self.jumps_nanos += if backwards { -step } else { step };
    }

    fn scaled(&self, true_nanos: u64) -> u64 {
        let rate = (1_000_000 + self.drift_ppm) as u128;
        (u128::from(true_nanos) * rate / 1_000_000) as u64
    }

    fn mono(&self, now_nanos: u64) -> u64 {
        self.boot_mono_nanos + self.scaled(now_nanos.saturating_sub(self.boot_true_nanos))
    }

    fn wall(&self, now_nanos: u64) -> i128 {
        WALL_EPOCH_NANOS
            + i128::from(self.scaled(now_nanos))
            + i128::from(self.skew_nanos)
            + i128::from(self.jumps_nanos)
    }

    /// True time needed for this clock to advance by `duration` (rounded up).
    fn true_nanos_for(&self, duration: Duration) -> u64 {
        let rate = (1_000_000 + self.drift_ppm) as u128;
        let nanos = duration.as_nanos().min(u128::from(u64::MAX / 4));
        nanos.saturating_mul(1_000_000).div_ceil(rate) as u64
    }
}

/// A value delivered later by an event: the bridge between the event queue
/// and the task awaiting an I/O result or a timer.
pub(crate) struct Completion<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The event's side of a [`Completion`].
pub(crate) struct Completer<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

pub(crate) fn completion<T>() -> (Completion<T>, Completer<T>) {
    let slot = Arc::new(Mutex::new(Slot { value: None, waker: None }));
    (Completion { slot: slot.clone() }, Completer { slot })
}

impl<T> Completer<T> {
    pub fn complete(self, value: T) {
        let waker = {
            let mut slot = lock(&self.slot);
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = lock(&self.slot);
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A handle's identity: which world, node and incarnation it belongs to.
#[derive(Clone)]
pub(crate) struct Handle {
    pub shared: Arc<Shared>,
    pub node: NodeId,
    pub incarnation: u64,
}

impl Handle {
    /// Schedules `action` after `delay_nanos` (cancelled if this node
    /// crashes) and returns the future of its result.
    pub fn after<T: Send + 'static>(
        &self,
        world: &mut World,
        delay_nanos: u64,
        what: &'static str,
        action: impl FnOnce(&mut World) -> T + Send + 'static,
    ) -> Completion<T> {
        let (completion, completer) = completion();
        world.after(delay_nanos, self.node, what, Box::new(move |world| completer.complete(action(world))));
        completion
    }
}

struct SimClock(Handle);

impl Clock for SimClock {
    fn now(&self) -> Instant {
        let world = lock(&self.0.shared.world);
        Instant::from_nanos(world.nodes[self.0.node].clock.mono(world.now_nanos))
    }

    fn wall_now(&self) -> WallTime {
        let world = lock(&self.0.shared.world);
        WallTime { unix_nanos: world.nodes[self.0.node].clock.wall(world.now_nanos) }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let handle = self.0.clone();
        Box::pin(async move {
            let completion = {
                let mut world = lock(&handle.shared.world);
                let delay = world.nodes[handle.node].clock.true_nanos_for(duration);
                handle.after(&mut world, delay, "timer", |_| ())
            };
            completion.await
        })
    }
}

struct SimRandom(Handle);

impl Random for SimRandom {
    fn next_u64(&self) -> u64 {
        lock(&self.0.shared.world).rng.next_u64()
    }
}

struct SimSpawner(Handle);

impl Spawner for SimSpawner {
    fn spawn_boxed(&self, _name: &'static str, future: BoxFuture<'static, ()>) -> TaskId {
        TaskId(self.0.shared.spawn(self.0.node, self.0.incarnation, future))
    }
}

/// The Env of one node incarnation.
pub(crate) fn env_for(shared: &Arc<Shared>, node: NodeId, incarnation: u64) -> Env {
    let handle = Handle { shared: shared.clone(), node, incarnation };
    Env {
        clock: Arc::new(SimClock(handle.clone())),
        storage: Arc::new(crate::disk::SimStorage::new(handle.clone())),
        network: Arc::new(crate::net::SimNetwork::new(handle.clone())),
        random: Arc::new(SimRandom(handle.clone())),
        spawner: Arc::new(SimSpawner(handle)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifting_clock_sleeps_in_its_own_time() {
        let clock =
            NodeClock { drift_ppm: 1_000, skew_nanos: 0, jumps_nanos: 0, boot_true_nanos: 0, boot_mono_nanos: 0 };
        let true_nanos = clock.true_nanos_for(Duration::from_millis(1_001));
        assert_eq!(true_nanos, 1_000_000_000);
        assert!(clock.mono(true_nanos) >= 1_001_000_000);
    }
}
