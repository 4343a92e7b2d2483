//! The transaction workloads' history and the invariants checked over it at
//! every restart of the engine (see `workloads/transactions.rs`):
//!
//! 1. **isolation**: the list-append history (including the on-call doctors,
//!    which are list-append keys too) has no anomaly the level forbids
//!    ([`isolation::check`], Elle-style);
//! 2. **durability** (REPEATABLE READ and up): every acknowledged commit's
//!    appends are in the state read right after recovery;
//! 3. **bank** (REPEATABLE READ and up): every audit of all accounts, and the
//!    state after recovery, sums to the initial total;
//! 4. **on call** (SERIALIZABLE): the state after recovery has a doctor on
//!    call in every group;
//! 5. **no hung transaction**: none stays open longer than a limit (reported
//!    by the workload's watchdog).
//!
//! The history lives outside the simulated node, so it survives crashes; a
//! transaction still open when its node crashed has an unknown outcome.

use std::collections::BTreeMap;

use rustydb_core::txn::IsolationLevel;

use super::isolation::{self, Anomaly, Element, Key, Op, Outcome, TxnRecord};

/// Doctors are list-append keys from here on: key `DOCTORS + group * DOCTORS_PER_GROUP + doctor`.
pub const DOCTORS: Key = 0x8000_0000;
pub const DOCTORS_PER_GROUP: u32 = 3;

/// A doctor is on call while their list of shift changes has even length.
pub fn on_call(list: &[Element]) -> bool {
    list.len().is_multiple_of(2)
}

/// What each anomaly class means at a level: the ones a level forbids.
pub fn forbidden(level: IsolationLevel, anomaly: Anomaly) -> bool {
    match level {
        IsolationLevel::Serializable => true,
        IsolationLevel::RepeatableRead => anomaly != Anomaly::G2Item,
        IsolationLevel::ReadCommitted => {
            matches!(anomaly, Anomaly::G0 | Anomaly::G1a | Anomaly::G1b | Anomaly::G1c | Anomaly::Garbage)
        }
    }
}

/// The recorded history and the counters of one run.
#[derive(Default)]
pub struct TxnHistory {
    /// Every transaction; one whose outcome was never recorded (in flight,
    /// or its node crashed) stays `Unknown`.
    records: Vec<TxnRecord>,
    next_element: Element,
    bank_total: Option<i64>,
    /// The level the history is held to (see [`TxnHistory::set_initialised`]).
    level: Option<IsolationLevel>,
    initialised: bool,
    acks: u64,
    recoveries: u64,
    violation: Option<String>,
    pub counts: BTreeMap<&'static str, u64>,
}

impl TxnHistory {
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    pub fn violate(&mut self, why: String) {
        self.violation.get_or_insert(why);
    }

    pub fn acks(&self) -> u64 {
        self.acks
    }

    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    pub fn count(&mut self, name: &'static str) {
        *self.counts.entry(name).or_default() += 1;
    }

    pub fn initialised(&self) -> bool {
        self.initialised
    }

    /// The tables are filled: the bank holds `bank_total`, and the history is
    /// held to `level`. Which invariants apply depends on it: READ COMMITTED
    /// permits lost updates, so neither the bank total nor an acknowledged
    /// append (a later read-modify-write may overwrite it) is checked there;
    /// the on-call invariant holds only at SERIALIZABLE (write skew breaks it).
    pub fn set_initialised(&mut self, bank_total: i64, level: IsolationLevel) {
        self.initialised = true;
        self.bank_total = Some(bank_total);
        self.level = Some(level);
    }

    fn level_at_least(&self, level: IsolationLevel) -> bool {
        self.level.is_some_and(|held| held >= level)
    }

    /// A fresh element, unique across the run.
    pub fn element(&mut self) -> Element {
        self.next_element += 1;
        self.next_element
    }

    /// Elements handed out so far.
    pub fn elements(&self) -> Element {
        self.next_element
    }

    /// Starts recording a transaction; returns its index.
    pub fn begin(&mut self) -> usize {
        let id = self.records.len() as u64 + 1;
        self.records.push(TxnRecord { id, ops: Vec::new(), outcome: Outcome::Unknown });
        self.records.len() - 1
    }

    pub fn record(&mut self, txn: usize, op: Op) {
        self.records[txn].ops.push(op);
    }

    pub fn finish(&mut self, txn: usize, outcome: Outcome) {
        self.records[txn].outcome = outcome;
        if outcome == Outcome::Committed {
            self.acks += 1;
        }
    }

    /// Checks a committed read of the bank: all accounts must sum to the total.
    pub fn bank_read(&mut self, what: &str, sum: i64) {
        if !self.level_at_least(IsolationLevel::RepeatableRead) {
            return;
        }
        if let Some(total) = self.bank_total
            && sum != total
        {
            self.violate(format!("bank total not conserved: {what} sums to {sum}, expected {total}"));
        }
    }

    /// Checks a committed read of a doctors' group.
    pub fn doctors_read(&mut self, what: &str, group: u32, lists: &[Vec<Element>]) {
        if !lists.iter().any(|list| on_call(list)) {
            self.violate(format!("on-call invariant broken: {what} finds nobody on call in group {group}"));
        }
    }

    /// After a restart: `state` is every list read right after recovery
    /// (recorded as a committed read) and `bank_sum` the accounts' sum.
    pub fn recovered(&mut self, level: IsolationLevel, state: BTreeMap<Key, Vec<Element>>, bank_sum: i64) {
        self.recoveries += 1;
        let txn = self.begin();
        for (key, list) in &state {
            self.record(txn, Op::Read { key: *key, list: list.clone() });
        }
        self.finish(txn, Outcome::Committed);
        self.acks -= 1; // the check itself is not progress
        self.check_isolation(level);
        if self.level_at_least(IsolationLevel::RepeatableRead) {
            self.check_durability(&state);
        }
        self.bank_read("the state after recovery", bank_sum);
        if self.level_at_least(IsolationLevel::Serializable) {
            self.check_on_call(&state);
        }
    }

    fn check_isolation(&mut self, level: IsolationLevel) {
        let report = isolation::check(&self.records);
        if let Some(found) = report.found.iter().find(|found| forbidden(level, found.anomaly)) {
            let why = format!(
                "isolation anomaly {} at {}: {} ({} committed transactions, {} dependency edges)",
                found.anomaly.name(),
                level.name(),
                found.description,
                report.committed,
                report.edges
            );
            self.violate(why);
        }
    }

    fn check_durability(&mut self, state: &BTreeMap<Key, Vec<Element>>) {
        for record in self.records.iter().filter(|record| record.outcome == Outcome::Committed) {
            for op in &record.ops {
                let Op::Append { key, element } = op else { continue };
                if !state.get(key).is_some_and(|list| list.contains(element)) {
                    let why = format!(
                        "committed transaction T{} lost its append of {element} to key {key} after recovery",
                        record.id
                    );
                    self.violate(why);
                    return;
                }
            }
        }
    }

    fn check_on_call(&mut self, state: &BTreeMap<Key, Vec<Element>>) {
        let mut groups: BTreeMap<u32, Vec<Vec<Element>>> = BTreeMap::new();
        for (key, list) in state.range(DOCTORS..) {
            groups.entry((key - DOCTORS) / DOCTORS_PER_GROUP).or_default().push(list.clone());
        }
        for (group, lists) in groups {
            self.doctors_read("the state after recovery", group, &lists);
        }
    }
}
