//! The simulated network and its fault model.
//!
//! Nodes reach each other by name. Streams are ordered byte pipes: each
//! `write_all` becomes a segment that arrives after a jittered latency but
//! never before an earlier segment of the same direction. Datagrams are
//! independent messages.
//!
//! Faults (all from the scenario's `[network]` section):
//! * a datagram may be lost, duplicated, or held back (`reorder_delay_ms`)
//!   so that later ones overtake it;
//! * a stream segment may reset its connection instead of arriving;
//! * a partition splits the nodes in two: datagrams across it vanish, stream
//!   segments across it reset their connection, and connects time out;
//! * a crashed node's connections reset and its listeners and sockets vanish.
//!
//! Every queue is bounded: a stream direction holds at most
//! [`STREAM_BUFFER_BYTES`] unread (writers wait), a listener at most
//! [`BACKLOG_MAX`] pending connections (more are refused), a socket at most
//! [`INBOX_DATAGRAMS_MAX`] datagrams (more are dropped, as UDP does).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use rustydb_core::env::{BoxFuture, DatagramSocket, Listener, MAX_DATAGRAM_BYTES, NetAddr, Network, Stream};
use rustydb_core::{Error, IoErrorKind, Result};

use crate::env::Handle;
use crate::faults::FaultKind;
use crate::runtime::{Event, NodeId, World, lock};

pub const STREAM_BUFFER_BYTES: usize = 256 * 1024;
pub const BACKLOG_MAX: usize = 128;
pub const INBOX_DATAGRAMS_MAX: usize = 1024;
/// How long a connect into a partition waits before timing out.
pub const CONNECT_TIMEOUT_MILLIS: u64 = 1_000;
/// Where ports for outgoing connections start.
const EPHEMERAL_PORT_BASE: u64 = 40_000;

/// A datagram as queued: its bytes and its sender.
type Datagram = (Vec<u8>, NetAddr);
/// A pending connection as queued: its id and the peer's address.
type PendingConnection = (u64, NetAddr);

#[derive(Default)]
pub(crate) struct NetState {
    listeners: BTreeMap<(NodeId, u16), Endpoint<PendingConnection>>,
    sockets: BTreeMap<(NodeId, u16), Endpoint<Datagram>>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    blocked: BTreeSet<(NodeId, NodeId)>,
}

/// A listener's backlog or a socket's inbox.
struct Endpoint<T> {
    incarnation: u64,
    queue: VecDeque<T>,
    waker: Option<Waker>,
}

struct Conn {
    ends: [End; 2],
    reset: bool,
}

struct End {
    node: NodeId,
    received: VecDeque<u8>,
    in_flight_bytes: usize,
    last_arrival_nanos: u64,
    peer_closed: bool,
    closed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl End {
    fn new(node: NodeId) -> Self {
        End {
            node,
            received: VecDeque::new(),
            in_flight_bytes: 0,
            last_arrival_nanos: 0,
            peer_closed: false,
            closed: false,
            read_waker: None,
            write_waker: None,
        }
    }

    fn wake_all(&mut self) {
        for waker in [self.read_waker.take(), self.write_waker.take()].into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Conn {
    fn reset(&mut self) {
        self.reset = true;
        self.ends.iter_mut().for_each(End::wake_all);
    }
}

impl NetState {
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn is_partitioned(&self) -> bool {
        !self.blocked.is_empty()
    }

    /// Blocks traffic between nodes on different sides.
    pub fn partition(&mut self, side: &[bool]) {
        for a in 0..side.len() {
            for b in 0..side.len() {
                if side[a] != side[b] {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    fn blocked(&self, a: NodeId, b: NodeId) -> bool {
        self.blocked.contains(&(a, b))
    }

    /// Resets the node's connections and removes its listeners and sockets.
    pub fn node_crashed(&mut self, node: NodeId) {
        for conn in self.conns.values_mut() {
            if conn.ends.iter().any(|end| end.node == node) {
                conn.reset();
            }
        }
        self.listeners.retain(|(owner, _), _| *owner != node);
        self.sockets.retain(|(owner, _), _| *owner != node);
    }
}

fn node_named(world: &World, host: &str) -> Option<NodeId> {
    world.nodes.iter().position(|node| node.name == host)
}

fn reset_error(what: &str) -> Error {
    Error::io(IoErrorKind::ConnectionReset, what.to_string())
}

/// A node's network interface.
pub(crate) struct SimNetwork {
    handle: Handle,
}

impl SimNetwork {
    pub fn new(handle: Handle) -> Self {
        SimNetwork { handle }
    }
}

/// Claims `port` on the handle's node in `endpoints`, or fails as the OS would.
fn bind<T>(endpoints: &mut BTreeMap<(NodeId, u16), Endpoint<T>>, handle: &Handle, port: u16, what: &str) -> Result<()> {
    let key = (handle.node, port);
    if endpoints.contains_key(&key) {
        return Err(Error::io(IoErrorKind::AddrInUse, format!("{what} port {port}")));
    }
    endpoints.insert(key, Endpoint { incarnation: handle.incarnation, queue: VecDeque::new(), waker: None });
    Ok(())
}

impl Network for SimNetwork {
    fn listen(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let mut world = lock(&self.handle.shared.world);
            bind(&mut world.net.listeners, &self.handle, port, "listen on")?;
            Ok(Box::new(SimListener { handle: self.handle.clone(), port }) as Box<dyn Listener>)
        })
    }

    fn connect<'a>(&'a self, addr: &'a NetAddr) -> BoxFuture<'a, Result<Box<dyn Stream>>> {
        Box::pin(async move {
            let completion = {
                let mut world = lock(&self.handle.shared.world);
                let Some(target) = node_named(&world, &addr.host) else {
                    return Err(Error::io(IoErrorKind::ConnectionRefused, format!("connect to unknown host {addr}")));
                };
                let latency_nanos = world.options.network.latency_us * 1_000;
                let delay = world.jitter_nanos(latency_nanos);
                let source = self.handle.node;
                let port = addr.port;
                self.handle.after(&mut world, delay, "connect", move |world| establish(world, source, target, port))
            };
            let (conn, timeout) = completion.await;
            if timeout {
                // The SYN went into a partition; the caller waits out the timeout.
                let sleep = {
                    let mut world = lock(&self.handle.shared.world);
                    self.handle.after(&mut world, CONNECT_TIMEOUT_MILLIS * 1_000_000, "connect-timeout", |_| ())
                };
                sleep.await;
                return Err(Error::io(IoErrorKind::TimedOut, format!("connect to {addr}")));
            }
            let conn = conn?;
            Ok(Box::new(SimStream { handle: self.handle.clone(), conn, side: 0 }) as Box<dyn Stream>)
        })
    }

    fn bind_datagram(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn DatagramSocket>>> {
        Box::pin(async move {
            let mut world = lock(&self.handle.shared.world);
            bind(&mut world.net.sockets, &self.handle, port, "bind datagram")?;
            Ok(Box::new(SimSocket { handle: self.handle.clone(), port }) as Box<dyn DatagramSocket>)
        })
    }
}

/// The SYN arrives: returns the new connection, or whether it timed out.
fn establish(world: &mut World, source: NodeId, target: NodeId, port: u16) -> (Result<u64>, bool) {
    if world.net.blocked(source, target) {
        return (Err(reset_error("partitioned")), true);
    }
    let refused = || Err(Error::io(IoErrorKind::ConnectionRefused, format!("connect to port {port}")));
    let up = world.nodes[target].up;
    let conn = world.net.next_conn;
    let source_name = world.nodes[source].name.clone();
    let Some(listener) = world.net.listeners.get_mut(&(target, port)) else { return (refused(), false) };
    if !up || listener.queue.len() >= BACKLOG_MAX {
        return (refused(), false);
    }
    let peer_port = u16::try_from(EPHEMERAL_PORT_BASE + conn % 20_000).unwrap_or(u16::MAX);
    listener.queue.push_back((conn, NetAddr::new(source_name, peer_port)));
    if let Some(waker) = listener.waker.take() {
        waker.wake();
    }
    world.net.next_conn += 1;
    world.net.conns.insert(conn, Conn { ends: [End::new(source), End::new(target)], reset: false });
    (Ok(conn), false)
}

struct SimListener {
    handle: Handle,
    port: u16,
}

impl Listener for SimListener {
    fn accept(&self) -> BoxFuture<'_, Result<(Box<dyn Stream>, NetAddr)>> {
        Box::pin(poll_fn(move |cx| {
            let mut world = lock(&self.handle.shared.world);
            let Some(listener) = world.net.listeners.get_mut(&(self.handle.node, self.port)) else {
                return Poll::Ready(Err(reset_error("listener closed")));
            };
            match listener.queue.pop_front() {
                Some((conn, peer)) => {
                    let stream = SimStream { handle: self.handle.clone(), conn, side: 1 };
                    Poll::Ready(Ok((Box::new(stream) as Box<dyn Stream>, peer)))
                }
                None => {
                    listener.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }
}

impl Drop for SimListener {
    fn drop(&mut self) {
        let mut world = lock(&self.handle.shared.world);
        let key = (self.handle.node, self.port);
        if world.net.listeners.get(&key).is_some_and(|l| l.incarnation == self.handle.incarnation) {
            world.net.listeners.remove(&key);
        }
    }
}

struct SimStream {
    handle: Handle,
    conn: u64,
    side: usize,
}

impl Stream for SimStream {
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        let (conn_id, side) = (self.conn, self.side);
        let shared = self.handle.shared.clone();
        Box::pin(poll_fn(move |cx| {
            let mut world = lock(&shared.world);
            let Some(conn) = world.net.conns.get_mut(&conn_id) else { return Poll::Ready(Err(reset_error("read"))) };
            let reset = conn.reset;
            let end = &mut conn.ends[side];
            if !end.received.is_empty() {
                let count = buf.len().min(end.received.len());
                for (slot, byte) in buf.iter_mut().zip(end.received.drain(..count)) {
                    *slot = byte;
                }
                // Space freed: the peer's writer may go on.
                if let Some(waker) = conn.ends[1 - side].write_waker.take() {
                    waker.wake();
                }
                return Poll::Ready(Ok(count));
            }
            if reset {
                return Poll::Ready(Err(reset_error("read")));
            }
            if end.peer_closed || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            end.read_waker = Some(cx.waker().clone());
            Poll::Pending
        }))
    }

    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let (conn_id, side, node) = (self.conn, self.side, self.handle.node);
        let shared = self.handle.shared.clone();
        let mut sent = 0usize;
        Box::pin(poll_fn(move |cx| {
            let mut world = lock(&shared.world);
            loop {
                if sent == data.len() {
                    return Poll::Ready(Ok(()));
                }
                let Some(conn) = world.net.conns.get_mut(&conn_id) else {
                    return Poll::Ready(Err(reset_error("write")));
                };
                if conn.reset || conn.ends[1 - side].closed {
                    return Poll::Ready(Err(reset_error("write")));
                }
                let buffered = conn.ends[1 - side].received.len() + conn.ends[side].in_flight_bytes;
                let space = STREAM_BUFFER_BYTES.saturating_sub(buffered);
                if space == 0 {
                    conn.ends[side].write_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                let chunk = data[sent..].len().min(space);
                send_segment(&mut world, node, conn_id, side, data[sent..sent + chunk].to_vec());
                sent += chunk;
            }
        }))
    }
}

/// Puts one segment in flight from `side` to the other end.
fn send_segment(world: &mut World, node: NodeId, conn_id: u64, side: usize, segment: Vec<u8>) {
    let latency = world.jitter_nanos(world.options.network.latency_us * 1_000);
    let resets = world.chance(world.options.network.reset_probability);
    let now = world.now_nanos;
    let conn = world.net.conns.get_mut(&conn_id).expect("caller checked the connection");
    let arrival = (now + latency).max(conn.ends[side].last_arrival_nanos);
    conn.ends[side].last_arrival_nanos = arrival;
    conn.ends[side].in_flight_bytes += segment.len();
    let target = conn.ends[1 - side].node;
    if resets {
        world.fault(FaultKind::NetReset, node, conn_id);
    }
    let action = Box::new(move |world: &mut World| deliver_segment(world, conn_id, side, segment, resets));
    world.schedule(arrival, Event::Action { node: target, incarnation: None, what: "segment", action });
}

fn deliver_segment(world: &mut World, conn_id: u64, side: usize, segment: Vec<u8>, resets: bool) {
    let Some(conn) = world.net.conns.get(&conn_id) else { return };
    if conn.reset {
        return;
    }
    let (from, to) = (conn.ends[side].node, conn.ends[1 - side].node);
    let partitioned = world.net.blocked(from, to);
    if partitioned {
        world.fault(FaultKind::NetReset, from, conn_id);
    }
    let conn = world.net.conns.get_mut(&conn_id).expect("checked above");
    if resets || partitioned {
        conn.reset();
        return;
    }
    conn.ends[side].in_flight_bytes -= segment.len();
    let end = &mut conn.ends[1 - side];
    end.received.extend(segment);
    if let Some(waker) = end.read_waker.take() {
        waker.wake();
    }
}

impl Drop for SimStream {
    /// Closes this end: the peer reads end-of-stream once what was sent arrives.
    fn drop(&mut self) {
        let mut world = lock(&self.handle.shared.world);
        let (conn_id, side) = (self.conn, self.side);
        let now = world.now_nanos;
        let Some(conn) = world.net.conns.get_mut(&conn_id) else { return };
        conn.ends[side].closed = true;
        if conn.reset || conn.ends[1 - side].closed {
            world.net.conns.remove(&conn_id);
            return;
        }
        let at = conn.ends[side].last_arrival_nanos.max(now);
        let target = conn.ends[1 - side].node;
        let action = Box::new(move |world: &mut World| {
            if let Some(conn) = world.net.conns.get_mut(&conn_id) {
                conn.ends[1 - side].peer_closed = true;
                conn.ends[1 - side].wake_all();
            }
        });
        world.schedule(at, Event::Action { node: target, incarnation: None, what: "fin", action });
    }
}

struct SimSocket {
    handle: Handle,
    port: u16,
}

impl DatagramSocket for SimSocket {
    fn send_to<'a>(&'a self, addr: &'a NetAddr, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if data.len() > MAX_DATAGRAM_BYTES {
                return Err(Error::io(IoErrorKind::InvalidInput, format!("datagram of {} bytes", data.len())));
            }
            let mut world = lock(&self.handle.shared.world);
            let Some(target) = node_named(&world, &addr.host) else { return Ok(()) };
            let source = self.handle.node;
            let from = NetAddr::new(world.nodes[source].name.clone(), self.port);
            send_datagram(&mut world, source, target, addr.port, from, data);
            Ok(())
        })
    }

    fn recv_from(&self) -> BoxFuture<'_, Result<(Vec<u8>, NetAddr)>> {
        Box::pin(poll_fn(move |cx| {
            let mut world = lock(&self.handle.shared.world);
            let Some(socket) = world.net.sockets.get_mut(&(self.handle.node, self.port)) else {
                return Poll::Ready(Err(reset_error("socket closed")));
            };
            match socket.queue.pop_front() {
                Some(datagram) => Poll::Ready(Ok(datagram)),
                None => {
                    socket.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }
}

/// Sends one datagram through the fault model.
fn send_datagram(world: &mut World, source: NodeId, target: NodeId, port: u16, from: NetAddr, data: &[u8]) {
    let options = world.options.network.clone();
    if world.net.blocked(source, target) {
        return;
    }
    if world.chance(options.loss_probability) {
        world.fault(FaultKind::NetLoss, source, u64::from(port));
        return;
    }
    let mut copies = 1;
    if world.chance(options.duplicate_probability) {
        world.fault(FaultKind::NetDuplicate, source, u64::from(port));
        copies = 2;
    }
    for _ in 0..copies {
        let mut delay = world.jitter_nanos(options.latency_us * 1_000);
        if world.chance(options.reorder_probability) {
            world.fault(FaultKind::NetReorder, source, u64::from(port));
            delay += world.jitter_nanos(options.reorder_delay_ms * 1_000_000);
        }
        let (payload, from) = (data.to_vec(), from.clone());
        let action = Box::new(move |world: &mut World| {
            let up = world.nodes[target].up;
            let Some(socket) = world.net.sockets.get_mut(&(target, port)) else { return };
            if !up || socket.queue.len() >= INBOX_DATAGRAMS_MAX {
                return;
            }
            socket.queue.push_back((payload, from));
            if let Some(waker) = socket.waker.take() {
                waker.wake();
            }
        });
        let at = world.now_nanos + delay;
        world.schedule(at, Event::Action { node: target, incarnation: None, what: "datagram", action });
    }
}

impl Drop for SimSocket {
    fn drop(&mut self) {
        let mut world = lock(&self.handle.shared.world);
        let key = (self.handle.node, self.port);
        if world.net.sockets.get(&key).is_some_and(|s| s.incarnation == self.handle.incarnation) {
            world.net.sockets.remove(&key);
        }
    }
}
