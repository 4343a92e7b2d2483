//! A tiny pool model for comparing policies on a page trace.

use std::collections::BTreeMap;

use super::{FrameId, PageKey, PolicyKind, new_policy};

/// Fraction of `trace` references that hit, for a pool of `frames` frames
/// managed by `kind`, starting empty, with every frame always evictable.
///
/// Free frames are used in order before the policy is asked for a victim,
/// as a real pool would. Deterministic: the same inputs give the same rate.
/// An empty trace has a hit rate of 0.
pub fn simulate_hit_rate(kind: PolicyKind, frames: usize, trace: &[PageKey]) -> f64 {
    let mut hits: usize = 0;
    simulate(kind, frames, trace, |_, hit| hits += usize::from(hit));
    if trace.is_empty() {
        return 0.0;
    }
    hits as f64 / trace.len() as f64
}

/// Runs the pool model, telling `on_reference` whether reference `index` of
/// `trace` hit.
pub(crate) fn simulate(kind: PolicyKind, frames: usize, trace: &[PageKey], mut on_reference: impl FnMut(usize, bool)) {
    let mut policy = new_policy(kind, frames);
    let mut frame_by_page: BTreeMap<PageKey, FrameId> = BTreeMap::new();
    let mut page_by_frame: Vec<Option<PageKey>> = vec![None; frames];
    for (index, &page) in trace.iter().enumerate() {
        let hit = frame_by_page.get(&page).copied();
        on_reference(index, hit.is_some());
        if let Some(frame) = hit {
            policy.on_access(frame);
            continue;
        }
        // Frames only empty to be refilled at once, so the filled ones are
        // exactly 0..resident and the next free one is `resident`.
        let frame = match frame_by_page.len() {
            resident if resident < frames => FrameId::from_index(resident),
            _ => {
                let frame = policy.victim(&|_| true).expect("a full pool with nothing pinned has a victim");
                let evicted = page_by_frame[frame.index()].take().expect("the victim holds a page");
                let removed = frame_by_page.remove(&evicted);
                assert_eq!(removed, Some(frame));
                policy.on_evict(frame);
                frame
            }
        };
        page_by_frame[frame.index()] = Some(page);
        frame_by_page.insert(page, frame);
        policy.on_load(frame, page);
        assert_eq!(policy.resident_count(), frame_by_page.len());
    }
}
