//! [`TcpNetwork`]: node-to-node streams over TCP and datagrams over UDP.
//!
//! A [`NetAddr`] host is a host name or IP address resolved by the OS; this
//! node listens and binds on `bind_host`. Peer addresses are reported as IP
//! strings, so a reply can be sent straight back to them.

use std::net::SocketAddr;

use rustydb_core::env::{BoxFuture, DatagramSocket, Listener, MAX_DATAGRAM_BYTES, NetAddr, Network, Stream};
use rustydb_core::{Error, IoErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::error::from_io;

/// The production [`Network`].
#[derive(Debug, Clone)]
pub struct TcpNetwork {
    bind_host: String,
}

impl TcpNetwork {
    /// Listens and binds on `bind_host` (an IP address or host name).
    pub fn new(bind_host: impl Into<String>) -> Self {
        TcpNetwork { bind_host: bind_host.into() }
    }

    /// [`Network::listen`] with the concrete type, whose port can be read back.
    pub async fn listen_tcp(&self, port: u16) -> Result<TcpAcceptor> {
        let listener = TcpListener::bind((self.bind_host.as_str(), port))
            .await
            .map_err(|err| net_error(&err, &format!("listen on {}:{port}", self.bind_host)))?;
        Ok(TcpAcceptor { listener })
    }

    /// [`Network::bind_datagram`] with the concrete type.
    pub async fn bind_udp(&self, port: u16) -> Result<UdpDatagramSocket> {
        let socket = UdpSocket::bind((self.bind_host.as_str(), port))
            .await
            .map_err(|err| net_error(&err, &format!("bind datagram socket on {}:{port}", self.bind_host)))?;
        Ok(UdpDatagramSocket { socket })
    }
}

impl Default for TcpNetwork {
    /// Loopback only: exposing a node beyond the machine must be a choice.
    fn default() -> Self {
        TcpNetwork::new("127.0.0.1")
    }
}

impl Network for TcpNetwork {
    fn listen(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn Listener>>> {
        Box::pin(async move { Ok(Box::new(self.listen_tcp(port).await?) as Box<dyn Listener>) })
    }

    fn connect<'a>(&'a self, addr: &'a NetAddr) -> BoxFuture<'a, Result<Box<dyn Stream>>> {
        Box::pin(async move {
            let stream = TcpStream::connect((addr.host.as_str(), addr.port))
                .await
                .map_err(|err| net_error(&err, &format!("connect to {addr}")))?;
            Ok(Box::new(TcpConnection::new(stream, addr.to_string())?) as Box<dyn Stream>)
        })
    }

    fn bind_datagram(&self, port: u16) -> BoxFuture<'_, Result<Box<dyn DatagramSocket>>> {
        Box::pin(async move { Ok(Box::new(self.bind_udp(port).await?) as Box<dyn DatagramSocket>) })
    }
}

/// A listening TCP socket.
pub struct TcpAcceptor {
    listener: TcpListener,
}

impl TcpAcceptor {
    /// The bound port; tells tests which port 0 chose.
    pub fn local_port(&self) -> Result<u16> {
        local_port(self.listener.local_addr())
    }
}

impl Listener for TcpAcceptor {
    fn accept(&self) -> BoxFuture<'_, Result<(Box<dyn Stream>, NetAddr)>> {
        Box::pin(async move {
            let (stream, peer) = self.listener.accept().await.map_err(|err| net_error(&err, "accept"))?;
            let peer = net_addr(peer);
            Ok((Box::new(TcpConnection::new(stream, peer.to_string())?) as Box<dyn Stream>, peer))
        })
    }
}

/// One end of a TCP connection; `peer` names it in errors.
struct TcpConnection {
    stream: TcpStream,
    peer: String,
}

impl TcpConnection {
    fn new(stream: TcpStream, peer: String) -> Result<Self> {
        // The engine sends small request/reply messages; Nagle's algorithm
        // with delayed acks would hold each back by tens of milliseconds.
        stream.set_nodelay(true).map_err(|err| net_error(&err, &format!("set TCP_NODELAY for {peer}")))?;
        Ok(TcpConnection { stream, peer })
    }
}

impl Stream for TcpConnection {
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            self.stream.read(buf).await.map_err(|err| net_error(&err, &format!("read from {}", self.peer)))
        })
    }

    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.stream.write_all(data).await.map_err(|err| net_error(&err, &format!("write to {}", self.peer)))
        })
    }
}

/// A bound UDP socket.
pub struct UdpDatagramSocket {
    socket: UdpSocket,
}

impl UdpDatagramSocket {
    /// The bound port; tells tests which port 0 chose.
    pub fn local_port(&self) -> Result<u16> {
        local_port(self.socket.local_addr())
    }
}

impl DatagramSocket for UdpDatagramSocket {
    fn send_to<'a>(&'a self, addr: &'a NetAddr, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if data.len() > MAX_DATAGRAM_BYTES {
                let context =
                    format!("send_to {addr}: {} bytes exceeds the {MAX_DATAGRAM_BYTES}-byte limit", data.len());
                return Err(Error::io(IoErrorKind::InvalidInput, context));
            }
            self.socket
                .send_to(data, (addr.host.as_str(), addr.port))
                .await
                .map(drop)
                .map_err(|err| net_error(&err, &format!("send_to {addr}")))
        })
    }

    fn recv_from(&self) -> BoxFuture<'_, Result<(Vec<u8>, NetAddr)>> {
        Box::pin(async move {
            // One spare byte reveals datagrams over the limit (only a foreign
            // sender makes them). They are dropped, which the contract allows,
            // rather than truncated, which would break "arrives whole".
            let mut buf = vec![0; MAX_DATAGRAM_BYTES + 1];
            loop {
                let (len, from) = self.socket.recv_from(&mut buf).await.map_err(|err| net_error(&err, "recv_from"))?;
                if len <= MAX_DATAGRAM_BYTES {
                    buf.truncate(len);
                    return Ok((buf, net_addr(from)));
                }
            }
        })
    }
}

fn net_error(err: &std::io::Error, context: &str) -> Error {
    from_io(err, IoErrorKind::Other, context)
}

fn net_addr(addr: SocketAddr) -> NetAddr {
    NetAddr::new(addr.ip().to_string(), addr.port())
}

fn local_port(addr: std::io::Result<SocketAddr>) -> Result<u16> {
    addr.map(|addr| addr.port()).map_err(|err| net_error(&err, "local_addr"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_exactly(stream: &mut dyn Stream, len: usize) -> Vec<u8> {
        let mut received = vec![0; len];
        let mut filled = 0;
        while filled < len {
            let n = stream.read(&mut received[filled..]).await.unwrap();
            assert_ne!(n, 0, "stream closed early");
            filled += n;
        }
        received
    }

    #[tokio::test]
    async fn tcp_echo_and_clean_close() {
        let network = TcpNetwork::default();
        let acceptor = network.listen_tcp(0).await.unwrap();
        let port = acceptor.local_port().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, peer) = acceptor.accept().await.unwrap();
            assert_eq!(peer.host, "127.0.0.1");
            let request = read_exactly(stream.as_mut(), 4).await;
            stream.write_all(&request).await.unwrap();
            let mut rest = [0; 1];
            assert_eq!(stream.read(&mut rest).await.unwrap(), 0, "client closed cleanly");
        });

        let mut client = network.connect(&NetAddr::new("127.0.0.1", port)).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        assert_eq!(read_exactly(client.as_mut(), 4).await, b"ping");
        drop(client);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn tcp_errors_are_classified() {
        let network = TcpNetwork::default();
        let acceptor = network.listen_tcp(0).await.unwrap();
        let port = acceptor.local_port().unwrap();
        let taken = network.listen(port).await.err().and_then(|err| err.io_kind());
        assert_eq!(taken, Some(IoErrorKind::AddrInUse));
        drop(acceptor);
        let refused = network.connect(&NetAddr::new("127.0.0.1", port)).await.err().and_then(|err| err.io_kind());
        assert_eq!(refused, Some(IoErrorKind::ConnectionRefused));
    }

    #[tokio::test]
    async fn udp_round_trip_and_size_limit() {
        let network = TcpNetwork::default();
        let (a, b) = (network.bind_udp(0).await.unwrap(), network.bind_udp(0).await.unwrap());
        let to_b = NetAddr::new("127.0.0.1", b.local_port().unwrap());
        let largest = vec![7; MAX_DATAGRAM_BYTES];
        a.send_to(&to_b, &largest).await.unwrap();
        let (data, from) = b.recv_from().await.unwrap();
        assert_eq!(data, largest);
        assert_eq!(from, NetAddr::new("127.0.0.1", a.local_port().unwrap()));

        let oversized = a.send_to(&to_b, &[0; MAX_DATAGRAM_BYTES + 1]).await;
        assert_eq!(oversized.err().and_then(|err| err.io_kind()), Some(IoErrorKind::InvalidInput));
    }
}
