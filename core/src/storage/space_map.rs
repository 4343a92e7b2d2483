//! The space map: which pages of the data file are allocated.
//!
//! The file is cut into groups. Group `g` starts with its map page at
//! `g * GROUP_PAGES`; bit `i` of that page's body says whether page
//! `g * GROUP_PAGES + 1 + i` is allocated. Map pages themselves are implicit:
//! never in any bitmap, never handed out.
//!
//! Allocation is logged as [`crate::wal::record::PageOp::MapSet`] on the map
//! page and freeing as `MapClear`. One bit's change commutes with every other
//! bit's, so transactions may allocate from the same map page concurrently and
//! still undo page-oriented. The map is the truth; the allocator's in-memory
//! search position is only a hint.

use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::page::PAGE_BODY_SIZE;

/// Pages one map page covers: one bit per body bit, capped so a bit index fits the `u16` that
/// `MapSet`/`MapClear` log.
pub const PAGES_PER_MAP: u64 = {
    let bits = PAGE_BODY_SIZE as u64 * 8;
    if bits > u16::MAX as u64 + 1 { u16::MAX as u64 + 1 } else { bits }
};

/// A group: its map page and the pages it covers.
pub const GROUP_PAGES: u64 = PAGES_PER_MAP + 1;

/// Whether `page` is a map page.
pub fn is_map_page(page: PageId) -> bool {
    page.0.is_multiple_of(GROUP_PAGES)
}

/// The map page covering `page` and the bit that stands for it, or `None` for a map page.
pub fn locate(page: PageId) -> Option<(PageId, u16)> {
    let offset = page.0 % GROUP_PAGES;
    if offset == 0 {
        return None;
    }
    let bit = u16::try_from(offset - 1).expect("bit below PAGES_PER_MAP fits u16");
    Some((PageId(page.0 - offset), bit))
}

/// The page that bit `bit` of map page `map` stands for.
pub fn page_of(map: PageId, bit: u16) -> PageId {
    debug_assert!(is_map_page(map));
    PageId(map.0 + 1 + u64::from(bit))
}

/// Whether bit `bit` is set in a map body.
pub fn is_set(body: &[u8], bit: u16) -> bool {
    let (byte, mask) = position(bit);
    body[byte] & mask != 0
}

/// The first clear bit at or after `from`, if any.
pub fn first_clear(body: &[u8], from: u16) -> Option<u16> {
    (u64::from(from)..PAGES_PER_MAP).map(|bit| bit as u16).find(|&bit| {
        let (byte, _) = position(bit);
        body[byte] != 0xFF && !is_set(body, bit)
    })
}

/// Applies `MapSet` (`set`) or `MapClear` to a map body; the bit must be in the other state.
pub fn apply(body: &mut [u8], bit: u16, set: bool) -> Result<()> {
    if u64::from(bit) >= PAGES_PER_MAP {
        return Err(Error::Corrupt(format!("space map bit {bit} is past the {PAGES_PER_MAP} a map covers")));
    }
    if is_set(body, bit) == set {
        let state = if set { "allocated" } else { "free" };
        return Err(Error::Corrupt(format!("space map bit {bit} is already {state}")));
    }
    let (byte, mask) = position(bit);
    body[byte] ^= mask;
    Ok(())
}

fn position(bit: u16) -> (usize, u8) {
    (usize::from(bit / 8), 1 << (bit % 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_round_trips() {
        assert!(is_map_page(PageId(0)));
        assert!(is_map_page(PageId(GROUP_PAGES)));
        assert_eq!(locate(PageId(1)), Some((PageId(0), 0)));
        assert_eq!(locate(PageId(GROUP_PAGES + 5)), Some((PageId(GROUP_PAGES), 4)));
        assert_eq!(locate(PageId(GROUP_PAGES)), None);
        for page in [1, 2, 77, GROUP_PAGES - 1, GROUP_PAGES + 1, 3 * GROUP_PAGES + 9] {
            let (map, bit) = locate(PageId(page)).unwrap();
            assert_eq!(page_of(map, bit), PageId(page));
        }
    }

    #[test]
    fn set_and_clear_check_the_previous_state() {
        let mut body = vec![0u8; PAGE_BODY_SIZE];
        apply(&mut body, 9, true).unwrap();
        assert!(is_set(&body, 9));
        assert!(apply(&mut body, 9, true).is_err());
        assert_eq!(first_clear(&body, 9), Some(10));
        apply(&mut body, 9, false).unwrap();
        assert!(apply(&mut body, 9, false).is_err());
        assert_eq!(first_clear(&body, 0), Some(0));
        assert!(apply(&mut body, u16::MAX, true).is_err());
    }
}
