//! Model-based checker for the storage engine under crashes.
//!
//! Writers own disjoint key ranges, so each writer's slice of the database
//! can be checked on its own against a simple model: a `BTreeMap` of what its
//! acknowledged commits left, plus at most one transaction *in doubt* (its
//! commit was requested but not acknowledged when the node crashed or its
//! log failed). After every restart the engine reports what it holds, and:
//!
//! 1. every writer's keys hold exactly the model's committed state, or that
//!    state with its in-doubt transaction applied (then that becomes the
//!    committed state): no acknowledged commit lost, nothing of a rolled-back
//!    or unfinished transaction visible, no half of a transaction;
//! 2. the engine's own consistency holds (reported by the workload as
//!    violations: B+Trees structurally valid, the index agrees with the heap,
//!    the clustered table agrees with the heap).
//!
//! The model lives outside the simulated node, so it survives crashes.

use std::collections::BTreeMap;

/// A key: the writer's number, then its key number.
pub type Key = (u8, u16);

/// One change a transaction makes: a key gets a value, or is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Key, Vec<u8>),
    Delete(Key),
}

/// The shared history: model state, counters and violations.
#[derive(Debug, Default)]
pub struct StoreModel {
    committed: BTreeMap<Key, Vec<u8>>,
    in_doubt: BTreeMap<u8, Vec<Change>>,
    tables_created: bool,
    acks: u64,
    rollbacks: u64,
    recoveries: u64,
    in_doubt_resolved: [u64; 2],
    violation: Option<String>,
}

impl StoreModel {
    /// The committed value of `key` as the writer that owns it sees it
    /// (writers only run while nothing of theirs is in doubt).
    pub fn value(&self, key: Key) -> Option<&Vec<u8>> {
        self.committed.get(&key)
    }

    pub fn keys_of(&self, writer: u8) -> Vec<Key> {
        self.committed.range((writer, 0)..=(writer, u16::MAX)).map(|(key, _)| *key).collect()
    }

    pub fn tables_created(&self) -> bool {
        self.tables_created
    }

    pub fn set_tables_created(&mut self) {
        self.tables_created = true;
    }

    /// `writer` asks to commit `changes`: in doubt until acknowledged.
    pub fn commit_requested(&mut self, writer: u8, changes: Vec<Change>) {
        assert!(!self.in_doubt.contains_key(&writer), "writer {writer} has two transactions in doubt");
        self.in_doubt.insert(writer, changes);
    }

    /// `writer`'s commit was acknowledged: durable from now on.
    pub fn commit_acknowledged(&mut self, writer: u8) {
        let changes = self.in_doubt.remove(&writer).expect("an acknowledged commit was requested");
        apply(&mut self.committed, &changes);
        self.acks += 1;
    }

    pub fn rolled_back(&mut self) {
        self.rollbacks += 1;
    }

    /// Whether `writer` has a commit in doubt (it must not start another).
    pub fn has_in_doubt(&self, writer: u8) -> bool {
        self.in_doubt.contains_key(&writer)
    }

    /// Checks what a restarted engine holds (`actual`, every key's value)
    /// against the model, resolving transactions in doubt.
    pub fn recovered(&mut self, actual: &BTreeMap<Key, Vec<u8>>, writers: u8) {
        self.recoveries += 1;
        for writer in 0..writers {
            let range = (writer, 0)..=(writer, u16::MAX);
            let found: BTreeMap<Key, Vec<u8>> = actual.range(range.clone()).map(|(k, v)| (*k, v.clone())).collect();
            let before: BTreeMap<Key, Vec<u8>> =
                self.committed.range(range.clone()).map(|(k, v)| (*k, v.clone())).collect();
            let in_doubt = self.in_doubt.remove(&writer);
            if found == before {
                self.in_doubt_resolved[0] += u64::from(in_doubt.is_some());
                continue;
            }
            if let Some(changes) = in_doubt {
                let mut after = before.clone();
                apply(&mut after, &changes);
                if found == after {
                    apply(&mut self.committed, &changes);
                    self.in_doubt_resolved[1] += 1;
                    continue;
                }
            }
            self.violate(describe(writer, &before, &found));
            return;
        }
        let stray = actual.keys().find(|(writer, _)| *writer >= writers);
        if let Some(key) = stray {
            self.violate(format!("recovered key {key:?} that no writer owns"));
        }
    }

    pub fn violate(&mut self, violation: String) {
        self.violation.get_or_insert(violation);
    }

    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    pub fn acks(&self) -> u64 {
        self.acks
    }

    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    /// `(rollbacks, in-doubt commits found absent, in-doubt commits found present)`.
    pub fn outcomes(&self) -> (u64, u64, u64) {
        (self.rollbacks, self.in_doubt_resolved[0], self.in_doubt_resolved[1])
    }
}

fn apply(state: &mut BTreeMap<Key, Vec<u8>>, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Put(key, value) => {
                state.insert(*key, value.clone());
            }
            Change::Delete(key) => {
                state.remove(key);
            }
        }
    }
}

/// Names the first key where the recovered state and the committed one differ.
fn describe(writer: u8, expected: &BTreeMap<Key, Vec<u8>>, found: &BTreeMap<Key, Vec<u8>>) -> String {
    let mut keys: Vec<&Key> = expected.keys().chain(found.keys()).collect();
    keys.sort();
    keys.dedup();
    let first = keys.into_iter().find(|key| expected.get(key) != found.get(key));
    let detail = first.map_or(String::new(), |key| {
        let short = |value: Option<&Vec<u8>>| value.map(|v| format!("{} bytes", v.len()));
        format!(": key {key:?} committed {:?}, recovered {:?}", short(expected.get(key)), short(found.get(key)))
    });
    format!(
        "recovered state is not the acknowledged one: writer {writer} has {} keys, acknowledged commits (plus at most \
         the one in doubt) leave {}{detail}",
        found.len(),
        expected.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_doubt_resolves_either_way_and_loss_is_a_violation() {
        let mut model = StoreModel::default();
        model.commit_requested(0, vec![Change::Put((0, 1), b"a".to_vec())]);
        model.commit_acknowledged(0);
        model.commit_requested(0, vec![Change::Put((0, 2), b"b".to_vec())]);
        let mut actual = BTreeMap::from([((0, 1), b"a".to_vec()), ((0, 2), b"b".to_vec())]);
        model.recovered(&actual, 1);
        assert_eq!(model.violation(), None);
        assert_eq!(model.value((0, 2)), Some(&b"b".to_vec()));
        actual.remove(&(0, 1));
        model.recovered(&actual, 1);
        assert!(model.violation().unwrap().contains("not the acknowledged one"));
    }
}
