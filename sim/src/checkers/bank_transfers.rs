//! The bank-transfer model of the `pg-clients` workload: what each client
//! knows about each transfer it attempted, and the check of a recovered
//! database against it.
//!
//! A transfer moves `amount` from one account to another and logs
//! `(id, src, dst, amount)` in `transfers`, all in one transaction. Its
//! client's knowledge moves through four states:
//!
//! ```text
//! Open ──(COMMIT written)──▶ CommitSent ──(COMMIT acknowledged)──▶ Acknowledged
//!   │                            │
//!   └──(error, or the client ────┴──(40001/40P01 or ROLLBACK tag at COMMIT)──▶ Aborted
//!       left before COMMIT)
//! ```
//!
//! A transfer left in `CommitSent` is in doubt: the connection broke (or the
//! client vanished on purpose) between writing COMMIT and reading its reply,
//! so either outcome is allowed. The check of a recovered database:
//! * every `Acknowledged` transfer is logged (no committed work lost);
//! * every logged transfer is one a client sent COMMIT for, with the same
//!   accounts and amount (a dropped session never commits);
//! * every balance equals the initial balance plus the logged transfers'
//!   effects (nothing half applied), which also keeps the bank total.

use std::collections::BTreeMap;

/// What a client knows about one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// Statements are being sent; COMMIT is not.
    Open,
    /// COMMIT was written; no reply was read (in doubt until one is).
    CommitSent,
    /// COMMIT's CommandComplete arrived.
    Acknowledged,
    /// It cannot commit: it failed, or its client left before COMMIT.
    Aborted,
}

/// One attempted transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub from: i64,
    pub to: i64,
    pub amount: i64,
    pub state: TransferState,
}

/// A row of the `transfers` table: (source, destination, amount) by id.
pub type LoggedTransfers = BTreeMap<i64, (i64, i64, i64)>;

/// Every transfer any client attempted, by id.
#[derive(Debug, Default)]
pub struct TransferModel {
    transfers: BTreeMap<i64, Transfer>,
}

impl TransferModel {
    /// Records a new transfer before any of its statements is sent.
    pub fn begin(&mut self, id: i64, from: i64, to: i64, amount: i64) {
        assert!(from != to && amount > 0, "a transfer moves a positive amount between two accounts");
        let previous = self.transfers.insert(id, Transfer { from, to, amount, state: TransferState::Open });
        assert!(previous.is_none(), "transfer ids are unique");
    }

    /// COMMIT is about to be written.
    pub fn commit_sent(&mut self, id: i64) {
        self.advance(id, TransferState::Open, TransferState::CommitSent);
    }

    /// COMMIT was acknowledged.
    pub fn acknowledged(&mut self, id: i64) {
        self.advance(id, TransferState::CommitSent, TransferState::Acknowledged);
    }

    /// The transfer cannot have committed.
    pub fn aborted(&mut self, id: i64) {
        let transfer = self.transfers.get_mut(&id).expect("begun before aborted");
        assert!(
            matches!(transfer.state, TransferState::Open | TransferState::CommitSent),
            "only an unfinished transfer aborts, not one {:?}",
            transfer.state
        );
        transfer.state = TransferState::Aborted;
    }

    fn advance(&mut self, id: i64, from: TransferState, to: TransferState) {
        let transfer = self.transfers.get_mut(&id).expect("begun before it advances");
        assert_eq!(transfer.state, from, "transfer {id} moves to {to:?} only from {from:?}");
        transfer.state = to;
    }

    pub fn state(&self, id: i64) -> Option<TransferState> {
        self.transfers.get(&id).map(|t| t.state)
    }

    /// How many transfers are in `state`.
    pub fn count(&self, state: TransferState) -> u64 {
        self.transfers.values().filter(|t| t.state == state).count() as u64
    }

    /// Checks a recovered database: `balances` by account id, `logged` the
    /// `transfers` table. `None` if it is a state the clients' history allows.
    pub fn check(
        &self,
        accounts: i64,
        initial_balance: i64,
        balances: &BTreeMap<i64, i64>,
        logged: &LoggedTransfers,
    ) -> Option<String> {
        if let Some((id, _)) =
            self.transfers.iter().find(|(id, t)| t.state == TransferState::Acknowledged && !logged.contains_key(id))
        {
            return Some(format!("acknowledged transfer {id} lost"));
        }
        for (id, &(from, to, amount)) in logged {
            match self.transfers.get(id) {
                None => return Some(format!("transfer {id} committed, but no client ever began it")),
                Some(t) if (t.from, t.to, t.amount) != (from, to, amount) => {
                    return Some(format!("transfer {id} logged as {from}->{to} {amount}, sent as {t:?}"));
                }
                Some(t) if matches!(t.state, TransferState::Open | TransferState::Aborted) => {
                    return Some(format!("transfer {id} committed although its client never committed it ({t:?})"));
                }
                Some(_) => {}
            }
        }
        check_balances(accounts, initial_balance, balances, logged)
    }
}

/// Every balance must be the initial one plus the logged transfers' effects.
fn check_balances(
    accounts: i64,
    initial_balance: i64,
    balances: &BTreeMap<i64, i64>,
    logged: &LoggedTransfers,
) -> Option<String> {
    let mut expected: BTreeMap<i64, i64> = (0..accounts).map(|a| (a, initial_balance)).collect();
    for &(from, to, amount) in logged.values() {
        *expected.entry(from).or_default() -= amount;
        *expected.entry(to).or_default() += amount;
    }
    let total: i64 = balances.values().sum();
    if total != accounts * initial_balance {
        return Some(format!("bank total not conserved: {total}, expected {}", accounts * initial_balance));
    }
    if balances.keys().ne(expected.keys()) {
        return Some(format!("accounts {:?} present, expected 0..{accounts}", balances.keys().collect::<Vec<_>>()));
    }
    expected.iter().find(|(account, balance)| balances[account] != **balance).map(|(account, balance)| {
        format!(
            "account {account} holds {} but its logged transfers give {balance}: a transfer was half applied",
            balances[account]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balances(values: &[i64]) -> BTreeMap<i64, i64> {
        values.iter().enumerate().map(|(i, v)| (i as i64, *v)).collect()
    }

    #[test]
    fn in_doubt_transfers_may_go_either_way() {
        let mut model = TransferModel::default();
        model.begin(1, 0, 1, 5);
        model.commit_sent(1);
        let logged: LoggedTransfers = [(1, (0, 1, 5))].into();
        assert_eq!(model.check(2, 10, &balances(&[5, 15]), &logged), None);
        assert_eq!(model.check(2, 10, &balances(&[10, 10]), &LoggedTransfers::new()), None);
    }

    #[test]
    fn lost_phantom_and_half_applied_transfers_are_caught() {
        let mut model = TransferModel::default();
        model.begin(1, 0, 1, 5);
        model.commit_sent(1);
        model.acknowledged(1);
        model.begin(2, 1, 0, 3);
        model.aborted(2);
        let lost = model.check(2, 10, &balances(&[10, 10]), &LoggedTransfers::new()).unwrap();
        assert!(lost.contains("acknowledged transfer 1 lost"), "{lost}");
        let both: LoggedTransfers = [(1, (0, 1, 5)), (2, (1, 0, 3))].into();
        let phantom = model.check(2, 10, &balances(&[8, 12]), &both).unwrap();
        assert!(phantom.contains("never committed it"), "{phantom}");
        let one: LoggedTransfers = [(1, (0, 1, 5))].into();
        let half = model.check(2, 10, &balances(&[10, 10]), &one).unwrap();
        assert!(half.contains("half applied"), "{half}");
        let total = model.check(2, 10, &balances(&[5, 10]), &one).unwrap();
        assert!(total.contains("total not conserved"), "{total}");
    }
}
