//! The buffer pool: a fixed set of frames caching pages of the data file.
//!
//! # What it owns
//!
//! N frames (fixed at creation), the map from page to frame, pin counts, dirty
//! flags with recovery LSNs, the set of pages written back but not yet synced,
//! and an [`EvictionPolicy`] that picks which unpinned frame a miss reuses.
//!
//! # Latches, pins and async
//!
//! A [`PageGuard`] pins its frame: a pinned frame is never evicted. The page
//! itself sits behind a per-frame `RwLock` (the latch) that is only ever held
//! inside [`PageGuard::read`] / [`PageGuard::change`] closures, which cannot
//! `.await`; so latches are short, never held across I/O, and the workspace
//! lint `await_holding_lock` backs that up. I/O happens outside every latch:
//! a miss claims a frame, marks it loading, and reads with only the frame's
//! async I/O mutex held, so other tasks wanting the same page wait on that
//! mutex rather than read it twice. Lock order: frame latch, then pool state;
//! the one exception, [`BufferPool::with_resident_page`], only *tries* the
//! latch under the state lock and gives up if it is taken.
//!
//! [`BufferPool::with_resident_page`] reads a resident page without pinning it: the
//! read latch alone keeps the frame's page in place, because a frame is only
//! ever given a new page under its write latch.
//!
//! # The WAL rule, and what a checkpoint may forget
//!
//! A dirty page is written back only after [`LogWriter::flush`] has made the
//! log durable up to the page's LSN. A written-back page is clean but not yet
//! durable: until the data file is [`BufferPool::sync`]ed, a crash may lose or
//! tear that write. So such pages stay in the *unsynced* set with the recovery
//! LSN they had, and [`BufferPool::dirty_page_table`] (what a checkpoint
//! records) includes them: redo must still cover their changes.
//!
//! A page's *dirty episode* runs from its first change after being clean to
//! its next write-back. [`PageGuard::change`] tells the caller when a change
//! starts an episode, so the caller can log a full page image first: a torn
//! write can only hit a page being cleaned, and the image at the start of the
//! following redo range rebuilds it.
//!
//! # Failures
//!
//! A failed data-file sync leaves the durability of earlier writes unknown, so
//! it poisons the pool: every later fetch and write-back fails with
//! [`Error::Poisoned`] until the engine restarts and recovers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use crate::buffer::policy::{EvictionPolicy, FrameId, PageKey, PolicyKind, new_policy};
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::file::PageFile;
use crate::storage::page::{Page, PageRead, PageType};
use crate::wal::Lsn;
use crate::wal::writer::LogWriter;

/// The fewest frames a pool may have: a B+Tree split pins a handful of pages at once.
pub const MIN_FRAMES: usize = 16;

/// Counters since the pool was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub write_backs: u64,
}

/// How a fetch treats the page's on-disk state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    /// The page must be on disk and valid.
    Existing,
    /// A freshly allocated page: do not read, start from an empty page of this type.
    New(PageType),
    /// Recovery's redo: a page that is unreadable (torn, never written, past
    /// the end) comes back blank with LSN 0, marked unknown.
    Redo,
}

#[derive(Debug, Default)]
struct FrameMeta {
    page: Option<PageId>,
    /// While [`Frame::dirty`]: at or below the LSN of the first change not on disk.
    rec_lsn: Lsn,
    /// The last fetch in `Redo` mode could not read the page.
    unknown: bool,
}

/// Which frame holds each page: a vector indexed by page number, since the
/// data file's pages are numbered densely (4 bytes per page of the file, a
/// thousandth of its size), so a lookup is one index instead of a tree search.
#[derive(Default)]
struct PageTable {
    frames: Vec<u32>,
}

impl PageTable {
    const NONE: u32 = u32::MAX;

    fn get(&self, page: PageId) -> Option<FrameId> {
        let frame = *usize::try_from(page.0).ok().and_then(|index| self.frames.get(index))?;
        (frame != Self::NONE).then_some(FrameId(frame))
    }

    fn insert(&mut self, page: PageId, frame: FrameId) {
        let index = usize::try_from(page.0).expect("page numbers below FILE_PAGES_MAX fit usize");
        if index >= self.frames.len() {
            self.frames.resize((index + 1).next_power_of_two(), Self::NONE);
        }
        self.frames[index] = frame.0;
    }

    fn remove(&mut self, page: PageId) {
        if let Some(slot) = usize::try_from(page.0).ok().and_then(|index| self.frames.get_mut(index)) {
            *slot = Self::NONE;
        }
    }
}

struct State {
    table: PageTable,
    meta: Vec<FrameMeta>,
    free: Vec<FrameId>,
    policy: Box<dyn EvictionPolicy>,
    /// Written back since the last successful data sync, with their recovery LSNs.
    unsynced: BTreeMap<PageId, Lsn>,
    poisoned: Option<String>,
    stats: PoolStats,
}

struct Frame {
    /// Guards holding the frame. Raised only under the pool state lock (so a
    /// frame chosen as victim with no pins cannot gain one meanwhile); lowered
    /// without it, so dropping a guard takes the lock only for the last pin
    /// of a frame whose load failed.
    pins: AtomicU32,
    /// The frame's load failed: it goes back to the free list with its last unpin.
    orphaned: AtomicBool,
    /// The page's bytes are in the frame (false while its read is in flight).
    /// Changed only under the pool state lock; kept here rather than in
    /// [`FrameMeta`] so that a hit touches one frame line, not two.
    loaded: AtomicBool,
    /// The page has changes not written back. Set and cleared only under
    /// the pool state lock (with `FrameMeta::rec_lsn`), but an atomic so that
    /// changing an already-dirty page need not take that lock.
    dirty: AtomicBool,
    latch: RwLock<Page>,
    /// Held while the frame's page is read from disk or written back.
    io: Arc<futures::lock::Mutex<()>>,
}

struct Inner {
    file: PageFile,
    log: Arc<LogWriter>,
    frames: Box<[Frame]>,
    state: Mutex<State>,
    /// Serialises growing the file, so concurrent write-backs never shrink it.
    grow: futures::lock::Mutex<()>,
}

/// The buffer pool; cheap to clone (all clones share the frames).
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<Inner>,
}

/// A pinned page. Dropping it unpins.
pub struct PageGuard {
    inner: Arc<Inner>,
    frame: FrameId,
    page: PageId,
}

impl BufferPool {
    /// A pool of `frames` frames over `file`, flushing `log` before write-backs.
    pub fn new(file: PageFile, log: Arc<LogWriter>, frames: usize, policy: PolicyKind) -> Result<BufferPool> {
        if frames < MIN_FRAMES || u32::try_from(frames).is_err() {
            return Err(Error::InvalidInput(format!("buffer pool of {frames} frames (at least {MIN_FRAMES})")));
        }
        let frame_list = (0..frames)
            .map(|_| Frame {
                pins: AtomicU32::new(0),
                orphaned: AtomicBool::new(false),
                loaded: AtomicBool::new(false),
                dirty: AtomicBool::new(false),
                latch: RwLock::new(Page::new(PageId(0), PageType::Free)),
                io: Default::default(),
            })
            .collect();
        let state = State {
            table: PageTable::default(),
            meta: (0..frames).map(|_| FrameMeta::default()).collect(),
            free: (0..frames).rev().map(FrameId::from_index).collect(),
            policy: new_policy(policy, frames),
            unsynced: BTreeMap::new(),
            poisoned: None,
            stats: PoolStats::default(),
        };
        let inner = Inner { file, log, frames: frame_list, state: Mutex::new(state), grow: Default::default() };
        Ok(BufferPool { inner: Arc::new(inner) })
    }

    /// The page `page`, which must be on disk (or in the pool) and valid.
    pub async fn fetch(&self, page: PageId) -> Result<PageGuard> {
        self.fetch_mode(page, Fetch::Existing).await
    }

    /// Runs `f` on page `page` under its read latch if the page is loaded in
    /// a frame whose latch is free, without pinning it; `None` otherwise
    /// (then [`BufferPool::fetch`] it). Not `async`, so hot loops build the
    /// fetch's large future only on a miss.
    ///
    /// The latch is taken (without waiting) while the pool state lock says
    /// the frame holds `page`, and reusing a frame for another page
    /// write-latches it first, so the frame cannot change under `f`.
    pub fn with_resident_page<R>(&self, page: PageId, f: impl FnOnce(&Page) -> R) -> Result<Option<R>> {
        Ok(self.inner.latch_if_resident(page)?.map(|latched| f(&latched)))
    }

    /// Whether `page` holds a written page (in the pool or on disk). A page
    /// past the end of the file or never written does not; a corrupt one is
    /// an error.
    pub async fn exists(&self, page: PageId) -> Result<bool> {
        if self.inner.lock().table.get(page).is_some() {
            return Ok(true);
        }
        Ok(matches!(self.inner.read(page).await?, Some(PageRead::Written(_))))
    }

    /// A page just allocated: it is not read; if not resident it starts as an
    /// empty page of `page_type` with LSN 0, to be `Format`ted by the caller.
    pub async fn fetch_new(&self, page: PageId, page_type: PageType) -> Result<PageGuard> {
        self.fetch_mode(page, Fetch::New(page_type)).await
    }

    /// For redo: the page, and whether its contents are known. An unknown
    /// page (torn, never written, past the end of the file) comes back blank
    /// with LSN 0; redo fills it only from a page-defining record (an image or
    /// a `Format`), see `store/recovery.rs`.
    pub async fn fetch_for_redo(&self, page: PageId) -> Result<(PageGuard, bool)> {
        let guard = self.fetch_mode(page, Fetch::Redo).await?;
        let unknown = self.inner.lock().meta[guard.frame.index()].unknown;
        Ok((guard, !unknown))
    }

    /// Marks an unknown page as known: a page-defining record has rebuilt it.
    pub fn mark_known(&self, guard: &PageGuard) {
        self.inner.lock().meta[guard.frame.index()].unknown = false;
    }

    async fn fetch_mode(&self, page: PageId, mode: Fetch) -> Result<PageGuard> {
        loop {
            let step = self.inner.claim(page)?;
            match step {
                Claim::Hit(frame, loaded) => {
                    let guard = PageGuard { inner: self.inner.clone(), frame, page };
                    if loaded || self.inner.wait_loaded(frame).await {
                        return Ok(guard);
                    }
                    // The loader failed and gave the frame up; try again from scratch.
                }
                Claim::WriteBack(frame) => {
                    let guard = PageGuard { inner: self.inner.clone(), frame, page: PageId(u64::MAX) };
                    self.inner.write_back(frame).await?;
                    drop(guard);
                }
                Claim::Load(frame, io) => {
                    let guard = PageGuard { inner: self.inner.clone(), frame, page };
                    self.inner.load(frame, page, mode).await?;
                    drop(io);
                    return Ok(guard);
                }
            }
        }
    }

    /// Writes back every dirty page (not syncing), in page order after
    /// growing the file once, rather than once per page past its end. For
    /// checkpoints and shutdown.
    pub async fn flush_all(&self) -> Result<()> {
        let mut dirty: Vec<(PageId, FrameId)> = {
            let state = self.inner.lock();
            let dirty_frames = state.meta.iter().enumerate().filter(|(index, _)| self.inner.is_dirty(*index));
            dirty_frames.filter_map(|(index, meta)| Some((meta.page?, FrameId::from_index(index)))).collect()
        };
        dirty.sort_unstable();
        if let Some((last, _)) = dirty.last() {
            self.inner.grow_to(last.0 + 1).await?;
        }
        for (_, frame) in dirty {
            let pinned = self.inner.pin_if_dirty(frame);
            if let Some(page) = pinned {
                let guard = PageGuard { inner: self.inner.clone(), frame, page };
                self.inner.write_back(frame).await?;
                drop(guard);
            }
        }
        Ok(())
    }

    /// Syncs the data file, making every earlier write-back durable. A failure
    /// poisons the pool.
    pub async fn sync(&self) -> Result<()> {
        let synced: BTreeSet<(PageId, Lsn)> = {
            let state = self.inner.lock();
            state.check()?;
            state.unsynced.iter().map(|(page, lsn)| (*page, *lsn)).collect()
        };
        let result = self.inner.file.sync().await;
        let mut state = self.inner.lock();
        if let Err(error) = result {
            state.poisoned.get_or_insert_with(|| format!("data file sync failed: {error}"));
            return Err(error);
        }
        for (page, lsn) in synced {
            if state.unsynced.get(&page) == Some(&lsn) {
                state.unsynced.remove(&page);
            }
        }
        Ok(())
    }

    /// Pages whose changes may not be durable in the data file, with the LSN
    /// redo must start from for each: dirty pages and unsynced write-backs.
    pub fn dirty_page_table(&self) -> Vec<(PageId, Lsn)> {
        let state = self.inner.lock();
        let mut table = state.unsynced.clone();
        let dirty_meta = state.meta.iter().enumerate().filter(|(index, _)| self.inner.is_dirty(*index));
        for (_, meta) in dirty_meta {
            let page = meta.page.expect("a dirty frame holds a page");
            let lsn = table.entry(page).or_insert(meta.rec_lsn);
            *lsn = (*lsn).min(meta.rec_lsn);
        }
        table.into_iter().collect()
    }

    pub fn stats(&self) -> PoolStats {
        self.inner.lock().stats
    }

    /// The data file's name, for error messages.
    pub fn file_name(&self) -> &str {
        self.inner.file.name()
    }
}

enum Claim {
    /// The page is (or, if not `loaded`, is being) loaded in this frame; it is now pinned.
    Hit(FrameId, bool),
    /// This dirty victim must be written back first; it is now pinned.
    WriteBack(FrameId),
    /// The page is assigned to this empty frame, pinned, with its I/O mutex held.
    Load(FrameId, futures::lock::OwnedMutexGuard<()>),
}

impl State {
    fn check(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a pin; call only with the state lock held (see [`Frame::pins`]).
    fn pin(&self, frame: FrameId) {
        self.frames[frame.index()].pins.fetch_add(1, Ordering::AcqRel);
    }

    /// Pins the frame holding `page`, or finds a frame for it. Never waits.
    fn claim(&self, page: PageId) -> Result<Claim> {
        let mut state = self.lock();
        state.check()?;
        if let Some(frame) = state.table.get(page) {
            self.pin(frame);
            state.policy.on_access(frame);
            state.stats.hits += 1;
            return Ok(Claim::Hit(frame, self.frames[frame.index()].loaded.load(Ordering::Acquire)));
        }
        let frame = match state.free.pop() {
            Some(frame) => frame,
            None => {
                let unpinned = |frame: FrameId| self.frames[frame.index()].pins.load(Ordering::Acquire) == 0;
                let victim = state.policy.victim(&unpinned).ok_or_else(|| {
                    Error::InvalidInput(format!("buffer pool exhausted: all {} frames are pinned", self.frames.len()))
                })?;
                if self.is_dirty(victim.index()) {
                    self.pin(victim);
                    return Ok(Claim::WriteBack(victim));
                }
                let old = state.meta[victim.index()].page.take().expect("a resident frame holds a page");
                state.table.remove(old);
                state.policy.on_evict(victim);
                state.stats.evictions += 1;
                victim
            }
        };
        let io = self.frames[frame.index()].io.try_lock_owned().expect("an empty frame has no I/O in flight");
        state.table.insert(page, frame);
        state.meta[frame.index()] = FrameMeta { page: Some(page), ..FrameMeta::default() };
        self.frames[frame.index()].loaded.store(false, Ordering::Release);
        self.frames[frame.index()].dirty.store(false, Ordering::Release);
        self.pin(frame);
        state.policy.on_load(frame, PageKey(page.0));
        state.stats.misses += 1;
        Ok(Claim::Load(frame, io))
    }

    /// `page`'s read latch if it is loaded in a frame and no one write-latches
    /// it; counts a hit then. Taking a latch under the state lock inverts the
    /// lock order, which is safe only because this never waits for it.
    fn latch_if_resident(&self, page: PageId) -> Result<Option<RwLockReadGuard<'_, Page>>> {
        let mut state = self.lock();
        state.check()?;
        let Some(frame) = state.table.get(page) else { return Ok(None) };
        let slot = &self.frames[frame.index()];
        if !slot.loaded.load(Ordering::Acquire) {
            return Ok(None);
        }
        let Ok(latched) = slot.latch.try_read() else { return Ok(None) };
        state.policy.on_access(frame);
        state.stats.hits += 1;
        Ok(Some(latched))
    }

    /// Whether frame `index` holds changes not written back.
    fn is_dirty(&self, index: usize) -> bool {
        self.frames[index].dirty.load(Ordering::Acquire)
    }

    /// Waits for a frame's load to finish; false if it failed.
    async fn wait_loaded(&self, frame: FrameId) -> bool {
        drop(self.frames[frame.index()].io.lock().await);
        self.frames[frame.index()].loaded.load(Ordering::Acquire)
    }

    /// Reads `page` into the claimed `frame` (or makes it empty, per `mode`).
    async fn load(&self, frame: FrameId, page: PageId, mode: Fetch) -> Result<()> {
        let outcome = match mode {
            Fetch::New(page_type) => Ok((Page::new(page, page_type), false)),
            Fetch::Existing => self.read(page).await.and_then(|read| match read {
                Some(PageRead::Written(loaded)) => Ok((loaded, false)),
                _ => Err(Error::CorruptPage {
                    file: self.file.name().to_string(),
                    page: page.0,
                    reason: "never written (a lost write, or a reference to a page that does not exist)".into(),
                }),
            }),
            Fetch::Redo => match self.read(page).await {
                Ok(Some(PageRead::Written(loaded))) => Ok((loaded, false)),
                Ok(_) | Err(Error::CorruptPage { .. }) => Ok((Page::new(page, PageType::Free), true)),
                Err(error) => Err(error),
            },
        };
        // The page goes in before the state lock is taken (latch, then state):
        // no one reads the frame until `loaded` is set below.
        let outcome = outcome.map(|(loaded, unknown)| {
            *self.frames[frame.index()].latch.write().unwrap_or_else(|p| p.into_inner()) = loaded;
            unknown
        });
        let mut state = self.lock();
        match outcome {
            Ok(unknown) => {
                self.frames[frame.index()].loaded.store(true, Ordering::Release);
                state.meta[frame.index()].unknown = unknown;
                Ok(())
            }
            Err(error) => {
                // Give the frame back; waiters see `loaded == false` and retry.
                state.table.remove(page);
                state.policy.on_remove(frame);
                state.meta[frame.index()] = FrameMeta::default();
                self.frames[frame.index()].orphaned.store(true, Ordering::Release);
                Err(error)
            }
        }
    }

    /// The page's bytes from disk; `None` past the end of the file.
    async fn read(&self, page: PageId) -> Result<Option<PageRead>> {
        if page.0 >= self.file.page_count() {
            return Ok(None);
        }
        self.file.read_page(page).await.map(Some)
    }

    fn pin_if_dirty(&self, frame: FrameId) -> Option<PageId> {
        let state = self.lock();
        let meta = &state.meta[frame.index()];
        if !self.is_dirty(frame.index()) || !self.frames[frame.index()].loaded.load(Ordering::Acquire) {
            return None;
        }
        let page = meta.page;
        self.pin(frame);
        page
    }

    /// Writes the pinned frame's page back, obeying the WAL rule.
    ///
    /// Holds the frame's I/O mutex from copy to write, so two write-backs of
    /// one page (a checkpoint's and an eviction's) cannot finish in the wrong
    /// order and leave an older copy on disk than the one that cleaned it.
    async fn write_back(&self, frame: FrameId) -> Result<()> {
        let _one_write_at_a_time = self.frames[frame.index()].io.lock().await;
        let mut copy = self.frames[frame.index()].latch.read().unwrap_or_else(|p| p.into_inner()).clone();
        let lsn = copy.lsn();
        {
            let state = self.lock();
            state.check()?;
            if !self.is_dirty(frame.index()) {
                return Ok(());
            }
        }
        if lsn > Lsn::ZERO {
            self.log.flush(lsn).await?;
        }
        self.grow_to(copy.id().0 + 1).await?;
        self.file.write_page(&mut copy).await?;
        // Latch before state (the lock order): a change holds the write latch
        // while it takes the state lock, and this read latch, held until the
        // dirty flag is settled, keeps a change from slipping in between.
        let latched = self.frames[frame.index()].latch.read().unwrap_or_else(|p| p.into_inner());
        let mut state = self.lock();
        state.stats.write_backs += 1;
        if latched.lsn() == lsn && self.is_dirty(frame.index()) {
            self.frames[frame.index()].dirty.store(false, Ordering::Release);
            let rec_lsn = state.meta[frame.index()].rec_lsn;
            let page = copy.id();
            let entry = state.unsynced.entry(page).or_insert(rec_lsn);
            *entry = (*entry).min(rec_lsn);
        }
        Ok(())
    }

    async fn grow_to(&self, pages: u64) -> Result<()> {
        if self.file.page_count() >= pages {
            return Ok(());
        }
        let _grow = self.grow.lock().await;
        let count = self.file.page_count();
        if count < pages {
            self.file.extend(pages - count).await?;
        }
        Ok(())
    }
}

impl PageGuard {
    pub fn id(&self) -> PageId {
        self.page
    }

    /// Runs `f` with the page read-latched.
    pub fn read<R>(&self, f: impl FnOnce(&Page) -> R) -> R {
        f(&self.inner.frames[self.frame.index()].latch.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the page under its write latch. `change` receives the page and
    /// whether this change starts a dirty episode (the page was clean), and
    /// returns the LSN of the last log record it appended for the change, or
    /// `None` if it changed nothing. The page is marked dirty before `change`
    /// runs, with the log's next LSN as recovery LSN (at or below the change's
    /// records), and its LSN is set to the returned one.
    pub fn change<R>(&self, change: impl FnOnce(&mut Page, bool) -> Result<(R, Option<Lsn>)>) -> Result<R> {
        let frame = &self.inner.frames[self.frame.index()];
        let mut page = frame.latch.write().unwrap_or_else(|p| p.into_inner());
        // Only a write-back cleans a page, under the read latch, so with the
        // write latch held a dirty page stays dirty: no state lock needed.
        let starts_episode = !frame.dirty.load(Ordering::Acquire) && {
            let mut state = self.inner.lock();
            state.check()?;
            // Re-read under the lock: a write-back may have cleaned it meanwhile.
            let clean = !frame.dirty.load(Ordering::Acquire);
            if clean {
                state.meta[self.frame.index()].rec_lsn = self.inner.log.next_lsn();
                frame.dirty.store(true, Ordering::Release);
            }
            clean
        };
        let (result, lsn) = change(&mut page, starts_episode)?;
        if let Some(lsn) = lsn {
            page.set_lsn(lsn);
        }
        Ok(result)
    }
}

impl Drop for PageGuard {
    fn drop(&mut self) {
        let before = self.inner.frames[self.frame.index()].pins.fetch_sub(1, Ordering::AcqRel);
        assert!(before > 0, "unpinning an unpinned {}", self.frame);
        let frame = &self.inner.frames[self.frame.index()];
        if before == 1 && frame.orphaned.load(Ordering::Acquire) {
            // A failed load left the frame empty; it is free once the last waiter lets go.
            let mut state = self.inner.lock();
            if frame.pins.load(Ordering::Acquire) == 0 && frame.orphaned.swap(false, Ordering::AcqRel) {
                state.free.push(self.frame);
            }
        }
    }
}
