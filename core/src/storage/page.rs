//! The on-disk page: a 4 KiB unit with a self-describing header and a trailer
//! reserved for at-rest encryption.
//!
//! This module owns the byte layout of every page and the checks run on every
//! page read back from disk. What lives in the body (slotted heap tuples,
//! B+Tree nodes, free-space maps) belongs to the modules that format it; see
//! [`super::slotted`].
//!
//! # Layout
//!
//! All integers are little-endian.
//!
//! | Offset | Size | Field        | Contents                                                  |
//! |-------:|-----:|--------------|-----------------------------------------------------------|
//! |      0 |    4 | magic        | `b"RDBP"` ([`PAGE_MAGIC`])                                |
//! |      4 |    1 | version      | page format version, [`PAGE_FORMAT_VERSION`] (1)          |
//! |      5 |    1 | page type    | [`PageType`] as `u8`; 0 and unknown values are corruption |
//! |      6 |    2 | flags        | none defined in version 1: must be 0                      |
//! |      8 |    4 | checksum     | CRC32 (IEEE) of every other byte of the page              |
//! |     12 |    4 | reserved     | must be 0                                                 |
//! |     16 |    8 | page id      | the page's own number in its file ([`PageId`])            |
//! |     24 |    8 | page LSN     | LSN of the last log record applied to the page ([`Lsn`])  |
//! |     32 | 4036 | body         | [`PAGE_BODY_SIZE`] bytes for the page's owner             |
//! |   4068 |   12 | nonce        | AES-GCM nonce; zero while encryption is off               |
//! |   4080 |   16 | tag          | AES-GCM authentication tag; zero while encryption is off  |
//!
//! # Why each field
//!
//! - **Magic and version** tell a RustyDB page from anything else (a foreign
//!   file, a WAL segment opened as a table) and let a later format coexist
//!   with this one: a reader refuses versions it does not know instead of
//!   misparsing them. Flags and reserved bytes must be zero for the same
//!   reason: a feature that sets them must also bump what old readers reject.
//! - **Page type** stops a B+Tree from parsing a heap page as a node after a
//!   bug or a stale pointer. It starts at 1 so a zeroed header is never a type.
//! - **Page id** detects misdirected writes and reads: a device or driver that
//!   puts a perfectly checksummed page at the wrong offset leaves a page whose
//!   checksum is valid, and only the id inside it says it does not belong there.
//! - **Page LSN** serves the WAL rule (a dirty page may reach disk only once
//!   the log is durable up to its LSN) and makes redo idempotent (a record at
//!   or below the page LSN is already in the page).
//! - **Checksum** detects torn writes and bit rot. CRC32 catches every single
//!   bit flip and every burst of up to 32 bits; it is not a MAC, tampering is
//!   the GCM tag's job.
//! - **Trailer** reserves room for the nonce and tag now, so turning on
//!   encryption later changes no offset, body size or file format.
//!
//! # What the checksum covers, and why the trailer is included
//!
//! The checksum covers the whole page except its own four bytes: header,
//! body and trailer. [`Page::seal`] computes it as the very last step before
//! a write, and [`Page::from_bytes`] verifies it first thing after a read.
//! When encryption arrives it slots in between without touching either:
//!
//! - write: format body, set LSN, encrypt the body in place with the header
//!   as associated data, put nonce and tag in the trailer, then `seal`;
//! - read: `from_bytes` (checksum, magic, type, id: no key needed), then
//!   decrypt and verify the tag.
//!
//! Checksumming the stored (encrypted) bytes rather than the plaintext is
//! deliberate: every bit on disk is covered, so media corruption is reported
//! as a checksum mismatch (restore from a replica) and never as a failed
//! authentication (wrong key or tampering: a security event); scrubbing and
//! backup verification need no key; and a CRC of the plaintext stored in the
//! clear would leak 32 bits of linear information about it.
//!
//! # Pages that were never written
//!
//! An all-zero page is a normal on-disk state: space allocated by extending
//! a file (or a hole in a sparse file) whose first write never landed before
//! a crash. [`Page::from_bytes`] reports it as [`PageRead::Unwritten`],
//! neither corrupt nor valid, because only the caller knows whether the page
//! should hold data: recovery may legitimately meet it and re-create the page
//! from the log, while a B+Tree following a child pointer to it has found a
//! lost write ([`Page::from_written_bytes`] says so). A sealed page is never
//! all zero (the magic is not), so the outcome is unambiguous; a page that is
//! only partly zero is torn and fails the checksum.
//!
//! # Invariants
//!
//! A [`Page`] in memory always has a valid magic, version, flags and page
//! type: it is built by [`Page::new`] or accepted by [`Page::from_bytes`], and
//! its header changes only through typed setters. The stored checksum is
//! meaningful only right after [`Page::seal`].

use std::fmt;

use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::wal::Lsn;

/// Size of every page on disk and in memory, in bytes.
pub const PAGE_SIZE: usize = 4096;
/// First four bytes of every written page.
pub const PAGE_MAGIC: [u8; 4] = *b"RDBP";
/// The page format this build writes and the only one it reads.
pub const PAGE_FORMAT_VERSION: u8 = 1;
/// Bytes before the body: magic, version, type, flags, checksum, reserved, id, LSN.
pub const PAGE_HEADER_SIZE: usize = 32;
/// Bytes of the AES-GCM nonce in the trailer.
pub const ENCRYPTION_NONCE_SIZE: usize = 12;
/// Bytes of the AES-GCM authentication tag in the trailer.
pub const ENCRYPTION_TAG_SIZE: usize = 16;
/// Bytes after the body, reserved for at-rest encryption.
pub const PAGE_TRAILER_SIZE: usize = ENCRYPTION_NONCE_SIZE + ENCRYPTION_TAG_SIZE;
/// Bytes available to the page's owner between header and trailer.
pub const PAGE_BODY_SIZE: usize = PAGE_SIZE - PAGE_HEADER_SIZE - PAGE_TRAILER_SIZE;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = 4;
const TYPE_OFFSET: usize = 5;
const FLAGS_OFFSET: usize = 6;
const CHECKSUM_OFFSET: usize = 8;
const CHECKSUM_SIZE: usize = 4;
const RESERVED_OFFSET: usize = 12;
const ID_OFFSET: usize = 16;
const LSN_OFFSET: usize = 24;
const BODY_OFFSET: usize = PAGE_HEADER_SIZE;
const TRAILER_OFFSET: usize = PAGE_SIZE - PAGE_TRAILER_SIZE;

const _: () = assert!(LSN_OFFSET + 8 == PAGE_HEADER_SIZE);
const _: () = assert!(BODY_OFFSET + PAGE_BODY_SIZE == TRAILER_OFFSET);
const _: () = assert!(PAGE_BODY_SIZE == 4036);

/// What a page holds; stored as one byte in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PageType {
    /// Allocated to no structure; on the free list.
    Free = 1,
    /// Database-wide metadata (format, roots, checkpoint).
    Meta = 2,
    /// Table rows in a slotted layout.
    Heap = 3,
    /// B+Tree leaf node.
    BTreeLeaf = 4,
    /// B+Tree internal node.
    BTreeInternal = 5,
    /// Space map: one bit per page of the group it covers, set while allocated.
    FreeSpaceMap = 6,
    /// Continuation of a value too large for one page.
    Overflow = 7,
}

impl PageType {
    /// Every page type, in byte order.
    pub const ALL: [PageType; 7] = [
        PageType::Free,
        PageType::Meta,
        PageType::Heap,
        PageType::BTreeLeaf,
        PageType::BTreeInternal,
        PageType::FreeSpaceMap,
        PageType::Overflow,
    ];

    /// The byte stored in the header.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The type a header byte names, or `None` for an unknown byte.
    pub fn from_u8(value: u8) -> Option<PageType> {
        PageType::ALL.into_iter().find(|page_type| page_type.as_u8() == value)
    }
}

/// What reading a page's bytes found: a verified page, or space never written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRead {
    /// The page passed every check.
    Written(Page),
    /// All bytes are zero: allocated, never written (see the module doc).
    Unwritten,
}

/// One page: header, body and trailer in a boxed 4 KiB buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct Page {
    bytes: Box<[u8; PAGE_SIZE]>,
}

impl Page {
    /// A fresh page of `page_type` with LSN zero, a zeroed body and trailer,
    /// not yet sealed.
    pub fn new(id: PageId, page_type: PageType) -> Page {
        let mut page = Page { bytes: Box::new([0; PAGE_SIZE]) };
        page.bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(&PAGE_MAGIC);
        page.bytes[VERSION_OFFSET] = PAGE_FORMAT_VERSION;
        page.set_page_type(page_type);
        page.bytes[ID_OFFSET..ID_OFFSET + 8].copy_from_slice(&id.0.to_le_bytes());
        page.set_lsn(Lsn::ZERO);
        assert_eq!(verify_header(&page.bytes, id), Ok(()));
        page
    }

    /// The page's number in its file.
    pub fn id(&self) -> PageId {
        PageId(u64::from_le_bytes(field(&self.bytes, ID_OFFSET)))
    }

    /// What the page holds.
    pub fn page_type(&self) -> PageType {
        PageType::from_u8(self.bytes[TYPE_OFFSET]).expect("page type is validated on construction and set only typed")
    }

    /// Changes what the page holds, e.g. when a free page is reused for a heap.
    pub fn set_page_type(&mut self, page_type: PageType) {
        self.bytes[TYPE_OFFSET] = page_type.as_u8();
    }

    /// LSN of the last log record applied to the page.
    pub fn lsn(&self) -> Lsn {
        Lsn(u64::from_le_bytes(field(&self.bytes, LSN_OFFSET)))
    }

    /// Records that the log record at `lsn` has been applied to the page. The
    /// page must not be written until the log is durable up to `lsn`.
    pub fn set_lsn(&mut self, lsn: Lsn) {
        self.bytes[LSN_OFFSET..LSN_OFFSET + 8].copy_from_slice(&lsn.0.to_le_bytes());
    }

    /// The region between header and trailer, [`PAGE_BODY_SIZE`] bytes.
    pub fn body(&self) -> &[u8] {
        &self.bytes[BODY_OFFSET..TRAILER_OFFSET]
    }

    /// The region between header and trailer, for the page's owner to format.
    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[BODY_OFFSET..TRAILER_OFFSET]
    }

    /// Nonce then tag, [`PAGE_TRAILER_SIZE`] bytes; zero while encryption is off.
    pub fn encryption_trailer(&self) -> &[u8] {
        &self.bytes[TRAILER_OFFSET..]
    }

    /// The trailer, for the encryption layer to fill before [`Page::seal`].
    pub fn encryption_trailer_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[TRAILER_OFFSET..]
    }

    /// Stores the checksum and returns the bytes to write. Call it after the
    /// last change and right before the write: any later change (including
    /// encryption) makes the stored checksum stale.
    pub fn seal(&mut self) -> &[u8; PAGE_SIZE] {
        let checksum = compute_checksum(&self.bytes);
        self.bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + CHECKSUM_SIZE].copy_from_slice(&checksum.to_le_bytes());
        debug_assert_eq!(verify(&self.bytes, self.id()), Ok(()));
        &self.bytes
    }

    /// All bytes of the page as they are now (sealed or not).
    pub fn as_bytes(&self) -> &[u8; PAGE_SIZE] {
        &self.bytes
    }

    /// Verifies bytes read from `file_name` at the position of `expected_id`:
    /// length, checksum, magic, version, flags, type and stored id, in that
    /// order. An all-zero page is [`PageRead::Unwritten`]; any other failure
    /// is [`Error::CorruptPage`] whose reason names the check that failed.
    pub fn from_bytes(bytes: &[u8], file_name: &str, expected_id: PageId) -> Result<PageRead> {
        let corrupt = |reason: String| Error::CorruptPage { file: file_name.to_owned(), page: expected_id.0, reason };
        let Ok(bytes) = <&[u8; PAGE_SIZE]>::try_from(bytes) else {
            return Err(corrupt(format!(
                "expected {PAGE_SIZE} bytes, got {} (short read or truncated file?)",
                bytes.len()
            )));
        };
        if is_unwritten(bytes) {
            return Ok(PageRead::Unwritten);
        }
        verify(bytes, expected_id).map_err(corrupt)?;
        Ok(PageRead::Written(Page { bytes: Box::new(*bytes) }))
    }

    /// Like [`Page::from_bytes`] for callers that know the page was written
    /// (a B+Tree child, a heap page in the catalog): an all-zero page is a
    /// lost write and reported as [`Error::CorruptPage`].
    pub fn from_written_bytes(bytes: &[u8], file_name: &str, expected_id: PageId) -> Result<Page> {
        match Page::from_bytes(bytes, file_name, expected_id)? {
            PageRead::Written(page) => Ok(page),
            PageRead::Unwritten => Err(Error::CorruptPage {
                file: file_name.to_owned(),
                page: expected_id.0,
                reason: "page is all zeros (never written) where a written page was expected (lost write?)".to_owned(),
            }),
        }
    }
}

impl fmt::Debug for Page {
    // The body is 4 KiB of mostly noise in a failure message; the header says
    // which page it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("id", &self.id())
            .field("page_type", &self.page_type())
            .field("lsn", &self.lsn())
            .finish_non_exhaustive()
    }
}

/// `N` bytes at a fixed header offset; offsets are constants, so in range.
fn field<const N: usize>(bytes: &[u8; PAGE_SIZE], offset: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

fn stored_checksum(bytes: &[u8; PAGE_SIZE]) -> u32 {
    u32::from_le_bytes(field(bytes, CHECKSUM_OFFSET))
}

/// CRC32 of every byte except the checksum field (see the module doc).
fn compute_checksum(bytes: &[u8; PAGE_SIZE]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..CHECKSUM_OFFSET]);
    hasher.update(&bytes[CHECKSUM_OFFSET + CHECKSUM_SIZE..]);
    hasher.finalize()
}

fn is_unwritten(bytes: &[u8; PAGE_SIZE]) -> bool {
    // A written page starts with the magic, so the full scan runs only for
    // pages that are zero or badly damaged.
    bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4] == [0; 4] && bytes.iter().all(|&byte| byte == 0)
}

/// Every check on a full-length page that is not all zero; `Err` is the reason.
fn verify(bytes: &[u8; PAGE_SIZE], expected_id: PageId) -> Result<(), String> {
    // The checksum goes first: when it fails, every other field may be noise,
    // and naming one of them would mislead.
    let stored = stored_checksum(bytes);
    let computed = compute_checksum(bytes);
    if stored != computed {
        let hint = if field::<4>(bytes, MAGIC_OFFSET) == PAGE_MAGIC { "" } else { "; magic also wrong: not a page?" };
        return Err(format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}{hint}"));
    }
    verify_header(bytes, expected_id)
}

/// The header checks other than the checksum.
fn verify_header(bytes: &[u8; PAGE_SIZE], expected_id: PageId) -> Result<(), String> {
    let magic = field::<4>(bytes, MAGIC_OFFSET);
    if magic != PAGE_MAGIC {
        return Err(format!("bad magic {magic:02x?}, expected {PAGE_MAGIC:02x?} (not a RustyDB page)"));
    }
    let version = bytes[VERSION_OFFSET];
    if version != PAGE_FORMAT_VERSION {
        return Err(format!("unsupported page format version {version}, this build reads {PAGE_FORMAT_VERSION}"));
    }
    let flags = u16::from_le_bytes(field(bytes, FLAGS_OFFSET));
    if flags != 0 {
        return Err(format!("unknown flags {flags:#06x}"));
    }
    let reserved = u32::from_le_bytes(field(bytes, RESERVED_OFFSET));
    if reserved != 0 {
        return Err(format!("reserved header bytes are {reserved:#010x}, expected 0"));
    }
    let type_byte = bytes[TYPE_OFFSET];
    if PageType::from_u8(type_byte).is_none() {
        return Err(format!("unknown page type {type_byte}"));
    }
    let stored_id = u64::from_le_bytes(field(bytes, ID_OFFSET));
    if stored_id != expected_id.0 {
        return Err(format!(
            "page stores id {stored_id} but was read at the position of page {} (misdirected write or read?)",
            expected_id.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    const FILE: &str = "table.db";

    fn reason(result: Result<PageRead>) -> String {
        match result {
            Err(Error::CorruptPage { file, reason, .. }) => {
                assert_eq!(file, FILE);
                reason
            }
            other => panic!("expected CorruptPage, got {other:?}"),
        }
    }

    /// Edits raw bytes, then re-seals so only the edited field is wrong.
    fn sealed_with(id: PageId, edit: impl FnOnce(&mut [u8; PAGE_SIZE])) -> [u8; PAGE_SIZE] {
        let mut bytes = *Page::new(id, PageType::Heap).seal();
        edit(&mut bytes);
        let checksum = compute_checksum(&bytes);
        bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + CHECKSUM_SIZE].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    fn page_type() -> impl Strategy<Value = PageType> {
        proptest::sample::select(PageType::ALL.to_vec())
    }

    #[test]
    fn new_page_has_header_fields_and_empty_body() {
        let page = Page::new(PageId(7), PageType::BTreeLeaf);
        assert_eq!(page.id(), PageId(7));
        assert_eq!(page.page_type(), PageType::BTreeLeaf);
        assert_eq!(page.lsn(), Lsn::ZERO);
        assert_eq!(page.body().len(), PAGE_BODY_SIZE);
        assert!(page.body().iter().all(|&byte| byte == 0));
        assert_eq!(page.encryption_trailer().len(), PAGE_TRAILER_SIZE);
        assert_eq!(&page.as_bytes()[..4], b"RDBP");
    }

    #[test]
    fn page_type_bytes_round_trip_and_zero_is_unknown() {
        for page_type in PageType::ALL {
            assert_eq!(PageType::from_u8(page_type.as_u8()), Some(page_type));
        }
        assert_eq!(PageType::from_u8(0), None);
        assert_eq!(PageType::from_u8(8), None);
    }

    #[test]
    fn all_zero_page_is_unwritten_not_corrupt() {
        let zeros = [0; PAGE_SIZE];
        assert_eq!(Page::from_bytes(&zeros, FILE, PageId(3)), Ok(PageRead::Unwritten));
        let error = Page::from_written_bytes(&zeros, FILE, PageId(3)).unwrap_err();
        assert!(matches!(&error, Error::CorruptPage { page: 3, reason, .. } if reason.contains("never written")));
    }

    #[test]
    fn mostly_zero_page_is_corrupt() {
        let mut bytes = [0; PAGE_SIZE];
        bytes[PAGE_SIZE - 1] = 1;
        assert!(reason(Page::from_bytes(&bytes, FILE, PageId(0))).contains("checksum mismatch"));
    }

    #[test]
    fn checksum_mismatch_reports_both_values() {
        let mut bytes = *Page::new(PageId(1), PageType::Heap).seal();
        bytes[BODY_OFFSET] ^= 0x40;
        let text = reason(Page::from_bytes(&bytes, FILE, PageId(1)));
        let stored = format!("{:#010x}", stored_checksum(&bytes));
        let computed = format!("{:#010x}", compute_checksum(&bytes));
        assert!(text.contains(&stored) && text.contains(&computed), "{text}");
    }

    #[test]
    fn foreign_bytes_hint_at_wrong_magic() {
        let bytes = [0x5a; PAGE_SIZE];
        assert!(reason(Page::from_bytes(&bytes, FILE, PageId(0))).contains("magic also wrong"));
    }

    #[test]
    fn header_fields_are_checked_after_the_checksum() {
        type Edit = fn(&mut [u8; PAGE_SIZE]);
        let cases: [(Edit, &str); 5] = [
            (|bytes| bytes[TYPE_OFFSET] = 200, "unknown page type 200"),
            (|bytes| bytes[TYPE_OFFSET] = 0, "unknown page type 0"),
            (|bytes| bytes[VERSION_OFFSET] = 2, "unsupported page format version 2"),
            (|bytes| bytes[FLAGS_OFFSET] = 1, "unknown flags"),
            (|bytes| bytes[RESERVED_OFFSET + 3] = 1, "reserved header bytes"),
        ];
        for (edit, expected) in cases {
            let bytes = sealed_with(PageId(4), edit);
            let text = reason(Page::from_bytes(&bytes, FILE, PageId(4)));
            assert!(text.contains(expected), "{text}");
        }
        let bytes = sealed_with(PageId(4), |bytes| bytes[0] = b'X');
        assert!(reason(Page::from_bytes(&bytes, FILE, PageId(4))).contains("bad magic"));
    }

    #[test]
    fn wrong_id_is_reported_as_misdirected() {
        let bytes = *Page::new(PageId(9), PageType::Heap).seal();
        let error = Page::from_bytes(&bytes, FILE, PageId(10)).unwrap_err();
        assert!(
            matches!(&error, Error::CorruptPage { page: 10, reason, .. } if reason.contains("misdirected")),
            "{error}"
        );
    }

    #[test]
    fn encryption_trailer_is_covered_by_the_checksum() {
        let mut page = Page::new(PageId(2), PageType::Meta);
        page.encryption_trailer_mut().fill(0xee);
        let mut bytes = *page.seal();
        assert!(matches!(Page::from_bytes(&bytes, FILE, PageId(2)), Ok(PageRead::Written(_))));
        bytes[PAGE_SIZE - 1] ^= 1;
        assert!(reason(Page::from_bytes(&bytes, FILE, PageId(2))).contains("checksum mismatch"));
    }

    proptest! {
        #[test]
        fn sealed_pages_round_trip(
            id in any::<u64>(), lsn in any::<u64>(), page_type in page_type(),
            body in vec(any::<u8>(), PAGE_BODY_SIZE),
        ) {
            let mut page = Page::new(PageId(id), page_type);
            page.set_lsn(Lsn(lsn));
            page.body_mut().copy_from_slice(&body);
            let bytes = page.seal().to_vec();
            let read = Page::from_written_bytes(&bytes, FILE, PageId(id)).unwrap();
            prop_assert_eq!(read.id(), PageId(id));
            prop_assert_eq!(read.lsn(), Lsn(lsn));
            prop_assert_eq!(read.page_type(), page_type);
            prop_assert_eq!(read.body(), &body[..]);
            prop_assert_eq!(read, page);
        }

        #[test]
        fn any_single_bit_flip_is_detected(
            id in any::<u64>(), lsn in any::<u64>(), page_type in page_type(),
            body in vec(any::<u8>(), PAGE_BODY_SIZE), bit in 0..PAGE_SIZE * 8,
        ) {
            let mut page = Page::new(PageId(id), page_type);
            page.set_lsn(Lsn(lsn));
            page.body_mut().copy_from_slice(&body);
            let mut bytes = *page.seal();
            bytes[bit / 8] ^= 1 << (bit % 8);
            let result = Page::from_bytes(&bytes, FILE, PageId(id));
            prop_assert!(matches!(result, Err(Error::CorruptPage { .. })), "bit {} undetected", bit);
        }

        #[test]
        fn wrong_expected_id_is_detected(id in any::<u64>(), other in any::<u64>(), page_type in page_type()) {
            prop_assume!(id != other);
            let bytes = *Page::new(PageId(id), page_type).seal();
            prop_assert!(reason(Page::from_bytes(&bytes, FILE, PageId(other))).contains("misdirected"));
        }

        #[test]
        fn wrong_length_is_rejected(id in any::<u64>(), length in 0..PAGE_SIZE * 2) {
            prop_assume!(length != PAGE_SIZE);
            let mut bytes = Page::new(PageId(id), PageType::Heap).seal().to_vec();
            bytes.resize(length, 0);
            prop_assert!(reason(Page::from_bytes(&bytes, FILE, PageId(id))).contains("expected 4096 bytes"));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop_oneof![vec(any::<u8>(), PAGE_SIZE), vec(any::<u8>(), 0..PAGE_SIZE + 8)],
            id in any::<u64>(),
        ) {
            let _ = Page::from_bytes(&bytes, FILE, PageId(id));
        }
    }
}
