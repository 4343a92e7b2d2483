//! Translation of OS errors into core's [`Error`].
//!
//! Engine code branches on [`IoErrorKind`], and the simulator produces the
//! same kinds, so every `std::io::Error` is classified here, in one place.
//! The OS message is kept in the context for whoever reads the log.

use std::io;

use rustydb_core::{Error, IoErrorKind};

/// Maps `err` to core's error. Kinds core has no name for become `fallback`:
/// storage passes [`IoErrorKind::Device`], the network [`IoErrorKind::Other`].
pub(crate) fn from_io(err: &io::Error, fallback: IoErrorKind, context: &str) -> Error {
    use io::ErrorKind as Os;
    let kind = match err.kind() {
        Os::NotFound => IoErrorKind::NotFound,
        Os::AlreadyExists => IoErrorKind::AlreadyExists,
        Os::ConnectionRefused => IoErrorKind::ConnectionRefused,
        Os::ConnectionReset | Os::ConnectionAborted | Os::BrokenPipe => IoErrorKind::ConnectionReset,
        Os::AddrInUse => IoErrorKind::AddrInUse,
        Os::TimedOut => IoErrorKind::TimedOut,
        Os::InvalidInput => IoErrorKind::InvalidInput,
        _ => fallback,
    };
    Error::io(kind, format!("{context}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_known_kinds_and_falls_back_for_the_rest() {
        let kind = |os: io::ErrorKind| from_io(&io::Error::from(os), IoErrorKind::Device, "op").io_kind();
        assert_eq!(kind(io::ErrorKind::BrokenPipe), Some(IoErrorKind::ConnectionReset));
        assert_eq!(kind(io::ErrorKind::NotFound), Some(IoErrorKind::NotFound));
        assert_eq!(kind(io::ErrorKind::PermissionDenied), Some(IoErrorKind::Device));
    }
}
