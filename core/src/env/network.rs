//! Network: reliable byte streams and unreliable datagrams between nodes.
//!
//! Addresses name a node (`host`) and a `port`. In production the host is a
//! host name or IP address; in the simulator it is the node's name.
//!
//! Guarantees:
//! * **Streams** deliver bytes in order without duplication, or break: after
//!   a reset, bytes written before it may or may not have arrived. Delivery
//!   takes unbounded time (latency, a partition that stalls then resets).
//! * **Datagrams** may be lost, duplicated, delayed and reordered; each one
//!   that arrives arrives whole, at most [`MAX_DATAGRAM_BYTES`] long.
//! * A crashed node's connections reset; its listeners and sockets vanish.

use std::fmt;

use super::BoxFuture;
use crate::Result;

/// The largest datagram any Env accepts, in bytes.
pub const MAX_DATAGRAM_BYTES: usize = 8 * 1024;

/// A node and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetAddr {
    pub host: String,
    pub port: u16,
}

impl NetAddr {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        NetAddr { host: host.into(), port }
    }
}

impl fmt::Display for NetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A node's network interface.
pub trait Network: Send + Sync {
    /// Listens for stream connections on `port` of this node.
    fn listen(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn Listener>>>;
    /// Opens a stream to `addr`.
    fn connect<'a>(&'a self, addr: &'a NetAddr) -> BoxFuture<'a, Result<Box<dyn Stream>>>;
    /// Binds a datagram socket on `port` of this node.
    fn bind_datagram(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn DatagramSocket>>>;
}

/// Accepts incoming streams.
pub trait Listener: Send + Sync {
    /// Waits for the next connection; returns it with the peer's address.
    fn accept(&self) -> BoxFuture<'_, Result<(Box<dyn Stream>, NetAddr)>>;
}

/// One end of a connection.
pub trait Stream: Send {
    /// Reads what has arrived, waiting for at least one byte; `Ok(0)` means
    /// the peer closed the stream cleanly.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>>;
    /// Sends all of `data`, waiting while the peer's receive buffer is full.
    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<()>>;
}

/// An unreliable message socket.
pub trait DatagramSocket: Send + Sync {
    /// Sends one datagram; success means only that it left this node.
    fn send_to<'a>(&'a self, addr: &'a NetAddr, data: &'a [u8]) -> BoxFuture<'a, Result<()>>;
    /// Waits for the next datagram; returns its bytes and sender.
    fn recv_from(&self) -> BoxFuture<'_, Result<(Vec<u8>, NetAddr)>>;
}
