//! A minimal PostgreSQL wire-protocol client for simulated nodes: startup,
//! the simple query protocol, and the ways a client can misbehave (send and
//! leave, send garbage, vanish). It speaks over an Env [`Stream`], so the
//! real server's connection code sees exactly the bytes a network client
//! would send.
//!
//! pgwire encodes the frontend messages and decodes the backend's; this
//! file only sequences them. Replies are bounded: a message longer than
//! [`REPLY_MESSAGE_BYTES_MAX`] or a reply of more than
//! [`REPLY_MESSAGES_MAX`] messages is a protocol error, never unbounded
//! buffering.

use bytes::BytesMut;
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::Startup;
use pgwire::messages::terminate::Terminate;
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage};
use rustydb_core::env::{Env, NetAddr, Stream};
use rustydb_core::{Error, IoErrorKind, Result};

/// The longest backend message this client accepts.
pub const REPLY_MESSAGE_BYTES_MAX: usize = 1 << 20;
/// The most messages one reply (up to ReadyForQuery) may hold.
pub const REPLY_MESSAGES_MAX: usize = 10_000;
/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 4096;

/// What the server answered to one simple Query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The last CommandComplete's tag (`COMMIT`, `UPDATE 1`, …).
    Complete { tag: String },
    /// The first ErrorResponse's SQLSTATE and message.
    Failed { sqlstate: String, message: String },
}

/// One client connection that has completed startup.
pub struct WireClient {
    stream: Box<dyn Stream>,
    input: BytesMut,
    decode: DecodeContext,
}

impl WireClient {
    /// Connects to `addr`, sends the startup packet and waits for the first
    /// ReadyForQuery.
    pub async fn connect(env: &Env, addr: &NetAddr, user: &str) -> Result<WireClient> {
        let stream = env.network.connect(addr).await?;
        let mut client = WireClient { stream, input: BytesMut::new(), decode: DecodeContext::default() };
        let mut startup = Startup::new();
        startup.parameters.insert("user".to_string(), user.to_string());
        startup.parameters.insert("database".to_string(), "rustydb".to_string());
        client.send(&PgWireFrontendMessage::Startup(startup)).await?;
        match client.read_reply().await? {
            Reply::Complete { .. } => Ok(client),
            Reply::Failed { sqlstate, message } => Err(Error::sql("08004", format!("startup {sqlstate}: {message}"))),
        }
    }

    /// Sends a simple Query and reads its reply.
    pub async fn query(&mut self, sql: &str) -> Result<Reply> {
        self.send_query(sql).await?;
        self.read_reply().await
    }

    /// Sends a simple Query without waiting for the reply.
    pub async fn send_query(&mut self, sql: &str) -> Result<()> {
        self.send(&PgWireFrontendMessage::Query(Query::new(sql.to_string()))).await
    }

    /// Sends raw bytes (garbage, half a message).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Says goodbye properly (Terminate) and closes the stream.
    pub async fn terminate(mut self) {
        let _ = self.send(&PgWireFrontendMessage::Terminate(Terminate::new())).await;
    }

    async fn send(&mut self, message: &PgWireFrontendMessage) -> Result<()> {
        let mut packet = BytesMut::new();
        message.encode(&mut packet).map_err(|e| Error::sql("08P01", format!("encoding a message: {e}")))?;
        self.stream.write_all(&packet).await
    }

    /// Reads backend messages up to ReadyForQuery.
    pub async fn read_reply(&mut self) -> Result<Reply> {
        let mut reply = Reply::Complete { tag: String::new() };
        for _ in 0..REPLY_MESSAGES_MAX {
            match self.read_message().await? {
                PgWireBackendMessage::ReadyForQuery(_) => return Ok(reply),
                PgWireBackendMessage::CommandComplete(complete) => {
                    if matches!(reply, Reply::Complete { .. }) {
                        reply = Reply::Complete { tag: complete.tag };
                    }
                }
                PgWireBackendMessage::ErrorResponse(error) => {
                    let failed = failed(&error);
                    let fatal = error.fields.iter().any(|(code, value)| *code == b'S' && value == "FATAL");
                    if fatal {
                        // The server ends the connection after a FATAL error.
                        return Ok(failed);
                    }
                    if matches!(reply, Reply::Complete { .. }) {
                        reply = failed;
                    }
                }
                _ => {}
            }
        }
        Err(Error::sql("08P01", format!("a reply of more than {REPLY_MESSAGES_MAX} messages")))
    }

    async fn read_message(&mut self) -> Result<PgWireBackendMessage> {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            if self.input.len() >= 5 {
                let length = i32::from_be_bytes([self.input[1], self.input[2], self.input[3], self.input[4]]);
                if !(4..=REPLY_MESSAGE_BYTES_MAX as i32).contains(&length) {
                    return Err(Error::sql("08P01", format!("backend message length {length}")));
                }
            }
            match PgWireBackendMessage::decode(&mut self.input, &self.decode) {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(e) => return Err(Error::sql("08P01", format!("invalid backend message: {e}"))),
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(Error::io(IoErrorKind::ConnectionReset, "server closed the connection"));
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }
}

fn failed(error: &ErrorResponse) -> Reply {
    let field = |code: u8| error.fields.iter().find(|(c, _)| *c == code).map(|(_, v)| v.clone()).unwrap_or_default();
    Reply::Failed { sqlstate: field(b'C'), message: field(b'M') }
}
