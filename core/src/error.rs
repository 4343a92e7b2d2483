//! The one error type of `rustydb-core`.
//!
//! Variants say what the caller can do about the failure, not where it came
//! from: retry an I/O fault, give up on a cancelled task, report invalid input.

use std::fmt;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of I/O failure an Env operation reported.
///
/// The simulator produces every kind that the production Env can, so engine
/// code handles them once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IoErrorKind {
    /// The file or directory entry does not exist.
    NotFound,
    /// Creating something that already exists.
    AlreadyExists,
    /// A read, write or sync failed at the device. After a failed `sync` the
    /// durability of every write since the last successful sync is unknown.
    Device,
    /// Nobody listens at the address.
    ConnectionRefused,
    /// The connection broke; bytes written before may or may not have arrived.
    ConnectionReset,
    /// An address or port is already taken.
    AddrInUse,
    /// The operation did not complete in time.
    TimedOut,
    /// The arguments were not acceptable (a bad path, an oversized message).
    InvalidInput,
    /// Anything the operating system reported that fits none of the above.
    Other,
}

impl fmt::Display for IoErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            IoErrorKind::NotFound => "not found",
            IoErrorKind::AlreadyExists => "already exists",
            IoErrorKind::Device => "device error",
            IoErrorKind::ConnectionRefused => "connection refused",
            IoErrorKind::ConnectionReset => "connection reset",
            IoErrorKind::AddrInUse => "address in use",
            IoErrorKind::TimedOut => "timed out",
            IoErrorKind::InvalidInput => "invalid input",
            IoErrorKind::Other => "other",
        };
        f.write_str(name)
    }
}

/// Every error the engine returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An Env operation failed; `context` names the operation and its target.
    #[error("I/O error ({kind}) during {context}")]
    Io { kind: IoErrorKind, context: String },
    /// A task was dropped before it produced its result (its node crashed or
    /// the runtime shut down).
    #[error("task cancelled before completion")]
    TaskCancelled,
    /// A timeout set by the caller expired.
    #[error("timed out after {after_ms} ms")]
    Timeout { after_ms: u64 },
    /// Stored bytes failed validation (checksum, magic, bounds).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A page read from disk failed validation; it is never used.
    #[error("corrupt page {page} of file {file}: {reason}")]
    CorruptPage { file: String, page: u64, reason: String },
    /// Input from outside (arguments, bytes, configuration) was invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A transaction lost a conflict with another (for example a lock it would
    /// have to wait for in an order that could deadlock). It has done nothing
    /// durable; roll it back and retry.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// A serializable or repeatable-read transaction cannot go on without
    /// breaking its isolation level (a concurrent update of a row it must
    /// write, or a dangerous structure of read-write conflicts). SQLSTATE
    /// 40001: roll back and retry.
    #[error("could not serialize access: {0}")]
    SerializationFailure(String),
    /// The transaction was chosen as the victim of a deadlock. SQLSTATE 40P01:
    /// roll back and retry.
    #[error("deadlock detected: {0}")]
    Deadlock(String),
    /// A lock was not granted within the transaction's lock timeout. SQLSTATE 55P03.
    #[error("lock not available: {0}")]
    LockTimeout(String),
    /// A key is already present in a unique index.
    #[error("duplicate key: {0}")]
    UniqueViolation(String),
    /// The engine hit an earlier failure it cannot continue past (a failed log
    /// or data sync): every later operation fails until it restarts and recovers.
    #[error("engine stopped after an earlier failure ({0}); restart to recover")]
    Poisoned(String),
    /// The feature exists in SQL or the API but RustyDB does not provide it.
    #[error("feature not supported: {0}")]
    NotSupported(String),
    /// A SQL statement failed for a reason its SQLSTATE names (a syntax
    /// error, an unknown column, a division by zero, a violated constraint).
    #[error("{message}")]
    Sql { sqlstate: &'static str, message: String },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(kind: IoErrorKind, context: impl Into<String>) -> Self {
        Error::Io { kind, context: context.into() }
    }

    /// The SQLSTATE code a client sees for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::SerializationFailure(_) => "40001",
            Error::Deadlock(_) | Error::Conflict(_) => "40P01",
            Error::LockTimeout(_) => "55P03",
            Error::UniqueViolation(_) => "23505",
            Error::NotSupported(_) => "0A000",
            Error::InvalidInput(_) => "22023",
            Error::Timeout { .. } => "57014",
            Error::Corrupt(_) | Error::CorruptPage { .. } => "XX001",
            Error::Io { .. } | Error::Poisoned(_) => "58030",
            Error::TaskCancelled => "57P01",
            Error::Sql { sqlstate, .. } => sqlstate,
        }
    }

    /// Builds an [`Error::Sql`] with SQLSTATE `sqlstate`.
    pub fn sql(sqlstate: &'static str, message: impl Into<String>) -> Self {
        Error::Sql { sqlstate, message: message.into() }
    }

    /// Whether retrying the whole transaction may succeed (the error is about
    /// timing with other transactions, not about the transaction itself).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::SerializationFailure(_) | Error::Deadlock(_) | Error::Conflict(_))
    }

    /// The I/O kind, if this is an I/O error.
    pub fn io_kind(&self) -> Option<IoErrorKind> {
        match self {
            Error::Io { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
