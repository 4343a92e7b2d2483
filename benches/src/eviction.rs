//! `eviction_hit_rate`: every buffer-pool eviction policy on three
//! deterministic page-reference traces, through
//! [`rustydb_core::buffer::policy::simulate_hit_rate`] (no I/O, no SQLite).
//!
//! | workload | trace |
//! |---|---|
//! | `uniform` | pages drawn uniformly from `PAGES` |
//! | `zipfian` | Zipf(s = 0.99) over `PAGES`, popularity ranks shuffled over the pages |
//! | `scan_mixed` | the Zipfian trace, with a sequential scan of `SCAN_LEN` pages of a separate `PAGES`-page table after every `SCAN_EVERY` references |
//!
//! The pool holds `FRAMES` = 10 % of `PAGES`.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rustydb_core::buffer::policy::{PageKey, PolicyKind, simulate_hit_rate};

/// Distinct pages of the traced table (or index).
pub const PAGES: u64 = 10_000;
/// Pool size: 10 % of `PAGES`.
pub const FRAMES: usize = (PAGES / 10) as usize;
/// Zipf exponent.
pub const ZIPF_S: f64 = 0.99;
/// Hot-set references between two scans in `scan_mixed`.
pub const SCAN_EVERY: usize = 20_000;
/// Pages per scan in `scan_mixed`: five times the pool.
pub const SCAN_LEN: u64 = 5 * FRAMES as u64;

/// One result line.
#[derive(Debug, Clone)]
pub struct HitRate {
    pub policy: PolicyKind,
    pub workload: &'static str,
    pub hit_rate: f64,
}

impl HitRate {
    /// `bench=eviction_hit_rate policy=<name> workload=<name> hit_rate=<0.xxxx>`.
    pub fn line(&self) -> String {
        format!(
            "bench=eviction_hit_rate policy={} workload={} hit_rate={:.4}",
            self.policy, self.workload, self.hit_rate
        )
    }
}

/// The hit rate of every policy on every workload, traces of `len` references.
pub fn run(len: usize) -> Vec<HitRate> {
    let workloads = [("uniform", uniform(len)), ("zipfian", zipfian(len)), ("scan_mixed", scan_mixed(len))];
    let mut results = Vec::new();
    for (workload, trace) in &workloads {
        for policy in PolicyKind::ALL {
            results.push(HitRate { policy, workload, hit_rate: simulate_hit_rate(policy, FRAMES, trace) });
        }
    }
    results
}

/// `len` pages drawn uniformly from `0..PAGES`.
pub fn uniform(len: usize) -> Vec<PageKey> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xe71c_0001);
    (0..len).map(|_| PageKey(rng.next_u64() % PAGES)).collect()
}

/// `len` pages drawn from Zipf(`ZIPF_S`) over `0..PAGES`.
pub fn zipfian(len: usize) -> Vec<PageKey> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xe71c_0002);
    let zipf = Zipf::new(PAGES, ZIPF_S, &mut rng);
    (0..len).map(|_| PageKey(zipf.sample(&mut rng))).collect()
}

/// The Zipfian hot set with a scan of `SCAN_LEN` consecutive pages of a
/// second table (pages `PAGES..2 * PAGES`, wrapping) after every
/// `SCAN_EVERY` hot references; `len` references in all.
pub fn scan_mixed(len: usize) -> Vec<PageKey> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xe71c_0003);
    let zipf = Zipf::new(PAGES, ZIPF_S, &mut rng);
    let mut trace = Vec::with_capacity(len);
    let mut scan_cursor = 0;
    while trace.len() < len {
        for _ in 0..SCAN_EVERY.min(len - trace.len()) {
            trace.push(PageKey(zipf.sample(&mut rng)));
        }
        for _ in 0..SCAN_LEN.min((len - trace.len()) as u64) {
            trace.push(PageKey(PAGES + scan_cursor));
            scan_cursor = (scan_cursor + 1) % PAGES;
        }
    }
    trace
}

/// Zipf sampler by inverse CDF; rank `r` (0 = most popular) has weight
/// `1 / (r + 1)^s` and lives on page `page_of_rank[r]`.
struct Zipf {
    cdf: Vec<f64>,
    page_of_rank: Vec<u64>,
}

impl Zipf {
    fn new(pages: u64, s: f64, rng: &mut ChaCha8Rng) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (0..pages)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(s);
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        let mut page_of_rank: Vec<u64> = (0..pages).collect();
        for i in (1..page_of_rank.len()).rev() {
            page_of_rank.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        Zipf { cdf, page_of_rank }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        let u = (rng.next_u64() >> 11) as f64 / (1_u64 << 53) as f64;
        let rank = self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1);
        self.page_of_rank[rank]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_have_the_requested_length_and_are_deterministic() {
        for trace in [uniform(50_123), zipfian(50_123), scan_mixed(50_123)] {
            assert_eq!(trace.len(), 50_123);
        }
        assert_eq!(scan_mixed(30_000), scan_mixed(30_000));
    }

    #[test]
    fn zipf_is_skewed() {
        let trace = zipfian(100_000);
        let mut counts = vec![0_u32; PAGES as usize];
        trace.iter().for_each(|page| counts[page.0 as usize] += 1);
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_10_percent: u32 = counts[..FRAMES].iter().sum();
        assert!(top_10_percent > 50_000, "top 10% of pages got {top_10_percent} of 100000");
    }
}
