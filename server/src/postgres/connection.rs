//! One client connection speaking the PostgreSQL protocol (version 3.0).
//!
//! pgwire decodes and encodes the messages; this file is the state machine:
//! startup, the simple query protocol (with COPY in both directions), and
//! the extended protocol (Parse/Bind/Describe/Execute/Sync with named
//! statements and portals, partial fetches by `max_rows`).
//!
//! Invariants:
//! * A statement's error is answered with an ErrorResponse carrying its
//!   SQLSTATE and the connection carries on; after an error in the
//!   extended protocol every message up to the next Sync is skipped, as
//!   PostgreSQL does. Only I/O errors and protocol violations end the
//!   connection.
//! * Every buffer is bounded: a message longer than [`MAX_MESSAGE_BYTES`],
//!   COPY input beyond [`MAX_COPY_BYTES`], or more than
//!   [`MAX_PREPARED`] statements or portals is refused with an error.
//! * The connection runs over an Env [`Stream`], so the simulator can
//!   drive it exactly as the production server does.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::FutureExt;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::data::{DataRow, FieldDescription, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, ReadyForQuery, SslResponse, TransactionStatus,
};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, ParameterStatus, PasswordMessageFamily, SecretKey, Startup,
};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage, SslNegotiationMetaMessage};
use rustydb_core::env::{NetAddr, Stream};
use rustydb_core::sql::{
    CopyDirection, DataType, ParsedStatement, PreparedStatement, QueryResult, Session, parse_script,
};
use rustydb_core::{Error, Result};

use super::scram::{self, ScramExchange};
use super::types;
use crate::audit;
use crate::auth::{AuthMethod, Authenticator, Origin};
use crate::registry::{ConnectionId, Registry};

/// The longest protocol message accepted (a query, a Bind, a COPY chunk).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// The most data one COPY FROM STDIN may send.
pub const MAX_COPY_BYTES: usize = 1 << 30;
/// How many named prepared statements (and, separately, portals) one
/// connection may hold.
pub const MAX_PREPARED: usize = 10_000;
/// Output is flushed to the socket once this much is buffered.
const FLUSH_BYTES: usize = 64 << 10;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 << 10;

/// A prepared statement of the extended protocol.
struct Statement {
    /// Taken out while the statement runs (its plan cache is updated).
    prepared: Option<PreparedStatement>,
    /// An empty query string: executing it answers EmptyQueryResponse.
    empty: bool,
}

/// A bound statement, ready to execute.
struct Portal {
    statement: String,
    params: Vec<rustydb_core::sql::Value>,
    result_formats: Vec<i16>,
    columns: Vec<rustydb_core::sql::ResultColumn>,
    /// Rows of a result already computed and not yet sent (partial fetch).
    pending: Option<(QueryResult, usize)>,
}

/// Why the message loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The client sent Terminate or closed the socket.
    ClientLeft,
    /// The connection was only a cancel request.
    CancelRequest,
}

pub struct Connection {
    stream: Box<dyn Stream>,
    input: BytesMut,
    /// Where socket reads land before `input` takes them; allocated once,
    /// not per read (a zeroed 64 KiB buffer per message cost ~7% of CPU).
    read_buffer: Box<[u8]>,
    output: BytesMut,
    decode: DecodeContext,
    session: Session,
    statements: BTreeMap<String, Statement>,
    portals: BTreeMap<String, Portal>,
    /// After an error in the extended protocol: skip to the next Sync.
    skipping: bool,
    registry: Arc<Registry>,
    id: ConnectionId,
    auth: Arc<Authenticator>,
    origin: Origin,
    /// The role that logged in (set once startup succeeds).
    user: String,
    /// The server's TLS settings; `None` refuses SSLRequests.
    tls: super::TlsConfig,
}

impl Connection {
    pub fn new(
        stream: Box<dyn Stream>,
        peer: &NetAddr,
        session: Session,
        registry: Arc<Registry>,
        auth: Arc<Authenticator>,
        tls: super::TlsConfig,
    ) -> Connection {
        let id = registry.register(session.cancel.clone());
        Connection {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK),
            read_buffer: vec![0; READ_CHUNK].into_boxed_slice(),
            output: BytesMut::with_capacity(FLUSH_BYTES),
            decode: DecodeContext::default(),
            session,
            statements: BTreeMap::new(),
            portals: BTreeMap::new(),
            skipping: false,
            registry,
            id,
            auth,
            origin: Origin { host: peer.host.clone(), via: "pg" },
            user: String::new(),
            tls,
        }
    }

    /// Runs the connection to its end. Errors are I/O failures and protocol
    /// violations (already reported to the client where possible).
    pub async fn run(mut self) -> Result<Ended> {
        let outcome = self.serve().await;
        self.registry.unregister(self.id);
        if let Err(e) = &outcome {
            // Best effort: the socket may be what failed.
            let _ = self.send_error(e, "FATAL");
            let _ = self.flush().await;
        }
        outcome
    }

    async fn serve(&mut self) -> Result<Ended> {
        if let Some(ended) = self.startup().await? {
            return Ok(ended);
        }
        loop {
            if self.registry.shutting_down() {
                return Err(shutting_down());
            }
            let Some(message) = self.read_message().await? else { return Ok(Ended::ClientLeft) };
            if self.skipping && !matches!(message, PgWireFrontendMessage::Sync(_) | PgWireFrontendMessage::Terminate(_))
            {
                continue;
            }
            match message {
                PgWireFrontendMessage::Query(q) => self.simple_query(&q.query).await?,
                PgWireFrontendMessage::Parse(m) => {
                    let outcome = self.parse(m).await?;
                    self.extended_step(outcome).await?;
                }
                PgWireFrontendMessage::Bind(m) => {
                    let outcome = self.bind(m)?;
                    self.extended_step(outcome).await?;
                }
                PgWireFrontendMessage::Describe(m) => {
                    let outcome = self.describe(m)?;
                    self.extended_step(outcome).await?;
                }
                PgWireFrontendMessage::Execute(m) => {
                    let outcome = self.execute(m).await?;
                    self.extended_step(outcome).await?;
                }
                PgWireFrontendMessage::Close(m) => {
                    let outcome = self.close(m)?;
                    self.extended_step(outcome).await?;
                }
                PgWireFrontendMessage::Sync(_) => {
                    self.skipping = false;
                    self.ready_for_query().await?;
                }
                PgWireFrontendMessage::Flush(_) => self.flush().await?,
                PgWireFrontendMessage::Terminate(_) => return Ok(Ended::ClientLeft),
                PgWireFrontendMessage::CopyData(_)
                | PgWireFrontendMessage::CopyDone(_)
                | PgWireFrontendMessage::CopyFail(_) => {
                    // PostgreSQL ignores COPY messages outside COPY mode
                    // (they may trail a COPY that failed early).
                }
                other => return Err(protocol(format!("unexpected message {}", message_name(&other)))),
            }
        }
    }

    /// SSL negotiation, the startup packet and authentication; `Some` if the
    /// connection ends there (a cancel request).
    async fn startup(&mut self) -> Result<Option<Ended>> {
        loop {
            let Some(message) = self.read_message().await? else { return Ok(Some(Ended::ClientLeft)) };
            match message {
                PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None) => {
                    self.decode.awaiting_frontend_ssl = false;
                }
                PgWireFrontendMessage::SslNegotiation(_) => self.negotiate_tls().await?,
                PgWireFrontendMessage::CancelRequest(cancel) => {
                    self.cancel_other(&cancel);
                    return Ok(Some(Ended::CancelRequest));
                }
                PgWireFrontendMessage::Startup(startup) => {
                    self.decode.awaiting_frontend_startup = false;
                    return self.accept_startup(&startup).await;
                }
                other => return Err(protocol(format!("unexpected {} during startup", message_name(&other)))),
            }
        }
    }

    /// Answers an SSLRequest: with a certificate configured, `S` and the
    /// handshake; without, `N` (the client may carry on in plaintext).
    async fn negotiate_tls(&mut self) -> Result<()> {
        let Some(config) = self.tls.clone() else {
            self.send(PgWireBackendMessage::SslResponse(SslResponse::Refuse))?;
            return self.flush().await;
        };
        if !self.input.is_empty() {
            // Bytes sent before the handshake would be taken as if they came
            // through it (CVE-2021-23214): refuse them.
            return Err(protocol("received unencrypted data after SSL request"));
        }
        self.send(PgWireBackendMessage::SslResponse(SslResponse::Accept))?;
        self.flush().await?;
        let plain = std::mem::replace(&mut self.stream, Box::new(Closed));
        self.stream = Box::new(super::tls::TlsStream::accept(plain, config).await?);
        // One negotiation per connection: a second SSLRequest is not one.
        self.decode.awaiting_frontend_ssl = false;
        Ok(())
    }

    fn cancel_other(&self, cancel: &CancelRequest) {
        let secret = match &cancel.secret_key {
            SecretKey::I32(secret) => Some(*secret),
            SecretKey::Bytes(bytes) => <[u8; 4]>::try_from(bytes.as_ref()).ok().map(i32::from_be_bytes),
        };
        let cancelled = secret.is_some_and(|secret| self.registry.cancel(cancel.pid, secret));
        tracing::debug!(pid = cancel.pid, cancelled, "cancel request");
    }

    /// Authenticates the client and applies its startup parameters; `Some`
    /// if the client left during authentication (psql does, to ask for a
    /// password).
    async fn accept_startup(&mut self, startup: &Startup) -> Result<Option<Ended>> {
        if startup.protocol_number_major != 3 {
            return Err(protocol(format!("unsupported frontend protocol {}", startup.protocol_number_major)));
        }
        let user = startup.parameters.get("user").cloned().unwrap_or_default();
        if user.is_empty() {
            return Err(Error::sql("28000", "no PostgreSQL user name specified in startup packet"));
        }
        if !self.authenticate(&user).await? {
            return Ok(Some(Ended::ClientLeft));
        }
        let role = self.session.database().role(&user).await?;
        let Some(role) = role.filter(|r| r.login) else {
            return Err(Error::sql("28000", format!("role \"{user}\" does not exist or may not log in")));
        };
        self.session.set_user(&user);
        self.user = user.clone();
        for (name, value) in &startup.parameters {
            self.apply_startup_parameter(name, value).await?;
        }
        self.send(PgWireBackendMessage::Authentication(Authentication::Ok))?;
        // The settings PostgreSQL reports at startup, as SHOW reports them.
        let reported =
            ["server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone"];
        let reported = reported.iter().chain(&["integer_datetimes", "standard_conforming_strings", "application_name"]);
        let mut status: Vec<(String, String)> =
            reported.map(|name| (name.to_string(), self.session.setting(name).unwrap_or_default())).collect();
        status.push(("is_superuser".into(), if role.superuser { "on" } else { "off" }.into()));
        status.push(("session_authorization".into(), user));
        for (name, value) in status {
            self.send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(name, value)))?;
        }
        let (pid, secret) = self.registry.key(self.id);
        self.send(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(pid, SecretKey::I32(secret))))?;
        self.ready_for_query().await?;
        Ok(None)
    }

    /// The SCRAM-SHA-256 exchange for `user` (nothing under `trust`);
    /// false if the client left before finishing it.
    async fn authenticate(&mut self, user: &str) -> Result<bool> {
        let auth = self.auth.clone();
        if auth.method() == AuthMethod::Trust {
            auth.succeeded(user, &self.origin).await?;
            return Ok(true);
        }
        auth.admit(user, &self.origin).await?;
        let verifier = auth.scram_verifier(user).await?;
        self.send(PgWireBackendMessage::Authentication(Authentication::SASL(vec![scram::MECHANISM.into()])))?;
        self.flush().await?;
        let Some(initial) = self.read_password_message().await? else { return Ok(false) };
        let initial = initial.into_sasl_initial_response().map_err(|e| protocol(format!("bad SASL message: {e}")))?;
        if initial.auth_method != scram::MECHANISM {
            return Err(Error::sql("28000", format!("unsupported SASL mechanism {:?}", initial.auth_method)));
        }
        let client_first = initial.data.unwrap_or_default();
        let (exchange, server_first) = ScramExchange::start(&client_first, verifier, &auth.server_nonce())?;
        self.send(PgWireBackendMessage::Authentication(Authentication::SASLContinue(Bytes::from(server_first))))?;
        self.flush().await?;
        let Some(response) = self.read_password_message().await? else { return Ok(false) };
        let response = response.into_sasl_response().map_err(|e| protocol(format!("bad SASL message: {e}")))?;
        match exchange.finish(&response.data)? {
            Some(server_final) => {
                auth.succeeded(user, &self.origin).await?;
                let server_final = Bytes::from(server_final);
                self.send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(server_final)))?;
                Ok(true)
            }
            None => Err(auth.failed(user, &self.origin).await),
        }
    }

    /// The next message, which must be a password message; `None` if the
    /// client closed the connection.
    async fn read_password_message(&mut self) -> Result<Option<PasswordMessageFamily>> {
        match self.read_message().await? {
            None | Some(PgWireFrontendMessage::Terminate(_)) => Ok(None),
            Some(PgWireFrontendMessage::PasswordMessageFamily(message)) => Ok(Some(message)),
            Some(other) => Err(protocol(format!("expected a SASL response, got {}", message_name(&other)))),
        }
    }

    /// Records a successful DDL or privilege statement (as classified by
    /// [`audit::classify`]) in the audit log.
    async fn audit(&mut self, entry: Option<(audit::AuditEvent, String)>) -> Result<()> {
        match entry {
            Some((event, detail)) => self.auth.audit(event, &self.user, &self.origin, &detail).await,
            None => Ok(()),
        }
    }

    /// Startup parameters are settings, honoured or refused like SET.
    async fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "user" | "database" | "replication" => {
                if name == "replication" && !matches!(value, "false" | "off" | "0" | "no") {
                    return Err(Error::NotSupported("replication connections".into()));
                }
                Ok(())
            }
            // libpq derives the client encoding from the locale; every
            // encoding it may pick for ASCII text reads UTF-8 output.
            "client_encoding"
                if matches!(value.to_lowercase().as_str(), "utf8" | "utf-8" | "unicode" | "sql_ascii" | "auto") =>
            {
                Ok(())
            }
            "options" if value.trim().is_empty() => Ok(()),
            "options" => Err(Error::NotSupported(format!("command-line options in the startup packet: {value}"))),
            _ => {
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(Error::sql("42704", format!("unrecognized configuration parameter \"{name}\"")));
                }
                let sql = format!("SET {name} = '{}'", value.replace('\'', "''"));
                self.session.execute(&sql).await.map(|_| ())
            }
        }
    }

    async fn simple_query(&mut self, sql: &str) -> Result<()> {
        let parsed = self.session.database().parse_script(sql);
        match parsed {
            Err(e) => self.send_error(&e, "ERROR")?,
            Ok(statements) if statements.is_empty() => {
                self.send(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))?
            }
            Ok(statements) => {
                for statement in &statements {
                    if let Err(e) = self.simple_statement(statement).await? {
                        self.send_error(&e, "ERROR")?;
                        break;
                    }
                }
            }
        }
        self.ready_for_query().await
    }

    /// One statement of a simple query: the outer result is the connection's
    /// (I/O), the inner one the statement's.
    async fn simple_statement(&mut self, statement: &ParsedStatement) -> Result<Result<()>> {
        match statement.copy_direction() {
            Some(CopyDirection::FromStdin) => self.copy_in(statement).await,
            Some(CopyDirection::ToStdout) => self.copy_out(statement).await,
            None => match self.session.run_parsed(statement, &[]).await {
                Ok(result) => {
                    if let ParsedStatement::Sql(statement) = statement {
                        self.audit(audit::classify(statement)).await?;
                    }
                    if !result.columns.is_empty() {
                        self.send_row_description(&result.columns, &[])?;
                    }
                    self.send_rows(&result, 0, result.rows.len(), &[])?;
                    self.send_complete(&result)?;
                    Ok(Ok(()))
                }
                Err(e) => Ok(Err(e)),
            },
        }
    }

    async fn copy_in(&mut self, statement: &ParsedStatement) -> Result<Result<()>> {
        self.send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(0, 0, vec![])))?;
        self.flush().await?;
        let mut data = Vec::new();
        let mut failure = None;
        loop {
            let Some(message) = self.read_message().await? else {
                return Err(protocol("connection closed during COPY"));
            };
            match message {
                PgWireFrontendMessage::CopyData(chunk) => {
                    if failure.is_none() {
                        if data.len() + chunk.data.len() > MAX_COPY_BYTES {
                            failure =
                                Some(Error::sql("54000", format!("COPY data longer than {MAX_COPY_BYTES} bytes")));
                        } else {
                            data.extend_from_slice(&chunk.data);
                        }
                    }
                }
                PgWireFrontendMessage::CopyDone(_) => break,
                PgWireFrontendMessage::CopyFail(fail) => {
                    return Ok(Err(Error::sql("57014", format!("COPY from stdin failed: {}", fail.message))));
                }
                PgWireFrontendMessage::Flush(_) | PgWireFrontendMessage::Sync(_) => {}
                other => return Err(protocol(format!("unexpected {} during COPY", message_name(&other)))),
            }
        }
        if let Some(e) = failure {
            return Ok(Err(e));
        }
        let text = match String::from_utf8(data) {
            Ok(text) => text,
            Err(_) => return Ok(Err(Error::sql("22021", "invalid byte sequence for encoding \"UTF8\" in COPY data"))),
        };
        Ok(match self.session.copy_from_parsed(statement, text).await {
            Ok(result) => self.send_complete(&result).map(Ok)?,
            Err(e) => Err(e),
        })
    }

    async fn copy_out(&mut self, statement: &ParsedStatement) -> Result<Result<()>> {
        let (result, data) = match self.session.copy_to_parsed(statement).await {
            Ok(out) => out,
            Err(e) => return Ok(Err(e)),
        };
        self.send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(0, 0, vec![])))?;
        for line in data.split_inclusive('\n') {
            self.send(PgWireBackendMessage::CopyData(CopyData::new(Bytes::copy_from_slice(line.as_bytes()))))?;
            if self.output.len() >= FLUSH_BYTES {
                self.flush().await?;
            }
        }
        self.send(PgWireBackendMessage::CopyDone(CopyDone::new()))?;
        self.send_complete(&result)?;
        Ok(Ok(()))
    }

    /// After an extended-protocol step: a statement error is reported and
    /// starts skipping to the next Sync.
    async fn extended_step(&mut self, outcome: Result<()>) -> Result<()> {
        if let Err(e) = outcome {
            self.send_error(&e, "ERROR")?;
            self.skipping = true;
        }
        if self.output.len() >= FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn parse(&mut self, parse: Parse) -> Result<Result<()>> {
        let name = parse.name.unwrap_or_default();
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Ok(Err(Error::sql("42P05", format!("prepared statement \"{name}\" already exists"))));
        }
        if self.statements.len() >= MAX_PREPARED && !self.statements.contains_key(&name) {
            return Ok(Err(Error::sql("53400", format!("more than {MAX_PREPARED} prepared statements"))));
        }
        let param_types: Vec<DataType> = match parse.type_oids.iter().map(|&oid| types::type_of_oid(oid)).collect() {
            Ok(types) => types,
            Err(e) => return Ok(Err(e)),
        };
        let empty = parse.query.trim().trim_end_matches(';').trim().is_empty();
        let prepared = if empty {
            None
        } else {
            match self.session.prepare(&parse.query, &param_types).await {
                Ok(p) => Some(p),
                Err(e) => return Ok(Err(e)),
            }
        };
        self.statements.insert(name, Statement { prepared, empty });
        self.send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))?;
        Ok(Ok(()))
    }

    fn bind(&mut self, bind: Bind) -> Result<Result<()>> {
        let portal_name = bind.portal_name.unwrap_or_default();
        let statement_name = bind.statement_name.unwrap_or_default();
        let Some(statement) = self.statements.get(&statement_name) else {
            return Ok(Err(Error::sql("26000", format!("prepared statement \"{statement_name}\" does not exist"))));
        };
        if self.portals.len() >= MAX_PREPARED && !self.portals.contains_key(&portal_name) {
            return Ok(Err(Error::sql("53400", format!("more than {MAX_PREPARED} portals"))));
        }
        let (param_types, columns) = match &statement.prepared {
            Some(p) => (p.param_types.clone(), p.columns.clone()),
            None => (Vec::new(), Vec::new()),
        };
        if bind.parameters.len() != param_types.len() {
            return Ok(Err(Error::sql(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires {}",
                    bind.parameters.len(),
                    param_types.len()
                ),
            )));
        }
        let mut params = Vec::with_capacity(bind.parameters.len());
        for (i, (value, ty)) in bind.parameters.iter().zip(&param_types).enumerate() {
            let format = format_of(&bind.parameter_format_codes, i);
            match value {
                None => params.push(rustydb_core::sql::Value::Null),
                Some(bytes) => match types::decode_param(bytes, format, ty) {
                    Ok(v) => params.push(v),
                    Err(e) => return Ok(Err(e)),
                },
            }
        }
        let portal = Portal {
            statement: statement_name,
            params,
            result_formats: bind.result_column_format_codes,
            columns,
            pending: None,
        };
        self.portals.insert(portal_name, portal);
        self.send(PgWireBackendMessage::BindComplete(BindComplete::new()))?;
        Ok(Ok(()))
    }

    fn describe(&mut self, describe: Describe) -> Result<Result<()>> {
        let name = describe.name.unwrap_or_default();
        if describe.target_type == b'S' {
            let Some(statement) = self.statements.get(&name) else {
                return Ok(Err(Error::sql("26000", format!("prepared statement \"{name}\" does not exist"))));
            };
            let (params, columns) = match &statement.prepared {
                Some(p) => (p.param_types.iter().map(DataType::oid).collect(), p.columns.clone()),
                None => (Vec::new(), Vec::new()),
            };
            self.send(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(params)))?;
            self.describe_columns(&columns, &[])?;
        } else {
            let Some(portal) = self.portals.get(&name) else {
                return Ok(Err(Error::sql("34000", format!("portal \"{name}\" does not exist"))));
            };
            let (columns, formats) = (portal.columns.clone(), portal.result_formats.clone());
            self.describe_columns(&columns, &formats)?;
        }
        Ok(Ok(()))
    }

    fn describe_columns(&mut self, columns: &[rustydb_core::sql::ResultColumn], formats: &[i16]) -> Result<()> {
        if columns.is_empty() {
            self.send(PgWireBackendMessage::NoData(NoData::new()))
        } else {
            self.send_row_description(columns, formats)
        }
    }

    async fn execute(&mut self, execute: Execute) -> Result<Result<()>> {
        let name = execute.name.unwrap_or_default();
        let Some(mut portal) = self.portals.remove(&name) else {
            return Ok(Err(Error::sql("34000", format!("portal \"{name}\" does not exist"))));
        };
        let outcome = self.execute_portal(&mut portal, execute.max_rows).await;
        // The unnamed portal and finished portals stay until replaced or
        // closed, as in PostgreSQL; a failed one is dropped.
        if matches!(outcome, Ok(Ok(()))) {
            self.portals.insert(name, portal);
        }
        outcome
    }

    async fn execute_portal(&mut self, portal: &mut Portal, max_rows: i32) -> Result<Result<()>> {
        if portal.pending.is_none() {
            let Some(statement) = self.statements.get_mut(&portal.statement) else {
                return Ok(Err(Error::sql(
                    "26000",
                    format!("prepared statement \"{}\" does not exist", portal.statement),
                )));
            };
            if statement.empty {
                self.send(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))?;
                return Ok(Ok(()));
            }
            if let Some(copy) = statement.prepared.as_ref().and_then(|p| p.copy_direction().map(|d| (d, p.sql.clone())))
            {
                return self.copy_via_execute(copy).await;
            }
            let mut prepared = statement.prepared.take().expect("a non-empty statement is prepared");
            let outcome = self.session.execute_prepared(&mut prepared, &portal.params).await;
            if let Some(statement) = self.statements.get_mut(&portal.statement) {
                statement.prepared = Some(prepared);
            }
            match outcome {
                Ok(result) => {
                    let entry = self.statements.get(&portal.statement).and_then(|statement| {
                        statement.prepared.as_ref().and_then(|prepared| audit::classify(prepared.statement()))
                    });
                    self.audit(entry).await?;
                    portal.pending = Some((result, 0))
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        let (mut result, sent) = portal.pending.take().expect("computed above");
        let remaining = result.rows.len() - sent;
        let count = if max_rows > 0 { remaining.min(max_rows as usize) } else { remaining };
        let end = sent + count;
        self.send_rows(&result, sent, end, &portal.result_formats)?;
        if end == result.rows.len() {
            self.send_complete(&result)?;
            // Executing a finished portal again sends no more rows.
            result.rows.clear();
            portal.pending = Some((result, 0));
        } else {
            self.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
            portal.pending = Some((result, end));
        }
        Ok(Ok(()))
    }

    /// COPY run through Execute: the same COPY sub-protocol as the simple
    /// query path (Sync messages inside it are ignored, as PostgreSQL does).
    async fn copy_via_execute(&mut self, (direction, sql): (CopyDirection, String)) -> Result<Result<()>> {
        let statement = match parse_script(&sql).map(|mut s| s.pop()) {
            Ok(Some(statement)) => statement,
            Ok(None) => return Ok(Err(Error::sql("42601", "empty COPY statement"))),
            Err(e) => return Ok(Err(e)),
        };
        match direction {
            CopyDirection::FromStdin => self.copy_in(&statement).await,
            CopyDirection::ToStdout => self.copy_out(&statement).await,
        }
    }

    fn close(&mut self, close: Close) -> Result<Result<()>> {
        let name = close.name.unwrap_or_default();
        if close.target_type == b'S' {
            self.statements.remove(&name);
        } else {
            self.portals.remove(&name);
        }
        self.send(PgWireBackendMessage::CloseComplete(CloseComplete::new()))?;
        Ok(Ok(()))
    }

    fn send_row_description(&mut self, columns: &[rustydb_core::sql::ResultColumn], formats: &[i16]) -> Result<()> {
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                FieldDescription::new(
                    c.name.clone(),
                    0,
                    0,
                    c.data_type.oid(),
                    c.data_type.fixed_size(),
                    c.data_type.typmod(),
                    format_of(formats, i),
                )
            })
            .collect();
        self.send(PgWireBackendMessage::RowDescription(RowDescription::new(fields)))
    }

    fn send_rows(&mut self, result: &QueryResult, start: usize, end: usize, formats: &[i16]) -> Result<()> {
        let mut field = Vec::new();
        for row in &result.rows[start..end] {
            let mut data = BytesMut::new();
            for (i, value) in row.iter().enumerate() {
                if value.is_null() {
                    data.extend_from_slice(&(-1i32).to_be_bytes());
                    continue;
                }
                field.clear();
                if format_of(formats, i) == 1 {
                    let ty = result.columns.get(i).map_or(DataType::Text, |c| c.data_type.clone());
                    types::encode_binary(value, &ty, &mut field)?;
                } else {
                    field.extend_from_slice(&types::encode_text(value));
                }
                data.extend_from_slice(&(field.len() as i32).to_be_bytes());
                data.extend_from_slice(&field);
            }
            self.send(PgWireBackendMessage::DataRow(DataRow::new(data, row.len() as i16)))?;
        }
        Ok(())
    }

    fn send_complete(&mut self, result: &QueryResult) -> Result<()> {
        self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(result.tag.clone())))
    }

    fn send_error(&mut self, error: &Error, severity: &str) -> Result<()> {
        let message = match error {
            Error::Sql { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let fields = vec![
            (b'S', severity.to_string()),
            (b'V', severity.to_string()),
            (b'C', error.sqlstate().to_string()),
            (b'M', message),
        ];
        self.send(PgWireBackendMessage::ErrorResponse(ErrorResponse::new(fields)))
    }

    async fn ready_for_query(&mut self) -> Result<()> {
        let status = if self.session.in_failed_transaction() {
            TransactionStatus::Error
        } else if self.session.in_transaction() {
            TransactionStatus::Transaction
        } else {
            TransactionStatus::Idle
        };
        self.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)))?;
        self.flush().await
    }

    fn send(&mut self, message: PgWireBackendMessage) -> Result<()> {
        message.encode(&mut self.output).map_err(|e| Error::sql("XX000", format!("encoding a reply: {e}")))
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.output.is_empty() {
            let out = self.output.split();
            self.stream.write_all(&out).await?;
        }
        Ok(())
    }

    /// The next frontend message; `None` when the client closed the socket.
    async fn read_message(&mut self) -> Result<Option<PgWireFrontendMessage>> {
        loop {
            self.check_declared_length()?;
            match PgWireFrontendMessage::decode(&mut self.input, &self.decode) {
                Ok(Some(message)) => return Ok(Some(message)),
                Ok(None) => {}
                Err(e) => return Err(protocol(format!("invalid message: {e}"))),
            }
            let registry = self.registry.clone();
            let idle_limit = self.session.idle_in_transaction_timeout();
            let clock = self.session.database().env().clock.clone();
            let n = {
                let read = self.stream.read(&mut self.read_buffer).fuse();
                let shutdown = registry.shutdown_started(self.id).fuse();
                let idle_too_long = async move {
                    match idle_limit {
                        Some(limit) => clock.sleep(limit).await,
                        None => std::future::pending().await,
                    }
                }
                .fuse();
                futures::pin_mut!(read, shutdown, idle_too_long);
                futures::select_biased! {
                    n = read => n?,
                    () = shutdown => return Err(shutting_down()),
                    () = idle_too_long => return Err(idle_in_transaction_timeout()),
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.input.extend_from_slice(&self.read_buffer[..n]);
        }
    }

    /// Refuses a message whose length field is beyond the limit before
    /// buffering it.
    fn check_declared_length(&self) -> Result<()> {
        let header = if self.decode.awaiting_frontend_startup { 0 } else { 1 };
        if self.input.remaining() < header + 4 {
            return Ok(());
        }
        let b = &self.input[header..header + 4];
        let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if len < 4 || len as usize > MAX_MESSAGE_BYTES {
            return Err(protocol(format!("invalid message length {len} (limit {MAX_MESSAGE_BYTES})")));
        }
        Ok(())
    }
}

fn format_of(formats: &[i16], i: usize) -> i16 {
    match formats {
        [] => 0,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(0),
    }
}

/// Shutdown ends every connection (an open transaction rolls back), as
/// PostgreSQL's default fast shutdown does.
fn shutting_down() -> Error {
    Error::sql("57P01", "terminating connection due to administrator command")
}

/// Ending the connection rolls the transaction back and frees its locks.
fn idle_in_transaction_timeout() -> Error {
    Error::sql("25P03", "terminating connection due to idle-in-transaction timeout")
}

/// The stream a connection holds while its socket is being wrapped in TLS.
struct Closed;

impl Stream for Closed {
    fn read<'a>(&'a mut self, _: &'a mut [u8]) -> rustydb_core::env::BoxFuture<'a, Result<usize>> {
        Box::pin(async { Ok(0) })
    }

    fn write_all<'a>(&'a mut self, _: &'a [u8]) -> rustydb_core::env::BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(protocol("the connection's socket was lost during the TLS handshake")) })
    }
}

fn protocol(message: impl Into<String>) -> Error {
    Error::sql("08P01", message)
}

fn message_name(message: &PgWireFrontendMessage) -> &'static str {
    match message {
        PgWireFrontendMessage::SslNegotiation(_) => "SSL negotiation",
        PgWireFrontendMessage::Startup(_) => "startup packet",
        PgWireFrontendMessage::CancelRequest(_) => "cancel request",
        PgWireFrontendMessage::PasswordMessageFamily(_) => "password message",
        PgWireFrontendMessage::Query(_) => "Query",
        PgWireFrontendMessage::Parse(_) => "Parse",
        PgWireFrontendMessage::Close(_) => "Close",
        PgWireFrontendMessage::Bind(_) => "Bind",
        PgWireFrontendMessage::Describe(_) => "Describe",
        PgWireFrontendMessage::Execute(_) => "Execute",
        PgWireFrontendMessage::PortalSuspended(_) => "PortalSuspended",
        PgWireFrontendMessage::Flush(_) => "Flush",
        PgWireFrontendMessage::Sync(_) => "Sync",
        PgWireFrontendMessage::Terminate(_) => "Terminate",
        PgWireFrontendMessage::CopyData(_) => "CopyData",
        PgWireFrontendMessage::CopyFail(_) => "CopyFail",
        PgWireFrontendMessage::CopyDone(_) => "CopyDone",
    }
}
