//! Serializable snapshot isolation: read-write antidependency tracking on top
//! of snapshot isolation (Cahill, Röhm and Fekete, "Serializable Isolation
//! for Snapshot Databases", 2008; PostgreSQL's SSI follows the same paper).
//!
//! Snapshot isolation forbids every anomaly but those built from *rw
//! antidependencies* (T1 reads a version that concurrent T2 overwrites:
//! T1 →rw T2). Every non-serializable SI history has a *dangerous structure*
//! T_in →rw T_pivot →rw T_out of concurrent transactions. So each
//! SERIALIZABLE transaction records what it read as **SIREAD locks**: keys,
//! key ranges (the predicate of a scan, so rows inserted into the range later
//! conflict too: no phantoms) or a whole table once it holds more than
//! [`MAX_READ_LOCKS_PER_TABLE`] on it. An rw edge is found from either side:
//!
//! * a reader that skips a version created by a concurrent transaction
//!   (still active, or committed after the reader's snapshot);
//! * a writer whose new version falls under a concurrent transaction's
//!   SIREAD lock.
//!
//! Each transaction keeps its rw partners in and out. In every cycle the
//! first transaction to commit is the out end of a dangerous structure, so
//! a pivot (an rw edge in and one out) is aborted only once one of its out
//! partners has committed before it: at the pivot's own commit, when the
//! out partner commits first (the pivot is doomed), or when an edge closes
//! the shape later (the active transaction on the new edge fails). This is
//! still conservative (it ignores when the in end committed, and some
//! structures never close into a cycle), never admitting a non-serializable
//! history; an aborted transaction's edges are dropped, so the structures it
//! was part of no longer abort anyone. The victim
//! gets [`Error::SerializationFailure`] (SQLSTATE 40001) at once if it is the
//! caller, else at its next operation or commit.
//!
//! Records of committed transactions stay while a transaction concurrent
//! with them is active: their SIREAD locks still matter to it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::store::TableId;
use crate::wal::TxnId;

/// SIREAD locks on one table before they become one lock on the whole table.
pub const MAX_READ_LOCKS_PER_TABLE: usize = 256;

type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

#[derive(Default)]
struct ReadSet {
    whole_table: bool,
    keys: BTreeSet<Vec<u8>>,
    ranges: Vec<Range>,
}

impl ReadSet {
    fn covers(&self, key: &[u8]) -> bool {
        self.whole_table || self.keys.contains(key) || self.ranges.iter().any(|range| in_range(range, key))
    }

    fn escalate_if_full(&mut self) {
        if self.keys.len() + self.ranges.len() > MAX_READ_LOCKS_PER_TABLE {
            self.whole_table = true;
            self.keys.clear();
            self.ranges.clear();
        }
    }
}

fn in_range((lo, hi): &Range, key: &[u8]) -> bool {
    let above = match lo {
        Bound::Included(lo) => key >= lo.as_slice(),
        Bound::Excluded(lo) => key > lo.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(hi) => key <= hi.as_slice(),
        Bound::Excluded(hi) => key < hi.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    /// Passed the pre-commit check; its commit is being made durable.
    Committing,
    Committed {
        csn: u64,
    },
}

struct SerTxn {
    snapshot_csn: u64,
    state: State,
    /// Concurrent transactions with an rw edge into this one, and out of it.
    rw_in: BTreeSet<TxnId>,
    rw_out: BTreeSet<TxnId>,
    doomed: Option<String>,
    reads: BTreeMap<TableId, ReadSet>,
}

impl SerTxn {
    fn finishing(&self) -> bool {
        self.state != State::Active
    }

    /// Whether this transaction overlapped one whose snapshot is `snapshot_csn`.
    fn concurrent_with_snapshot(&self, snapshot_csn: u64) -> bool {
        match self.state {
            State::Active | State::Committing => true,
            State::Committed { csn } => csn > snapshot_csn,
        }
    }
}

/// The SSI state of one engine.
#[derive(Default)]
pub struct Ssi {
    txns: Mutex<BTreeMap<TxnId, SerTxn>>,
}

impl Ssi {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<TxnId, SerTxn>> {
        self.txns.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts tracking a SERIALIZABLE transaction.
    pub fn register(&self, xid: TxnId, snapshot_csn: u64) {
        let txn = SerTxn {
            snapshot_csn,
            state: State::Active,
            rw_in: BTreeSet::new(),
            rw_out: BTreeSet::new(),
            doomed: None,
            reads: BTreeMap::new(),
        };
        self.lock().insert(xid, txn);
    }

    /// Fails if `xid` was chosen as a victim by another transaction.
    pub fn check(&self, xid: TxnId) -> Result<()> {
        match self.lock().get(&xid).and_then(|txn| txn.doomed.clone()) {
            Some(why) => Err(Error::SerializationFailure(why)),
            None => Ok(()),
        }
    }

    /// Records a SIREAD lock on one key (before the read).
    pub fn read_key(&self, xid: TxnId, table: TableId, key: &[u8]) {
        if let Some(txn) = self.lock().get_mut(&xid) {
            let reads = txn.reads.entry(table).or_default();
            if !reads.whole_table {
                reads.keys.insert(key.to_vec());
                reads.escalate_if_full();
            }
        }
    }

    /// Records a SIREAD lock on a key range (before the scan).
    pub fn read_range(&self, xid: TxnId, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) {
        if let Some(txn) = self.lock().get_mut(&xid) {
            let reads = txn.reads.entry(table).or_default();
            if matches!((lo, hi), (Bound::Unbounded, Bound::Unbounded)) {
                reads.whole_table = true;
            }
            if !reads.whole_table {
                reads.ranges.push((lo.map(<[u8]>::to_vec), hi.map(<[u8]>::to_vec)));
                reads.escalate_if_full();
            }
        }
    }

    /// `reader` skipped a version written by `creator`, which is concurrent
    /// with it: the edge reader →rw creator.
    pub fn read_skipped(&self, reader: TxnId, creator: TxnId) -> Result<()> {
        let mut txns = self.lock();
        add_edge(&mut txns, reader, creator, reader)
    }

    /// `writer` wrote `key`: an edge from every concurrent SIREAD holder on it.
    pub fn wrote(&self, writer: TxnId, table: TableId, key: &[u8]) -> Result<()> {
        let mut txns = self.lock();
        let Some(snapshot_csn) = txns.get(&writer).map(|txn| txn.snapshot_csn) else { return Ok(()) };
        let readers: Vec<TxnId> = txns
            .iter()
            .filter(|(id, txn)| **id != writer && txn.concurrent_with_snapshot(snapshot_csn))
            .filter(|(_, txn)| txn.reads.get(&table).is_some_and(|reads| reads.covers(key)))
            .map(|(id, _)| *id)
            .collect();
        for reader in readers {
            add_edge(&mut txns, reader, writer, writer)?;
        }
        Ok(())
    }

    /// The last check before commit: a doomed transaction or a pivot fails.
    pub fn pre_commit(&self, xid: TxnId) -> Result<()> {
        let mut txns = self.lock();
        let Some(txn) = txns.get(&xid) else { return Ok(()) };
        if let Some(why) = txn.doomed.clone() {
            return Err(Error::SerializationFailure(why));
        }
        if dangerous(&txns, xid) {
            return Err(Error::SerializationFailure(format!(
                "{xid} is the pivot of a dangerous structure of rw dependencies whose last transaction committed first"
            )));
        }
        let txn = txns.get_mut(&xid).expect("checked");
        txn.state = State::Committing;
        // Committing now makes this the out end, committing first, of every structure
        // through its in-partners. A partner still active is doomed. A partner already
        // committing passed its own check while this one was active, but its commit may
        // become visible after this one's, so this one must not commit.
        let partners: Vec<TxnId> = txn.rw_in.iter().copied().collect();
        for partner in partners {
            if !dangerous(&txns, partner) {
                continue;
            }
            let why = format!(
                "{partner} is the pivot of a dangerous structure whose last transaction, {xid}, committed first"
            );
            match txns[&partner].state {
                State::Active => {
                    txns.get_mut(&partner).expect("checked").doomed.get_or_insert(why);
                }
                State::Committing => {
                    txns.get_mut(&xid).expect("checked").state = State::Active;
                    return Err(Error::SerializationFailure(why));
                }
                State::Committed { .. } => {}
            }
        }
        Ok(())
    }

    pub fn committed(&self, xid: TxnId, csn: u64) {
        if let Some(txn) = self.lock().get_mut(&xid) {
            txn.state = State::Committed { csn };
        }
    }

    /// Forgets an aborted transaction and its edges: a dangerous structure
    /// through it is gone.
    pub fn aborted(&self, xid: TxnId) {
        let mut txns = self.lock();
        let Some(gone) = txns.remove(&xid) else { return };
        for partner in gone.rw_in.iter().chain(&gone.rw_out) {
            if let Some(txn) = txns.get_mut(partner) {
                txn.rw_in.remove(&xid);
                txn.rw_out.remove(&xid);
            }
        }
    }

    /// Forgets committed transactions no active one overlapped.
    pub fn prune(&self) {
        let mut txns = self.lock();
        let oldest =
            txns.values().filter(|txn| !matches!(txn.state, State::Committed { .. })).map(|txn| txn.snapshot_csn).min();
        txns.retain(|_, txn| match (txn.state, oldest) {
            (State::Committed { csn }, Some(oldest)) => csn > oldest,
            (State::Committed { .. }, None) => false,
            _ => true,
        });
    }

    /// Transactions tracked.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }
}

/// Whether `first` committed (or started committing) before `then` did.
/// Two transactions both still committing are counted as ordered, to be safe.
fn committed_before(first: &SerTxn, then: &SerTxn) -> bool {
    match (first.state, then.state) {
        (State::Active, _) => false,
        (_, State::Active) => true,
        (State::Committed { csn: a }, State::Committed { csn: b }) => a < b,
        (State::Committing, State::Committed { .. }) => false,
        (_, State::Committing) => true,
    }
}

/// Whether `pivot` has an rw edge in and an rw edge out to a transaction
/// that committed before it: the shape every cycle must contain, with its
/// first committer at the out end (Fekete et al.).
fn dangerous(txns: &BTreeMap<TxnId, SerTxn>, pivot: TxnId) -> bool {
    // A partner pruned since the edge was added committed long ago: it is no pivot now.
    let Some(txn) = txns.get(&pivot) else { return false };
    // An out partner pruned since committed long ago: count it as committed first, to be safe.
    !txn.rw_in.is_empty() && txn.rw_out.iter().any(|out| txns.get(out).is_none_or(|o| committed_before(o, txn)))
}

/// Adds reader →rw writer; `current` is the transaction whose operation found
/// it. Fails if `current` must abort; dooms the other end if it must.
fn add_edge(txns: &mut BTreeMap<TxnId, SerTxn>, reader: TxnId, writer: TxnId, current: TxnId) -> Result<()> {
    if reader == writer || !txns.contains_key(&reader) || !txns.contains_key(&writer) {
        return Ok(());
    }
    txns.get_mut(&reader).expect("checked").rw_out.insert(writer);
    txns.get_mut(&writer).expect("checked").rw_in.insert(reader);
    // The current transaction first: failing it at once beats dooming another.
    let other = if current == reader { writer } else { reader };
    let Some(pivot) = [current, other].into_iter().find(|pivot| dangerous(txns, *pivot)) else { return Ok(()) };
    let why = format!(
        "{pivot} is the pivot of a dangerous structure of rw dependencies whose last transaction committed first"
    );
    // A pivot that is already committing cannot be aborted: abort the active end of the new edge.
    let victim = if txns[&pivot].finishing() { current } else { pivot };
    if victim == current {
        return Err(Error::SerializationFailure(why));
    }
    txns.get_mut(&victim).expect("checked").doomed.get_or_insert(why);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TableId = TableId(7);

    /// SSI state with `txns` registered at snapshot 0.
    fn with(txns: &[TxnId]) -> Ssi {
        let ssi = Ssi::default();
        for txn in txns {
            ssi.register(*txn, 0);
        }
        ssi
    }

    #[test]
    fn write_skew_lets_the_first_committer_win() {
        let (a, b) = (TxnId(1), TxnId(2));
        let ssi = with(&[a, b]);
        for txn in [a, b] {
            ssi.read_key(txn, T, b"x");
            ssi.read_key(txn, T, b"y");
        }
        ssi.wrote(a, T, b"x").unwrap(); // b →rw a
        ssi.wrote(b, T, b"y").unwrap(); // a →rw b: a cycle, but nobody has committed yet
        ssi.pre_commit(a).unwrap();
        ssi.committed(a, 1);
        assert!(matches!(ssi.pre_commit(b), Err(Error::SerializationFailure(_))));
    }

    #[test]
    fn a_pivot_whose_out_end_is_still_active_may_commit() {
        let (a, b, c) = (TxnId(1), TxnId(2), TxnId(3));
        let ssi = with(&[a, b, c]);
        ssi.read_key(a, T, b"x");
        ssi.wrote(b, T, b"x").unwrap(); // a →rw b
        ssi.read_key(b, T, b"y");
        ssi.wrote(c, T, b"y").unwrap(); // b →rw c
        ssi.pre_commit(b).unwrap(); // c has not committed: b commits first, no cycle can close through b
        ssi.committed(b, 1);
        ssi.pre_commit(c).unwrap();
    }

    #[test]
    fn a_committed_pivot_dooms_the_other_end() {
        let (a, b, c) = (TxnId(1), TxnId(2), TxnId(3));
        let ssi = with(&[a, b, c]);
        ssi.read_key(b, T, b"y");
        ssi.wrote(c, T, b"y").unwrap(); // b →rw c
        ssi.read_key(a, T, b"x");
        ssi.pre_commit(c).unwrap();
        ssi.committed(c, 1);
        ssi.wrote(b, T, b"x").unwrap_err(); // a →rw b →rw c: b is the pivot and is the writer
        assert!(ssi.check(a).is_ok());
    }

    #[test]
    fn a_pruned_out_partner_still_counts_as_committed_first() {
        let (p, o, x) = (TxnId(1), TxnId(2), TxnId(3));
        let ssi = with(&[p, o]);
        ssi.read_key(p, T, b"k");
        ssi.wrote(o, T, b"k").unwrap(); // p →rw o
        ssi.pre_commit(o).unwrap();
        ssi.committed(o, 1);
        ssi.register(x, 1); // starts after o's commit, before p's
        ssi.pre_commit(p).unwrap();
        ssi.committed(p, 2);
        ssi.prune(); // x (snapshot 1) is the oldest active: o's record goes, p's stays
        assert_eq!(ssi.tracked(), 2);
        ssi.read_key(x, T, b"j");
        // p overwrote what x read: x →rw p →rw o with o first to commit, so x must fail.
        assert!(matches!(ssi.read_skipped(x, p), Err(Error::SerializationFailure(_))));
    }

    #[test]
    fn an_out_end_committing_after_its_pivot_started_committing_fails() {
        let (x, w1, w2) = (TxnId(1), TxnId(2), TxnId(3));
        let ssi = with(&[x, w1, w2]);
        ssi.read_key(x, T, b"a");
        ssi.wrote(w1, T, b"a").unwrap(); // x →rw w1
        ssi.read_key(w1, T, b"b");
        ssi.wrote(w2, T, b"b").unwrap(); // w1 →rw w2
        ssi.pre_commit(w1).unwrap(); // w2 still active: fine so far
        // w2's commit could become visible before w1's: it must not commit.
        assert!(matches!(ssi.pre_commit(w2), Err(Error::SerializationFailure(_))));
    }

    #[test]
    fn ranges_cover_phantoms_and_escalate() {
        let (a, b) = (TxnId(1), TxnId(2));
        let ssi = with(&[a, b]);
        ssi.read_range(a, T, Bound::Included(b"a"), Bound::Excluded(b"m"));
        ssi.wrote(b, T, b"k").unwrap();
        assert!(ssi.lock()[&a].rw_out.contains(&b));
        for i in 0..=MAX_READ_LOCKS_PER_TABLE as u32 {
            ssi.read_key(b, T, &i.to_be_bytes());
        }
        assert!(ssi.lock()[&b].reads[&T].whole_table);
    }

    #[test]
    fn committed_records_go_once_no_active_transaction_overlaps_them() {
        let ssi = with(&[TxnId(1), TxnId(2)]);
        ssi.pre_commit(TxnId(1)).unwrap();
        ssi.committed(TxnId(1), 1);
        ssi.prune();
        assert_eq!(ssi.tracked(), 2, "T2's snapshot predates T1's commit");
        ssi.aborted(TxnId(2));
        ssi.prune();
        assert_eq!(ssi.tracked(), 0);
    }
}
