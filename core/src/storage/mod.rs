//! Storage: pages on disk and what lives in them.
//!
//! Everything durable in RustyDB is a 4 KiB page in a file reached through
//! `env.storage`. A page carries its own id, LSN, type and checksum, so a
//! page read from the wrong place, torn, or rotted is detected on read and
//! reported as [`crate::Error::CorruptPage`], never used.

pub mod apply;
pub mod file;
pub mod heap_page;
pub mod page;
pub mod slotted;
pub mod space_map;
pub mod varint;

use std::fmt;

/// A page's number within its file (page 0 is the first 4 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PageId(pub u64);

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {}", self.0)
    }
}
