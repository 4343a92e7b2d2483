//! The B+Tree on the storage engine, under the simulator: random inserts and
//! deletes (through commits and rollbacks) agree with a model, rollback of
//! splits and merges restores the tree exactly, a load in key order fills
//! the leaves, and recovery after a crash keeps exactly the committed tree.
//!
//! The trees are B+Tree tables of a [`Store`], driven through its
//! transaction API; the structural check (`tree_check`) runs after every
//! transaction.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use rustydb_core::env::{BoxFuture, Env};
use rustydb_core::index::btree::TreeStats;
use rustydb_core::store::{Store, StoreConfig, TableId, Txn};
use rustydb_core::{Error, Result};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::{NodeProgram, Simulator};

const DEADLINE_NANOS: u64 = 600_000_000_000;

type TestResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A simulator whose disk is slow but never fails, unless `faults` says so.
fn simulator(seed: u64, faults: &str) -> Simulator {
    let text = format!("workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\n{faults}");
    Simulator::new(Scenario::parse("t.toml", &text).unwrap().draw(seed), false)
}

fn config() -> StoreConfig {
    StoreConfig { pool_frames: 64, ..StoreConfig::default() }
}

/// Runs `work` once on a fault-free node and returns what it returned.
fn run<T, F>(seed: u64, work: F) -> T
where
    T: Send + 'static,
    F: Fn(Env) -> BoxFuture<'static, TestResult<T>> + Send + Sync + 'static,
{
    let mut sim = simulator(seed, "");
    let slot: Arc<Mutex<Option<TestResult<T>>>> = Arc::default();
    let (slot2, work) = (slot.clone(), Arc::new(work));
    let program: NodeProgram = Arc::new(move |env| {
        let (slot, work) = (slot2.clone(), work.clone());
        Box::pin(async move {
            let outcome = work(env).await;
            *slot.lock().unwrap() = Some(outcome);
            futures::future::pending::<()>().await;
            Ok(())
        })
    });
    sim.add_node("n", false, program);
    sim.run_until(DEADLINE_NANOS, &|| slot.lock().unwrap().is_some());
    let outcome = slot.lock().unwrap().take().expect("the program finished before the deadline");
    sim.shutdown();
    outcome.unwrap_or_else(|error| panic!("seed {seed}: {error}"))
}

/// SplitMix64: the tests' own deterministic randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// Bytes from a four-letter alphabet with zeros in it, so keys share
    /// prefixes, are prefixes of one another, and need escaping as values.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| [0x00, 0x01, b'a', 0xFF][self.below(4)]).collect()
    }
}

/// What the tree should hold: (key, value) pairs, at most one per key if unique.
#[derive(Clone)]
struct Model {
    unique: bool,
    pairs: BTreeSet<(Vec<u8>, Vec<u8>)>,
}

impl Model {
    fn first(&self, key: &[u8]) -> Option<Vec<u8>> {
        let (found, value) = self.pairs.range((key.to_vec(), Vec::new())..).next()?;
        (found == key).then(|| value.clone())
    }

    /// Whether the insert is allowed (and then done).
    fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        if self.unique && self.first(key).is_some() {
            return false;
        }
        self.pairs.insert((key.to_vec(), value.to_vec()))
    }

    fn delete(&mut self, key: &[u8], value: Option<&[u8]>) -> bool {
        let value = match value {
            Some(value) => value.to_vec(),
            None => match self.first(key) {
                Some(value) => value,
                None => return false,
            },
        };
        self.pairs.remove(&(key.to_vec(), value))
    }

    fn in_range(&self, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let within = |key: &Vec<u8>| {
            let above = match lo {
                Bound::Included(lo) => key >= lo,
                Bound::Excluded(lo) => key > lo,
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(hi) => key <= hi,
                Bound::Excluded(hi) => key < hi,
                Bound::Unbounded => true,
            };
            above && below
        };
        self.pairs.iter().filter(|(key, _)| within(key)).cloned().collect()
    }
}

async fn scan(
    txn: &mut Txn,
    table: TableId,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut cursor = txn.tree_range(table, lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice)).await?;
    let mut pairs = Vec::new();
    while let Some(pair) = cursor.next().await? {
        pairs.push(pair);
    }
    Ok(pairs)
}

/// Checks the tree's structure and that a full scan is exactly `model`.
async fn verify(txn: &mut Txn, table: TableId, model: &Model) -> TestResult<TreeStats> {
    let stats = txn.tree_check(table).await?;
    let pairs = scan(txn, table, &Bound::Unbounded, &Bound::Unbounded).await?;
    let expected: Vec<_> = model.pairs.iter().cloned().collect();
    if pairs != expected {
        return Err(format!("scan has {} pairs, the model {}", pairs.len(), expected.len()).into());
    }
    if stats.entries != expected.len() {
        return Err(format!("check counted {stats:?}, the model holds {}", expected.len()).into());
    }
    Ok(stats)
}

/// The random workload of one proptest case.
struct Workload {
    rng: Rng,
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

impl Workload {
    fn new(seed: u64) -> Workload {
        let mut rng = Rng(seed);
        // Long shared prefixes make long separators, so internal nodes hold
        // few and split, merge and redistribute too.
        let prefixes: Vec<Vec<u8>> = [0, 60, 180, 250, 289].iter().map(|&len| rng.bytes(len)).collect();
        let keys = (0..4000)
            .map(|_| {
                let mut key = prefixes[rng.below(prefixes.len())].clone();
                let len = 1 + rng.below(10);
                key.extend(rng.bytes(len));
                key
            })
            .collect();
        let values = (0..64)
            .map(|_| {
                let len = rng.below(31);
                rng.bytes(len)
            })
            .collect();
        Workload { rng, keys, values }
    }

    /// A key from the pool; often one of a few hot keys, so that a
    /// non-unique tree holds runs of duplicates spanning leaves.
    fn key(&mut self) -> Vec<u8> {
        let pool = if self.rng.chance(25) { 12 } else { self.keys.len() };
        self.keys[self.rng.below(pool)].clone()
    }

    fn value(&mut self, unique: bool) -> Vec<u8> {
        if unique {
            let len = self.rng.below(61);
            self.rng.bytes(len)
        } else {
            self.values[self.rng.below(self.values.len())].clone()
        }
    }

    fn bound(&mut self) -> Bound<Vec<u8>> {
        match self.rng.below(3) {
            0 => Bound::Included(self.key()),
            1 => Bound::Excluded(self.key()),
            _ => Bound::Unbounded,
        }
    }

    /// One random insert, delete or lookup, checked against the model.
    async fn step(&mut self, txn: &mut Txn, table: TableId, model: &mut Model, deleting: bool) -> TestResult<()> {
        let key = self.key();
        let roll = self.rng.below(100);
        if roll < 10 {
            let found = txn.tree_get(table, &key).await?;
            if found != model.first(&key) {
                return Err(format!("get({key:?}) = {found:?}, model {:?}", model.first(&key)).into());
            }
        } else if roll < if deleting { 35 } else { 70 } {
            let value = self.value(model.unique);
            let allowed = model.insert(&key, &value);
            match txn.tree_insert(table, &key, &value).await {
                Ok(()) if allowed => {}
                Err(Error::UniqueViolation(_)) if !allowed => {}
                other => return Err(format!("insert({key:?}, {value:?}) = {other:?}, allowed {allowed}").into()),
            }
        } else if deleting && !model.pairs.is_empty() && self.rng.chance(70) {
            // Mostly entries that exist, so that the tree shrinks.
            let (key, value) = model.pairs.iter().nth(self.rng.below(model.pairs.len())).cloned().unwrap();
            let value = self.rng.chance(50).then_some(value);
            let expected = model.delete(&key, value.as_deref());
            let deleted = txn.tree_delete(table, &key, value.as_deref()).await?;
            if deleted != expected {
                return Err(format!("delete({key:?}, {value:?}) = {deleted}, model {expected}").into());
            }
        } else {
            let value = match self.rng.below(3) {
                0 => None,
                1 => Some(self.value(model.unique)),
                _ => model.first(&key).or_else(|| Some(self.value(model.unique))),
            };
            let expected = model.delete(&key, value.as_deref());
            let deleted = txn.tree_delete(table, &key, value.as_deref()).await?;
            if deleted != expected {
                return Err(format!("delete({key:?}, {value:?}) = {deleted}, model {expected}").into());
            }
        }
        Ok(())
    }
}

/// Runs `ops` random operations in transactions of 250, a quarter of them
/// rolled back; verifies the tree after each and ranges and lookups at the end.
async fn random_ops(env: Env, seed: u64, unique: bool, ops: usize) -> TestResult<TreeStats> {
    let store = Store::open(&env, config()).await?;
    let mut workload = Workload::new(seed);
    let mut txn = store.begin().await?;
    let table = txn.create_btree("t", unique).await?;
    txn.commit().await?;
    let mut model = Model { unique, pairs: BTreeSet::new() };
    let mut max_height = 0;
    for batch in 0..ops.div_ceil(250) {
        let before = model.clone();
        let mut txn = store.begin().await?;
        for op in batch * 250..ops.min(batch * 250 + 250) {
            workload.step(&mut txn, table, &mut model, op >= ops / 2).await?;
        }
        if workload.rng.chance(25) {
            txn.rollback().await?;
            model = before;
        } else {
            txn.commit().await?;
        }
        let mut txn = store.begin().await?;
        max_height = max_height.max(verify(&mut txn, table, &model).await?.height);
        txn.commit().await?;
    }
    let mut txn = store.begin().await?;
    for _ in 0..40 {
        let (lo, hi) = (workload.bound(), workload.bound());
        let found = scan(&mut txn, table, &lo, &hi).await?;
        if found != model.in_range(&lo, &hi) {
            return Err(format!("range {lo:?}..{hi:?} disagrees with the model").into());
        }
        let key = workload.key();
        if txn.tree_get(table, &key).await? != model.first(&key) {
            return Err(format!("get({key:?}) disagrees with the model").into());
        }
    }
    let stats = verify(&mut txn, table, &model).await?;
    txn.commit().await?;
    drain(&store, table, &mut workload.rng, model).await?;
    Ok(TreeStats { height: max_height, ..stats })
}

/// Deletes every entry in random order, verifying the tree as it shrinks
/// back to one empty root leaf.
async fn drain(store: &Store, table: TableId, rng: &mut Rng, mut model: Model) -> TestResult<()> {
    let mut order: Vec<(Vec<u8>, Vec<u8>)> = model.pairs.iter().cloned().collect();
    for index in (1..order.len()).rev() {
        order.swap(index, rng.below(index + 1));
    }
    for batch in order.chunks(250) {
        let mut txn = store.begin().await?;
        for (key, value) in batch {
            let value = (!model.unique || rng.chance(50)).then_some(value.as_slice());
            if !txn.tree_delete(table, key, value).await? {
                return Err(format!("drain: delete({key:?}, {value:?}) found nothing").into());
            }
            model.delete(key, value);
        }
        txn.commit().await?;
        let mut txn = store.begin().await?;
        verify(&mut txn, table, &model).await?;
        txn.commit().await?;
    }
    let mut txn = store.begin().await?;
    let stats = verify(&mut txn, table, &model).await?;
    txn.commit().await?;
    if stats != (TreeStats { height: 1, leaves: 1, internal_nodes: 0, entries: 0 }) {
        return Err(format!("drained tree is {stats:?}").into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_inserts_and_deletes_match_a_model(seed in any::<u64>(), unique in any::<bool>()) {
        let stats = run(seed, move |env| Box::pin(random_ops(env, seed, unique, 4000)));
        // Keys of up to 300 bytes in 4 KiB nodes: the tree grew past one level.
        prop_assert!(stats.height >= 2, "{stats:?}");
    }
}

#[test]
fn unique_and_non_unique_trees_both_pass_a_long_run() {
    for (seed, unique) in [(7, true), (8, false)] {
        let stats = run(seed, move |env| Box::pin(random_ops(env, seed, unique, 20_000)));
        assert!(stats.height >= 3, "seed {seed}: {stats:?}");
    }
}

/// Entries of the largest sizes allowed, whose keys share long prefixes so
/// that separators are as long as keys: four entries fill a node, and every
/// level splits, merges and redistributes at the size limits.
#[test]
fn largest_entries_split_and_merge_at_every_level() {
    for unique in [true, false] {
        run(11, move |env| {
            Box::pin(async move {
                let store = Store::open(&env, config()).await?;
                let mut txn = store.begin().await?;
                let table = txn.create_btree("t", unique).await?;
                txn.commit().await?;
                let mut model = Model { unique, pairs: BTreeSet::new() };
                let mut rng = Rng(u64::from(unique));
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..400u32).map(|i| largest_pair(unique, i)).collect();
                for order in [0, 1] {
                    for index in (1..pairs.len()).rev() {
                        pairs.swap(index, rng.below(index + 1));
                    }
                    for batch in pairs.chunks(50) {
                        let mut txn = store.begin().await?;
                        for (key, value) in batch {
                            if order == 0 {
                                txn.tree_insert(table, key, value).await?;
                                model.insert(key, value);
                            } else {
                                assert!(txn.tree_delete(table, key, Some(value)).await?);
                                model.delete(key, Some(value));
                            }
                        }
                        txn.commit().await?;
                        let mut txn = store.begin().await?;
                        let stats = verify(&mut txn, table, &model).await?;
                        txn.commit().await?;
                        assert!(model.pairs.len() < 200 || stats.height >= 4, "{stats:?}");
                    }
                }
                Ok(())
            })
        });
    }
}

/// Pair `i` of [`largest_entries_split_and_merge_at_every_level`]: a unique
/// tree's keys are the longest allowed; a non-unique tree's leave room for
/// an escaped value in separators, and each key has two values.
fn largest_pair(unique: bool, i: u32) -> (Vec<u8>, Vec<u8>) {
    let id = if unique { i } else { i / 2 };
    let mut key = vec![b'p'; 980];
    key.extend_from_slice(&id.wrapping_mul(2_654_435_761).to_be_bytes());
    if unique {
        key.resize(rustydb_core::index::btree::node::MAX_KEY_BYTES, b'k');
        (key, i.to_be_bytes().repeat(2))
    } else {
        key.truncate(900 - 4);
        key.extend_from_slice(&id.wrapping_mul(2_654_435_761).to_be_bytes());
        let mut value = vec![b'v'; 80];
        value[0] = u8::try_from(i % 2).unwrap() + 1;
        (key, value)
    }
}

/// Keys and entries over the size limits are refused as invalid input.
#[test]
fn oversized_entries_are_refused() {
    use rustydb_core::index::btree::node::{MAX_ENTRY_BYTES, MAX_KEY_BYTES};
    run(12, |env| {
        Box::pin(async move {
            let store = Store::open(&env, config()).await?;
            let mut txn = store.begin().await?;
            let unique = txn.create_btree("u", true).await?;
            let multi = txn.create_btree("m", false).await?;
            let refused = [
                (unique, vec![1; MAX_KEY_BYTES + 1], vec![]),
                (unique, vec![1; 10], vec![2; MAX_ENTRY_BYTES - 11]),
                // Fits a leaf, but its separator (value escaped, child id) would not fit a node.
                (multi, vec![1; 900], vec![0; 60]),
            ];
            for (table, key, value) in refused {
                match txn.tree_insert(table, &key, &value).await {
                    Err(Error::InvalidInput(_)) => {}
                    other => {
                        return Err(format!("{}-byte key, {}-byte value: {other:?}", key.len(), value.len()).into());
                    }
                }
            }
            txn.tree_insert(unique, &[1; MAX_KEY_BYTES], &[2; MAX_ENTRY_BYTES - MAX_KEY_BYTES - 2]).await?;
            txn.tree_insert(multi, &[1; 900], &[3; 60]).await?;
            txn.commit().await?;
            Ok(())
        })
    });
}

/// Damage logged into a tree's pages (each undone again by rollback) makes
/// the check fail with `Corrupt`, never panic; the undamaged tree passes.
#[test]
fn check_reports_damage_as_corruption() {
    use rustydb_core::index::btree::node;
    use rustydb_core::storage::PageId;
    use rustydb_core::wal::record::PageOp;
    run(13, |env| {
        Box::pin(async move {
            let store = Store::open(&env, config()).await?;
            let mut txn = store.begin().await?;
            let table = txn.create_btree("t", true).await?;
            for i in 0..300 {
                txn.tree_insert(table, &base_key(i), b"v").await?;
            }
            txn.commit().await?;
            let root = PageId(table.0);
            let (first_leaf, separator) = {
                let txn = store.begin().await?;
                let guard = txn.fetch(root).await?;
                guard.read(|page| (node::header(page.body()).leftmost_child, node::entry(page.body(), 0).to_vec()))
            };
            let field = |(offset, bytes): (usize, [u8; 8])| (u16::try_from(offset).unwrap(), bytes.to_vec());
            let damages = [
                (PageId(first_leaf), {
                    let (offset, after) = field(node::right_sibling_field(0));
                    PageOp::WriteBytes { offset, before: vec![], after }
                }),
                (root, {
                    let (offset, after) = field(node::leftmost_child_field(table.0));
                    PageOp::WriteBytes { offset, before: vec![], after }
                }),
                (root, {
                    let (offset, after) = node::level_field(7);
                    PageOp::WriteBytes { offset: u16::try_from(offset).unwrap(), before: vec![], after: after.to_vec() }
                }),
                (root, PageOp::EntryDelete { index: 0, entry: separator }),
            ];
            for (page, mut op) in damages {
                let mut txn = store.begin().await?;
                let guard = txn.fetch(page).await?;
                if let PageOp::WriteBytes { offset, before, after } = &mut op {
                    let start = usize::from(*offset);
                    *before = guard.read(|page| page.body()[start..start + after.len()].to_vec());
                }
                txn.apply(&guard, op.clone()).await?;
                drop(guard);
                match txn.tree_check(table).await {
                    Err(Error::Corrupt(_)) => {}
                    other => return Err(format!("after {op:?} on {page}: {other:?}").into()),
                }
                txn.rollback().await?;
                let mut txn = store.begin().await?;
                txn.tree_check(table).await?;
                txn.commit().await?;
            }
            Ok(())
        })
    });
}

fn base_key(i: usize) -> Vec<u8> {
    let mut key = format!("key{:06}", i * 2).into_bytes();
    key.resize(40 + i * 13 % 200, b'k');
    key
}

/// Commits a base set, then in a second transaction inserts and deletes
/// enough for many splits and merges, rolls back, and finds the base set.
#[test]
fn rollback_of_splits_and_merges_restores_the_tree() {
    for unique in [true, false] {
        run(unique.into(), move |env| {
            Box::pin(async move {
                let store = Store::open(&env, config()).await?;
                let mut txn = store.begin().await?;
                let table = txn.create_btree("t", unique).await?;
                let mut model = Model { unique, pairs: BTreeSet::new() };
                for i in 0..600 {
                    txn.tree_insert(table, &base_key(i), &i.to_be_bytes()).await?;
                    model.insert(&base_key(i), &i.to_be_bytes());
                }
                txn.commit().await?;
                let mut txn = store.begin().await?;
                let base_stats = verify(&mut txn, table, &model).await?;
                txn.commit().await?;

                let mut txn = store.begin().await?;
                for i in 0..1500 {
                    // Odd keys fall between the base keys; long ones split leaves.
                    let mut key = format!("key{:06}", i * 2 + 1).into_bytes();
                    key.resize(300, b'x');
                    txn.tree_insert(table, &key, b"new").await?;
                }
                let middle = txn.tree_check(table).await?;
                for i in (0..600).filter(|i| i % 5 != 0) {
                    assert!(txn.tree_delete(table, &base_key(i), None).await?);
                }
                for i in (0..1500).filter(|i| i % 10 != 0) {
                    let mut key = format!("key{:06}", i * 2 + 1).into_bytes();
                    key.resize(300, b'x');
                    assert!(txn.tree_delete(table, &key, Some(b"new")).await?);
                }
                let end = txn.tree_check(table).await?;
                assert!(end.leaves < middle.leaves / 3, "{end:?} vs {middle:?}");
                assert!(middle.leaves > 2 * base_stats.leaves, "{middle:?} vs {base_stats:?}");
                txn.rollback().await?;

                let mut txn = store.begin().await?;
                let after = verify(&mut txn, table, &model).await?;
                assert_eq!(after, base_stats);
                txn.commit().await?;
                Ok(())
            })
        });
    }
}

/// Inserting in key order leaves the leaves (and internal nodes) nearly full.
#[test]
fn sequential_load_fills_the_leaves() {
    for unique in [true, false] {
        let stats = run(3, move |env| {
            Box::pin(async move {
                let store = Store::open(&env, config()).await?;
                let mut txn = store.begin().await?;
                let table = txn.create_btree("t", unique).await?;
                for i in 0..20_000u64 {
                    txn.tree_insert(table, &i.to_be_bytes(), &[7u8; 16]).await?;
                }
                txn.commit().await?;
                let mut txn = store.begin().await?;
                let stats = txn.tree_check(table).await?;
                let (lo, hi) =
                    (Bound::Included(5u64.to_be_bytes().to_vec()), Bound::Excluded(9u64.to_be_bytes().to_vec()));
                let first = scan(&mut txn, table, &lo, &hi).await?;
                assert_eq!(first.len(), 4);
                txn.commit().await?;
                Ok(stats)
            })
        });
        // An entry takes 2 + 8 + 16 bytes plus a 2-byte offset: 143 fit a node.
        let per_leaf = 4012 / 28;
        assert_eq!(stats.entries, 20_000);
        assert!(stats.leaves <= 20_000 / per_leaf + 2, "unique {unique}: {stats:?}");
        assert!(stats.internal_nodes <= 3, "unique {unique}: {stats:?}");
    }
}

/// Boot 0 commits a tree, then leaves a transaction that split and merged
/// much of it uncommitted; after a crash (losing unsynced writes, tearing
/// some), boot 1 finds exactly the committed tree and can go on using it.
#[test]
fn recovery_restores_the_committed_tree() {
    for seed in 1..4 {
        let mut sim = simulator(seed, "unsynced_loss_probability = 0.5\ntorn_write_probability = 0.5\n");
        let outcome: Arc<Mutex<Option<TestResult<()>>>> = Arc::default();
        let outcome2 = outcome.clone();
        let boots = Arc::new(AtomicU64::new(0));
        let program: NodeProgram = Arc::new(move |env| {
            let (outcome, boot) = (outcome2.clone(), boots.fetch_add(1, Ordering::SeqCst));
            Box::pin(async move {
                let result = if boot == 0 { crash_boot(env).await } else { recovered_boot(env).await };
                *outcome.lock().unwrap() = Some(result);
                futures::future::pending::<()>().await;
                Ok(())
            })
        });
        let node = sim.add_node("n", true, program);
        sim.run_until(DEADLINE_NANOS, &|| outcome.lock().unwrap().is_some());
        let first = outcome.lock().unwrap().take().expect("boot 0 finished");
        first.unwrap_or_else(|error| panic!("seed {seed}, boot 0: {error}"));
        sim.crash(node, false, None);
        sim.restart_now(node);
        sim.run_until(DEADLINE_NANOS, &|| outcome.lock().unwrap().is_some());
        let second = outcome.lock().unwrap().take().expect("boot 1 finished");
        second.unwrap_or_else(|error| panic!("seed {seed}, boot 1: {error}"));
        sim.shutdown();
    }
}

fn committed_model() -> Model {
    let mut model = Model { unique: true, pairs: BTreeSet::new() };
    for i in 0..800 {
        model.insert(&base_key(i), &i.to_be_bytes());
    }
    model
}

async fn crash_boot(env: Env) -> TestResult<()> {
    let store = Store::open(&env, config()).await?;
    let mut txn = store.begin().await?;
    let table = txn.create_btree("t", true).await?;
    for (key, value) in &committed_model().pairs {
        txn.tree_insert(table, key, value).await?;
    }
    txn.commit().await?;
    let mut loser = store.begin().await?;
    for i in 0..800 {
        let mut key = format!("key{:06}", i * 2 + 1).into_bytes();
        key.resize(250, b'y');
        loser.tree_insert(table, &key, b"lost").await?;
    }
    for i in (0..800).filter(|i| i % 3 != 0) {
        loser.tree_delete(table, &base_key(i), None).await?;
    }
    store.checkpoint().await?;
    // Neither committed nor rolled back: recovery must undo it.
    std::mem::forget(loser);
    Ok(())
}

async fn recovered_boot(env: Env) -> TestResult<()> {
    let store = Store::open(&env, config()).await?;
    let mut model = committed_model();
    let mut txn = store.begin().await?;
    let table = txn.table("t").await?.id;
    verify(&mut txn, table, &model).await?;
    for i in 0..800 {
        txn.tree_delete(table, &base_key(i), None).await?;
        model.delete(&base_key(i), None);
    }
    verify(&mut txn, table, &model).await?;
    txn.commit().await?;
    Ok(())
}
