//! A file of pages: page-sized reads and writes over an Env [`File`], with
//! every page verified on read.
//!
//! Invariants:
//! * Page `n` lives at byte offset `n * PAGE_SIZE`; the file's page count is
//!   its length divided by `PAGE_SIZE`. A partial trailing page (a crash
//!   while the file grew) is not a page: it is ignored at open and
//!   overwritten by the next extension.
//! * Every read is checked by [`Page::from_bytes`]: checksum, format and the
//!   page's own id, so torn, rotted and misdirected pages surface as
//!   [`Error::CorruptPage`] naming this file and the page.
//! * Writes are volatile until [`PageFile::sync`], per the storage contract.
//!   Ordering writes against the WAL is the buffer pool's job, not this file's.

use std::sync::atomic::{AtomicU64, Ordering};

use super::PageId;
use super::page::{PAGE_SIZE, Page, PageRead};
use crate::env::{Env, File, OpenMode};
use crate::{Error, IoErrorKind, Result};

/// The most pages one file may hold (16 TiB of 4 KiB pages): a page id past
/// it is a bug or corruption, never a reason to grow a file without bound.
pub const FILE_PAGES_MAX: u64 = 1 << 32;

/// An open file of pages.
pub struct PageFile {
    name: String,
    file: Box<dyn File>,
    page_count: AtomicU64,
}

impl PageFile {
    /// Opens (or creates, per `mode`) the page file `name`.
    pub async fn open(env: &Env, name: &str, mode: OpenMode) -> Result<PageFile> {
        let file = env.storage.open(name, mode).await?;
        let page_count = file.len().await? / PAGE_SIZE as u64;
        Ok(PageFile { name: name.to_string(), file, page_count: AtomicU64::new(page_count) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn page_count(&self) -> u64 {
        self.page_count.load(Ordering::Acquire)
    }

    /// Reads and verifies page `id`.
    pub async fn read_page(&self, id: PageId) -> Result<PageRead> {
        if id.0 >= self.page_count() {
            let context = format!("read of {id} past the end of {} ({} pages)", self.name, self.page_count());
            return Err(Error::io(IoErrorKind::InvalidInput, context));
        }
        let mut bytes = vec![0u8; PAGE_SIZE];
        let read = self.file.read_at(id.0 * PAGE_SIZE as u64, &mut bytes).await?;
        if read != PAGE_SIZE {
            return Err(Error::CorruptPage {
                file: self.name.clone(),
                page: id.0,
                reason: format!("short read: {read} of {PAGE_SIZE} bytes"),
            });
        }
        Page::from_bytes(&bytes, &self.name, id)
    }

    /// Seals and writes `page` at its own id; volatile until [`PageFile::sync`].
    pub async fn write_page(&self, page: &mut Page) -> Result<()> {
        let id = page.id();
        if id.0 >= self.page_count() {
            let context = format!("write of {id} past the end of {} ({} pages)", self.name, self.page_count());
            return Err(Error::io(IoErrorKind::InvalidInput, context));
        }
        let bytes = page.seal();
        self.file.write_at(id.0 * PAGE_SIZE as u64, bytes).await
    }

    /// Grows the file by `count` zeroed (unwritten) pages and returns the id
    /// of the first. Volatile until [`PageFile::sync`].
    pub async fn extend(&self, count: u64) -> Result<PageId> {
        let first = self.page_count();
        let new_count = first.checked_add(count).filter(|total| *total <= FILE_PAGES_MAX).ok_or_else(|| {
            Error::io(IoErrorKind::InvalidInput, format!("{} would exceed {FILE_PAGES_MAX} pages", self.name))
        })?;
        self.file.truncate(new_count * PAGE_SIZE as u64).await?;
        self.page_count.store(new_count, Ordering::Release);
        Ok(PageId(first))
    }

    /// Makes every completed write and extension durable.
    pub async fn sync(&self) -> Result<()> {
        self.file.sync().await
    }
}
