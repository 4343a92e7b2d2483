//! The deterministic executor: one thread, virtual time, seeded choices.
//!
//! The runtime owns every task of every simulated node and a queue of timed
//! events (timer expiries, I/O completions, message deliveries, periodic
//! faults). At each step the seed's ChaCha stream picks what goes next among
//! the ready tasks and the earliest due event; when nothing is ready and no
//! event is due, virtual time jumps to the next event. Nothing else decides
//! order, so a seed replays byte for byte, and every choice is folded into
//! the trace hash.
//!
//! Invariants:
//! * No lock is held while a task is polled: tasks call into the simulated
//!   Env, which takes the world lock itself.
//! * Futures are dropped only with no lock held (their `Drop` may reach the
//!   world, e.g. to close a connection).
//! * Events tagged with a node incarnation are skipped once that node has
//!   crashed: an I/O that had not completed at the crash simply never did.
//!
//! Lock order: `tasks`, then `world`, then I/O slots, then `ready` (a leaf).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Wake, Waker};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rustydb_core::env::{BoxFuture, Env};

use crate::disk::SimDisk;
use crate::env::{NodeClock, env_for};
use crate::faults::{FaultCounts, FaultKind};
use crate::net::NetState;
use crate::options::RunOptions;
use crate::trace::{Trace, TraceEvent};

pub type NodeId = usize;

/// What a node runs at boot and after every restart. An `Err` return is a
/// node failure: the node is crashed and restarted like after a fault.
pub type NodeProgram = Arc<dyn Fn(Env) -> BoxFuture<'static, rustydb_core::Result<()>> + Send + Sync>;

/// Steps one `run_until` may take before the run is declared livelocked.
pub const STEPS_PER_RUN_MAX: u64 = 50_000_000;

/// Takes a lock, ignoring poisoning: a panic already fails the run, and the
/// state is only read afterwards for the report.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A simulated node.
pub(crate) struct Node {
    pub name: String,
    pub crashable: bool,
    pub up: bool,
    pub incarnation: u64,
    pub program: NodeProgram,
    pub disk: SimDisk,
    pub clock: NodeClock,
}

type Action = Box<dyn FnOnce(&mut World) + Send>;

pub(crate) enum Event {
    /// A state change at a point in time; skipped if `incarnation` is set and
    /// the node has crashed since.
    Action {
        node: NodeId,
        incarnation: Option<u64>,
        what: &'static str,
        action: Action,
    },
    /// A node's program failed; crash and restart it.
    NodeFailed {
        node: NodeId,
        incarnation: u64,
        error: String,
    },
    Restart {
        node: NodeId,
    },
    /// Crash `node` if it is still in `incarnation` (a crash aimed at recovery).
    RecoveryCrash {
        node: NodeId,
        incarnation: u64,
    },
    CrashSomeServer,
    PartitionStart,
    PartitionHeal,
    ClockJump,
}

/// All simulated state except the tasks themselves.
pub(crate) struct World {
    pub now_nanos: u64,
    pub rng: ChaCha8Rng,
    events: BTreeMap<(u64, u64, u64), Event>,
    events_sequence: u64,
    pub nodes: Vec<Node>,
    pub net: NetState,
    pub faults: FaultCounts,
    pub faults_enabled: bool,
    pub trace: Trace,
    pub options: RunOptions,
}

impl World {
    /// Queues `event` at `at_nanos`; ties break by a random draw.
    pub fn schedule(&mut self, at_nanos: u64, event: Event) {
        let tiebreak = self.rng.next_u64();
        self.events_sequence += 1;
        self.events.insert((at_nanos.max(self.now_nanos), tiebreak, self.events_sequence), event);
    }

    /// Queues `action` after `delay_nanos`, cancelled if `node` crashes first.
    pub fn after(&mut self, delay_nanos: u64, node: NodeId, what: &'static str, action: Action) {
        let incarnation = Some(self.nodes[node].incarnation);
        let at = self.now_nanos.saturating_add(delay_nanos);
        self.schedule(at, Event::Action { node, incarnation, what, action });
    }

    /// Draws a fault with probability `probability`; never while faults are off.
    pub fn chance(&mut self, probability: f64) -> bool {
        if !self.faults_enabled || probability <= 0.0 {
            return false;
        }
        self.unit() < probability
    }

    /// A uniform draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform draw in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        ((u128::from(self.rng.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// How long a crashed server stays down: the scenario's restart delay, jittered.
    pub fn restart_delay_nanos(&mut self) -> u64 {
        let mean = self.options.crash.restart_delay_ms * 1_000_000;
        self.jitter_nanos(mean)
    }

    /// A duration drawn uniformly from half to one and a half times `mean`.
    pub fn jitter_nanos(&mut self, mean_nanos: u64) -> u64 {
        if mean_nanos == 0 {
            return 0;
        }
        mean_nanos / 2 + self.below(mean_nanos + 1)
    }

    /// Counts and traces an injected fault.
    pub fn fault(&mut self, kind: FaultKind, node: NodeId, detail: u64) {
        self.faults.add(kind, 1);
        self.note(TraceEvent::Fault { kind, node, detail });
    }

    pub fn note(&mut self, event: TraceEvent) {
        self.trace.record(self.now_nanos, event);
    }

    fn next_event_due(&self) -> Option<u64> {
        self.events.first_key_value().map(|(key, _)| key.0)
    }
}

/// How a `run_until` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Virtual time reached the deadline.
    Deadline,
    /// The stop condition became true.
    Stopped,
    /// Too many steps without reaching the deadline.
    Livelock,
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    tasks: Mutex<BTreeMap<u64, TaskEntry>>,
    ready: Arc<Mutex<BTreeSet<u64>>>,
    next_task_id: AtomicU64,
}

struct TaskEntry {
    node: NodeId,
    future: Option<BoxFuture<'static, ()>>,
}

struct TaskWaker {
    task: u64,
    ready: Arc<Mutex<BTreeSet<u64>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        lock(&self.ready).insert(self.task);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.ready).insert(self.task);
    }
}

impl Shared {
    /// Adds a task to `node` if the caller's incarnation is still alive.
    pub fn spawn(&self, node: NodeId, incarnation: u64, future: BoxFuture<'static, ()>) -> u64 {
        let id = self.next_task_id.fetch_add(1, Ordering::Relaxed);
        let alive = {
            let world = lock(&self.world);
            world.nodes[node].up && world.nodes[node].incarnation == incarnation
        };
        if !alive {
            drop(future); // the node died; its tasks never run
            return id;
        }
        lock(&self.tasks).insert(id, TaskEntry { node, future: Some(future) });
        lock(&self.ready).insert(id);
        id
    }
}

/// One simulation: its nodes, its clock, its seed.
pub struct Simulator {
    shared: Arc<Shared>,
    steps: u64,
}

impl Simulator {
    pub fn new(options: RunOptions, verbose: bool) -> Self {
        let world = World {
            now_nanos: 0,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            events: BTreeMap::new(),
            events_sequence: 0,
            nodes: Vec::new(),
            net: NetState::default(),
            faults: FaultCounts::default(),
            faults_enabled: true,
            trace: Trace::new(verbose),
            options,
        };
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            tasks: Mutex::new(BTreeMap::new()),
            ready: Arc::new(Mutex::new(BTreeSet::new())),
            next_task_id: AtomicU64::new(1),
        });
        Simulator { shared, steps: 0 }
    }

    /// Adds a node named `name` running `program`; it boots at the first step.
    pub fn add_node(&mut self, name: &str, crashable: bool, program: NodeProgram) -> NodeId {
        let mut world = lock(&self.shared.world);
        let id = world.nodes.len();
        let clock = NodeClock::draw(&mut world);
        world.nodes.push(Node {
            name: name.to_string(),
            crashable,
            up: false,
            incarnation: 0,
            program,
            disk: SimDisk::default(),
            clock,
        });
        world.schedule(0, Event::Restart { node: id });
        id
    }

    /// Schedules the periodic faults (crashes, partitions, clock jumps).
    pub fn start_fault_plan(&mut self) {
        let mut world = lock(&self.shared.world);
        let options = world.options.clone();
        let plan = [
            (options.crash.interval_ms, Event::CrashSomeServer),
            (options.network.partition_interval_ms, Event::PartitionStart),
            (options.clock.jump_interval_ms, Event::ClockJump),
        ];
        for (interval_ms, event) in plan {
            if interval_ms > 0 {
                let delay = world.jitter_nanos(interval_ms * 1_000_000);
                world.schedule(delay, event);
            }
        }
    }

    /// Ends the fault phase: no new faults, partitions healed.
    pub fn stop_faults(&mut self) {
        let mut world = lock(&self.shared.world);
        world.faults_enabled = false;
        world.net.heal();
        world.note(TraceEvent::FaultsStopped);
    }

    pub fn now_nanos(&self) -> u64 {
        lock(&self.shared.world).now_nanos
    }

    pub fn note(&self, text: String) {
        lock(&self.shared.world).note(TraceEvent::Note(text));
    }

    pub fn faults(&self) -> FaultCounts {
        lock(&self.shared.world).faults.clone()
    }

    pub fn trace_digest(&self) -> u64 {
        lock(&self.shared.world).trace.digest()
    }

    /// The last trace events, formatted, oldest first.
    pub fn trace_tail(&self) -> Vec<String> {
        lock(&self.shared.world).trace.tail().map(ToString::to_string).collect()
    }

    /// Names of the servers (crashable nodes).
    pub fn server_ids(&self) -> Vec<NodeId> {
        let world = lock(&self.shared.world);
        (0..world.nodes.len()).filter(|id| world.nodes[*id].crashable).collect()
    }

    /// Runs until virtual time reaches `deadline_nanos` or `stop` holds.
    pub fn run_until(&mut self, deadline_nanos: u64, stop: &dyn Fn() -> bool) -> RunEnd {
        let steps_limit = self.steps + STEPS_PER_RUN_MAX;
        loop {
            if stop() {
                return RunEnd::Stopped;
            }
            if self.steps >= steps_limit {
                return RunEnd::Livelock;
            }
            if !self.step(deadline_nanos) {
                return RunEnd::Deadline;
            }
            self.steps += 1;
        }
    }

    /// Takes one step; false once nothing is left before the deadline.
    fn step(&mut self, deadline_nanos: u64) -> bool {
        let ready_count = lock(&self.shared.ready).len() as u64;
        let mut world = lock(&self.shared.world);
        let due = world.next_event_due().is_some_and(|at| at <= world.now_nanos);
        if ready_count == 0 && !due {
            match world.next_event_due() {
                Some(at) if at <= deadline_nanos => world.now_nanos = at,
                _ => {
                    world.now_nanos = world.now_nanos.max(deadline_nanos);
                    return false;
                }
            }
            return true;
        }
        let choice = world.below(ready_count + u64::from(due));
        if choice < ready_count {
            let task = {
                let mut ready = lock(&self.shared.ready);
                let task = *ready.iter().nth(choice as usize).expect("choice is below the ready count");
                ready.remove(&task);
                task
            };
            drop(world);
            self.poll_task(task);
        } else {
            let (_, event) = world.events.pop_first().expect("an event is due");
            drop(world);
            self.fire(event);
        }
        true
    }

    fn poll_task(&mut self, task: u64) {
        let (node, mut future) = {
            let mut tasks = lock(&self.shared.tasks);
            let Some(entry) = tasks.get_mut(&task) else { return };
            let Some(future) = entry.future.take() else { return };
            (entry.node, future)
        };
        lock(&self.shared.world).note(TraceEvent::Poll { node, task });
        let waker = Waker::from(Arc::new(TaskWaker { task, ready: self.shared.ready.clone() }));
        let finished = future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
        let mut tasks = lock(&self.shared.tasks);
        if finished {
            tasks.remove(&task);
        } else if let Some(entry) = tasks.get_mut(&task) {
            entry.future = Some(future);
            return;
        }
        drop(tasks);
        drop(future); // finished, or its node crashed while it ran
    }

    fn fire(&mut self, event: Event) {
        match event {
            Event::Action { node, incarnation, what, action } => {
                let mut world = lock(&self.shared.world);
                if incarnation.is_some_and(|i| i != world.nodes[node].incarnation) {
                    return;
                }
                world.note(TraceEvent::Fire { what, node });
                action(&mut world);
            }
            Event::NodeFailed { node, incarnation, error } => {
                let restart_after = {
                    let mut world = lock(&self.shared.world);
                    if world.nodes[node].incarnation != incarnation {
                        return;
                    }
                    world.note(TraceEvent::NodeFailed { node, error });
                    world.restart_delay_nanos()
                };
                self.crash(node, false, Some(restart_after));
            }
            Event::Restart { node } => self.start(node),
            Event::RecoveryCrash { node, incarnation } => self.recovery_crash(node, incarnation),
            Event::CrashSomeServer => self.crash_some_server(),
            Event::PartitionStart => self.partition_start(),
            Event::PartitionHeal => lock(&self.shared.world).net.heal(),
            Event::ClockJump => self.clock_jump(),
        }
    }

    /// Boots `node` (first start or restart) with a fresh Env and program.
    fn start(&mut self, node: NodeId) {
        let (env, program, incarnation) = {
            let mut world = lock(&self.shared.world);
            if world.nodes[node].up {
                return;
            }
            let now = world.now_nanos;
            let boot_mono = world.below(1 << 40);
            let state = &mut world.nodes[node];
            state.up = true;
            state.clock.boot(now, boot_mono);
            let incarnation = state.incarnation;
            let program = state.program.clone();
            world.note(TraceEvent::NodeStart { node, incarnation });
            schedule_recovery_crash(&mut world, node, incarnation);
            (env_for(&self.shared, node, incarnation), program, incarnation)
        };
        let shared = Arc::downgrade(&self.shared);
        let main = program(env);
        let wrapper = Box::pin(async move {
            if let Err(error) = main.await
                && let Some(shared) = shared.upgrade()
            {
                let mut world = lock(&shared.world);
                let now = world.now_nanos;
                world.schedule(now, Event::NodeFailed { node, incarnation, error: error.to_string() });
            }
        });
        self.shared.spawn(node, incarnation, wrapper);
    }

    /// Crashes `node`: drops its tasks and memory, applies the disk crash
    /// model, resets its connections; restarts it after `restart_after_nanos`.
    pub fn crash(&mut self, node: NodeId, count_as_fault: bool, restart_after_nanos: Option<u64>) {
        {
            let mut world = lock(&self.shared.world);
            if !world.nodes[node].up {
                return;
            }
            if count_as_fault {
                world.fault(FaultKind::Crash, node, 0);
            }
            world.nodes[node].up = false;
            world.nodes[node].incarnation += 1;
            crate::disk::crash_disk(&mut world, node);
            world.net.node_crashed(node);
            if let Some(delay) = restart_after_nanos {
                let at = world.now_nanos + delay;
                world.schedule(at, Event::Restart { node });
            }
        }
        let dropped: Vec<TaskEntry> = {
            let mut tasks = lock(&self.shared.tasks);
            let ids: Vec<u64> = tasks.iter().filter(|(_, entry)| entry.node == node).map(|(id, _)| *id).collect();
            ids.iter().filter_map(|id| tasks.remove(id)).collect()
        };
        drop(dropped); // no lock held: futures' Drop may reach the world
    }

    /// Restarts a node that is down now (used after the final crash).
    pub fn restart_now(&mut self, node: NodeId) {
        self.start(node);
    }

    fn recovery_crash(&mut self, node: NodeId, incarnation: u64) {
        let restart_after = {
            let mut world = lock(&self.shared.world);
            if !world.faults_enabled || !world.nodes[node].up || world.nodes[node].incarnation != incarnation {
                return;
            }
            world.fault(FaultKind::RecoveryCrash, node, 0);
            world.restart_delay_nanos()
        };
        self.crash(node, true, Some(restart_after));
    }

    fn crash_some_server(&mut self) {
        let (victim, restart_after) = {
            let mut world = lock(&self.shared.world);
            if !world.faults_enabled {
                return;
            }
            let interval = world.options.crash.interval_ms * 1_000_000;
            let next = world.now_nanos + world.jitter_nanos(interval);
            world.schedule(next, Event::CrashSomeServer);
            let up: Vec<NodeId> =
                (0..world.nodes.len()).filter(|n| world.nodes[*n].crashable && world.nodes[*n].up).collect();
            if up.is_empty() {
                return;
            }
            let victim = up[world.below(up.len() as u64) as usize];
            (victim, world.restart_delay_nanos())
        };
        self.crash(victim, true, Some(restart_after));
    }

    fn partition_start(&mut self) {
        let mut world = lock(&self.shared.world);
        if !world.faults_enabled {
            return;
        }
        let options = world.options.network.clone();
        let next = world.now_nanos + world.jitter_nanos(options.partition_interval_ms * 1_000_000);
        world.schedule(next, Event::PartitionStart);
        let nodes = world.nodes.len();
        if nodes < 2 || world.net.is_partitioned() {
            return;
        }
        let mut side: Vec<bool> = (0..nodes).map(|_| world.below(2) == 1).collect();
        if side.iter().all(|s| *s == side[0]) {
            let flip = world.below(nodes as u64) as usize;
            side[flip] = !side[flip];
        }
        let mask = side.iter().enumerate().fold(0u64, |mask, (i, s)| mask | (u64::from(*s) << i));
        world.net.partition(&side);
        world.fault(FaultKind::Partition, 0, mask);
        let heal_at = world.now_nanos + world.jitter_nanos(options.partition_duration_ms * 1_000_000);
        world.schedule(heal_at, Event::PartitionHeal);
    }

    fn clock_jump(&mut self) {
        let mut world = lock(&self.shared.world);
        if !world.faults_enabled {
            return;
        }
        let options = world.options.clock.clone();
        let next = world.now_nanos + world.jitter_nanos(options.jump_interval_ms * 1_000_000);
        world.schedule(next, Event::ClockJump);
        let nodes = world.nodes.len().max(1) as u64;
        let node = world.below(nodes) as usize;
        let magnitude = world.jitter_nanos(options.jump_ms * 1_000_000);
        let backwards = world.below(2) == 1;
        if let Some(state) = world.nodes.get_mut(node) {
            state.clock.jump(magnitude, backwards);
            world.fault(FaultKind::ClockJump, node, magnitude);
        }
    }

    /// Drops every task and event, breaking the reference cycles between
    /// tasks and the Env handles they hold.
    pub fn shutdown(&mut self) {
        let tasks = std::mem::take(&mut *lock(&self.shared.tasks));
        drop(tasks);
        let events = std::mem::take(&mut lock(&self.shared.world).events);
        drop(events);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// With the scenario's probability, schedules a crash of a server that just
/// booted, soon enough to land while it recovers.
fn schedule_recovery_crash(world: &mut World, node: NodeId, incarnation: u64) {
    let probability = world.options.crash.recovery_crash_probability;
    if !world.faults_enabled || !world.nodes[node].crashable || probability <= 0.0 || !world.chance(probability) {
        return;
    }
    let delay = world.jitter_nanos(world.options.crash.recovery_crash_within_us * 1_000);
    let at = world.now_nanos + delay;
    world.schedule(at, Event::RecoveryCrash { node, incarnation });
}
