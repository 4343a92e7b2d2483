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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::{Authentication, PasswordMessageFamily, SASLInitialResponse, SASLResponse, Startup};
use pgwire::messages::terminate::Terminate;
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage};
use rustydb_core::env::{Env, NetAddr, Stream};
use rustydb_core::sql::roles::ScramVerifier;
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
    /// Connects to `addr`, sends the startup packet, logs in with
    /// SCRAM-SHA-256 and waits for the first ReadyForQuery.
    pub async fn connect(env: &Env, addr: &NetAddr, user: &str, password: &str) -> Result<WireClient> {
        let stream = env.network.connect(addr).await?;
        let mut client = WireClient { stream, input: BytesMut::new(), decode: DecodeContext::default() };
        let mut startup = Startup::new();
        startup.parameters.insert("user".to_string(), user.to_string());
        startup.parameters.insert("database".to_string(), "rustydb".to_string());
        client.send(&PgWireFrontendMessage::Startup(startup)).await?;
        if let Err(e) = client.scram_login(env, password).await {
            return Err(Error::sql("08004", format!("login: {e}")));
        }
        match client.read_reply().await? {
            Reply::Complete { .. } => Ok(client),
            Reply::Failed { sqlstate, message } => Err(Error::sql("08004", format!("startup {sqlstate}: {message}"))),
        }
    }

    /// Answers the server's SCRAM-SHA-256 challenge and checks its final
    /// signature; an ErrorResponse is left for `read_reply`.
    async fn scram_login(&mut self, env: &Env, password: &str) -> Result<()> {
        let mut nonce = [0u8; 18];
        env.random.fill(&mut nonce);
        let client_first_bare = format!("n=,r={}", BASE64.encode(nonce));
        let mut expected_signature = None;
        loop {
            match self.read_message().await? {
                PgWireBackendMessage::Authentication(Authentication::Ok) => return Ok(()),
                PgWireBackendMessage::Authentication(Authentication::SASL(_)) => {
                    let first = Bytes::from(format!("n,,{client_first_bare}"));
                    let response = SASLInitialResponse::new("SCRAM-SHA-256".into(), Some(first));
                    self.send_password_message(PasswordMessageFamily::SASLInitialResponse(response)).await?;
                }
                PgWireBackendMessage::Authentication(Authentication::SASLContinue(server_first)) => {
                    let server_first = String::from_utf8_lossy(&server_first).to_string();
                    let (combined_nonce, salt, iterations) = parse_server_first(&server_first)?;
                    let without_proof = format!("c=biws,r={combined_nonce}");
                    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                    let (proof, signature) =
                        ScramVerifier::client_proof(password.as_bytes(), &salt, iterations, auth_message.as_bytes());
                    expected_signature = Some(format!("v={}", BASE64.encode(signature)));
                    let last = Bytes::from(format!("{without_proof},p={}", BASE64.encode(proof)));
                    self.send_password_message(PasswordMessageFamily::SASLResponse(SASLResponse::new(last))).await?;
                }
                PgWireBackendMessage::Authentication(Authentication::SASLFinal(server_final)) => {
                    if expected_signature.as_deref().map(str::as_bytes) != Some(&server_final[..]) {
                        return Err(Error::sql("28000", "the server's SCRAM signature is wrong"));
                    }
                }
                PgWireBackendMessage::ErrorResponse(error) => {
                    return match failed(&error) {
                        Reply::Failed { sqlstate, message } => {
                            Err(Error::sql("28000", format!("{sqlstate}: {message}")))
                        }
                        Reply::Complete { .. } => Err(Error::sql("28000", "login refused")),
                    };
                }
                other => return Err(Error::sql("08P01", format!("unexpected message during login: {other:?}"))),
            }
        }
    }

    async fn send_password_message(&mut self, message: PasswordMessageFamily) -> Result<()> {
        self.send(&PgWireFrontendMessage::PasswordMessageFamily(message)).await
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

/// `r=nonce,s=salt,i=iterations` from the server's first SCRAM message.
fn parse_server_first(text: &str) -> Result<(String, Vec<u8>, u32)> {
    let bad = || Error::sql("08P01", format!("malformed SCRAM server message {text:?}"));
    let mut parts = (None, None, None);
    for attribute in text.split(',') {
        match attribute.split_once('=') {
            Some(("r", v)) => parts.0 = Some(v.to_string()),
            Some(("s", v)) => parts.1 = Some(BASE64.decode(v).map_err(|_| bad())?),
            Some(("i", v)) => parts.2 = Some(v.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    match parts {
        (Some(nonce), Some(salt), Some(iterations)) => Ok((nonce, salt, iterations)),
        _ => Err(bad()),
    }
}
