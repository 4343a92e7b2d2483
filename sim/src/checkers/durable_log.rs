//! Durability checker for append-only logs.
//!
//! Clients record what they asked to append (`invoke`) and what a server
//! acknowledged (`ack`); servers report what they recovered after every
//! (re)start (`recovered`). The history lives outside the simulated nodes,
//! so it survives their crashes, as a Jepsen client history does.
//!
//! Invariants checked at every recovery of a server:
//! 1. every record that server acknowledged before is recovered, with the
//!    payload the client sent (no lost or altered acknowledged write);
//! 2. every recovered record is one some client asked to append, with that
//!    payload (nothing unacknowledged appears corrupted or invented).

use std::collections::BTreeMap;

/// A log record as recovered: slot, request id, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRecord {
    pub slot: u64,
    pub request: u64,
    pub payload: Vec<u8>,
}

/// Violations kept per run; the first is the verdict, the rest context.
pub const VIOLATIONS_MAX: usize = 16;

#[derive(Debug, Default)]
pub struct LogHistory {
    invoked: BTreeMap<u64, Vec<u8>>,
    acked: BTreeMap<String, BTreeMap<u64, u64>>,
    acks_total: u64,
    recoveries_total: u64,
    violations: Vec<String>,
}

impl LogHistory {
    pub fn invoke(&mut self, request: u64, payload: &[u8]) {
        let previous = self.invoked.insert(request, payload.to_vec());
        assert!(previous.is_none(), "request ids are unique per run");
    }

    pub fn ack(&mut self, server: &str, request: u64, slot: u64) {
        self.acks_total += 1;
        self.acked.entry(server.to_string()).or_default().insert(request, slot);
    }

    /// Checks a server's recovered log against the history.
    pub fn recovered(&mut self, server: &str, records: &[RecoveredRecord]) {
        self.recoveries_total += 1;
        let by_request: BTreeMap<u64, &RecoveredRecord> = records.iter().map(|r| (r.request, r)).collect();
        let acked = self.acked.get(server).cloned().unwrap_or_default();
        for (request, slot) in acked {
            let expected = &self.invoked[&request];
            match by_request.get(&request) {
                None => self.violate(format!(
                    "acknowledged write lost: server={server} request={request:#x} slot={slot} was acknowledged but is missing after recovery"
                )),
                Some(record) if &record.payload != expected => self.violate(format!(
                    "acknowledged write corrupted: server={server} request={request:#x} slot={} payload differs",
                    record.slot
                )),
                Some(_) => {}
            }
        }
        for record in records {
            match self.invoked.get(&record.request) {
                Some(payload) if *payload == record.payload => {}
                _ => self.violate(format!(
                    "recovered record never written: server={server} slot={} request={:#x} matches no client request",
                    record.slot, record.request
                )),
            }
        }
    }

    fn violate(&mut self, message: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(message);
        }
    }

    pub fn first_violation(&self) -> Option<&str> {
        self.violations.first().map(String::as_str)
    }

    pub fn acks_total(&self) -> u64 {
        self.acks_total
    }

    pub fn recoveries_total(&self) -> u64 {
        self.recoveries_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(slot: u64, request: u64, payload: &[u8]) -> RecoveredRecord {
        RecoveredRecord { slot, request, payload: payload.to_vec() }
    }

    #[test]
    fn lost_acknowledged_write_is_reported() {
        let mut history = LogHistory::default();
        history.invoke(1, b"a");
        history.invoke(2, b"b");
        history.ack("n0", 1, 0);
        history.ack("n0", 2, 1);
        history.recovered("n0", &[record(0, 1, b"a")]);
        let violation = history.first_violation().unwrap();
        assert!(violation.contains("acknowledged write lost"), "{violation}");
        assert!(violation.contains("request=0x2"), "{violation}");
    }

    #[test]
    fn unacknowledged_writes_may_vanish_but_not_be_invented() {
        let mut history = LogHistory::default();
        history.invoke(1, b"a");
        history.recovered("n0", &[]);
        assert!(history.first_violation().is_none());
        history.recovered("n0", &[record(0, 1, b"x")]);
        assert!(history.first_violation().unwrap().contains("never written"));
    }
}
