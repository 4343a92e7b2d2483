//! Which frames hold a page, and which page: the part of the pool's state
//! every policy mirrors so it can check the pool's calls against it.

use super::{FrameId, PageKey};

/// Per-frame occupancy, indexed by frame number.
#[derive(Debug, Clone)]
pub(crate) struct Residents {
    pages: Vec<Option<PageKey>>,
    resident_count: usize,
}

impl Residents {
    pub(crate) fn new(frames: usize) -> Self {
        assert!(frames > 0, "a buffer pool needs at least one frame");
        assert!(u32::try_from(frames).is_ok(), "frame numbers must fit FrameId(u32)");
        Residents { pages: vec![None; frames], resident_count: 0 }
    }

    pub(crate) fn frames(&self) -> usize {
        self.pages.len()
    }

    pub(crate) fn count(&self) -> usize {
        self.resident_count
    }

    pub(crate) fn holds(&self, frame: FrameId) -> bool {
        self.pages.get(frame.index()).is_some_and(Option::is_some)
    }

    /// Records that `page` was read into the empty `frame`.
    pub(crate) fn load(&mut self, frame: FrameId, page: PageKey) {
        let slot = self.slot(frame);
        assert!(slot.is_none(), "{frame} loaded while it still holds a page");
        *slot = Some(page);
        self.resident_count += 1;
        assert!(self.resident_count <= self.pages.len());
    }

    /// The page in `frame`, which must hold one.
    pub(crate) fn page(&self, frame: FrameId) -> PageKey {
        assert!(frame.index() < self.pages.len(), "{frame} out of range");
        self.pages[frame.index()].unwrap_or_else(|| panic!("{frame} holds no page"))
    }

    /// Empties `frame`, which must hold a page, and returns that page.
    pub(crate) fn clear(&mut self, frame: FrameId) -> PageKey {
        let page = self.slot(frame).take().unwrap_or_else(|| panic!("{frame} emptied while it holds no page"));
        assert!(self.resident_count > 0);
        self.resident_count -= 1;
        page
    }

    /// Resident frames in frame order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (FrameId, PageKey)> + '_ {
        self.pages.iter().enumerate().filter_map(|(index, page)| Some((FrameId::from_index(index), (*page)?)))
    }

    pub(crate) fn check_invariants(&self) {
        assert_eq!(self.iter().count(), self.resident_count);
    }

    fn slot(&mut self, frame: FrameId) -> &mut Option<PageKey> {
        let frames = self.pages.len();
        self.pages.get_mut(frame.index()).unwrap_or_else(|| panic!("{frame} out of range (pool has {frames} frames)"))
    }
}
