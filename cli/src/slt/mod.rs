//! The sqllogictest runner behind `rustydb-slt`: reads test files
//! ([`script`]), runs each record against an embedded database ([`runner`],
//! with `COPY` done by [`copy`]), prints values as each corpus expects
//! ([`format`]) and compares them ([`compare`]).

pub mod compare;
pub mod copy;
pub mod format;
pub mod runner;
pub mod script;

use std::io::Write;

/// Writes `text` and a newline to stdout. Returns false once stdout is
/// closed (`rustydb-slt … | head`): callers stop rather than panic, so no
/// file's temporary directory is left behind.
pub fn emit(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
}
