//! Elle-style isolation checker for list-append histories (after Kingsbury &
//! Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
//! Observations").
//!
//! The workload gives every key a list. Transactions append elements that are
//! unique across the whole history and read whole lists. Because a read
//! returns every element in the order the database applied them, each read
//! *shows* a prefix of the key's version order: nothing about the database's
//! internals has to be guessed. From the reads the checker rebuilds the
//! version order of every key, infers the dependencies between transactions
//! and looks for the cycles and per-read anomalies that each isolation level
//! forbids.
//!
//! What this module owns, in the order [`check`] does it:
//!
//! 1. **Which transactions count.** Committed ones, plus `Unknown` ones (the
//!    commit was in flight at a crash) that some counted transaction read from:
//!    a read of one of their elements proves they committed. This applies
//!    transitively. Aborted transactions and unobserved `Unknown` ones stay
//!    out of the graph, and only reads of counted transactions are examined.
//! 2. **Per-read anomalies**: garbage (an element nobody appended to that key,
//!    or one that appears twice in a list; an element appended twice is also
//!    reported as garbage, since the history itself is broken), G1a (reading
//!    an aborted append), G1b (reading an intermediate append) and lost
//!    updates (two transactions read the same version of a key and both
//!    append to it).
//! 3. **Version order per key**: the longest list read. Every other read must
//!    be a prefix of it, or the key gets an incompatible-order report. Keys
//!    with an incompatible order or a garbage read give no edges, because
//!    their order can't be trusted.
//! 4. **Dependency graph** over counted transactions: ww (consecutive
//!    versions), wr (a read's last element) and rw (a read's next version).
//!    Reads whose last element is the reader's own append are internal and
//!    give no edges.
//! 5. **Cycles**: strongly connected components (iterative Tarjan). Each one
//!    is classified by the weakest cycle it holds (G0, then G1c, then
//!    G-single, then G2-item) and reported with one explicit cycle.
//!
//! Invariants: [`check`] never panics, whatever the history holds (a history
//! is input, not a precondition: every lookup of a history value is checked);
//! it is deterministic (ordered maps only, ties broken by history order); and
//! its work is bounded: near-linear in the history plus the longest list of
//! each key, with the G-single search capped per component.

use std::collections::{BTreeMap, BTreeSet, VecDeque, btree_map::Entry};
use std::fmt::Write as _;

/// A key of the list-append workload.
pub type Key = u32;
/// An element appended to a list; unique across the whole history.
pub type Element = u64;

/// One operation of a transaction, as its client observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The whole list the transaction saw under `key` (including its own earlier appends in the same transaction).
    Read { key: Key, list: Vec<Element> },
    /// Appended `element` to `key`'s list. Elements are unique across the whole history.
    Append { key: Key, element: Element },
}

/// How a transaction ended, as its client knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    Aborted,
    /// The commit was in flight when the node crashed: it may have happened.
    Unknown,
}

/// One transaction of the history.
#[derive(Debug, Clone)]
pub struct TxnRecord {
    pub id: u64,
    pub ops: Vec<Op>,
    pub outcome: Outcome,
}

/// The anomalies the checker reports, weakest isolation violation last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Anomaly {
    /// A cycle of write-write dependencies (dirty write).
    G0,
    /// A read of an aborted transaction's append.
    G1a,
    /// A read of a version that its writer later overwrote itself.
    G1b,
    /// A cycle of write-write and write-read dependencies.
    G1c,
    /// A cycle with exactly one read-write anti-dependency (read skew).
    GSingle,
    /// A cycle with two or more read-write anti-dependencies (write skew).
    G2Item,
    /// Two transactions read the same version of a key and both appended.
    LostUpdate,
    /// Two reads of a key that no single version order explains.
    IncompatibleOrder,
    /// A read of something no transaction wrote there.
    Garbage,
}

impl Anomaly {
    /// The anomaly's name as the literature spells it.
    pub fn name(self) -> &'static str {
        match self {
            Anomaly::G0 => "G0",
            Anomaly::G1a => "G1a",
            Anomaly::G1b => "G1b",
            Anomaly::G1c => "G1c",
            Anomaly::GSingle => "G-single",
            Anomaly::G2Item => "G2-item",
            Anomaly::LostUpdate => "lost update",
            Anomaly::IncompatibleOrder => "incompatible order",
            Anomaly::Garbage => "garbage read",
        }
    }
}

/// One anomaly found, with the transactions, keys and cycle that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub anomaly: Anomaly,
    pub description: String,
}

/// What [`check`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sorted by anomaly, then by the smallest transaction id involved; at
    /// most five per anomaly.
    pub found: Vec<Found>,
    /// Transactions counted as committed (the graph's nodes).
    pub committed: usize,
    /// Distinct (from, to) pairs of transactions with a dependency.
    pub edges: usize,
}

impl Report {
    pub fn first(&self, anomaly: Anomaly) -> Option<&Found> {
        self.found.iter().find(|found| found.anomaly == anomaly)
    }

    pub fn has(&self, anomaly: Anomaly) -> bool {
        self.first(anomaly).is_some()
    }
}

/// Reports kept per anomaly, so a badly broken history still reads quickly.
const FOUND_PER_ANOMALY_MAX: usize = 5;
/// Read-write edges tried per component when looking for a G-single cycle.
const SINGLE_RW_EDGES_MAX: usize = 500;
/// Nodes expanded per component by all G-single searches together.
const SINGLE_SEARCH_STEPS_MAX: usize = 2_000_000;
/// Lists longer than this are shown by their ends only.
const LIST_SHOWN_MAX: usize = 10;
/// Cycles longer than this are shown by their ends only.
const CYCLE_SHOWN_MAX: usize = 20;

/// Checks a whole history. Deterministic; never panics.
pub fn check(history: &[TxnRecord]) -> Report {
    let mut findings = Findings::default();
    let index = Index::build(history, &mut findings);
    let reads = index.reads_by_key();
    let mut orders: BTreeMap<Key, &[Element]> = BTreeMap::new();
    for (&key, key_reads) in &reads {
        let order = index.version_order(key, key_reads, &mut findings);
        let clean = index.check_elements(key, key_reads, order, &mut findings);
        index.check_intermediate(key, key_reads, &mut findings);
        index.check_lost_updates(key, key_reads, &mut findings);
        if let Some(order) = order.filter(|_| clean) {
            orders.insert(key, order);
        }
    }
    let graph = Graph::build(&index, &reads, &orders);
    graph.report_cycles(&mut findings);
    findings.into_report(graph.ids.len(), graph.edge_count)
}

/// Everything found, before sorting and capping.
#[derive(Default)]
struct Findings {
    all: Vec<(Anomaly, u64, String)>,
}

impl Findings {
    /// `smallest_id` is the smallest transaction id involved: the sort key.
    fn add(&mut self, anomaly: Anomaly, smallest_id: u64, description: String) {
        self.all.push((anomaly, smallest_id, description));
    }

    fn into_report(mut self, committed: usize, edges: usize) -> Report {
        self.all.sort();
        let mut kept: BTreeMap<Anomaly, usize> = BTreeMap::new();
        let mut found = Vec::new();
        for (anomaly, _, description) in self.all {
            let count = kept.entry(anomaly).or_insert(0);
            if *count < FOUND_PER_ANOMALY_MAX {
                *count += 1;
                found.push(Found { anomaly, description });
            }
        }
        Report { found, committed, edges }
    }
}

/// Where an element came from: the transaction (its position in the
/// history), the key, and the position of the append among its ops.
#[derive(Debug, Clone, Copy)]
struct Append {
    txn: usize,
    key: Key,
    op: usize,
}

/// A read by a counted transaction.
#[derive(Debug, Clone, Copy)]
struct Read<'h> {
    txn: usize,
    op: usize,
    list: &'h [Element],
    /// The list ends with the reader's own append: it shows the reader's
    /// writes, not another transaction's, so it gives no dependency.
    internal: bool,
}

/// The history indexed by element. Transactions are named by their position
/// in the history (ids may repeat in a broken history); positions always come
/// from enumerating the history, so indexing with them can't fail.
struct Index<'h> {
    history: &'h [TxnRecord],
    appends: BTreeMap<Element, Append>,
    /// (transaction, key) -> position of the transaction's last append to key.
    last_append: BTreeMap<(usize, Key), usize>,
    counted: Vec<bool>,
}

impl<'h> Index<'h> {
    fn build(history: &'h [TxnRecord], findings: &mut Findings) -> Self {
        let mut appends: BTreeMap<Element, Append> = BTreeMap::new();
        let mut last_append = BTreeMap::new();
        for (txn, record) in history.iter().enumerate() {
            for (op, entry) in record.ops.iter().enumerate() {
                let Op::Append { key, element } = *entry else { continue };
                last_append.insert((txn, key), op);
                match appends.entry(element) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(Append { txn, key, op });
                    }
                    // Keep the first writer: which one is right can't be known.
                    Entry::Occupied(first) => {
                        let first = *first.get();
                        let ids = (history[first.txn].id, record.id);
                        let description = format!(
                            "{element} appended twice: by T{} to k{} and by T{} to k{key}",
                            ids.0, first.key, ids.1
                        );
                        findings.add(Anomaly::Garbage, ids.0.min(ids.1), description);
                    }
                }
            }
        }
        let counted = counted_txns(history, &appends);
        Index { history, appends, last_append, counted }
    }

    fn id(&self, txn: usize) -> u64 {
        self.history[txn].id
    }

    fn name(&self, txn: usize) -> String {
        format!("T{}", self.id(txn))
    }

    /// Whether `txn` appended to `key` after its op at position `op`.
    fn appends_later(&self, txn: usize, key: Key, op: usize) -> bool {
        self.last_append.get(&(txn, key)).is_some_and(|&last| last > op)
    }

    /// The reads of counted transactions, per key, in history order.
    fn reads_by_key(&self) -> BTreeMap<Key, Vec<Read<'h>>> {
        let mut reads: BTreeMap<Key, Vec<Read<'h>>> = BTreeMap::new();
        let history = self.history;
        for (txn, record) in history.iter().enumerate() {
            if !self.counted[txn] {
                continue;
            }
            for (op, entry) in record.ops.iter().enumerate() {
                let Op::Read { key, list } = entry else { continue };
                let last_writer = list.last().and_then(|last| self.appends.get(last));
                let internal = last_writer.is_some_and(|append| append.txn == txn);
                reads.entry(*key).or_default().push(Read { txn, op, list, internal });
            }
        }
        reads
    }

    /// The version order of `key`: the longest list read, if every other read
    /// is a prefix of it (ties go to the earliest read in the history).
    fn version_order(&self, key: Key, reads: &[Read<'h>], findings: &mut Findings) -> Option<&'h [Element]> {
        let mut longest = reads.first()?;
        for read in reads {
            if read.list.len() > longest.list.len() {
                longest = read;
            }
        }
        let Some(other) = reads.iter().find(|read| !longest.list.starts_with(read.list)) else {
            return Some(longest.list);
        };
        let mut description = format!(
            "k{key}: {} read {} but {} read {}",
            self.name(longest.txn),
            show_list(longest.list),
            self.name(other.txn),
            show_list(other.list)
        );
        let differ = longest.list.iter().zip(other.list).position(|(a, b)| a != b);
        if let Some(at) = differ {
            let _ = write!(description, "; they differ at index {at} ({} vs {})", longest.list[at], other.list[at]);
        }
        let smallest = self.id(longest.txn).min(self.id(other.txn));
        findings.add(Anomaly::IncompatibleOrder, smallest, description);
        None
    }

    /// Reports garbage and G1a reads of `key`; returns whether the key is free
    /// of garbage. With a version order only its one list needs scanning,
    /// every read being a prefix of it; each bad element is blamed on the
    /// first read (in history order) that reached it.
    fn check_elements(&self, key: Key, reads: &[Read], order: Option<&[Element]>, findings: &mut Findings) -> bool {
        if let Some(order) = order {
            return self.scan_list(key, order, &first_readers(reads), findings);
        }
        let mut clean = true;
        for read in reads {
            clean &= self.scan_list(key, read.list, &[(0, read.txn)], findings);
        }
        clean
    }

    /// `readers` holds (first position, reader), by increasing position.
    fn scan_list(&self, key: Key, list: &[Element], readers: &[(usize, usize)], findings: &mut Findings) -> bool {
        let mut seen = BTreeSet::new();
        let mut clean = true;
        let mut segment = 0;
        for (position, &element) in list.iter().enumerate() {
            while readers.get(segment + 1).is_some_and(|&(start, _)| start <= position) {
                segment += 1;
            }
            let Some(&(_, reader)) = readers.get(segment) else { break };
            if !seen.insert(element) {
                clean = false;
                let description = format!("{} read {element} twice in k{key}", self.name(reader));
                findings.add(Anomaly::Garbage, self.id(reader), description);
            }
            clean &= self.check_element(key, element, reader, findings);
        }
        clean
    }

    /// Reports an element read that is garbage or G1a; false if garbage.
    fn check_element(&self, key: Key, element: Element, reader: usize, findings: &mut Findings) -> bool {
        let reader_name = self.name(reader);
        match self.appends.get(&element) {
            None => {
                let description = format!("{reader_name} read {element} in k{key}, which no transaction appended");
                findings.add(Anomaly::Garbage, self.id(reader), description);
                false
            }
            Some(append) if append.key != key => {
                let (writer, to) = (self.name(append.txn), append.key);
                let description = format!("{reader_name} read {element} in k{key}, which {writer} appended to k{to}");
                findings.add(Anomaly::Garbage, self.id(reader).min(self.id(append.txn)), description);
                false
            }
            Some(append) if self.history[append.txn].outcome == Outcome::Aborted => {
                let writer = self.name(append.txn);
                let description =
                    format!("{reader_name} read {element} in k{key}, appended by {writer}, which aborted");
                findings.add(Anomaly::G1a, self.id(reader).min(self.id(append.txn)), description);
                true
            }
            Some(_) => true,
        }
    }

    /// G1b: a read ending in an append its writer followed with another
    /// append to the same key (so that version never committed).
    fn check_intermediate(&self, key: Key, reads: &[Read], findings: &mut Findings) {
        for read in reads {
            let Some(&last) = read.list.last() else { continue };
            let Some(append) = self.appends.get(&last) else { continue };
            if append.txn == read.txn || append.key != key || !self.appends_later(append.txn, key, append.op) {
                continue;
            }
            let description = format!(
                "{} read k{key} = {}, ending in {last}, an intermediate append of {} (it appended to k{key} again later)",
                self.name(read.txn),
                show_list(read.list),
                self.name(append.txn)
            );
            findings.add(Anomaly::G1b, self.id(read.txn).min(self.id(append.txn)), description);
        }
    }

    /// Lost update: distinct transactions read the same version of `key`
    /// (externally) and each appended to `key` afterwards.
    fn check_lost_updates(&self, key: Key, reads: &[Read<'h>], findings: &mut Findings) {
        // Length first: distinct versions of a sane key differ in length, so
        // most comparisons stop there instead of walking long lists.
        let mut groups: BTreeMap<(usize, &[Element]), BTreeSet<usize>> = BTreeMap::new();
        for read in reads {
            if !read.internal && self.appends_later(read.txn, key, read.op) {
                groups.entry((read.list.len(), read.list)).or_default().insert(read.txn);
            }
        }
        for ((_, list), txns) in groups {
            if txns.len() < 2 {
                continue;
            }
            let names: Vec<String> = txns.iter().map(|&txn| self.name(txn)).collect();
            let smallest = txns.iter().map(|&txn| self.id(txn)).min().unwrap_or_default();
            let description =
                format!("{} all read k{key} = {} and then appended to k{key}", names.join(", "), show_list(list));
            findings.add(Anomaly::LostUpdate, smallest, description);
        }
    }
}

/// Which transactions count as committed: committed ones, then (to a fixed
/// point) unknown ones whose elements a counted transaction read.
fn counted_txns(history: &[TxnRecord], appends: &BTreeMap<Element, Append>) -> Vec<bool> {
    let mut counted: Vec<bool> = history.iter().map(|record| record.outcome == Outcome::Committed).collect();
    let unknown: BTreeMap<Element, usize> = appends
        .iter()
        .filter(|(_, append)| history[append.txn].outcome == Outcome::Unknown)
        .map(|(&element, append)| (element, append.txn))
        .collect();
    if unknown.is_empty() {
        return counted;
    }
    let mut queue: Vec<usize> = (0..history.len()).filter(|&txn| counted[txn]).collect();
    while let Some(txn) = queue.pop() {
        for op in &history[txn].ops {
            let Op::Read { list, .. } = op else { continue };
            for element in list {
                if let Some(&writer) = unknown.get(element)
                    && !counted[writer]
                {
                    counted[writer] = true;
                    queue.push(writer);
                }
            }
        }
    }
    counted
}

/// For reads that are all prefixes of one list: (first position, reader)
/// for each read that reached further than every read before it.
fn first_readers(reads: &[Read]) -> Vec<(usize, usize)> {
    let mut readers = Vec::new();
    let mut reached = 0;
    for read in reads {
        if read.list.len() > reached {
            readers.push((reached, read.txn));
            reached = read.list.len();
        }
    }
    readers
}

fn show_list(list: &[Element]) -> String {
    if list.len() <= LIST_SHOWN_MAX {
        return format!("{list:?}");
    }
    let show = |part: &[Element]| part.iter().map(Element::to_string).collect::<Vec<_>>().join(", ");
    let half = LIST_SHOWN_MAX / 2;
    let (head, tail) = (&list[..half], &list[list.len() - half..]);
    format!("[{}, …, {}] ({} elements)", show(head), show(tail), list.len())
}

/// A kind of dependency between two transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dep {
    Ww = 0,
    Wr = 1,
    Rw = 2,
}

impl Dep {
    /// In order of preference when an edge has several kinds: the fewer
    /// anti-dependencies a cycle shows, the stronger the claim it makes.
    const ALL: [Dep; 3] = [Dep::Ww, Dep::Wr, Dep::Rw];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn label(self) -> &'static str {
        match self {
            Dep::Ww => "ww",
            Dep::Wr => "wr",
            Dep::Rw => "rw",
        }
    }
}

const WW: u8 = 1;
const WW_WR: u8 = 3;
const ANY: u8 = 7;

/// An edge to node `to`, of one or more kinds; `keys[kind]` names the first
/// key that gave that kind.
#[derive(Debug, Clone, Copy)]
struct Edge {
    to: usize,
    kinds: u8,
    keys: [Key; 3],
}

impl Edge {
    /// The preferred kind of this edge among those in `mask`.
    fn dep_in(&self, mask: u8) -> Option<Dep> {
        Dep::ALL.into_iter().find(|dep| self.kinds & mask & dep.bit() != 0)
    }
}

/// One step of a cycle: from node `from`, along a `dep` edge on `key`, to the
/// next step's node (the last step returns to the first).
#[derive(Debug, Clone, Copy)]
struct Step {
    from: usize,
    dep: Dep,
    key: Key,
}

/// The dependency graph; nodes are counted transactions in history order.
struct Graph {
    ids: Vec<u64>,
    /// Per node, edges sorted by target.
    adjacency: Vec<Vec<Edge>>,
    edge_count: usize,
}

impl Graph {
    fn build(index: &Index, reads: &BTreeMap<Key, Vec<Read>>, orders: &BTreeMap<Key, &[Element]>) -> Graph {
        let mut builder = EdgeBuilder::new(index);
        for (&key, &order) in orders {
            builder.add_key(key, order, reads.get(&key).map_or(&[][..], Vec::as_slice));
        }
        builder.finish()
    }

    fn report_cycles(&self, findings: &mut Findings) {
        let components = strongly_connected(&self.adjacency);
        let mut component_of = vec![usize::MAX; self.ids.len()];
        for (component, members) in components.iter().enumerate() {
            for &node in members {
                component_of[node] = component;
            }
        }
        let mut search = Search::new(self, &component_of);
        for (component, members) in components.iter().enumerate() {
            let Some((anomaly, cycle)) = search.classify(component, members) else { continue };
            let smallest = cycle.iter().map(|step| self.ids[step.from]).min().unwrap_or_default();
            let description = format!(
                "cycle of {} transactions in a component of {}: {}",
                cycle.len(),
                members.len(),
                self.describe_cycle(&cycle)
            );
            findings.add(anomaly, smallest, description);
        }
    }

    /// "T3 -rw(k2)-> T7 -wr(k5)-> T3", the middle elided if long.
    fn describe_cycle(&self, cycle: &[Step]) -> String {
        let mut text = String::new();
        let half = CYCLE_SHOWN_MAX / 2;
        for (position, step) in cycle.iter().enumerate() {
            if cycle.len() > CYCLE_SHOWN_MAX && position >= half && position < cycle.len() - half {
                if position == half {
                    let _ = write!(text, "… ({} steps) … ", cycle.len() - 2 * half);
                }
                continue;
            }
            let _ = write!(text, "T{} -{}(k{})-> ", self.ids[step.from], step.dep.label(), step.key);
        }
        if let Some(first) = cycle.first() {
            let _ = write!(text, "T{}", self.ids[first.from]);
        }
        text
    }
}

/// Collects distinct edges between counted transactions.
struct EdgeBuilder<'i, 'h> {
    index: &'i Index<'h>,
    node_of: Vec<Option<usize>>,
    ids: Vec<u64>,
    edges: BTreeMap<(usize, usize), Edge>,
}

impl<'i, 'h> EdgeBuilder<'i, 'h> {
    fn new(index: &'i Index<'h>) -> Self {
        let mut node_of = vec![None; index.history.len()];
        let mut ids = Vec::new();
        for (txn, record) in index.history.iter().enumerate() {
            if index.counted[txn] {
                node_of[txn] = Some(ids.len());
                ids.push(record.id);
            }
        }
        EdgeBuilder { index, node_of, ids, edges: BTreeMap::new() }
    }

    fn node(&self, txn: usize) -> Option<usize> {
        self.node_of.get(txn).copied().flatten()
    }

    /// The node that appended `element`, if its writer counts.
    fn writer(&self, element: Element) -> Option<usize> {
        self.index.appends.get(&element).and_then(|append| self.node(append.txn))
    }

    fn add(&mut self, from: Option<usize>, to: Option<usize>, dep: Dep, key: Key) {
        let (Some(from), Some(to)) = (from, to) else { return };
        if from == to {
            return;
        }
        let edge = self.edges.entry((from, to)).or_insert(Edge { to, kinds: 0, keys: [0; 3] });
        if edge.kinds & dep.bit() == 0 {
            edge.kinds |= dep.bit();
            edge.keys[dep as usize] = key;
        }
    }

    /// The edges of one key whose version order is `order`.
    fn add_key(&mut self, key: Key, order: &[Element], reads: &[Read]) {
        for pair in order.windows(2) {
            if let [before, after] = *pair {
                self.add(self.writer(before), self.writer(after), Dep::Ww, key);
            }
        }
        for read in reads.iter().filter(|read| !read.internal) {
            let reader = self.node(read.txn);
            if let Some(&last) = read.list.last() {
                self.add(self.writer(last), reader, Dep::Wr, key);
            }
            if let Some(&next) = order.get(read.list.len()) {
                self.add(reader, self.writer(next), Dep::Rw, key);
            }
        }
    }

    fn finish(self) -> Graph {
        let mut adjacency = vec![Vec::new(); self.ids.len()];
        for (&(from, _), edge) in &self.edges {
            if let Some(edges) = adjacency.get_mut(from) {
                edges.push(*edge);
            }
        }
        Graph { ids: self.ids, adjacency, edge_count: self.edges.len() }
    }
}

/// The strongly connected components with more than one node, each sorted.
fn strongly_connected(adjacency: &[Vec<Edge>]) -> Vec<Vec<usize>> {
    let mut tarjan = Tarjan::new(adjacency.len());
    for root in 0..adjacency.len() {
        if tarjan.index[root] == UNSEEN {
            tarjan.run(adjacency, root);
        }
    }
    tarjan.components
}

const UNSEEN: usize = usize::MAX;

/// Tarjan's algorithm with an explicit call stack: histories have tens of
/// thousands of transactions, too deep for recursion.
struct Tarjan {
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next_index: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(nodes: usize) -> Self {
        Tarjan {
            index: vec![UNSEEN; nodes],
            low: vec![0; nodes],
            on_stack: vec![false; nodes],
            stack: Vec::new(),
            next_index: 0,
            components: Vec::new(),
        }
    }

    fn open(&mut self, node: usize) {
        self.index[node] = self.next_index;
        self.low[node] = self.next_index;
        self.next_index += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
    }

    fn run(&mut self, adjacency: &[Vec<Edge>], root: usize) {
        // (node, position of its next edge to follow)
        let mut calls = vec![(root, 0)];
        self.open(root);
        while let Some(top) = calls.last_mut() {
            let (node, next) = *top;
            top.1 += 1;
            if let Some(edge) = adjacency[node].get(next) {
                if self.index[edge.to] == UNSEEN {
                    self.open(edge.to);
                    calls.push((edge.to, 0));
                } else if self.on_stack[edge.to] {
                    self.low[node] = self.low[node].min(self.index[edge.to]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                self.low[parent] = self.low[parent].min(self.low[node]);
            }
            if self.low[node] == self.index[node] {
                self.close(node);
            }
        }
    }

    fn close(&mut self, root: usize) {
        let mut members = Vec::new();
        while let Some(node) = self.stack.pop() {
            self.on_stack[node] = false;
            members.push(node);
            if node == root {
                break;
            }
        }
        if members.len() > 1 {
            members.sort_unstable();
            self.components.push(members);
        }
    }
}

/// Cycle searches inside one component. Scratch arrays are shared by all
/// searches and invalidated by bumping `epoch` instead of clearing them.
struct Search<'g> {
    graph: &'g Graph,
    component_of: &'g [usize],
    epoch: u32,
    seen: Vec<u32>,
    on_path: Vec<u32>,
    distance: Vec<usize>,
    parent: Vec<Option<Step>>,
}

impl<'g> Search<'g> {
    fn new(graph: &'g Graph, component_of: &'g [usize]) -> Self {
        let nodes = graph.ids.len();
        Search {
            graph,
            component_of,
            epoch: 0,
            seen: vec![0; nodes],
            on_path: vec![0; nodes],
            distance: vec![0; nodes],
            parent: vec![None; nodes],
        }
    }

    fn next_epoch(&mut self) {
        if self.epoch == u32::MAX {
            self.seen.fill(0);
            self.on_path.fill(0);
            self.epoch = 0;
        }
        self.epoch += 1;
    }

    fn inside(&self, edge: &Edge, component: usize, mask: u8) -> bool {
        edge.kinds & mask != 0 && self.component_of.get(edge.to) == Some(&component)
    }

    /// The weakest anomaly the component shows, with a cycle showing it.
    fn classify(&mut self, component: usize, members: &[usize]) -> Option<(Anomaly, Vec<Step>)> {
        if let Some(cycle) = self.find_cycle(component, members, WW) {
            return Some((Anomaly::G0, cycle));
        }
        if let Some(cycle) = self.find_cycle(component, members, WW_WR) {
            return Some((Anomaly::G1c, cycle));
        }
        let rw_edges = self.rw_edges(component, members);
        let mut budget = SINGLE_SEARCH_STEPS_MAX;
        for &(from, edge) in &rw_edges {
            if let Some(cycle) = self.cycle_through(component, from, edge, WW_WR, &mut budget) {
                return Some((Anomaly::GSingle, cycle));
            }
            if budget == 0 {
                break;
            }
        }
        // Every edge inside a component lies on a cycle; the search minimizes
        // the number of rw edges, so one rw edge means the bounded G-single
        // search above gave up early, not that the cycle is G2.
        let &(from, edge) = rw_edges.first()?;
        let mut unbounded = usize::MAX;
        let cycle = self.cycle_through(component, from, edge, ANY, &mut unbounded)?;
        let rw_count = cycle.iter().filter(|step| step.dep == Dep::Rw).count();
        Some((if rw_count > 1 { Anomaly::G2Item } else { Anomaly::GSingle }, cycle))
    }

    /// Up to [`SINGLE_RW_EDGES_MAX`] rw edges inside the component.
    fn rw_edges(&self, component: usize, members: &[usize]) -> Vec<(usize, Edge)> {
        let graph = self.graph;
        members
            .iter()
            .flat_map(|&from| graph.adjacency[from].iter().map(move |edge| (from, *edge)))
            .filter(|(_, edge)| self.inside(edge, component, Dep::Rw.bit()))
            .take(SINGLE_RW_EDGES_MAX)
            .collect()
    }

    /// The cycle `from -rw-> edge.to ~> from`, the return path using `mask`.
    fn cycle_through(
        &mut self,
        component: usize,
        from: usize,
        edge: Edge,
        mask: u8,
        budget: &mut usize,
    ) -> Option<Vec<Step>> {
        let key = edge.keys[Dep::Rw as usize];
        let path = self.shortest_path(component, edge.to, from, mask, budget)?;
        let mut cycle = vec![Step { from, dep: Dep::Rw, key }];
        cycle.extend(path);
        Some(cycle)
    }

    /// Any cycle using only `mask` edges: depth-first search with an
    /// explicit stack; an edge back to a node on the path closes a cycle.
    fn find_cycle(&mut self, component: usize, members: &[usize], mask: u8) -> Option<Vec<Step>> {
        self.next_epoch();
        let graph = self.graph;
        // (node, position of its next edge to follow)
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for &root in members {
            if self.seen[root] == self.epoch {
                continue;
            }
            self.seen[root] = self.epoch;
            self.on_path[root] = self.epoch;
            stack.push((root, 0));
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                top.1 += 1;
                let Some(edge) = graph.adjacency[node].get(next) else {
                    self.on_path[node] = 0;
                    stack.pop();
                    continue;
                };
                if !self.inside(edge, component, mask) {
                    continue;
                }
                if self.on_path[edge.to] == self.epoch {
                    return Some(self.cycle_on_stack(&stack, edge.to, mask));
                }
                if self.seen[edge.to] != self.epoch {
                    self.seen[edge.to] = self.epoch;
                    self.on_path[edge.to] = self.epoch;
                    stack.push((edge.to, 0));
                }
            }
        }
        None
    }

    /// The cycle from `start` (on the stack) to the top of the stack, whose
    /// last edge followed leads back to `start`. Each stack entry has just
    /// followed the edge before its saved position.
    fn cycle_on_stack(&self, stack: &[(usize, usize)], start: usize, mask: u8) -> Vec<Step> {
        let begin = stack.iter().rposition(|&(node, _)| node == start).unwrap_or(0);
        let graph = self.graph;
        stack[begin..]
            .iter()
            .filter_map(|&(from, next)| {
                let edge = graph.adjacency[from].get(next.checked_sub(1)?)?;
                let dep = edge.dep_in(mask)?;
                Some(Step { from, dep, key: edge.keys[dep as usize] })
            })
            .collect()
    }

    /// A path from `source` to `target` inside the component using `mask`
    /// edges, with as few rw edges as possible (0-1 breadth-first search).
    /// Expands at most `budget` nodes, counting them off.
    fn shortest_path(
        &mut self,
        component: usize,
        source: usize,
        target: usize,
        mask: u8,
        budget: &mut usize,
    ) -> Option<Vec<Step>> {
        self.next_epoch();
        let graph = self.graph;
        self.seen[source] = self.epoch;
        self.distance[source] = 0;
        self.parent[source] = None;
        let mut queue = VecDeque::from([source]);
        while let Some(node) = queue.pop_front() {
            if node == target {
                return self.path_to(source, target);
            }
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            for edge in &graph.adjacency[node] {
                let Some(dep) = edge.dep_in(mask).filter(|_| self.inside(edge, component, mask)) else { continue };
                let weight = usize::from(dep == Dep::Rw);
                let distance = self.distance[node] + weight;
                if self.seen[edge.to] == self.epoch && self.distance[edge.to] <= distance {
                    continue;
                }
                self.seen[edge.to] = self.epoch;
                self.distance[edge.to] = distance;
                self.parent[edge.to] = Some(Step { from: node, dep, key: edge.keys[dep as usize] });
                if weight == 0 {
                    queue.push_front(edge.to);
                } else {
                    queue.push_back(edge.to);
                }
            }
        }
        None
    }

    /// Follows parents back from `target`; bounded, so a broken parent chain
    /// ends the walk instead of looping.
    fn path_to(&self, source: usize, target: usize) -> Option<Vec<Step>> {
        let mut path = Vec::new();
        let mut node = target;
        while node != source {
            if path.len() > self.parent.len() {
                return None;
            }
            let step = self.parent[node]?;
            path.push(step);
            node = step.from;
        }
        path.reverse();
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const X: Key = 1;
    const Y: Key = 2;

    fn read(key: Key, list: &[Element]) -> Op {
        Op::Read { key, list: list.to_vec() }
    }

    fn append(key: Key, element: Element) -> Op {
        Op::Append { key, element }
    }

    fn txn(id: u64, ops: Vec<Op>) -> TxnRecord {
        TxnRecord { id, ops, outcome: Outcome::Committed }
    }

    fn ended(outcome: Outcome, id: u64, ops: Vec<Op>) -> TxnRecord {
        TxnRecord { id, ops, outcome }
    }

    /// Checks `history` and asserts it shows `anomaly`; returns its description.
    fn expect(history: &[TxnRecord], anomaly: Anomaly) -> String {
        let report = check(history);
        let found = report.first(anomaly);
        assert!(found.is_some(), "expected {}, found {:#?}", anomaly.name(), report.found);
        found.map(|found| found.description.clone()).unwrap_or_default()
    }

    fn expect_clean(history: &[TxnRecord]) -> Report {
        let report = check(history);
        assert!(report.found.is_empty(), "expected no anomaly, found {:#?}", report.found);
        report
    }

    #[test]
    fn serial_history_is_clean() {
        let history = [
            txn(1, vec![read(X, &[]), append(X, 1)]),
            txn(2, vec![read(X, &[1]), append(X, 2), append(Y, 3), read(X, &[1, 2])]),
            txn(3, vec![read(X, &[1, 2]), read(Y, &[3])]),
        ];
        let report = expect_clean(&history);
        assert_eq!(report.committed, 3);
        // T1 -ww,wr-> T2 and T2 -wr-> T3; T2's second read of x is its own.
        assert_eq!(report.edges, 2);
    }

    #[test]
    fn opposite_append_orders_are_g0() {
        let history = [
            txn(1, vec![append(X, 1), append(Y, 2)]),
            txn(2, vec![append(X, 3), append(Y, 4)]),
            txn(3, vec![read(X, &[1, 3]), read(Y, &[4, 2])]),
        ];
        let description = expect(&history, Anomaly::G0);
        assert!(description.contains("T1 -ww(k1)-> T2 -ww(k2)-> T1"), "{description}");
    }

    #[test]
    fn reading_an_aborted_append_is_g1a() {
        let history = [ended(Outcome::Aborted, 1, vec![append(X, 1)]), txn(2, vec![read(X, &[1])])];
        let description = expect(&history, Anomaly::G1a);
        assert!(description.contains("T2") && description.contains("T1"), "{description}");
    }

    #[test]
    fn reading_an_intermediate_append_is_g1b() {
        let history = [txn(1, vec![append(X, 1), append(X, 2)]), txn(2, vec![read(X, &[1])])];
        expect(&history, Anomaly::G1b);
    }

    #[test]
    fn circular_information_flow_is_g1c() {
        let history = [txn(1, vec![append(X, 1), read(Y, &[2])]), txn(2, vec![read(X, &[1]), append(Y, 2)])];
        let description = expect(&history, Anomaly::G1c);
        assert!(description.contains("T1 -wr(k1)-> T2 -wr(k2)-> T1"), "{description}");
        assert!(!check(&history).has(Anomaly::G0));
    }

    #[test]
    fn read_skew_is_g_single() {
        let history = [
            txn(1, vec![append(X, 1), append(Y, 2)]),
            txn(2, vec![read(X, &[1]), read(Y, &[2, 4])]),
            txn(3, vec![append(X, 3), append(Y, 4)]),
            txn(4, vec![read(X, &[1, 3])]),
        ];
        let description = expect(&history, Anomaly::GSingle);
        assert!(description.contains("T2 -rw(k1)-> T3 -wr(k2)-> T2"), "{description}");
        let report = check(&history);
        assert!(!report.has(Anomaly::G1c) && !report.has(Anomaly::G2Item));
    }

    #[test]
    fn write_skew_is_g2_item() {
        let history = [
            txn(1, vec![read(X, &[]), read(Y, &[]), append(X, 1)]),
            txn(2, vec![read(X, &[]), read(Y, &[]), append(Y, 2)]),
            txn(3, vec![read(X, &[1]), read(Y, &[2])]),
        ];
        let description = expect(&history, Anomaly::G2Item);
        assert!(description.contains("T1 -rw(k2)-> T2 -rw(k1)-> T1"), "{description}");
        let report = check(&history);
        assert!(!report.has(Anomaly::GSingle) && !report.has(Anomaly::LostUpdate));
    }

    #[test]
    fn two_appends_after_the_same_read_are_a_lost_update() {
        let history = [
            txn(1, vec![append(X, 1)]),
            txn(2, vec![read(X, &[1]), append(X, 2)]),
            txn(3, vec![read(X, &[1]), append(X, 3)]),
            txn(4, vec![read(X, &[1, 2, 3])]),
        ];
        let description = expect(&history, Anomaly::LostUpdate);
        assert!(description.contains("T2, T3"), "{description}");
    }

    #[test]
    fn reads_that_are_not_prefixes_are_an_incompatible_order() {
        let history = [
            txn(1, vec![append(X, 1)]),
            txn(2, vec![append(X, 2)]),
            txn(3, vec![read(X, &[1, 2])]),
            txn(4, vec![read(X, &[2, 1])]),
        ];
        let description = expect(&history, Anomaly::IncompatibleOrder);
        assert!(description.contains("index 0"), "{description}");
        // The key's order is unknown, so it gives no edges.
        assert_eq!(check(&history).edges, 0);
    }

    #[test]
    fn invented_and_repeated_elements_are_garbage() {
        expect(&[txn(1, vec![read(X, &[99])])], Anomaly::Garbage);
        expect(&[txn(1, vec![append(X, 1)]), txn(2, vec![read(X, &[1, 1])])], Anomaly::Garbage);
        expect(&[txn(1, vec![append(Y, 1)]), txn(2, vec![read(X, &[1])])], Anomaly::Garbage);
        expect(&[txn(1, vec![append(X, 1)]), txn(2, vec![append(X, 1)])], Anomaly::Garbage);
    }

    #[test]
    fn an_observed_unknown_commit_counts() {
        let history = [
            ended(Outcome::Unknown, 1, vec![append(X, 1)]),
            // Read only by another unknown transaction, itself observed.
            ended(Outcome::Unknown, 2, vec![read(X, &[1]), append(Y, 2)]),
            txn(3, vec![read(Y, &[2])]),
        ];
        let report = expect_clean(&history);
        assert_eq!(report.committed, 3);
        assert_eq!(report.edges, 2);
    }

    #[test]
    fn an_unobserved_unknown_commit_is_dropped() {
        // If T1 counted, its read of an invented element would be garbage.
        let history = [ended(Outcome::Unknown, 1, vec![append(X, 1), read(Y, &[77])]), txn(2, vec![read(X, &[])])];
        let report = expect_clean(&history);
        assert_eq!(report.committed, 1);
        assert_eq!(report.edges, 0);
    }

    #[test]
    fn reports_are_sorted_and_capped() {
        let mut history = Vec::new();
        for id in (1..=8).rev() {
            history.push(ended(Outcome::Aborted, 100 + id, vec![append(id as Key, id)]));
            history.push(txn(id, vec![read(id as Key, &[id])]));
        }
        let report = check(&history);
        assert_eq!(report.found.len(), FOUND_PER_ANOMALY_MAX);
        assert!(report.found[0].description.starts_with("T1 read"), "{:#?}", report.found);
        assert!(report.found[4].description.starts_with("T5 read"), "{:#?}", report.found);
    }

    /// A transaction of a serial plan: (is a read, key) per op, and its fate.
    #[derive(Debug, Clone)]
    struct Planned {
        ops: Vec<(bool, Key)>,
        fate: u8,
    }

    /// Runs `plan` one transaction after another against a model, as a
    /// serializable database would. Fates: 0..=5 commit, 6 and 7 abort, 8 is
    /// unknown but applied, 9 unknown and not applied.
    fn run_serially(plan: &[Planned]) -> Vec<TxnRecord> {
        let mut state: BTreeMap<Key, Vec<Element>> = BTreeMap::new();
        let mut next_element = 1;
        let mut history = Vec::new();
        for (position, planned) in plan.iter().enumerate() {
            // The transaction's own view: the keys it appended to.
            let mut written: BTreeMap<Key, Vec<Element>> = BTreeMap::new();
            let mut ops = Vec::new();
            for &(is_read, key) in &planned.ops {
                let current = written.get(&key).or(state.get(&key)).cloned().unwrap_or_default();
                if is_read {
                    ops.push(Op::Read { key, list: current });
                } else {
                    written.entry(key).or_insert(current).push(next_element);
                    ops.push(Op::Append { key, element: next_element });
                    next_element += 1;
                }
            }
            let (outcome, applied) = match planned.fate {
                0..=5 => (Outcome::Committed, true),
                6 | 7 => (Outcome::Aborted, false),
                8 => (Outcome::Unknown, true),
                _ => (Outcome::Unknown, false),
            };
            if applied {
                state.extend(written);
            }
            history.push(TxnRecord { id: position as u64 + 1, ops, outcome });
        }
        history
    }

    fn plan_strategy() -> impl Strategy<Value = Vec<Planned>> {
        let op = (any::<bool>(), 0..4u32);
        let planned = (prop::collection::vec(op, 1..6), 0..10u8).prop_map(|(ops, fate)| Planned { ops, fate });
        prop::collection::vec(planned, 0..40)
    }

    fn arbitrary_history() -> impl Strategy<Value = Vec<TxnRecord>> {
        let op = prop_oneof![
            (0..3u32, prop::collection::vec(0..12u64, 0..6)).prop_map(|(key, list)| Op::Read { key, list }),
            (0..3u32, 0..12u64).prop_map(|(key, element)| Op::Append { key, element }),
        ];
        let outcome = prop_oneof![Just(Outcome::Committed), Just(Outcome::Aborted), Just(Outcome::Unknown)];
        let record = (0..6u64, prop::collection::vec(op, 0..5), outcome).prop_map(|(id, ops, outcome)| TxnRecord {
            id,
            ops,
            outcome,
        });
        prop::collection::vec(record, 0..12)
    }

    proptest! {
        #[test]
        fn serial_executions_show_no_anomaly(plan in plan_strategy()) {
            let history = run_serially(&plan);
            let report = check(&history);
            prop_assert!(report.found.is_empty(), "{:#?}\n{:#?}", report.found, history);
        }

        #[test]
        fn any_history_checks_without_panicking_and_deterministically(history in arbitrary_history()) {
            let (first, second) = (check(&history), check(&history));
            prop_assert_eq!(first.found, second.found);
            prop_assert_eq!((first.committed, first.edges), (second.committed, second.edges));
        }
    }

    /// A small deterministic generator, so big tests need no proptest runs.
    fn big_plan(txns: usize, keys: u32) -> Vec<Planned> {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        (0..txns)
            .map(|_| {
                let ops = (0..1 + next() % 4).map(|_| (next() % 2 == 0, (next() % u64::from(keys)) as Key)).collect();
                Planned { ops, fate: (next() % 10) as u8 }
            })
            .collect()
    }

    #[test]
    fn a_big_serial_history_checks_clean() {
        let history = run_serially(&big_plan(20_000, 300));
        let report = expect_clean(&history);
        assert!(report.committed > 10_000);
        assert!(report.edges > 10_000);
    }

    #[test]
    fn a_cycle_through_twenty_thousand_transactions_is_found() {
        // T(i) appends to key i and reads T(i-1)'s append to key i-1; T(0)
        // reads the last one's: one wr cycle through all of them.
        let count: u32 = 20_000;
        let history: Vec<TxnRecord> = (0..count)
            .map(|i| {
                let previous = (i + count - 1) % count;
                txn(u64::from(i), vec![append(i, u64::from(i)), read(previous, &[u64::from(previous)])])
            })
            .collect();
        let report = check(&history);
        let found = report.first(Anomaly::G1c);
        assert!(found.is_some_and(|found| found.description.contains("cycle of 20000")), "{:#?}", report.found);
        assert_eq!(report.edges, count as usize);
    }
}
